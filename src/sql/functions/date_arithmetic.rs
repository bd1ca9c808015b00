//! `date + interval`, `interval + date` and `date - interval` as PostgreSQL computes
//! them: a `timestamp` (the date at midnight, moved by the interval).
//!
//! DataFusion's answer was a `date`, the interval's time part dropped without a word:
//! `DATE '2024-02-29' + INTERVAL '1 hour'` was `2024-02-29`, where PostgreSQL says
//! `2024-02-29 01:00:00`. Like [`super::interval_arithmetic`], the operator is met by an
//! [`ExprPlanner`] before type coercion, which sees both operands' types and makes the
//! date a timestamp first; DataFusion's `timestamp ± interval` does the rest (months
//! clamped to the month's last day, as in PostgreSQL).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// The planner for `date ± interval` (see the module's documentation).
#[derive(Debug, Default)]
pub struct DateIntervalSums;

impl ExprPlanner for DateIntervalSums {
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
