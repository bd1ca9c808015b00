//! Small filesystem helpers that make renames and creations durable.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::Result;

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the
/// directory. A crash leaves either the old file or the new one, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

/// Fsyncs the directory holding `path`, so a create or rename inside it is durable.
pub fn sync_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Fsyncs the directory `dir`, so the files created or renamed inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The bytes of the files at `path`: the file's length, or the sum over every file
/// below the directory; 0 when nothing is there (a file removed while being counted
/// counts 0). What `pg_relation_size` and `pg_database_size` answer.
pub fn bytes_under(path: &Path) -> Result<u64> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    if !metadata.is_dir() {
        return Ok(if metadata.is_file() {
            metadata.len()
        } else {
            0
        });
    }
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut total = 0;
    for entry in entries {
        total += bytes_under(&entry?.path())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_under_sums_the_files_below_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(bytes_under(&dir.path().join("missing")).unwrap(), 0);
        fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::write(dir.path().join("b/c/d"), [0u8; 32]).unwrap();
        assert_eq!(bytes_under(dir.path()).unwrap(), 42);
        assert_eq!(bytes_under(&dir.path().join("a")).unwrap(), 10);
    }
}
