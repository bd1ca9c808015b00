//! Checkpoint files: a payload behind a header that carries the format version and
//! a checksum, so a damaged or foreign file is never read as state. A run file's
//! payload is one Arrow record batch ([`write_batch`]); a manifest's is whatever its
//! writer encodes ([`write_atomically`], [`read`]).
//!
//! ```text
//!  file := MAGIC version:u32le len:u64le crc:u32le payload[len]
//!          run files: payload = the batch as an Arrow IPC stream; crc = crc32(payload)
//! ```
//!
//! A file is written once under a name nobody else uses and fsynced; the directory is
//! fsynced by whoever makes the file part of a checkpoint (once for many files). A
//! file cut short by a crash is unreferenced by any complete checkpoint: reading it
//! fails, and nothing reads it.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;

use super::{files, ipc};
use crate::error::{Result, SluiceError};

const MAGIC: &[u8; 8] = b"SLCKPT01";
const HEADER_LEN: usize = MAGIC.len() + 4 + 8 + 4;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// `payload` behind the header.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Writes `batch` to a new file at `path` and fsyncs it. Returns the bytes written.
/// A write that fails (a full disk) leaves no file behind.
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<u64> {
    let bytes = framed(&ipc::encode(batch)?);
    let written = File::create_new(path).and_then(|mut file| {
        file.write_all(&bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(path);
        }
        return Err(naming(path, e));
    }
    Ok(bytes.len() as u64)
}

/// Replaces the file at `path` with `payload` (framed) atomically: a crash leaves
/// the old file or the new one, never a mix (see [`files::write_atomically`]). The
/// directory is created if missing.
pub fn write_atomically(path: &Path, payload: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| naming(parent, e))?;
    }
    files::write_atomically(path, &framed(payload)).map_err(|e| named(path, e))
}

/// `e`, when it is an I/O error, saying which file or directory it is about.
pub fn named(path: &Path, e: SluiceError) -> SluiceError {
    match e {
        SluiceError::Io(e) => naming(path, e),
        other => other,
    }
}

/// An I/O error that says which file or directory it is about.
pub fn naming(path: &Path, e: std::io::Error) -> SluiceError {
    SluiceError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// Reads the batch of a file written by [`write_batch`]. A file of another format
/// version, cut short, or failing its checksum is refused with
/// [`SluiceError::Corrupt`] naming the file.
pub fn read_batch(path: &Path) -> Result<RecordBatch> {
    let corrupt = |reason: String| SluiceError::Corrupt {
        path: path.display().to_string(),
        reason,
    };
    let bytes = read(path)?;
    ipc::decode(&bytes).map_err(|e| corrupt(format!("unreadable batch: {e}")))
}

/// The payload of a file written by [`write_batch`] or [`write_atomically`],
/// checked: a file of another format version, cut short, or failing its checksum is
/// refused with [`SluiceError::Corrupt`] naming the file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let corrupt = |reason: String| SluiceError::Corrupt {
        path: path.display().to_string(),
        reason,
    };
    let mut bytes = std::fs::read(path).map_err(|e| match e.kind() {
        // Only a file something names is read: one that is gone is damage.
        std::io::ErrorKind::NotFound => corrupt("the file is missing".into()),
        _ => naming(path, e),
    })?;
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a Sluice checkpoint file".into()));
    }
    let field = |at: usize, len: usize| &bytes[MAGIC.len() + at..MAGIC.len() + at + len];
    let version = u32::from_le_bytes(field(0, 4).try_into().unwrap_or_default());
    if version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "checkpoint format version {version}, but this build reads version {FORMAT_VERSION}"
        )));
    }
    let len = u64::from_le_bytes(field(4, 8).try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(field(12, 4).try_into().unwrap_or_default());
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(corrupt(format!(
            "{} payload bytes where the header says {len}",
            payload.len()
        )));
    }
    if crc32fast::hash(payload) != crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    bytes.drain(..HEADER_LEN);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::batch;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sluice-checkpoint-file-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("file")
    }

    #[test]
    fn round_trips_a_batch() {
        let path = scratch("round-trip");
        let data = batch(&[("a", &[Some(1), None, Some(3)])]);
        let written = write_batch(&path, &data).unwrap();
        assert_eq!(written, std::fs::metadata(&path).unwrap().len());
        assert_eq!(read_batch(&path).unwrap(), data);
        // Files are written once: a second write to the same name is refused.
        assert!(write_batch(&path, &data).is_err());
    }

    #[test]
    fn damage_is_refused_naming_the_file() {
        let path = scratch("damage");
        write_batch(&path, &batch(&[("a", &[Some(1), Some(2)])])).unwrap();
        let good = std::fs::read(&path).unwrap();
        let reason = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            match read_batch(&path) {
                Err(SluiceError::Corrupt { path: p, reason }) => {
                    assert!(p.ends_with("file"), "{p}");
                    reason
                }
                other => panic!("expected corruption, got {other:?}"),
            }
        };
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(reason(&flipped).contains("checksum"));
        assert!(reason(&good[..good.len() - 3]).contains("payload bytes"));
        let mut future = good.clone();
        future[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert!(reason(&future).contains("version 2"));
        assert!(reason(b"garbage").contains("not a Sluice checkpoint file"));
    }
}
