//! The state layer: how operators hold what they remember between changes.
//!
//! One structure, the [`Spine`], holds state as a Z-set of byte keys (Arrow row
//! encodings, whose byte order is the rows' order): applying a change sorts and
//! consolidates it once into an immutable run, reads go by key or key prefix, a
//! checkpoint writes only the runs made since the last one, and a restore reads them
//! back. An indexed collection — a join side by its join key, a view's rows by their
//! leading columns — is the same Z-set with the index columns encoded first, read by
//! prefix.
//!
//! A change to a spine is built as a [`SpineDelta`] (keys back to back in one
//! buffer) and applied at once.
//!
//! Every operator's state lives here: the materialized view's result
//! ([`super::arrangement::Arrangement`]), the join's indexes, the aggregate's groups
//! and kept values, session windows' rows, the window closer's held rows and the
//! memos of batch-dependent expressions. An operator names its spines
//! ([`super::operator::Operator::spines`]); [`checkpoint`] writes and restores a
//! set of named spines. The checkpoint barriers that make views durable come next
//! (docs/storage.md).

pub mod checkpoint;
mod delta;
mod encoding;
mod run;
mod spine;

pub use checkpoint::StateCheckpoint;
pub use delta::SpineDelta;
pub use encoding::{from_sortable_i64, sortable_i64};
pub use run::Run;
pub use spine::{Merged, RunId, RunWrite, Spine, SpineCheckpoint};
