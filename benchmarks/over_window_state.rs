//! Does a window function's state stay flat over an unbounded stream when the view
//! emits on window close?
//!
//! Runs N Nexmark bids (default 30,000,000) from the generator source, with a
//! `WATERMARK`, through two `EMIT ON WINDOW CLOSE` views of window functions:
//! `moving_average` — each bid with the average price of the last 100 bids of its
//! bidder bucket (`bidder % 16`) and the previous bid's price (`ROWS BETWEEN 99
//! PRECEDING AND CURRENT ROW`, `lag`): once a bid is emitted only the 99 rows before
//! the next one are read again, so the operator keeps per bucket 99 rows and the
//! bids the watermark has not closed yet; and, the baseline, `numbered` — each bid's
//! number within its auction (`row_number()`), which reads every row before it, so
//! every bid is kept (as a continuous window function keeps every row). It prints,
//! at intervals, the events the source reader has delivered, each view's operator
//! state and the process's resident memory; the last line is exact, after a `FLUSH`.
//!
//! Run with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh --bench over_window_state` for
//! the 30,000,000 events (see docs/benchmarks.md); without `SLUICE_BENCH_FULL=1` (the
//! suite's quick mode) it runs 5,000,000, and without `--bench` (as `cargo test
//! --all-targets` runs it) a smoke run of 200,000. `SLUICE_BENCH_EVENTS` sets N.

// The tests' harness: an in-process server over a temporary data directory.
#[path = "../tests/common/mod.rs"]
mod common;
mod state_growth;

use std::time::Instant;

use state_growth::{mib, rss_mib, scalar};

const VIEWS: [&str; 2] = ["moving_average", "numbered"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (full, events) = state_growth::events_to_run();
    let server = common::TestServer::start().await;
    let client = server.client().await;
    let started = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP,
                                WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW moving_average AS
               SELECT bidder % 16 AS bucket, date_time, price,
                      avg(price) OVER (PARTITION BY bidder % 16 ORDER BY date_time
                                       ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) AS moving,
                      lag(price) OVER (PARTITION BY bidder % 16 ORDER BY date_time) AS previous
               FROM bid EMIT ON WINDOW CLOSE;
             CREATE MATERIALIZED VIEW numbered AS
               SELECT auction, date_time, price,
                      row_number() OVER (PARTITION BY auction ORDER BY date_time) AS n
               FROM bid EMIT ON WINDOW CLOSE;"
        ))
        .await
        .expect("create views");

    println!(
        "over_window_state: {events} nexmark bids, window functions emitted on window close\n"
    );
    println!(
        "| elapsed | events read | moving_average (ROWS 99 PRECEDING) | numbered (row_number, baseline) | moving / baseline | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    state_growth::sample_until_read(&client, events, full, &VIEWS, |elapsed, read, bytes| {
        println!(
            "| {:.0} s | {read} | {:.2} MiB | {:.1} MiB | {:.4} | {:.0} MiB |",
            elapsed,
            mib(bytes[0]),
            mib(bytes[1]),
            bytes[0] as f64 / bytes[1].max(1) as f64,
            rss_mib()
        );
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let emitted = scalar(&client, "SELECT count(*) FROM moving_average").await;
    let numbered = scalar(&client, "SELECT count(*) FROM numbered").await;
    let state = |view: &str| {
        format!("SELECT operator_bytes FROM sluice_catalog.view_status WHERE name = '{view}'")
    };
    let (moving_bytes, numbered_bytes) = (
        scalar(&client, &state("moving_average")).await,
        scalar(&client, &state("numbered")).await,
    );
    println!(
        "\n{events} bids in {seconds:.1} s ({:.0} bids/s through both views); moving_average \
         emitted {emitted} rows, numbered {numbered}",
        events as f64 / seconds
    );
    // The last second of event time is not closed by the watermark yet.
    assert!(
        emitted > events * 9 / 10 && numbered > events * 9 / 10,
        "most bids are emitted"
    );
    assert!(
        moving_bytes * 4 < numbered_bytes,
        "the moving average keeps a fraction of the rows: {moving_bytes} bytes vs {numbered_bytes}"
    );
}
