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
//! Today the materialized view's result ([`super::arrangement::Arrangement`]) keeps
//! its rows here. The operators' own state (aggregate groups, join indexes, session
//! windows, the window closer's held rows, memos, error logs) moves onto it next,
//! together with the checkpoint barriers that make views durable (docs/storage.md).

mod run;
mod spine;

pub use run::Run;
pub use spine::{Merged, RunId, Spine, SpineCheckpoint};
