//! The source watermark rule: each assigned partition's [`PartitionStatus`] (read
//! position, the broker's offsets, largest event time, last activity) puts it in a
//! [`PartitionState`], and [`source_watermark`] combines the states into the reader's
//! watermark.
//!
//! ```text
//!   assigned ──first event time──▶ Delivering(t) ◀──── delivers again ────┐
//!      │                                 │                               │
//!      └── silent for the idle timeout ──┴──▶ Idle (no say) ─────────────┘
//!          AND nothing left to read
//! ```
//!
//! Why a partition holds the watermark back until it has delivered: the reader does not
//! fetch partitions in step, so over a backlog whichever partition is fetched first would
//! otherwise carry the watermark past the others' unread messages, and their rows
//! would all be late. Why lag matters: a partition with unread messages is behind, not
//! idle, however long it stays silent.

use std::time::{Duration, Instant};

/// One partition's progress as one reader sees it.
///
/// Offsets are Kafka offsets; a negative offset means "not known yet".
#[derive(Debug, Clone)]
pub struct PartitionStatus {
    /// The next offset the reader will read (-1: not known yet, e.g. reading from the
    /// end and nothing delivered).
    pub next_offset: i64,
    /// The partition's end offset (the offset its next message will get) as last
    /// reported by the broker (-1: unknown).
    pub high_watermark: i64,
    /// The first offset the broker still holds (-1: unknown): offsets below it were
    /// deleted and will never be read.
    pub low_watermark: i64,
    /// Largest value of the watermark expression among the rows read (µs since the
    /// epoch).
    pub max_event_time: Option<i64>,
    /// When the partition last delivered a message (a skipped one counts), or was
    /// assigned if it has not delivered yet: where its silence starts.
    pub active_at: Instant,
}

/// What a partition says about the source watermark at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionState {
    /// Has not delivered an event time yet and is not idle: the source watermark
    /// stays where it is.
    Pending,
    /// The source watermark is at most this value (its largest event time).
    Delivering(i64),
    /// Silent for the idle timeout with nothing left to read: it does not hold the
    /// watermark back.
    Idle,
}

impl PartitionStatus {
    /// A partition assigned now, to be read from `next_offset` (-1: not known).
    pub fn assigned(next_offset: i64) -> Self {
        PartitionStatus {
            next_offset,
            high_watermark: -1,
            low_watermark: -1,
            max_event_time: None,
            active_at: Instant::now(),
        }
    }

    /// Messages the broker holds that the reader has not read yet; `None` while the
    /// end offset or the read position is unknown.
    pub fn lag(&self) -> Option<i64> {
        if self.high_watermark < 0 || self.next_offset < 0 {
            return None;
        }
        let position = self.next_offset.max(self.low_watermark);
        Some((self.high_watermark - position).max(0))
    }

    /// True when the partition is known to have nothing left to read. A partition read
    /// from its end that has delivered nothing has nothing unread (it started at the
    /// end); otherwise the lag must be known and zero.
    fn caught_up(&self) -> bool {
        self.next_offset < 0 || self.lag() == Some(0)
    }

    /// The partition's state at `now`.
    pub fn state(&self, now: Instant, idle_timeout: Duration) -> PartitionState {
        let silent = now.saturating_duration_since(self.active_at) >= idle_timeout;
        if silent && self.caught_up() {
            return PartitionState::Idle;
        }
        match self.max_event_time {
            Some(t) => PartitionState::Delivering(t),
            None => PartitionState::Pending,
        }
    }
}

/// The source watermark after `previous`: the minimum over the delivering partitions
/// of their largest event time, ignoring idle ones. It stays at `previous` while any
/// partition is pending or every partition is idle, and never moves backwards.
pub fn source_watermark<'a>(
    partitions: impl IntoIterator<Item = &'a PartitionStatus>,
    now: Instant,
    idle_timeout: Duration,
    previous: Option<i64>,
) -> Option<i64> {
    let mut lowest: Option<i64> = None;
    for partition in partitions {
        match partition.state(now, idle_timeout) {
            PartitionState::Pending => return previous,
            PartitionState::Delivering(t) => lowest = Some(lowest.map_or(t, |m| m.min(t))),
            PartitionState::Idle => {}
        }
    }
    match (previous, lowest) {
        (Some(before), Some(now)) => Some(before.max(now)),
        (before, now) => before.or(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(5);

    /// A moment an hour ahead, so that `later() - silence` stays a valid `Instant`
    /// however recently the machine booted.
    fn later() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    /// A partition last active `silent_for` before `now`.
    fn partition(
        now: Instant,
        silent_for: Duration,
        next: i64,
        high: i64,
        max: Option<i64>,
    ) -> PartitionStatus {
        PartitionStatus {
            next_offset: next,
            high_watermark: high,
            low_watermark: -1,
            max_event_time: max,
            active_at: now - silent_for,
        }
    }

    #[test]
    fn a_partition_that_has_not_delivered_holds_the_watermark_until_idle() {
        let now = later();
        let fresh = partition(now, Duration::ZERO, 0, 0, None);
        assert_eq!(fresh.state(now, IDLE), PartitionState::Pending);
        let delivering = partition(now, Duration::ZERO, 10, 10, Some(100));
        let both = [fresh.clone(), delivering.clone()];
        assert_eq!(source_watermark(&both, now, IDLE, None), None);
        assert_eq!(source_watermark(&both, now, IDLE, Some(7)), Some(7));
        // Empty (end offset == start offset) and silent for the timeout: idle.
        let empty = partition(now, IDLE, 0, 0, None);
        assert_eq!(empty.state(now, IDLE), PartitionState::Idle);
        assert_eq!(
            source_watermark(&[empty, delivering], now, IDLE, None),
            Some(100)
        );
    }

    #[test]
    fn a_partition_with_unread_messages_is_never_idle() {
        let now = later();
        let long = Duration::from_secs(600);
        // Not delivered yet, with a backlog: pending however long it is silent.
        let backlog = partition(now, long, 0, 250_000, None);
        assert_eq!(backlog.lag(), Some(250_000));
        assert_eq!(backlog.state(now, IDLE), PartitionState::Pending);
        // Delivered part of its backlog and then went quiet: still delivering.
        let behind = partition(now, long, 10, 20, Some(40));
        assert_eq!(behind.state(now, IDLE), PartitionState::Delivering(40));
        let ahead = partition(now, Duration::ZERO, 5, 5, Some(900));
        assert_eq!(
            source_watermark(&[behind, ahead.clone()], now, IDLE, None),
            Some(40)
        );
        // The end offset not reported yet: not known to be caught up, so not idle.
        let unknown = partition(now, long, 0, -1, None);
        assert_eq!(unknown.lag(), None);
        assert_eq!(source_watermark(&[unknown, ahead], now, IDLE, None), None);
    }

    #[test]
    fn deleted_messages_and_a_start_at_the_end_are_not_a_backlog() {
        let now = later();
        // Retention deleted offsets 0..1000; the partition is empty from 1000 on.
        let mut truncated = partition(now, IDLE, 0, 1000, None);
        truncated.low_watermark = 1000;
        assert_eq!(truncated.lag(), Some(0));
        assert_eq!(truncated.state(now, IDLE), PartitionState::Idle);
        // Read from the end (`latest`) and nothing delivered yet.
        let at_end = partition(now, IDLE, -1, 500, None);
        assert_eq!(at_end.lag(), None);
        assert_eq!(at_end.state(now, IDLE), PartitionState::Idle);
    }

    #[test]
    fn the_watermark_is_the_minimum_over_delivering_partitions_and_never_moves_back() {
        let now = later();
        let p0 = partition(now, Duration::ZERO, 3, 3, Some(100));
        let p1 = partition(now, Duration::ZERO, 2, 2, Some(40));
        assert_eq!(
            source_watermark(&[p0.clone(), p1], now, IDLE, None),
            Some(40)
        );
        // Partition 1 caught up and silent past the timeout: no longer holds it back.
        let p1_idle = partition(now, IDLE, 2, 2, Some(40));
        assert_eq!(
            source_watermark(&[p0.clone(), p1_idle.clone()], now, IDLE, Some(40)),
            Some(100)
        );
        // Every partition idle: the watermark stays.
        let p0_idle = partition(now, IDLE, 3, 3, Some(100));
        assert_eq!(
            source_watermark(&[p0_idle, p1_idle], now, IDLE, Some(100)),
            Some(100)
        );
        // Partition 1 delivers again, behind: the watermark does not move backwards.
        let p1_back = partition(now, Duration::ZERO, 3, 3, Some(50));
        assert_eq!(
            source_watermark(&[p0, p1_back], now, IDLE, Some(100)),
            Some(100)
        );
    }
}
