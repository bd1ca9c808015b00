//! Does a top-N view's state stay bounded over an unbounded stream?
//!
//! Runs N Nexmark bids (default 30,000,000) from the generator source through two
//! top-N views — the ten highest bids (`ORDER BY price DESC ... LIMIT 10`) and the
//! three highest bids of each auction (`row_number() OVER (PARTITION BY auction ...)
//! <= 3`) — and, the baseline, the same ten-highest query over a view of the bids:
//! a view's rows can be deleted, so its top-N must keep every row to refill from,
//! while a source only appends, so rows that fall out of a top-N can never return and
//! are dropped. It prints, at intervals, the events delivered, each view's operator
//! state and the process's resident memory; the last line is exact, after a `FLUSH`.
//! The ten-highest view over the source should stay flat; the per-auction one grows
//! with the auctions (three rows each), not the bids; the baseline with the bids.
//!
//! Run with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh --bench top_n_state` for the
//! 30,000,000 events (see docs/benchmarks.md); without `SLUICE_BENCH_FULL=1` (the
//! suite's quick mode) it runs 5,000,000, and without `--bench` (as `cargo test
//! --all-targets` runs it) a smoke run of 200,000. `SLUICE_BENCH_EVENTS` sets N.

// The tests' harness: an in-process server over a temporary data directory.
#[path = "../tests/common/mod.rs"]
mod common;
mod state_growth;

use state_growth::{mib, rss_mib, scalar};

const VIEWS: [&str; 3] = ["top_bids", "top_bids_per_auction", "top_bids_of_a_view"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (full, events) = state_growth::events_to_run();
    let server = common::TestServer::start().await;
    let client = server.client().await;
    let ten_highest = |input: &str| {
        format!(
            "SELECT auction, bidder, price, date_time FROM {input} ORDER BY price DESC, date_time, auction, bidder LIMIT 10"
        )
    };
    client
        .batch_execute(&format!(
            "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW top_bids AS {};
             CREATE MATERIALIZED VIEW top_bids_per_auction AS
               SELECT auction, bidder, price, rn FROM (
                 SELECT auction, bidder, price, row_number() OVER
                   (PARTITION BY auction ORDER BY price DESC, date_time, bidder) AS rn
                 FROM bid) ranked
               WHERE rn <= 3;
             CREATE MATERIALIZED VIEW bids AS SELECT auction, bidder, price, date_time FROM bid;
             CREATE MATERIALIZED VIEW top_bids_of_a_view AS {};",
            ten_highest("bid"),
            ten_highest("bids"),
        ))
        .await
        .expect("create views");

    println!("top_n_state: {events} nexmark bids, top-N views over the source and over a view\n");
    println!(
        "| elapsed | events read | top 10 (source) | top 3 per auction (source) | top 10 of a view (baseline) | top 10 / baseline | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    state_growth::sample_until_read(&client, events, full, &VIEWS, |elapsed, read, bytes| {
        println!(
            "| {:.0} s | {read} | {:.3} MiB | {:.1} MiB | {:.1} MiB | {:.5} | {:.0} MiB |",
            elapsed,
            mib(bytes[0]),
            mib(bytes[1]),
            mib(bytes[2]),
            bytes[0] as f64 / bytes[2].max(1) as f64,
            rss_mib()
        );
    })
    .await;
    let same = scalar(
        &client,
        "SELECT count(*) FROM (SELECT * FROM top_bids EXCEPT SELECT auction, bidder, price, date_time FROM top_bids_of_a_view) d",
    )
    .await;
    let rows = scalar(&client, "SELECT count(*) FROM top_bids_per_auction").await;
    println!(
        "\ntop_bids and top_bids_of_a_view differ in {same} rows; top_bids_per_auction holds {rows} rows"
    );
    assert_eq!(same, 0, "the two top-10 views agree");
}
