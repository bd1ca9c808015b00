//! Where a server's checkpoints live, and the manifest that makes one complete.
//!
//! ```text
//!  <checkpoints>/MANIFEST                          the last complete checkpoint
//!  <checkpoints>/views/<view>/<spine name>/<id>.run  run files, each written once
//! ```
//!
//! A checkpoint is taken in two steps: every view writes the runs it made since the
//! last one (at a barrier, [`super::barrier`]), then a [`Manifest`]
//! naming every view's runs replaces the previous one atomically (written beside it,
//! fsynced, renamed, the directory fsynced). A crash before the rename leaves the
//! previous manifest — and every run file it names — in force. Once the new manifest
//! is durable, the run files it does not name are deleted
//! ([`Manifest::remove_unreferenced`]).
//!
//! The manifest is JSON inside the checkpoint file frame (format version, length,
//! CRC-32: [`crate::storage::checkpoint_file`]): a damaged manifest, or one of an
//! unknown version, is refused naming the file, never read as a wrong state.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::state::{Spine, StateCheckpoint};
use super::view::ViewCheckpoint;
use crate::error::{Result, SluiceError};
use crate::storage::checkpoint_file;

/// A complete checkpoint. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Increases with every checkpoint.
    pub id: u64,
    /// The global epoch the checkpoint is as of.
    pub epoch: u64,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// How long it took, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// Per table (by catalog id), the lsn of its last change in the checkpoint.
    #[serde(default)]
    pub tables: BTreeMap<u64, u64>,
    /// Per view, by the name of its directory under `views/`, its state.
    pub views: BTreeMap<String, ViewEntry>,
}

/// How the server's checkpoints go, for `sluice_catalog.checkpoints` and
/// `checkpoint_status`.
#[derive(Debug, Clone, Default)]
pub struct CheckpointStatus {
    /// How often checkpoints are taken (zero: never).
    pub interval: std::time::Duration,
    /// The last complete checkpoint (taken, or started from).
    pub last: Option<std::sync::Arc<Manifest>>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// Checkpoints that failed since the server started.
    pub failures: u64,
    /// Checkpoints taken since the server started.
    pub taken: u64,
    /// Bytes they wrote (run files; each run is written once).
    pub bytes_written: u64,
}

/// The status, shared by the checkpointer and the system relations.
pub type SharedCheckpointStatus = std::sync::Arc<std::sync::Mutex<CheckpointStatus>>;

/// One view in a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViewEntry {
    /// The view's (or sink's) catalog id.
    pub view_id: u64,
    /// Whether it is a view's state or a sink's.
    #[serde(default)]
    pub role: super::barrier::Role,
    /// What the state is a state of (see [`super::barrier::Participant`]).
    pub fingerprint: String,
    /// The state.
    pub checkpoint: ViewCheckpoint,
}

impl Manifest {
    /// A manifest naming no view (before the first checkpoint).
    pub fn empty() -> Manifest {
        Manifest {
            id: 0,
            epoch: 0,
            taken_at_ms: 0,
            duration_ms: 0,
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
        }
    }

    /// The entry of view `view_id` and its directory name, if the manifest has one.
    pub fn view(&self, view_id: u64) -> Option<(&str, &ViewEntry)> {
        self.entry(view_id, super::barrier::Role::View)
    }

    /// The directory and entry of `id`'s state in `role`.
    pub fn entry(&self, id: u64, role: super::barrier::Role) -> Option<(&str, &ViewEntry)> {
        self.views
            .iter()
            .find(|(_, entry)| (entry.view_id, entry.role) == (id, role))
            .map(|(dir, entry)| (dir.as_str(), entry))
    }
}

impl Manifest {
    /// The manifest's file in the checkpoint directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("MANIFEST")
    }

    /// Where the view named `view` writes its runs.
    pub fn view_dir(dir: &Path, view: &str) -> PathBuf {
        dir.join("views").join(view)
    }

    /// The bytes of the run files view (or sink) `id` has under the checkpoint
    /// directory `dir`: those of `views/<id>-<n>/`, whatever `n`.
    pub fn state_bytes(dir: &Path, id: u64) -> Result<u64> {
        let views = dir.join("views");
        let entries = match std::fs::read_dir(&views) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let prefix = format!("{id}-");
        let mut total = 0;
        for entry in entries {
            let entry = entry?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                total += crate::storage::files::bytes_under(&entry.path())?;
            }
        }
        Ok(total)
    }

    /// Makes this manifest the complete checkpoint in `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec(self)
            .map_err(|e| SluiceError::Internal(format!("encoding a manifest: {e}")))?;
        checkpoint_file::write_atomically(&Manifest::path(dir), &json)
    }

    /// The complete checkpoint in `dir`, `None` when there is none yet. A damaged
    /// manifest or one of another format version is an error naming its file.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = Manifest::path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let payload = checkpoint_file::read(&path)?;
        serde_json::from_slice(&payload)
            .map(Some)
            .map_err(|e| SluiceError::Corrupt {
                path: path.display().to_string(),
                reason: format!("unreadable manifest: {e}"),
            })
    }

    /// Deletes the run files under `dir/views` that this manifest does not name: an
    /// earlier checkpoint's, one cut short by a crash, a dropped view's. Returns how
    /// many files were deleted.
    pub fn remove_unreferenced(&self, dir: &Path) -> Result<usize> {
        let views = dir.join("views");
        if !views.exists() {
            return Ok(0);
        }
        let mut removed = 0;
        for entry in std::fs::read_dir(&views)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            match self.views.get(name) {
                Some(view) => removed += prune(&path, "", Some(&view.checkpoint.state))?,
                None => {
                    removed += prune(&path, "", None)?;
                    std::fs::remove_dir_all(&path)?;
                }
            }
        }
        Ok(removed)
    }
}

/// Deletes the run files in `root/name` (the directory of spine `name`) and below it
/// that `kept` does not name.
fn prune(root: &Path, name: &str, kept: Option<&StateCheckpoint>) -> Result<usize> {
    let dir = root.join(name);
    let keep: HashSet<u64> = kept
        .and_then(|k| k.spines.get(name))
        .map(|runs| runs.iter().copied().collect())
        .unwrap_or_default();
    let mut removed = Spine::remove_unreferenced(&dir, &keep)?;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let child = entry.file_name();
            let child = child.to_string_lossy();
            let name = if name.is_empty() {
                child.to_string()
            } else {
                format!("{name}/{child}")
            };
            removed += prune(root, &name, kept)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::state::checkpoint;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-manifest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn spine_of(range: std::ops::Range<u32>) -> Spine {
        let keys: Vec<[u8; 4]> = range.map(u32::to_be_bytes).collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let mut spine = Spine::new();
        spine.apply(&refs, &vec![1; refs.len()]).unwrap();
        spine
    }

    fn view(state: StateCheckpoint) -> ViewEntry {
        let checkpoint = ViewCheckpoint {
            epoch: 7,
            state,
            watermarks: Some(vec![Some(1_000), None]),
            late_rows: 3,
            errors: vec![("22012".into(), "division by zero".into(), 2)],
            sources: BTreeMap::from([(
                1,
                BTreeMap::from([(
                    0,
                    crate::dataflow::barrier::PartitionPosition {
                        next_offset: 42,
                        max_event_time: Some(5),
                    },
                )]),
            )]),
        };
        ViewEntry {
            view_id: 3,
            role: Default::default(),
            fingerprint: "CREATE MATERIALIZED VIEW v AS SELECT 1".into(),
            checkpoint,
        }
    }

    #[test]
    fn a_manifest_round_trips_and_a_crash_while_writing_leaves_the_last_one() {
        let dir = scratch("round-trip");
        assert_eq!(Manifest::read(&dir).unwrap(), None);
        let mut result = spine_of(0..100);
        let runs = checkpoint::checkpoint(
            [("result".to_string(), &result)],
            &Manifest::view_dir(&dir, "v"),
        )
        .unwrap();
        let first = Manifest {
            id: 1,
            epoch: 7,
            taken_at_ms: 1_700_000_000_000,
            duration_ms: 5,
            tables: BTreeMap::from([(2, 17)]),
            views: BTreeMap::from([("v".to_string(), view(runs))]),
        };
        first.write(&dir).unwrap();
        assert_eq!(Manifest::read(&dir).unwrap().as_ref(), Some(&first));
        // A crash in the middle of writing the next one: its temporary file is there,
        // half written; the complete checkpoint is still the first.
        result.apply(&[b"more"], &[1]).unwrap();
        std::fs::write(Manifest::path(&dir).with_extension("tmp"), b"SLCKPT01\x01").unwrap();
        assert_eq!(Manifest::read(&dir).unwrap(), Some(first));
    }

    #[test]
    fn damaged_manifests_are_refused_naming_the_file() {
        let dir = scratch("damage");
        let manifest = Manifest {
            id: 1,
            epoch: 1,
            taken_at_ms: 0,
            duration_ms: 0,
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
        };
        manifest.write(&dir).unwrap();
        let good = std::fs::read(Manifest::path(&dir)).unwrap();
        let refused = |bytes: &[u8]| {
            std::fs::write(Manifest::path(&dir), bytes).unwrap();
            match Manifest::read(&dir) {
                Err(SluiceError::Corrupt { path, reason }) => {
                    assert!(path.ends_with("MANIFEST"), "{path}");
                    reason
                }
                other => panic!("expected corruption, got {other:?}"),
            }
        };
        assert!(refused(&good[..good.len() - 5]).contains("payload bytes"));
        let mut flipped = good.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x01;
        assert!(refused(&flipped).contains("checksum"));
        let mut future = good.clone();
        future[8..12].copy_from_slice(&9u32.to_le_bytes());
        assert!(refused(&future).contains("version 9"));
        // A well-framed payload that is not a manifest.
        checkpoint_file::write_atomically(&Manifest::path(&dir), b"{\"id\": \"x\"}").unwrap();
        assert!(refused(&std::fs::read(Manifest::path(&dir)).unwrap()).contains("unreadable"));
    }

    /// After a new manifest, the runs only the previous one named are deleted, and so
    /// are a dropped view's; the new manifest's spines still restore.
    #[test]
    fn unreferenced_runs_are_deleted_and_the_manifest_still_restores() {
        let dir = scratch("prune");
        let mut held = spine_of(0..1000);
        let mut result = spine_of(5000..5010);
        let take = |held: &Spine, result: &Spine| {
            checkpoint::checkpoint(
                [
                    ("operators/0/groups".to_string(), held),
                    ("result".to_string(), result),
                ],
                &Manifest::view_dir(&dir, "v"),
            )
            .unwrap()
        };
        let first = take(&held, &result);
        checkpoint::checkpoint(
            [("result".to_string(), &spine_of(0..10))],
            &Manifest::view_dir(&dir, "dropped"),
        )
        .unwrap();
        // Changes that merge the runs: the next checkpoint's runs replace the first's.
        for i in 0..4u32 {
            let keys: Vec<[u8; 4]> = (i * 300..i * 300 + 300).map(u32::to_be_bytes).collect();
            let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            held.apply(&refs, &vec![-1; refs.len()]).unwrap();
        }
        result.apply(&[b"x"], &[1]).unwrap();
        let second = take(&held, &result);
        assert_ne!(first.spines, second.spines);
        let manifest = Manifest {
            id: 2,
            epoch: 9,
            taken_at_ms: 0,
            duration_ms: 0,
            tables: BTreeMap::new(),
            views: BTreeMap::from([("v".to_string(), view(second.clone()))]),
        };
        manifest.write(&dir).unwrap();
        let removed = manifest.remove_unreferenced(&dir).unwrap();
        let named: usize = second.spines.values().map(Vec::len).sum();
        let first_only = first
            .spines
            .iter()
            .map(|(name, runs)| {
                runs.iter()
                    .filter(|r| !second.spines[name].contains(r))
                    .count()
            })
            .sum::<usize>();
        assert_eq!(
            removed,
            first_only + 1,
            "the first checkpoint's runs and the dropped view's"
        );
        assert!(!Manifest::view_dir(&dir, "dropped").exists());
        let mut files = 0;
        let mut restored = Vec::new();
        for (name, runs) in &second.spines {
            let spine_dir = Manifest::view_dir(&dir, "v").join(name);
            files += std::fs::read_dir(&spine_dir)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().is_file())
                .count();
            restored.push(Spine::restore(&spine_dir, runs).unwrap());
        }
        assert_eq!(files, named);
        let contents = |s: &Spine| s.iter().map(|(k, w)| (k.to_vec(), w)).collect::<Vec<_>>();
        assert_eq!(contents(&restored[0]), contents(&held));
        assert_eq!(contents(&restored[1]), contents(&result));
    }
}
