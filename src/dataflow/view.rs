//! [`MaterializedView`]: a running view — its dataflow on a thread of its own, its
//! result arrangement, and the subscribers (views on this view) fed by its output.
//!
//! ```text
//!  inbox (Message) ──▶ worker thread: Node::push ──▶ Arrangement ──▶ subscribers
//!                                                       ▲
//!                                   SELECT reads a consistent version of it
//! ```
//!
//! The worker applies each input change and publishes the result under the state
//! lock, so a reader sees the view as of one epoch: every change up to it, none
//! after. Flush markers in the inbox let `FLUSH` wait for everything before them.

use std::sync::{Arc, Mutex, RwLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::logical_expr::Expr;

use super::arrangement::Arrangement;
use super::feed::{FeedItem, FeedReceiver, FeedSender, feed};
use super::graph::Node;
use super::operator::ErrorLog;
use super::window_close::{InputWatermarks, WindowCloser};
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
    /// The views this view reads.
    pub upstream: Vec<Arc<MaterializedView>>,
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
}

#[derive(Debug)]
struct ViewState {
    arrangement: Arrangement,
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
        graph: Node,
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
        } = inputs;
        let watermarked = watermarks.is_some();
        let depth = 1 + upstream.iter().map(|v| v.depth()).max().unwrap_or(0);
        let shared = Arc::new(Shared {
            name: name.to_string(),
            state: RwLock::new(ViewState {
                arrangement: Arrangement::try_new(schema.clone())?,
                errors: ErrorLog::default(),
                failure: None,
                epoch,
                version: 0,
                subscribers: Vec::new(),
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
                };
                run(output, graph, receiver, snapshots, ready_tx)
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
        let state = self.state();
        let mut cache = self.shared.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, batches)) = cache.as_ref()
            && *version == state.version
        {
            return Ok(batches.clone());
        }
        let batches = Arc::new(state.arrangement.batches()?);
        *cache = Some((state.version, batches.clone()));
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
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.subscribers.push((sender, input));
        Ok((Arc::new(state.arrangement.batches()?), state.epoch))
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
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        state.feeds.push(sender);
        Ok((
            Arc::new(state.arrangement.batches()?),
            state.epoch,
            receiver,
        ))
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
        let state = self.state();
        (
            state.arrangement.len(),
            state.state_bytes,
            state.arrangement.size(),
        )
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
            return publish(&self.shared, out, epoch, errors, size);
        };
        let now = closer.absorb(out)?;
        let nothing = || ChangeBatch::inserts(RecordBatch::new_empty(schema_of(&self.shared)));
        publish(
            &self.shared,
            &now.unwrap_or_else(nothing),
            epoch,
            errors,
            size,
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
            publish(&self.shared, &closed, 0, errors, None)?;
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
            + self.operator_late;
    }
}

/// The worker: backfill, then the inbox until `Stop` or until every sender is gone.
fn run(
    mut output: Output,
    mut graph: Node,
    mut inbox: ChangeReceiver,
    snapshots: Vec<Snapshot>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let shared = output.shared.clone();
    let mut errors = ErrorLog::default();
    let backfill = (|| -> Result<()> {
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

    // Measuring state walks all of it: do it at most once a second, never per change.
    let mut measured = std::time::Instant::now();
    while let Some(message) = inbox.blocking_recv() {
        match message {
            Message::Change(Delivery {
                epoch,
                input,
                batch,
            }) => {
                if failed(&shared) {
                    continue;
                }
                let result = graph.push(input, &batch, &mut errors).and_then(|out| {
                    output.operator_late = graph.late_rows();
                    let out = out.unwrap_or_else(|| {
                        ChangeBatch::inserts(RecordBatch::new_empty(schema_of(&shared)))
                    });
                    let size =
                        (measured.elapsed() >= std::time::Duration::from_secs(1)).then(|| {
                            measured = std::time::Instant::now();
                            graph.state_size()
                        });
                    output.send(&out, epoch, &mut errors, size)
                });
                if let Err(e) = result {
                    fail(&shared, e);
                }
                send_progress(&shared);
            }
            Message::Watermark { input, micros } => {
                let result = output
                    .watermark(input, micros, &mut errors)
                    .and_then(|advanced| match advanced {
                        // Closed groups take no more changes (the operators drop late
                        // rows): their state is no longer needed.
                        Some(watermark) => graph.evict_closed(watermark),
                        None => Ok(()),
                    });
                if let Err(e) = result {
                    fail(&shared, e);
                }
                send_progress(&shared);
            }
            Message::Flush(ack) => {
                // FLUSH is rare: refresh the state measurement, so it is exact after one.
                set_state_bytes(&shared, graph.state_size());
                let _ = ack.send(());
            }
            Message::Stop => break,
        }
    }
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
    state.arrangement.apply(out)?;
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
        };
        sender.send(Message::Change(delivery)).is_ok()
    });
    Ok(())
}
