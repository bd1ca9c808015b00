//! A write-ahead log of framed, checksummed records.
//!
//! ```text
//!  file   := MAGIC record*
//!  record := len:u32le crc:u32le lsn:u64le payload[len]     crc = crc32(lsn ‖ payload)
//! ```
//!
//! Records are appended with one `write` and made durable with `fdatasync` before
//! [`Wal::append`] returns. [`Wal::open`] reads every record back and checks its
//! framing and checksum:
//! - a record cut short at the end of the file, or a damaged *last* record, is a torn
//!   write from a crash before the write was acknowledged: it is reported in
//!   [`WalRecovery::torn_tail`], saved beside the log for inspection and cut off;
//! - a damaged record followed by more data is corruption: opening fails.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, SluiceError};

const MAGIC: &[u8; 8] = b"SLWAL001";
const HEADER_LEN: usize = 4 + 4 + 8;

/// One log record as read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Log sequence number, strictly increasing within a log.
    pub lsn: u64,
    /// The record's bytes, as given to [`Wal::append`].
    pub payload: Vec<u8>,
}

/// What [`Wal::open`] found.
#[derive(Debug, Default)]
pub struct WalRecovery {
    /// Every intact record, in log order.
    pub records: Vec<WalRecord>,
    /// Set when a torn tail was cut off: its byte offset and length, and why it was torn.
    pub torn_tail: Option<TornTail>,
}

/// A damaged end of the log that was removed at open.
#[derive(Debug, Clone)]
pub struct TornTail {
    /// Byte offset where the damaged record started.
    pub offset: u64,
    /// Number of bytes removed.
    pub len: u64,
    /// Why the record was rejected.
    pub reason: String,
    /// Where the removed bytes were saved.
    pub saved_to: PathBuf,
}

/// An open write-ahead log, positioned for appending.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Wal {
    /// Creates an empty log at `path`, atomically replacing any log there (a crash
    /// leaves either the old log or the new empty one).
    pub fn create(path: &Path) -> Result<Wal> {
        Wal::create_with(path, &[])
    }

    /// Creates a log at `path` holding `records` (in order, lsns increasing),
    /// atomically replacing any log there.
    pub fn create_with(path: &Path, records: &[WalRecord]) -> Result<Wal> {
        let mut bytes = MAGIC.to_vec();
        for record in records {
            bytes.extend_from_slice(&frame(record.lsn, &record.payload)?);
        }
        super::files::write_atomically(path, &bytes)?;
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Wal {
            path: path.to_path_buf(),
            file,
            len: bytes.len() as u64,
        })
    }

    /// Reads back every record of the log (appended by this process: intact).
    pub fn records(&self) -> Result<Vec<WalRecord>> {
        let bytes = std::fs::read(&self.path)?;
        let end = (self.len as usize).min(bytes.len());
        let (records, _, _) = scan(&bytes[..end], &self.path)?;
        Ok(records)
    }

    /// Opens the log at `path` (creating it when absent) and reads back every record.
    pub fn open(path: &Path) -> Result<(Wal, WalRecovery)> {
        if !path.exists() {
            return Ok((Wal::create(path)?, WalRecovery::default()));
        }
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt(path, "missing log header"));
        }
        let (records, end, damage) = scan(&bytes, path)?;
        let mut recovery = WalRecovery {
            records,
            torn_tail: None,
        };
        if let Some(reason) = damage {
            let saved_to = path.with_extension(format!("torn-{end}"));
            std::fs::write(&saved_to, &bytes[end..])?;
            file.set_len(end as u64)?;
            file.sync_all()?;
            recovery.torn_tail = Some(TornTail {
                offset: end as u64,
                len: (bytes.len() - end) as u64,
                reason,
                saved_to,
            });
        }
        file.seek(SeekFrom::Start(end as u64))?;
        let wal = Wal {
            path: path.to_path_buf(),
            file,
            len: end as u64,
        };
        Ok((wal, recovery))
    }

    /// Appends one record and makes it durable before returning.
    pub fn append(&mut self, lsn: u64, payload: &[u8]) -> Result<()> {
        let frame = frame(lsn, payload)?;
        if let Err(e) = self
            .file
            .write_all(&frame)
            .and_then(|_| self.file.sync_data())
        {
            // Leave no half-written record behind a failed append: later appends would
            // otherwise land after garbage and be lost as "corruption" at the next start.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(e.into());
        }
        self.len += frame.len() as u64;
        Ok(())
    }

    /// Bytes in the log file, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= MAGIC.len() as u64
    }

    /// Path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One record as it is stored.
fn frame(lsn: u64, payload: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .map_err(|_| SluiceError::Internal("log record larger than 4 GiB".into()))?;
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&checksum(lsn, payload).to_le_bytes());
    frame.extend_from_slice(&lsn.to_le_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

fn checksum(lsn: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn corrupt(path: &Path, reason: impl Into<String>) -> SluiceError {
    SluiceError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads records from `bytes`; returns them, the offset after the last intact record,
/// and why reading stopped early (a torn tail) if it did.
fn scan(bytes: &[u8], path: &Path) -> Result<(Vec<WalRecord>, usize, Option<String>)> {
    let mut records = Vec::new();
    let mut pos = MAGIC.len();
    let mut last_lsn = None;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER_LEN {
            return Ok((records, pos, Some("record header cut short".into())));
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default());
        let lsn = u64::from_le_bytes(rest[8..16].try_into().unwrap_or_default());
        let end = HEADER_LEN + len;
        if rest.len() < end {
            return Ok((records, pos, Some("record payload cut short".into())));
        }
        let payload = &rest[HEADER_LEN..end];
        let intact = checksum(lsn, payload) == crc && last_lsn.is_none_or(|l| lsn > l);
        if !intact {
            if pos + end == bytes.len() {
                return Ok((records, pos, Some("last record fails its checksum".into())));
            }
            return Err(corrupt(
                path,
                format!("record at byte {pos} fails its checksum and is followed by more data"),
            ));
        }
        records.push(WalRecord {
            lsn,
            payload: payload.to_vec(),
        });
        last_lsn = Some(lsn);
        pos += end;
    }
    Ok((records, pos, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(records: &[&[u8]]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let mut wal = Wal::create(&path).unwrap();
        for (i, r) in records.iter().enumerate() {
            wal.append(i as u64 + 1, r).unwrap();
        }
        (dir, path)
    }

    #[test]
    fn records_round_trip() {
        let (_dir, path) = log_with(&[b"one", b"two"]);
        let (wal, recovery) = Wal::open(&path).unwrap();
        assert!(recovery.torn_tail.is_none());
        let payloads: Vec<_> = recovery.records.iter().map(|r| r.payload.clone()).collect();
        assert_eq!(payloads, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(wal.len(), std::fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn every_truncation_point_is_a_reported_torn_tail() {
        let (_dir, path) = log_with(&[b"first record", b"second record"]);
        let full = std::fs::read(&path).unwrap();
        let first_end = MAGIC.len() + HEADER_LEN + b"first record".len();
        for cut in first_end + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (mut wal, recovery) = Wal::open(&path).unwrap();
            assert_eq!(recovery.records.len(), 1, "cut at {cut}");
            let torn = recovery.torn_tail.expect("torn tail reported");
            assert_eq!(torn.offset as usize, first_end);
            // The log is usable again after the cut.
            wal.append(9, b"after").unwrap();
            let (_, again) = Wal::open(&path).unwrap();
            assert_eq!(again.records.len(), 2);
            assert!(again.torn_tail.is_none());
        }
    }

    #[test]
    fn damage_in_the_middle_is_an_error() {
        let (_dir, path) = log_with(&[b"first record", b"second record"]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len() + HEADER_LEN + 2] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Wal::open(&path).unwrap_err();
        assert_eq!(err.sqlstate(), crate::error::sqlstate::DATA_CORRUPTED);
    }

    #[test]
    fn damaged_last_record_is_a_torn_tail() {
        let (_dir, path) = log_with(&[b"first record", b"second record"]);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (_, recovery) = Wal::open(&path).unwrap();
        assert_eq!(recovery.records.len(), 1);
        assert!(recovery.torn_tail.is_some());
    }
}
