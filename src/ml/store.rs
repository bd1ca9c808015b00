//! Model files in the data directory: each model keeps, in its object directory,
//! the current version's copy of the ONNX file and a manifest naming it.
//!
//! ```text
//!  <object dir>/v3.onnx         the file as it was at CREATE [OR REPLACE] MODEL
//!  <object dir>/model.json      {version, checksum, options, source}   (written atomically)
//! ```
//!
//! The copy is made and synced before the manifest points at it, so a crash leaves
//! either the old version or the new one in force, and the original file may be
//! deleted once the statement returns.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::ModelOptions;
use crate::error::{Result, SluiceError};
use crate::storage::files::write_atomically;

/// What `model.json` records about the version in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version number (1, 2, ...).
    pub version: u64,
    /// SHA-256 of the file, hex.
    pub checksum: String,
    /// The `WITH` settings.
    pub options: ModelOptions,
    /// The path the file was copied from.
    pub source: String,
}

impl Manifest {
    /// The version's file inside `dir`.
    pub fn file(&self, dir: &Path) -> PathBuf {
        version_file(dir, self.version)
    }
}

fn version_file(dir: &Path, version: u64) -> PathBuf {
    dir.join(format!("v{version}.onnx"))
}

/// Copies `source` into `dir` as `version`'s file (synced) and returns its checksum.
pub fn copy_in(dir: &Path, version: u64, source: &Path) -> Result<String> {
    let bytes = std::fs::read(source).map_err(|e| {
        SluiceError::coded(
            "58P01",
            format!("could not read model file \"{}\": {e}", source.display()),
        )
    })?;
    std::fs::create_dir_all(dir)?;
    let target = version_file(dir, version);
    let mut file = std::fs::File::create(&target)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes `manifest` the version in force and deletes other versions' files.
pub fn commit(dir: &Path, manifest: &Manifest) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| SluiceError::Internal(format!("model manifest encoding: {e}")))?;
    write_atomically(&dir.join("model.json"), &bytes)?;
    let keep = manifest.file(dir);
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "onnx") && path != keep {
            // A leftover file costs disk space only; the manifest decides.
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// The manifest of the model stored in `dir`.
pub fn read(dir: &Path) -> Result<Manifest> {
    let path = dir.join("model.json");
    let bytes = std::fs::read(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| SluiceError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
