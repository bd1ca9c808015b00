//! Freshness of a view over a table: how long after an `INSERT` is sent its rows are
//! visible in the view's `SELECT`.
//!
//! A writer inserts rows at a fixed rate, a statement every 10 ms, each row stamped
//! with the statement's send time (µs since the epoch); the view keeps the largest
//! stamp (`max(sent)`); a second client polls it as fast as it answers. A statement's
//! rows are visible at the first poll reply whose largest stamp is at least theirs;
//! its latency is that reply's arrival minus its send time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::Client;

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Latencies of one rate, in milliseconds, sorted; and statements never seen.
pub struct Freshness {
    pub latencies: Vec<f64>,
    pub not_visible: usize,
}

impl Freshness {
    /// The `p`-th percentile (0..=100).
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[i]
    }
}

/// Inserts `rate` rows per second for `duration` into a fresh table read by a view on
/// `workers` workers, and measures each statement's freshness.
pub async fn measure(
    writer: &Client,
    poller: Client,
    rate: u64,
    duration: Duration,
    workers: usize,
) -> Freshness {
    writer
        .batch_execute(&format!(
            "CREATE TABLE fresh (id BIGINT, sent BIGINT);
             CREATE MATERIALIZED VIEW fresh_latest WITH (workers = {workers}) AS
                 SELECT max(sent) AS latest, count(*) AS n FROM fresh"
        ))
        .await
        .expect("freshness schema");
    let stop = Arc::new(AtomicBool::new(false));
    let polls = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut replies: Vec<(i64, i64)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let row = poller
                    .query_one("SELECT coalesce(latest, 0) FROM fresh_latest", &[])
                    .await
                    .expect("poll");
                replies.push((now_us(), row.get(0)));
            }
            replies
        }
    });
    let per_statement = (rate / 100).max(1) as i64;
    let mut sent = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    let start = std::time::Instant::now();
    let mut next_id = 0;
    while start.elapsed() < duration {
        ticks.tick().await;
        let stamp = now_us();
        writer
            .batch_execute(&format!(
                "INSERT INTO fresh SELECT i, {stamp} FROM generate_series({next_id}, {}) AS s(i)",
                next_id + per_statement - 1
            ))
            .await
            .expect("insert");
        next_id += per_statement;
        sent.push(stamp);
    }
    // Time for the last statements to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let replies = polls.await.expect("poller");
    let mut latencies = Vec::with_capacity(sent.len());
    let mut not_visible = 0;
    let mut reply = 0;
    for stamp in sent {
        // Stamps and replies both only grow: one pass.
        while reply < replies.len() && replies[reply].1 < stamp {
            reply += 1;
        }
        match replies.get(reply) {
            Some((at, _)) => latencies.push((at - stamp) as f64 / 1000.0),
            None => not_visible += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    writer
        .batch_execute("DROP MATERIALIZED VIEW fresh_latest; DROP TABLE fresh")
        .await
        .expect("drop freshness schema");
    Freshness {
        latencies,
        not_visible,
    }
}
