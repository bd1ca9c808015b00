//! Data on disk: tables, and the files state checkpoints are made of.
//!
//! ```text
//!  <data-dir>/tables/<id>/wal.log        change batches, appended and fsynced per write
//!  <data-dir>/tables/<id>/snapshot.arrow the table's contents up to some log position
//!  <data-dir>/system_settings.json       what ALTER SYSTEM set ([`system_settings`])
//! ```
//!
//! [`checkpoint_file`] is the versioned, checksummed file format of state runs and
//! checkpoint manifests.
//!
//! A write is acknowledged only after its change batch is in `wal.log` and fsynced.
//! On start, the snapshot is loaded and the log replayed on top of it; a torn tail
//! (a record cut short by a crash) is reported and cut off, a damaged record in the
//! middle of the log stops the start with an error.

pub mod checkpoint_file;
pub mod files;
pub mod ipc;
pub mod system_settings;
pub mod table_store;
pub mod wal;

pub use table_store::{RecoveryReport, TableStore};
