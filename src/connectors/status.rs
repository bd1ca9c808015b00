//! [`ReaderStatus`]: what one source reader reports — state, counts, the recent
//! undecodable messages, per-partition offsets, lag and watermarks, and the source
//! watermark (by the rule in [`super::watermark`]) — read by the
//! `sluice_catalog.source_*` system relations (through [`super::feeds`], which adds
//! what each view was sent) and by the reader itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::watermark::{PartitionStatus, source_watermark};

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

#[derive(Debug, Default)]
struct Inner {
    state: String,
    rows: u64,
    errors: u64,
    recent: VecDeque<SourceError>,
    partitions: BTreeMap<i32, PartitionStatus>,
    watermark: Option<i64>,
}

/// The status of one reader of a source (see [`super::feeds`]).
#[derive(Debug)]
pub struct ReaderStatus {
    /// The source's name.
    pub source: String,
    /// Whether the source declares a `WATERMARK` (event times are then the values of
    /// its expression).
    pub has_watermark: bool,
    /// A partition silent this long with nothing left to read no longer holds back the
    /// watermark.
    pub idle_timeout: Duration,
    inner: Mutex<Inner>,
}

/// A snapshot of a reader for the system relations.
#[derive(Debug, Clone)]
pub struct StatusSnapshot {
    /// `running`, `retrying: <why>`, `finished`, ...
    pub state: String,
    /// Rows read.
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
    /// A reader of `source`.
    pub fn new(source: &str, has_watermark: bool, idle_timeout: Duration) -> Self {
        ReaderStatus {
            source: source.to_string(),
            has_watermark,
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

    /// Records rows read.
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
        let status = inner
            .partitions
            .entry(partition)
            .or_insert_with(|| PartitionStatus::assigned(-1));
        status.next_offset = status.next_offset.max(next_offset);
        status.active_at = Instant::now();
        if let Some(t) = max_event_time {
            status.max_event_time = Some(status.max_event_time.map_or(t, |m| m.max(t)));
        }
    }

    /// Records what the Kafka client last learnt about an assigned partition (negative
    /// values are unknown and change nothing): the broker's end and start offsets, and
    /// the client's position (past the last message handed to the reader, and past
    /// transaction markers, which are never handed over).
    pub fn set_broker_offsets(&self, partition: i32, high: i64, low: i64, position: i64) {
        let mut inner = self.lock();
        let Some(status) = inner.partitions.get_mut(&partition) else {
            return;
        };
        if high >= 0 {
            status.high_watermark = high;
        }
        if low >= 0 {
            status.low_watermark = low;
        }
        status.next_offset = status.next_offset.max(position);
    }

    /// Makes a partition known (assigned now) before any message arrives from it;
    /// `next_offset` is -1 when it is not known yet.
    pub fn add_partition(&self, partition: i32, next_offset: i64) {
        self.lock()
            .partitions
            .insert(partition, PartitionStatus::assigned(next_offset));
    }

    /// The source watermark, brought up to date by the rule ([`source_watermark`]).
    /// `None` without a `WATERMARK`, and until every partition has delivered an event
    /// or become idle.
    pub fn watermark(&self) -> Option<i64> {
        self.update_watermark(&mut self.lock())
    }

    fn update_watermark(&self, inner: &mut Inner) -> Option<i64> {
        if self.has_watermark {
            inner.watermark = source_watermark(
                inner.partitions.values(),
                Instant::now(),
                self.idle_timeout,
                inner.watermark,
            );
        }
        inner.watermark
    }

    /// The current snapshot, with the watermark brought up to date.
    pub fn snapshot(&self) -> StatusSnapshot {
        let mut inner = self.lock();
        let watermark = self.update_watermark(&mut inner);
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
    fn assigned_partitions_hold_the_watermark_until_they_deliver_or_are_idle() {
        let status = ReaderStatus::new("s", true, Duration::from_millis(200));
        for partition in 0..3 {
            status.add_partition(partition, 0);
        }
        // Partition 1 has a backlog, partition 2 is empty.
        status.set_broker_offsets(0, 2, 0, -1001);
        status.set_broker_offsets(1, 500, 0, -1001);
        status.set_broker_offsets(2, 0, 0, -1001);
        status.advance(0, 1, Some(100));
        status.advance(0, 2, Some(90)); // out of order: max stays 100
        assert_eq!(status.snapshot().watermark, None, "1 and 2 not delivered");
        std::thread::sleep(Duration::from_millis(250));
        // Partition 2 is idle now; partition 1 is silent too but has unread messages.
        assert_eq!(status.snapshot().watermark, None);
        status.advance(1, 1, Some(40));
        assert_eq!(status.snapshot().watermark, Some(40));
        assert_eq!(status.snapshot().partitions[&1].lag(), Some(499));
        // The client's position moves past a transaction marker: nothing left to read.
        status.set_broker_offsets(1, 500, 0, 500);
        assert_eq!(status.snapshot().partitions[&1].lag(), Some(0));
        std::thread::sleep(Duration::from_millis(250));
        status.advance(0, 3, Some(120));
        assert_eq!(status.snapshot().watermark, Some(120), "1 idle now");
        // Partition 1 comes back behind: the watermark does not move backwards.
        status.advance(1, 501, Some(50));
        assert_eq!(status.snapshot().watermark, Some(120));
    }

    #[test]
    fn errors_are_counted_and_the_recent_ones_kept() {
        let status = ReaderStatus::new("s", false, Duration::from_secs(1));
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
