//! [`TemporalFilter`]: rows shown while the clock is within a range of their own —
//! `WHERE ts > now() - INTERVAL '1' HOUR` (RisingWave's temporal filters, the idea of
//! Materialize's `mz_now()`).
//!
//! Each comparison of a row's value with the clock bounds the instants the row is
//! shown; the planner turns them into bounds over the row (`sql::temporal_filters`):
//!
//! ```text
//!   ts > now() - 1 h    shown until ts + 1 h (exclusive)        an `Until` bound
//!   ts <= now()         shown from ts on                        a `From` bound
//!   shown while  max(from) <= clock < min(until)
//! ```
//!
//! A row is shown, kept pending until its `from`, or dropped, by the clock as of the
//! last tick; ticks ([`Operator::advance_clock`]) show the pending rows whose time has
//! come and take back the rows whose time has passed. Only rows that will still enter
//! or leave are kept (by time, so a tick costs the rows it moves): over a source that
//! only appends, the state is the rows of the window. A deleted row is taken back
//! exactly as it was classified when inserted, since the classification only moves
//! with the ticks, which the state records.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, Rows};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::change::row_codec;
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator, evaluate_rows, filter_change};
use super::state::{Spine, SpineDelta, from_sortable_i64, sortable_i64};
use super::watermark::micros;
use crate::error::{Result, SluiceError};

/// Which end of a row's range a bound gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    /// The first instant the row is shown (`ts <= now()`: from `ts`).
    From,
    /// The first instant the row is no longer shown (`ts > now()`: until `ts`).
    Until,
}

/// One bound of a row's range: a timestamp computed from the row, plus one
/// microsecond when `exclusive` (`ts < now()` shows the row from `ts` + 1 µs).
#[derive(Debug, Clone)]
pub struct ClockBound {
    pub kind: BoundKind,
    pub value: Arc<dyn PhysicalExpr>,
    pub exclusive: bool,
}

/// The temporal filter. See the module docs.
#[derive(Debug)]
pub struct TemporalFilter {
    bounds: Vec<ClockBound>,
    schema: SchemaRef,
    rows: RowConverter,
    /// The clock (µs since the epoch) as of the last tick; `None` before the first.
    now: Option<i64>,
    /// Rows waiting to be shown: `from ‖ until ‖ row`, weighted.
    pending: Spine,
    /// Rows shown that will leave: `until ‖ row`, weighted.
    leaving: Spine,
}

/// A row's range: shown while `from <= clock < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    from: i64,
    until: i64,
}

/// Where a row stands at a clock reading.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    Pending,
    Shown,
    Gone,
}

impl Range {
    fn at(self, now: i64) -> Standing {
        if self.from >= self.until || now >= self.until {
            Standing::Gone
        } else if now < self.from {
            Standing::Pending
        } else {
            Standing::Shown
        }
    }

    /// True when the row leaves at some instant.
    fn leaves(self) -> bool {
        self.until != i64::MAX
    }
}

impl TemporalFilter {
    /// A filter of rows shaped `schema` by `bounds` (at least one).
    pub fn try_new(bounds: Vec<ClockBound>, schema: SchemaRef) -> Result<Self> {
        if bounds.is_empty() {
            return Err(SluiceError::Internal(
                "a temporal filter needs a comparison with the clock".into(),
            ));
        }
        Ok(TemporalFilter {
            bounds,
            rows: row_codec(schema.fields())?,
            schema,
            now: None,
            pending: Spine::new(),
            leaving: Spine::new(),
        })
    }

    /// The clock used to classify rows: the last tick's, or before any tick the
    /// beginning of time (every row with a `from` waits for the first tick).
    fn clock(&self) -> i64 {
        self.now.unwrap_or(i64::MIN)
    }

    /// Each row's range; `None` for a row with a NULL bound (never shown: the
    /// comparison is NULL).
    fn ranges(&self, columns: &[ArrayRef], rows: usize) -> Result<Vec<Option<Range>>> {
        let mut ranges = vec![
            Some(Range {
                from: i64::MIN,
                until: i64::MAX,
            });
            rows
        ];
        for (bound, column) in self.bounds.iter().zip(columns) {
            let values = micros(column.as_ref())?;
            for (row, range) in ranges.iter_mut().enumerate() {
                let Some(current) = range else { continue };
                if !values.is_valid(row) {
                    *range = None;
                    continue;
                }
                let value = values.value(row).saturating_add(i64::from(bound.exclusive));
                match bound.kind {
                    BoundKind::From => current.from = current.from.max(value),
                    BoundKind::Until => current.until = current.until.min(value),
                }
            }
        }
        Ok(ranges)
    }

    /// Rows decoded from `encoded` (this filter's row encoding) with `weights`.
    fn decode(&self, encoded: &[Vec<u8>], weights: Vec<i64>) -> Result<ChangeBatch> {
        let parser = self.rows.parser();
        let columns = self
            .rows
            .convert_rows(encoded.iter().map(|bytes| parser.parse(bytes)))?;
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        ChangeBatch::try_new(data, Int64Array::from(weights))
    }
}

/// The time at the head of a spine entry.
fn time_of(entry: &[u8]) -> Result<i64> {
    let bytes: [u8; 8] = entry
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SluiceError::Internal("a temporal filter's entry is malformed".into()))?;
    Ok(from_sortable_i64(bytes))
}

impl Operator for TemporalFilter {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let values: Vec<_> = self.bounds.iter().map(|b| b.value.clone()).collect();
        let (change, columns) = evaluate_rows(&values, change, errors)?;
        let ranges = self.ranges(&columns, change.num_rows())?;
        let encoded: Rows = self.rows.convert_columns(change.data().columns())?;
        let now = self.clock();
        let (mut pending, mut leaving) = (SpineDelta::default(), SpineDelta::default());
        let mut shown = Vec::with_capacity(change.num_rows());
        for (row, range) in ranges.iter().enumerate() {
            let weight = change.weights().value(row);
            let standing = range.map_or(Standing::Gone, |r| r.at(now));
            shown.push(standing == Standing::Shown);
            let Some(range) = range else { continue };
            let bytes = encoded.row(row);
            match standing {
                Standing::Pending => pending.push(
                    &[
                        &sortable_i64(range.from),
                        &sortable_i64(range.until),
                        bytes.data(),
                    ],
                    weight,
                ),
                Standing::Shown if range.leaves() => {
                    leaving.push(&[&sortable_i64(range.until), bytes.data()], weight)
                }
                Standing::Shown | Standing::Gone => {}
            }
        }
        pending.apply_to(&mut self.pending)?;
        leaving.apply_to(&mut self.leaving)?;
        filter_change(&change, &BooleanArray::from(shown))
    }

    /// Keeps nothing across rows (a memo or a held row is the row's own, and a row
    /// always reaches the same worker): rows stay where they are.
    fn partitioning(&self, _input: usize) -> Partitioning {
        Partitioning::Local
    }

    fn describe(&self) -> String {
        let bounds: Vec<String> = self
            .bounds
            .iter()
            .map(|b| {
                let words = match (b.kind, b.exclusive) {
                    (BoundKind::From, false) => "from",
                    (BoundKind::From, true) => "after",
                    (BoundKind::Until, false) => "until",
                    (BoundKind::Until, true) => "through",
                };
                format!("{words} {}", b.value)
            })
            .collect();
        format!("TemporalFilter: shown {}", bounds.join(", "))
    }

    fn reads_clock(&self) -> bool {
        true
    }

    fn advance_clock(&mut self, now: i64) -> Result<Option<ChangeBatch>> {
        if self.now.is_some_and(|n| n >= now) {
            return Ok(None);
        }
        self.now = Some(now);
        let (mut entering, mut rows, mut weights) = (SpineDelta::default(), Vec::new(), Vec::new());
        let mut leaving = SpineDelta::default();
        for (entry, weight) in self.pending.iter() {
            if time_of(entry)? > now {
                break;
            }
            entering.push(&[entry], -weight);
            let until = time_of(&entry[8..])?;
            if until > now {
                let row = &entry[16..];
                rows.push(row.to_vec());
                weights.push(weight);
                if until != i64::MAX {
                    leaving.push(&[&entry[8..]], weight);
                }
            }
        }
        entering.apply_to(&mut self.pending)?;
        leaving.apply_to(&mut self.leaving)?;
        let mut left = SpineDelta::default();
        for (entry, weight) in self.leaving.iter() {
            if time_of(entry)? > now {
                break;
            }
            left.push(&[entry], -weight);
            rows.push(entry[8..].to_vec());
            weights.push(-weight);
        }
        left.apply_to(&mut self.leaving)?;
        if rows.is_empty() {
            return Ok(None);
        }
        self.decode(&rows, weights).map(Some)
    }

    fn state_size(&self) -> usize {
        self.pending.bytes() + self.leaving.bytes()
    }

    /// The names are part of checkpoints.
    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![
            ("pending", &mut self.pending),
            ("leaving", &mut self.leaving),
        ]
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::TimestampMicrosecondArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::logical_expr::Operator as Op;
    use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    use super::*;
    use crate::dataflow::testing::{Multiset, Xorshift, change_of};

    fn timestamp() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ts", timestamp(), true),
        ]))
    }

    /// Rows `(id, ts)` (`ts` NULL when `None`) with `weights`.
    fn rows(rows: &[(i64, Option<i64>)], weights: &[i64]) -> ChangeBatch {
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ts: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
        let data = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(TimestampMicrosecondArray::from(ts)),
            ],
        )
        .unwrap();
        change_of(data, weights)
    }

    /// `WHERE ts <= now() AND ts > now() - 10 µs`: shown while ts <= clock < ts + 10.
    fn last_ten() -> TemporalFilter {
        let ts: Arc<dyn PhysicalExpr> = Arc::new(Column::new("ts", 1));
        let plus_ten = Arc::new(CastExpr::new(
            Arc::new(BinaryExpr::new(
                Arc::new(CastExpr::new(ts.clone(), DataType::Int64, None)),
                Op::Plus,
                Arc::new(Literal::new(ScalarValue::Int64(Some(10)))),
            )),
            timestamp(),
            None,
        ));
        let bounds = vec![
            ClockBound {
                kind: BoundKind::From,
                value: ts,
                exclusive: false,
            },
            ClockBound {
                kind: BoundKind::Until,
                value: plus_ten,
                exclusive: false,
            },
        ];
        TemporalFilter::try_new(bounds, schema()).unwrap()
    }

    #[test]
    fn rows_enter_and_leave_as_the_clock_ticks() {
        let mut filter = last_ten();
        let mut errors = ErrorLog::default();
        let mut shown = Multiset::default();
        filter.advance_clock(100).unwrap();
        let out = filter
            .process(
                0,
                &rows(
                    &[(1, Some(95)), (2, Some(105)), (3, Some(80)), (4, None)],
                    &[1, 1, 1, 1],
                ),
                &mut errors,
            )
            .unwrap();
        shown.apply(&out);
        assert_eq!(shown.rows(), vec!["1,1970-01-01T00:00:00.000095"]);
        // At 105 row 1 leaves and row 2 enters.
        shown.apply(&filter.advance_clock(105).unwrap().unwrap());
        assert_eq!(shown.rows(), vec!["2,1970-01-01T00:00:00.000105"]);
        // Deleting the shown row takes it back; nothing is left to move.
        shown.apply(
            &filter
                .process(0, &rows(&[(2, Some(105))], &[-1]), &mut errors)
                .unwrap(),
        );
        assert!(shown.rows().is_empty());
        assert!(filter.advance_clock(200).unwrap().is_none());
        assert_eq!(filter.state_size(), 0);
    }

    /// Random inserts and deletes of rows around the clock, and ticks: after every
    /// step, the rows shown are exactly the rows present whose range holds the clock,
    /// and once the clock has passed every row no state is left.
    #[test]
    fn every_step_shows_the_rows_in_range_of_the_clock() {
        for seed in 1..=30u64 {
            let mut rng = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut filter = last_ten();
            let mut errors = ErrorLog::default();
            let mut shown = Multiset::default();
            let mut present: Vec<(i64, Option<i64>)> = Vec::new();
            let mut clock: Option<i64> = None;
            for step in 0..80 {
                if rng.below(3) == 0 {
                    let now = clock.unwrap_or(0) + rng.below(6) as i64;
                    if let Some(out) = filter.advance_clock(now).unwrap() {
                        shown.apply(&out);
                    }
                    clock = Some(clock.map_or(now, |c| c.max(now)));
                } else {
                    let base = clock.unwrap_or(0);
                    let mut batch = Vec::new();
                    let mut weights = Vec::new();
                    for _ in 0..1 + rng.below(3) {
                        if rng.below(4) == 0 && !present.is_empty() {
                            let at = rng.below(present.len() as u64) as usize;
                            batch.push(present.remove(at));
                            weights.push(-1);
                        } else {
                            let ts = (rng.below(8) != 0).then(|| base - 15 + rng.below(30) as i64);
                            let row = (rng.below(4) as i64, ts);
                            present.push(row);
                            batch.push(row);
                            weights.push(1);
                        }
                    }
                    shown.apply(
                        &filter
                            .process(0, &rows(&batch, &weights), &mut errors)
                            .unwrap(),
                    );
                }
                let now = clock.unwrap_or(i64::MIN);
                let in_range: Vec<_> = present
                    .iter()
                    .filter(|(_, ts)| ts.is_some_and(|t| t <= now && now < t.saturating_add(10)))
                    .cloned()
                    .collect();
                let mut expected = Multiset::default();
                expected.apply(&rows(&in_range, &vec![1; in_range.len()]));
                assert_eq!(shown.rows(), expected.rows(), "seed {seed}, step {step}");
            }
            let end = clock.unwrap_or(0) + 100;
            if let Some(out) = filter.advance_clock(end).unwrap() {
                shown.apply(&out);
            }
            assert!(shown.rows().is_empty(), "seed {seed}: every row has left");
            assert!(
                filter.pending.is_empty() && filter.leaving.is_empty(),
                "seed {seed}"
            );
            assert!(errors.is_empty());
        }
    }
}
