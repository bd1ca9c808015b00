//! [`Run`]: an immutable batch of weighted keys, sorted by key and consolidated —
//! the unit a [`super::Spine`] is made of.
//!
//! Keys are byte strings (Arrow's row format: comparing the bytes compares the rows),
//! stored back to back in one Arrow `LargeBinary` array, with their weights in an
//! `Int64` array beside it. A checkpoint writes the pair as it is (see
//! [`crate::storage::checkpoint_file`]).

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, LargeBinaryArray, LargeBinaryBuilder, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Result, SluiceError};

/// Weighted keys. Invariants: keys strictly ascending (so each key at most once), no
/// weight zero, no null.
#[derive(Debug, Clone)]
pub struct Run {
    keys: LargeBinaryArray,
    weights: Int64Array,
}

impl Run {
    /// The run with no key.
    pub fn empty() -> Run {
        Run {
            keys: LargeBinaryBuilder::new().finish(),
            weights: Int64Array::from(Vec::<i64>::new()),
        }
    }

    /// Sorts `keys` and adds up the weights of equal keys, dropping those whose
    /// weights cancel. `keys` and `weights` are parallel.
    pub fn consolidate(keys: &[&[u8]], weights: &[i64]) -> Result<Run> {
        if keys.len() != weights.len() {
            return Err(SluiceError::Internal(format!(
                "{} keys with {} weights",
                keys.len(),
                weights.len()
            )));
        }
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b]));
        let bytes = keys.iter().map(|k| k.len()).sum();
        let mut out = RunBuilder::with_capacity(keys.len(), bytes);
        let mut i = 0;
        while i < order.len() {
            let key = keys[order[i]];
            let mut weight = 0;
            while i < order.len() && keys[order[i]] == key {
                weight += weights[order[i]];
                i += 1;
            }
            out.push(key, weight);
        }
        Ok(out.finish())
    }

    /// The union of two runs, weights of equal keys added up.
    pub fn merge(a: &Run, b: &Run) -> Run {
        let bytes = a.keys.value_data().len() + b.keys.value_data().len();
        let mut out = RunBuilder::with_capacity(a.len() + b.len(), bytes);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a.key(i).cmp(b.key(j)) {
                Ordering::Less => {
                    out.push(a.key(i), a.weight(i));
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(b.key(j), b.weight(j));
                    j += 1;
                }
                Ordering::Equal => {
                    out.push(a.key(i), a.weight(i) + b.weight(j));
                    i += 1;
                    j += 1;
                }
            }
        }
        for k in i..a.len() {
            out.push(a.key(k), a.weight(k));
        }
        for k in j..b.len() {
            out.push(b.key(k), b.weight(k));
        }
        out.finish()
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the run holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `i`-th smallest key.
    pub fn key(&self, i: usize) -> &[u8] {
        self.keys.value(i)
    }

    /// The weight of the `i`-th smallest key.
    pub fn weight(&self, i: usize) -> i64 {
        self.weights.value(i)
    }

    /// The weight of `key` (0 when the run does not hold it): one binary search, as
    /// keys are unique.
    pub fn weight_of(&self, key: &[u8]) -> i64 {
        let at = self.lower_bound(key);
        if at < self.len() && self.key(at) == key {
            self.weight(at)
        } else {
            0
        }
    }

    /// The position of the first key not less than `key`.
    pub fn lower_bound(&self, key: &[u8]) -> usize {
        partition_point(self.len(), |i| self.key(i) < key)
    }

    /// The position of the first key not less than `key`, searching from `from`
    /// (galloping: cheap when the answer is near `from`, as for sorted probes).
    pub fn seek(&self, from: usize, key: &[u8]) -> usize {
        if from >= self.len() || self.key(from) >= key {
            return from;
        }
        // Invariant: the key at `low` is less than `key`.
        let (mut low, mut step) = (from, 1);
        while low + step < self.len() && self.key(low + step) < key {
            low += step;
            step *= 2;
        }
        let high = (low + step).min(self.len());
        low + 1 + partition_point(high - low - 1, |i| self.key(low + 1 + i) < key)
    }

    /// The positions `[start, end)` of the keys that begin with `prefix`.
    pub fn prefix_range(&self, prefix: &[u8]) -> (usize, usize) {
        let start = self.lower_bound(prefix);
        let matching = partition_point(self.len() - start, |i| {
            self.key(start + i).starts_with(prefix)
        });
        (start, start + matching)
    }

    /// Bytes of memory held.
    pub fn bytes(&self) -> usize {
        self.keys.get_array_memory_size() + self.weights.get_array_memory_size()
    }

    /// The schema of [`Run::to_batch`].
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("key", DataType::LargeBinary, false),
            Field::new("weight", DataType::Int64, false),
        ]))
    }

    /// The run as a record batch of `(key, weight)`, sharing its buffers.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> =
            vec![Arc::new(self.keys.clone()), Arc::new(self.weights.clone())];
        Ok(RecordBatch::try_new(Run::schema(), columns)?)
    }

    /// The run a record batch of [`Run::to_batch`] holds, its invariants checked: a
    /// batch that breaks them did not come from a run.
    pub fn from_batch(batch: &RecordBatch) -> Result<Run> {
        let bad = |reason: &str| SluiceError::Internal(format!("not a run: {reason}"));
        if batch.num_columns() != 2 {
            return Err(bad("expected the columns key and weight"));
        }
        let keys = batch
            .column(0)
            .as_binary_opt::<i64>()
            .ok_or_else(|| bad("keys are not LargeBinary"))?
            .clone();
        let weights = batch
            .column(1)
            .as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>()
            .ok_or_else(|| bad("weights are not BIGINT"))?
            .clone();
        if keys.null_count() > 0 || weights.null_count() > 0 {
            return Err(bad("a null key or weight"));
        }
        if weights.values().contains(&0) {
            return Err(bad("a zero weight"));
        }
        let run = Run { keys, weights };
        if (1..run.len()).any(|i| run.key(i - 1) >= run.key(i)) {
            return Err(bad("keys out of order"));
        }
        Ok(run)
    }
}

/// The first `i` in `0..len` for which `before(i)` is false, where `before` is true
/// for a prefix of the range and false after it.
fn partition_point(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if before(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// Builds a run from keys pushed in ascending order.
struct RunBuilder {
    keys: LargeBinaryBuilder,
    weights: Vec<i64>,
}

impl RunBuilder {
    fn with_capacity(keys: usize, bytes: usize) -> RunBuilder {
        RunBuilder {
            keys: LargeBinaryBuilder::with_capacity(keys, bytes),
            weights: Vec::with_capacity(keys),
        }
    }

    /// Appends `key` (greater than the last one) unless its weight is zero.
    fn push(&mut self, key: &[u8], weight: i64) {
        if weight != 0 {
            self.keys.append_value(key);
            self.weights.push(weight);
        }
    }

    fn finish(mut self) -> Run {
        let mut keys = self.keys.finish();
        // Room was reserved for every key pushed; where many cancelled out (a merge
        // of a change with the state it retracts), copy the keys into buffers of
        // their size, so that a run holds no more memory than its keys need.
        let needed = keys.value_data().len() + 8 * (keys.len() + 1);
        if keys.get_array_memory_size() > needed + needed / 2 + 1024 {
            let mut exact = LargeBinaryBuilder::with_capacity(keys.len(), keys.value_data().len());
            for key in keys.iter().flatten() {
                exact.append_value(key);
            }
            keys = exact.finish();
        }
        self.weights.shrink_to_fit();
        Run {
            keys,
            weights: Int64Array::from(self.weights),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(run: &Run) -> Vec<(Vec<u8>, i64)> {
        (0..run.len())
            .map(|i| (run.key(i).to_vec(), run.weight(i)))
            .collect()
    }

    #[test]
    fn consolidation_sorts_adds_up_and_drops_cancelled_keys() {
        let keys: [&[u8]; 5] = [b"b", b"a", b"b", b"c", b"c"];
        let run = Run::consolidate(&keys, &[1, 2, 3, 1, -1]).unwrap();
        assert_eq!(pairs(&run), vec![(b"a".to_vec(), 2), (b"b".to_vec(), 4)]);
    }

    #[test]
    fn merge_adds_weights_of_equal_keys() {
        let a = Run::consolidate(&[b"a", b"c", b"e"], &[1, 1, 1]).unwrap();
        let b = Run::consolidate(&[b"b", b"c", b"e"], &[1, 2, -1]).unwrap();
        let merged = Run::merge(&a, &b);
        assert_eq!(
            pairs(&merged),
            vec![(b"a".to_vec(), 1), (b"b".to_vec(), 1), (b"c".to_vec(), 3)]
        );
        assert!(Run::merge(&Run::empty(), &Run::empty()).is_empty());
    }

    /// Merging a change that retracts most of the state leaves a run sized for what
    /// is left, not for both inputs.
    #[test]
    fn a_merge_where_keys_cancel_holds_no_slack() {
        let keys: Vec<Vec<u8>> = (0..10_000u32)
            .map(|i| [i.to_be_bytes(); 4].concat())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let state = Run::consolidate(&refs, &[1; 10_000]).unwrap();
        let retract = Run::consolidate(&refs[100..], &[-1; 9_900]).unwrap();
        let left = Run::merge(&state, &retract);
        assert_eq!(left.len(), 100);
        let kept = Run::consolidate(&refs[..100], &[1; 100]).unwrap();
        assert!(
            left.bytes() <= 2 * kept.bytes(),
            "{} vs {}",
            left.bytes(),
            kept.bytes()
        );
    }

    #[test]
    fn prefix_ranges_and_lower_bounds() {
        let keys: [&[u8]; 5] = [b"a1", b"b1", b"b2", b"b3", b"c"];
        let run = Run::consolidate(&keys, &[1; 5]).unwrap();
        assert_eq!(run.prefix_range(b"b"), (1, 4));
        assert_eq!(run.prefix_range(b"a"), (0, 1));
        assert_eq!(run.prefix_range(b"bz"), (4, 4));
        assert_eq!(run.prefix_range(b"d"), (5, 5));
        assert_eq!(run.lower_bound(b""), 0);
        for from in 0..=5 {
            for key in [&b""[..], b"a1", b"b", b"b2", b"b25", b"c", b"d"] {
                let want = run.lower_bound(key).max(from);
                assert_eq!(run.seek(from, key), want, "seek({from}, {key:?})");
            }
        }
    }

    #[test]
    fn batches_round_trip_and_broken_invariants_are_refused() {
        let run = Run::consolidate(&[b"x", b"y"], &[3, -2]).unwrap();
        let back = Run::from_batch(&run.to_batch().unwrap()).unwrap();
        assert_eq!(pairs(&back), pairs(&run));
        let unsorted = RecordBatch::try_new(
            Run::schema(),
            vec![
                Arc::new(LargeBinaryArray::from_vec(vec![b"y", b"x"])),
                Arc::new(Int64Array::from(vec![1, 1])),
            ],
        )
        .unwrap();
        assert!(Run::from_batch(&unsorted).is_err());
        let zero = RecordBatch::try_new(
            Run::schema(),
            vec![
                Arc::new(LargeBinaryArray::from_vec(vec![b"x"])),
                Arc::new(Int64Array::from(vec![0])),
            ],
        )
        .unwrap();
        assert!(Run::from_batch(&zero).is_err());
    }
}
