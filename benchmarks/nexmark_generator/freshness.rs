//! Freshness: how long after a row enters Sluice it is visible in a view's `SELECT`.
//!
//! Over a table ([`measure`]): a writer inserts rows at a fixed rate, a statement
//! every 10 ms, each row stamped with the statement's send time (µs since the epoch).
//! Over a generator ([`measure_generator`]): a `datagen` source paced at the rate
//! (about 100 batches a second), each batch stamped by its `PROCTIME()` column with
//! the time its reader hands it to the view (the generator makes the batch just
//! before). Either way the view keeps the largest stamp, a second client polls it as
//! fast as it answers, and a stamp's rows are visible at the first poll reply whose
//! largest stamp is at least theirs: the latency is that reply's arrival minus the
//! stamp.

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
    let polls = poll(
        poller,
        "SELECT coalesce(latest, 0) FROM fresh_latest",
        stop.clone(),
    );
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
    writer
        .batch_execute("DROP MATERIALIZED VIEW fresh_latest; DROP TABLE fresh")
        .await
        .expect("drop freshness schema");
    freshness(&sent, &replies)
}

/// A `datagen` source paced at `rate` rows per second for `duration`, read by a view on
/// `workers` workers: the freshness of each batch it generated (see the module docs).
pub async fn measure_generator(
    client: &Client,
    poller: Client,
    rate: u64,
    duration: Duration,
    workers: usize,
) -> Freshness {
    client
        .batch_execute(&format!(
            "CREATE SOURCE fresh_gen (id BIGINT, at TIMESTAMPTZ AS PROCTIME())
                 WITH (connector = 'datagen', datagen.rows.per.second = {rate},
                       fields.id.kind = 'sequence');
             CREATE MATERIALIZED VIEW fresh_gen_latest WITH (workers = {workers}) AS
                 SELECT max(at) AS latest, count(*) AS n FROM fresh_gen"
        ))
        .await
        .expect("generator freshness schema");
    let stop = Arc::new(AtomicBool::new(false));
    let sql =
        "SELECT coalesce((extract(epoch FROM latest) * 1000000)::BIGINT, 0) FROM fresh_gen_latest";
    let polls = poll(poller, sql, stop.clone());
    tokio::time::sleep(duration).await;
    // Every stamp the view ever showed is a batch the reader delivered; the stamps of
    // batches that the polls skipped over are not known, so the samples are the
    // distinct stamps seen, each at the first reply showing it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let replies = polls.await.expect("poller");
    client
        .batch_execute("DROP SOURCE fresh_gen CASCADE")
        .await
        .expect("drop generator freshness schema");
    let mut stamps: Vec<i64> = replies
        .iter()
        .map(|(_, stamp)| *stamp)
        .filter(|s| *s > 0)
        .collect();
    stamps.dedup();
    freshness(&stamps, &replies)
}

/// Polls `sql` (one BIGINT stamp) until `stop`: (arrival µs, stamp) per reply.
fn poll(
    poller: Client,
    sql: &'static str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(i64, i64)>> {
    tokio::spawn(async move {
        let mut replies: Vec<(i64, i64)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let row = poller.query_one(sql, &[]).await.expect("poll");
            replies.push((now_us(), row.get(0)));
        }
        replies
    })
}

/// Each stamp's latency: the first reply showing it (or a later stamp) minus it.
fn freshness(stamps: &[i64], replies: &[(i64, i64)]) -> Freshness {
    let mut latencies = Vec::with_capacity(stamps.len());
    let mut not_visible = 0;
    let mut reply = 0;
    for &stamp in stamps {
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
    Freshness {
        latencies,
        not_visible,
    }
}
