//! What one row change costs when a materialized view over the table is large.
//!
//! For each size N the benchmark starts an in-process Sluice server over a fresh data
//! directory and, over the Postgres wire protocol (tokio-postgres, prepared
//! statements, as an application would), loads two tables with the same N rows:
//!
//! - `t`, read by two materialized views: `agg` (a `GROUP BY` with `count`, `sum`,
//!   `max` over 1,000 groups) and `evens` (a filter and a projection, N/2 rows);
//! - `base`, read by no view: the baseline.
//!
//! It then applies single-row changes (INSERT, UPDATE, DELETE), each followed by
//! `FLUSH` (which returns once the change is visible in every view), alternating
//! between the two tables so both see the same machine conditions. The latency of a
//! change is the time of the write statement plus its `FLUSH`. The view's own cost is
//! the median with views minus the median without; the incremental engine should make
//! it about the same at N = 1,000,000 as at N = 1,000.
//!
//! Run with `./scripts/bench.sh` (see docs/benchmarks.md); without `--bench` (as
//! `cargo test --all-targets` runs it) it only makes a quick smoke run at N = 1,000.
//! Settings, from the environment:
//! - `SLUICE_BENCH_FULL=1`: more changes per size and the sizes in between;
//! - `SLUICE_BENCH_ROWS=1000,100000`: the sizes to run (default 1000,1000000);
//! - `SLUICE_BENCH_CHANGES=60`: changes of each kind per table and size (default 60,
//!   200 with `SLUICE_BENCH_FULL=1`);
//! - `SLUICE_BENCH_DIR=/path`: where the data directories go (default: the system
//!   temporary directory). Each change waits for an fsync, so this sets what the
//!   baseline measures.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage, Statement};

/// Rows per `INSERT ... SELECT` while loading.
const LOAD_CHUNK: u64 = 250_000;
/// Groups in the aggregate view (`g = id % GROUPS`).
const GROUPS: u64 = 1_000;
/// Unmeasured changes of each kind before the measured ones.
const WARM_UP: usize = 3;

const KINDS: [Kind; 3] = [Kind::Insert, Kind::Update, Kind::Delete];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Insert,
    Update,
    Delete,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Insert => "INSERT",
            Kind::Update => "UPDATE",
            Kind::Delete => "DELETE",
        }
    }
}

struct Settings {
    sizes: Vec<u64>,
    changes: usize,
    dir: Option<String>,
    full: bool,
}

impl Settings {
    fn from_env() -> Settings {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this target
        // without it: then a smoke run that only checks the benchmark still works.
        if !std::env::args().any(|a| a == "--bench") {
            return Settings {
                sizes: vec![1_000],
                changes: 5,
                dir: std::env::var("SLUICE_BENCH_DIR").ok(),
                full: false,
            };
        }
        let full = std::env::var("SLUICE_BENCH_FULL").is_ok_and(|v| v == "1");
        let sizes = match std::env::var("SLUICE_BENCH_ROWS") {
            Ok(list) => list
                .split(',')
                .map(|s| {
                    let s = s.trim().replace('_', "");
                    s.parse()
                        .unwrap_or_else(|_| panic!("SLUICE_BENCH_ROWS: bad size {s:?}"))
                })
                .collect(),
            Err(_) if full => vec![1_000, 10_000, 100_000, 1_000_000],
            Err(_) => vec![1_000, 1_000_000],
        };
        let changes = match std::env::var("SLUICE_BENCH_CHANGES") {
            Ok(n) => n.parse().expect("SLUICE_BENCH_CHANGES: a number"),
            Err(_) if full => 200,
            Err(_) => 60,
        };
        Settings {
            sizes,
            changes,
            dir: std::env::var("SLUICE_BENCH_DIR").ok(),
            full,
        }
    }
}

/// Latencies of one kind of change on one table: (write, FLUSH) per change.
#[derive(Default)]
struct Samples {
    write: Vec<Duration>,
    flush: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, write: Duration, flush: Duration) {
        self.write.push(write);
        self.flush.push(flush);
    }

    fn total(&self) -> Vec<Duration> {
        self.write
            .iter()
            .zip(&self.flush)
            .map(|(w, f)| *w + *f)
            .collect()
    }
}

/// Results for one size.
struct SizeResult {
    rows: u64,
    /// Per kind: (no view, with views).
    samples: Vec<(Kind, Samples, Samples)>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let settings = Settings::from_env();
    let tmp = match &settings.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory");
    eprintln!(
        "view_change_cost: sizes {:?}, {} changes of each kind per table and size{}, data in {}",
        settings.sizes,
        settings.changes,
        if settings.full { " (full)" } else { "" },
        tmp.path().display()
    );
    let mut results = Vec::new();
    for &rows in &settings.sizes {
        let dir = tmp.path().join(format!("n{rows}"));
        results.push(run_size(&dir, rows, settings.changes).await);
    }
    print_report(&results);
}

async fn run_size(dir: &Path, rows: u64, changes: usize) -> SizeResult {
    let db = sluice::Database::open(dir).await.expect("open database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(sluice::server::serve(listener, db));
    let client = connect(addr).await;

    let started = Instant::now();
    for table in ["t", "base"] {
        exec(
            &client,
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, g BIGINT, v BIGINT)"),
        )
        .await;
        let mut low = 1;
        while low <= rows {
            let high = (low + LOAD_CHUNK - 1).min(rows);
            exec(
                &client,
                &format!(
                    "INSERT INTO {table} SELECT i AS id, i % {GROUPS} AS g, i AS v \
                     FROM generate_series({low}, {high}) AS i"
                ),
            )
            .await;
            low = high + 1;
        }
    }
    let loaded = started.elapsed();
    let started = Instant::now();
    exec(
        &client,
        "CREATE MATERIALIZED VIEW agg AS \
         SELECT g, count(*) AS n, sum(v) AS total, max(v) AS hi FROM t GROUP BY g",
    )
    .await;
    exec(
        &client,
        "CREATE MATERIALIZED VIEW evens AS SELECT id, v * 2 AS v2 FROM t WHERE v % 2 = 0",
    )
    .await;
    let backfilled = started.elapsed();
    eprintln!(
        "N = {rows}: loaded 2 x {rows} rows in {:.1} s, views backfilled in {:.1} s",
        loaded.as_secs_f64(),
        backfilled.as_secs_f64()
    );

    let base = Statements::prepare(&client, "base").await;
    let viewed = Statements::prepare(&client, "t").await;
    let mut samples: Vec<(Kind, Samples, Samples)> = KINDS
        .iter()
        .map(|&k| (k, Samples::default(), Samples::default()))
        .collect();
    // Rows to update: spread over the table, the same sequence for both tables.
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let started = Instant::now();
    for i in 0..WARM_UP + changes {
        let new_id = (rows + 1 + i as u64) as i64;
        random = random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let old_id = ((random >> 33) % rows + 1) as i64;
        for (k, kind) in KINDS.iter().enumerate() {
            // Alternate which table goes first, so neither always follows the other.
            let order = if (i + k).is_multiple_of(2) {
                [(&base, false), (&viewed, true)]
            } else {
                [(&viewed, true), (&base, false)]
            };
            for (statements, has_views) in order {
                let (write, flush) = match kind {
                    Kind::Insert => {
                        let g = new_id % GROUPS as i64;
                        change(&client, &statements.insert, &[&new_id, &g, &new_id]).await
                    }
                    Kind::Update => change(&client, &statements.update, &[&old_id]).await,
                    // The row this round inserted: the table keeps N rows.
                    Kind::Delete => change(&client, &statements.delete, &[&new_id]).await,
                };
                if i >= WARM_UP {
                    let (_, b, v) = &mut samples[k];
                    if has_views { v } else { b }.push(write, flush);
                }
            }
        }
    }
    eprintln!(
        "N = {rows}: {} changes in {:.1} s",
        (WARM_UP + changes) * KINDS.len() * 2,
        started.elapsed().as_secs_f64()
    );
    check_views(&client).await;
    drop(client);
    server.abort();
    let _ = server.await;
    SizeResult { rows, samples }
}

struct Statements {
    insert: Statement,
    update: Statement,
    delete: Statement,
}

impl Statements {
    async fn prepare(client: &Client, table: &str) -> Statements {
        let prepare = |sql: String| async move {
            client
                .prepare(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        };
        Statements {
            insert: prepare(format!("INSERT INTO {table} VALUES ($1, $2, $3)")).await,
            update: prepare(format!("UPDATE {table} SET v = v + 1 WHERE id = $1")).await,
            delete: prepare(format!("DELETE FROM {table} WHERE id = $1")).await,
        }
    }
}

/// Runs one single-row write, then `FLUSH`; returns how long each took.
async fn change(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> (Duration, Duration) {
    let started = Instant::now();
    let changed = client
        .execute(statement, params)
        .await
        .unwrap_or_else(|e| panic!("{statement:?}: {e:?}"));
    assert_eq!(changed, 1, "a change must touch exactly one row");
    let written = Instant::now();
    exec(client, "FLUSH").await;
    (written - started, written.elapsed())
}

/// The views must equal their queries run in batch: the benchmark measured real
/// maintenance, not a view that stopped.
async fn check_views(client: &Client) {
    let pairs = [
        (
            "SELECT count(*), sum(n), sum(total), sum(hi) FROM agg",
            "SELECT count(*), sum(n), sum(total), sum(hi) FROM \
             (SELECT g, count(*) AS n, sum(v) AS total, max(v) AS hi FROM t GROUP BY g)",
        ),
        (
            "SELECT count(*), sum(v2) FROM evens",
            "SELECT count(*), sum(v * 2) FROM t WHERE v % 2 = 0",
        ),
    ];
    for (view, batch) in pairs {
        let got = first_row(client, view).await;
        let want = first_row(client, batch).await;
        assert_eq!(got, want, "view differs from its query: {view}");
    }
}

async fn first_row(client: &Client, sql: &str) -> Vec<Option<String>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(String::from))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

async fn exec(client: &Client, sql: &str) {
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

async fn connect(addr: SocketAddr) -> Client {
    let url = format!(
        "host={} port={} user=bench dbname=sluice",
        addr.ip(),
        addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if !n.is_multiple_of(2) => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// A 95% interval for `median(viewed) - median(base)`: the 2.5th and 97.5th
/// percentiles over bootstrap resamples of both sets (fixed seed: reruns agree).
fn cost_interval(base: &[Duration], viewed: &[Duration]) -> (f64, f64) {
    const RESAMPLES: usize = 2_000;
    if base.is_empty() || viewed.is_empty() {
        return (0.0, 0.0);
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut costs: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let b: Vec<Duration> = (0..base.len()).map(|_| base[next(base.len())]).collect();
            let v: Vec<Duration> = (0..viewed.len())
                .map(|_| viewed[next(viewed.len())])
                .collect();
            median(&v).as_secs_f64() - median(&b).as_secs_f64()
        })
        .collect();
    costs.sort_by(f64::total_cmp);
    (
        costs[RESAMPLES * 25 / 1000],
        costs[RESAMPLES * 975 / 1000 - 1],
    )
}

fn ms(d: f64) -> String {
    format!("{:.3} ms", d * 1e3)
}

fn ratio(value: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) if r > 0.0 && value >= 0.0 => format!("{:.2}", value / r),
        _ => "n/a".into(),
    }
}

fn print_report(results: &[SizeResult]) {
    struct Line {
        rows: u64,
        kind: &'static str,
        count: usize,
        base: f64,
        viewed: f64,
        /// 95% bootstrap interval of the view cost.
        interval: (f64, f64),
    }
    let mut lines = Vec::new();
    for result in results {
        for (kind, b, v) in &result.samples {
            lines.push(Line {
                rows: result.rows,
                kind: kind.name(),
                count: b.write.len(),
                base: median(&b.total()).as_secs_f64(),
                viewed: median(&v.total()).as_secs_f64(),
                interval: cost_interval(&b.total(), &v.total()),
            });
        }
    }
    let smallest = results.first().map(|r| r.rows);
    let reference = |kind: &str| {
        lines
            .iter()
            .find(|l| Some(l.rows) == smallest && l.kind == kind)
            .map(|l| (l.viewed - l.base, l.viewed))
    };
    let smallest_name = smallest.map_or("smallest".into(), group_digits);

    println!();
    println!("Median latency of one single-row change plus FLUSH, over the wire.");
    println!();
    println!(
        "| rows in table | change | changes | no view | with views | view cost | \
         view cost, 95% interval | view cost ratio vs {smallest_name} | \
         with-views ratio vs {smallest_name} |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for l in &lines {
        let cost = l.viewed - l.base;
        let (ref_cost, ref_viewed) = match reference(l.kind) {
            Some((c, v)) => (Some(c), Some(v)),
            None => (None, None),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.3} … {:.3} ms | {} | {} |",
            group_digits(l.rows),
            l.kind,
            l.count,
            ms(l.base),
            ms(l.viewed),
            ms(cost),
            l.interval.0 * 1e3,
            l.interval.1 * 1e3,
            ratio(cost, ref_cost),
            ratio(l.viewed, ref_viewed),
        );
    }

    let largest = results.last().map(|r| r.rows);
    if results.len() > 1
        && let Some(largest) = largest
    {
        let ratios: Vec<String> = lines
            .iter()
            .filter(|l| l.rows == largest)
            .map(|l| {
                let reference = reference(l.kind).map(|(c, _)| c);
                format!("{} {}", l.kind, ratio(l.viewed - l.base, reference))
            })
            .collect();
        println!();
        println!(
            "View cost ratio, {} rows vs {smallest_name} (1.00: the same cost at both sizes): {}.",
            group_digits(largest),
            ratios.join(", ")
        );
    }

    println!();
    println!("Where the time goes: median of the write statement and of the FLUSH after it.");
    println!();
    println!(
        "| rows in table | change | write, no view | FLUSH, no view | write, with views | FLUSH, with views |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for result in results {
        for (kind, b, v) in &result.samples {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                group_digits(result.rows),
                kind.name(),
                ms(median(&b.write).as_secs_f64()),
                ms(median(&b.flush).as_secs_f64()),
                ms(median(&v.write).as_secs_f64()),
                ms(median(&v.flush).as_secs_f64()),
            );
        }
    }
}

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
