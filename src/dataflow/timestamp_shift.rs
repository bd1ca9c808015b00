//! [`TimestampShift`]: `ts ± INTERVAL '…'` of a fixed length as one integer addition
//! per row, swapped into a view's expressions by [`shift_fixed_intervals`].
//!
//! DataFusion evaluates `timestamp ± interval` with arrow's calendar arithmetic: each
//! value becomes a date and time, gets the interval's months, days and nanoseconds,
//! and is turned back, as months and days require. The window bounds of `HOP`,
//! `TUMBLE` and `CUMULATE` (`date_bin(...) - INTERVAL '2000000 microseconds'`,
//! `window_start + INTERVAL '10' SECOND`) are such additions, several per row, and
//! they were a third of a hop view's time. An interval of no months, no days and whole
//! microseconds is a fixed length of time: adding it to a microsecond timestamp adds an
//! integer, the same instant arrow's arithmetic gives (with or without a time zone,
//! which only months and days consult), as PostgreSQL computes it.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{BinaryExpr, Literal};

use crate::error::{Result, SluiceError, sqlstate};

/// `input + micros` for a microsecond timestamp `input` (with or without a time zone,
/// kept), an error as PostgreSQL's (`22008`) where the result leaves the range.
#[derive(Debug, Eq)]
pub struct TimestampShift {
    input: Arc<dyn PhysicalExpr>,
    micros: i64,
}

// By hand: `Arc<dyn PhysicalExpr>` compares through a reference only.
impl PartialEq for TimestampShift {
    fn eq(&self, other: &Self) -> bool {
        self.input.eq(&other.input) && self.micros == other.micros
    }
}

impl Hash for TimestampShift {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        self.micros.hash(state);
    }
}

/// Rewrites each `timestamp ± fixed interval` of `expr` (evaluated over `schema`) into
/// a [`TimestampShift`]; every other expression stays as it is.
pub fn shift_fixed_intervals(
    expr: Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    let rewritten = expr.transform_up(|e| {
        let Some(binary) = e.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(e));
        };
        let sign = match binary.op() {
            Operator::Plus => 1,
            Operator::Minus => -1,
            _ => return Ok(Transformed::no(e)),
        };
        let (time, micros) = match (fixed_micros(binary.right()), fixed_micros(binary.left())) {
            (Some(micros), _) => (binary.left(), sign * micros),
            // `interval + ts`; `interval - ts` is no timestamp.
            (None, Some(micros)) if sign == 1 => (binary.right(), micros),
            _ => return Ok(Transformed::no(e)),
        };
        if !matches!(
            time.data_type(schema)?,
            DataType::Timestamp(TimeUnit::Microsecond, _)
        ) {
            return Ok(Transformed::no(e));
        }
        let shift: Arc<dyn PhysicalExpr> = Arc::new(TimestampShift {
            input: Arc::clone(time),
            micros,
        });
        Ok(Transformed::yes(shift))
    })?;
    Ok(rewritten.data)
}

/// The microseconds of an interval literal of no months, no days and whole
/// microseconds.
fn fixed_micros(expr: &Arc<dyn PhysicalExpr>) -> Option<i64> {
    let literal = expr.downcast_ref::<Literal>()?;
    match literal.value() {
        ScalarValue::IntervalMonthDayNano(Some(interval))
            if interval.months == 0 && interval.days == 0 && interval.nanoseconds % 1000 == 0 =>
        {
            Some(interval.nanoseconds / 1000)
        }
        _ => None,
    }
}

impl TimestampShift {
    fn shift(&self, micros: i64) -> std::result::Result<i64, DataFusionError> {
        micros.checked_add(self.micros).ok_or_else(|| {
            DataFusionError::External(Box::new(SluiceError::coded(
                sqlstate::DATETIME_FIELD_OVERFLOW,
                "timestamp out of range",
            )))
        })
    }
}

impl fmt::Display for TimestampShift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {} microseconds", self.input, self.micros)
    }
}

impl PhysicalExpr for TimestampShift {
    fn data_type(&self, input_schema: &Schema) -> datafusion::error::Result<DataType> {
        self.input.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> datafusion::error::Result<bool> {
        self.input.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> datafusion::error::Result<ColumnarValue> {
        match self.input.evaluate(batch)? {
            ColumnarValue::Array(array) => {
                let times = array.as_primitive::<TimestampMicrosecondType>();
                let shifted: PrimitiveArray<TimestampMicrosecondType> =
                    times.try_unary(|t| self.shift(t))?;
                Ok(ColumnarValue::Array(Arc::new(
                    shifted.with_data_type(array.data_type().clone()),
                )))
            }
            ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(time, zone)) => {
                let time = time.map(|t| self.shift(t)).transpose()?;
                Ok(ColumnarValue::Scalar(ScalarValue::TimestampMicrosecond(
                    time, zone,
                )))
            }
            ColumnarValue::Scalar(other) => Err(DataFusionError::Internal(format!(
                "a timestamp shift got {}",
                other.data_type()
            ))),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("a timestamp shift has one child".into()))?;
        Ok(Arc::new(TimestampShift {
            input,
            micros: self.micros,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{Field, IntervalMonthDayNano};
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};

    use super::*;

    fn interval(months: i32, days: i32, nanoseconds: i64) -> Arc<dyn PhysicalExpr> {
        Arc::new(Literal::new(ScalarValue::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(months, days, nanoseconds),
        ))))
    }

    fn schema(zone: Option<&str>) -> Schema {
        Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, zone.map(Into::into)),
                true,
            ),
            Field::new("n", DataType::Int64, true),
        ])
    }

    fn batch(zone: Option<&str>, times: Vec<Option<i64>>) -> RecordBatch {
        let n = times.len();
        let times = TimestampMicrosecondArray::from(times).with_timezone_opt(zone);
        RecordBatch::try_new(
            Arc::new(schema(zone)),
            vec![Arc::new(times), Arc::new(Int64Array::from(vec![1; n]))],
        )
        .unwrap()
    }

    fn binary(
        left: Arc<dyn PhysicalExpr>,
        op: Operator,
        right: Arc<dyn PhysicalExpr>,
    ) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(left, op, right))
    }

    fn ts() -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new("ts", 0))
    }

    fn values(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> ArrayRefValues {
        let array = expr
            .evaluate(batch)
            .unwrap()
            .into_array(batch.num_rows())
            .unwrap();
        (array.data_type().clone(), format!("{array:?}"))
    }

    type ArrayRefValues = (DataType, String);

    #[test]
    fn fixed_shifts_equal_arrows_calendar_arithmetic() {
        // Around the epoch, a DST change in Europe, far in the past and future, NULL.
        let times = vec![
            Some(0),
            Some(1_679_792_400_000_000),
            Some(-62_000_000_000_000_000),
            Some(9_000_000_000_000_000),
            None,
            Some(-1),
        ];
        for zone in [None, Some("+00:00"), Some("Europe/Berlin")] {
            let batch = batch(zone, times.clone());
            let schema = schema(zone);
            for (expr, shifted_by) in [
                (
                    binary(ts(), Operator::Minus, interval(0, 0, 2_000_000_000)),
                    -2_000_000,
                ),
                (
                    binary(ts(), Operator::Plus, interval(0, 0, 10_000_000_000)),
                    10_000_000,
                ),
                (
                    binary(interval(0, 0, 3_600_000_000_000), Operator::Plus, ts()),
                    3_600_000_000,
                ),
                (binary(ts(), Operator::Minus, interval(0, 0, -7_000)), 7),
            ] {
                let rewritten = shift_fixed_intervals(Arc::clone(&expr), &schema).unwrap();
                let shift = rewritten.downcast_ref::<TimestampShift>();
                assert_eq!(shift.map(|s| s.micros), Some(shifted_by), "{expr}");
                assert_eq!(values(&rewritten, &batch), values(&expr, &batch), "{expr}");
            }
        }
    }

    #[test]
    fn calendar_intervals_and_other_types_are_left_alone() {
        let schema = schema(Some("Europe/Berlin"));
        let n: Arc<dyn PhysicalExpr> = Arc::new(Column::new("n", 1));
        for expr in [
            binary(ts(), Operator::Plus, interval(1, 0, 0)),
            binary(ts(), Operator::Plus, interval(0, 1, 0)),
            binary(ts(), Operator::Plus, interval(0, 0, 1_500)),
            binary(ts(), Operator::Minus, ts()),
            binary(Arc::clone(&n), Operator::Plus, Arc::clone(&n)),
            binary(ts(), Operator::Lt, ts()),
        ] {
            let rewritten = shift_fixed_intervals(Arc::clone(&expr), &schema).unwrap();
            assert_eq!(rewritten.to_string(), expr.to_string());
        }
    }

    #[test]
    fn nested_shifts_are_each_rewritten() {
        // `date_bin(...) - INTERVAL '2s' + INTERVAL '10s'`, as a hop's window end.
        let expr = binary(
            binary(ts(), Operator::Minus, interval(0, 0, 2_000_000_000)),
            Operator::Plus,
            interval(0, 0, 10_000_000_000),
        );
        let batch = batch(None, vec![Some(5), None]);
        let rewritten = shift_fixed_intervals(Arc::clone(&expr), &schema(None)).unwrap();
        assert_eq!(
            rewritten.to_string(),
            "ts@0 + -2000000 microseconds + 10000000 microseconds"
        );
        assert_eq!(values(&rewritten, &batch), values(&expr, &batch));
    }

    #[test]
    fn leaving_the_range_is_a_timestamp_overflow() {
        let expr = binary(ts(), Operator::Plus, interval(0, 0, 10_000_000_000));
        let rewritten = shift_fixed_intervals(expr, &schema(None)).unwrap();
        let error = rewritten
            .evaluate(&batch(None, vec![Some(i64::MAX - 5)]))
            .unwrap_err();
        let error = SluiceError::from(error);
        assert_eq!(error.sqlstate(), "22008");
        assert_eq!(error.to_string(), "timestamp out of range");
    }
}
