//! [`SpineDelta`]: a change to a [`super::Spine`] being built, its keys back to back
//! in one buffer so that building it allocates per change, not per key.

use super::Spine;
use crate::error::Result;

/// Keys with weights, to be applied to a spine together. A key is pushed as the
/// concatenation of its parts (an index key followed by a row, a group key followed
/// by its state).
#[derive(Debug, Default)]
pub struct SpineDelta {
    bytes: Vec<u8>,
    /// Where each key ends in `bytes`; it starts where the previous one ends.
    ends: Vec<usize>,
    weights: Vec<i64>,
}

impl SpineDelta {
    /// Adds `weight` occurrences of the key `parts` concatenated.
    pub fn push(&mut self, parts: &[&[u8]], weight: i64) {
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        self.ends.push(self.bytes.len());
        self.weights.push(weight);
    }

    /// The keys pushed, in order.
    pub fn keys(&self) -> Vec<&[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
            .collect()
    }

    /// The weights pushed, in order.
    pub fn weights(&self) -> &[i64] {
        &self.weights
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Applies the change to `spine` (one sort and consolidation).
    pub fn apply_to(&self, spine: &mut Spine) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        spine.apply(&self.keys(), &self.weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_their_parts_concatenated_and_apply_as_one_change() {
        let mut delta = SpineDelta::default();
        delta.push(&[b"ab", b"c"], 2);
        delta.push(&[b"", b"abc"], -1);
        delta.push(&[b"x"], 1);
        assert_eq!(delta.keys(), vec![&b"abc"[..], b"abc", b"x"]);
        let mut spine = Spine::new();
        delta.apply_to(&mut spine).unwrap();
        assert_eq!(spine.get(b"abc"), 1);
        assert_eq!(spine.get(b"x"), 1);
        assert_eq!(spine.run_count(), 1);
    }
}
