//! Server checkpoints: every `checkpoint_interval`, a barrier through the global
//! change order; each view writes its state as of it, then a manifest written last
//! makes the checkpoint complete ([`crate::dataflow::checkpoints`]). At start,
//! [`Recovery`] starts views from the last complete checkpoint.
//!
//! ```text
//!  take():  under the sequencer's lock: barrier id, epoch, each table's lsn,
//!           Barrier → every registered view's inbox
//!           await every view's checkpoint (views on views align, see
//!           dataflow::barrier): what it consists of, and its new runs
//!           write the new runs (here, off the views' threads), then MANIFEST
//!           (fsynced, renamed) → delete unreferenced runs → tables keep their log
//!           after the checkpoint's lsn
//!  start:   tables open keeping their changes after the checkpoint's lsn; each view
//!           whose definition, models and plan match its checkpoint starts from it
//!           (the others are rebuilt, saying why in the log); the views' table
//!           changes and source readers are started only once every view has
//!           subscribed to the views it reads, so no view misses another's output.
//! ```
//!
//! A checkpoint that fails (a full disk) is logged and leaves the previous one in
//! force; the server goes on serving.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::catalog::Relation;
use crate::database::Database;
use crate::dataflow::barrier::Barrier;
use crate::dataflow::checkpoints::{CheckpointStatus, Manifest, SharedCheckpointStatus, ViewEntry};
use crate::dataflow::state::RunWrite;
use crate::dataflow::{Message, SequencerGuard};
use crate::error::{Result, SluiceError};

/// How often the server checkpoints by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// Work left for the end of start-up: a restored view's table changes after the
/// checkpoint and its source readers.
pub type Deferred = Box<dyn FnOnce(&mut SequencerGuard<'_>) -> Result<()> + Send>;

/// What the server recovers from while it starts.
pub struct Recovery {
    /// The last complete checkpoint.
    pub manifest: Manifest,
    /// The views started from it so far (a view reading one that was rebuilt
    /// cannot start from it).
    pub restored: HashSet<u64>,
    /// See [`Deferred`].
    pub deferred: Vec<Deferred>,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery")
            .field("checkpoint", &self.manifest.id)
            .field("restored", &self.restored)
            .finish_non_exhaustive()
    }
}

/// The server's checkpoints: where they live, how often, how the last one went.
#[derive(Debug)]
pub struct Checkpoints {
    dir: PathBuf,
    /// How often (zero: never); the periodic task waits on changes to it.
    interval: tokio::sync::watch::Sender<Duration>,
    /// One checkpoint at a time.
    taking: tokio::sync::Mutex<()>,
    /// The id of the last complete checkpoint (0: none yet); sinks write what it
    /// holds ([`crate::dataflow::sink`]).
    completed: tokio::sync::watch::Sender<u64>,
    status: SharedCheckpointStatus,
}

impl Checkpoints {
    /// Checkpoints under `dir` every `interval` (zero: never).
    pub fn new(dir: PathBuf, interval: Duration) -> Self {
        Checkpoints {
            dir,
            interval: tokio::sync::watch::Sender::new(interval),
            taking: tokio::sync::Mutex::new(()),
            completed: tokio::sync::watch::Sender::new(0),
            status: Arc::new(Mutex::new(CheckpointStatus {
                interval,
                ..CheckpointStatus::default()
            })),
        }
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How often checkpoints are taken (zero: never).
    pub fn interval(&self) -> Duration {
        *self.interval.borrow()
    }

    /// Checkpoints every `interval` from now on (zero: none); the periodic task
    /// ([`start_periodic`]) follows at once.
    pub fn set_interval(&self, interval: Duration) {
        self.lock_status().interval = interval;
        self.interval.send_replace(interval);
    }

    /// How checkpoints go (shared with the system relations).
    pub fn status(&self) -> &SharedCheckpointStatus {
        &self.status
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, CheckpointStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the checkpoint the server recovered from.
    pub fn recovered_from(&self, manifest: Manifest) {
        self.completed.send_replace(manifest.id);
        self.lock_status().last = Some(Arc::new(manifest));
    }

    /// Follows the id of the last complete checkpoint.
    pub fn completed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.completed.subscribe()
    }
}

/// Takes one checkpoint of every view (see the module docs) and returns its
/// manifest. On failure the previous checkpoint stays in force.
pub async fn take(db: &Database) -> Result<Arc<Manifest>> {
    let checkpoints = db.checkpoints();
    let _one_at_a_time = checkpoints.taking.lock().await;
    let result = write_checkpoint(db).await;
    let mut status = checkpoints.lock_status();
    match &result {
        Ok(manifest) => {
            status.taken += 1;
            status.bytes_written += manifest
                .views
                .values()
                .map(|v| v.checkpoint.state.bytes_written)
                .sum::<u64>();
            status.last = Some(manifest.clone());
            status.last_error = None;
            checkpoints.completed.send_replace(manifest.id);
        }
        Err(e) => {
            status.failures += 1;
            status.last_error = Some(e.to_string());
        }
    }
    result
}

async fn write_checkpoint(db: &Database) -> Result<Arc<Manifest>> {
    let started = Instant::now();
    let dir = db.checkpoints().dir().to_path_buf();
    let tables: Vec<_> = db
        .catalog()
        .relations()
        .into_iter()
        .filter_map(|relation| match relation {
            Relation::Table(table) => Some(table),
            _ => None,
        })
        .collect();
    let (id, epoch, lsns, replies) = {
        let mut order = db.sequencer().lock();
        let (id, epoch, participants) = order.begin_barrier();
        let lsns: BTreeMap<u64, u64> = tables
            .iter()
            .map(|t| (t.entry().id, t.store().published_lsn(&order)))
            .collect();
        let mut replies = Vec::with_capacity(participants.len());
        for participant in participants {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let barrier = Barrier {
                id,
                epoch,
                dir: Manifest::view_dir(&dir, &participant.dir),
                reply,
            };
            if participant.inbox.send(Message::Barrier(barrier)).is_ok() {
                replies.push((participant, answer));
            }
        }
        (id, epoch, lsns, replies)
    };
    let mut views = BTreeMap::new();
    let mut writes = Vec::new();
    for (participant, answer) in replies {
        match answer.await {
            Ok(Ok(Some(taken))) => {
                writes.push((participant.dir.clone(), taken.writes));
                views.insert(
                    participant.dir,
                    ViewEntry {
                        view_id: participant.view_id,
                        role: participant.role,
                        fingerprint: participant.fingerprint,
                        checkpoint: taken.checkpoint,
                    },
                );
            }
            // The view stopped (its dataflow failed) or was dropped meanwhile: it
            // is rebuilt at the next start.
            Ok(Ok(None)) | Err(_) => {}
            Ok(Err(e)) => return Err(e),
        }
    }
    let taken_at_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut manifest = Manifest {
        id,
        epoch,
        taken_at_ms,
        duration_ms: 0,
        tables: lsns,
        views,
    };
    let manifest = tokio::task::spawn_blocking(move || -> Result<Manifest> {
        // The views' new runs, written here rather than on the views' threads.
        for (view, writes) in writes {
            let bytes = RunWrite::write_all(&writes)?;
            if let Some(entry) = manifest.views.get_mut(&view) {
                entry.checkpoint.state.bytes_written = bytes;
            }
        }
        manifest.duration_ms = started.elapsed().as_millis() as u64;
        manifest.write(&dir)?;
        // The new checkpoint is complete: what only older ones needed can go. A
        // failure here leaves files behind, removed after the next checkpoint.
        if let Err(e) = manifest.remove_unreferenced(&dir) {
            tracing::warn!("removing old checkpoint files failed: {e}");
        }
        Ok(manifest)
    })
    .await
    .map_err(|e| SluiceError::Internal(format!("checkpoint writer failed: {e}")))??;
    for table in &tables {
        if let Some(lsn) = manifest.tables.get(&table.entry().id) {
            table.store().retain_after(*lsn);
        }
    }
    Ok(Arc::new(manifest))
}

/// Takes a checkpoint every interval (as [`Checkpoints::set_interval`] last set it;
/// none while it is zero) for as long as the database is open.
pub fn start_periodic(db: &Arc<Database>) {
    let mut interval = db.checkpoints().interval.subscribe();
    let db = Arc::downgrade(db);
    tokio::spawn(async move {
        let mut last = tokio::time::Instant::now();
        loop {
            let every = *interval.borrow_and_update();
            let due = async {
                match every.is_zero() {
                    true => std::future::pending().await,
                    false => tokio::time::sleep_until(last + every).await,
                }
            };
            tokio::select! {
                changed = interval.changed() => {
                    if changed.is_err() {
                        return; // the database is gone
                    }
                    continue; // a new interval counts from the last checkpoint
                }
                () = due => {}
            }
            let Some(db) = db.upgrade() else {
                return;
            };
            last = tokio::time::Instant::now();
            if let Err(e) = take(&db).await {
                tracing::error!(
                    "checkpoint failed (the previous one stays in force; the server goes on): {e}"
                );
            }
        }
    });
}
