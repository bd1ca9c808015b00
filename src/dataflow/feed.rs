//! [`feed`]: a view's changes for one client subscription (`SUBSCRIBE`), with a
//! bounded buffer.
//!
//! ```text
//!   view worker ──FeedSender::send──▶ [ buffered rows ≤ limit ] ──▶ FeedReceiver ──▶ client
//!                      │ over the limit: the feed is dropped and the receiver ends
//!                      ▼ with 53400 after what it had
//! ```
//!
//! The view never waits for a subscriber: a client that stops reading loses its
//! subscription, never stalls the view, and never makes it hold more than `limit`
//! rows for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::ChangeBatch;
use crate::error::{Result, SluiceError, sqlstate};

/// What a subscription receives.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// The view's change at epoch `epoch`.
    Change {
        /// The epoch of the change.
        epoch: u64,
        /// The rows and their weights.
        batch: ChangeBatch,
    },
    /// Every change up to epoch `epoch` has been sent.
    Progress {
        /// The view's epoch.
        epoch: u64,
    },
}

impl FeedItem {
    /// Rows it counts for in the buffer (a progress marker counts one).
    fn rows(&self) -> usize {
        match self {
            FeedItem::Change { batch, .. } => batch.num_rows().max(1),
            FeedItem::Progress { .. } => 1,
        }
    }
}

#[derive(Debug)]
struct Shared {
    /// Rows sent and not yet received.
    buffered: AtomicUsize,
    /// Set when a send would have passed the limit.
    overflowed: AtomicBool,
    limit: usize,
}

/// The view's end of a feed.
#[derive(Debug)]
pub struct FeedSender {
    sender: tokio::sync::mpsc::UnboundedSender<FeedItem>,
    shared: Arc<Shared>,
    progress: bool,
}

impl FeedSender {
    /// Sends `item`; false when the feed has ended (the client left, or this item
    /// would pass the limit): the view then drops it.
    pub fn send(&self, item: FeedItem) -> bool {
        if matches!(item, FeedItem::Progress { .. }) && !self.progress {
            return !self.sender.is_closed();
        }
        let rows = item.rows();
        let buffered = self.shared.buffered.fetch_add(rows, Ordering::AcqRel) + rows;
        if buffered > self.shared.limit {
            self.shared.overflowed.store(true, Ordering::Release);
            return false;
        }
        self.sender.send(item).is_ok()
    }
}

/// The subscriber's end of a feed.
#[derive(Debug)]
pub struct FeedReceiver {
    receiver: tokio::sync::mpsc::UnboundedReceiver<FeedItem>,
    shared: Arc<Shared>,
}

impl FeedReceiver {
    /// The next item; `None` once the view has stopped. After an overflow, the items
    /// sent before it, then the error (`53400`).
    pub async fn next(&mut self) -> Option<Result<FeedItem>> {
        match self.receiver.recv().await {
            Some(item) => {
                self.shared
                    .buffered
                    .fetch_sub(item.rows(), Ordering::AcqRel);
                Some(Ok(item))
            }
            None if self.shared.overflowed.load(Ordering::Acquire) => {
                Some(Err(SluiceError::coded(
                    sqlstate::CONFIGURATION_LIMIT_EXCEEDED,
                    format!(
                        "the subscription fell more than {} rows behind the view and was ended; \
                         read its changes faster or raise max_buffered_rows",
                        self.shared.limit
                    ),
                )))
            }
            None => None,
        }
    }
}

/// A feed holding at most `limit` rows not yet received; progress markers are sent
/// only when `progress` is set.
pub fn feed(limit: usize, progress: bool) -> (FeedSender, FeedReceiver) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        buffered: AtomicUsize::new(0),
        overflowed: AtomicBool::new(false),
        limit,
    });
    (
        FeedSender {
            sender,
            shared: shared.clone(),
            progress,
        },
        FeedReceiver { receiver, shared },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of};

    fn change(rows: usize) -> FeedItem {
        let values: Vec<Option<i64>> = (0..rows as i64).map(Some).collect();
        FeedItem::Change {
            epoch: 1,
            batch: change_of(batch(&[("a", &values)]), &vec![1; rows]),
        }
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_gets_its_rows_then_an_error() {
        let (sender, mut receiver) = feed(10, false);
        assert!(sender.send(change(6)));
        assert!(sender.send(FeedItem::Progress { epoch: 1 }), "not counted");
        assert!(!sender.send(change(6)), "16 rows would pass the limit");
        drop(sender);
        assert!(matches!(
            receiver.next().await,
            Some(Ok(FeedItem::Change { .. }))
        ));
        let error = receiver.next().await.unwrap().unwrap_err();
        assert_eq!(error.sqlstate(), "53400");
    }

    #[tokio::test]
    async fn reading_makes_room() {
        let (sender, mut receiver) = feed(10, true);
        for _ in 0..5 {
            assert!(sender.send(change(6)));
            assert!(matches!(receiver.next().await, Some(Ok(_))));
        }
        assert!(sender.send(FeedItem::Progress { epoch: 2 }));
        assert!(matches!(
            receiver.next().await,
            Some(Ok(FeedItem::Progress { epoch: 2 }))
        ));
        drop(receiver);
        assert!(!sender.send(change(1)), "the client left");
    }
}
