//! Freeing a join's rows by the watermark: interval joins
//! (`a.ts BETWEEN b.ts - INTERVAL '1' HOUR AND b.ts`) and window joins
//! (`a.window_start = b.window_start`).
//!
//! A join condition `x <= y + c` (x a column of side X, y of side Y, timestamps)
//! where x has a watermark `w_x` means: every X row still to come has `x >= w_x`, so
//! a stored Y row with `y + c < w_x` can match none of them. Once the Y row cannot
//! change any more either (its side is append-only, or y is below its own column's
//! watermark), nothing can make the join read it again, and it is forgotten. The
//! planner derives, per side, one such bound over one of its columns: an
//! [`Expiry`] (`sql::join_expiry`).
//!
//! Forgetting is exact only if no row arrives that would have matched a forgotten
//! one: X rows whose x is below `w_x` are late. The join drops them and counts them,
//! as an aggregate drops rows for windows already closed.
//!
//! ```text
//!   a JOIN b ON a.ts BETWEEN b.ts - INTERVAL '1' HOUR AND b.ts, both append-only
//!   watermark W = 10:00:  a rows kept while a.ts >= W - 1 h = 09:00
//!                         b rows kept while b.ts >= W       = 10:00
//!                         a or b rows arriving below 10:00 are late
//! ```
//!
//! The stored rows are found by time through a spine of their own (`time ‖ key
//! length ‖ key ‖ row`, weighted as in the side's index), so forgetting costs the
//! rows forgotten, never a scan of the state.

use datafusion::arrow::array::{ArrayRef, Int64Array};

use crate::dataflow::state::{Spine, SpineDelta, from_sortable_i64, sortable_i64};
use crate::dataflow::watermark::{ColumnWatermark, micros};
use crate::error::{Result, SluiceError};

/// When one side's stored rows are forgotten: once `column` is below `bound`. See
/// the module docs.
#[derive(Debug)]
pub struct Expiry {
    /// The side's column the bound applies to (a timestamp; a NULL never expires).
    column: usize,
    /// The bound, a function of the view's watermark.
    bound: ColumnWatermark,
    /// The bound at the latest watermark; `None` before one arrives.
    threshold: Option<i64>,
    /// The side's stored rows by `column` (see [`entry`]). Invariant: holds exactly
    /// the index's entries whose column is not NULL, with the same weights.
    by_time: Spine,
}

/// An entry of [`Expiry::by_time`]: the column's value, then the index entry (key
/// and row) with the key's length, so that both can be read back.
fn entry(time: i64, key: &[u8], row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + key.len() + row.len());
    out.extend(sortable_i64(time));
    out.extend((key.len() as u32).to_be_bytes());
    out.extend(key);
    out.extend(row);
    out
}

/// The time, key and row of an [`entry`].
fn parts(entry: &[u8]) -> Result<(i64, &[u8], &[u8])> {
    let corrupt = || SluiceError::Internal("a join's time index holds a malformed entry".into());
    let time: [u8; 8] = entry
        .get(..8)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(corrupt)?;
    let length: [u8; 4] = entry
        .get(8..12)
        .and_then(|l| l.try_into().ok())
        .ok_or_else(corrupt)?;
    let rest = &entry[12..];
    let length = u32::from_be_bytes(length) as usize;
    if rest.len() < length {
        return Err(corrupt());
    }
    let (key, row) = rest.split_at(length);
    Ok((from_sortable_i64(time), key, row))
}

/// A stored row to forget: its index entry's key and row, and its weight.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired {
    pub key: Vec<u8>,
    pub row: Vec<u8>,
    pub weight: i64,
}

impl Expiry {
    /// Rows expire once `column` is below `bound`.
    pub fn new(column: usize, bound: ColumnWatermark) -> Self {
        Expiry {
            column,
            bound,
            threshold: None,
            by_time: Spine::new(),
        }
    }

    /// The side's column the bound applies to.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The expiring column's values (µs) of rows with these columns.
    pub fn times(&self, columns: &[ArrayRef]) -> Result<Int64Array> {
        let column = columns.get(self.column).ok_or_else(|| {
            SluiceError::Internal(format!(
                "a join's expiring column {} is missing",
                self.column
            ))
        })?;
        micros(column.as_ref())
    }

    /// Records index changes `(time, key, row, weight)` (rows with a NULL time are
    /// left out by the caller).
    pub fn record(&mut self, changes: impl Iterator<Item = (i64, Vec<u8>, i64)>) -> Result<()> {
        let mut delta = SpineDelta::default();
        for (time, index_entry, weight) in changes {
            delta.push(&[&sortable_i64(time), &index_entry], weight);
        }
        delta.apply_to(&mut self.by_time)
    }

    /// The [`Expiry::by_time`] entry of a row stored under `key`.
    pub fn index_entry(key: &[u8], row: &[u8]) -> Vec<u8> {
        entry(0, key, row)[8..].to_vec()
    }

    /// Moves to the view's watermark `watermark` and takes out of the time index the
    /// rows that expired, for the caller to forget.
    pub fn advance(&mut self, watermark: i64) -> Result<Vec<Expired>> {
        let Some(threshold) = self.bound.at(watermark)? else {
            return Ok(Vec::new());
        };
        if self.threshold.is_some_and(|t| t >= threshold) {
            return Ok(Vec::new());
        }
        self.threshold = Some(threshold);
        let mut expired = Vec::new();
        let mut delta = SpineDelta::default();
        for (stored, weight) in self.by_time.iter() {
            let (time, key, row) = parts(stored)?;
            if time >= threshold {
                break;
            }
            delta.push(&[stored], -weight);
            expired.push(Expired {
                key: key.to_vec(),
                row: row.to_vec(),
                weight,
            });
        }
        delta.apply_to(&mut self.by_time)?;
        Ok(expired)
    }

    /// The time index, for checkpoints.
    pub fn spine(&mut self) -> &mut Spine {
        &mut self.by_time
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.by_time.bytes()
    }

    /// For `EXPLAIN`: which column, below what.
    pub fn describe(&self, column_name: &str) -> String {
        format!("{column_name} < {}", self.bound)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{RecordBatch, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::logical_expr::Operator as Op;
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    use super::*;
    use crate::dataflow::ChangeBatch;
    use crate::dataflow::join::{Join, JoinKind, JoinSide};
    use crate::dataflow::operator::{ErrorLog, Operator};
    use crate::dataflow::testing::{Multiset, Xorshift, change_of};
    use crate::dataflow::watermark::Closing;
    use crate::dataflow::watermark::testing::shifted;

    /// Rows `(k, ts)`: a key and a time in µs.
    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ])
    }

    fn rows(rows: &[(i64, i64)]) -> ChangeBatch {
        let k: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let ts: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let data = RecordBatch::try_new(
            Arc::new(schema()),
            vec![
                Arc::new(Int64Array::from(k)),
                Arc::new(TimestampMicrosecondArray::from(ts)),
            ],
        )
        .unwrap();
        change_of(data, &vec![1; rows.len()])
    }

    /// `l JOIN r ON l.k = r.k AND l.ts BETWEEN r.ts - 10 AND r.ts` (µs), the
    /// output columns of `kind`.
    fn interval_join(kind: JoinKind) -> Join {
        let time = |index: usize| -> Arc<dyn PhysicalExpr> {
            Arc::new(CastExpr::new(
                Arc::new(Column::new("ts", index)),
                DataType::Int64,
                None,
            ))
        };
        let minus_ten = Arc::new(BinaryExpr::new(
            time(3),
            Op::Minus,
            Arc::new(Literal::new(ScalarValue::Int64(Some(10)))),
        ));
        let filter = Arc::new(BinaryExpr::new(
            Arc::new(BinaryExpr::new(time(1), Op::GtEq, minus_ten)),
            Op::And,
            Arc::new(BinaryExpr::new(time(1), Op::LtEq, time(3))),
        ));
        let fields = schema().fields().to_vec();
        let output = match kind {
            JoinKind::LeftSemi | JoinKind::LeftAnti => fields,
            _ => fields.iter().chain(&fields).cloned().collect(),
        };
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        Join::try_new(
            kind,
            &schema(),
            &schema(),
            vec![(key.clone(), key)],
            Some(filter),
            Arc::new(Schema::new(output)),
        )
        .unwrap()
    }

    /// Late rows: a row whose `ts` is below the watermark.
    fn late() -> Closing {
        Closing::new(vec![(1, shifted(0))]).unwrap()
    }

    /// Random streams of rows, some late, on both sides of an interval join that
    /// forgets rows by the watermark: the output always equals the join (without
    /// forgetting) of the rows that were on time, and the state holds only the rows
    /// that a row still to come may match.
    #[test]
    fn an_interval_join_forgets_rows_and_equals_the_join_of_on_time_rows() {
        for kind in [
            JoinKind::Inner,
            JoinKind::LeftOuter,
            JoinKind::FullOuter,
            JoinKind::LeftSemi,
            JoinKind::LeftAnti,
        ] {
            for seed in 1..=10u64 {
                let mut rng = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                // Left rows match right rows up to 10 µs later: they are kept 10 µs
                // past the watermark, right rows until the watermark passes them.
                let mut join = interval_join(kind)
                    .expiring(JoinSide::Left, Expiry::new(1, shifted(-10)), late())
                    .unwrap()
                    .expiring(JoinSide::Right, Expiry::new(1, shifted(0)), late())
                    .unwrap();
                let mut errors = ErrorLog::default();
                let (mut output, mut on_time, mut late_rows) =
                    (Multiset::default(), [Vec::new(), Vec::new()], 0);
                let mut watermark = 0;
                join.evict_closed(watermark).unwrap();
                for _ in 0..60 {
                    let side = rng.below(2) as usize;
                    let batch: Vec<(i64, i64)> = (0..1 + rng.below(4))
                        .map(|_| {
                            let late = rng.below(6) == 0;
                            let ts = if late {
                                watermark - 1 - rng.below(15) as i64
                            } else {
                                watermark + rng.below(20) as i64
                            };
                            (rng.below(3) as i64, ts)
                        })
                        .collect();
                    for row in &batch {
                        if row.1 >= watermark {
                            on_time[side].push(*row);
                        } else {
                            late_rows += 1;
                        }
                    }
                    let out = join.process(side, &rows(&batch), &mut errors).unwrap();
                    output.apply(&out);
                    if rng.below(3) == 0 {
                        watermark += rng.below(8) as i64;
                        join.evict_closed(watermark).unwrap();
                    }
                }
                let mut expected = Multiset::default();
                let mut plain = interval_join(kind);
                for (side, rows_of_side) in on_time.iter().enumerate() {
                    expected.apply(
                        &plain
                            .process(side, &rows(rows_of_side), &mut errors)
                            .unwrap(),
                    );
                }
                assert_eq!(output.rows(), expected.rows(), "{kind:?}, seed {seed}");
                assert_eq!(join.late_rows(), late_rows);
                let kept = |side: usize, from: i64| {
                    let mut kept: Vec<_> = on_time[side].iter().filter(|r| r.1 >= from).collect();
                    kept.sort();
                    kept.dedup();
                    kept.len()
                };
                assert_eq!(join.left.index.distinct_keys(), kept(0, watermark - 10));
                assert_eq!(join.right.index.distinct_keys(), kept(1, watermark));
                assert!(errors.is_empty());
            }
        }
    }

    #[test]
    fn entries_read_back_and_sort_by_time() {
        let e = entry(-5, b"key", b"row");
        assert_eq!(parts(&e).unwrap(), (-5, &b"key"[..], &b"row"[..]));
        assert!(entry(-5, b"zz", b"") < entry(3, b"", b""));
        assert_eq!(Expiry::index_entry(b"k", b"r"), entry(7, b"k", b"r")[8..]);
        assert!(parts(&[0; 10]).is_err());
    }

    #[test]
    fn rows_expire_in_time_order_once_below_the_bound() {
        // Rows expire one hour (3.6e9 µs) after the watermark passes them.
        let mut expiry = Expiry::new(0, shifted(-3_600_000_000));
        let hour = 3_600_000_000;
        let index = |n: u8| Expiry::index_entry(&[n], &[n, n]);
        expiry
            .record(
                [
                    (hour, index(1), 1),
                    (2 * hour, index(2), 2),
                    (3 * hour, index(3), 1),
                ]
                .into_iter(),
            )
            .unwrap();
        assert!(expiry.advance(hour).unwrap().is_empty(), "nothing below 0");
        assert_eq!(
            expiry.advance(3 * hour).unwrap(),
            vec![Expired {
                key: vec![1],
                row: vec![1, 1],
                weight: 1
            }],
            "the row at 1 h expires at 3 h; the row at 2 h is not below the bound"
        );
        assert!(
            expiry.advance(2 * hour).unwrap().is_empty(),
            "never backwards"
        );
        // A row taken out (weights cancel) never expires.
        expiry
            .record([(3 * hour, index(3), -1)].into_iter())
            .unwrap();
        assert_eq!(
            expiry.advance(10 * hour).unwrap(),
            vec![Expired {
                key: vec![2],
                row: vec![2, 2],
                weight: 2
            }]
        );
        assert!(expiry.spine().is_empty());
    }
}
