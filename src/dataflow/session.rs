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
//! When the time column has a watermark ([`super::watermark`]), the operator learns
//! it as the view's watermark advances ([`Operator::evict_closed`]): sessions with
//! `window_end <= w` are final and their rows are forgotten; a row with event time
//! `< w` is late (dropped and counted), since it could extend or bridge sessions that
//! are already final.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::operator::{ErrorLog, Operator, canonical_floats, evaluate_rows};
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

/// A row held for a key: its event time (µs) and its encoded columns.
type Held = (i64, Box<[u8]>);
/// Rows of one partition key, in event-time order, with their counts.
type Partition = BTreeMap<Held, i64>;
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
    partitions: HashMap<Box<[u8]>, Partition>,
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
        let row_codec = RowConverter::new(
            input
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        Ok(Session {
            keys,
            time,
            gap,
            bounds,
            schema,
            key_codec,
            row_codec,
            partitions: HashMap::new(),
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

/// Each row of `partition` with its session bounds, in event-time order.
fn assigned(partition: &Partition, gap: i64) -> Vec<(&Held, i64, Bounds)> {
    let times: Vec<i64> = partition.keys().map(|(t, _)| *t).collect();
    partition
        .iter()
        .zip(session_bounds(&times, gap))
        .map(|((row, count), bounds)| (row, *count, bounds))
        .collect()
}

impl Operator for Session {
    fn process(&mut self, change: &ChangeBatch, errors: &mut ErrorLog) -> Result<ChangeBatch> {
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
        let mut touched: HashMap<Box<[u8]>, Vec<(Held, i64)>> = HashMap::new();
        for (i, weight) in change.weights().values().iter().enumerate() {
            let row: Box<[u8]> = rows.row(i).as_ref().into();
            if times.is_null(i) {
                out.push((row, None, *weight));
                continue;
            }
            let time = times.value(i);
            if self.watermark.is_some_and(|w| time < w) {
                self.late_rows += weight.unsigned_abs();
                continue;
            }
            let key: Box<[u8]> = keys
                .as_ref()
                .map_or(Box::default(), |k| k.row(i).as_ref().into());
            touched.entry(key).or_default().push(((time, row), *weight));
        }
        let mut diff: BTreeMap<(Box<[u8]>, i64, i64), i64> = BTreeMap::new();
        for (key, changes) in touched {
            let partition = self.partitions.entry(key.clone()).or_default();
            for ((_, row), count, (start, end)) in assigned(partition, self.gap) {
                *diff.entry((row.clone(), start, end)).or_default() -= count;
            }
            for (held, weight) in changes {
                *partition.entry(held).or_default() += weight;
            }
            partition.retain(|_, count| *count != 0);
            for ((_, row), count, (start, end)) in assigned(partition, self.gap) {
                *diff.entry((row.clone(), start, end)).or_default() += count;
                self.next_end = Some(self.next_end.map_or(end, |n| n.min(end)));
            }
            if partition.is_empty() {
                self.partitions.remove(&key);
            }
        }
        out.extend(
            diff.into_iter()
                .filter(|(_, weight)| *weight != 0)
                .map(|((row, start, end), weight)| (row, Some((start, end)), weight)),
        );
        self.output(out)
    }

    fn describe(&self) -> String {
        format!(
            "Session: gap {} µs, partitioned by {} key(s)",
            self.gap,
            self.keys.len()
        )
    }

    fn state_size(&self) -> usize {
        self.partitions
            .iter()
            .map(|(k, p)| k.len() + 48 + p.keys().map(|(_, row)| row.len() + 40).sum::<usize>())
            .sum()
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
        for partition in self.partitions.values_mut() {
            let closed: Vec<Held> = assigned(partition, self.gap)
                .into_iter()
                .filter_map(|(row, _, (_, end))| {
                    if end <= watermark {
                        Some(row.clone())
                    } else {
                        next_end = Some(next_end.map_or(end, |n| n.min(end)));
                        None
                    }
                })
                .collect();
            for row in closed {
                partition.remove(&row);
            }
        }
        self.partitions.retain(|_, p| !p.is_empty());
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
        rows_of(&op.process(&change, &mut ErrorLog::default()).unwrap())
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
        let before = op.state_size();
        op.evict_closed(15).unwrap();
        assert!(op.state_size() < before);
        assert_eq!(op.partitions.values().map(BTreeMap::len).sum::<usize>(), 2);
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
