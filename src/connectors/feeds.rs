//! [`Feeds`]: the readers of one source and the views each one feeds — shared
//! sources, as RisingWave has them.
//!
//! ```text
//!  live reader (one per source): poll/generate, decode once ──▶ every view it feeds,
//!      each sent the rows past its own position
//!  backfill reader (a view created later over `earliest`, or restored from behind
//!      the live reader) ──▶ that view alone, until the view is where the live
//!      reader is: then the view moves to the live reader and the backfill stops
//! ```
//!
//! A view joins the live reader when nothing it needs is behind the reader: the
//! reader has read nothing yet, or the view's position (restored from a checkpoint)
//! is at or past the reader's in every partition — rows below a view's position are
//! left out of what it is sent, so joining ahead repeats nothing. A `latest` view
//! joins at once, where the live reader is. Any other view gets a backfill reader of
//! its own from its position (generators unpaced: those rows are history), so the
//! running views never wait for a backfill; the backfill reader hands its view over
//! after the first delivery that brings it level with the live reader.
//!
//! Who reads what changes only under the sequencer's lock (attach, every delivery,
//! hand-over), so the rows and the position a view is sent are exact at every epoch,
//! and a checkpoint barrier finds the views of one reader at one position: after a
//! restart they all join one live reader again.

use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;

use super::kafka::StartupMode;
use super::status::{ReaderStatus, StatusSnapshot};
use crate::dataflow::barrier::{PartitionPosition, SourcePosition};
use crate::dataflow::change::Backlog;
use crate::dataflow::{ChangeBatch, ChangeSender, Delivery, Message, SequencerGuard};
use crate::error::Result;

/// What a reader read, ready for its views.
#[derive(Debug)]
pub struct Read {
    /// The rows (every column views read), inserted.
    pub rows: RecordBatch,
    /// Each row's partition (0 for generators).
    pub partitions: Vec<i32>,
    /// Each row's offset in its partition (the row number for generators).
    pub offsets: Vec<i64>,
    /// The reader's position after these rows (skipped messages included).
    pub position: SourcePosition,
}

/// A reader [`Feeds::attach`] asks the caller to start.
#[derive(Debug)]
pub struct NewReader {
    /// Its id in the feeds.
    pub id: u64,
    /// Where it starts (empty: the startup position).
    pub position: SourcePosition,
    /// Its status, already holding `position`.
    pub status: Arc<ReaderStatus>,
}

/// What one view input is sent, for `sluice_catalog.source_status` and friends.
#[derive(Debug, Clone)]
pub struct FeedStatus {
    /// The view.
    pub view: String,
    /// The reader's status, with this view's rows, positions and watermark.
    pub snapshot: StatusSnapshot,
    /// Rows sent to the view and not processed yet.
    pub backlog: usize,
}

/// One reader, for `sluice_catalog.source_readers`.
#[derive(Debug, Clone)]
pub struct ReaderSummary {
    /// Its id (unique per source while the server runs).
    pub id: u64,
    /// Whether it is the live reader (else it backfills).
    pub live: bool,
    /// Its status.
    pub snapshot: StatusSnapshot,
    /// The views it feeds, in the order they came.
    pub views: Vec<String>,
}

/// One view input fed by a reader.
#[derive(Debug)]
struct Subscriber {
    view: String,
    input: usize,
    sender: ChangeSender,
    /// Rows sent and not processed yet (back-pressure on the reader).
    backlog: Arc<Backlog>,
    /// What the view has been sent: rows below it in their partition are not sent
    /// (again).
    position: SourcePosition,
    /// The last watermark sent.
    watermark: Option<i64>,
    /// Rows sent.
    rows: u64,
}

/// A reader and the views it feeds.
#[derive(Debug)]
struct Reader {
    id: u64,
    status: Arc<ReaderStatus>,
    /// What it has read: every view it feeds is at or past it.
    position: SourcePosition,
    /// Set when its thread stopped (a bounded generator finished: `false`; it
    /// failed: `true`). A failed reader feeds nobody new.
    ended: Option<bool>,
    subscribers: Vec<Subscriber>,
}

/// The readers of one source; see the module docs. Every reader feeds at least one
/// view (a reader left without views is removed, and its thread stops); the first
/// reader that has not failed is the live one.
#[derive(Debug)]
pub struct Feeds {
    source: String,
    startup: StartupMode,
    has_watermark: bool,
    idle_timeout: std::time::Duration,
    readers: Vec<Reader>,
    next_id: u64,
}

impl Feeds {
    /// No readers yet. `startup` is where a view without a position starts
    /// (generators: `Earliest`).
    pub fn new(
        source: &str,
        startup: StartupMode,
        has_watermark: bool,
        idle_timeout: std::time::Duration,
    ) -> Self {
        Feeds {
            source: source.to_string(),
            startup,
            has_watermark,
            idle_timeout,
            readers: Vec::new(),
            next_id: 1,
        }
    }

    /// Feeds input `input` of `view` from `resume` (a checkpointed position), or
    /// from the startup position: through the live reader when it can, else
    /// through a new reader, which the caller starts (and removes with
    /// [`Feeds::end`] if it cannot).
    pub fn attach(
        &mut self,
        _order: &SequencerGuard<'_>,
        view: &str,
        input: usize,
        sender: ChangeSender,
        resume: Option<SourcePosition>,
    ) -> Option<NewReader> {
        self.prune();
        if let Some(live) = self.live()
            && self.can_join(&self.readers[live], resume.as_ref())
        {
            let reader = &mut self.readers[live];
            let position = resume.unwrap_or_else(|| reader.position.clone());
            reader
                .subscribers
                .push(Subscriber::new(view, input, sender, position));
            return None;
        }
        let position = resume.unwrap_or_default();
        let status = Arc::new(ReaderStatus::new(
            &self.source,
            self.has_watermark,
            self.idle_timeout,
        ));
        for (partition, at) in &position {
            status.add_partition(*partition, at.next_offset);
            status.advance(*partition, at.next_offset, at.max_event_time);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.readers.push(Reader {
            id,
            status: status.clone(),
            position: position.clone(),
            ended: None,
            subscribers: vec![Subscriber::new(view, input, sender, position.clone())],
        });
        Some(NewReader {
            id,
            position,
            status,
        })
    }

    /// Whether reader `id` still has views to feed (else its thread stops).
    pub fn is_reading(&self, id: u64) -> bool {
        self.index(id).is_some()
    }

    /// Whether reader `id` is the live reader (a generator paces only then).
    pub fn is_live(&self, id: u64) -> bool {
        self.live().is_some_and(|live| self.readers[live].id == id)
    }

    /// The backlogs of reader `id`'s views, each with its view's inbox (a closed
    /// inbox is not waited for).
    pub fn backlogs(&self, id: u64) -> Vec<(Arc<Backlog>, ChangeSender)> {
        self.index(id).map_or_else(Vec::new, |at| {
            self.readers[at]
                .subscribers
                .iter()
                .map(|s| (s.backlog.clone(), s.sender.clone()))
                .collect()
        })
    }

    /// Sends what reader `id` read to each of its views (the rows past the view's
    /// position, then the position), all at one epoch; then hands the views of a
    /// backfill reader that are level with the live reader over to it. Returns
    /// whether the reader still has views to feed.
    pub fn deliver(
        &mut self,
        order: &mut SequencerGuard<'_>,
        id: u64,
        read: &Read,
    ) -> Result<bool> {
        let Some(at) = self.index(id) else {
            return Ok(false);
        };
        let reader = &mut self.readers[at];
        reader.position.clone_from(&read.position);
        let mut epoch = None;
        let mut kept = Vec::with_capacity(reader.subscribers.len());
        for mut subscriber in reader.subscribers.drain(..) {
            if subscriber.send(read, order, &mut epoch)? {
                kept.push(subscriber);
            }
        }
        reader.subscribers = kept;
        self.hand_over(at);
        Ok(self.is_reading(id))
    }

    /// Sends reader `id`'s views the watermark `micros` where it is past the last
    /// one each was sent.
    pub fn forward_watermark(&mut self, id: u64, micros: i64) {
        let Some(at) = self.index(id) else {
            return;
        };
        for subscriber in &mut self.readers[at].subscribers {
            if subscriber.watermark.is_some_and(|sent| micros <= sent) {
                continue;
            }
            subscriber.watermark = Some(micros);
            let _ = subscriber.sender.send(Message::Watermark {
                input: subscriber.input,
                micros,
            });
        }
    }

    /// Reader `id`'s thread stopped: finished (its views stay listed with it) or
    /// failed (it is never joined again).
    pub fn end(&mut self, id: u64, failed: bool) {
        if let Some(at) = self.index(id) {
            self.readers[at].ended = Some(failed);
        }
    }

    /// What each view reading the source is sent.
    pub fn statuses(&mut self) -> Vec<FeedStatus> {
        self.prune();
        let live = self.live();
        let mut out = Vec::new();
        for (at, reader) in self.readers.iter().enumerate() {
            let snapshot = reader.status.snapshot();
            for subscriber in &reader.subscribers {
                let mut mine = snapshot.clone();
                mine.rows = subscriber.rows;
                mine.watermark = mine.watermark.max(subscriber.watermark);
                for (partition, at) in &subscriber.position {
                    if let Some(status) = mine.partitions.get_mut(partition) {
                        status.next_offset = status.next_offset.max(at.next_offset);
                    }
                }
                if Some(at) != live && mine.state == "running" {
                    mine.state = "backfilling".into();
                }
                out.push(FeedStatus {
                    view: subscriber.view.clone(),
                    snapshot: mine,
                    backlog: subscriber.backlog.rows(),
                });
            }
        }
        out
    }

    /// The readers and the views each feeds.
    pub fn readers(&mut self) -> Vec<ReaderSummary> {
        self.prune();
        let live = self.live();
        self.readers
            .iter()
            .enumerate()
            .map(|(at, reader)| ReaderSummary {
                id: reader.id,
                live: Some(at) == live,
                snapshot: reader.status.snapshot(),
                views: reader.subscribers.iter().map(|s| s.view.clone()).collect(),
            })
            .collect()
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.readers.iter().position(|r| r.id == id)
    }

    fn live(&self) -> Option<usize> {
        self.readers.iter().position(|r| r.ended != Some(true))
    }

    /// Forgets views that are gone and readers left without views.
    fn prune(&mut self) {
        for reader in &mut self.readers {
            reader.subscribers.retain(|s| !s.sender.is_closed());
        }
        self.readers.retain(|r| !r.subscribers.is_empty());
    }

    /// Whether a view at `want` (`None`: the startup position) misses nothing
    /// when fed by `reader` from now on.
    fn can_join(&self, reader: &Reader, want: Option<&SourcePosition>) -> bool {
        let Some(want) = want else {
            return self.startup == StartupMode::Latest || reader.position.is_empty();
        };
        let level = reader.position.iter().all(|(partition, at)| {
            at.next_offset < 0
                || want
                    .get(partition)
                    .is_some_and(|w| w.next_offset >= at.next_offset)
        });
        // A `latest` reader starts a partition it has no position for at its end,
        // past rows such a view may still need.
        let starts_before = self.startup == StartupMode::Earliest
            || want.keys().all(|p| reader.position.contains_key(p));
        level && starts_before
    }

    /// Moves the views of backfill reader `at` that are level with the live
    /// reader over to it; removes reader `at` once it has no views left.
    fn hand_over(&mut self, at: usize) {
        if let Some(live) = self.live()
            && live != at
        {
            let subscribers = std::mem::take(&mut self.readers[at].subscribers);
            let (level, behind): (Vec<_>, Vec<_>) = subscribers
                .into_iter()
                .partition(|s| self.can_join(&self.readers[live], Some(&s.position)));
            for subscriber in &level {
                tracing::info!(source = %self.source, view = %subscriber.view, "backfill done: the view now reads the source's live reader");
            }
            self.readers[live].subscribers.extend(level);
            self.readers[at].subscribers = behind;
        }
        if self.readers[at].subscribers.is_empty() {
            self.readers.remove(at);
        }
    }
}

impl Subscriber {
    fn new(view: &str, input: usize, sender: ChangeSender, position: SourcePosition) -> Self {
        Subscriber {
            view: view.to_string(),
            input,
            sender,
            backlog: Arc::default(),
            position,
            watermark: None,
            rows: 0,
        }
    }

    /// Sends the rows of `read` past this view's position (at `epoch`, taken on
    /// the first rows sent), then its new position if it moved. False once the
    /// view is gone.
    fn send(
        &mut self,
        read: &Read,
        order: &mut SequencerGuard<'_>,
        epoch: &mut Option<u64>,
    ) -> Result<bool> {
        if self.sender.is_closed() {
            return Ok(false);
        }
        let rows = self.unseen(read)?;
        let moved = advance(&mut self.position, &read.position);
        if rows.num_rows() > 0 {
            let epoch = *epoch.get_or_insert_with(|| order.next_epoch());
            self.rows += rows.num_rows() as u64;
            let delivery = Delivery {
                epoch,
                input: self.input,
                credit: Some(self.backlog.credit(rows.num_rows())),
                batch: ChangeBatch::inserts(rows),
            };
            let _ = self.sender.send(Message::Change(delivery));
        }
        if moved {
            let _ = self.sender.send(Message::SourcePosition {
                input: self.input,
                position: self.position.clone(),
            });
        }
        Ok(true)
    }

    /// The rows of `read` at or past this view's position in their partition.
    fn unseen(&self, read: &Read) -> Result<RecordBatch> {
        if self.position.is_empty() {
            return Ok(read.rows.clone());
        }
        let next = |partition: &i32| self.position.get(partition).map_or(-1, |p| p.next_offset);
        let seen = |(partition, offset): (&i32, &i64)| *offset < next(partition);
        if !read.partitions.iter().zip(&read.offsets).any(seen) {
            return Ok(read.rows.clone());
        }
        let keep: BooleanArray = read
            .partitions
            .iter()
            .zip(&read.offsets)
            .map(|row| Some(!seen(row)))
            .collect();
        Ok(filter_record_batch(&read.rows, &keep)?)
    }
}

/// Moves `position` forward to `to`, partition by partition; whether it moved.
fn advance(position: &mut SourcePosition, to: &SourcePosition) -> bool {
    let mut moved = false;
    for (partition, at) in to {
        let merged = match position.get(partition) {
            None => *at,
            Some(mine) => PartitionPosition {
                next_offset: mine.next_offset.max(at.next_offset),
                max_event_time: mine.max_event_time.max(at.max_event_time),
            },
        };
        if position.get(partition) != Some(&merged) {
            position.insert(*partition, merged);
            moved = true;
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::dataflow::{ChangeReceiver, Sequencer};

    fn feeds(startup: StartupMode) -> Feeds {
        Feeds::new("s", startup, false, Duration::from_secs(5))
    }

    fn inbox() -> (ChangeSender, ChangeReceiver) {
        tokio::sync::mpsc::unbounded_channel()
    }

    fn at(next_offset: i64) -> SourcePosition {
        [(
            0,
            PartitionPosition {
                next_offset,
                max_event_time: None,
            },
        )]
        .into()
    }

    /// Rows `from..to` of partition 0, each holding its offset.
    fn read(from: i64, to: i64) -> Read {
        let schema = Arc::new(Schema::new(vec![Field::new("o", DataType::Int64, false)]));
        let offsets: Vec<i64> = (from..to).collect();
        let column = Arc::new(Int64Array::from(offsets.clone()));
        Read {
            rows: RecordBatch::try_new(schema, vec![column]).unwrap(),
            partitions: vec![0; offsets.len()],
            offsets,
            position: at(to),
        }
    }

    fn deliver(feeds: &mut Feeds, sequencer: &Sequencer, id: u64, read: Read) -> bool {
        feeds.deliver(&mut sequencer.lock(), id, &read).unwrap()
    }

    /// The offsets a view was sent (in order) and the last position it was sent.
    fn received(inbox: &mut ChangeReceiver) -> (Vec<i64>, Option<i64>) {
        let mut offsets = Vec::new();
        let mut position = None;
        while let Ok(message) = inbox.try_recv() {
            match message {
                Message::Change(delivery) => offsets.extend(
                    delivery
                        .batch
                        .data()
                        .column(0)
                        .as_primitive::<Int64Type>()
                        .values(),
                ),
                Message::SourcePosition { position: p, .. } => {
                    position = Some(p[&0].next_offset);
                }
                _ => {}
            }
        }
        (offsets, position)
    }

    #[test]
    fn a_later_view_is_backfilled_then_fed_by_the_live_reader() {
        let sequencer = Sequencer::default();
        let mut feeds = feeds(StartupMode::Earliest);
        let (a, mut a_inbox) = inbox();
        let (b, mut b_inbox) = inbox();
        let live = feeds.attach(&sequencer.lock(), "a", 0, a, None).unwrap().id;
        assert!(deliver(&mut feeds, &sequencer, live, read(0, 10)));

        // The live reader is past the start: b gets a backfill reader of its own.
        let backfill = feeds.attach(&sequencer.lock(), "b", 0, b, None).unwrap();
        assert!(backfill.position.is_empty());
        let backfill = backfill.id;
        assert!(feeds.is_live(live) && !feeds.is_live(backfill));
        assert!(deliver(&mut feeds, &sequencer, backfill, read(0, 5)));
        assert!(deliver(&mut feeds, &sequencer, live, read(10, 20)));
        let statuses = feeds.statuses();
        assert_eq!(statuses[1].view, "b");
        assert_eq!(statuses[1].snapshot.rows, 5);

        // Past the live reader: b moves over and the backfill reader stops.
        assert!(!deliver(&mut feeds, &sequencer, backfill, read(5, 25)));
        assert!(!feeds.is_reading(backfill));
        assert!(deliver(&mut feeds, &sequencer, live, read(20, 30)));
        assert_eq!(received(&mut a_inbox), ((0..30).collect(), Some(30)));
        assert_eq!(received(&mut b_inbox), ((0..30).collect(), Some(30)));
        let readers = feeds.readers();
        assert_eq!(readers.len(), 1);
        assert_eq!(readers[0].views, ["a", "b"]);
    }

    #[test]
    fn restored_views_at_or_past_the_live_reader_join_it() {
        let sequencer = Sequencer::default();
        let mut feeds = feeds(StartupMode::Earliest);
        let mut inboxes = Vec::new();
        let mut attach = |feeds: &mut Feeds, view: &str, from: i64| {
            let (sender, receiver) = inbox();
            inboxes.push(receiver);
            feeds
                .attach(&sequencer.lock(), view, 0, sender, Some(at(from)))
                .map(|new| new.id)
        };
        let live = attach(&mut feeds, "a", 100).unwrap();
        assert_eq!(attach(&mut feeds, "b", 100), None, "level: joins");
        assert_eq!(attach(&mut feeds, "c", 120), None, "ahead: joins");
        let behind = attach(&mut feeds, "d", 50).unwrap();
        assert_ne!(behind, live);
        assert!(deliver(&mut feeds, &sequencer, live, read(100, 130)));
        let sent: Vec<_> = inboxes.iter_mut().map(received).collect();
        assert_eq!(sent[0], ((100..130).collect(), Some(130)));
        assert_eq!(sent[1], ((100..130).collect(), Some(130)));
        assert_eq!(sent[2], ((120..130).collect(), Some(130)), "nothing twice");
        assert_eq!(sent[3], (vec![], None));
    }

    #[test]
    fn latest_views_join_where_the_live_reader_is() {
        let sequencer = Sequencer::default();
        let mut feeds = feeds(StartupMode::Latest);
        let (a, _a_inbox) = inbox();
        let (b, mut b_inbox) = inbox();
        let (c, _c_inbox) = inbox();
        let live = feeds.attach(&sequencer.lock(), "a", 0, a, None).unwrap().id;
        assert!(deliver(&mut feeds, &sequencer, live, read(40, 50)));
        assert!(feeds.attach(&sequencer.lock(), "b", 0, b, None).is_none());
        assert!(deliver(&mut feeds, &sequencer, live, read(50, 55)));
        assert_eq!(received(&mut b_inbox), ((50..55).collect(), Some(55)));
        // A restored view needing partition 1, which the live reader would start at
        // its end: a reader of its own.
        let mut wants = at(55);
        wants.insert(1, wants[&0]);
        assert!(
            feeds
                .attach(&sequencer.lock(), "c", 0, c, Some(wants))
                .is_some()
        );
    }

    #[test]
    fn readers_stop_without_views_and_failed_readers_are_not_joined() {
        let sequencer = Sequencer::default();
        let mut feeds = feeds(StartupMode::Earliest);
        let (a, a_inbox) = inbox();
        let (b, mut b_inbox) = inbox();
        let first = feeds.attach(&sequencer.lock(), "a", 0, a, None).unwrap().id;
        feeds.forward_watermark(first, 10);
        drop(a_inbox);
        assert!(!deliver(&mut feeds, &sequencer, first, read(0, 3)));
        assert!(!feeds.is_reading(first));

        let second = feeds.attach(&sequencer.lock(), "b", 0, b, None).unwrap().id;
        feeds.forward_watermark(second, 20);
        feeds.forward_watermark(second, 15);
        feeds.forward_watermark(second, 30);
        let mut watermarks = Vec::new();
        while let Ok(Message::Watermark { micros, .. }) = b_inbox.try_recv() {
            watermarks.push(micros);
        }
        assert_eq!(watermarks, [20, 30], "never backwards");
        feeds.end(second, true);
        let (c, _c_inbox) = inbox();
        let third = feeds.attach(&sequencer.lock(), "c", 0, c, None).unwrap().id;
        assert!(feeds.is_live(third) && feeds.is_reading(second));
    }
}
