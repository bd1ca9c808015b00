//! Intervals compared as PostgreSQL compares them: by their span, a month counting as
//! 30 days and a day as 24 hours (`interval_cmp_value`), so `'1 month' = '30 days'` and
//! `'25 hours' > '1 day'`. Arrow compares an interval's months, days and nanoseconds in
//! turn, which answered both wrongly without a word.
//!
//! An analyzer rule (after type coercion) compares the spans ([`interval_span`])
//! wherever two intervals meet in `=`, `<>`, `<`, `<=`, `>`, `>=`, `IS [NOT] DISTINCT
//! FROM` or `BETWEEN`, sorts by the span where `ORDER BY` names an interval, and makes
//! `max`/`min` of intervals the first value by span (`first_value(x ORDER BY span
//! DESC)`), in queries and views alike.
//!
//! Intervals as keys (`GROUP BY`, `DISTINCT`, joins, windows) are
//! [`super::interval_keys`]'s.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult};
use datafusion::common::{DFSchema, Result};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::expr::{AggregateFunction, Between, ScalarFunction, Sort};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::SessionContext;

use crate::catalog::postgres::regtypes::rewrite_expressions;

/// Registers the analyzer rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(IntervalComparisons));
}

/// The rule (see the module's documentation).
#[derive(Debug)]
struct IntervalComparisons;

impl AnalyzerRule for IntervalComparisons {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = rewrite_expressions(plan, by_span)?;
        plan.transform_up_with_subqueries(|node| {
            let LogicalPlan::Sort(mut sort) = node else {
                return Ok(Transformed::no(node));
            };
            let schema = sort.input.schema().clone();
            let mut changed = false;
            for key in &mut sort.expr {
                if is_interval(&key.expr, &schema) {
                    key.expr = span(key.expr.clone());
                    changed = true;
                }
            }
            Ok(Transformed::new_transformed(
                LogicalPlan::Sort(sort),
                changed,
            ))
        })
        .data()
    }

    fn name(&self) -> &str {
        "postgres_interval_comparisons"
    }
}

pub(super) fn is_interval(expr: &Expr, schema: &DFSchema) -> bool {
    matches!(expr.get_type(schema), Ok(DataType::Interval(_)))
}

pub(super) fn span(expr: Expr) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(interval_span()),
        vec![expr],
    ))
}

/// `expr` comparing spans where it compares two intervals or takes the largest or
/// smallest.
fn by_span(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match expr {
        Expr::AggregateFunction(AggregateFunction { func, params })
            if matches!(func.name(), "max" | "min")
                && params.order_by.is_empty()
                && matches!(params.args.as_slice(), [arg] if is_interval(arg, schema)) =>
        {
            let largest = func.name() == "max";
            let order = params
                .args
                .iter()
                .map(|arg| Sort::new(span(arg.clone()), !largest, false))
                .collect();
            Transformed::yes(Expr::AggregateFunction(AggregateFunction::new_udf(
                first_value_udaf(),
                params.args,
                false,
                params.filter,
                order,
                None,
            )))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(
                op,
                Operator::Eq
                    | Operator::NotEq
                    | Operator::Lt
                    | Operator::LtEq
                    | Operator::Gt
                    | Operator::GtEq
                    | Operator::IsDistinctFrom
                    | Operator::IsNotDistinctFrom
            ) && is_interval(&left, schema)
                && is_interval(&right, schema) =>
        {
            Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(span(*left)),
                op,
                Box::new(span(*right)),
            )))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) if is_interval(&expr, schema)
            && is_interval(&low, schema)
            && is_interval(&high, schema) =>
        {
            Transformed::yes(Expr::Between(Between::new(
                Box::new(span(*expr)),
                negated,
                Box::new(span(*low)),
                Box::new(span(*high)),
            )))
        }
        other => Transformed::no(other),
    })
}

/// `interval_span(interval)`: the interval's span in nanoseconds, a month as 30 days
/// and a day as 24 hours, as a `numeric` (a month's span overflows 64 bits).
fn interval_span() -> ScalarUDF {
    ScalarUDF::new_from_impl(IntervalSpan {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalSpan {
    signature: Signature,
}

const SPAN: DataType = DataType::Decimal128(38, 0);
const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// The span of `months`, `days` and `nanoseconds`.
pub(super) fn span_of(months: i32, days: i32, nanoseconds: i64) -> i128 {
    (i128::from(months) * 30 + i128::from(days)) * NANOS_PER_DAY + i128::from(nanoseconds)
}

impl ScalarUDFImpl for IntervalSpan {
    fn name(&self) -> &str {
        "interval_span"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![
            DataType::Interval(IntervalUnit::MonthDayNano);
            arg_types.len()
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(SPAN)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_values(&args.args, self.name(), |values| {
            let values = cast(values, &DataType::Interval(IntervalUnit::MonthDayNano))?;
            let spans: Decimal128Array = values
                .as_primitive::<IntervalMonthDayNanoType>()
                .unary(|i| span_of(i.months, i.days, i.nanoseconds));
            Ok(Arc::new(spans.with_data_type(SPAN)) as ArrayRef)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_months_as_30_days_and_days_as_24_hours() {
        let hour = 3_600_000_000_000;
        assert_eq!(span_of(1, 0, 0), span_of(0, 30, 0));
        assert!(span_of(0, 0, 25 * hour) > span_of(0, 1, 0));
        assert_eq!(span_of(0, 1, -hour), 23 * hour as i128);
        assert!(span_of(i32::MAX, i32::MAX, i64::MAX) > 0);
        assert!(span_of(i32::MIN, i32::MIN, i64::MIN) < 0);
    }
}
