//! Sluice: a streaming SQL database speaking the Postgres wire protocol.
//!
//! ```text
//!  server (pgwire) ──▶ sql (parse, plan with DataFusion, run) ──▶ catalog ──▶ storage
//!                                                     │
//!                                                     └──▶ dataflow (change batches)
//!  checkpointer: periodic checkpoints of every view, and start-up from the last one
//! ```

pub mod catalog;
pub mod checkpointer;
pub mod connectors;
pub mod database;
pub mod dataflow;
pub mod error;
pub mod ml;
pub mod numeric;
pub mod server;
pub mod sql;
pub mod storage;

pub use database::Database;
pub use error::{Result, SluiceError};
