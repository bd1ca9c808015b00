//! Per-model counters, read by `sluice_catalog.model_stats`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many of the latest batches `recent` latency averages over.
const RECENT: usize = 100;

/// Counters of one model version: rows predicted, batches (one per `PREDICT`
/// evaluation over a batch of rows), ONNX Runtime calls (one per chunk), and time.
#[derive(Debug, Default)]
pub struct ModelStats {
    rows: AtomicU64,
    batches: AtomicU64,
    calls: AtomicU64,
    total_nanos: AtomicU64,
    recent: Mutex<VecDeque<Duration>>,
}

/// A consistent-enough copy of [`ModelStats`] for display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSnapshot {
    /// Rows predicted.
    pub rows: u64,
    /// Batches of rows predicted (`PREDICT` evaluations).
    pub batches: u64,
    /// ONNX Runtime calls.
    pub calls: u64,
    /// Total time in milliseconds.
    pub total_ms: f64,
    /// Mean time per batch over the latest batches, in milliseconds.
    pub recent_ms: Option<f64>,
}

impl ModelStats {
    /// Records one batch of `rows` rows that took `calls` calls and `elapsed`.
    pub fn record(&self, rows: usize, calls: usize, elapsed: Duration) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.calls.fetch_add(calls as u64, Ordering::Relaxed);
        self.total_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(elapsed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let recent_ms = (!recent.is_empty()).then(|| {
            recent.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / recent.len() as f64
        });
        StatsSnapshot {
            rows: self.rows.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            total_ms: self.total_nanos.load(Ordering::Relaxed) as f64 / 1e6,
            recent_ms,
        }
    }
}
