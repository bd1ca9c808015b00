//! Recognizing top-N queries in a view's plan: a filter bounding a ranking window
//! function (`WHERE rn <= N` over `ROW_NUMBER()`, `RANK()` or `DENSE_RANK() OVER
//! (PARTITION BY ... ORDER BY ...)`), which the view planner maintains with
//! [`crate::dataflow::top_n::TopN`].

use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, Window};
use datafusion::scalar::ScalarValue;

use super::view_plan::strip_alias;
use crate::dataflow::top_n::Ranking;

/// The ranking function of `window`, when it computes exactly one and it ranks.
pub fn ranking_of(window: &Window) -> Option<(Ranking, &WindowFunction)> {
    let [expr] = window.window_expr.as_slice() else {
        return None;
    };
    let Expr::WindowFunction(function) = strip_alias(expr) else {
        return None;
    };
    let WindowFunctionDefinition::WindowUDF(udf) = &function.fun else {
        return None;
    };
    let ranking = match udf.name() {
        "row_number" => Ranking::RowNumber,
        "rank" => Ranking::Rank,
        "dense_rank" => Ranking::DenseRank,
        _ => return None,
    };
    let params = &function.params;
    (params.args.is_empty() && params.filter.is_none()).then_some((ranking, function.as_ref()))
}

/// How a filter conjunct bounds the rank, if it does: the largest rank it lets
/// through, and whether the conjunct must still be applied after the top-N
/// (`rn = 3` keeps only rank 3 of the first three).
pub fn rank_bound(conjunct: &Expr, is_rank: &dyn Fn(&Expr) -> bool) -> Option<(u64, bool)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = conjunct else {
        return None;
    };
    // `rank op n`, or `n op rank` read as `rank flipped(op) n`.
    let (op, literal) = if is_rank(left) {
        (*op, right.as_ref())
    } else if is_rank(right) {
        (op.swap()?, left.as_ref())
    } else {
        return None;
    };
    let Expr::Literal(value, _) = strip_alias(literal) else {
        return None;
    };
    let n = match value.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
        Ok(ScalarValue::Int64(Some(n))) => n,
        _ => return None,
    };
    let at_most = |n: i64| n.max(0) as u64;
    match op {
        Operator::LtEq => Some((at_most(n), false)),
        Operator::Lt => Some((at_most(n - 1), false)),
        Operator::Eq => Some((at_most(n), n != 1)),
        _ => None,
    }
}
