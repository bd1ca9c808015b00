//! Does a windowed view's state stay flat over an unbounded stream?
//!
//! Runs N Nexmark bids (default 30,000,000) from the generator source through two
//! views of the same windowed aggregate — bids per auction per 10-second tumbling
//! window — one `EMIT ON WINDOW CLOSE` (closed windows are forgotten) and one
//! continuous (every window is kept), and prints, at intervals, the events the source
//! readers have delivered, each view's operator state (measured by the view at most
//! once a second, so it trails the delivered count a little) and the process's resident
//! memory; the last line is exact, after a `FLUSH`. The closed-window view's
//! operator state should stay flat; the continuous one grows with the windows seen.
//!
//! Run with `./scripts/bench.sh --bench window_state` (see docs/benchmarks.md); without
//! `--bench` (as `cargo test --all-targets` runs it) it makes a quick smoke run of
//! 200,000 events. `SLUICE_BENCH_EVENTS` sets N.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

const VIEWS: [&str; 2] = ["closed_windows", "all_windows"];

async fn start() -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sluice::Database::open(dir.path())
        .await
        .expect("open database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(sluice::server::serve(listener, db));
    let url = format!(
        "host={} port={} user=bench dbname=sluice",
        addr.ip(),
        addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    (client, dir)
}

/// Resident memory of this process, in MiB (from /proc).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn scalar(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let events: i64 = std::env::var("SLUICE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 30_000_000 } else { 200_000 });
    let (client, _dir) = start().await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP,
                                WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                     nexmark.event.num = {events}, nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW closed_windows AS
               SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top
               FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
               GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;
             CREATE MATERIALIZED VIEW all_windows AS
               SELECT auction, window_start, window_end, count(*) AS bids, max(price) AS top
               FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
               GROUP BY auction, window_start, window_end;"
        ))
        .await
        .expect("create views");

    println!("window_state: {events} nexmark bids, 10 s tumbling windows per auction\n");
    println!(
        "| elapsed | events read | EOWC operator state | continuous operator state | ratio | RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let start = Instant::now();
    let interval = if full {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    let mut done = false;
    while !done {
        tokio::time::sleep(interval).await;
        let read = scalar(
            &client,
            "SELECT min(rows_read) FROM sluice_catalog.source_status",
        )
        .await;
        if read >= events {
            // Everything is delivered: wait until the views have processed it, for a
            // last, exact measurement (FLUSH refreshes the state sizes).
            client.batch_execute("FLUSH").await.expect("flush");
            done = true;
        }
        let mut bytes = Vec::new();
        for view in VIEWS {
            let sql = format!(
                "SELECT operator_bytes FROM sluice_catalog.view_status WHERE name = '{view}'"
            );
            bytes.push(scalar(&client, &sql).await);
        }
        println!(
            "| {:.0} s | {read} | {:.1} MiB | {:.1} MiB | {:.3} | {:.0} MiB |",
            start.elapsed().as_secs_f64(),
            bytes[0] as f64 / 1048576.0,
            bytes[1] as f64 / 1048576.0,
            bytes[0] as f64 / bytes[1].max(1) as f64,
            rss_mib()
        );
    }
    let windows = scalar(&client, "SELECT count(*) FROM closed_windows").await;
    let late = scalar(
        &client,
        "SELECT late_rows FROM sluice_catalog.view_status WHERE name = 'closed_windows'",
    )
    .await;
    println!(
        "\nclosed_windows: {windows} (auction, window) rows emitted, {late} late rows dropped"
    );
}
