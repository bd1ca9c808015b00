//! Column watermarks: which rows of a watermarked view are closed.
//!
//! A view over watermarked inputs has one watermark `W` (µs; the minimum of its
//! inputs'). A column computed monotonically from a watermarked time column —
//! the time column itself, `window_start`, `window_end`, `date_trunc('minute', ts)`,
//! `ts + INTERVAL '1' HOUR` — has a watermark of its own, a function of `W`: every
//! row that can still arrive or change has the column at or above it. The planner
//! derives these functions through the plan (`sql::watermarks`); here they are
//! evaluated.
//!
//! A group whose key has such a column below its watermark is **closed**: no row can
//! reach it any more. Operators forget closed groups, and rows that arrive for them
//! anyway are late: dropped and counted.
//!
//! ```text
//!   W = 00:00:25   window_start watermark = date_bin(10 s, W)      = 00:00:20
//!                  window_end   watermark = date_bin(10 s, W) + 10 s = 00:00:30
//!   group [00:00:10, 00:00:20) is closed by either column
//! ```

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::physical_expr::PhysicalExpr;

use crate::error::{Result, SluiceError};

/// The name under which a view's watermark (µs since the epoch, `BIGINT`) appears in
/// column watermark expressions.
pub const WATERMARK_COLUMN: &str = "__sluice_watermark";

/// The one-column schema column watermark expressions are evaluated over.
pub fn watermark_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        WATERMARK_COLUMN,
        DataType::Int64,
        false,
    )]))
}

/// A column's watermark as a function of the view's: an expression over
/// [`WATERMARK_COLUMN`] whose value is a timestamp, non-decreasing in the view's
/// watermark.
#[derive(Debug, Clone)]
pub struct ColumnWatermark {
    expr: Arc<dyn PhysicalExpr>,
}

impl ColumnWatermark {
    /// The watermark `expr` computes (see the type's docs for what it must be).
    pub fn new(expr: Arc<dyn PhysicalExpr>) -> Self {
        ColumnWatermark { expr }
    }

    /// The column's watermark (µs) when the view's is `watermark` (µs); `None` when
    /// the expression gives NULL.
    pub fn at(&self, watermark: i64) -> Result<Option<i64>> {
        let batch = RecordBatch::try_new(
            watermark_schema(),
            vec![Arc::new(Int64Array::from(vec![watermark]))],
        )?;
        let value = self.expr.evaluate(&batch)?.into_array(1)?;
        let value = micros(&value)?;
        Ok(value.is_valid(0).then(|| value.value(0)))
    }
}

/// The expression, for `EXPLAIN`.
impl std::fmt::Display for ColumnWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.expr)
    }
}

/// Microseconds since the epoch (UTC) of the values of a timestamp column, whatever
/// its unit and time zone (rounded down to the microsecond); NULL stays NULL.
pub fn micros(column: &dyn Array) -> Result<Int64Array> {
    let DataType::Timestamp(unit, _) = column.data_type() else {
        return Err(SluiceError::Internal(format!(
            "a watermarked column must be a timestamp, not {}",
            column.data_type()
        )));
    };
    // Casting a timestamp to BIGINT keeps its stored value: UTC in its unit.
    let raw = cast(column, &DataType::Int64)?;
    let raw = raw.as_primitive::<Int64Type>();
    Ok(match unit {
        TimeUnit::Second => raw.unary(|v| v.saturating_mul(1_000_000)),
        TimeUnit::Millisecond => raw.unary(|v| v.saturating_mul(1_000)),
        TimeUnit::Microsecond => raw.clone(),
        TimeUnit::Nanosecond => raw.unary(|v| v.div_euclid(1_000)),
    })
}

/// The watermarked columns of an operator's rows and their current watermarks: a row
/// is closed when any of these columns is below its watermark (NULL never closes).
#[derive(Debug, Clone)]
pub struct Closing {
    columns: Vec<(usize, ColumnWatermark)>,
    /// Per column, its watermark as of the last [`Closing::advance`].
    thresholds: Vec<Option<i64>>,
}

impl Closing {
    /// Closing by `columns` (index in the rows, watermark); `None` when there are none.
    pub fn new(columns: Vec<(usize, ColumnWatermark)>) -> Option<Self> {
        (!columns.is_empty()).then(|| Closing {
            thresholds: vec![None; columns.len()],
            columns,
        })
    }

    /// Closing by this one's columns and `other`'s: a row either closes is closed.
    pub fn merged(mut self, other: Closing) -> Closing {
        self.columns.extend(other.columns);
        self.thresholds.extend(other.thresholds);
        self
    }

    /// The indexes of the closing columns.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns.iter().map(|(i, _)| *i)
    }

    /// The closing columns' watermarks, in [`Closing::columns`] order.
    pub fn thresholds(&self) -> &[Option<i64>] {
        &self.thresholds
    }

    /// Moves to the view's watermark `watermark`; true when a column's watermark
    /// advanced. Watermarks never move back.
    pub fn advance(&mut self, watermark: i64) -> Result<bool> {
        let mut advanced = false;
        for ((_, column), threshold) in self.columns.iter().zip(&mut self.thresholds) {
            if let Some(at) = column.at(watermark)?
                && threshold.is_none_or(|t| at > t)
            {
                *threshold = Some(at);
                advanced = true;
            }
        }
        Ok(advanced)
    }

    /// The closing columns of `rows` in microseconds, in [`Closing::columns`] order.
    pub fn values(&self, rows: &[ArrayRef]) -> Result<Vec<Int64Array>> {
        self.columns
            .iter()
            .map(|(i, _)| {
                let column = rows.get(*i).ok_or_else(|| {
                    SluiceError::Internal(format!("closing column {i} is missing"))
                })?;
                micros(column.as_ref())
            })
            .collect()
    }

    /// Whether row `row` of `values` (from [`Closing::values`]) is closed.
    pub fn is_closed(&self, values: &[Int64Array], row: usize) -> bool {
        values
            .iter()
            .zip(&self.thresholds)
            .any(|(column, threshold)| {
                threshold.is_some_and(|t| column.is_valid(row) && column.value(row) < t)
            })
    }

    /// Per row of `rows` (the operator's columns), whether it is closed.
    pub fn closed(&self, rows: &[ArrayRef], num_rows: usize) -> Result<Vec<bool>> {
        if self.thresholds.iter().all(Option::is_none) {
            return Ok(vec![false; num_rows]);
        }
        let values = self.values(rows)?;
        Ok((0..num_rows).map(|r| self.is_closed(&values, r)).collect())
    }
}

/// Test helpers: watermarks built without a planner.
#[cfg(test)]
pub mod testing {
    use super::*;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, CastExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    /// The watermark of a `TIMESTAMP` column `micros` after the watermarked time
    /// column (0: the time column itself).
    pub fn shifted(micros: i64) -> ColumnWatermark {
        let sum = BinaryExpr::new(
            Arc::new(Column::new(WATERMARK_COLUMN, 0)),
            Operator::Plus,
            Arc::new(Literal::new(ScalarValue::Int64(Some(micros)))),
        );
        ColumnWatermark::new(Arc::new(CastExpr::new(
            Arc::new(sum),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            None,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{TimestampMicrosecondArray, TimestampNanosecondArray};

    #[test]
    fn micros_of_every_unit_and_time_zone() {
        let ns: ArrayRef = Arc::new(
            TimestampNanosecondArray::from(vec![Some(1_999), Some(-1), None])
                .with_timezone("+05:00"),
        );
        let got = micros(ns.as_ref()).unwrap();
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            vec![Some(1), Some(-1), None]
        );
    }

    #[test]
    fn a_row_is_closed_when_any_closing_column_is_below_its_watermark() {
        let mut closing =
            Closing::new(vec![(0, testing::shifted(0)), (2, testing::shifted(0))]).unwrap();
        let rows: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(5),
                Some(20),
                None,
                Some(20),
            ])),
            Arc::new(Int64Array::from(vec![0, 0, 0, 0])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(30),
                Some(9),
                None,
                Some(30),
            ])),
        ];
        assert_eq!(
            closing.closed(&rows, 4).unwrap(),
            vec![false; 4],
            "no watermark yet"
        );
        assert!(closing.advance(10).unwrap());
        assert!(!closing.advance(8).unwrap(), "never backwards");
        assert_eq!(closing.thresholds(), &[Some(10), Some(10)]);
        assert_eq!(
            closing.closed(&rows, 4).unwrap(),
            vec![true, true, false, false]
        );
    }
}
