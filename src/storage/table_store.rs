//! [`TableStore`]: a table's rows, durable through a write-ahead log, and the change
//! stream every write produces.
//!
//! ```text
//!  TableWrite::commit(change)
//!     ├─ check NOT NULL and PRIMARY KEY
//!     ├─ compute the new contents (removals matched by row value, insertions appended)
//!     ├─ append the change to wal.log + fsync          ← the write is now durable
//!     └─ under the Sequencer's lock: take an epoch, publish the new contents to
//!        readers, send (epoch, change) to every subscriber
//! ```
//!
//! Writers are serialized per table by [`TableStore::begin_write`]; readers never wait
//! for writers: [`TableStore::contents`] returns the last committed contents.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Int64Array, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::max;
use datafusion::arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};

use super::files::write_atomically;
use super::ipc;
use super::wal::{TornTail, Wal};
use crate::dataflow::change::row_codec;
use crate::dataflow::{ChangeBatch, ChangeSender, Delivery, Message, Sequencer, SequencerGuard};
use crate::error::{Result, SluiceError, sqlstate};

/// Batches smaller than this are merged with the next insert, so many one-row
/// inserts do not leave a table made of one-row batches.
const COALESCE_ROWS: usize = 8192;
/// The log is folded into a new snapshot once it grows past this many bytes.
const COMPACT_LOG_BYTES: u64 = 16 * 1024 * 1024;
/// The most a compaction keeps of the changes after the last checkpoint (see
/// [`TableStore::retain_after`]).
const MAX_RETAINED_BYTES: u64 = 4 * COMPACT_LOG_BYTES;
const SNAPSHOT_MAGIC: &[u8; 8] = b"SLSNAP01";

/// What the table's shape is: schema, primary key, and the name used in messages.
#[derive(Debug, Clone)]
pub struct TableLayout {
    /// Table name, for error messages.
    pub name: String,
    /// Column names, types and nullability.
    pub schema: SchemaRef,
    /// Indices of the primary-key columns (empty: no primary key).
    pub primary_key: Vec<usize>,
}

/// What opening a table found on disk.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Rows loaded.
    pub rows: usize,
    /// Log records replayed on top of the snapshot.
    pub replayed: usize,
    /// A torn log tail that was cut off, if any.
    pub torn_tail: Option<TornTail>,
}

/// The durable rows of one table. See the module docs.
#[derive(Debug)]
pub struct TableStore {
    layout: TableLayout,
    dir: PathBuf,
    contents: RwLock<Arc<Vec<RecordBatch>>>,
    writer: tokio::sync::Mutex<Writer>,
    sequencer: Arc<Sequencer>,
    subscribers: Mutex<Vec<(ChangeSender, usize)>>,
    /// The log sequence number of the last change sent to subscribers (set under
    /// the sequencer's lock: a checkpoint barrier reads it there).
    published_lsn: AtomicU64,
    /// The changes after the last complete checkpoint's lsn are kept in the log
    /// through compactions (views restored from it replay them); `u64::MAX`: none.
    retain_after: AtomicU64,
    /// While the server starts: the changes after the checkpoint's lsn, for the
    /// views that start from that checkpoint.
    recovered_tail: Mutex<Option<RecoveredTail>>,
    /// An append-only table's watermark, when it declares one.
    watermark: Mutex<Option<TableWatermark>>,
}

/// Per row of a batch, the values (µs since the epoch) of a table's watermark column
/// and of its watermark expression.
pub type WatermarkOfRows =
    Box<dyn Fn(&RecordBatch) -> Result<(Int64Array, Int64Array)> + Send + Sync>;

/// An append-only table's watermark: the greatest value of its watermark expression
/// over its rows. Sent to the subscribers after every write that advances it, and to
/// each new subscriber (see [`TableStore::set_watermark`]). Rows whose watermark
/// column is below it are late: an insert leaves them out, so every view over the
/// table, started before or after, sees the same rows.
struct TableWatermark {
    of_rows: WatermarkOfRows,
    current: Option<i64>,
}

impl std::fmt::Debug for TableWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TableWatermark({:?})", self.current)
    }
}

/// The changes of a table after a checkpoint's lsn, read back from its log at open.
#[derive(Debug)]
struct RecoveredTail {
    after: u64,
    /// `None` when the log no longer holds them all (folded into a snapshot).
    changes: Option<Vec<ChangeBatch>>,
}

#[derive(Debug)]
struct Writer {
    /// The log length at which it is folded into a snapshot next: 16 MiB past what
    /// the last compaction kept.
    compact_at: u64,
    wal: Arc<Mutex<Wal>>,
    next_lsn: u64,
    row_codec: RowConverter,
    key_codec: Option<RowConverter>,
    keys: HashSet<Box<[u8]>>,
}

impl TableStore {
    /// Creates an empty table in `dir` (which must not hold a table yet).
    pub fn create(
        dir: &Path,
        layout: TableLayout,
        sequencer: Arc<Sequencer>,
    ) -> Result<TableStore> {
        std::fs::create_dir_all(dir)?;
        // Make the new directory itself durable before anything refers to it.
        super::files::sync_parent(dir)?;
        let wal = Wal::create(&dir.join("wal.log"))?;
        Self::assemble(dir, layout, Vec::new(), wal, 1, sequencer)
    }

    /// Opens the table stored in `dir` like [`TableStore::open`], also keeping the
    /// changes after lsn `checkpoint` (a checkpoint's) for [`TableStore::subscribe_after`].
    pub fn open_after_checkpoint(
        dir: &Path,
        layout: TableLayout,
        sequencer: Arc<Sequencer>,
        checkpoint: u64,
    ) -> Result<(TableStore, RecoveryReport)> {
        Self::open_keeping(dir, layout, sequencer, Some(checkpoint))
    }

    /// Opens the table stored in `dir`: loads its snapshot and replays its log.
    pub fn open(
        dir: &Path,
        layout: TableLayout,
        sequencer: Arc<Sequencer>,
    ) -> Result<(TableStore, RecoveryReport)> {
        Self::open_keeping(dir, layout, sequencer, None)
    }

    fn open_keeping(
        dir: &Path,
        layout: TableLayout,
        sequencer: Arc<Sequencer>,
        checkpoint: Option<u64>,
    ) -> Result<(TableStore, RecoveryReport)> {
        let (snapshot, snapshot_lsn) = read_snapshot(&dir.join("snapshot.arrow"))?;
        let mut contents = snapshot
            .iter()
            .map(|batch| conformed(&layout.schema, batch))
            .collect::<Result<Vec<_>>>()?;
        let (wal, recovery) = Wal::open(&dir.join("wal.log"))?;
        let codec = row_codec(layout.schema.fields())?;
        let mut next_lsn = snapshot_lsn + 1;
        let mut replayed = 0;
        // The log holds every change after the snapshot, and after the checkpoint
        // it kept through compactions: the tail is complete when it starts there.
        let first_logged = recovery.records.first().map(|r| r.lsn);
        let tail = checkpoint.map(|after| RecoveredTail {
            after,
            changes: (after >= snapshot_lsn || first_logged.is_some_and(|f| f <= after + 1))
                .then(Vec::new),
        });
        let mut tail = tail;
        for record in recovery.records {
            let in_tail = tail.as_ref().is_some_and(|t| record.lsn > t.after);
            if record.lsn <= snapshot_lsn && !in_tail {
                continue; // already folded into the snapshot
            }
            let stored = ipc::decode(&record.payload)?;
            let change = ChangeBatch::from_weighted_batch(&stored)?;
            let change = conform(&layout.schema, &change)?;
            if in_tail && let Some(changes) = tail.as_mut().and_then(|t| t.changes.as_mut()) {
                changes.push(change.clone());
            }
            if record.lsn <= snapshot_lsn {
                continue;
            }
            contents = apply(&codec, &contents, &change)?;
            next_lsn = record.lsn + 1;
            replayed += 1;
        }
        let report = RecoveryReport {
            rows: contents.iter().map(RecordBatch::num_rows).sum(),
            replayed,
            torn_tail: recovery.torn_tail,
        };
        let store = Self::assemble(dir, layout, contents, wal, next_lsn, sequencer)?;
        if let Some(tail) = &tail {
            store.retain_after(tail.after);
        }
        *store.lock_tail() = tail;
        Ok((store, report))
    }

    fn assemble(
        dir: &Path,
        layout: TableLayout,
        contents: Vec<RecordBatch>,
        wal: Wal,
        next_lsn: u64,
        sequencer: Arc<Sequencer>,
    ) -> Result<TableStore> {
        let key_codec = if layout.primary_key.is_empty() {
            None
        } else {
            Some(key_codec(&layout)?)
        };
        let mut keys = HashSet::new();
        if let Some(codec) = &key_codec {
            for batch in &contents {
                let rows = codec.convert_columns(&key_columns(&layout, batch))?;
                keys.extend(rows.iter().map(|r| Box::<[u8]>::from(r.as_ref())));
            }
        }
        let writer = Writer {
            wal: Arc::new(Mutex::new(wal)),
            next_lsn,
            compact_at: COMPACT_LOG_BYTES,
            row_codec: row_codec(layout.schema.fields())?,
            key_codec,
            keys,
        };
        Ok(TableStore {
            layout,
            dir: dir.to_path_buf(),
            contents: RwLock::new(Arc::new(contents)),
            writer: tokio::sync::Mutex::new(writer),
            sequencer,
            subscribers: Mutex::new(Vec::new()),
            published_lsn: AtomicU64::new(next_lsn - 1),
            retain_after: AtomicU64::new(u64::MAX),
            recovered_tail: Mutex::new(None),
            watermark: Mutex::new(None),
        })
    }

    /// Gives the table a watermark, computed by `of_rows` (see [`TableWatermark`]):
    /// its value over the current rows now, then advanced by every write.
    pub fn set_watermark(&self, of_rows: WatermarkOfRows) -> Result<()> {
        let mut current: Option<i64> = None;
        for batch in self.contents().iter() {
            if let Some(m) = max(&of_rows(batch)?.1) {
                current = Some(current.map_or(m, |c| c.max(m)));
            }
        }
        *self.lock_watermark() = Some(TableWatermark { of_rows, current });
        Ok(())
    }

    /// The table's watermark (µs): `None` without one, or before its first row.
    pub fn watermark(&self) -> Option<i64> {
        self.lock_watermark().as_ref().and_then(|w| w.current)
    }

    /// True when the table declares a watermark.
    pub fn has_watermark(&self) -> bool {
        self.lock_watermark().is_some()
    }

    /// Moves the watermark to `to` if it is later, telling the subscribers (called
    /// under the sequencer's lock, after the write that carried it).
    fn advance_watermark(&self, to: Option<i64>) {
        let Some(to) = to else { return };
        let mut watermark = self.lock_watermark();
        let Some(watermark) = watermark.as_mut() else {
            return;
        };
        if watermark.current.is_some_and(|c| c >= to) {
            return;
        }
        watermark.current = Some(to);
        self.lock_subscribers().retain(|(sender, input)| {
            sender
                .send(Message::Watermark {
                    input: *input,
                    micros: to,
                })
                .is_ok()
        });
    }

    fn lock_watermark(&self) -> std::sync::MutexGuard<'_, Option<TableWatermark>> {
        self.watermark.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells a new subscriber the watermark so far, after what it was sent.
    fn send_watermark(&self, sender: &ChangeSender, input: usize) {
        if let Some(micros) = self.watermark() {
            let _ = sender.send(Message::Watermark { input, micros });
        }
    }

    /// The lsn of the last change sent to subscribers; read it under the sequencer's
    /// lock (`order`) to know which changes a view subscribed then has seen.
    pub fn published_lsn(&self, order: &SequencerGuard<'_>) -> u64 {
        let _ = order;
        self.published_lsn.load(Ordering::Acquire)
    }

    /// Keeps the changes after `lsn` in the log from now on (the last complete
    /// checkpoint's lsn for this table).
    pub fn retain_after(&self, lsn: u64) {
        self.retain_after.store(lsn, Ordering::Release);
    }

    /// Subscribes `sender` (tagged `input`) like [`TableStore::subscribe`], but
    /// instead of the contents it first sends the changes after lsn `lsn` (kept at
    /// open, see [`TableStore::open_after_checkpoint`]). False, subscribing nothing,
    /// when they are not all known.
    pub fn subscribe_after(
        &self,
        order: &mut SequencerGuard<'_>,
        input: usize,
        sender: ChangeSender,
        lsn: u64,
    ) -> bool {
        let Some(changes) = self.changes_after(order, lsn) else {
            return false;
        };
        for batch in changes {
            let delivery = Delivery {
                epoch: order.next_epoch(),
                input,
                batch,
                credit: None,
            };
            let _ = sender.send(Message::Change(delivery));
        }
        self.send_watermark(&sender, input);
        self.lock_subscribers().push((sender, input));
        true
    }

    /// Whether [`TableStore::subscribe_after`] can start from lsn `lsn`.
    pub fn has_changes_after(&self, order: &SequencerGuard<'_>, lsn: u64) -> bool {
        self.changes_after(order, lsn).is_some()
    }

    /// The changes after lsn `lsn`: none when it is the last published one, those
    /// kept at open when it is their checkpoint's; `None` when they are not known.
    fn changes_after(&self, order: &SequencerGuard<'_>, lsn: u64) -> Option<Vec<ChangeBatch>> {
        if lsn == self.published_lsn(order) {
            return Some(Vec::new());
        }
        match &*self.lock_tail() {
            Some(RecoveredTail {
                after,
                changes: Some(changes),
            }) if *after == lsn => Some(changes.clone()),
            _ => None,
        }
    }

    /// Frees the changes kept at open (once every view has started).
    pub fn forget_recovered_changes(&self) {
        *self.lock_tail() = None;
    }

    fn lock_tail(&self) -> std::sync::MutexGuard<'_, Option<RecoveredTail>> {
        self.recovered_tail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The table's layout.
    pub fn layout(&self) -> &TableLayout {
        &self.layout
    }

    /// The directory holding the table's files (`tables/<id>/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The table's schema.
    pub fn schema(&self) -> SchemaRef {
        self.layout.schema.clone()
    }

    /// The contents as of the last committed write.
    pub fn contents(&self) -> Arc<Vec<RecordBatch>> {
        match self.contents.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Waits for exclusive write access. Hold the returned guard across a
    /// read-modify-write (UPDATE, DELETE) so no other write slips in between.
    pub async fn begin_write(&self) -> TableWrite<'_> {
        TableWrite {
            store: self,
            writer: self.writer.lock().await,
        }
    }

    /// Subscribes `sender` to every future change, tagged with `input`, and returns
    /// the contents at the moment of subscription: the contents plus the changes
    /// received add up to the table, with no change missed or seen twice. Taking the
    /// sequencer's lock (`order`) for several subscriptions makes them one atomic step.
    pub fn subscribe(
        &self,
        order: &SequencerGuard<'_>,
        input: usize,
        sender: ChangeSender,
    ) -> Arc<Vec<RecordBatch>> {
        let _ = order;
        self.send_watermark(&sender, input);
        self.lock_subscribers().push((sender, input));
        self.contents()
    }

    /// The sequencer this table's changes are ordered by.
    pub fn sequencer(&self) -> &Arc<Sequencer> {
        &self.sequencer
    }

    fn lock_subscribers(&self) -> std::sync::MutexGuard<'_, Vec<(ChangeSender, usize)>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes the table's files.
    pub fn destroy(&self) -> Result<()> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)?;
        }
        Ok(())
    }

    fn publish(&self, contents: Vec<RecordBatch>) {
        let contents = Arc::new(contents);
        match self.contents.write() {
            Ok(mut guard) => *guard = contents,
            Err(poisoned) => *poisoned.into_inner() = contents,
        }
    }
}

/// Who holds a proposed row's primary key; see [`TableWrite::key_holders`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHolder {
    /// Nobody: the row can be inserted.
    Nobody,
    /// A stored row.
    Stored,
    /// An earlier proposed row (and a stored row too, or not).
    Earlier { stored: bool },
}

/// A change that passed its table's constraints ([`TableWrite::check`]), in the
/// table's exact schema.
#[derive(Debug)]
pub struct CheckedChange {
    change: ChangeBatch,
    /// The primary-key index's removed and added keys (`None`: no primary key).
    new_keys: Option<KeyChanges>,
}

/// The keys a change removes from a primary-key index, and those it adds.
type KeyChanges = (Vec<Box<[u8]>>, Vec<Box<[u8]>>);

impl CheckedChange {
    /// The change.
    pub fn change(&self) -> &ChangeBatch {
        &self.change
    }
}

/// Exclusive write access to one table; see [`TableStore::begin_write`].
pub struct TableWrite<'a> {
    store: &'a TableStore,
    writer: tokio::sync::MutexGuard<'a, Writer>,
}

impl TableWrite<'_> {
    /// `inserts` without the rows that are late for the table's watermark (see
    /// [`TableWatermark`]), and how many were left out.
    pub fn without_late(&self, inserts: ChangeBatch) -> Result<(ChangeBatch, usize)> {
        let watermark = self.store.lock_watermark();
        let Some(TableWatermark {
            of_rows,
            current: Some(current),
        }) = &*watermark
        else {
            return Ok((inserts, 0));
        };
        let (times, _) = of_rows(inserts.data())?;
        let on_time: BooleanArray = times
            .iter()
            .map(|t| Some(t.is_none_or(|t| t >= *current)))
            .collect();
        let late = on_time.false_count();
        if late == 0 {
            return Ok((inserts, 0));
        }
        let data = filter_record_batch(inserts.data(), &on_time)?;
        let weights = datafusion::arrow::compute::filter(inserts.weights(), &on_time)?;
        let weights = weights
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .clone();
        Ok((ChangeBatch::try_new(data, weights)?, late))
    }

    /// Who holds the primary key of each of `rows` (in the table's columns), for
    /// `INSERT … ON CONFLICT`: an earlier one of `rows`, a stored row, or nobody
    /// (all nobody for a table without a primary key).
    pub fn key_holders(&self, rows: &RecordBatch) -> Result<Vec<KeyHolder>> {
        let Some(codec) = &self.writer.key_codec else {
            return Ok(vec![KeyHolder::Nobody; rows.num_rows()]);
        };
        let keys = codec.convert_columns(&key_columns(&self.store.layout, rows))?;
        let mut proposed: HashSet<&[u8]> = HashSet::new();
        Ok(keys
            .iter()
            .map(|key| {
                let key = key.data();
                let stored = self.writer.keys.contains(key);
                if !proposed.insert(key) {
                    KeyHolder::Earlier { stored }
                } else if stored {
                    KeyHolder::Stored
                } else {
                    KeyHolder::Nobody
                }
            })
            .collect())
    }

    /// The stored rows whose primary key is one of `rows`' (reads every stored row).
    pub fn stored_rows_keyed_like(&self, rows: &RecordBatch) -> Result<RecordBatch> {
        let layout = &self.store.layout;
        let schema = layout.schema.clone();
        let Some(codec) = &self.writer.key_codec else {
            return Ok(RecordBatch::new_empty(schema));
        };
        let wanted_keys = codec.convert_columns(&key_columns(layout, rows))?;
        let wanted: HashSet<&[u8]> = wanted_keys.iter().map(|k| k.data()).collect();
        let mut found = Vec::new();
        for batch in self.store.contents().iter() {
            let keys = codec.convert_columns(&key_columns(layout, batch))?;
            let mask: BooleanArray = keys
                .iter()
                .map(|k| Some(wanted.contains(k.as_ref())))
                .collect();
            if mask.true_count() > 0 {
                found.push(filter_record_batch(batch, &mask)?);
            }
        }
        Ok(concat_batches(&schema, &found)?)
    }

    /// The contents this write starts from.
    pub fn contents(&self) -> Arc<Vec<RecordBatch>> {
        self.store.contents()
    }

    /// Checks constraints, makes `change` durable, applies it and publishes it.
    /// Nothing is written when a check fails.
    pub async fn commit(&mut self, change: ChangeBatch) -> Result<()> {
        let checked = self.check(change)?;
        self.commit_checked(checked).await
    }

    /// Checks `change` against the table's constraints, for
    /// [`TableWrite::commit_checked`] (what the write returns is computed between).
    pub fn check(&self, change: ChangeBatch) -> Result<CheckedChange> {
        let layout = &self.store.layout;
        let change = conform(&layout.schema, &change)?;
        check_not_null(layout, &change)?;
        let new_keys = self.check_primary_key(&change)?;
        Ok(CheckedChange { change, new_keys })
    }

    /// Makes a checked change durable, applies it and publishes it.
    pub async fn commit_checked(&mut self, checked: CheckedChange) -> Result<()> {
        let CheckedChange { change, new_keys } = checked;
        if change.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let contents = apply(&self.writer.row_codec, &store.contents(), &change)?;
        // Before the write is durable: a row whose watermark fails fails the write.
        let change_watermark = match &*store.lock_watermark() {
            Some(watermark) => max(&(watermark.of_rows)(change.data())?.1),
            None => None,
        };

        let lsn = self.writer.next_lsn;
        let payload = ipc::encode(&change.to_weighted_batch()?)?;
        let wal = self.writer.wal.clone();
        tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut wal = wal
                .lock()
                .map_err(|_| SluiceError::Internal("log writer poisoned".into()))?;
            wal.append(lsn, &payload)?;
            Ok(wal.len())
        })
        .await
        .map_err(|e| SluiceError::Internal(format!("log writer task failed: {e}")))??;
        self.writer.next_lsn += 1;

        if let Some((removed, added)) = new_keys {
            for key in removed {
                self.writer.keys.remove(&key);
            }
            self.writer.keys.extend(added);
        }
        {
            let mut order = store.sequencer.lock();
            let epoch = order.next_epoch();
            store.publish(contents);
            store.published_lsn.store(lsn, Ordering::Release);
            store.lock_subscribers().retain(|(sender, input)| {
                let delivery = Delivery {
                    epoch,
                    input: *input,
                    batch: change.clone(),
                    credit: None,
                };
                sender.send(Message::Change(delivery)).is_ok()
            });
            store.advance_watermark(change_watermark);
        }
        // The write is durable and visible; a failed compaction must not turn it into
        // an error. The log keeps everything, so the next write retries compaction.
        if let Err(e) = self.maybe_compact().await {
            tracing::warn!(table = %store.layout.name, "log compaction failed: {e}");
        }
        Ok(())
    }

    /// Rejects a change that would leave two rows with one key; returns the keys it
    /// removes and adds so the index can follow once the change is durable.
    fn check_primary_key(&self, change: &ChangeBatch) -> Result<Option<KeyChanges>> {
        let Some(codec) = &self.writer.key_codec else {
            return Ok(None);
        };
        let layout = &self.store.layout;
        let (added, removed) = change.split()?;
        let removed_keys: HashSet<Box<[u8]>> = codec
            .convert_columns(&key_columns(layout, &removed))?
            .iter()
            .map(|r| Box::from(r.as_ref()))
            .collect();
        let added_rows = codec.convert_columns(&key_columns(layout, &added))?;
        let mut added_keys = HashSet::new();
        for (i, key) in added_rows.iter().enumerate() {
            let key: Box<[u8]> = Box::from(key.as_ref());
            let taken = self.writer.keys.contains(&key) && !removed_keys.contains(&key);
            if taken || !added_keys.insert(key) {
                return Err(SluiceError::Constraint {
                    code: sqlstate::UNIQUE_VIOLATION,
                    message: format!(
                        "duplicate key value violates unique constraint \"{}_pkey\": Key ({})=({}) already exists.",
                        layout.name,
                        key_names(layout),
                        key_values(layout, &added, i)
                    ),
                });
            }
        }
        Ok(Some((
            removed_keys.into_iter().collect(),
            added_keys.into_iter().collect(),
        )))
    }

    async fn maybe_compact(&mut self) -> Result<()> {
        let wal_len = self
            .writer
            .wal
            .lock()
            .map_err(|_| SluiceError::Internal("log writer poisoned".into()))?
            .len();
        if wal_len < self.writer.compact_at {
            return Ok(());
        }
        let store = self.store;
        let contents = store.contents();
        let schema = store.schema();
        let lsn = self.writer.next_lsn - 1;
        let dir = store.dir.clone();
        let wal = self.writer.wal.clone();
        let retain_after = store.retain_after.load(Ordering::Acquire);
        let table = store.layout.name.clone();
        let new_len = tokio::task::spawn_blocking(move || -> Result<u64> {
            write_snapshot(&dir.join("snapshot.arrow"), &schema, &contents, lsn)?;
            let mut wal = wal
                .lock()
                .map_err(|_| SluiceError::Internal("log writer poisoned".into()))?;
            // The changes after the last checkpoint stay: a view restored from it
            // replays them. Not beyond a bound: when checkpoints are off or keep
            // failing, the log would otherwise grow without end (such views are
            // rebuilt at the next start instead).
            let mut kept = if retain_after < lsn {
                wal.records()?
            } else {
                Vec::new()
            };
            kept.retain(|r| r.lsn > retain_after);
            let kept_bytes: usize = kept.iter().map(|r| r.payload.len()).sum();
            if kept_bytes as u64 > MAX_RETAINED_BYTES {
                tracing::warn!(
                    table = %table,
                    "the table's log no longer keeps its changes after the last checkpoint \
                     (no checkpoint for a long time): views reading it will be rebuilt at \
                     the next start unless a checkpoint completes first"
                );
                kept.clear();
            }
            *wal = Wal::create_with(&dir.join("wal.log"), &kept)?;
            Ok(wal.len())
        })
        .await
        .map_err(|e| SluiceError::Internal(format!("compaction task failed: {e}")))??;
        self.writer.compact_at = new_len + COMPACT_LOG_BYTES;
        Ok(())
    }
}

fn key_codec(layout: &TableLayout) -> Result<RowConverter> {
    let fields = layout
        .primary_key
        .iter()
        .map(|&i| SortField::new(layout.schema.field(i).data_type().clone()))
        .collect();
    Ok(RowConverter::new(fields)?)
}

fn key_columns(layout: &TableLayout, batch: &RecordBatch) -> Vec<Arc<dyn Array>> {
    layout
        .primary_key
        .iter()
        .map(|&i| batch.column(i).clone())
        .collect()
}

fn key_names(layout: &TableLayout) -> String {
    let names: Vec<&str> = layout
        .primary_key
        .iter()
        .map(|&i| layout.schema.field(i).name().as_str())
        .collect();
    names.join(", ")
}

fn key_values(layout: &TableLayout, batch: &RecordBatch, row: usize) -> String {
    use datafusion::arrow::util::display::array_value_to_string;
    let values: Vec<String> = layout
        .primary_key
        .iter()
        .map(|&i| array_value_to_string(batch.column(i), row).unwrap_or_default())
        .collect();
    values.join(", ")
}

/// The change with the table's exact schema (field names and nullability), so stored
/// batches are uniform whatever plan produced them.
fn conform(schema: &SchemaRef, change: &ChangeBatch) -> Result<ChangeBatch> {
    ChangeBatch::try_new(conformed(schema, change.data())?, change.weights().clone())
}

/// `data` with the table's exact schema, its columns cast where their type differs (a
/// plan's, or an older version's way of storing the type: an unconstrained `NUMERIC`
/// was 128 bits wide).
fn conformed(schema: &SchemaRef, data: &RecordBatch) -> Result<RecordBatch> {
    if data.schema().fields().len() != schema.fields().len() {
        return Err(SluiceError::Internal(format!(
            "change has {} columns, table has {}",
            data.num_columns(),
            schema.fields().len()
        )));
    }
    let mut columns = Vec::with_capacity(data.num_columns());
    for (column, field) in data.columns().iter().zip(schema.fields()) {
        if column.data_type() == field.data_type() {
            columns.push(column.clone());
        } else {
            columns.push(datafusion::arrow::compute::cast(column, field.data_type())?);
        }
    }
    // A NULL in a NOT NULL column keeps the batch, so that check_not_null can say where.
    crate::dataflow::change::batch_in(schema, columns, data.num_rows())
}

fn check_not_null(layout: &TableLayout, change: &ChangeBatch) -> Result<()> {
    for (column, field) in change.data().columns().iter().zip(layout.schema.fields()) {
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(SluiceError::Constraint {
                code: sqlstate::NOT_NULL_VIOLATION,
                message: format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    field.name(),
                    layout.name
                ),
            });
        }
    }
    Ok(())
}

/// Applies `change` to `contents`: each removed row takes away one stored row equal to
/// it; inserted rows are appended (repeated by their weight).
fn apply(
    codec: &RowConverter,
    contents: &[RecordBatch],
    change: &ChangeBatch,
) -> Result<Vec<RecordBatch>> {
    let (added, removed) = change.split()?;
    let mut out: Vec<RecordBatch> = if removed.num_rows() == 0 {
        contents.to_vec()
    } else {
        remove_rows(codec, contents, change, &removed)?
    };
    if added.num_rows() > 0 {
        let added = repeat_by_weight(change, &added)?;
        match out.last() {
            Some(last) if last.num_rows() < COALESCE_ROWS => {
                let merged = concat_batches(&added.schema(), [last, &added])?;
                let end = out.len() - 1;
                out[end] = merged;
            }
            _ => out.push(added),
        }
    }
    Ok(out)
}

fn remove_rows(
    codec: &RowConverter,
    contents: &[RecordBatch],
    change: &ChangeBatch,
    removed: &RecordBatch,
) -> Result<Vec<RecordBatch>> {
    let weights: Vec<i64> = change
        .weights()
        .values()
        .iter()
        .copied()
        .filter(|w| *w < 0)
        .collect();
    let mut pending: HashMap<Box<[u8]>, i64> = HashMap::new();
    let rows = codec.convert_columns(removed.columns())?;
    for (row, weight) in rows.iter().zip(weights) {
        *pending.entry(Box::from(row.as_ref())).or_default() += -weight;
    }
    let mut remaining: i64 = pending.values().sum();
    let mut out = Vec::with_capacity(contents.len());
    for batch in contents {
        if remaining == 0 {
            out.push(batch.clone());
            continue;
        }
        let rows = codec.convert_columns(batch.columns())?;
        let keep: datafusion::arrow::array::BooleanArray = rows
            .iter()
            .map(|row| match pending.get_mut(row.as_ref()) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    remaining -= 1;
                    Some(false)
                }
                _ => Some(true),
            })
            .collect();
        let kept = filter_record_batch(batch, &keep)?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    if remaining > 0 {
        return Err(SluiceError::Internal(format!(
            "change removes {remaining} row(s) the table does not hold"
        )));
    }
    Ok(out)
}

fn repeat_by_weight(change: &ChangeBatch, added: &RecordBatch) -> Result<RecordBatch> {
    let weights: Vec<i64> = change
        .weights()
        .values()
        .iter()
        .copied()
        .filter(|w| *w > 0)
        .collect();
    if weights.iter().all(|&w| w == 1) {
        return Ok(added.clone());
    }
    let indices: UInt32Array = weights
        .iter()
        .enumerate()
        .flat_map(|(i, &w)| std::iter::repeat_n(i as u32, w as usize))
        .collect();
    Ok(take_record_batch(added, &indices)?)
}

fn write_snapshot(
    path: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    lsn: u64,
) -> Result<()> {
    let body = ipc::encode_all(schema, batches)?;
    let mut bytes = Vec::with_capacity(body.len() + 20);
    bytes.extend_from_slice(SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&lsn.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    write_atomically(path, &bytes)
}

fn read_snapshot(path: &Path) -> Result<(Vec<RecordBatch>, u64)> {
    if !path.exists() {
        return Ok((Vec::new(), 0));
    }
    let bytes = std::fs::read(path)?;
    let corrupt = |reason: &str| SluiceError::Corrupt {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    if bytes.len() < 20 || &bytes[..8] != SNAPSHOT_MAGIC {
        return Err(corrupt("missing snapshot header"));
    }
    let lsn = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
    let body = &bytes[20..];
    if crc32fast::hash(body) != crc {
        return Err(corrupt("snapshot fails its checksum"));
    }
    Ok((ipc::decode_all(body)?, lsn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn layout() -> TableLayout {
        TableLayout {
            name: "t".into(),
            schema: Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int32, false),
                Field::new("name", DataType::Utf8, true),
            ])),
            primary_key: vec![0],
        }
    }

    fn rows(ids: &[i32], names: &[&str]) -> RecordBatch {
        RecordBatch::try_new(
            layout().schema,
            vec![
                Arc::new(Int32Array::from(ids.to_vec())),
                Arc::new(StringArray::from(names.to_vec())),
            ],
        )
        .unwrap()
    }

    fn sorted_ids(store: &TableStore) -> Vec<i32> {
        let mut ids: Vec<i32> = store
            .contents()
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn writes_survive_reopen_and_emit_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::create(dir.path(), layout(), Arc::default()).unwrap();
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let initial = store.subscribe(&store.sequencer().lock(), 7, tx);
        assert!(initial.is_empty());

        let mut write = store.begin_write().await;
        write
            .commit(ChangeBatch::inserts(rows(&[1, 2, 3], &["a", "b", "c"])))
            .await
            .unwrap();
        write
            .commit(ChangeBatch::replace(&rows(&[2], &["b"]), &rows(&[2], &["B"])).unwrap())
            .await
            .unwrap();
        let delete = ChangeBatch::try_new(rows(&[3], &["c"]), Int64Array::from(vec![-1])).unwrap();
        write.commit(delete).await.unwrap();
        drop(write);

        let deliveries: Vec<Delivery> = (0..3)
            .map(|_| match changes.try_recv().unwrap() {
                Message::Change(d) => d,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let weights: Vec<Vec<i64>> = deliveries
            .iter()
            .map(|d| d.batch.weights().values().to_vec())
            .collect();
        assert_eq!(weights, vec![vec![1, 1, 1], vec![-1, 1], vec![-1]]);
        let epochs: Vec<u64> = deliveries.iter().map(|d| d.epoch).collect();
        assert_eq!(epochs, vec![1, 2, 3]);
        assert!(deliveries.iter().all(|d| d.input == 7));
        assert_eq!(sorted_ids(&store), vec![1, 2]);

        drop(store);
        let (reopened, report) = TableStore::open(dir.path(), layout(), Arc::default()).unwrap();
        assert_eq!(report.replayed, 3);
        assert_eq!(sorted_ids(&reopened), vec![1, 2]);
        let names = reopened.contents()[0].column(1).clone();
        let names = names.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(names.iter().any(|n| n == Some("B")));
    }

    #[tokio::test]
    async fn duplicate_keys_and_nulls_are_refused_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::create(dir.path(), layout(), Arc::default()).unwrap();
        let mut write = store.begin_write().await;
        write
            .commit(ChangeBatch::inserts(rows(&[1], &["a"])))
            .await
            .unwrap();
        let err = write
            .commit(ChangeBatch::inserts(rows(&[1], &["again"])))
            .await
            .unwrap_err();
        assert_eq!(err.sqlstate(), sqlstate::UNIQUE_VIOLATION);
        let err = write
            .commit(ChangeBatch::inserts(rows(&[5, 5], &["x", "y"])))
            .await
            .unwrap_err();
        assert_eq!(err.sqlstate(), sqlstate::UNIQUE_VIOLATION);

        let nullable_schema = crate::dataflow::change::nullable(&layout().schema);
        let with_null = RecordBatch::try_new(
            nullable_schema,
            vec![
                Arc::new(Int32Array::from(vec![None])),
                Arc::new(StringArray::from(vec![Some("n")])),
            ],
        )
        .unwrap();
        let err = write
            .commit(ChangeBatch::inserts(with_null))
            .await
            .unwrap_err();
        assert_eq!(err.sqlstate(), sqlstate::NOT_NULL_VIOLATION);
        // Re-inserting a key after deleting it in the same change is fine.
        write
            .commit(ChangeBatch::replace(&rows(&[1], &["a"]), &rows(&[1], &["z"])).unwrap())
            .await
            .unwrap();
        drop(write);
        let (reopened, _) = TableStore::open(dir.path(), layout(), Arc::default()).unwrap();
        assert_eq!(sorted_ids(&reopened), vec![1]);
    }

    #[tokio::test]
    async fn snapshot_and_log_combine_after_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::create(dir.path(), layout(), Arc::default()).unwrap();
        let mut write = store.begin_write().await;
        write
            .commit(ChangeBatch::inserts(rows(&[1, 2], &["a", "b"])))
            .await
            .unwrap();
        let contents = write.contents();
        write_snapshot(
            &dir.path().join("snapshot.arrow"),
            &store.schema(),
            &contents,
            1,
        )
        .unwrap();
        write
            .commit(ChangeBatch::inserts(rows(&[3], &["c"])))
            .await
            .unwrap();
        drop(write);
        let (reopened, report) = TableStore::open(dir.path(), layout(), Arc::default()).unwrap();
        assert_eq!(report.replayed, 1, "record 1 is inside the snapshot");
        assert_eq!(sorted_ids(&reopened), vec![1, 2, 3]);
    }

    /// A snapshot written with a column stored as another type (an older version's
    /// 128-bit unconstrained NUMERIC, here a smallint) is read as the table's type.
    #[tokio::test]
    async fn a_snapshot_of_an_older_column_type_is_read_as_the_table_type() {
        let dir = tempfile::tempdir().unwrap();
        let older = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int16, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            older.clone(),
            vec![
                Arc::new(datafusion::arrow::array::Int16Array::from(vec![7, 8])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        TableStore::create(dir.path(), layout(), Arc::default()).unwrap();
        write_snapshot(&dir.path().join("snapshot.arrow"), &older, &[batch], 0).unwrap();
        let (reopened, report) = TableStore::open(dir.path(), layout(), Arc::default()).unwrap();
        assert_eq!(report.rows, 2);
        assert_eq!(sorted_ids(&reopened), vec![7, 8]);
        let mut write = reopened.begin_write().await;
        write
            .commit(ChangeBatch::inserts(rows(&[9], &["c"])))
            .await
            .unwrap();
        assert!(
            write
                .contents()
                .iter()
                .all(|b| b.schema() == layout().schema)
        );
    }

    /// A view restored from a checkpoint taken at lsn 1 gets the changes after it
    /// (the log kept them, also those a later snapshot folded in); from a
    /// checkpoint the log no longer covers, it gets nothing and must be rebuilt.
    #[tokio::test]
    async fn the_changes_after_a_checkpoint_are_replayed_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::create(dir.path(), layout(), Arc::default()).unwrap();
        let mut write = store.begin_write().await;
        for id in 1..=3 {
            write
                .commit(ChangeBatch::inserts(rows(&[id], &["x"])))
                .await
                .unwrap();
        }
        // A compaction after a checkpoint at lsn 1: the snapshot holds lsn 3, the
        // log keeps what came after the checkpoint.
        let contents = write.contents();
        write_snapshot(
            &dir.path().join("snapshot.arrow"),
            &store.schema(),
            &contents,
            3,
        )
        .unwrap();
        let mut kept = write.writer.wal.lock().unwrap().records().unwrap();
        kept.retain(|r| r.lsn > 1);
        Wal::create_with(&dir.path().join("wal.log"), &kept).unwrap();
        drop(write);
        drop(store);

        let sequencer = Arc::new(Sequencer::default());
        let (store, report) =
            TableStore::open_after_checkpoint(dir.path(), layout(), sequencer.clone(), 1).unwrap();
        assert_eq!(report.replayed, 0, "everything is in the snapshot");
        assert_eq!(sorted_ids(&store), vec![1, 2, 3]);
        let mut order = sequencer.lock();
        assert_eq!(store.published_lsn(&order), 3);
        assert!(store.has_changes_after(&order, 3), "nothing after the last");
        assert!(!store.has_changes_after(&order, 0), "lsn 1 is gone");
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        assert!(store.subscribe_after(&mut order, 4, tx, 1));
        let replayed: Vec<i32> = std::iter::from_fn(|| changes.try_recv().ok())
            .map(|m| match m {
                Message::Change(d) => {
                    assert_eq!(d.input, 4);
                    let ids = d.batch.data().column(0).clone();
                    ids.as_any().downcast_ref::<Int32Array>().unwrap().value(0)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(replayed, vec![2, 3]);
        drop(order);

        store.forget_recovered_changes();
        let (tx, _changes) = tokio::sync::mpsc::unbounded_channel();
        assert!(!store.subscribe_after(&mut sequencer.lock(), 0, tx, 1));
        let (store, _) =
            TableStore::open_after_checkpoint(dir.path(), layout(), Arc::default(), 0).unwrap();
        assert!(!store.has_changes_after(&store.sequencer().lock(), 0));
    }
}
