//! A `real` (`float4`) meeting an integer or a `numeric` in an operator is a `double
//! precision` on both sides, as PostgreSQL resolves the operator (`float48pl`,
//! `float48eq`, ...: an integer or `numeric` operand becomes a `double precision`, the
//! preferred type, and so does the `real`).
//!
//! DataFusion made the other operand a `real` instead, which answered differently
//! without a word: `1.1::float4 = 1.1` was true (PostgreSQL: false, the `real` nearest
//! 1.1 is 1.100000023841858), `16777217::float4 = 16777217` true, and `10::float4 / 3`
//! printed `3.3333333` (PostgreSQL: `3.3333333333333335`).
//!
//! The same holds for the math functions PostgreSQL has only for `double precision`
//! (and `numeric`): `sqrt(2::float4)` is `1.4142135623730951`, not DataFusion's
//! `1.4142135` ([`DOUBLE_ONLY`]).
//!
//! Arithmetic and comparison operators are met by an [`ExprPlanner`]; `IN (...)` and
//! `BETWEEN` (where DataFusion's coercion made both a `numeric`: `1.1::float4 IN (1.1)`
//! was true) and the functions by an analyzer rule that runs before type coercion
//! ([`before_coercion`]), whose recomputed schemas take the new types in.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Between, InList};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::catalog::postgres::regtypes::ExpressionRule;

/// Registers the planner.
pub fn install(context: &mut SessionContext) -> Result<()> {
    datafusion::execution::FunctionRegistry::register_expr_planner(context, Arc::new(RealOperands))
}

/// Functions PostgreSQL 15 has for `double precision` and not for `real` (a `real`
/// argument is read as a `double precision`), by DataFusion's names.
const DOUBLE_ONLY: &[&str] = &[
    "sqrt", "cbrt", "exp", "ln", "log", "log10", "power", "sin", "cos", "tan", "cot", "asin",
    "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "degrees",
    "radians", "round", "trunc", "ceil", "floor",
];

/// The analyzer rule for `IN (...)`, `BETWEEN` and functions, to run before type
/// coercion.
pub fn before_coercion() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(ExpressionRule {
        name: "postgres_real_arguments",
        rewrite: widen_lists_and_calls,
    })
}

/// Whether values of `data_type` make a `real` beside them a `double precision`.
fn widens_real(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
}

/// The planner for arithmetic and comparisons (see the module's documentation).
#[derive(Debug)]
struct RealOperands;

impl ExprPlanner for RealOperands {
    fn plan_binary_op(
        &self,
        mut expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        use BinaryOperator as Op;
        if !matches!(
            expr.op,
            Op::Plus
                | Op::Minus
                | Op::Multiply
                | Op::Divide
                | Op::Eq
                | Op::NotEq
                | Op::Lt
                | Op::LtEq
                | Op::Gt
                | Op::GtEq
        ) {
            return Ok(PlannerResult::Original(expr));
        }
        let type_of = |e: &Expr| e.get_type(schema).ok();
        let (left, right) = (type_of(&expr.left), type_of(&expr.right));
        let is_real = |t: &Option<DataType>| *t == Some(DataType::Float32);
        let widens = |t: &Option<DataType>| t.as_ref().is_some_and(widens_real);
        if is_real(&left) && widens(&right) {
            expr.left = expr.left.cast_to(&DataType::Float64, schema)?;
        } else if widens(&left) && is_real(&right) {
            expr.right = expr.right.cast_to(&DataType::Float64, schema)?;
        }
        // DataFusion's coercion makes the other operand a double precision.
        Ok(PlannerResult::Original(expr))
    }
}

/// `x IN (...)` and `x BETWEEN a AND b` with `x` a `real` and an integer or `numeric`
/// among the others, compared as PostgreSQL compares them: `BETWEEN` and a list of one
/// value as their operators (`double precision`s); a list of several values as values
/// of their common type, a `real` unless one is a `double precision`
/// (`16777217::float4 IN (16777217, 5)` is true, `IN (16777217)` false). A list naming
/// a column is left as it is. A call of one of [`DOUBLE_ONLY`] gets its `real`
/// arguments as `double precision`s.
fn widen_lists_and_calls(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let type_is = |e: &Expr, t: DataType| e.get_type(schema).is_ok_and(|found| found == t);
    let widens = |e: &Expr| e.get_type(schema).is_ok_and(|t| widens_real(&t));
    let as_double = |e: Expr, schema: &DFSchema| e.cast_to(&DataType::Float64, schema);
    Ok(match expr {
        Expr::ScalarFunction(mut call)
            if DOUBLE_ONLY.contains(&call.func.name())
                && call.args.iter().any(|a| type_is(a, DataType::Float32)) =>
        {
            for arg in &mut call.args {
                if type_is(arg, DataType::Float32) {
                    *arg = as_double(arg.clone(), schema)?;
                }
            }
            Transformed::yes(Expr::ScalarFunction(call))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) if type_is(&expr, DataType::Float32)
            && list.iter().any(widens)
            && !list.iter().any(|e| matches!(e, Expr::Column(_))) =>
        {
            let common = if list.len() == 1 || list.iter().any(|e| type_is(e, DataType::Float64)) {
                DataType::Float64
            } else {
                DataType::Float32
            };
            let list = list
                .into_iter()
                .map(|e| e.cast_to(&common, schema))
                .collect::<Result<_>>()?;
            Transformed::yes(Expr::InList(InList::new(
                Box::new(expr.cast_to(&common, schema)?),
                list,
                negated,
            )))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) if type_is(&expr, DataType::Float32) && (widens(&low) || widens(&high)) => {
            Transformed::yes(Expr::Between(Between::new(
                Box::new(as_double(*expr, schema)?),
                negated,
                Box::new(as_double(*low, schema)?),
                Box::new(as_double(*high, schema)?),
            )))
        }
        other => Transformed::no(other),
    })
}
