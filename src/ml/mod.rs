//! Machine learning inside SQL: models as catalog objects and `PREDICT`, which runs
//! an ONNX model over whole Arrow batches with ONNX Runtime.
//!
//! ```text
//!  CREATE MODEL m FROM 'f.onnx' ──▶ store (copy, checksum, version) ──▶ Model (session pool)
//!                                                                          ▲
//!  PREDICT(m, a, b, ...) ── batch of rows ──▶ gather into a tensor ──▶ run ┘ ──▶ Arrow column
//! ```

pub mod functions;
pub mod model;
pub mod predict;
pub mod runtime;
pub mod signature;
pub mod stats;
pub mod store;

pub use model::{Model, ModelOptions};
