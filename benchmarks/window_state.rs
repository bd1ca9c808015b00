//! Does a windowed view's state stay flat over an unbounded stream?
//!
//! Runs N Nexmark bids (default 30,000,000) from the generator source through three
//! views of the same windowed aggregate — bids per auction per 10-second tumbling
//! window: over a source with a `WATERMARK`, one `EMIT ON WINDOW CLOSE` and one
//! continuous (closed windows are forgotten by both), and, the baseline, one over the
//! same events from a source without a watermark (its windows never close, so every
//! window is kept). It prints, at intervals, the events the source readers have
//! delivered, each view's operator state (measured by the view at most once a second,
//! so it trails the delivered count a little) and the process's resident memory; the
//! last line is exact, after a `FLUSH`. The watermarked views' operator state should
//! stay flat; the baseline's grows with the windows seen.
//!
//! Run with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh --bench window_state` for the
//! 30,000,000 events (see docs/benchmarks.md); without `SLUICE_BENCH_FULL=1` (the
//! suite's quick mode) it runs 5,000,000, and without `--bench` (as `cargo test
//! --all-targets` runs it) a smoke run of 200,000. `SLUICE_BENCH_EVENTS` sets N.

// The tests' harness: an in-process server over a temporary data directory.
#[path = "../tests/common/mod.rs"]
mod common;
mod state_growth;

use state_growth::{mib, rss_mib, scalar};

const VIEWS: [&str; 3] = ["closed_windows", "continuous_windows", "all_windows"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (full, events) = state_growth::events_to_run();
    let server = common::TestServer::start().await;
    let client = server.client().await;
    let per_auction = |source: &str| {
        format!(
            "SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top
             FROM TUMBLE({source}, date_time, INTERVAL '10' SECOND)
             GROUP BY auction, window_start, window_end"
        )
    };
    client
        .batch_execute(&format!(
            "CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP,
                                WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE SOURCE bid_unwatermarked (auction BIGINT, price BIGINT, date_time TIMESTAMP)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW closed_windows AS {} EMIT ON WINDOW CLOSE;
             CREATE MATERIALIZED VIEW continuous_windows AS {};
             CREATE MATERIALIZED VIEW all_windows AS {};",
            per_auction("bid"),
            per_auction("bid"),
            per_auction("bid_unwatermarked"),
        ))
        .await
        .expect("create views");

    println!("window_state: {events} nexmark bids, 10 s tumbling windows per auction\n");
    println!(
        "| elapsed | events read | EOWC operator state | continuous operator state | no-watermark operator state (baseline) | EOWC / baseline | continuous / baseline | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    state_growth::sample_until_read(&client, events, full, &VIEWS, |elapsed, read, bytes| {
        let ratio = |b: i64| b as f64 / bytes[2].max(1) as f64;
        println!(
            "| {:.0} s | {read} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.3} | {:.3} | {:.0} MiB |",
            elapsed,
            mib(bytes[0]),
            mib(bytes[1]),
            mib(bytes[2]),
            ratio(bytes[0]),
            ratio(bytes[1]),
            rss_mib()
        );
    })
    .await;
    for view in VIEWS {
        let windows = scalar(&client, &format!("SELECT count(*) FROM {view}")).await;
        let late = scalar(
            &client,
            &format!("SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'"),
        )
        .await;
        println!("\n{view}: {windows} (auction, window) rows, {late} late rows dropped");
    }
}
