//! `nexmark_generator`: Nexmark q0–q9, q21 and q22 (RisingWave's texts, as
//! tests/nexmark_queries.rs checks them against PostgreSQL) as materialized views over
//! the built-in `nexmark` generator — no Kafka, no JSON — on one worker and on every
//! core (`WITH (workers = n)`), next to the figures of Feldera's DBSP on a machine of
//! the same kind (2 cores, 2 workers, generator included; from the issue that asked
//! for this benchmark).
//!
//! Per query and worker count, in a process and in-process server of its own (this
//! binary started again with `SLUICE_BENCH_ONE=query,workers`, so no run inherits
//! another's heap; checkpoints off, as DBSP's benchmark runs): the sources are created
//! for `events` Nexmark events (46 bids, 3 auctions and 1 person per 50 events, the
//! generator's own mix), the view is created, and the clock runs until every reader
//! has finished and a `FLUSH` has returned, i.e. until the view holds the result over
//! all events. Reported: events/s, events per CPU-second of the whole process
//! (generator, view and server), and the process's peak resident memory during the
//! run (from the view's creation).
//!
//! `q5-unshared` is q5 with `WITH (share_subplans = false)`: the baseline, in the
//! same run, of computing its two identical counts once (src/sql/shared_subplans.rs).
//!
//! Then freshness ([`freshness`]): rows inserted into a table, and rows of a paced
//! `datagen` generator, at 10,000 and 50,000 rows/s, p50/p99 of the time until a
//! `SELECT` of a view shows them.
//!
//! Settings: without `--bench` (as `cargo test --all-targets` runs it) a smoke run of
//! 20,000 events and 1 s per freshness rate; `--bench`: 1,000,000 events and 5 s
//! (quick); `SLUICE_BENCH_FULL=1`: 10,000,000 (as DBSP's figures) and 30 s; `SLUICE_BENCH_EVENTS=n`; `SLUICE_BENCH_WORKERS=1,2,4`
//! (default: 1 and the machine's cores); `SLUICE_BENCH_QUERIES=q0,q4`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "nexmark/cpu.rs"]
mod cpu;
#[path = "nexmark_generator/freshness.rs"]
mod freshness;

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// DBSP's events/s on 2 cores with 2 workers, 10M events (Feldera's `crates/nexmark`).
const DBSP: &[(&str, f64)] = &[
    ("q0", 1.11e6),
    ("q1", 0.81e6),
    ("q2", 1.09e6),
    ("q3", 1.07e6),
    ("q4", 0.76e6),
    ("q5", 0.99e6),
    ("q7", 0.83e6),
    ("q8", 1.11e6),
    ("q9", 0.22e6),
];

const QUERIES: &[&str] = &[
    "q0",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    UNSHARED_Q5,
    "q6",
    "q7",
    "q8",
    "q9",
    "q21",
    "q22",
];

/// q5 with its repeated subplan computed twice (`share_subplans = false`).
const UNSHARED_Q5: &str = "q5-unshared";

struct Settings {
    mode: &'static str,
    events: u64,
    /// How long each freshness rate runs.
    freshness: Duration,
    workers: Vec<usize>,
    queries: Vec<String>,
}

fn settings() -> Settings {
    let (mode, mut events, seconds) = if !std::env::args().any(|a| a == "--bench") {
        ("smoke", 20_000, 1)
    } else if std::env::var("SLUICE_BENCH_FULL").is_ok_and(|v| v == "1") {
        ("full", 10_000_000, 30)
    } else {
        ("quick", 1_000_000, 5)
    };
    if let Some(n) = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        events = n;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut workers: Vec<usize> = match std::env::var("SLUICE_BENCH_WORKERS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => vec![1, cores],
    };
    workers.dedup();
    let queries = match std::env::var("SLUICE_BENCH_QUERIES") {
        Ok(list) => list.split(',').map(|q| q.trim().to_string()).collect(),
        Err(_) => QUERIES.iter().map(|q| q.to_string()).collect(),
    };
    Settings {
        mode,
        events,
        freshness: Duration::from_secs(seconds),
        workers,
        queries,
    }
}

/// The sources a query reads, each with its share of `events`.
fn sources(sql: &str, events: u64) -> Vec<String> {
    let kinds = [
        ("bid", common::nexmark::BID, events * 46 / 50),
        ("auction", common::nexmark::AUCTION, events * 3 / 50),
        ("person", common::nexmark::PERSON, events / 50),
    ];
    kinds
        .iter()
        .filter(|(name, _, _)| {
            sql.to_lowercase()
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == *name)
        })
        .map(|(name, columns, n)| {
            format!(
                "CREATE SOURCE {name} ({columns}) WITH (connector = 'nexmark', \
                 nexmark.table.type = '{name}', nexmark.event.num = {n}, \
                 nexmark.events.per.second = 0)"
            )
        })
        .collect()
}

/// Peak resident memory of this process since the last [`reset_peak`], in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Starts a new peak for [`peak_rss_mib`] (Linux: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Run {
    seconds: f64,
    cpu_seconds: f64,
    peak_mib: f64,
    rows: i64,
    /// Rows the view's readers delivered (the events of the kinds it reads).
    read: i64,
}

/// Runs the view `sql` `WITH (workers = {workers}{options})` over `events` events.
async fn run(
    client: &Client,
    sql: &str,
    options: &str,
    events: u64,
    workers: usize,
) -> Result<Run, String> {
    for source in sources(sql, events) {
        client
            .batch_execute(&source)
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    reset_peak();
    let cpu_start = cpu::seconds();
    let start = Instant::now();
    let created = client
        .batch_execute(&format!(
            "CREATE MATERIALIZED VIEW q WITH (workers = {workers}{options}) AS {sql}"
        ))
        .await;
    if let Err(e) = created {
        let _ = client
            .batch_execute("DROP SOURCE IF EXISTS bid, auction, person CASCADE")
            .await;
        return Err(e
            .as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string()));
    }
    common::nexmark::wait_until_read(client, Duration::from_millis(20), Duration::from_secs(3600))
        .await;
    client.batch_execute("FLUSH").await.expect("FLUSH");
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu::seconds() - cpu_start;
    let peak_mib = peak_rss_mib();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM q", &[])
        .await
        .expect("count")
        .get(0);
    let read: i64 = client
        .query_one(
            "SELECT sum(rows_read)::bigint FROM sluice_catalog.source_status",
            &[],
        )
        .await
        .expect("rows read")
        .get(0);
    client
        .batch_execute("DROP MATERIALIZED VIEW q; DROP SOURCE IF EXISTS bid, auction, person")
        .await
        .expect("drop");
    Ok(Run {
        seconds,
        cpu_seconds,
        peak_mib,
        rows,
        read,
    })
}

/// Set in a child process: the one run it makes (`query,workers`).
const ONE_RUN: &str = "SLUICE_BENCH_ONE";

/// The table row of `name` on `workers`, run in this process's own server.
async fn one_run(name: &str, workers: usize, events: u64) -> String {
    let (query, options) = match name {
        UNSHARED_Q5 => ("q5", ", share_subplans = false"),
        _ => (name, ""),
    };
    let Some(case) = common::nexmark::CASES.iter().find(|c| c.name == query) else {
        return format!("| {name} | {workers} | no such query | | | | | | | |");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::InProcess::open(dir.path()).await;
    let client = common::connect(server.addr).await;
    let dbsp = DBSP.iter().find(|(q, _)| *q == query).map(|(_, r)| *r);
    let row = match run(&client, case.sluice, options, events, workers).await {
        Ok(r) => {
            let rate = events as f64 / r.seconds;
            format!(
                "| {name} | {workers} | {:.2} | {:.0} | {:.0} | {} | {:.0} | {} | {} | {} |",
                r.seconds,
                rate,
                events as f64 / r.cpu_seconds,
                r.read,
                r.peak_mib,
                r.rows,
                dbsp.map_or("—".into(), |d| format!("{d:.0}")),
                dbsp.map_or("—".into(), |d| format!("{:.2}", rate / d)),
            )
        }
        Err(e) => format!("| {name} | {workers} | refused: {e} | | | | | | | |"),
    };
    server.crash();
    row
}

/// Runs `name` on `workers` in a child process (this binary, with the same arguments
/// and [`ONE_RUN`]) and returns its table row.
fn run_in_child(name: &str, workers: usize) -> String {
    let output = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .args(std::env::args().skip(1))
        .env(ONE_RUN, format!("{name},{workers}"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("start a run");
    let row = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() && !row.is_empty() {
        row
    } else {
        format!(
            "| {name} | {workers} | failed: {} | | | | | | | |",
            output.status
        )
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let settings = settings();
    if let Ok(one) = std::env::var(ONE_RUN) {
        let (name, workers) = one.split_once(',').expect("SLUICE_BENCH_ONE=query,workers");
        let workers = workers.parse().expect("a number of workers");
        println!("{}", one_run(name, workers, settings.events).await);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::InProcess::open(dir.path()).await;
    let client = common::connect(server.addr).await;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "\n### nexmark_generator: {} events from the nexmark generator ({} mode), {cores} cores\n",
        settings.events, settings.mode
    );
    println!(
        "| query | workers | seconds | events/s | events per CPU-second | source rows read | peak RSS (MiB) | rows in view | DBSP events/s (2 cores) | / DBSP |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for name in &settings.queries {
        for &workers in &settings.workers {
            eprintln!("{name} on {workers} worker(s)...");
            println!("{}", run_in_child(name, workers));
        }
    }
    println!(
        "\n### nexmark_generator: freshness of a view over a table ({} s per rate)\n",
        settings.freshness.as_secs()
    );
    println!("| rows/s | workers | statements | p50 (ms) | p99 (ms) | max (ms) | not visible |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for rate in [10_000, 50_000] {
        for &workers in &settings.workers {
            eprintln!("freshness at {rate} rows/s on {workers} worker(s)...");
            let poller = common::connect(server.addr).await;
            let f = freshness::measure(&client, poller, rate, settings.freshness, workers).await;
            println!(
                "| {rate} | {workers} | {} | {:.2} | {:.2} | {:.2} | {} |",
                f.latencies.len() + f.not_visible,
                f.percentile(50.0),
                f.percentile(99.0),
                f.percentile(100.0),
                f.not_visible
            );
        }
    }
    println!(
        "\n### nexmark_generator: freshness of a view over a generator ({} s per rate)\n",
        settings.freshness.as_secs()
    );
    println!("| rows/s | workers | batches seen | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for rate in [10_000, 50_000] {
        for &workers in &settings.workers {
            eprintln!("generator freshness at {rate} rows/s on {workers} worker(s)...");
            let poller = common::connect(server.addr).await;
            let f =
                freshness::measure_generator(&client, poller, rate, settings.freshness, workers)
                    .await;
            println!(
                "| {rate} | {workers} | {} | {:.2} | {:.2} | {:.2} |",
                f.latencies.len(),
                f.percentile(50.0),
                f.percentile(99.0),
                f.percentile(100.0),
            );
        }
    }
    server.crash();
}
