//! [`ReaderStatus`]: what one source reader reports — state, counts, the recent
//! undecodable messages, and per-partition offsets, lag and watermarks — read by the
//! `sluice_catalog.source_*` system relations.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How many undecodable messages are kept per reader.
const RECENT_ERRORS: usize = 100;
/// How many bytes of an undecodable message are kept.
const PAYLOAD_PREFIX: usize = 200;

/// One message that could not be decoded.
#[derive(Debug, Clone)]
pub struct SourceError {
    /// Partition it came from (0 for generators).
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Why it was skipped.
    pub reason: String,
    /// The start of its payload, lossily as text.
    pub payload: String,
    /// When it was seen.
    pub at: SystemTime,
}

/// Per-partition progress.
#[derive(Debug, Clone)]
pub struct PartitionStatus {
    /// The next offset Sluice will read (-1: not known yet, e.g. reading from the end).
    pub next_offset: i64,
    /// The partition's end offset as last reported by the broker (-1: unknown).
    pub high_watermark: i64,
    /// Largest event time seen (µs since the epoch), for the watermark.
    pub max_event_time: Option<i64>,
    /// When the last message arrived.
    pub last_message: Option<Instant>,
}

impl Default for PartitionStatus {
    fn default() -> Self {
        PartitionStatus {
            next_offset: -1,
            high_watermark: -1,
            max_event_time: None,
            last_message: None,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    state: String,
    rows: u64,
    errors: u64,
    recent: VecDeque<SourceError>,
    partitions: BTreeMap<i32, PartitionStatus>,
    watermark: Option<i64>,
}

/// The status of one reader (one per view reading the source).
#[derive(Debug)]
pub struct ReaderStatus {
    /// The source's name.
    pub source: String,
    /// The view this reader feeds.
    pub reader: String,
    /// Watermark delay (µs) applied to event times; `None` when the source declares none.
    pub watermark_delay: Option<i64>,
    /// A partition silent for longer than this no longer holds back the watermark.
    pub idle_timeout: Duration,
    inner: Mutex<Inner>,
}

/// A snapshot of a reader for the system relations.
#[derive(Debug, Clone)]
pub struct StatusSnapshot {
    /// `running`, `retrying: <why>`, `finished`, ...
    pub state: String,
    /// Rows delivered.
    pub rows: u64,
    /// Messages skipped.
    pub errors: u64,
    /// The recent skipped messages.
    pub recent: Vec<SourceError>,
    /// Partitions and their progress.
    pub partitions: BTreeMap<i32, PartitionStatus>,
    /// The source watermark (µs), if any.
    pub watermark: Option<i64>,
}

impl ReaderStatus {
    /// A reader of `source` feeding `reader`.
    pub fn new(
        source: &str,
        reader: &str,
        watermark_delay: Option<i64>,
        idle_timeout: Duration,
    ) -> Self {
        ReaderStatus {
            source: source.to_string(),
            reader: reader.to_string(),
            watermark_delay,
            idle_timeout,
            inner: Mutex::new(Inner {
                state: "starting".into(),
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the reader's state line.
    pub fn set_state(&self, state: impl Into<String>) {
        self.lock().state = state.into();
    }

    /// Records delivered rows.
    pub fn add_rows(&self, rows: u64) {
        self.lock().rows += rows;
    }

    /// Records a skipped message.
    pub fn record_error(&self, partition: i32, offset: i64, reason: String, payload: &[u8]) {
        let mut inner = self.lock();
        inner.errors += 1;
        if inner.recent.len() == RECENT_ERRORS {
            inner.recent.pop_front();
        }
        let prefix = &payload[..payload.len().min(PAYLOAD_PREFIX)];
        inner.recent.push_back(SourceError {
            partition,
            offset,
            reason,
            payload: String::from_utf8_lossy(prefix).into_owned(),
            at: SystemTime::now(),
        });
    }

    /// Updates a partition's progress: the next offset to read, and optionally the
    /// largest event time among the rows just read.
    pub fn advance(&self, partition: i32, next_offset: i64, max_event_time: Option<i64>) {
        let mut inner = self.lock();
        let status = inner.partitions.entry(partition).or_default();
        status.next_offset = status.next_offset.max(next_offset);
        status.last_message = Some(Instant::now());
        if let Some(t) = max_event_time {
            status.max_event_time = Some(status.max_event_time.map_or(t, |m| m.max(t)));
        }
    }

    /// Records the broker's end offset for a partition.
    pub fn set_high_watermark(&self, partition: i32, high_watermark: i64) {
        self.lock()
            .partitions
            .entry(partition)
            .or_default()
            .high_watermark = high_watermark;
    }

    /// Makes a partition known before any message arrives from it; `next_offset` is
    /// -1 when it is not known yet.
    pub fn add_partition(&self, partition: i32, next_offset: i64) {
        let mut inner = self.lock();
        inner.partitions.entry(partition).or_default().next_offset = next_offset;
    }

    /// The current snapshot, with the watermark computed by the rule: per partition,
    /// the largest event time seen minus the declared delay; the source's watermark
    /// is the minimum over partitions that have delivered a message within the idle
    /// timeout (idle partitions do not hold it back). It never moves backwards: when
    /// every partition is idle, or a revived partition is behind, it stays where it
    /// was. `None` until some active partition has seen an event.
    pub fn snapshot(&self) -> StatusSnapshot {
        let mut inner = self.lock();
        let current = self.watermark_delay.and_then(|delay| {
            let now = Instant::now();
            inner
                .partitions
                .values()
                .filter(|p| {
                    p.last_message
                        .is_some_and(|t| now.duration_since(t) <= self.idle_timeout)
                })
                .filter_map(|p| p.max_event_time)
                .min()
                .map(|t| t - delay)
        });
        let watermark = match (inner.watermark, current) {
            (Some(before), Some(now)) => Some(before.max(now)),
            (before, now) => before.or(now),
        };
        inner.watermark = watermark;
        StatusSnapshot {
            state: inner.state.clone(),
            rows: inner.rows,
            errors: inner.errors,
            recent: inner.recent.iter().cloned().collect(),
            partitions: inner.partitions.clone(),
            watermark,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_is_the_minimum_over_active_partitions_minus_the_delay() {
        let status = ReaderStatus::new("s", "v", Some(5), Duration::from_millis(200));
        status.advance(0, 1, Some(100));
        status.advance(1, 1, Some(40));
        status.advance(0, 2, Some(90)); // out of order: max stays 100
        assert_eq!(status.snapshot().watermark, Some(35));
        std::thread::sleep(Duration::from_millis(250));
        // Every partition idle: the watermark stays.
        assert_eq!(status.snapshot().watermark, Some(35));
        status.advance(0, 3, Some(120));
        // Partition 1 has been idle past the timeout: it no longer holds the watermark.
        assert_eq!(status.snapshot().watermark, Some(115));
        // Partition 1 comes back behind: the watermark does not move backwards.
        status.advance(1, 2, Some(50));
        assert_eq!(status.snapshot().watermark, Some(115));
    }

    #[test]
    fn errors_are_counted_and_the_recent_ones_kept() {
        let status = ReaderStatus::new("s", "v", None, Duration::from_secs(1));
        for i in 0..150 {
            status.record_error(0, i, "bad".into(), b"{not json");
        }
        let snapshot = status.snapshot();
        assert_eq!(snapshot.errors, 150);
        assert_eq!(snapshot.recent.len(), RECENT_ERRORS);
        assert_eq!(snapshot.recent[0].offset, 50);
        assert_eq!(snapshot.watermark, None);
    }
}
