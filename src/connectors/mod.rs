//! Sources: streams of rows from outside (Kafka) or generated (`datagen`,
//! `nexmark`), delivered as append-only change batches (weight +1).
//!
//! ```text
//!  CREATE SOURCE ──▶ SourceConfig (validated options, decoder, watermark)
//!  CREATE MATERIALIZED VIEW ... FROM source
//!      └─ Source::attach ──▶ a reader thread for that view:
//!           connector batch ──decode──▶ rows (+ INCLUDE columns)
//!             ──▶ watermark per partition ──▶ (epoch, ChangeBatch) to the view
//! ```
//!
//! Each view reading a source gets its own reader starting at the source's startup
//! position (as RisingWave's non-shared sources do), so a view created later still
//! sees the whole stream.

pub mod datagen;
pub mod decode;
pub mod generator;
pub mod kafka;
pub mod kafka_sink;
pub mod nexmark;
pub mod options;
pub mod sink_format;
pub mod source;
pub mod status;
pub mod watermark;

pub use source::{Source, SourceConfig};
