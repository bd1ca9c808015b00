//! Does an interval join's state stay flat over an unbounded stream?
//!
//! Runs N Nexmark bids (default 30,000,000) and the auctions of the same event time
//! from the generator sources through two
//! views of the same interval join — each bid placed within 10 seconds of its
//! auction's creation, `B.auction = A.id AND B.date_time BETWEEN A.date_time AND
//! A.date_time + INTERVAL '10' SECOND`: one over sources with a `WATERMARK` (the join
//! forgets bids once the watermark passes them and auctions 10 seconds later), and,
//! the baseline, one over the same events from sources without a watermark (every
//! bid and auction is kept). It prints, at intervals, the events delivered, each
//! view's operator state and the process's resident memory; the last line is exact,
//! after a `FLUSH`, and the two views must then hold the same rows.
//!
//! Run with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh --bench join_state` for the
//! 30,000,000 events (see docs/benchmarks.md); without `SLUICE_BENCH_FULL=1` (the
//! suite's quick mode) it runs 5,000,000, and without `--bench` (as `cargo test
//! --all-targets` runs it) a smoke run of 200,000. `SLUICE_BENCH_EVENTS` sets N.

// The tests' harness: an in-process server over a temporary data directory.
#[path = "../tests/common/mod.rs"]
mod common;
mod state_growth;

use state_growth::{mib, rss_mib, scalar};

const VIEWS: [&str; 2] = ["early_bids", "early_bids_kept"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (full, events) = state_growth::events_to_run();
    let server = common::TestServer::start().await;
    let client = server.client().await;
    // The generator makes 3 auctions per 46 bids: as many auctions as span the bids'
    // event time.
    let source = |name: &str, kind: &str, columns: &str, watermark: &str| {
        let rows = if kind == "bid" {
            events
        } else {
            events * 3 / 46
        };
        format!(
            "CREATE SOURCE {name} ({columns}{watermark})
               WITH (connector = 'nexmark', nexmark.table.type = '{kind}',
                     nexmark.event.num = {rows}, nexmark.events.per.second = 0);"
        )
    };
    let watermark = ", WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND";
    let bid = "auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP";
    let auction = "id BIGINT, seller BIGINT, date_time TIMESTAMP";
    let early_bids = |bids: &str, auctions: &str| {
        format!(
            "SELECT B.auction, B.bidder, B.price, B.date_time, A.seller
             FROM {bids} B JOIN {auctions} A
               ON B.auction = A.id
              AND B.date_time BETWEEN A.date_time AND A.date_time + INTERVAL '10' SECOND"
        )
    };
    client
        .batch_execute(&format!(
            "{}{}{}{}
             CREATE MATERIALIZED VIEW early_bids AS {};
             CREATE MATERIALIZED VIEW early_bids_kept AS {};",
            source("bid", "bid", bid, watermark),
            source("auction", "auction", auction, watermark),
            source("bid_kept", "bid", bid, ""),
            source("auction_kept", "auction", auction, ""),
            early_bids("bid", "auction"),
            early_bids("bid_kept", "auction_kept"),
        ))
        .await
        .expect("create views");

    println!(
        "join_state: {events} nexmark bids and their auctions, an interval join with and without watermarks\n"
    );
    println!(
        "| elapsed | events read | with watermarks | without (baseline) | with / baseline | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    state_growth::sample_until_read(&client, events, full, &VIEWS, |elapsed, read, bytes| {
        println!(
            "| {:.0} s | {read} | {:.1} MiB | {:.1} MiB | {:.4} | {:.0} MiB |",
            elapsed,
            mib(bytes[0]),
            mib(bytes[1]),
            bytes[0] as f64 / bytes[1].max(1) as f64,
            rss_mib()
        );
    })
    .await;
    let differ = scalar(
        &client,
        "SELECT count(*) FROM ((SELECT * FROM early_bids EXCEPT ALL SELECT * FROM early_bids_kept)
           UNION ALL (SELECT * FROM early_bids_kept EXCEPT ALL SELECT * FROM early_bids)) d",
    )
    .await;
    let rows = scalar(&client, "SELECT count(*) FROM early_bids").await;
    let late = scalar(
        &client,
        "SELECT late_rows FROM sluice_catalog.view_status WHERE name = 'early_bids'",
    )
    .await;
    println!(
        "\nearly_bids holds {rows} rows, {differ} differ from the baseline's; {late} rows were late"
    );
    assert!(rows > 0, "the join has rows");
    assert_eq!(
        (differ, late),
        (0, 0),
        "no row is late, and both views agree"
    );
}
