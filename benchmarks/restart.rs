//! How long a restart takes, with checkpoints and without, as history grows; and
//! what checkpoints cost while events stream in.
//!
//! For each history size N (a small one and ten times it), two in-process servers
//! over fresh data directories read N Nexmark bids from the generator source (as
//! fast as it produces them) into two views — bids and top price per auction, and
//! bids per 10-second tumbling window — one server checkpointing every second, the
//! baseline with checkpoints off. Measured:
//!
//! - ingest: events per second until the views hold all N (checkpoints on vs off:
//!   the ratio should be ≥ 0.9);
//! - checkpoint bytes per second and per event while ingesting;
//! - restart: each server is stopped and started again over its directory; the time
//!   from the start until the views hold all N again. With checkpoints the views
//!   load their state and the generator resumes after its N events; without, they
//!   are rebuilt by reading all N again. With checkpoints the time should be about
//!   equal at both sizes (printed as a ratio), without it grows with N. What still
//!   grows is loading the state, which these views keep per auction and per window
//!   (the view state column): it grows with the auctions and windows seen.
//!
//! Sizes: 1,000,000 and 10,000,000 with `SLUICE_BENCH_FULL=1 ./scripts/bench.sh
//! --bench restart`, 200,000 and 2,000,000 in the suite's quick mode, and a smoke run
//! of 20,000 and 200,000 without `--bench` (as `cargo test --all-targets` runs it).
//! `SLUICE_BENCH_EVENTS` sets the small size.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::Database;
use sluice::database::Options;
use tokio_postgres::Client;

// The tests' harness: its client.
#[path = "../tests/common/mod.rs"]
mod common;

/// One in-process server.
struct Server {
    db: Arc<Database>,
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

async fn start(dir: &Path, checkpoint_interval: Duration) -> Server {
    let deadline = Instant::now() + Duration::from_secs(30);
    let db = loop {
        // The previous server over `dir` may still be winding down.
        match Database::open_with(
            dir,
            Options {
                checkpoint_interval: Some(checkpoint_interval),
                ..Default::default()
            },
        )
        .await
        {
            Ok(db) => break db,
            Err(e) if e.sqlstate() == "55006" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("open: {e}"),
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let task = tokio::spawn({
        let db = db.clone();
        async move {
            let _ = sluice::server::serve(listener, db).await;
        }
    });
    let client = common::connect(addr).await;
    Server { db, client, task }
}

impl Server {
    async fn stop(self) {
        drop(self.client);
        self.task.abort();
        let _ = self.task.await;
        drop(self.db);
    }
}

async fn scalar(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .map(|r| r.get::<_, Option<i64>>(0).unwrap_or(0))
        .unwrap_or(-1)
}

/// Waits until both views hold all `events` bids.
async fn caught_up(client: &Client, events: i64) {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let by_auction = scalar(client, "SELECT sum(bids)::BIGINT FROM by_auction").await;
        let by_window = scalar(client, "SELECT sum(bids)::BIGINT FROM by_window").await;
        if by_auction == events && by_window == events {
            return;
        }
        assert!(Instant::now() < deadline, "views never caught up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What one history size measured, with checkpoints (`on`) or without.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    ingest: Duration,
    restart: Duration,
    checkpoint_bytes: i64,
    state_bytes: i64,
}

async fn run(events: i64, checkpoints: bool) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let interval = if checkpoints {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let server = start(dir.path(), interval).await;
    let started = Instant::now();
    server
        .client
        .batch_execute(&format!(
            "CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP) \
               WITH (connector = 'nexmark', nexmark.table.type = 'bid', \
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW by_auction AS
               SELECT auction, count(*) AS bids, max(price) AS top FROM bid GROUP BY auction;
             CREATE MATERIALIZED VIEW by_window AS
               SELECT window_start, count(*) AS bids
               FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY window_start;"
        ))
        .await
        .expect("create");
    caught_up(&server.client, events).await;
    let ingest = started.elapsed();
    let state_bytes = scalar(
        &server.client,
        "SELECT sum(operator_bytes + result_bytes)::BIGINT FROM sluice_catalog.view_status",
    )
    .await;
    let mut checkpoint_bytes = 0;
    if checkpoints {
        // A checkpoint that holds everything: one that starts after the catch-up.
        let taken = scalar(
            &server.client,
            "SELECT checkpoints_taken FROM sluice_catalog.checkpoint_status",
        )
        .await;
        while scalar(
            &server.client,
            "SELECT checkpoints_taken FROM sluice_catalog.checkpoint_status",
        )
        .await
            < taken + 2
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        checkpoint_bytes = scalar(
            &server.client,
            "SELECT bytes_written FROM sluice_catalog.checkpoint_status",
        )
        .await;
    }
    server.stop().await;

    let started = Instant::now();
    let server = start(dir.path(), interval).await;
    caught_up(&server.client, events).await;
    let restart = started.elapsed();
    server.stop().await;
    Run {
        ingest,
        restart,
        checkpoint_bytes,
        state_bytes,
    }
}

fn rate(events: i64, time: Duration) -> String {
    format!("{:.0}k", events as f64 / time.as_secs_f64() / 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let small: i64 = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(
            match (bench, std::env::var("SLUICE_BENCH_FULL").as_deref()) {
                (true, Ok("1")) => 1_000_000,
                (true, _) => 200_000,
                (false, _) => 20_000,
            },
        );
    println!("\n#### Restart and checkpoints (`restart`)\n");
    println!(
        "Nexmark bids from the generator into two views (per auction; per 10-second \
         window). Checkpoints every 1 s vs off (the baseline), each over a fresh data \
         directory; restart = stop, start again, until the views hold every event.\n"
    );
    println!(
        "| history (events) | view state (MiB) | ingest, off (ev/s) | ingest, on (ev/s) | on ÷ off | checkpoint MiB written | bytes per event | restart, on | restart, off (rebuild) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut restarts = Vec::new();
    for events in [small, small * 10] {
        let off = run(events, false).await;
        let on = run(events, true).await;
        let ingest_seconds = on.ingest.as_secs_f64();
        println!(
            "| {events} | {:.1} | {} | {} | {:.2} | {:.1} ({:.1} MiB/s) | {:.1} | {:.2} s | {:.2} s |",
            on.state_bytes as f64 / (1 << 20) as f64,
            rate(events, off.ingest),
            rate(events, on.ingest),
            off.ingest.as_secs_f64() / ingest_seconds,
            on.checkpoint_bytes as f64 / (1 << 20) as f64,
            on.checkpoint_bytes as f64 / (1 << 20) as f64 / ingest_seconds,
            on.checkpoint_bytes as f64 / events as f64,
            on.restart.as_secs_f64(),
            off.restart.as_secs_f64(),
        );
        restarts.push((on.restart, off.restart));
    }
    let ratio = |time: fn(&(Duration, Duration)) -> Duration| {
        time(&restarts[1]).as_secs_f64() / time(&restarts[0]).as_secs_f64().max(1e-9)
    };
    println!(
        "\nRestart time with 10× the history ÷ with 1×: **{:.2}** with checkpoints \
         (goal: about 1), {:.2} without.",
        ratio(|r| r.0),
        ratio(|r| r.1),
    );
}
