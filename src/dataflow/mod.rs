//! The incremental dataflow engine's vocabulary.
//!
//! ```text
//!   table write path ──(epoch, ChangeBatch)──▶ subscribers (materialized views)
//!                         ▲
//!                   Sequencer: one global order of changes
//! ```
//!
//! Everything that changes in Sluice — a table written by `INSERT`/`UPDATE`/`DELETE`,
//! later a Kafka source — describes the change as a [`ChangeBatch`]: an Arrow
//! `RecordBatch` plus a signed weight per row (a Z-set, as in DBSP).

pub mod accumulator;
pub mod aggregate;
pub mod arrangement;
pub mod barrier;
pub mod change;
pub mod checkpoints;
pub mod closing_over_window;
pub mod exchange;
pub mod feed;
pub mod filter;
pub mod graph;
pub mod join;
pub mod memo;
pub mod operator;
pub mod ordered_partitions;
pub mod over_window;
pub mod project;
pub mod sequencer;
pub mod session;
pub mod sink;
pub mod state;
pub mod temporal_filter;
#[cfg(test)]
pub mod testing;
pub mod timestamp_shift;
pub mod top_n;
pub mod view;
pub mod watermark;
pub mod window_close;
pub mod workers;

pub use change::{ChangeBatch, ChangeReceiver, ChangeSender, Delivery, Message};
pub use sequencer::{Sequencer, SequencerGuard};
