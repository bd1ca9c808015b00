//! Does a temporal filter's state stay flat over an unbounded stream?
//!
//! Inserts rows stamped with the current time into a table, in batches of 1,000, for
//! a while (default 60 s), read by two views: `last_two_seconds` (`WHERE ts > now() -
//! INTERVAL '2' SECOND`: each row leaves two seconds after it is stamped) and, the
//! baseline, `every_reading` (no temporal filter: every row stays). It prints, at
//! intervals, the rows inserted, each view's rows and operator state and the
//! process's resident memory. The temporal view's rows and state should stay at two
//! seconds' worth of rows; the baseline grows with the table. Three seconds after the
//! last insert the temporal view holds no row, and no more state than before.
//!
//! Run with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh --bench temporal_state` for 60 s
//! (see docs/benchmarks.md); without `SLUICE_BENCH_FULL=1` (the suite's quick mode)
//! it runs 20 s, and without `--bench` (as `cargo test --all-targets` runs it) a
//! smoke run of 3 s. `SLUICE_BENCH_SECONDS` sets the duration.

// The tests' harness: an in-process server over a temporary data directory.
#[path = "../tests/common/mod.rs"]
mod common;
// Its sampling loop serves the generator benchmarks.
#[allow(dead_code)]
mod state_growth;

use std::time::{Duration, Instant};

use state_growth::{mib, rss_mib, scalar};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (full, seconds) = state_growth::size_to_run("SLUICE_BENCH_SECONDS", [60, 20, 3]);
    let server = common::TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute(
            "CREATE TABLE readings (id BIGINT, ts TIMESTAMPTZ);
             CREATE MATERIALIZED VIEW last_two_seconds AS
               SELECT id, ts FROM readings WHERE ts > now() - INTERVAL '2' SECOND;
             CREATE MATERIALIZED VIEW every_reading AS SELECT id, ts FROM readings;",
        )
        .await
        .expect("create views");

    println!(
        "temporal_state: {seconds} s of rows stamped now, a temporal filter and the baseline\n"
    );
    println!(
        "| elapsed | rows inserted | last 2 s: rows | last 2 s: operator state | baseline: rows | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let view = |name: &str, column: &str| {
        format!("SELECT {column} FROM sluice_catalog.view_status WHERE name = '{name}'")
    };
    let start = Instant::now();
    let sample = Duration::from_secs(if full { 5 } else { 1 });
    let mut next_sample = sample;
    let mut inserted = 0i64;
    let mut peak = 0i64;
    while start.elapsed() < Duration::from_secs(seconds as u64) {
        client
            .batch_execute(&format!(
                "INSERT INTO readings SELECT x, now() FROM
                   (SELECT * FROM generate_series({}, {}) AS g(x)) s",
                inserted,
                inserted + 999
            ))
            .await
            .expect("insert");
        inserted += 1000;
        if start.elapsed() >= next_sample {
            next_sample += sample;
            client.batch_execute("FLUSH").await.expect("flush");
            let state = scalar(&client, &view("last_two_seconds", "operator_bytes")).await;
            peak = peak.max(state);
            println!(
                "| {:.0} s | {inserted} | {} | {:.2} MiB | {} | {:.0} MiB |",
                start.elapsed().as_secs_f64(),
                scalar(&client, &view("last_two_seconds", "rows_held")).await,
                mib(state),
                scalar(&client, &view("every_reading", "rows_held")).await,
                rss_mib()
            );
        }
    }
    // Three seconds after the last insert every row has left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    client.batch_execute("FLUSH").await.expect("flush");
    let (rows, state) = (
        scalar(&client, &view("last_two_seconds", "rows_held")).await,
        scalar(&client, &view("last_two_seconds", "operator_bytes")).await,
    );
    println!(
        "\n3 s after the last insert: last_two_seconds holds {rows} rows and {state} bytes of state"
    );
    assert_eq!(rows, 0, "every row has left the temporal filter");
    // What is left are entries cancelled out but not yet merged away by the state's
    // sorted runs: at most what the state held while rows came.
    assert!(
        state <= peak,
        "{state} bytes of state after, {peak} at most before"
    );
}
