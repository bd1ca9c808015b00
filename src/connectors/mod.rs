//! Sources: streams of rows from outside (Kafka) or generated (`datagen`,
//! `nexmark`), delivered as append-only change batches (weight +1).
//!
//! ```text
//!  CREATE SOURCE ──▶ SourceConfig (validated options, decoder, watermark)
//!  CREATE MATERIALIZED VIEW ... FROM source
//!      └─ Source::attach ──▶ Feeds: the source's live reader, or a backfill reader
//!           reader thread: connector batch ──decode once──▶ rows (+ INCLUDE columns)
//!             ──▶ watermark per partition ──▶ (epoch, ChangeBatch) to each view fed
//! ```
//!
//! One reader feeds every view reading a source (RisingWave's shared sources); a
//! view created later still sees the whole stream: a reader of its own backfills
//! it from the source's startup position, then hands it to the live reader.

pub mod datagen;
pub mod decode;
pub mod feeds;
pub mod generator;
pub mod kafka;
pub mod kafka_sink;
pub mod nexmark;
pub mod options;
mod reader;
pub mod sink_format;
pub mod source;
pub mod status;
pub mod watermark;

pub use source::{Source, SourceConfig};
