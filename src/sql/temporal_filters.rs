//! Temporal filters: `now()` in a materialized view's `WHERE`, compared with the rows'
//! times — `WHERE ts > now() - INTERVAL '1' HOUR` keeps the last hour's rows, and
//! rows leave the view as the clock passes them (see
//! [`crate::dataflow::temporal_filter`]).
//!
//! Before the optimizer folds `now()` into a constant, each such comparison becomes a
//! clock bound, a marker the view planner turns into the temporal filter's bounds:
//!
//! ```text
//!   ts >  now() - INTERVAL '1' HOUR   ⟺  now <  ts + 1 h   clock_bound(ts + 1 h, 'until')
//!   ts >= now() + c                  ⟺  now <= ts - c     clock_bound(ts - c, 'through')
//!   ts <  now()                      ⟺  now >  ts         clock_bound(ts, 'after')
//!   ts <= now()                      ⟺  now >= ts         clock_bound(ts, 'from')
//! ```
//!
//! Only comparisons that are conjuncts of a `WHERE` (or `HAVING`), of a value without
//! `now()` with `now()` shifted by a fixed interval, are temporal filters; `now()`
//! anywhere else stays refused, as every function whose value changes by itself.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result as DfResult};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    Between, BinaryExpr, ColumnarValue, Expr, ExprSchemable, Filter, LogicalPlan, Operator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use datafusion::scalar::ScalarValue;

use super::join_expiry::interval_micros;
use crate::dataflow::temporal_filter::BoundKind;
use crate::error::{Result, SluiceError};

/// The marker's name.
const CLOCK_BOUND: &str = "__sluice_clock_bound";

/// What a clock bound says (see the module docs): which end of the rows' range, and
/// whether the value itself is outside it.
fn words(kind: BoundKind, exclusive: bool) -> &'static str {
    match (kind, exclusive) {
        (BoundKind::From, false) => "from",
        (BoundKind::From, true) => "after",
        (BoundKind::Until, false) => "until",
        (BoundKind::Until, true) => "through",
    }
}

/// A clock bound's parts: its kind, whether exclusive, and the value over the row.
pub fn clock_bound(expr: &Expr) -> Option<(BoundKind, bool, &Expr)> {
    let Expr::ScalarFunction(f) = expr else {
        return None;
    };
    if f.func.name() != CLOCK_BOUND {
        return None;
    }
    let [value, Expr::Literal(ScalarValue::Utf8(Some(kind)), _)] = f.args.as_slice() else {
        return None;
    };
    let (kind, exclusive) = match kind.as_str() {
        "from" => (BoundKind::From, false),
        "after" => (BoundKind::From, true),
        "until" => (BoundKind::Until, false),
        "through" => (BoundKind::Until, true),
        _ => return None,
    };
    Some((kind, exclusive, value))
}

/// True when `expr` holds a clock bound.
pub fn has_clock_bound(expr: &Expr) -> bool {
    expr.exists(|e| Ok(clock_bound(e).is_some()))
        .unwrap_or(false)
}

/// `plan` with every temporal filter's comparisons made clock bounds. A comparison
/// with `now()` that cannot be one is refused (`0A000`).
pub fn clock_bounds(plan: LogicalPlan) -> Result<LogicalPlan> {
    Ok(plan
        .transform_up_with_subqueries(|node| {
            let LogicalPlan::Filter(filter) = &node else {
                return Ok(Transformed::no(node));
            };
            if !filter.predicate.exists(|e| Ok(is_now(e)))? {
                return Ok(Transformed::no(node));
            }
            let schema = filter.input.schema();
            let conjuncts = split_conjunction(&filter.predicate)
                .into_iter()
                .map(|c| {
                    if c.exists(|e| Ok(is_now(e)))? {
                        marked(c, schema).map_err(|e| DataFusionError::External(Box::new(e)))
                    } else {
                        Ok(vec![c.clone()])
                    }
                })
                .collect::<DfResult<Vec<_>>>()?;
            let predicate = conjunction(conjuncts.into_iter().flatten()).unwrap_or(lit(true));
            Ok(Transformed::yes(LogicalPlan::Filter(Filter::try_new(
                predicate,
                filter.input.clone(),
            )?)))
        })
        .map_err(SluiceError::from)?
        .data)
}

fn is_now(expr: &Expr) -> bool {
    matches!(expr, Expr::ScalarFunction(f) if f.func.name() == "now")
}

/// Why a comparison with `now()` is refused.
fn refused(conjunct: &Expr) -> SluiceError {
    SluiceError::not_supported(format!(
        "now() in a materialized view must be compared with a time of the row, as a \
         condition of WHERE or HAVING joined by AND, with a fixed interval at most (a \
         temporal filter, such as WHERE ts > now() - INTERVAL '1' HOUR); not {conjunct}"
    ))
}

/// A conjunct comparing a value with the clock, as clock bounds.
fn marked(conjunct: &Expr, schema: &DFSchema) -> Result<Vec<Expr>> {
    let comparisons = match conjunct {
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => vec![
            ((**expr).clone(), Operator::GtEq, (**low).clone()),
            ((**expr).clone(), Operator::LtEq, (**high).clone()),
        ],
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            vec![((**left).clone(), *op, (**right).clone())]
        }
        _ => return Err(refused(conjunct)),
    };
    comparisons
        .into_iter()
        .map(|(left, op, right)| {
            let (value, op, shift) = match (clock(&left), clock(&right)) {
                (None, Some(shift)) => (left, op, shift),
                (Some(shift), None) => (right, op.swap().ok_or_else(|| refused(conjunct))?, shift),
                _ => return Err(refused(conjunct)),
            };
            if value.exists(|e| Ok(is_now(e)))? {
                return Err(refused(conjunct));
            }
            let (kind, exclusive) = match op {
                Operator::Gt => (BoundKind::Until, false),
                Operator::GtEq => (BoundKind::Until, true),
                Operator::Lt => (BoundKind::From, true),
                Operator::LtEq => (BoundKind::From, false),
                _ => return Err(refused(conjunct)),
            };
            let value = as_timestamp(value, schema).ok_or_else(|| refused(conjunct))?;
            // value op now + shift  ⟺  value - shift op now.
            let value = if shift == 0 {
                value
            } else {
                let nanos = shift.checked_mul(1_000).ok_or_else(|| refused(conjunct))?;
                Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(value),
                    Operator::Minus,
                    Box::new(lit(ScalarValue::IntervalMonthDayNano(Some(
                        IntervalMonthDayNano::new(0, 0, nanos),
                    )))),
                ))
            };
            Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
                clock_bound_udf(),
                vec![value, lit(words(kind, exclusive))],
            )))
        })
        .collect()
}

/// `value` as a timestamp: a timestamp as it is, a date at midnight UTC; `None` for
/// other types.
fn as_timestamp(value: Expr, schema: &DFSchema) -> Option<Expr> {
    match value.get_type(schema).ok()? {
        DataType::Timestamp(..) => Some(value),
        DataType::Date32 | DataType::Date64 => Some(Expr::Cast(Cast::new(
            Box::new(value),
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ))),
        _ => None,
    }
}

/// The shift (µs) of `expr` when it is the clock shifted by a fixed interval:
/// `now()`, `now() ± INTERVAL '...'`, a cast of those to a timestamp type.
fn clock(expr: &Expr) -> Option<i64> {
    match expr {
        e if is_now(e) => Some(0),
        Expr::Cast(cast) if matches!(cast.field.data_type(), DataType::Timestamp(..)) => {
            clock(&cast.expr)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::Plus => match (clock(left), clock(right)) {
                (Some(shift), None) => shift.checked_add(interval_micros(right)?),
                (None, Some(shift)) => shift.checked_add(interval_micros(left)?),
                _ => None,
            },
            Operator::Minus => clock(left)?.checked_sub(interval_micros(right)?),
            _ => None,
        },
        _ => None,
    }
}

/// The marker function: evaluated by no query (the view planner takes it apart).
fn clock_bound_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(ClockBound {
        signature: Signature::any(2, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ClockBound {
    signature: Signature,
}

impl ScalarUDFImpl for ClockBound {
    fn name(&self) -> &str {
        CLOCK_BOUND
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(DataFusionError::Internal(
            "a temporal filter's comparison with now() is evaluated by the view's clock only"
                .into(),
        ))
    }
}
