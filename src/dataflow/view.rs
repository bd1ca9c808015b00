//! [`MaterializedView`]: a running view — its dataflow on a thread of its own, its
//! result arrangement, and the subscribers (views on this view) fed by its output.
//!
//! ```text
//!  inbox (Message) ──▶ view thread: Workers::push ──▶ Arrangement ──▶ subscribers
//!                                                       ▲
//!                                   SELECT reads a consistent version of it
//! ```
//!
//! The worker applies each input change and publishes the result under the state
//! lock, so a reader sees the view as of one epoch: every change up to it, none
//! after. Flush markers in the inbox let `FLUSH` wait for everything before them;
//! checkpoint barriers ([`super::barrier`], aligned across the views it reads) make
//! it write its state as of everything before them and pass the barrier on, and a
//! view can start from such a checkpoint instead of its inputs' snapshots
//! ([`Inputs::restore`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::Expr;

use super::arrangement::Arrangement;
use super::barrier::{AlignedInbox, Alignment, Barrier, Next, SourcePosition, TakenCheckpoint};
use super::change::Credit;
use super::feed::{FeedItem, FeedReceiver, FeedSender, feed};
use super::operator::ErrorLog;
use super::state::Spine;
use super::state::checkpoint::{self, StateCheckpoint};
use super::window_close::{InputWatermarks, WindowCloser};
use super::workers::Workers;
use super::{ChangeBatch, ChangeReceiver, ChangeSender, Delivery, Message};
use crate::error::{Result, SluiceError};

/// The initial contents of one input: its number and its rows at subscription.
pub type Snapshot = (usize, Arc<Vec<RecordBatch>>);

/// What a view starts from: its inputs' contents at subscription, and the views
/// among its inputs (whose row errors it reports as its own).
#[derive(Debug, Default)]
pub struct Inputs {
    /// Contents of each input at subscription.
    pub snapshots: Vec<Snapshot>,
    /// The views this view reads, with their input numbers.
    pub upstream: Vec<(usize, Arc<MaterializedView>)>,
    /// When every input sends watermarks: their tracking. The view's watermark is
    /// their minimum, and it passes it on to the views reading it.
    pub watermarks: Option<InputWatermarks>,
    /// Closes the view's rows by the watermark (drops late rows; with `EMIT ON
    /// WINDOW CLOSE` also holds rows back), when the view is watermarked and outputs
    /// a watermarked column.
    pub window_closer: Option<WindowCloser>,
    /// Per output column, its watermark as a function of the view's (an expression
    /// over [`super::watermark::WATERMARK_COLUMN`]), for the views that read this one.
    pub output_watermarks: Vec<Option<Expr>>,
    /// The epoch the snapshots are as of: the view's epoch after its backfill.
    pub epoch: u64,
    /// Start from this checkpoint (written under the directory) instead of the
    /// snapshots, which must then be empty: the view's inputs deliver the changes
    /// after the checkpoint's epoch.
    pub restore: Option<(PathBuf, ViewCheckpoint)>,
    /// The first checkpoint barrier the view takes part in (see
    /// [`super::barrier`]); `None` for a view that is never checkpointed.
    pub first_barrier: Option<u64>,
    /// Keep no result rows: the view only passes its changes on (a sink's own
    /// view); reads see it empty.
    pub discard_rows: bool,
    /// Subscribers from the start, so they receive the backfill as changes (`input`
    /// numbers as in [`MaterializedView::subscribe`]).
    pub subscribers: Vec<(ChangeSender, usize)>,
}

/// A view's state as of a checkpoint barrier: the runs of its spines (written under
/// the checkpoint directory) and the few values kept beside them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViewCheckpoint {
    /// The epoch the state is as of: every change up to it is in, none after.
    pub epoch: u64,
    /// The spines: the operators' (`operators/...`), the rows held back by `EMIT ON
    /// WINDOW CLOSE` (`held`), the result (`result`).
    pub state: StateCheckpoint,
    /// Each input's watermark (µs; `None`: none yet), for a watermarked view.
    pub watermarks: Option<Vec<Option<i64>>>,
    /// Rows dropped as late so far.
    pub late_rows: u64,
    /// The standing row errors, as `(SQLSTATE, message, count)`.
    pub errors: Vec<(String, String, i64)>,
    /// Per source input, the reader's position: the rows up to it are in the state.
    #[serde(default)]
    pub sources: BTreeMap<usize, SourcePosition>,
}

#[derive(Debug)]
struct ViewState {
    arrangement: Arrangement,
    /// See [`Inputs::discard_rows`].
    discard_rows: bool,
    errors: ErrorLog,
    failure: Option<String>,
    epoch: u64,
    version: u64,
    subscribers: Vec<(ChangeSender, usize)>,
    /// Client subscriptions (`SUBSCRIBE`).
    feeds: Vec<FeedSender>,
    state_bytes: usize,
    watermark: Option<i64>,
    late_rows: u64,
}

#[derive(Debug)]
struct Shared {
    name: String,
    state: RwLock<ViewState>,
    cache: Mutex<Option<(u64, Arc<Vec<RecordBatch>>)>>,
}

/// A running materialized view. See the module docs.
#[derive(Debug)]
pub struct MaterializedView {
    shared: Arc<Shared>,
    schema: SchemaRef,
    depth: usize,
    upstream: Vec<Arc<MaterializedView>>,
    watermarked: bool,
    output_watermarks: Vec<Option<Expr>>,
    inbox: ChangeSender,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl MaterializedView {
    /// Starts the view's worker: it first folds in the input snapshots (the backfill),
    /// then processes the inbox. Returns once the backfill is visible.
    ///
    /// The view's depth is 1 + the largest depth among the views it reads (tables
    /// and sources count 0); `FLUSH` visits views in depth order.
    pub async fn start(
        name: &str,
        schema: SchemaRef,
        graph: Workers,
        inbox: (ChangeSender, ChangeReceiver),
        inputs: Inputs,
    ) -> Result<Arc<MaterializedView>> {
        let Inputs {
            snapshots,
            upstream,
            watermarks,
            window_closer,
            output_watermarks,
            epoch,
            restore,
            first_barrier,
            discard_rows,
            subscribers,
        } = inputs;
        let watermarked = watermarks.is_some();
        if graph.reads_clock() {
            start_clock(name, sender_of(&inbox))?;
        }
        let alignment = Alignment::new(first_barrier, upstream.iter().map(|(i, _)| *i).collect());
        let upstream: Vec<Arc<MaterializedView>> = upstream.into_iter().map(|(_, v)| v).collect();
        let depth = 1 + upstream.iter().map(|v| v.depth()).max().unwrap_or(0);
        let shared = Arc::new(Shared {
            name: name.to_string(),
            state: RwLock::new(ViewState {
                arrangement: Arrangement::try_new(schema.clone())?,
                discard_rows,
                errors: ErrorLog::default(),
                failure: None,
                epoch,
                version: 0,
                subscribers,
                feeds: Vec::new(),
                state_bytes: 0,
                watermark: None,
                late_rows: 0,
            }),
            cache: Mutex::new(None),
        });
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (sender, receiver) = inbox;
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name(format!("view-{name}"))
            .spawn(move || {
                let output = Output {
                    shared: worker_shared,
                    watermarks,
                    window_closer,
                    operator_late: 0,
                    credit: None,
                    restored_late: 0,
                    positions: BTreeMap::new(),
                };
                let start = match restore {
                    Some((dir, checkpoint)) => Start::Restore(dir, checkpoint),
                    None => Start::Backfill(snapshots),
                };
                let inbox = AlignedInbox::new(receiver, alignment);
                run(output, graph, inbox, start, ready_tx)
            })?;
        let view = Arc::new(MaterializedView {
            shared,
            schema,
            depth,
            upstream,
            watermarked,
            output_watermarks,
            inbox: sender,
            worker: Mutex::new(Some(worker)),
        });
        ready_rx
            .await
            .map_err(|_| SluiceError::Internal(format!("view {name} stopped during backfill")))?;
        // Rows whose expressions fail are part of the view's state (reads report
        // them); only a failure of the dataflow itself stops the start.
        if let Some(failure) = &view.state().failure {
            return Err(SluiceError::Internal(format!(
                "materialized view \"{name}\" failed during backfill: {failure}"
            )));
        }
        Ok(view)
    }

    /// The view's output schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Whether the view has a watermark (every input sends one), which it passes on
    /// to the views reading it.
    pub fn watermarked(&self) -> bool {
        self.watermarked
    }

    /// Per output column, its watermark as a function of the view's (see
    /// [`Inputs::output_watermarks`]).
    pub fn output_watermarks(&self) -> &[Option<Expr>] {
        &self.output_watermarks
    }

    /// How far the view is from the tables (see [`MaterializedView::start`]).
    pub fn depth(&self) -> usize {
        self.depth
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, ViewState> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<()> {
        // A row that failed upstream is missing from this view too: report it here.
        for view in &self.upstream {
            view.check()?;
        }
        let state = self.state();
        if let Some(failure) = &state.failure {
            return Err(SluiceError::Internal(format!(
                "materialized view \"{}\" stopped: {failure}",
                self.shared.name
            )));
        }
        match state.errors.first() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The view's rows as of the last processed epoch. Fails with the error of a
    /// row that could not be computed while such a row is in the view's input.
    pub fn read(&self) -> Result<Arc<Vec<RecordBatch>>> {
        self.check()?;
        let (version, rows) = {
            let state = self.state();
            let cache = self.shared.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((version, batches)) = cache.as_ref()
                && *version == state.version
            {
                return Ok(batches.clone());
            }
            (state.version, state.arrangement.snapshot()?)
        };
        // Decoded without the view's lock: the view goes on meanwhile.
        let batches = Arc::new(rows.batches()?);
        let mut cache = self.shared.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.as_ref().is_none_or(|(cached, _)| *cached < version) {
            *cache = Some((version, batches.clone()));
        }
        Ok(batches)
    }

    /// The rows whose leading columns equal `prefix`.
    pub fn read_prefix(&self, prefix: &[ArrayRef]) -> Result<Vec<RecordBatch>> {
        self.check()?;
        self.state().arrangement.prefix_batches(prefix)
    }

    /// Subscribes `sender` (tagged `input`) to the view's output changes and returns
    /// the current rows and the epoch they are as of: together they are exact, like a
    /// table subscription.
    pub fn subscribe(
        &self,
        input: usize,
        sender: ChangeSender,
    ) -> Result<(Arc<Vec<RecordBatch>>, u64)> {
        let (rows, epoch) = {
            let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
            state.subscribers.push((sender, input));
            (state.arrangement.snapshot()?, state.epoch)
        };
        Ok((Arc::new(rows.batches()?), epoch))
    }

    /// Subscribes `sender` (tagged `input`) to the view's output changes from now
    /// on, without its current rows (a view restored from the same checkpoint as
    /// this one has them).
    pub fn subscribe_changes(&self, input: usize, sender: ChangeSender) {
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.subscribers.push((sender, input));
    }

    /// Starts a client subscription: returns the current rows and their epoch, and
    /// the feed of the changes after them (see [`super::feed`]).
    pub fn subscribe_feed(
        &self,
        limit: usize,
        progress: bool,
    ) -> Result<(Arc<Vec<RecordBatch>>, u64, FeedReceiver)> {
        self.check()?;
        let (sender, receiver) = feed(limit, progress);
        let (rows, epoch) = {
            let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
            state.feeds.push(sender);
            (state.arrangement.snapshot()?, state.epoch)
        };
        Ok((Arc::new(rows.batches()?), epoch, receiver))
    }

    /// Queues a flush marker; the receiver completes once everything queued before it
    /// is processed (or the view has stopped).
    pub fn flush_marker(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.inbox.send(Message::Flush(tx));
        rx
    }

    /// Statistics: (distinct rows, bytes of operator state, bytes of the result).
    pub fn stats(&self) -> (usize, usize, usize) {
        let (rows, state_bytes, result_bytes) = {
            let state = self.state();
            let rows = state.arrangement.spine().clone();
            (rows, state.state_bytes, state.arrangement.size())
        };
        // Counted without the view's lock (it reads every row).
        (rows.distinct_keys(), state_bytes, result_bytes)
    }

    /// The view's watermark (µs; watermarked views) and the rows dropped as late.
    pub fn watermark(&self) -> (Option<i64>, u64) {
        let state = self.state();
        (state.watermark, state.late_rows)
    }

    /// Stops the worker and waits for it.
    pub fn stop(&self) {
        let _ = self.inbox.send(Message::Stop);
        let handle = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for MaterializedView {
    fn drop(&mut self) {
        let _ = self.inbox.send(Message::Stop);
    }
}

/// Where the worker's output goes: through the window closer, when the view has
/// one, into the view.
struct Output {
    shared: Arc<Shared>,
    watermarks: Option<InputWatermarks>,
    window_closer: Option<WindowCloser>,
    /// Rows the operators dropped as late (session windows), besides the closer's.
    operator_late: u64,
    /// The credit of the source rows being applied: the changes they make go to the
    /// views reading this one with it, so the source's reader waits for those views
    /// too (see [`Backlog`](super::change::Backlog)).
    credit: Option<Arc<Credit>>,
    /// Rows dropped as late before the checkpoint the view started from.
    restored_late: u64,
    /// Per source input, the position of the rows delivered so far.
    positions: BTreeMap<usize, SourcePosition>,
}

impl Output {
    fn send(
        &mut self,
        out: &ChangeBatch,
        epoch: u64,
        errors: &mut ErrorLog,
        size: Option<usize>,
    ) -> Result<()> {
        let Some(closer) = &mut self.window_closer else {
            return publish(&self.shared, out, epoch, errors, size, self.credit.as_ref());
        };
        let now = closer.absorb(out)?;
        let nothing = || ChangeBatch::inserts(RecordBatch::new_empty(schema_of(&self.shared)));
        publish(
            &self.shared,
            &now.unwrap_or_else(nothing),
            epoch,
            errors,
            size,
            self.credit.as_ref(),
        )?;
        self.record_progress();
        Ok(())
    }

    /// Applies an input's watermark; returns the view's watermark when it advanced,
    /// after releasing the windows it closed and passing it on to subscribers.
    fn watermark(
        &mut self,
        input: usize,
        micros: i64,
        errors: &mut ErrorLog,
    ) -> Result<Option<i64>> {
        let Some(watermarks) = &mut self.watermarks else {
            return Ok(None);
        };
        let Some(watermark) = watermarks.advance(input, micros)? else {
            return Ok(None);
        };
        if let Some(closer) = &mut self.window_closer
            && let Some(closed) = closer.close(watermark)?
        {
            publish(&self.shared, &closed, 0, errors, None, None)?;
        }
        self.record_progress();
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.subscribers.retain(|(sender, input)| {
            sender
                .send(Message::Watermark {
                    input: *input,
                    micros: watermark,
                })
                .is_ok()
        });
        Ok(Some(watermark))
    }

    fn record_progress(&self) {
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.watermark = self.watermarks.as_ref().and_then(InputWatermarks::current);
        state.late_rows = self
            .window_closer
            .as_ref()
            .map_or(0, WindowCloser::late_rows)
            + self.operator_late
            + self.restored_late;
    }

    /// The view's state as of barrier epoch `epoch`, its runs to be written under
    /// `dir` (see [`TakenCheckpoint`]).
    fn checkpoint(
        &mut self,
        graph: &mut Workers,
        dir: &Path,
        epoch: u64,
    ) -> Result<TakenCheckpoint> {
        self.operator_late = graph.late_rows();
        self.record_progress();
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.arrangement.spine_mut().install_finished_merge();
        // A copy of the result (its runs are shared, not copied), so that readers
        // are not held up while the runs are written.
        let mut result = state.arrangement.spine().clone();
        let (late_rows, errors) = (state.late_rows, state.errors.entries());
        drop(state);
        let mut spines = view_spines(graph, self.window_closer.as_mut(), &mut result);
        for (_, spine) in &mut spines {
            spine.install_finished_merge();
        }
        let (state, writes) = checkpoint::plan(spines.into_iter().map(|(n, s)| (n, &*s)), dir)?;
        let checkpoint = ViewCheckpoint {
            epoch,
            state,
            watermarks: self.watermarks.as_ref().map(|w| w.inputs().to_vec()),
            late_rows,
            errors,
            sources: self.positions.clone(),
        };
        Ok(TakenCheckpoint { checkpoint, writes })
    }

    /// Replaces the view's state with the checkpoint's (see [`Inputs::restore`]).
    fn restore(&mut self, graph: &mut Workers, dir: &Path, saved: &ViewCheckpoint) -> Result<()> {
        if saved.watermarks.is_some() != self.watermarks.is_some() {
            return Err(SluiceError::Internal(format!(
                "the checkpoint in {} was taken of another plan (watermarks differ)",
                dir.display()
            )));
        }
        {
            let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
            let state = &mut *state;
            let spines = view_spines(
                graph,
                self.window_closer.as_mut(),
                state.arrangement.spine_mut(),
            );
            checkpoint::restore(spines, dir, &saved.state)?;
            state.errors = ErrorLog::from_entries(&saved.errors)?;
            state.epoch = saved.epoch;
            state.version += 1;
        }
        graph.restored();
        self.restored_late = saved.late_rows;
        self.positions = saved.sources.clone();
        if let Some(inputs) = &saved.watermarks {
            let watermarks = InputWatermarks::restore(inputs.clone());
            if let Some(watermark) = watermarks.current() {
                // What the operators and the closer derive from the watermark (the
                // thresholds that make rows late) is learnt again; everything it
                // closed was released before the checkpoint.
                graph.evict_closed(watermark)?;
                if let Some(closer) = &mut self.window_closer
                    && let Some(closed) = closer.close(watermark)?
                {
                    publish(
                        &self.shared,
                        &closed,
                        0,
                        &mut ErrorLog::default(),
                        None,
                        None,
                    )?;
                }
            }
            self.watermarks = Some(watermarks);
        }
        self.record_progress();
        Ok(())
    }
}

/// Whether `checkpoint` holds the state of a view of this plan: the same spines
/// and the same watermark tracking.
pub fn can_restore(
    graph: &mut Workers,
    closer: Option<&mut WindowCloser>,
    watermarked: bool,
    checkpoint: &ViewCheckpoint,
) -> bool {
    let mut result = Spine::new();
    let mut names: Vec<String> = view_spines(graph, closer, &mut result)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort_unstable();
    let saved: Vec<&String> = checkpoint.state.spines.keys().collect();
    names.iter().eq(saved) && checkpoint.watermarks.is_some() == watermarked
}

/// A view's spines by name: its operators', the rows its closer holds back, its
/// result. The same names for checkpoints and restores of the same plan.
fn view_spines<'a>(
    graph: &'a mut Workers,
    closer: Option<&'a mut WindowCloser>,
    result: &'a mut Spine,
) -> Vec<(String, &'a mut Spine)> {
    let mut spines: Vec<(String, &'a mut Spine)> = graph
        .spines()
        .into_iter()
        .map(|(name, spine)| (format!("operators/{name}"), spine))
        .collect();
    if let Some(closer) = closer {
        spines.push(("held".to_string(), closer.spine()));
    }
    spines.push(("result".to_string(), result));
    spines
}

/// How the worker starts: from the inputs' contents, or from a checkpoint.
enum Start {
    Backfill(Vec<Snapshot>),
    Restore(PathBuf, ViewCheckpoint),
}

/// The worker: backfill (or restore), then the inbox until `Stop` or until every
/// sender is gone. Checkpoint barriers are aligned across inputs ([`Alignment`]):
/// held messages are processed, in order, once the barrier is complete.
fn run(
    mut output: Output,
    mut graph: Workers,
    inbox: AlignedInbox,
    start: Start,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let shared = output.shared.clone();
    let mut errors = ErrorLog::default();
    let backfill = (|| -> Result<()> {
        let snapshots = match start {
            Start::Backfill(snapshots) => snapshots,
            Start::Restore(dir, checkpoint) => {
                output.restore(&mut graph, &dir, &checkpoint)?;
                return tick(&mut output, &mut graph, &mut errors);
            }
        };
        // A view over the clock starts as of now.
        tick(&mut output, &mut graph, &mut errors)?;
        if let Some(initial) = graph.initial(&mut errors)? {
            output.send(&initial, 0, &mut errors, None)?;
        }
        for (input, batches) in snapshots {
            for batch in batches.iter() {
                let change = ChangeBatch::inserts(batch.clone());
                if let Some(out) = graph.push(input, &change, &mut errors)? {
                    output.send(&out, 0, &mut errors, None)?;
                }
            }
        }
        let nothing = ChangeBatch::inserts(RecordBatch::new_empty(schema_of(&shared)));
        output.send(&nothing, 0, &mut errors, Some(graph.state_size()))
    })();
    if let Err(e) = backfill {
        fail(&shared, e);
    }
    let _ = ready.send(());

    for next in inbox {
        let message = match next {
            Next::Message(message) => message,
            Next::Barrier(barrier) => {
                complete_barrier(&mut output, &mut graph, barrier);
                continue;
            }
        };
        match message {
            Message::Change(delivery) => {
                if !failed(&shared) {
                    apply_change(&mut output, &mut graph, delivery, &mut errors);
                }
                send_progress(&shared);
            }
            Message::Watermark { input, micros } => {
                let result = output
                    .watermark(input, micros, &mut errors)
                    .and_then(|advanced| match advanced {
                        // Closed groups take no more changes (the operators drop late
                        // rows): their state is no longer needed.
                        Some(watermark) => {
                            if let Some(out) = graph.close(watermark, &mut errors)? {
                                output.operator_late = graph.late_rows();
                                output.send(&out, 0, &mut errors, Some(graph.state_size()))?;
                            }
                            graph.evict_closed(watermark)?;
                            set_state_bytes(&shared, graph.state_size());
                            Ok(())
                        }
                        None => Ok(()),
                    });
                if let Err(e) = result {
                    fail(&shared, e);
                }
                send_progress(&shared);
            }
            Message::SourcePosition { input, position } => {
                output.positions.insert(input, position);
            }
            Message::Flush(ack) => {
                // A flush shows the clock's rows as of the flush.
                if !failed(&shared)
                    && let Err(e) = tick(&mut output, &mut graph, &mut errors)
                {
                    fail(&shared, e);
                }
                let _ = ack.send(());
            }
            Message::Tick { micros } => {
                if !failed(&shared)
                    && let Err(e) = advance_clock(&mut output, &mut graph, micros, &mut errors)
                {
                    fail(&shared, e);
                }
            }
            Message::Stop => break,
            // Alignment takes barrier messages.
            Message::Barrier(_) | Message::BarrierFrom { .. } => {}
        }
    }
}

/// How often a view whose operators read the clock is ticked: rows enter and leave
/// a temporal filter's view at most this late (a `FLUSH` ticks it at once).
pub const CLOCK_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// The sending half of a view's inbox.
fn sender_of(inbox: &(ChangeSender, ChangeReceiver)) -> ChangeSender {
    inbox.0.clone()
}

/// Ticks view `name` through `inbox` every [`CLOCK_TICK`] until the view is gone.
fn start_clock(name: &str, inbox: ChangeSender) -> Result<()> {
    std::thread::Builder::new()
        .name(format!("clock-{name}"))
        .spawn(move || {
            while inbox
                .send(Message::Tick {
                    micros: wall_clock(),
                })
                .is_ok()
            {
                std::thread::sleep(CLOCK_TICK);
            }
        })?;
    Ok(())
}

/// Microseconds since the epoch, now.
fn wall_clock() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Ticks the view's clock to now, if it reads the clock.
fn tick(output: &mut Output, graph: &mut Workers, errors: &mut ErrorLog) -> Result<()> {
    if !graph.reads_clock() {
        return Ok(());
    }
    advance_clock(output, graph, wall_clock(), errors)
}

/// Moves the view's operators' clocks to `micros` and publishes what that changes.
fn advance_clock(
    output: &mut Output,
    graph: &mut Workers,
    micros: i64,
    errors: &mut ErrorLog,
) -> Result<()> {
    if let Some(out) = graph.tick(micros, errors)? {
        output.operator_late = graph.late_rows();
        output.send(&out, 0, errors, Some(graph.state_size()))?;
    }
    Ok(())
}

/// Applies one input change and publishes the output. Operators keep their state in
/// spines, which know their size without walking it: the measure is fresh after
/// every change.
fn apply_change(
    output: &mut Output,
    graph: &mut Workers,
    delivery: Delivery,
    errors: &mut ErrorLog,
) {
    let Delivery {
        epoch,
        input,
        batch,
        credit,
    } = delivery;
    let shared = output.shared.clone();
    output.credit = credit;
    let result = graph.push(input, &batch, errors).and_then(|out| {
        output.operator_late = graph.late_rows();
        let out =
            out.unwrap_or_else(|| ChangeBatch::inserts(RecordBatch::new_empty(schema_of(&shared))));
        output.send(&out, epoch, errors, Some(graph.state_size()))
    });
    // Processed: the rows no longer count against the reader (unless views reading
    // this one still hold what they made).
    output.credit = None;
    if let Err(e) = result {
        fail(&shared, e);
    }
}

/// Every input has passed `barrier`: writes the view's state (a stopped view
/// answers `None`), answers, and passes the barrier on to the views reading this
/// one, after everything this view sent before it.
fn complete_barrier(output: &mut Output, graph: &mut Workers, barrier: Barrier) {
    let Barrier {
        id,
        epoch,
        dir,
        reply,
    } = barrier;
    let result = if failed(&output.shared) {
        Ok(None)
    } else {
        output.checkpoint(graph, &dir, epoch).map(Some)
    };
    let _ = reply.send(result);
    let mut state = output
        .shared
        .state
        .write()
        .unwrap_or_else(|p| p.into_inner());
    state.subscribers.retain(|(sender, input)| {
        sender
            .send(Message::BarrierFrom { id, input: *input })
            .is_ok()
    });
}

/// Tells the client subscriptions that every change up to the view's epoch is sent.
fn send_progress(shared: &Shared) {
    // Most views have no subscription: a read lock tells, without blocking readers.
    if shared
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .feeds
        .is_empty()
    {
        return;
    }
    let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
    let epoch = state.epoch;
    state
        .feeds
        .retain(|feed| feed.send(FeedItem::Progress { epoch }));
}

fn set_state_bytes(shared: &Shared, bytes: usize) {
    shared
        .state
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .state_bytes = bytes;
}

fn schema_of(shared: &Shared) -> SchemaRef {
    shared
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .arrangement
        .schema()
}

fn failed(shared: &Shared) -> bool {
    shared
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .failure
        .is_some()
}

fn fail(shared: &Shared, error: SluiceError) {
    tracing::error!(view = %shared.name, "materialized view stopped: {error}");
    let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
    state.failure = Some(error.to_string());
    state.version += 1;
}

/// Applies `out` to the result and hands it to subscribers, atomically for readers
/// and for new subscriptions.
fn publish(
    shared: &Shared,
    out: &ChangeBatch,
    epoch: u64,
    errors: &mut ErrorLog,
    state_bytes: Option<usize>,
    credit: Option<&Arc<Credit>>,
) -> Result<()> {
    let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
    state.errors.absorb(std::mem::take(errors));
    state.epoch = state.epoch.max(epoch);
    if let Some(bytes) = state_bytes {
        state.state_bytes = bytes;
    }
    if out.is_empty() {
        return Ok(());
    }
    if !state.discard_rows {
        state.arrangement.apply(out)?;
    }
    state.version += 1;
    let epoch = state.epoch;
    state.feeds.retain(|feed| {
        feed.send(FeedItem::Change {
            epoch,
            batch: out.clone(),
        })
    });
    state.subscribers.retain(|(sender, input)| {
        let delivery = Delivery {
            epoch,
            input: *input,
            batch: out.clone(),
            credit: credit.cloned(),
        };
        sender.send(Message::Change(delivery)).is_ok()
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_expr::expressions::{CastExpr, Column};

    use super::*;
    use crate::dataflow::accumulator::AggregateKind;
    use crate::dataflow::aggregate::Aggregate;
    use crate::dataflow::graph::Node;
    use crate::dataflow::testing::{batch, bigint_call, change_of};
    use crate::dataflow::watermark::Closing;
    use crate::dataflow::watermark::testing::shifted;
    use crate::dataflow::window_close::Release;

    /// `SELECT k::timestamp, min(v), max(v), count(DISTINCT v), count(*) FROM t
    /// GROUP BY 1`; with `closing`, `k` is a window end (µs) closed by the watermark
    /// of input 0, and the view emits on window close.
    fn aggregate_view(closing: bool) -> (SchemaRef, Workers, Inputs) {
        let time = DataType::Timestamp(TimeUnit::Microsecond, None);
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let mut fields = vec![Field::new("k", time.clone(), true)];
        fields.extend(["min", "max", "distinct", "count"].map(field));
        let schema = Arc::new(Schema::new(fields));
        let v: Arc<dyn PhysicalExpr> = Arc::new(Column::new("v", 1));
        let calls = || {
            vec![
                bigint_call(AggregateKind::Min, Some(v.clone())),
                bigint_call(AggregateKind::Max, Some(v.clone())),
                bigint_call(AggregateKind::CountDistinct, Some(v.clone())),
                bigint_call(AggregateKind::Count, None),
            ]
        };
        // A window `[.., k)` closes once the watermark reaches `k`.
        let window_end = || Closing::new(vec![(0, shifted(1))]);
        let key: Arc<dyn PhysicalExpr> =
            Arc::new(CastExpr::new(Arc::new(Column::new("k", 0)), time, None));
        let tree = || Node::Operator {
            op: Box::new(
                Aggregate::try_new(vec![key.clone()], calls(), schema.clone())
                    .unwrap()
                    .closing_by(if closing { window_end() } else { None }),
            ),
            children: vec![Node::Input {
                input: 0,
                name: "t".into(),
                append_only: false,
            }],
        };
        // Two workers: the groups are spread over both.
        let graph = Workers::new(vec![tree(), tree()]).unwrap();
        let mut inputs = Inputs::default();
        if closing {
            let closing = window_end().unwrap();
            inputs.watermarks = Some(InputWatermarks::new(1));
            inputs.window_closer =
                Some(WindowCloser::try_new(schema.clone(), closing, Release::OnClose).unwrap());
        }
        (schema, graph, inputs)
    }

    async fn start(
        closing: bool,
        restore: Option<(PathBuf, ViewCheckpoint)>,
    ) -> (Arc<MaterializedView>, ChangeSender) {
        let (schema, graph, inputs) = aggregate_view(closing);
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let inputs = Inputs { restore, ..inputs };
        let view = MaterializedView::start("v", schema, graph, (sender.clone(), receiver), inputs)
            .await
            .unwrap();
        (view, sender)
    }

    /// Inserts and deletes of `(k, v)` rows over small domains (deletes remove rows
    /// that are there), one change per epoch; `k` moves up by one every 20 changes
    /// (window ends moving forward), so behind a watermark some rows are late.
    fn changes(count: usize) -> Vec<ChangeBatch> {
        let mut seed = 7_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut live: Vec<(i64, i64)> = Vec::new();
        (0..count as u64)
            .map(|i| {
                let (mut k, mut v, mut w) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..1 + next(5) {
                    let (row, weight) = if next(3) == 0 && !live.is_empty() {
                        (live.swap_remove(next(live.len() as u64) as usize), -1)
                    } else {
                        let row = ((i / 20 + next(4)) as i64, next(10) as i64);
                        live.push(row);
                        (row, 1)
                    };
                    k.push(Some(row.0));
                    v.push(Some(row.1));
                    w.push(weight);
                }
                change_of(batch(&[("k", &k), ("v", &v)]), &w)
            })
            .collect()
    }

    /// Sends the change of `epoch`; with `closing`, every 10 epochs a watermark too,
    /// a little behind the newest window ends.
    fn send(sender: &ChangeSender, closing: bool, epoch: u64, batch: &ChangeBatch) {
        let delivery = Delivery {
            epoch,
            input: 0,
            batch: batch.clone(),
            credit: None,
        };
        sender.send(Message::Change(delivery)).unwrap();
        if closing && epoch.is_multiple_of(10) {
            let micros = (epoch / 20) as i64;
            sender
                .send(Message::Watermark { input: 0, micros })
                .unwrap();
        }
    }

    /// Sends barrier `id` cutting at `epoch` and waits for the view's checkpoint.
    async fn barrier(sender: &ChangeSender, id: u64, epoch: u64, dir: &Path) -> ViewCheckpoint {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let dir = dir.to_path_buf();
        let barrier = Barrier {
            id,
            epoch,
            dir,
            reply,
        };
        sender.send(Message::Barrier(barrier)).unwrap();
        let taken = answer.await.unwrap().unwrap().expect("the view is running");
        let mut checkpoint = taken.checkpoint;
        checkpoint.state.bytes_written =
            crate::dataflow::state::RunWrite::write_all(&taken.writes).unwrap();
        checkpoint
    }

    async fn rows(view: &MaterializedView) -> Vec<String> {
        view.flush_marker().await.unwrap();
        let mut rows = Vec::new();
        for batch in view.read().unwrap().iter() {
            for row in 0..batch.num_rows() {
                let values: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, row).unwrap())
                    .collect();
                rows.push(values.join(","));
            }
        }
        rows.sort();
        rows
    }

    /// A view started from a checkpoint holds what the checkpointed view held, and
    /// then answers every later change exactly as it does — twice, the second
    /// checkpoint writing into the same directory after more changes. With
    /// `closing`, the watermark, the rows held back, the late-row count and the
    /// windows already emitted (never emitted again) are restored too.
    async fn restores_exactly(name: &str, closing: bool) {
        let dir = std::env::temp_dir().join(format!("sluice-view-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let changes = changes(300);
        let (original, to_original) = start(closing, None).await;
        let mut restored = Vec::new();
        for (epoch, change) in (1..).zip(&changes) {
            if epoch == 100 || epoch == 200 {
                let taken = barrier(&to_original, epoch, epoch - 1, &dir).await;
                assert_eq!(taken.epoch, epoch - 1);
                assert!(taken.state.bytes_written > 0);
                let (view, sender) = start(closing, Some((dir.clone(), taken))).await;
                assert_eq!(rows(&view).await, rows(&original).await);
                assert_eq!(view.watermark(), original.watermark());
                restored.push((view, sender));
            }
            send(&to_original, closing, epoch, change);
            for (_, sender) in &restored {
                send(sender, closing, epoch, change);
            }
            if epoch.is_multiple_of(50) {
                let expected = rows(&original).await;
                assert!(!expected.is_empty());
                for (view, _) in &restored {
                    assert_eq!(rows(view).await, expected, "epoch {epoch}");
                    assert_eq!(view.watermark(), original.watermark(), "epoch {epoch}");
                }
            }
        }
        if closing {
            let (watermark, late_rows) = original.watermark();
            assert!(
                watermark.is_some() && late_rows > 0,
                "the stream has late rows"
            );
        }
        for (view, _) in restored {
            view.stop();
        }
        original.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_view_restored_from_its_checkpoint_continues_exactly() {
        restores_exactly("aggregate", false).await;
    }

    #[tokio::test]
    async fn a_window_view_restored_from_its_checkpoint_closes_and_counts_as_before() {
        restores_exactly("windows", true).await;
    }
}
