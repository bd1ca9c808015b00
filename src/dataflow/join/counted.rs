//! The joins that show a side's rows by their number of matches: semi, anti and mark
//! joins, the unmatched rows of left and full outer joins, `NOT IN`, `INTERSECT ALL`
//! and `EXCEPT ALL`.
//!
//! A counted side keeps, per distinct stored row, its number of matches `c`: the sum
//! of the multiplicities of the other side's rows it matches (a [`Spine`] of rows
//! weighted by `c`). A row stored `m` times is shown [`Join::shown`]`(m, c)` times:
//!
//! ```text
//!   semi: m if c > 0      anti, outer (beside NULLs): m if c = 0      mark: m, marked c > 0
//!   INTERSECT ALL: min(m, c)      EXCEPT ALL: max(m - c, 0)      NOT IN: see below
//! ```
//!
//! A change then moves the output in two ways: the multiplicities of its own rows
//! change (`shown(m', c) - shown(m, c)`, with `c` found by probing the other side),
//! and the stored rows of the other side that it matches change their counts
//! (`shown(m, c') - shown(m, c)`). Outer joins also output the matching pairs, as an
//! inner join does. Work stays proportional to the change and the rows it matches.
//!
//! `NOT IN` also depends on the whole right side: every left row is shown while the
//! right side is empty, none while it holds a NULL key, and otherwise the rows whose
//! key is not NULL and matches nothing. When the right side becomes empty or stops
//! being empty, or gains its first or loses its last NULL key, every left row's
//! answer changes, so it keeps every left row ([`NotIn`]) to re-show them all: that
//! change costs work proportional to the left side, as the answer itself changes that
//! much.

use foldhash::HashMap;

use datafusion::arrow::array::BooleanArray;

use super::{Join, JoinKind, JoinSide, Key, concat, updates_of};
use crate::dataflow::ChangeBatch;
use crate::dataflow::operator::{ErrorLog, filter_change};
use crate::dataflow::state::Spine;
use crate::error::Result;

/// What decides a `NOT IN` join's rows besides their own matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// The right side has no row: every left row is shown.
    EmptyRight,
    /// The right side holds a NULL key: no left row is shown.
    NullOnRight,
    /// Otherwise: the left rows whose key is not NULL and matches nothing.
    Keys,
}

/// A `NOT IN` join's state beyond the counts. Invariant: `keyed` and `unkeyed`
/// together hold the left side's rows with their multiplicities (`keyed` those also
/// in the left index); `right` holds the right side's number of rows under
/// [`ALL_ROWS`] and of rows with a NULL key under [`NULL_ROWS`].
#[derive(Debug, Default)]
pub(super) struct NotIn {
    keyed: Spine,
    unkeyed: Spine,
    right: Spine,
}

const ALL_ROWS: &[u8] = b"all";
const NULL_ROWS: &[u8] = b"null";

impl NotIn {
    fn gate_of(rows: i64, null_rows: i64) -> Gate {
        if rows == 0 {
            Gate::EmptyRight
        } else if null_rows > 0 {
            Gate::NullOnRight
        } else {
            Gate::Keys
        }
    }

    fn gate(&self) -> Gate {
        NotIn::gate_of(self.right.get(ALL_ROWS), self.right.get(NULL_ROWS))
    }

    /// The gate once a right change with these weights and keys is applied.
    fn gate_after(&self, change: &ChangeBatch, keys: &[Key]) -> Gate {
        let (rows, null_rows) = right_counts(change, keys);
        NotIn::gate_of(
            self.right.get(ALL_ROWS) + rows,
            self.right.get(NULL_ROWS) + null_rows,
        )
    }

    pub(super) fn bytes(&self) -> usize {
        self.keyed.bytes() + self.unkeyed.bytes() + self.right.bytes()
    }

    pub(super) fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![
            ("not_in_keyed", &mut self.keyed),
            ("not_in_unkeyed", &mut self.unkeyed),
            ("not_in_right", &mut self.right),
        ]
    }
}

/// A right change's number of rows, and of rows with a NULL key.
fn right_counts(change: &ChangeBatch, keys: &[Key]) -> (i64, i64) {
    keys.iter()
        .enumerate()
        .fold((0, 0), |(rows, nulls), (row, key)| {
            let weight = change.weights().value(row);
            (
                rows + weight,
                nulls + if key.is_none() { weight } else { 0 },
            )
        })
}

/// Stored rows (their own encoding) with the change of their counts.
type CountChanges = Vec<(Box<[u8]>, i64)>;

/// Rows to output from one side: row numbers or stored rows, weights and marks.
#[derive(Default)]
struct Shown<R> {
    rows: Vec<R>,
    weights: Vec<i64>,
    marks: Vec<bool>,
}

impl<R> Shown<R> {
    fn push(&mut self, row: R, weight: i64, mark: bool) {
        if weight != 0 {
            self.rows.push(row);
            self.weights.push(weight);
            self.marks.push(mark);
        }
    }
}

impl Join {
    /// Whether `side`'s rows are shown by their number of matches.
    fn counts(&self, side: JoinSide) -> bool {
        match side {
            JoinSide::Left => self.kind != JoinKind::Inner,
            JoinSide::Right => self.kind == JoinKind::FullOuter,
        }
    }

    /// Whether the matching pairs are output (inner and outer joins).
    pub(super) fn outputs_pairs(&self) -> bool {
        matches!(
            self.kind,
            JoinKind::Inner | JoinKind::LeftOuter | JoinKind::FullOuter
        )
    }

    /// How many times a row of a counted side, stored `m` times with `c` matches, is
    /// shown (a mark join shows each row, marked `c > 0`). `gate` and `null_key`
    /// (the row's key is NULL) matter to `NOT IN` only.
    fn shown(&self, gate: Gate, m: i64, c: i64, null_key: bool) -> i64 {
        let when = |shown: bool| if shown { m } else { 0 };
        match self.kind {
            JoinKind::LeftSemi => when(c > 0),
            JoinKind::LeftAnti | JoinKind::LeftOuter | JoinKind::FullOuter => when(c == 0),
            JoinKind::LeftMark => m,
            JoinKind::LeftNotIn => match gate {
                Gate::EmptyRight => m,
                Gate::NullOnRight => 0,
                Gate::Keys => when(!null_key && c == 0),
            },
            JoinKind::IntersectAll => m.min(c),
            JoinKind::ExceptAll => (m - c).max(0),
            JoinKind::Inner => 0,
        }
    }

    /// Whether a row's being shown depends only on whether it has matches, so a
    /// count that stays on the same side of zero changes nothing.
    fn presence_only(&self) -> bool {
        !matches!(self.kind, JoinKind::IntersectAll | JoinKind::ExceptAll)
    }

    fn gate(&self) -> Gate {
        self.not_in.as_ref().map_or(Gate::Keys, NotIn::gate)
    }

    /// The multiplicity of a stored row of `side` with `key`.
    fn stored(&self, side: JoinSide, key: Option<&[u8]>, row: &[u8]) -> i64 {
        match (key, &self.not_in) {
            (Some(key), _) => self.side(side).multiplicity(key, row),
            (None, Some(not_in)) if side == JoinSide::Left => not_in.unkeyed.get(row),
            (None, _) => 0,
        }
    }

    /// A change of a counted kind of join. See the module docs.
    pub(super) fn process_counted(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (change, keys) = self.keys_of(side, change, errors)?;
        let own_rows = self
            .side(side)
            .rows
            .convert_columns(change.data().columns())?;
        // The pairs' rows line up with `matching`: pair i is matching[i].
        let matching = self.matching(side, &keys);
        let pairs = self.pairs(side, &change, &matching)?;
        let passing = self.pair_mask(&pairs, errors)?;
        let mut output = Vec::new();
        if self.outputs_pairs() {
            output.push(filter_change(&pairs, &BooleanArray::from(passing.clone()))?);
        }
        // Each changed row's matches; each matched stored row's change of matches
        // (and a change row with its key).
        let mut row_matches = vec![0i64; change.num_rows()];
        let mut recounted: HashMap<&[u8], (i64, u32)> = HashMap::default();
        for ((row, other, weight), passes) in matching.iter().zip(&passing) {
            if *passes {
                row_matches[*row as usize] += weight;
                recounted.entry(other).or_insert((0, *row)).0 +=
                    change.weights().value(*row as usize);
            }
        }
        // The other side's rows first: they borrow its index, which this change
        // leaves as it is.
        let gate_before = self.gate();
        let gate_after = match &self.not_in {
            Some(not_in) if side == JoinSide::Right => not_in.gate_after(&change, &keys),
            _ => gate_before,
        };
        if self.counts(side.other()) {
            let (shown, counts) =
                self.recount(side.other(), &recounted, &keys, gate_before, gate_after)?;
            output.push(shown);
            let rows: Vec<&[u8]> = counts.iter().map(|(row, _)| row.as_ref()).collect();
            let by: Vec<i64> = counts.iter().map(|(_, by)| *by).collect();
            if let Some(matches) = &mut self.other_side_mut(side).matches {
                matches.apply(&rows, &by)?;
            }
        }
        if let Some(not_in) = &mut self.not_in
            && side == JoinSide::Right
        {
            let (rows, null_rows) = right_counts(&change, &keys);
            not_in
                .right
                .apply(&[ALL_ROWS, NULL_ROWS], &[rows, null_rows])?;
        }
        if !self.counts(side) {
            self.store(side, &change, &own_rows, updates_of(&keys))?;
            return concat_all(output);
        }
        // This side's changed rows, each distinct row once: its first change row and
        // its change of multiplicity.
        let mut first_seen: HashMap<&[u8], usize> = HashMap::default();
        let mut distinct: Vec<(&[u8], u32, i64)> = Vec::new();
        for row in 0..change.num_rows() {
            let bytes = own_rows.row(row).data();
            let weight = change.weights().value(row);
            match first_seen.get(bytes) {
                Some(&at) => distinct[at].2 += weight,
                None => {
                    first_seen.insert(bytes, distinct.len());
                    distinct.push((bytes, row as u32, weight));
                }
            }
        }
        let mut shown = Shown::default();
        for (bytes, first, delta) in &distinct {
            let key = keys[*first as usize].as_deref();
            let before = self.stored(side, key, bytes);
            let c = row_matches[*first as usize];
            let null_key = key.is_none();
            let weight = self.shown(gate_after, before + delta, c, null_key)
                - self.shown(gate_after, before, c, null_key);
            shown.push(*first, weight, c > 0);
        }
        output.push(self.rows_of_change(side, &change, &shown.rows, shown.weights, shown.marks)?);
        self.store(side, &change, &own_rows, updates_of(&keys))?;
        if let Some(not_in) = &mut self.not_in {
            let (mut keyed, mut unkeyed) = (Vec::new(), Vec::new());
            for (row, key) in keys.iter().enumerate() {
                let target = if key.is_some() {
                    &mut keyed
                } else {
                    &mut unkeyed
                };
                target.push((own_rows.row(row).data(), change.weights().value(row)));
            }
            for (spine, rows) in [(&mut not_in.keyed, keyed), (&mut not_in.unkeyed, unkeyed)] {
                let (rows, weights): (Vec<&[u8]>, Vec<i64>) = rows.into_iter().unzip();
                spine.apply(&rows, &weights)?;
            }
        }
        // Each stored row's matches become its count (none once it is gone).
        let mut rows: Vec<&[u8]> = Vec::new();
        let mut by: Vec<i64> = Vec::new();
        for (bytes, first, _) in &distinct {
            let Some(key) = keys[*first as usize].as_deref() else {
                continue;
            };
            let still_there = self.side(side).multiplicity(key, bytes) != 0;
            let target = if still_there {
                row_matches[*first as usize]
            } else {
                0
            };
            let delta = target - self.side(side).matches_of(bytes);
            if delta != 0 {
                rows.push(bytes);
                by.push(delta);
            }
        }
        if let Some(matches) = &mut self.side_mut(side).matches {
            matches.apply(&rows, &by)?;
        }
        concat_all(output)
    }

    /// The output change, and the changes of counts, of the stored rows of counted
    /// side `side` whose matches change by `recounted` (by stored row: the change of
    /// its count, and a change row holding its key). Under `NOT IN`, a change of gate
    /// re-shows every left row.
    fn recount(
        &self,
        side: JoinSide,
        recounted: &HashMap<&[u8], (i64, u32)>,
        keys: &[Key],
        gate_before: Gate,
        gate_after: Gate,
    ) -> Result<(ChangeBatch, CountChanges)> {
        let this = self.side(side);
        let mut shown: Shown<&[u8]> = Shown::default();
        let counts = recounted
            .iter()
            .map(|(row, (by, _))| (Box::<[u8]>::from(*row), *by))
            .collect();
        if let Some(not_in) = &self.not_in
            && gate_before != gate_after
        {
            for (row, m) in not_in.keyed.iter() {
                let before = this.matches_of(row);
                let after = before + recounted.get(row).map_or(0, |(by, _)| *by);
                let weight = self.shown(gate_after, m, after, false)
                    - self.shown(gate_before, m, before, false);
                shown.push(row, weight, false);
            }
            for (row, m) in not_in.unkeyed.iter() {
                let weight =
                    self.shown(gate_after, m, 0, true) - self.shown(gate_before, m, 0, true);
                shown.push(row, weight, false);
            }
        } else {
            for (row, (by, change_row)) in recounted {
                let before = this.matches_of(row);
                let after = before + by;
                if self.presence_only() && (before > 0) == (after > 0) {
                    continue;
                }
                let m = keys[*change_row as usize]
                    .as_deref()
                    .map_or(0, |key| this.multiplicity(key, row));
                if self.kind == JoinKind::LeftMark {
                    // The row stays; its mark changes.
                    shown.push(*row, -m, before > 0);
                    shown.push(*row, m, after > 0);
                } else {
                    let weight = self.shown(gate_after, m, after, false)
                        - self.shown(gate_before, m, before, false);
                    shown.push(*row, weight, false);
                }
            }
        }
        let output = self.decode_rows(side, &shown.rows, shown.weights, shown.marks)?;
        Ok((output, counts))
    }
}

/// The parts' rows, in order (at least one part).
fn concat_all(parts: Vec<ChangeBatch>) -> Result<ChangeBatch> {
    let mut parts = parts.into_iter();
    let first = parts.next().ok_or_else(|| {
        crate::error::SluiceError::Internal("a join change with no output part".into())
    })?;
    parts.try_fold(first, |all, part| concat(&all, &part))
}

#[cfg(test)]
mod tests {
    use super::super::tests::join_of;
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};

    type Row = (Option<i64>, Option<i64>);

    /// What a `kind` join of `(k, a)` and `(k, b)` on `k` (residual `b > a` when
    /// `residual`) outputs for these multisets, computed from scratch, as
    /// [`rows_of`] prints it.
    fn expected(
        kind: JoinKind,
        residual: bool,
        left: &[(Row, i64)],
        right: &[(Row, i64)],
    ) -> Vec<String> {
        let show = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
        let set_operation = matches!(kind, JoinKind::IntersectAll | JoinKind::ExceptAll);
        let matches = |l: Row, r: Row| {
            if set_operation {
                return l == r;
            }
            l.0.is_some()
                && l.0 == r.0
                && (!residual || matches!((l.1, r.1), (Some(a), Some(b)) if b > a))
        };
        let count = |l: Row| -> i64 {
            right
                .iter()
                .filter(|(r, _)| matches(l, *r))
                .map(|(_, m)| m)
                .sum()
        };
        let right_count = |r: Row| -> i64 {
            left.iter()
                .filter(|(l, _)| matches(*l, r))
                .map(|(_, m)| m)
                .sum()
        };
        let mut out: Vec<(String, i64)> = Vec::new();
        if matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) {
            for (l, lm) in left {
                for (r, rm) in right {
                    if matches(*l, *r) {
                        out.push((
                            format!("{},{},{},{}", show(l.0), show(l.1), show(r.0), show(r.1)),
                            lm * rm,
                        ));
                    }
                }
            }
        }
        let rows: i64 = right.iter().map(|(_, m)| m).sum();
        let null_rows: i64 = right
            .iter()
            .filter(|(r, _)| r.0.is_none())
            .map(|(_, m)| m)
            .sum();
        for (l, m) in left {
            let c = count(*l);
            let shown = |weight: i64, text: String| (text, weight);
            let plain = format!("{},{}", show(l.0), show(l.1));
            out.push(match kind {
                JoinKind::LeftSemi => shown(if c > 0 { *m } else { 0 }, plain),
                JoinKind::LeftAnti => shown(if c == 0 { *m } else { 0 }, plain),
                JoinKind::LeftMark => shown(*m, format!("{plain},{}", c > 0)),
                JoinKind::LeftOuter | JoinKind::FullOuter => {
                    shown(if c == 0 { *m } else { 0 }, format!("{plain},NULL,NULL"))
                }
                JoinKind::LeftNotIn => {
                    let passes = rows == 0 || (null_rows == 0 && l.0.is_some() && c == 0);
                    shown(if passes { *m } else { 0 }, plain)
                }
                JoinKind::IntersectAll => shown((*m).min(c), plain),
                JoinKind::ExceptAll => shown((m - c).max(0), plain),
                JoinKind::Inner => unreachable!("counted kinds only"),
            });
        }
        if kind == JoinKind::FullOuter {
            for (r, m) in right {
                if right_count(*r) == 0 {
                    out.push((format!("NULL,NULL,{},{}", show(r.0), show(r.1)), *m));
                }
            }
        }
        // Equal rows (a padded row of each side can look alike) add up.
        let mut merged: Vec<(String, i64)> = Vec::new();
        for (text, weight) in out {
            match merged.iter_mut().find(|(t, _)| *t == text) {
                Some(entry) => entry.1 += weight,
                None => merged.push((text, weight)),
            }
        }
        let mut rows: Vec<String> = merged
            .into_iter()
            .filter(|(_, w)| *w != 0)
            .map(|(text, w)| format!("{text} x{w}"))
            .collect();
        rows.sort();
        rows
    }

    /// Adds `change`'s rows to `total` (rows as printed, with weights), dropping zeros.
    fn accumulate(total: &mut Vec<(String, i64)>, change: &ChangeBatch) {
        for line in rows_of(change) {
            let (text, weight) = line.rsplit_once(" x").expect("printed row");
            let weight: i64 = weight.parse().expect("weight");
            match total.iter_mut().find(|(t, _)| t == text) {
                Some(entry) => entry.1 += weight,
                None => total.push((text.to_string(), weight)),
            }
        }
        total.retain(|(_, w)| *w != 0);
    }

    /// A seeded random value: a small number, or NULL one time in six.
    fn value(seed: &mut u64) -> Option<i64> {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let v = (*seed % 24) as i64;
        (v >= 4).then_some(v % 4)
    }

    /// Random inserts and deletes (of rows present) on both sides, in batches with
    /// repeated rows; after every batch the accumulated output equals the output
    /// computed from scratch.
    fn random_stream_matches_recomputation(kind: JoinKind, residual: bool) {
        for seed in 1..=20u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut join = join_of(kind, residual);
            let mut errors = ErrorLog::default();
            let mut left: Vec<(Row, i64)> = Vec::new();
            let mut right: Vec<(Row, i64)> = Vec::new();
            let mut total: Vec<(String, i64)> = Vec::new();
            for step in 0..40 {
                let on_left = value(&mut rng).is_some_and(|v| v < 2);
                let stored = if on_left { &mut left } else { &mut right };
                let mut ks = Vec::new();
                let mut vs = Vec::new();
                let mut ws = Vec::new();
                for _ in 0..1 + (rng % 5) {
                    let delete = value(&mut rng) == Some(0) && !stored.is_empty();
                    let row = if delete {
                        stored[(rng as usize) % stored.len()].0
                    } else {
                        (value(&mut rng), value(&mut rng))
                    };
                    let weight = if delete { -1 } else { 1 };
                    match stored.iter_mut().find(|(r, _)| *r == row) {
                        Some(entry) => entry.1 += weight,
                        None => stored.push((row, weight)),
                    }
                    stored.retain(|(_, m)| *m != 0);
                    ks.push(row.0);
                    vs.push(row.1);
                    ws.push(weight);
                }
                let (side, name) = if on_left {
                    (JoinSide::Left, "a")
                } else {
                    (JoinSide::Right, "b")
                };
                let change = change_of(batch(&[("k", &ks), (name, &vs)]), &ws);
                let out = join.process_side(side, &change, &mut errors).unwrap();
                accumulate(&mut total, &out);
                let mut got: Vec<String> = total.iter().map(|(t, w)| format!("{t} x{w}")).collect();
                got.sort();
                assert_eq!(
                    got,
                    expected(kind, residual, &left, &right),
                    "{kind:?} (residual {residual}), seed {seed}, step {step}"
                );
            }
        }
    }

    #[test]
    fn every_counted_kind_follows_a_random_stream() {
        for kind in [
            JoinKind::LeftSemi,
            JoinKind::LeftAnti,
            JoinKind::LeftMark,
            JoinKind::LeftOuter,
            JoinKind::FullOuter,
        ] {
            random_stream_matches_recomputation(kind, false);
            random_stream_matches_recomputation(kind, true);
        }
        for kind in [
            JoinKind::LeftNotIn,
            JoinKind::IntersectAll,
            JoinKind::ExceptAll,
        ] {
            random_stream_matches_recomputation(kind, false);
        }
    }

    #[test]
    fn full_join_pads_rows_of_both_sides_until_they_match() {
        let mut j = join_of(JoinKind::FullOuter, false);
        let mut e = ErrorLog::default();
        let right = change_of(
            batch(&[("k", &[Some(1), None]), ("b", &[Some(7), Some(8)])]),
            &[1, 1],
        );
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &right, &mut e).unwrap()),
            vec!["NULL,NULL,1,7 x1", "NULL,NULL,NULL,8 x1"]
        );
        let left = change_of(
            batch(&[("k", &[Some(1), Some(2)]), ("a", &[Some(5), Some(6)])]),
            &[1, 1],
        );
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &left, &mut e).unwrap()),
            vec!["1,5,1,7 x1", "2,6,NULL,NULL x1", "NULL,NULL,1,7 x-1"]
        );
    }

    #[test]
    fn not_in_follows_nulls_and_emptiness_of_the_right_side() {
        let mut j = join_of(JoinKind::LeftNotIn, false);
        let mut e = ErrorLog::default();
        let left = change_of(
            batch(&[("k", &[Some(1), None]), ("a", &[Some(5), Some(6)])]),
            &[1, 1],
        );
        // Against no row at all, even a NULL is NOT IN.
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &left, &mut e).unwrap()),
            vec!["1,5 x1", "NULL,6 x1"]
        );
        let two = change_of(batch(&[("k", &[Some(2)]), ("b", &[Some(0)])]), &[1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &two, &mut e).unwrap()),
            vec!["NULL,6 x-1"]
        );
        // A NULL on the right makes every comparison unknown.
        let null = change_of(batch(&[("k", &[None]), ("b", &[Some(0)])]), &[1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &null, &mut e).unwrap()),
            vec!["1,5 x-1"]
        );
        let gone = change_of(
            batch(&[("k", &[None, Some(2)]), ("b", &[Some(0), Some(0)])]),
            &[-1, -1],
        );
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &gone, &mut e).unwrap()),
            vec!["1,5 x1", "NULL,6 x1"]
        );
    }

    #[test]
    fn intersect_and_except_all_count_copies() {
        let mut i = join_of(JoinKind::IntersectAll, false);
        let mut x = join_of(JoinKind::ExceptAll, false);
        let mut e = ErrorLog::default();
        let left = change_of(
            batch(&[
                ("k", &[None, None, None]),
                ("a", &[Some(1), Some(1), Some(1)]),
            ]),
            &[1, 1, 1],
        );
        let right = change_of(
            batch(&[("k", &[None, None]), ("b", &[Some(1), Some(1)])]),
            &[1, 1],
        );
        for j in [&mut i, &mut x] {
            j.process_side(JoinSide::Left, &left, &mut e).unwrap();
        }
        assert_eq!(
            rows_of(&i.process_side(JoinSide::Right, &right, &mut e).unwrap()),
            vec!["NULL,1 x2"]
        );
        assert_eq!(
            rows_of(&x.process_side(JoinSide::Right, &right, &mut e).unwrap()),
            vec!["NULL,1 x-2"]
        );
    }
}
