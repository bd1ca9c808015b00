//! [`SystemSettings`]: the server-wide settings `ALTER SYSTEM` changed, kept in
//! `<data-dir>/system_settings.json` so that they outlive a restart (PostgreSQL keeps
//! its `ALTER SYSTEM` values in `postgresql.auto.conf` the same way).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::error::{Result, SluiceError};

const FILE: &str = "system_settings.json";

/// Values set with `ALTER SYSTEM SET`; an absent one was never set (or was reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSettings {
    /// `checkpoint_interval`, in milliseconds (0: checkpoints off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval_ms: Option<u64>,
}

impl SystemSettings {
    /// The settings kept in `data_dir` (none set when there is no file). A file that
    /// cannot be read stops the start, naming it: never a silently different server.
    pub fn read(data_dir: &Path) -> Result<SystemSettings> {
        let path = path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes).map_err(|e| SluiceError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Keeps the settings in `data_dir` (atomically: a crash leaves the old file or
    /// the new one).
    pub fn write(&self, data_dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| SluiceError::Internal(format!("system settings: {e}")))?;
        files::write_atomically(&path(data_dir), &bytes)
    }
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            SystemSettings::read(dir.path()).unwrap(),
            SystemSettings::default()
        );
        let set = SystemSettings {
            checkpoint_interval_ms: Some(250),
        };
        set.write(dir.path()).unwrap();
        assert_eq!(SystemSettings::read(dir.path()).unwrap(), set);
        std::fs::write(path(dir.path()), b"{\"checkpoint_interval_ms\": ").unwrap();
        let err = SystemSettings::read(dir.path()).unwrap_err();
        assert!(
            matches!(&err, SluiceError::Corrupt { path, .. } if path.ends_with(FILE)),
            "{err:?}"
        );
    }
}
