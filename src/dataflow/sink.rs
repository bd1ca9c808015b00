//! The dataflow side of a sink: what it has not yet written to its destination
//! ([`Backlog`]), cut at checkpoint barriers and checkpointed with the views, so a
//! destination that commits whole checkpoints (a Kafka transaction per checkpoint)
//! receives every change of the sink's view exactly once across crashes.
//!
//! ```text
//!  view ──changes──▶ sink worker: Backlog.open (a Z-set: consolidated changes)
//!  barrier K (aligned with the view's) ──▶ open sealed as part K; every sealed part
//!       not yet committed is written with checkpoint K
//!  manifest K complete ──▶ writer (e.g. connectors::kafka_sink): the parts ≤ K in
//!       one transaction, marked K ──▶ committed_through(K) drops them
//!  restart from checkpoint K: the parts come back; those the destination's
//!       marker says were committed are dropped, the rest are written again
//! ```
//!
//! Why it is exact: a part is written only once the checkpoint holding the view's
//! state after it is complete, so the restored view never sends its changes again;
//! and a part leaves the checkpointed backlog only once the destination holds it.
//!
//! Changes within one part are consolidated (a row inserted and deleted between two
//! checkpoints is never written); the backlog is therefore at most the rows the view
//! held at the last commit plus those it holds now, however long the destination is
//! away.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use super::arrangement::Arrangement;
use super::barrier::{AlignedInbox, Alignment, Barrier, Next, TakenCheckpoint};
use super::state::Spine;
use super::state::checkpoint;
use super::view::ViewCheckpoint;
use super::{ChangeBatch, ChangeReceiver, ChangeSender, Message};
use crate::error::{Result, SluiceError};

/// The prefix of a sealed part's spine name in the sink's checkpoint (`pending-<barrier>`).
const PART_PREFIX: &str = "pending-";

/// The changes a sink has not yet committed to its destination. See the module docs.
///
/// Invariant: `open` holds the changes since the last barrier; `sealed[k]` those
/// between the barrier before `k` and `k`; parts with a barrier at or below
/// `committed` are gone. Their sum is every uncommitted change.
#[derive(Debug)]
pub struct Backlog {
    schema: SchemaRef,
    open: Arrangement,
    sealed: BTreeMap<u64, Arrangement>,
    committed: Option<u64>,
}

impl Backlog {
    /// An empty backlog of rows shaped like `schema`.
    pub fn new(schema: SchemaRef) -> Result<Self> {
        Ok(Backlog {
            open: Arrangement::try_new(schema.clone())?,
            schema,
            sealed: BTreeMap::new(),
            committed: None,
        })
    }

    fn apply(&mut self, change: &ChangeBatch) -> Result<()> {
        self.open.apply(change)
    }

    /// Closes the open part as barrier `barrier`'s.
    fn seal(&mut self, barrier: u64) -> Result<()> {
        let open = std::mem::replace(&mut self.open, Arrangement::try_new(self.schema.clone())?);
        if !open.is_empty() {
            self.sealed.insert(barrier, open);
        }
        Ok(())
    }

    /// Every sealed part at or below barrier `through`, summed into one: what a
    /// writer commits once checkpoint `through` is complete. `None` when there is
    /// nothing to write.
    pub fn ready(&self, through: u64) -> Result<Option<Arrangement>> {
        let mut parts = self.sealed.range(..=through).map(|(_, part)| part);
        let Some(first) = parts.next() else {
            return Ok(None);
        };
        let mut sum = first.snapshot()?;
        for part in parts {
            let (keys, weights): (Vec<&[u8]>, Vec<i64>) = part.spine().iter().unzip();
            sum.spine_mut().apply(&keys, &weights)?;
        }
        Ok(Some(sum))
    }

    /// The destination holds every part at or below barrier `barrier`.
    pub fn committed_through(&mut self, barrier: u64) {
        self.sealed = self.sealed.split_off(&(barrier + 1));
        self.committed = Some(self.committed.map_or(barrier, |c| c.max(barrier)));
    }

    /// The last barrier whose parts the destination holds.
    pub fn committed(&self) -> Option<u64> {
        self.committed
    }

    /// Distinct changed rows waiting (sealed or open).
    pub fn rows(&self) -> usize {
        self.sealed
            .values()
            .chain([&self.open])
            .map(Arrangement::len)
            .sum()
    }

    /// The sink's state as of barrier `barrier` (after sealing its part): every
    /// part not yet committed, runs to be written under `dir`.
    fn checkpoint(&mut self, barrier: u64, epoch: u64, dir: &Path) -> Result<TakenCheckpoint> {
        self.seal(barrier)?;
        let spines = self
            .sealed
            .iter()
            .map(|(id, part)| (format!("{PART_PREFIX}{id}"), part.spine()));
        let (state, writes) = checkpoint::plan(spines, dir)?;
        let checkpoint = ViewCheckpoint {
            epoch,
            state,
            watermarks: None,
            late_rows: 0,
            errors: Vec::new(),
            sources: BTreeMap::new(),
        };
        Ok(TakenCheckpoint { checkpoint, writes })
    }

    /// The backlog checkpointed under `dir`.
    fn restore(schema: SchemaRef, dir: &Path, saved: &ViewCheckpoint) -> Result<Self> {
        let mut backlog = Backlog::new(schema.clone())?;
        for (name, runs) in &saved.state.spines {
            let barrier = name
                .strip_prefix(PART_PREFIX)
                .and_then(|id| id.parse::<u64>().ok())
                .ok_or_else(|| {
                    SluiceError::Internal(format!(
                        "the checkpoint in {} holds state {name}, which is not a sink's",
                        dir.display()
                    ))
                })?;
            let rows = Spine::restore(&dir.join(name), runs)?;
            backlog
                .sealed
                .insert(barrier, Arrangement::from_spine(schema.clone(), rows)?);
        }
        Ok(backlog)
    }
}

/// How a sink is doing, as `sluice_catalog.sink_status` shows it.
#[derive(Debug, Clone, Default)]
pub struct SinkProgress {
    /// Changed rows written (a row updated counts once per part it changed in).
    pub rows_written: u64,
    /// Messages written (an update may be one message or two, by format).
    pub messages_written: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Rows that could not be written as the format asks (a primary key held by
    /// two rows of one part, a removal in a plain sink): counted and described in
    /// `last_error`, never merged silently.
    pub rejected_rows: u64,
    /// What went wrong last (the destination unreachable, a rejected row).
    pub last_error: Option<String>,
    /// Failed attempts to reach or write the destination since the last success.
    pub retries: u64,
}

/// What a sink starts from.
#[derive(Debug)]
pub enum SinkStart {
    /// The view's rows at subscription, written first (its snapshot).
    Snapshot(Arc<Vec<RecordBatch>>),
    /// Only the changes after subscription.
    Changes,
    /// The backlog checkpointed under the directory (the view was restored from the
    /// same checkpoint and sends what came after it).
    Restore(PathBuf, ViewCheckpoint),
}

/// A running sink's dataflow side: the worker that folds the view's changes into
/// the backlog and answers checkpoint barriers. The writer (the connector) shares
/// the backlog and the progress.
#[derive(Debug)]
pub struct RunningSink {
    inbox: ChangeSender,
    backlog: Arc<Mutex<Backlog>>,
    progress: Arc<Mutex<SinkProgress>>,
    stopped: tokio::sync::watch::Sender<bool>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl RunningSink {
    /// Starts the worker of sink `name` reading one view (input 0) through `inbox`,
    /// taking part in checkpoints from `first_barrier`.
    pub fn start(
        name: &str,
        schema: SchemaRef,
        (sender, receiver): (ChangeSender, ChangeReceiver),
        first_barrier: Option<u64>,
        start: SinkStart,
    ) -> Result<Arc<RunningSink>> {
        let backlog = match start {
            SinkStart::Restore(dir, saved) => Backlog::restore(schema, &dir, &saved)?,
            SinkStart::Snapshot(rows) => {
                let mut backlog = Backlog::new(schema)?;
                for batch in rows.iter() {
                    backlog.apply(&ChangeBatch::inserts(batch.clone()))?;
                }
                backlog
            }
            SinkStart::Changes => Backlog::new(schema)?,
        };
        let backlog = Arc::new(Mutex::new(backlog));
        let progress = Arc::new(Mutex::new(SinkProgress::default()));
        let inbox = AlignedInbox::new(receiver, Alignment::new(first_barrier, BTreeSet::from([0])));
        let (worker_backlog, worker_progress) = (backlog.clone(), progress.clone());
        let worker = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn(move || run(inbox, &worker_backlog, &worker_progress))?;
        Ok(Arc::new(RunningSink {
            inbox: sender,
            backlog,
            progress,
            stopped: tokio::sync::watch::Sender::new(false),
            worker: Mutex::new(Some(worker)),
        }))
    }

    /// The changes not yet committed (shared with the writer).
    pub fn backlog(&self) -> &Arc<Mutex<Backlog>> {
        &self.backlog
    }

    /// How the sink is doing (the writer reports into it).
    pub fn progress(&self) -> &Arc<Mutex<SinkProgress>> {
        &self.progress
    }

    /// Changes to `true` when the sink is stopped (the writer ends).
    pub fn stopped(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopped.subscribe()
    }

    /// Stops the worker and tells the writer to end.
    pub fn stop(&self) {
        let _ = self.inbox.send(Message::Stop);
        self.stopped.send_replace(true);
        let handle = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        let _ = self.inbox.send(Message::Stop);
        self.stopped.send_replace(true);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The worker: the inbox until `Stop` or until every sender is gone.
fn run(inbox: AlignedInbox, backlog: &Mutex<Backlog>, progress: &Mutex<SinkProgress>) {
    for next in inbox {
        let message = match next {
            Next::Message(message) => message,
            Next::Barrier(Barrier {
                id,
                epoch,
                dir,
                reply,
            }) => {
                let taken = lock(backlog).checkpoint(id, epoch, &dir);
                let _ = reply.send(taken.map(Some));
                continue;
            }
        };
        match message {
            Message::Change(delivery) => {
                if let Err(e) = lock(backlog).apply(&delivery.batch) {
                    tracing::error!("sink stopped taking changes: {e}");
                    lock(progress).last_error = Some(e.to_string());
                    return;
                }
            }
            Message::Flush(ack) => {
                let _ = ack.send(());
            }
            Message::Stop => return,
            Message::Watermark { .. }
            | Message::SourcePosition { .. }
            | Message::Barrier(_)
            | Message::BarrierFrom { .. }
            | Message::Tick { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;

    use super::*;
    use crate::dataflow::testing::{batch, change_of};

    fn schema() -> SchemaRef {
        change(&[]).schema()
    }

    /// `(k, v, weight)` per distinct row.
    fn rows(part: Option<Arrangement>) -> Vec<(i64, i64, i64)> {
        let mut out = Vec::new();
        for change in part.map(|p| p.changes().unwrap()).unwrap_or_default() {
            let column = |i: usize| change.data().column(i).as_primitive::<Int64Type>().clone();
            let (k, v) = (column(0), column(1));
            for i in 0..change.num_rows() {
                out.push((k.value(i), v.value(i), change.weights().value(i)));
            }
        }
        out
    }

    fn change(rows: &[(i64, i64, i64)]) -> ChangeBatch {
        let k: Vec<Option<i64>> = rows.iter().map(|r| Some(r.0)).collect();
        let v: Vec<Option<i64>> = rows.iter().map(|r| Some(r.1)).collect();
        let weights: Vec<i64> = rows.iter().map(|r| r.2).collect();
        change_of(batch(&[("k", &k), ("v", &v)]), &weights)
    }

    #[test]
    fn parts_are_cut_at_barriers_and_leave_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut backlog = Backlog::new(schema()).unwrap();
        backlog.apply(&change(&[(1, 10, 1), (2, 20, 1)])).unwrap();
        backlog.checkpoint(1, 5, dir.path()).unwrap();
        // An update after barrier 1 and a row inserted and deleted before barrier 2.
        backlog
            .apply(&change(&[(1, 10, -1), (1, 11, 1), (3, 30, 1)]))
            .unwrap();
        backlog.apply(&change(&[(3, 30, -1)])).unwrap();
        assert_eq!(rows(backlog.ready(0).unwrap()), vec![]);
        assert_eq!(
            rows(backlog.ready(1).unwrap()),
            vec![(1, 10, 1), (2, 20, 1)]
        );
        backlog.checkpoint(2, 7, dir.path()).unwrap();
        // Both parts, summed: the row updated after barrier 1 is written as it is.
        assert_eq!(
            rows(backlog.ready(2).unwrap()),
            vec![(1, 11, 1), (2, 20, 1)]
        );
        backlog.committed_through(1);
        assert_eq!(
            rows(backlog.ready(2).unwrap()),
            vec![(1, 10, -1), (1, 11, 1)]
        );
        backlog.committed_through(2);
        assert!(backlog.ready(2).unwrap().is_none());
        assert_eq!(backlog.rows(), 0);
        assert_eq!(backlog.committed(), Some(2));
    }

    #[test]
    fn a_restored_backlog_holds_every_uncommitted_part() {
        let dir = tempfile::tempdir().unwrap();
        let mut backlog = Backlog::new(schema()).unwrap();
        backlog.apply(&change(&[(1, 10, 1)])).unwrap();
        backlog.checkpoint(4, 1, dir.path()).unwrap();
        backlog.apply(&change(&[(2, 20, 1)])).unwrap();
        let taken = backlog.checkpoint(5, 2, dir.path()).unwrap();
        crate::dataflow::state::RunWrite::write_all(&taken.writes).unwrap();
        // Committed 4 meanwhile: a checkpoint after that would hold only part 5, but
        // this one (taken before) holds both; the marker decides at restart.
        let mut restored = Backlog::restore(schema(), dir.path(), &taken.checkpoint).unwrap();
        assert_eq!(
            rows(restored.ready(5).unwrap()),
            vec![(1, 10, 1), (2, 20, 1)]
        );
        restored.committed_through(4);
        assert_eq!(rows(restored.ready(5).unwrap()), vec![(2, 20, 1)]);
    }

    #[test]
    fn a_checkpoint_of_other_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut saved = ViewCheckpoint {
            epoch: 1,
            state: Default::default(),
            watermarks: None,
            late_rows: 0,
            errors: Vec::new(),
            sources: BTreeMap::new(),
        };
        saved.state.spines.insert("result".into(), Vec::new());
        assert!(Backlog::restore(schema(), dir.path(), &saved).is_err());
    }
}
