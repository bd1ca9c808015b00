//! `interval * number`, `number * interval` and `interval / number` as PostgreSQL 15
//! computes them (`interval_mul`, `interval_div`): DataFusion refused all three
//! (`Cannot get result type for temporal operation Interval * Int64`).
//!
//! The number is read as a `double precision` (PostgreSQL casts `numeric` and integers
//! so). Months and days are multiplied separately and truncated; their fractions
//! cascade down (a fraction of a month as 30 days, of a day as 24 hours) and are never
//! carried up: `INTERVAL '1 month' * 0.5` is `15 days`, `INTERVAL '1 day' * 2.5` is
//! `2 days 12:00:00`. A result whose months, days or microseconds leave their range
//! fails with `22008 interval out of range`; dividing by zero with `22012`.
//!
//! The SQL planner meets the operator before type coercion does, so the call is made
//! there, by an [`ExprPlanner`] that sees both operands' types.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::error::{SluiceError, sqlstate};

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const DAYS_PER_MONTH: f64 = 30.0;
const SECONDS_PER_DAY: f64 = 86_400.0;
const MICROS_PER_SECOND: f64 = 1_000_000.0;
const NANOS_PER_MICRO: i64 = 1_000;

/// Plans `interval * number`, `number * interval` and `interval / number` as calls of
/// [`interval_mul`] and [`interval_div`].
#[derive(Debug)]
pub struct IntervalProducts {
    multiply: Arc<ScalarUDF>,
    divide: Arc<ScalarUDF>,
}

impl Default for IntervalProducts {
    fn default() -> Self {
        IntervalProducts {
            multiply: Arc::new(udf(Scaling::Multiply)),
            divide: Arc::new(udf(Scaling::Divide)),
        }
    }
}

impl ExprPlanner for IntervalProducts {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let is_interval = |e: &Expr| e.get_type(schema).is_ok_and(|t| t == INTERVAL);
        let is_number = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_numeric());
        let (function, interval, number) = match expr.op {
            BinaryOperator::Multiply if is_interval(&expr.left) && is_number(&expr.right) => {
                (&self.multiply, expr.left, expr.right)
            }
            BinaryOperator::Multiply if is_number(&expr.left) && is_interval(&expr.right) => {
                (&self.multiply, expr.right, expr.left)
            }
            BinaryOperator::Divide if is_interval(&expr.left) && is_number(&expr.right) => {
                (&self.divide, expr.left, expr.right)
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let factor = number.cast_to(&DataType::Float64, schema)?;
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(function.clone(), vec![interval, factor]),
        )))
    }
}

/// Whether the interval is multiplied or divided by the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scaling {
    Multiply,
    Divide,
}

/// `interval_mul(interval, double precision)` or `interval_div(...)`.
fn udf(scaling: Scaling) -> ScalarUDF {
    ScalarUDF::new_from_impl(IntervalScaling {
        scaling,
        signature: Signature::exact(vec![INTERVAL, DataType::Float64], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScaling {
    scaling: Scaling,
    signature: Signature,
}

impl ScalarUDFImpl for IntervalScaling {
    fn name(&self) -> &str {
        match self.scaling {
            Scaling::Multiply => "interval_mul",
            Scaling::Divide => "interval_div",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_rows(&args.args, |arrays| {
            let [intervals, factors] = arrays else {
                return Err(DataFusionError::Internal(format!(
                    "{} takes two arguments",
                    self.name()
                )));
            };
            let factors = cast(factors, &DataType::Float64)?;
            let factors = factors.as_primitive::<Float64Type>();
            let intervals = intervals.as_primitive::<IntervalMonthDayNanoType>();
            let results = intervals
                .iter()
                .zip(factors.iter())
                .map(|(interval, factor)| match (interval, factor) {
                    (Some(interval), Some(factor)) => {
                        scaled(interval, factor, self.scaling).map(Some)
                    }
                    _ => Ok(None),
                })
                .collect::<Result<IntervalMonthDayNanoArray>>()?;
            Ok(Arc::new(results) as ArrayRef)
        })
    }
}

/// PostgreSQL's `TSROUND`: to a microsecond's precision.
fn microsecond_round(seconds: f64) -> f64 {
    (seconds * MICROS_PER_SECOND).round_ties_even() / MICROS_PER_SECOND
}

fn out_of_range() -> DataFusionError {
    DataFusionError::External(Box::new(SluiceError::coded(
        sqlstate::DATETIME_FIELD_OVERFLOW,
        "interval out of range",
    )))
}

/// `value` truncated to an `i32`, or `interval out of range`.
fn whole(value: f64) -> Result<i32> {
    if value.is_nan() || value > f64::from(i32::MAX) || value < f64::from(i32::MIN) {
        return Err(out_of_range());
    }
    Ok(value.trunc() as i32)
}

/// `interval` times or divided by `factor`, as PostgreSQL 15's `interval_mul` and
/// `interval_div`.
fn scaled(
    interval: IntervalMonthDayNano,
    factor: f64,
    scaling: Scaling,
) -> Result<IntervalMonthDayNano> {
    if scaling == Scaling::Divide && factor == 0.0 {
        return Err(DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::DIVISION_BY_ZERO,
            "division by zero",
        ))));
    }
    let apply = |value: f64| match scaling {
        Scaling::Multiply => value * factor,
        Scaling::Divide => value / factor,
    };
    let (months, days) = (f64::from(interval.months), f64::from(interval.days));
    let micros = (interval.nanoseconds / NANOS_PER_MICRO) as f64;
    let whole_months = whole(apply(months))?;
    let mut whole_days = whole(apply(days))?;
    // Fractions cascade down: a month's as 30 days, a day's as 24 hours.
    let month_remainder_days =
        microsecond_round((apply(months) - f64::from(whole_months)) * DAYS_PER_MONTH);
    let mut second_remainder = microsecond_round(
        (apply(days) - f64::from(whole_days) + month_remainder_days - month_remainder_days.trunc())
            * SECONDS_PER_DAY,
    );
    // 24:00:00 from rounding, or more from the cascade, becomes days.
    if second_remainder.abs() >= SECONDS_PER_DAY {
        let carried = (second_remainder / SECONDS_PER_DAY).trunc();
        whole_days = whole_days
            .checked_add(whole(carried)?)
            .ok_or_else(out_of_range)?;
        second_remainder -= carried * SECONDS_PER_DAY;
    }
    let days = whole_days
        .checked_add(whole(month_remainder_days)?)
        .ok_or_else(out_of_range)?;
    let time = (apply(micros) + second_remainder * MICROS_PER_SECOND).round_ties_even();
    // The microseconds must fit an i64, and as nanoseconds too.
    if time.is_nan() || time.abs() >= (i64::MAX / NANOS_PER_MICRO) as f64 {
        return Err(out_of_range());
    }
    Ok(IntervalMonthDayNano::new(
        whole_months,
        days,
        time as i64 * NANOS_PER_MICRO,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(months: i32, days: i32, micros: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, micros * NANOS_PER_MICRO)
    }

    #[test]
    fn products_cascade_fractions_down_as_postgres() {
        let hour = 3_600_000_000;
        let cases = [
            // (interval, factor, scaling, PostgreSQL 15's result)
            (interval(0, 1, 0), 2.0, Scaling::Multiply, interval(0, 2, 0)),
            (
                interval(0, 1, 0),
                2.5,
                Scaling::Multiply,
                interval(0, 2, 12 * hour),
            ),
            (
                interval(1, 0, 0),
                0.5,
                Scaling::Multiply,
                interval(0, 15, 0),
            ),
            (
                interval(0, 0, hour),
                1.5,
                Scaling::Multiply,
                interval(0, 0, 3 * hour / 2),
            ),
            (
                interval(0, 1, 0),
                2.0,
                Scaling::Divide,
                interval(0, 0, 12 * hour),
            ),
            (
                interval(1, 1, hour),
                -1.0,
                Scaling::Multiply,
                interval(-1, -1, -hour),
            ),
            (interval(1, 0, 0), 3.0, Scaling::Divide, interval(0, 10, 0)),
            (interval(0, 0, 1), 0.5, Scaling::Multiply, interval(0, 0, 0)),
            (interval(0, 0, 3), 0.5, Scaling::Multiply, interval(0, 0, 2)),
        ];
        for (value, factor, scaling, expected) in cases {
            assert_eq!(
                scaled(value, factor, scaling).unwrap(),
                expected,
                "{value:?} {scaling:?} {factor}"
            );
        }
    }

    #[test]
    fn overflow_and_division_by_zero_fail_as_postgres() {
        let code = |value, factor, scaling| {
            let Err(DataFusionError::External(e)) = scaled(value, factor, scaling) else {
                panic!("no error for {value:?} {scaling:?} {factor}");
            };
            e.downcast_ref::<SluiceError>().unwrap().sqlstate()
        };
        assert_eq!(code(interval(0, 1, 0), 0.0, Scaling::Divide), "22012");
        assert_eq!(code(interval(1, 0, 0), 3e9, Scaling::Multiply), "22008");
        assert_eq!(
            code(interval(0, 1, 0), f64::NAN, Scaling::Multiply),
            "22008"
        );
        assert_eq!(code(interval(0, 0, 1), 1e300, Scaling::Multiply), "22008");
    }
}
