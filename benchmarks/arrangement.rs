//! How fast rows go into a view's result: the sorted-run arrangement
//! (`sluice::dataflow::arrangement::Arrangement`, on the state layer's `Spine`)
//! against the tree it replaced, measured in the same run.
//!
//! The baseline, [`TreeArrangement`], is the previous implementation kept here
//! verbatim in what it does: every row encoded with Arrow's row format and inserted
//! into a `BTreeMap<Box<[u8]>, i64>` one by one. Both get the same changes:
//!
//! 1. a load of N rows in batches of 8,192 (rows shaped like a view's output:
//!    `id BIGINT, g BIGINT, name TEXT, amount DOUBLE`);
//! 2. for each batch size B in 1, 100 and 10,000: updates of B random existing rows
//!    (B deletes and B inserts in one change), until 200,000 rows or 2,000 changes;
//! 3. one full read of the result (what a `SELECT * FROM view` costs), and the bytes
//!    held.
//!
//! Run with `./scripts/bench.sh --bench arrangement` (see docs/benchmarks.md); without
//! `--bench` (as `cargo test --all-targets` runs it) it makes a smoke run at N =
//! 20,000. Settings: `SLUICE_BENCH_ROWS=1000000,10000000` (default 1,000,000;
//! `SLUICE_BENCH_FULL=1`: 1,000,000 and 10,000,000).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use sluice::dataflow::ChangeBatch;
use sluice::dataflow::arrangement::Arrangement;

/// Rows per change while loading.
const LOAD_BATCH: usize = 8_192;
/// Update sizes measured (rows deleted, and as many inserted, per change).
const UPDATE_SIZES: [usize; 3] = [1, 100, 10_000];

/// The result of a view as the old arrangement held it: a tree of encoded rows.
struct TreeArrangement {
    codec: RowConverter,
    rows: BTreeMap<Box<[u8]>, i64>,
    bytes: usize,
}

impl TreeArrangement {
    fn new(schema: &SchemaRef) -> TreeArrangement {
        let fields = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        TreeArrangement {
            codec: RowConverter::new(fields).expect("row converter"),
            rows: BTreeMap::new(),
            bytes: 0,
        }
    }

    fn apply(&mut self, change: &ChangeBatch) {
        let rows = self
            .codec
            .convert_columns(change.data().columns())
            .expect("rows");
        for (row, weight) in rows.iter().zip(change.weights().values().iter()) {
            let key: &[u8] = row.as_ref();
            match self.rows.get_mut(key) {
                Some(count) => {
                    *count += weight;
                    if *count == 0 {
                        self.rows.remove(key);
                        self.bytes -= key.len();
                    }
                }
                None => {
                    self.rows.insert(key.into(), *weight);
                    self.bytes += key.len();
                }
            }
        }
    }

    fn read(&self) -> usize {
        let parser = self.codec.parser();
        let mut total = 0;
        let keys: Vec<_> = self.rows.keys().collect();
        for chunk in keys.chunks(8192) {
            let columns = self
                .codec
                .convert_rows(chunk.iter().map(|k| parser.parse(k)))
                .expect("columns");
            total += columns[0].len();
        }
        total
    }

    fn size(&self) -> usize {
        self.bytes + self.rows.len() * 48
    }
}

/// Either arrangement, behind one face for the measurements.
trait Target {
    fn apply(&mut self, change: &ChangeBatch);
    fn read(&self) -> usize;
    fn size(&self) -> usize;
}

impl Target for TreeArrangement {
    fn apply(&mut self, change: &ChangeBatch) {
        TreeArrangement::apply(self, change)
    }
    fn read(&self) -> usize {
        TreeArrangement::read(self)
    }
    fn size(&self) -> usize {
        TreeArrangement::size(self)
    }
}

impl Target for Arrangement {
    fn apply(&mut self, change: &ChangeBatch) {
        Arrangement::apply(self, change).expect("apply")
    }
    fn read(&self) -> usize {
        self.batches()
            .expect("read")
            .iter()
            .map(|b| b.num_rows())
            .sum()
    }
    fn size(&self) -> usize {
        Arrangement::size(self)
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("g", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
    ]))
}

/// The rows with the given ids (row `id` is the same every time it is built).
fn rows(schema: &SchemaRef, ids: &[i64]) -> RecordBatch {
    let g: Int64Array = ids.iter().map(|id| id % 1000).collect();
    let name: StringArray = ids
        .iter()
        .map(|id| Some(format!("customer-{id:08}")))
        .collect();
    let amount: Float64Array = ids.iter().map(|id| (*id as f64) * 0.25).collect();
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(g),
            Arc::new(name),
            Arc::new(amount),
        ],
    )
    .expect("batch")
}

/// A deterministic pseudo-random sequence (xorshift), the same for both targets.
fn random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// The changes of one update round of `size` rows: delete `size` live ids, insert as
/// many new ones. `live` holds the ids present.
fn update(
    schema: &SchemaRef,
    live: &mut [i64],
    next_id: &mut i64,
    size: usize,
    seed: &mut u64,
) -> ChangeBatch {
    let mut ids = Vec::with_capacity(2 * size);
    let mut weights = Vec::with_capacity(2 * size);
    for _ in 0..size {
        let at = (random(seed) % live.len() as u64) as usize;
        ids.push(live[at]);
        weights.push(-1);
        live[at] = *next_id;
        ids.push(*next_id);
        weights.push(1);
        *next_id += 1;
    }
    ChangeBatch::try_new(rows(schema, &ids), Int64Array::from(weights)).expect("change")
}

/// Measurements of one target at one size.
struct Measured {
    load: f64,
    updates: Vec<f64>,
    read: Duration,
    bytes: usize,
}

fn measure(target: &mut dyn Target, schema: &SchemaRef, n: usize) -> Measured {
    let started = Instant::now();
    let mut next_id = 0i64;
    while (next_id as usize) < n {
        let end = (next_id as usize + LOAD_BATCH).min(n) as i64;
        let ids: Vec<i64> = (next_id..end).collect();
        target.apply(&ChangeBatch::inserts(rows(schema, &ids)));
        next_id = end;
    }
    let load = n as f64 / started.elapsed().as_secs_f64();
    let mut live: Vec<i64> = (0..n as i64).collect();
    let mut seed = 0x5eed;
    let mut updates = Vec::new();
    for size in UPDATE_SIZES {
        let changes = (200_000 / size).min(2_000);
        let batches: Vec<ChangeBatch> = (0..changes)
            .map(|_| update(schema, &mut live, &mut next_id, size, &mut seed))
            .collect();
        let started = Instant::now();
        for change in &batches {
            target.apply(change);
        }
        updates.push((2 * size * changes) as f64 / started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    let read = target.read();
    let read_time = started.elapsed();
    assert_eq!(read, n, "the arrangement holds every row once");
    Measured {
        load,
        updates,
        read: read_time,
        bytes: target.size(),
    }
}

fn rate(rows_per_second: f64) -> String {
    format!("{:.0}", rows_per_second)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let full = std::env::var("SLUICE_BENCH_FULL").as_deref() == Ok("1");
    let sizes: Vec<usize> = match std::env::var("SLUICE_BENCH_ROWS") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) if !bench => vec![20_000],
        Err(_) if full => vec![1_000_000, 10_000_000],
        Err(_) => vec![1_000_000],
    };
    let schema = schema();
    println!("## arrangement: rows into a view's result, sorted runs vs the tree");
    println!();
    println!("| rows in view | change | tree rows/s (baseline) | sorted runs rows/s | ratio |");
    println!("|---|---|---|---|---|");
    let mut footers = Vec::new();
    for n in sizes {
        let tree = measure(&mut TreeArrangement::new(&schema), &schema, n);
        let runs = measure(
            &mut Arrangement::try_new(schema.clone()).expect("arrangement"),
            &schema,
            n,
        );
        let row = |change: String, baseline: f64, new: f64| {
            println!(
                "| {n} | {change} | {} | {} | {:.2} |",
                rate(baseline),
                rate(new),
                new / baseline
            );
        };
        row(
            format!("load, {LOAD_BATCH}-row inserts"),
            tree.load,
            runs.load,
        );
        for (i, size) in UPDATE_SIZES.iter().enumerate() {
            row(
                format!("update {size} row(s) per change"),
                tree.updates[i],
                runs.updates[i],
            );
        }
        footers.push(format!(
            "| {n} | {:.0} ms | {:.0} ms | {:.1} MiB | {:.1} MiB |",
            tree.read.as_secs_f64() * 1000.0,
            runs.read.as_secs_f64() * 1000.0,
            tree.bytes as f64 / 1048576.0,
            runs.bytes as f64 / 1048576.0
        ));
    }
    println!();
    println!(
        "| rows in view | full read, tree | full read, sorted runs | bytes, tree | bytes, sorted runs |"
    );
    println!("|---|---|---|---|---|");
    for line in footers {
        println!("{line}");
    }
}
