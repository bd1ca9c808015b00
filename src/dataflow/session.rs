//! Session windows: the rule ([`session_bounds`]) shared by plain queries and views,
//! and [`Session`], the incremental operator that maintains it.
//!
//! Rows of one partition key, ordered by event time, are in the same session while
//! each is less than `gap` after the one before it; a difference of exactly `gap`
//! starts a new session. A session's `window_start` is its first event time,
//! `window_end` its last event time plus `gap` (exclusive), so no row of the key
//! falls in `[window_end - gap, window_end)` after its last event.
//!
//! ```text
//!   change ──▶ group rows by key ──▶ per touched key: sessions before, apply rows,
//!                                    sessions after ──▶ −(row, old bounds) +(row, new bounds)
//! ```
//!
//! An insert can extend a session or merge two; a delete can shrink or split one:
//! recomputing the touched keys' sessions and emitting the difference covers all of
//! them. Work per change is proportional to the rows held for the touched keys.
//!
//! State: one [`Spine`] of the rows held, `partition ++ event time ++ row` weighted
//! by the row's count, where `partition` is the key's length (u32, big-endian) and
//! then its row encoding — no partition prefix is a prefix of another, so a prefix
//! read finds one partition's rows, in event-time order (times in [`sortable_i64`]).
//!
//! When the time column has a watermark ([`super::watermark`]), the operator learns
//! it as the view's watermark advances ([`Operator::evict_closed`]): sessions with
//! `window_end <= w` are final and their rows are forgotten; a row with event time
//! `< w` is late (dropped and counted), since it could extend or bridge sessions that
//! are already final.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use foldhash::HashMap;

use super::ChangeBatch;
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator, canonical_floats, evaluate_rows};
use super::state::{Spine, SpineDelta, from_sortable_i64, sortable_i64};
use super::watermark::ColumnWatermark;
use crate::error::{Result, SluiceError};

/// Which bound of its session a window column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bound {
    /// `window_start`: the session's first event time.
    Start,
    /// `window_end`: the session's last event time plus the gap.
    End,
}

/// The `(window_start, window_end)` of each of `times` (µs, ascending) under a gap of
/// `gap` µs: see the module docs.
pub fn session_bounds(times: &[i64], gap: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(times.len());
    let mut first = 0;
    for i in 0..times.len() {
        let last = i + 1 == times.len() || times[i + 1].saturating_sub(times[i]) >= gap;
        if last {
            let bounds = (times[first], times[i].saturating_add(gap));
            out.extend(std::iter::repeat_n(bounds, i + 1 - first));
            first = i + 1;
        }
    }
    out
}

/// `column` as microseconds since the epoch.
pub fn micros(
    column: &dyn Array,
) -> Result<datafusion::arrow::array::PrimitiveArray<TimestampMicrosecondType>> {
    let cast = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    Ok(cast.as_primitive::<TimestampMicrosecondType>().clone())
}

/// A row held for a key: its event time (µs), its encoded columns and its count.
type Held<'a> = (i64, &'a [u8], i64);
/// A session's `(window_start, window_end)` in µs.
type Bounds = (i64, i64);
/// An output row: encoded input columns, session bounds (NULL without a time), weight.
type Out = (Box<[u8]>, Option<Bounds>, i64);

/// The session-window operator. See the module docs.
#[derive(Debug)]
pub struct Session {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    time: Arc<dyn PhysicalExpr>,
    gap: i64,
    bounds: Vec<Bound>,
    schema: SchemaRef,
    key_codec: Option<RowConverter>,
    row_codec: RowConverter,
    /// The rows held: `partition ++ event time ++ row`, weighted by count (see the
    /// module docs).
    partitions: Spine,
    /// The time column's watermark, when it has one: sessions close by it.
    time_watermark: Option<ColumnWatermark>,
    /// The time column's watermark as of the view's last one (µs).
    watermark: Option<i64>,
    /// The earliest session end after the last eviction scan (a lower bound): no scan
    /// is needed before the watermark reaches it.
    next_end: Option<i64>,
    late_rows: u64,
}

impl Session {
    /// Sessions over rows partitioned by `keys` (none: one partition), ordered by
    /// `time`, with `gap` µs. `schema` is the output: the input's columns, then one
    /// column per entry of `bounds`.
    pub fn try_new(
        keys: Vec<Arc<dyn PhysicalExpr>>,
        time: Arc<dyn PhysicalExpr>,
        gap: i64,
        bounds: Vec<Bound>,
        input: &SchemaRef,
        schema: SchemaRef,
    ) -> Result<Self> {
        if gap <= 0 {
            return Err(SluiceError::Internal(format!("session gap {gap} µs")));
        }
        let key_codec = if keys.is_empty() {
            None
        } else {
            let fields = keys
                .iter()
                .map(|k| Ok(SortField::new(k.data_type(input)?)))
                .collect::<Result<Vec<_>>>()?;
            Some(RowConverter::new(fields)?)
        };
        let row_codec = super::change::row_codec(input.fields())?;
        Ok(Session {
            keys,
            time,
            gap,
            bounds,
            schema,
            key_codec,
            row_codec,
            partitions: Spine::new(),
            time_watermark: None,
            watermark: None,
            next_end: None,
            late_rows: 0,
        })
    }

    /// Sessions closed by the watermark of the time column (see the module docs).
    pub fn closing_by(mut self, time_watermark: ColumnWatermark) -> Self {
        self.time_watermark = Some(time_watermark);
        self
    }

    /// The output change for `rows`: `(encoded input row, bounds or NULL, weight)`.
    fn output(&self, rows: Vec<Out>) -> Result<ChangeBatch> {
        let parser = self.row_codec.parser();
        let mut columns = self
            .row_codec
            .convert_rows(rows.iter().map(|(row, _, _)| parser.parse(row)))?;
        let inputs = columns.len();
        for (i, bound) in self.bounds.iter().enumerate() {
            let values: datafusion::arrow::array::TimestampMicrosecondArray = rows
                .iter()
                .map(|(_, b, _)| {
                    b.map(|(start, end)| match bound {
                        Bound::Start => start,
                        Bound::End => end,
                    })
                })
                .collect();
            let field = self.schema.field(inputs + i);
            columns.push(cast(&values, field.data_type())?);
        }
        let weights = Int64Array::from_iter_values(rows.iter().map(|(_, _, w)| *w));
        let data = RecordBatch::try_new(
            super::change::nullable(&self.schema),
            columns as Vec<ArrayRef>,
        )?;
        let data =
            RecordBatch::try_new(self.schema.clone(), data.columns().to_vec()).unwrap_or(data);
        ChangeBatch::try_new(data, weights)
    }
}

/// Each row of a partition (`held`, in event-time order) with its session bounds.
fn assigned<'a>(held: &[Held<'a>], gap: i64) -> impl Iterator<Item = (Held<'a>, Bounds)> {
    let times: Vec<i64> = held.iter().map(|(t, _, _)| *t).collect();
    held.iter().copied().zip(session_bounds(&times, gap))
}

/// The prefix of a partition's entries: the key's length, then the key.
fn partition_prefix(key: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(4 + key.len());
    // Keys are row encodings of a few columns: far below 4 GiB.
    prefix.extend((key.len() as u32).to_be_bytes());
    prefix.extend_from_slice(key);
    prefix
}

/// An entry's partition prefix length, event time and row.
fn split_entry(entry: &[u8]) -> Result<(usize, i64, &[u8])> {
    let broken = || SluiceError::Internal("a session window's held row is damaged".into());
    let (length, rest) = entry.split_first_chunk::<4>().ok_or_else(broken)?;
    let prefix = 4 + u32::from_be_bytes(*length) as usize;
    let rest = rest.get(prefix - 4..).ok_or_else(broken)?;
    let (time, row) = rest.split_first_chunk::<8>().ok_or_else(broken)?;
    let time = from_sortable_i64(*time);
    Ok((prefix, time, row))
}

/// The rows of one partition held in `entries` (in order), as `(time, row, count)`.
fn held_rows<'a>(entries: impl Iterator<Item = (&'a [u8], i64)>) -> Result<Vec<Held<'a>>> {
    entries
        .map(|(entry, count)| split_entry(entry).map(|(_, time, row)| (time, row, count)))
        .collect()
}

impl Operator for Session {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let mut exprs = vec![self.time.clone()];
        exprs.extend(self.keys.iter().cloned());
        let (change, columns) = evaluate_rows(&exprs, change, errors)?;
        let times = micros(columns[0].as_ref())?;
        let keys = match &self.key_codec {
            Some(codec) => Some(codec.convert_columns(&canonical_floats(&columns[1..])?)?),
            None => None,
        };
        let rows = self.row_codec.convert_columns(change.data().columns())?;
        // Rows without an event time are in no session; they pass with NULL bounds.
        let mut out = Vec::new();
        let mut numbers: HashMap<&[u8], usize> = HashMap::default();
        let mut touched: Vec<Vec<(i64, &[u8], i64)>> = Vec::new();
        let mut prefixes: Vec<Vec<u8>> = Vec::new();
        for (i, weight) in change.weights().values().iter().enumerate() {
            let row = rows.row(i).data();
            if times.is_null(i) {
                out.push((row.into(), None, *weight));
                continue;
            }
            let time = times.value(i);
            if self.watermark.is_some_and(|w| time < w) {
                self.late_rows += weight.unsigned_abs();
                continue;
            }
            let key: &[u8] = keys.as_ref().map_or(&[][..], |k| k.row(i).data());
            let number = *numbers.entry(key).or_insert_with(|| {
                prefixes.push(partition_prefix(key));
                touched.push(Vec::new());
                touched.len() - 1
            });
            touched[number].push((time, row, *weight));
        }
        let prefix_refs: Vec<&[u8]> = prefixes.iter().map(Vec::as_slice).collect();
        let held = self.partitions.prefix_matches(&prefix_refs);
        let mut held = held.into_iter().peekable();
        let mut diff: BTreeMap<(&[u8], i64, i64), i64> = BTreeMap::new();
        let mut delta = SpineDelta::default();
        for (number, changes) in touched.iter().enumerate() {
            let mut partition: BTreeMap<(i64, &[u8]), i64> = BTreeMap::new();
            while let Some((_, entry, count)) = held.next_if(|(n, _, _)| *n as usize == number) {
                let (_, time, row) = split_entry(entry)?;
                partition.insert((time, row), count);
            }
            let before: Vec<Held> = partition.iter().map(|(&(t, r), &c)| (t, r, c)).collect();
            for ((_, row, count), (start, end)) in assigned(&before, self.gap) {
                *diff.entry((row, start, end)).or_default() -= count;
            }
            for &(time, row, weight) in changes {
                *partition.entry((time, row)).or_default() += weight;
                delta.push(&[&prefixes[number], &sortable_i64(time), row], weight);
            }
            let after: Vec<Held> = partition
                .iter()
                .filter(|(_, c)| **c != 0)
                .map(|(&(t, r), &c)| (t, r, c))
                .collect();
            for ((_, row, count), (start, end)) in assigned(&after, self.gap) {
                *diff.entry((row, start, end)).or_default() += count;
                self.next_end = Some(self.next_end.map_or(end, |n| n.min(end)));
            }
        }
        out.extend(
            diff.into_iter()
                .filter(|(_, weight)| *weight != 0)
                .map(|((row, start, end), weight)| (row.into(), Some((start, end)), weight)),
        );
        drop(held);
        delta.apply_to(&mut self.partitions)?;
        self.output(out)
    }

    /// By partition key: sessions never span partitions.
    fn partitioning(&self, _input: usize) -> Partitioning {
        Partitioning::by(&self.keys)
    }

    fn describe(&self) -> String {
        format!(
            "Session: gap {} µs, partitioned by {} key(s)",
            self.gap,
            self.keys.len()
        )
    }

    fn state_size(&self) -> usize {
        self.partitions.bytes()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![("rows", &mut self.partitions)]
    }

    fn restored(&mut self) {
        // An unknown lower bound: the next watermark scans.
        self.next_end = Some(i64::MIN);
    }

    fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        let Some(time_watermark) = &self.time_watermark else {
            return Ok(());
        };
        let Some(watermark) = time_watermark.at(watermark)? else {
            return Ok(());
        };
        self.watermark = Some(self.watermark.map_or(watermark, |w| w.max(watermark)));
        if self.next_end.is_none_or(|end| end > watermark) {
            return Ok(());
        }
        let mut next_end: Option<i64> = None;
        let mut forgotten = SpineDelta::default();
        let mut entries = self.partitions.iter().peekable();
        while let Some(&(first, _)) = entries.peek() {
            let (length, _, _) = split_entry(first)?;
            let prefix = &first[..length];
            let held = held_rows(std::iter::from_fn(|| {
                entries.next_if(|(entry, _)| entry.starts_with(prefix))
            }))?;
            for ((time, row, count), (_, end)) in assigned(&held, self.gap) {
                if end <= watermark {
                    forgotten.push(&[prefix, &sortable_i64(time), row], -count);
                } else {
                    next_end = Some(next_end.map_or(end, |n| n.min(end)));
                }
            }
        }
        drop(entries);
        forgotten.apply_to(&mut self.partitions)?;
        self.next_end = next_end;
        Ok(())
    }

    fn late_rows(&self) -> u64 {
        self.late_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::physical_expr::expressions::Column;

    /// Sessions over `(k, ts)` rows (ts in µs), keyed by `k`, output `k, ts, start, end`.
    fn operator(gap: i64) -> Session {
        let input = batch(&[("k", &[]), ("ts", &[])]).schema();
        let output = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("ts", DataType::Int64, true),
            Field::new("window_start", DataType::Int64, true),
            Field::new("window_end", DataType::Int64, true),
        ]));
        Session::try_new(
            vec![Arc::new(Column::new("k", 0))],
            Arc::new(Column::new("ts", 1)),
            gap,
            vec![Bound::Start, Bound::End],
            &input,
            output,
        )
        .unwrap()
        .closing_by(crate::dataflow::watermark::testing::shifted(0))
    }

    fn push(op: &mut Session, rows: &[(i64, i64)], weight: i64) -> Vec<String> {
        let k: Vec<Option<i64>> = rows.iter().map(|r| Some(r.0)).collect();
        let ts: Vec<Option<i64>> = rows.iter().map(|r| Some(r.1)).collect();
        let change = change_of(batch(&[("k", &k), ("ts", &ts)]), &vec![weight; rows.len()]);
        rows_of(&op.process(0, &change, &mut ErrorLog::default()).unwrap())
    }

    #[test]
    fn the_rule() {
        assert_eq!(
            session_bounds(&[0, 5, 14, 24, 40], 10),
            vec![(0, 24), (0, 24), (0, 24), (24, 34), (40, 50)]
        );
        assert!(session_bounds(&[], 10).is_empty());
    }

    #[test]
    fn an_event_bridging_two_sessions_merges_them_and_its_delete_splits_them() {
        let mut op = operator(10);
        assert_eq!(
            push(&mut op, &[(1, 0), (1, 15)], 1),
            vec!["1,0,0,10 x1", "1,15,15,25 x1"]
        );
        assert_eq!(
            push(&mut op, &[(1, 8)], 1),
            vec![
                "1,0,0,10 x-1",
                "1,0,0,25 x1",
                "1,15,0,25 x1",
                "1,15,15,25 x-1",
                "1,8,0,25 x1"
            ]
        );
        assert_eq!(
            push(&mut op, &[(1, 8)], -1),
            vec![
                "1,0,0,10 x1",
                "1,0,0,25 x-1",
                "1,15,0,25 x-1",
                "1,15,15,25 x1",
                "1,8,0,25 x-1"
            ]
        );
    }

    #[test]
    fn out_of_order_events_and_keys_are_independent() {
        let mut op = operator(10);
        push(&mut op, &[(1, 30)], 1);
        // Exactly `gap` apart: a new session.
        assert_eq!(push(&mut op, &[(1, 20)], 1), vec!["1,20,20,30 x1"]);
        assert_eq!(push(&mut op, &[(2, 25)], 1), vec!["2,25,25,35 x1"]);
        assert_eq!(
            push(&mut op, &[(1, 25)], 1),
            vec![
                "1,20,20,30 x-1",
                "1,20,20,40 x1",
                "1,25,20,40 x1",
                "1,30,20,40 x1",
                "1,30,30,40 x-1"
            ]
        );
        // A duplicate row only adds a copy.
        assert_eq!(push(&mut op, &[(2, 25)], 1), vec!["2,25,25,35 x1"]);
    }

    #[test]
    fn closed_sessions_are_forgotten_and_rows_behind_the_watermark_are_late() {
        let mut op = operator(10);
        push(&mut op, &[(1, 0), (1, 5), (2, 12), (1, 30)], 1);
        assert_eq!(op.partitions.distinct_keys(), 4);
        op.evict_closed(15).unwrap();
        // Key 1's first session (rows 0 and 5) closed: its rows are forgotten.
        assert_eq!(op.partitions.distinct_keys(), 2);
        // Behind the watermark: late, even though key 2's session is still open.
        assert!(push(&mut op, &[(2, 14), (1, 3)], 1).is_empty());
        assert_eq!(op.late_rows(), 2);
        assert_eq!(
            push(&mut op, &[(2, 15)], 1),
            vec!["2,12,12,22 x-1", "2,12,12,25 x1", "2,15,12,25 x1"]
        );
        op.evict_closed(40).unwrap();
        assert!(op.partitions.is_empty());
    }

    /// Random inserts and deletes, one change at a time: the accumulated output equals
    /// the sessions of the accumulated input.
    #[test]
    fn incremental_output_equals_recomputation() {
        let mut op = operator(7);
        let mut state: BTreeMap<(i64, i64), i64> = BTreeMap::new();
        let mut output: BTreeMap<String, i64> = BTreeMap::new();
        let mut seed = 42u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n) as i64
        };
        for _ in 0..300 {
            let row = (next(3), next(100));
            let weight = if state.get(&row).copied().unwrap_or(0) > 0 && next(3) == 0 {
                -1
            } else {
                1
            };
            *state.entry(row).or_default() += weight;
            state.retain(|_, c| *c != 0);
            for line in push(&mut op, &[row], weight) {
                let (row, weight) = line.rsplit_once(" x").unwrap();
                *output.entry(row.to_string()).or_default() += weight.parse::<i64>().unwrap();
            }
            output.retain(|_, c| *c != 0);
            let mut expected: BTreeMap<String, i64> = BTreeMap::new();
            for key in 0..3 {
                let rows: Vec<(i64, i64)> = state
                    .iter()
                    .filter(|((k, _), _)| *k == key)
                    .map(|((_, t), c)| (*t, *c))
                    .collect();
                let times: Vec<i64> = rows.iter().map(|r| r.0).collect();
                for ((t, c), (s, e)) in rows.iter().zip(session_bounds(&times, 7)) {
                    expected.insert(format!("{key},{t},{s},{e}"), *c);
                }
            }
            assert_eq!(output, expected);
        }
    }
}
