//! What the state benchmarks (`window_state`, `top_n_state`, `join_state`,
//! `temporal_state`, `over_window_state`) share: how many events
//! to run, and the measuring loop that samples each view's operator state and the
//! process's memory while a generator source delivers them.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// Whether this is a benchmark run (`--bench`, not `cargo test`'s smoke run), and
/// the events to run: `SLUICE_BENCH_EVENTS`, else 30,000,000 with
/// `SLUICE_BENCH_FULL=1`, 5,000,000 in the suite's quick mode and 200,000 for the
/// smoke run.
pub fn events_to_run() -> (bool, i64) {
    size_to_run("SLUICE_BENCH_EVENTS", [30_000_000, 5_000_000, 200_000])
}

/// Whether this is a benchmark run, and its size: the environment variable
/// `variable`, else `sizes` for the full mode (`SLUICE_BENCH_FULL=1`), the quick mode
/// and the smoke run.
pub fn size_to_run(variable: &str, [full_size, quick, smoke]: [i64; 3]) -> (bool, i64) {
    let full = std::env::args().any(|a| a == "--bench");
    let size = std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(
            match (full, std::env::var("SLUICE_BENCH_FULL").as_deref()) {
                (true, Ok("1")) => full_size,
                (true, _) => quick,
                (false, _) => smoke,
            },
        );
    (full, size)
}

/// Resident memory of this process, in MiB (from /proc).
pub fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One BIGINT, or -1 when the query fails.
pub async fn scalar(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

/// Samples, at intervals (5 s for a benchmark run, 0.5 s for the smoke run), the
/// rows the busiest source reader has delivered and the operator state of each of
/// `views` (bytes), handing them to `row` with the elapsed seconds; the last sample
/// comes after every reader has delivered its last row (at least `events`) and a
/// `FLUSH`, so it is exact.
pub async fn sample_until_read(
    client: &Client,
    events: i64,
    full: bool,
    views: &[&str],
    mut row: impl FnMut(f64, i64, &[i64]),
) {
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
            client,
            "SELECT max(rows_read) FROM sluice_catalog.source_status",
        )
        .await;
        let reading = scalar(
            client,
            "SELECT count(*) FROM sluice_catalog.source_status WHERE state <> 'finished'",
        )
        .await;
        if read >= events && reading == 0 {
            // Everything is delivered: wait until the views have processed it, for a
            // last, exact measurement (FLUSH refreshes the state sizes).
            client.batch_execute("FLUSH").await.expect("flush");
            done = true;
        }
        let mut bytes = Vec::new();
        for view in views {
            let sql = format!(
                "SELECT operator_bytes FROM sluice_catalog.view_status WHERE name = '{view}'"
            );
            bytes.push(scalar(client, &sql).await);
        }
        row(start.elapsed().as_secs_f64(), read, &bytes);
    }
}

/// `bytes` in MiB.
pub fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1048576.0
}
