//! [`TopN`]: the first rows of each partition in an order, maintained incrementally —
//! `ROW_NUMBER()`, `RANK()` or `DENSE_RANK() OVER (PARTITION BY ... ORDER BY ...)`
//! bounded by `<= N`, and `ORDER BY ... LIMIT n [OFFSET m]` (one partition).
//!
//! State: the input's rows by partition, in order ([`OrderedPartitions`]).
//!
//! A change touches some partitions. For each, the section shown — the rows up to the
//! bound, read from the front of the partition: work proportional to the bound (and
//! ties), never to the partition — is read before and after the change is applied,
//! and the difference is the output. When the output carries the rank, a row whose
//! rank moves is retracted with its old rank and inserted with its new one.
//!
//! Rows tied in the order are ordered by their own encoding, so `ROW_NUMBER()` and
//! `LIMIT` pick the same rows every time (PostgreSQL may pick any of the tied rows).
//! Over an append-only input (sources), a row past the section can never come back
//! into it, so it is dropped: the state is bounded by the section (and ties) per
//! partition.

use foldhash::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator};
use super::ordered_partitions::{OrderKey, OrderedPartitions, split_entry};
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// How rows are numbered within a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// 1, 2, 3, ... each row its own number (`ROW_NUMBER()`, `LIMIT`).
    RowNumber,
    /// Tied rows share the number of the first; the next row's number counts every
    /// row before it (`RANK()`: 1, 1, 3).
    Rank,
    /// Tied rows share a number; the next distinct value gets the next number
    /// (`DENSE_RANK()`: 1, 1, 2).
    DenseRank,
}

/// Which rows of each partition are shown: those numbered `skip + 1 ..= skip + fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub ranking: Ranking,
    /// Rows skipped first (`OFFSET`; only with [`Ranking::RowNumber`]).
    pub skip: u64,
    /// The number of rows shown after those, or the largest rank shown.
    pub fetch: u64,
}

/// The incremental top-N. See the module docs.
#[derive(Debug)]
pub struct TopN {
    /// Invariant: over an append-only input, no partition holds rows past its
    /// section (and their ties).
    rows: OrderedPartitions,
    bound: Bound,
    /// The output ends with the rank (`bigint`), as the window function gives it
    /// (`sql::functions::signed_ranks`).
    numbered: bool,
    append_only: bool,
    schema: SchemaRef,
}

/// One shown row: its entry, its rank (0 when the output carries none) and copies.
type Shown = (Vec<u8>, u64, i64);

impl TopN {
    /// A top-N over rows shaped `input`, partitioned by `partition` and ordered by
    /// `order`; `schema` is the input's columns, followed by the rank when `numbered`.
    pub fn try_new(
        input: &Schema,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<OrderKey>,
        bound: Bound,
        numbered: bool,
        schema: SchemaRef,
    ) -> Result<Self> {
        if bound.skip > 0 && bound.ranking != Ranking::RowNumber {
            return Err(SluiceError::Internal("only row numbers skip rows".into()));
        }
        Ok(TopN {
            rows: OrderedPartitions::try_new(input, partition, order)?,
            bound,
            numbered,
            append_only: false,
            schema,
        })
    }

    /// Over an append-only input: rows past the section are dropped (see the module
    /// docs).
    pub fn append_only(mut self, append_only: bool) -> Self {
        self.append_only = append_only;
        self
    }

    /// The section of the partition `prefix` shown now, front first.
    fn section(&self, prefix: &[u8]) -> Vec<Shown> {
        let Bound {
            ranking,
            skip,
            fetch,
        } = self.bound;
        let mut shown = Vec::new();
        let mut before = 0u64; // rows before the current entry
        let mut distinct = 0u64; // distinct order values so far
        let mut rank = 0u64;
        let mut previous_order: Option<&[u8]> = None;
        for (entry, multiplicity) in self.rows.partition(prefix) {
            let copies = multiplicity.max(0) as u64;
            let (order, _) = split_entry(entry, prefix.len());
            if previous_order != Some(order) {
                distinct += 1;
                rank = before + 1;
                previous_order = Some(order);
            }
            match ranking {
                Ranking::RowNumber => {
                    let end = skip + fetch;
                    if before >= end {
                        break;
                    }
                    let first = (before + 1).max(skip + 1);
                    let last = (before + copies).min(end);
                    if first <= last {
                        if self.numbered {
                            shown.extend((first..=last).map(|n| (entry.to_vec(), n, 1)));
                        } else {
                            shown.push((entry.to_vec(), 0, (last - first + 1) as i64));
                        }
                    }
                }
                Ranking::Rank | Ranking::DenseRank => {
                    let number = if ranking == Ranking::Rank {
                        rank
                    } else {
                        distinct
                    };
                    if number > fetch {
                        break;
                    }
                    let shown_number = if self.numbered { number } else { 0 };
                    shown.push((entry.to_vec(), shown_number, copies as i64));
                }
            }
            before += copies;
        }
        shown
    }

    /// Drops the rows of partition `prefix` past its `section` (append-only inputs):
    /// past position `skip + fetch` for row numbers, past the section's last row for
    /// ranks (whose section holds the partition's first row whenever it has one).
    fn drop_tail(&mut self, prefix: &[u8], section: &[Shown]) -> Result<()> {
        let Bound { skip, fetch, .. } = self.bound;
        let last_shown = section.last().map(|(entry, _, _)| entry.as_slice());
        let mut tail: Vec<(Vec<u8>, i64)> = Vec::new();
        let mut before = 0u64;
        let mut past = last_shown.is_none();
        for (entry, multiplicity) in self.rows.partition(prefix) {
            let drop = match self.bound.ranking {
                Ranking::RowNumber => before >= skip + fetch,
                Ranking::Rank | Ranking::DenseRank => past,
            };
            if drop {
                tail.push((entry.to_vec(), -multiplicity));
            }
            past = past || Some(entry) == last_shown;
            before += multiplicity.max(0) as u64;
        }
        let (entries, weights): (Vec<Vec<u8>>, Vec<i64>) = tail.into_iter().unzip();
        self.rows.adjust(&entries, &weights)
    }

    /// Output rows for shown entries with `weights`.
    fn output(&self, shown: &[(&[u8], u64)], weights: Vec<i64>) -> Result<ChangeBatch> {
        let mut columns = self.rows.columns(shown.iter().map(|(entry, _)| *entry))?;
        if self.numbered {
            // A rank counts rows: it never comes near 2^63.
            columns.push(Arc::new(Int64Array::from_iter_values(
                shown
                    .iter()
                    .map(|(_, rank)| i64::try_from(*rank).unwrap_or(i64::MAX)),
            )));
        }
        let options = RecordBatchOptions::new().with_row_count(Some(weights.len()));
        let data =
            RecordBatch::try_new_with_options(self.schema.clone(), columns.clone(), &options)
                .or_else(|_| {
                    RecordBatch::try_new_with_options(
                        super::change::nullable(&self.schema),
                        columns,
                        &options,
                    )
                })?;
        ChangeBatch::try_new(data, Int64Array::from(weights))
    }
}

impl Operator for TopN {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let change = self.rows.entries(change, errors)?;
        let touched = &change.touched;
        let before: Vec<Vec<Shown>> = touched.iter().map(|p| self.section(p)).collect();
        self.rows.apply(&change)?;
        let mut difference: HashMap<(Vec<u8>, u64), i64> = HashMap::default();
        let mut order_of_rows: Vec<(Vec<u8>, u64)> = Vec::new();
        for (partition, old) in touched.iter().zip(before) {
            let new = self.section(partition);
            for ((entry, rank, copies), sign) in old
                .into_iter()
                .map(|s| (s, -1))
                .chain(new.iter().cloned().map(|s| (s, 1)))
            {
                let key = (entry, rank);
                if !difference.contains_key(&key) {
                    order_of_rows.push(key.clone());
                }
                *difference.entry(key).or_default() += sign * copies;
            }
            if self.append_only {
                self.drop_tail(partition, &new)?;
            }
        }
        let mut shown: Vec<(&[u8], u64)> = Vec::new();
        let mut weights: Vec<i64> = Vec::new();
        for key in &order_of_rows {
            let weight = difference[key];
            if weight != 0 {
                shown.push((key.0.as_slice(), key.1));
                weights.push(weight);
            }
        }
        self.output(&shown, weights)
    }

    fn partitioning(&self, _input: usize) -> Partitioning {
        self.rows.partitioning()
    }

    fn describe(&self) -> String {
        let Bound {
            ranking,
            skip,
            fetch,
        } = self.bound;
        let (partition, order) = self.rows.describe_keys();
        format!(
            "TopN: {ranking:?} {}..={} by [{}] partitioned by [{}]",
            skip + 1,
            skip + fetch,
            order,
            partition
        )
    }

    fn state_size(&self) -> usize {
        self.rows.bytes()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![("rows", self.rows.spine())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::physical_expr::expressions::Column;

    type Row = (Option<i64>, Option<i64>, Option<i64>);

    const DESCENDING: SortOptions = SortOptions {
        descending: true,
        nulls_first: true,
    };

    /// A top-N of `(g, v, k)` partitioned by `g`, ordered by `v DESC NULLS FIRST`.
    fn top_n(bound: Bound, numbered: bool, append_only: bool) -> TopN {
        let field = |name: &str, t: DataType| Field::new(name, t, true);
        let input = Schema::new(vec![
            field("g", DataType::Int64),
            field("v", DataType::Int64),
            field("k", DataType::Int64),
        ]);
        let mut fields = input.fields().to_vec();
        if numbered {
            fields.push(Arc::new(Field::new("rank", DataType::Int64, false)));
        }
        TopN::try_new(
            &input,
            vec![Arc::new(Column::new("g", 0))],
            vec![(Arc::new(Column::new("v", 1)), DESCENDING)],
            bound,
            numbered,
            Arc::new(Schema::new(fields)),
        )
        .unwrap()
        .append_only(append_only)
    }

    /// The rows shown for multiset `rows`, computed from scratch: ties broken by the
    /// row itself, ascending with NULLs first (the order of its encoding).
    fn expected(bound: Bound, numbered: bool, rows: &[(Row, i64)]) -> Vec<String> {
        let show = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
        let mut partitions: Vec<Option<i64>> = rows.iter().map(|((g, _, _), _)| *g).collect();
        partitions.sort();
        partitions.dedup();
        let mut out: Vec<(String, i64)> = Vec::new();
        for g in partitions {
            let mut mine: Vec<(Row, i64)> =
                rows.iter().filter(|(r, _)| r.0 == g).cloned().collect();
            // v descending with NULLs first, then the row ascending with NULLs first.
            mine.sort_by_key(|((g, v, k), _)| (v.is_some(), v.map(std::cmp::Reverse), *g, *k));
            let (mut before, mut distinct, mut rank) = (0u64, 0u64, 0u64);
            let mut previous = None;
            for ((g, v, k), m) in mine {
                if previous != Some(v) {
                    distinct += 1;
                    rank = before + 1;
                    previous = Some(v);
                }
                let text = format!("{},{},{}", show(g), show(v), show(k));
                for copy in 1..=m as u64 {
                    let number = match bound.ranking {
                        Ranking::RowNumber => before + copy,
                        Ranking::Rank => rank,
                        Ranking::DenseRank => distinct,
                    };
                    let shown = match bound.ranking {
                        Ranking::RowNumber => {
                            number > bound.skip && number <= bound.skip + bound.fetch
                        }
                        _ => number <= bound.fetch,
                    };
                    if shown {
                        let text = if numbered {
                            format!("{text},{number}")
                        } else {
                            text.clone()
                        };
                        match out.iter_mut().find(|(t, _)| *t == text) {
                            Some(entry) => entry.1 += 1,
                            None => out.push((text, 1)),
                        }
                    }
                }
                before += m as u64;
            }
        }
        let mut rows: Vec<String> = out.into_iter().map(|(t, w)| format!("{t} x{w}")).collect();
        rows.sort();
        rows
    }

    fn value(seed: &mut u64, range: u64) -> Option<i64> {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let v = *seed % (range + 1);
        (v < range).then_some(v as i64)
    }

    /// Random inserts and deletes (only inserts when `append_only`), in batches with
    /// repeated rows; after every batch the accumulated output equals the output
    /// computed from scratch.
    fn follows_a_random_stream(bound: Bound, numbered: bool, append_only: bool) {
        for seed in 1..=15u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut op = top_n(bound, numbered, append_only);
            let mut errors = ErrorLog::default();
            let mut stored: Vec<(Row, i64)> = Vec::new();
            let mut total: Vec<(String, i64)> = Vec::new();
            for step in 0..50 {
                let (mut gs, mut vs, mut ks, mut ws) = (vec![], vec![], vec![], vec![]);
                for _ in 0..1 + (rng % 6) {
                    let delete =
                        !append_only && value(&mut rng, 3) == Some(0) && !stored.is_empty();
                    let row = if delete {
                        stored[(rng as usize) % stored.len()].0
                    } else {
                        (value(&mut rng, 3), value(&mut rng, 5), value(&mut rng, 4))
                    };
                    let weight = if delete { -1 } else { 1 };
                    match stored.iter_mut().find(|(r, _)| *r == row) {
                        Some(entry) => entry.1 += weight,
                        None => stored.push((row, weight)),
                    }
                    stored.retain(|(_, m)| *m != 0);
                    gs.push(row.0);
                    vs.push(row.1);
                    ks.push(row.2);
                    ws.push(weight);
                }
                let change = change_of(batch(&[("g", &gs), ("v", &vs), ("k", &ks)]), &ws);
                let out = op.process(0, &change, &mut errors).unwrap();
                for line in rows_of(&out) {
                    let (text, weight) = line.rsplit_once(" x").unwrap();
                    let weight: i64 = weight.parse().unwrap();
                    match total.iter_mut().find(|(t, _)| t == text) {
                        Some(entry) => entry.1 += weight,
                        None => total.push((text.to_string(), weight)),
                    }
                }
                total.retain(|(_, w)| *w != 0);
                let mut got: Vec<String> = total.iter().map(|(t, w)| format!("{t} x{w}")).collect();
                got.sort();
                assert_eq!(
                    got,
                    expected(bound, numbered, &stored),
                    "{bound:?} numbered {numbered} append-only {append_only}, seed {seed}, step {step}"
                );
            }
        }
    }

    #[test]
    fn every_ranking_follows_a_random_stream() {
        for ranking in [Ranking::RowNumber, Ranking::Rank, Ranking::DenseRank] {
            for fetch in [1, 3] {
                let bound = Bound {
                    ranking,
                    skip: 0,
                    fetch,
                };
                for numbered in [false, true] {
                    follows_a_random_stream(bound, numbered, false);
                    follows_a_random_stream(bound, numbered, true);
                }
            }
        }
        let with_offset = Bound {
            ranking: Ranking::RowNumber,
            skip: 2,
            fetch: 2,
        };
        follows_a_random_stream(with_offset, false, false);
        follows_a_random_stream(with_offset, true, true);
    }

    #[test]
    fn an_append_only_input_keeps_only_the_section() {
        let bound = Bound {
            ranking: Ranking::RowNumber,
            skip: 0,
            fetch: 2,
        };
        let mut op = top_n(bound, false, true);
        let mut errors = ErrorLog::default();
        let values: Vec<Option<i64>> = (0..100).map(Some).collect();
        let groups = vec![Some(1); 100];
        let change = change_of(
            batch(&[("g", &groups), ("v", &values), ("k", &values)]),
            &[1; 100],
        );
        assert_eq!(
            rows_of(&op.process(0, &change, &mut errors).unwrap()),
            vec!["1,98,98 x1", "1,99,99 x1"]
        );
        assert_eq!(op.rows.spine().distinct_keys(), 2);
    }
}
