//! The exchange between a view's workers (see [`super::workers`]): which worker each
//! row of a change goes to.
//!
//! Two rules keep every worker count's result equal to one worker's:
//! - rows that meet in an operator's state (a group, a join key, a window partition)
//!   meet on one worker: an operator says how its input is spread by its
//!   [`Partitioning`], and keyed inputs go to the worker their key hashes to;
//! - a row's worker is a function of its content only, so its retraction reaches the
//!   worker that holds its insertion (and what was remembered of it: memos, rows a
//!   temporal filter holds). Input changes are spread by a hash of the whole row, and
//!   every exchange after that is keyed by content too.
//!
//! Hashes are DataFusion's ([`create_hashes`], fixed seed): the same on every run, so
//! a checkpoint's per-worker state is found on the same worker after a restart.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{take, take_record_batch};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::operator::{canonical_floats, evaluate};
use crate::error::{Result, SluiceError};

/// How an operator's input is spread over the workers.
#[derive(Debug, Clone)]
pub enum Partitioning {
    /// Rows stay on the worker that has them: the operator keeps nothing, or only
    /// per row.
    Local,
    /// Each row goes to the worker its key (these expressions over the input) hashes
    /// to: the operator's state is per key. Never empty.
    Keys(Vec<Arc<dyn PhysicalExpr>>),
    /// Every row goes to the first worker: the operator's state spans all rows (a
    /// global aggregate, a top-N or window without `PARTITION BY`, `NOT IN`).
    Single,
}

impl Partitioning {
    /// Keyed by `keys`, or [`Partitioning::Single`] when there are none.
    pub fn by(keys: &[Arc<dyn PhysicalExpr>]) -> Partitioning {
        if keys.is_empty() {
            Partitioning::Single
        } else {
            Partitioning::Keys(keys.to_vec())
        }
    }
}

/// The hash seed: fixed, so that a key lands on the same worker in every run (a
/// checkpoint holds each worker's state) and, later, in every process.
const SEED: u64 = 0x0000_0051_0000_00ce;

/// The change each of `workers` workers gets of `shares` (what each worker has),
/// spread as `partitioning` says.
pub fn exchange(
    partitioning: &Partitioning,
    shares: Vec<Option<ChangeBatch>>,
    workers: usize,
) -> Result<Vec<Option<ChangeBatch>>> {
    match partitioning {
        Partitioning::Local => Ok(shares),
        Partitioning::Single => {
            let all: Vec<ChangeBatch> = shares.into_iter().flatten().collect();
            let mut out = vec![None; workers];
            out[0] = super::graph::concat(all)?;
            Ok(out)
        }
        Partitioning::Keys(keys) => {
            let mut pieces: Vec<Vec<ChangeBatch>> = vec![Vec::new(); workers];
            for change in shares.into_iter().flatten() {
                let to = keyed_destinations(keys, change.data(), workers);
                for (worker, piece) in split(&change, &to, workers)?.into_iter().enumerate() {
                    pieces[worker].extend(piece);
                }
            }
            pieces.into_iter().map(super::graph::concat).collect()
        }
    }
}

/// `change` cut into `workers` consecutive pieces of (nearly) equal size, copying
/// nothing: for inputs that never retract a row, where no deletion has to follow its
/// insertion.
pub fn cut(change: &ChangeBatch, workers: usize) -> Vec<Option<ChangeBatch>> {
    let rows = change.num_rows();
    (0..workers)
        .map(|w| {
            let (start, end) = (rows * w / workers, rows * (w + 1) / workers);
            (end > start).then(|| change.slice(start, end - start))
        })
        .collect()
}

/// `change` spread over `workers` workers by a hash of each row: of its fixed-width
/// columns (numbers, times), or of all of them when it has none. Any choice of
/// columns sends equal rows to one worker; these are cheap to hash and usually tell
/// rows apart.
pub fn spread_rows(change: &ChangeBatch, workers: usize) -> Result<Vec<Option<ChangeBatch>>> {
    let columns = change.data().columns();
    let fixed: Vec<ArrayRef> = columns
        .iter()
        .filter(|c| c.data_type().is_primitive())
        .cloned()
        .collect();
    let hashed = if fixed.is_empty() {
        columns
    } else {
        &fixed[..]
    };
    let to = destinations(hashed, change.num_rows(), workers);
    split(change, &to, workers)
}

/// Per row of `data`, the worker its key goes to. A row whose key cannot be evaluated
/// goes to the first worker, whose operator reports the error.
fn keyed_destinations(
    keys: &[Arc<dyn PhysicalExpr>],
    data: &RecordBatch,
    workers: usize,
) -> Vec<u32> {
    let of = |batch: &RecordBatch| {
        evaluate(keys, batch)
            .and_then(|columns| canonical_floats(&columns))
            .map(|columns| destinations(&columns, batch.num_rows(), workers))
    };
    match of(data) {
        Ok(to) => to,
        Err(_) => (0..data.num_rows())
            .map(|row| of(&data.slice(row, 1)).map_or(0, |to| to[0]))
            .collect(),
    }
}

/// Per row, the worker `columns`' values hash to. Values of a type that cannot be
/// hashed all go to the first worker (the same every time: it depends on the type).
fn destinations(columns: &[ArrayRef], rows: usize, workers: usize) -> Vec<u32> {
    let mut hashes = vec![0u64; rows];
    if create_hashes(columns, &RandomState::with_seed(SEED), &mut hashes).is_err() {
        return vec![0; rows];
    }
    hashes
        .into_iter()
        // The high bits of hash × workers: an even spread without a division.
        .map(|h| ((u128::from(h) * workers as u128) >> 64) as u32)
        .collect()
}

/// The rows of `change` per worker, as `to` says.
fn split(change: &ChangeBatch, to: &[u32], workers: usize) -> Result<Vec<Option<ChangeBatch>>> {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); workers];
    for (row, &worker) in to.iter().enumerate() {
        rows[worker as usize].push(row as u32);
    }
    rows.into_iter()
        .map(|rows| {
            if rows.is_empty() {
                return Ok(None);
            }
            if rows.len() == change.num_rows() {
                return Ok(Some(change.clone()));
            }
            let indices = UInt32Array::from(rows);
            let data = take_record_batch(change.data(), &indices)?;
            let weights = take(change.weights(), &indices, None)?;
            let weights = weights
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| SluiceError::Internal("weights are not BIGINT".into()))?
                .clone();
            ChangeBatch::try_new(data, weights).map(Some)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};

    fn key() -> Vec<Arc<dyn PhysicalExpr>> {
        vec![Arc::new(Column::new("k", 0))]
    }

    #[test]
    fn equal_keys_meet_on_one_worker_and_nothing_is_lost() {
        let keys: Vec<Option<i64>> = (0..200).map(|i| Some(i % 17)).collect();
        let values: Vec<Option<i64>> = (0..200).map(Some).collect();
        let weights: Vec<i64> = (0..200).map(|i| if i % 3 == 0 { -1 } else { 1 }).collect();
        let change = change_of(batch(&[("k", &keys), ("v", &values)]), &weights);
        let halves = vec![
            Some(
                ChangeBatch::try_new(
                    change.data().slice(0, 90),
                    Int64Array::from(weights[..90].to_vec()),
                )
                .unwrap(),
            ),
            Some(
                ChangeBatch::try_new(
                    change.data().slice(90, 110),
                    Int64Array::from(weights[90..].to_vec()),
                )
                .unwrap(),
            ),
            None,
        ];
        let out = exchange(&Partitioning::Keys(key()), halves, 3).unwrap();
        let mut seen = Vec::new();
        let mut owner = std::collections::HashMap::new();
        for (worker, share) in out.iter().enumerate() {
            let Some(share) = share else { continue };
            for row in rows_of(share) {
                let k = row.split(',').next().unwrap().to_string();
                assert_eq!(*owner.entry(k).or_insert(worker), worker, "{row}");
                seen.push(row);
            }
        }
        let mut all = rows_of(&change);
        all.sort();
        seen.sort();
        assert_eq!(seen, all);
        assert!(
            out.iter().filter(|s| s.is_some()).count() > 1,
            "the keys spread"
        );
    }

    #[test]
    fn a_row_goes_to_the_same_worker_every_time() {
        let keys: Vec<Option<i64>> = (0..50).map(Some).collect();
        let inserted = change_of(batch(&[("k", &keys)]), &[1; 50]);
        let deleted = change_of(batch(&[("k", &keys)]), &[-1; 50]);
        let a = spread_rows(&inserted, 4).unwrap();
        let b = spread_rows(&deleted, 4).unwrap();
        for (a, b) in a.iter().zip(&b) {
            let rows = |s: &Option<ChangeBatch>| {
                s.as_ref()
                    .map(|s| s.data().column(0).clone())
                    .map(|c| format!("{c:?}"))
            };
            assert_eq!(rows(a), rows(b));
        }
        let pieces = cut(&inserted, 4);
        let sizes: Vec<usize> = pieces.iter().flatten().map(ChangeBatch::num_rows).collect();
        assert_eq!(sizes, [12, 13, 12, 13]);
        let single = exchange(&Partitioning::Single, a, 4).unwrap();
        assert_eq!(single[0].as_ref().map(ChangeBatch::num_rows), Some(50));
        assert!(single[1..].iter().all(Option::is_none));
    }
}
