//! Date and timestamp arithmetic as PostgreSQL computes it, where DataFusion's differs.
//!
//! - `date + interval`, `interval + date` and `date - interval`: a `timestamp` (the date
//!   at midnight, moved by the interval). DataFusion's answer was a `date`, the
//!   interval's time part dropped without a word: `DATE '2024-02-29' + INTERVAL '1 hour'`
//!   was `2024-02-29`, where PostgreSQL says `2024-02-29 01:00:00`. The date is made a
//!   timestamp first; DataFusion's `timestamp ± interval` does the rest (months clamped
//!   to the month's last day, as in PostgreSQL).
//! - `timestamp - timestamp` (and `timestamptz - timestamptz`): an `interval` of days
//!   and a time under 24 hours, both of the difference's sign (PostgreSQL's
//!   `timestamp_mi`, which justifies hours). DataFusion's was a duration, printed
//!   `192:59:59.5` for `8 days 00:59:59.5`, and compared with intervals wrongly.
//!
//! - `date_trunc(unit, date)`: a `timestamptz`, as PostgreSQL reads the date (at
//!   midnight UTC, the session's zone) for want of a `date_trunc(text, date)`.
//!   DataFusion's was a `timestamp`, printed without `+00`.
//!
//! Like [`super::interval_arithmetic`], the operators are met by an [`ExprPlanner`]
//! before type coercion, which sees both operands' types; `date_trunc` by an analyzer
//! rule before type coercion ([`before_coercion`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::arity::try_binary;
use datafusion::arrow::datatypes::{
    DataType, IntervalMonthDayNano, IntervalUnit, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::catalog::postgres::regtypes::ExpressionRule;
use crate::error::{SluiceError, sqlstate};

/// The planner for the operators above (see the module's documentation).
#[derive(Debug, Default)]
pub struct DateTimeArithmetic;

impl ExprPlanner for DateTimeArithmetic {
    fn plan_binary_op(
        &self,
        mut expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let type_of = |e: &Expr| e.get_type(schema).ok();
        let is_date = |t: &Option<DataType>| matches!(t, Some(DataType::Date32 | DataType::Date64));
        let is_interval = |t: &Option<DataType>| matches!(t, Some(DataType::Interval(_)));
        let (left, right) = (type_of(&expr.left), type_of(&expr.right));
        let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        let is_timestamp = |t: &Option<DataType>| matches!(t, Some(DataType::Timestamp(..)));
        if expr.op == BinaryOperator::Minus && is_timestamp(&left) && is_timestamp(&right) {
            return Ok(PlannerResult::Planned(Expr::ScalarFunction(
                ScalarFunction::new_udf(Arc::new(timestamp_mi()), vec![expr.left, expr.right]),
            )));
        }
        match expr.op {
            BinaryOperator::Plus | BinaryOperator::Minus
                if is_date(&left) && is_interval(&right) =>
            {
                expr.left = expr.left.cast_to(&timestamp, schema)?;
            }
            BinaryOperator::Plus if is_interval(&left) && is_date(&right) => {
                expr.right = expr.right.cast_to(&timestamp, schema)?;
            }
            _ => return Ok(PlannerResult::Original(expr)),
        }
        // DataFusion plans it as `timestamp ± interval`.
        Ok(PlannerResult::Original(expr))
    }
}

/// The analyzer rule for `date_trunc(unit, date)`, to run before type coercion.
pub fn before_coercion() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(ExpressionRule {
        name: "postgres_date_trunc_of_dates",
        rewrite: truncate_dates_as_timestamptz,
    })
}

/// `date_trunc(unit, date)` with the date cast to `timestamptz`.
fn truncate_dates_as_timestamptz(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::ScalarFunction(mut call)
            if call.func.name() == "date_trunc"
                && call.args.len() == 2
                && matches!(
                    call.args[1].get_type(schema),
                    Ok(DataType::Date32 | DataType::Date64)
                ) =>
        {
            let timestamptz =
                DataType::Timestamp(TimeUnit::Microsecond, Some(crate::sql::types::UTC.into()));
            call.args[1] = call.args[1].clone().cast_to(&timestamptz, schema)?;
            Ok(Transformed::yes(Expr::ScalarFunction(call)))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// `timestamp_mi(a, b)`: `a - b` as PostgreSQL's `timestamp - timestamp` (see the
/// module's documentation). A `timestamptz` operand is in UTC, as the session's zone
/// is, so both are read as microseconds in UTC.
fn timestamp_mi() -> ScalarUDF {
    ScalarUDF::new_from_impl(TimestampDifference {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampDifference {
    signature: Signature,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The interval from `b` to `a` (microseconds), days and time of one sign.
fn difference(a: i64, b: i64) -> Option<IntervalMonthDayNano> {
    let micros = a.checked_sub(b)?;
    let days = i32::try_from(micros / MICROS_PER_DAY).ok()?;
    Some(IntervalMonthDayNano::new(
        0,
        days,
        (micros % MICROS_PER_DAY) * 1_000,
    ))
}

impl ScalarUDFImpl for TimestampDifference {
    fn name(&self) -> &str {
        "timestamp_mi"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        Ok(vec![micros; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        intervals_of_timestamps(self.name(), args, difference)
    }
}

/// The intervals `of` gives for the pairs of timestamps in `args` (read as microseconds
/// in UTC), `of` answering `None` beyond an interval's range: `timestamp_mi` and
/// `age`.
pub(super) fn intervals_of_timestamps(
    name: &str,
    args: ScalarFunctionArgs,
    of: fn(i64, i64) -> Option<IntervalMonthDayNano>,
) -> Result<ColumnarValue> {
    super::convert_rows(&args.args, |arrays| {
        let [a, b] = arrays else {
            return Err(DataFusionError::Internal(format!(
                "{name} takes two timestamps"
            )));
        };
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let (a, b) = (cast(a, &micros)?, cast(b, &micros)?);
        let intervals: IntervalMonthDayNanoArray = try_binary(
            a.as_primitive::<TimestampMicrosecondType>(),
            b.as_primitive::<TimestampMicrosecondType>(),
            |a, b| {
                of(a, b).ok_or_else(|| {
                    datafusion::arrow::error::ArrowError::ExternalError(Box::new(
                        SluiceError::coded(
                            sqlstate::DATETIME_FIELD_OVERFLOW,
                            "interval out of range",
                        ),
                    ))
                })
            },
        )?;
        Ok(Arc::new(intervals) as ArrayRef)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_days_and_a_time_of_one_sign() {
        let hour = 3_600_000_000;
        // 2024-01-09 03:00 - 2024-01-01 02:00:00.5: '8 days 00:59:59.5'.
        assert_eq!(
            difference(8 * MICROS_PER_DAY + 3 * hour, 2 * hour + 500_000),
            Some(IntervalMonthDayNano::new(0, 8, 3_599_500_000_000))
        );
        // The other way: '-8 days -00:59:59.5'.
        assert_eq!(
            difference(2 * hour + 500_000, 8 * MICROS_PER_DAY + 3 * hour),
            Some(IntervalMonthDayNano::new(0, -8, -3_599_500_000_000))
        );
        assert_eq!(difference(i64::MAX, -1), None);
    }
}
