//! Which of a join's stored rows the watermark frees (see
//! [`crate::dataflow::join::Expiry`]): the bounds that interval conditions and
//! equalities of watermarked columns put on the rows still to come.
//!
//! Every comparison of a column of one side with a column of the other, each
//! shifted by a fixed interval, is read as `x <= y + c`:
//!
//! ```text
//!   ON a.k = b.k                         a.k <= b.k + 0   and   b.k <= a.k + 0
//!   a.ts BETWEEN b.ts - INTERVAL '1' HOUR AND b.ts
//!                                        b.ts <= a.ts + 1 h  and  a.ts <= b.ts + 0
//!   a.ts > b.ts + INTERVAL '5' MINUTE    b.ts <= a.ts - 5 min
//! ```
//!
//! When `x` has a watermark `w_x`, a stored row of y's side with `y < w_x - c`
//! matches no row still to come; it is freed once it cannot change either: its side
//! is append-only, or y is also below its own watermark (the bound is then the least
//! of the two). The rows of x's side below `w_x` are late.

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::common::DFSchema;
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Join, Operator, lit};
use datafusion::scalar::ScalarValue;

use super::watermarks::{ColumnWatermarks, least};

/// One side of the join, as the logical plan has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// How one side's stored rows are freed: once `column` (an index in the side's
/// rows) is below `bound` (an expression of the view's watermark); and the other
/// side's rows that are late for it: those with a column in `late` below its
/// watermark.
#[derive(Debug, Clone)]
pub struct SideExpiry {
    pub column: usize,
    pub bound: Expr,
    pub late: Vec<(usize, Expr)>,
}

/// The expiries of a join's two sides (logical left and right).
#[derive(Debug, Default)]
pub struct JoinExpiry {
    pub left: Option<SideExpiry>,
    pub right: Option<SideExpiry>,
}

/// A side's column shifted by a fixed number of microseconds.
#[derive(Debug, Clone, Copy)]
struct Term {
    side: Side,
    column: usize,
    micros: i64,
}

/// `small <= large + micros` between columns of the two sides.
#[derive(Debug, Clone, Copy)]
struct AtMost {
    small: Term,
    large: Term,
}

/// The inputs' facts the derivation reads.
pub struct Inputs<'a> {
    pub join: &'a Join,
    pub left: &'a ColumnWatermarks,
    pub right: &'a ColumnWatermarks,
    pub left_append_only: bool,
    pub right_append_only: bool,
}

/// The expiries `inputs.join`'s condition allows (none for a side nothing frees).
pub fn derive(inputs: &Inputs) -> JoinExpiry {
    let mut constraints = Vec::new();
    let schemas = (
        inputs.join.left.schema().as_ref(),
        inputs.join.right.schema().as_ref(),
    );
    for (l, r) in &inputs.join.on {
        if let (Some(a), Some(b)) = (term(l, schemas), term(r, schemas)) {
            constraints.extend(compare(a, Operator::Eq, b));
        }
    }
    if let Some(filter) = &inputs.join.filter {
        for conjunct in split_conjunction(filter) {
            constraints.extend(comparisons(conjunct, schemas));
        }
    }
    let mut expiry = JoinExpiry::default();
    for constraint in constraints {
        let freed = constraint.large.side;
        let slot = match freed {
            Side::Left => &mut expiry.left,
            Side::Right => &mut expiry.right,
        };
        if slot.is_none() {
            *slot = side_expiry(inputs, constraint);
        }
    }
    expiry
}

/// The expiry of `constraint.large`'s side that `constraint` gives, if any.
fn side_expiry(inputs: &Inputs, constraint: AtMost) -> Option<SideExpiry> {
    let watermarks = |side| match side {
        Side::Left => inputs.left,
        Side::Right => inputs.right,
    };
    let (small, large) = (constraint.small, constraint.large);
    let partner = watermarks(small.side).get(small.column)?.clone()?;
    let own = watermarks(large.side).get(large.column)?.clone();
    let data_type = column_type(inputs, large)?;
    // x + s <= y + l with x >= w_x still to come: a row with y + l < w_x + s,
    // that is y < w_x - (l - s), matches none of them.
    let shift = large.micros.checked_sub(small.micros)?;
    let mut bound = shifted(partner.clone(), shift)?;
    if column_type(inputs, small)? != data_type {
        bound = Expr::Cast(Cast::new(Box::new(bound), data_type));
    }
    let append_only = match large.side {
        Side::Left => inputs.left_append_only,
        Side::Right => inputs.right_append_only,
    };
    let bound = match (append_only, own) {
        (true, _) => bound,
        (false, Some(own)) => least(vec![bound, own])?,
        (false, None) => return None,
    };
    Some(SideExpiry {
        column: large.column,
        bound,
        late: vec![(small.column, partner)],
    })
}

/// The type of a term's column.
fn column_type(inputs: &Inputs, term: Term) -> Option<DataType> {
    let plan = match term.side {
        Side::Left => &inputs.join.left,
        Side::Right => &inputs.join.right,
    };
    let data_type = plan.schema().field(term.column).data_type().clone();
    matches!(data_type, DataType::Timestamp(..)).then_some(data_type)
}

/// `expr` minus `micros` microseconds.
fn shifted(expr: Expr, micros: i64) -> Option<Expr> {
    if micros == 0 {
        return Some(expr);
    }
    let nanos = micros.checked_mul(1_000)?;
    let interval = ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, nanos)));
    Some(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(expr),
        Operator::Minus,
        Box::new(lit(interval)),
    )))
}

/// The constraints a conjunct of the condition states (none when it is not a
/// comparison of shifted columns of the two sides).
fn comparisons(conjunct: &Expr, schemas: (&DFSchema, &DFSchema)) -> Vec<AtMost> {
    match conjunct {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            match (term(left, schemas), term(right, schemas)) {
                (Some(a), Some(b)) => compare(a, *op, b),
                _ => Vec::new(),
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let Some(value) = term(expr, schemas) else {
                return Vec::new();
            };
            let mut out = Vec::new();
            if let Some(low) = term(low, schemas) {
                out.extend(compare(low, Operator::LtEq, value));
            }
            if let Some(high) = term(high, schemas) {
                out.extend(compare(value, Operator::LtEq, high));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// `a op b` as constraints, when `a` and `b` are of different sides.
fn compare(a: Term, op: Operator, b: Term) -> Vec<AtMost> {
    if a.side == b.side {
        return Vec::new();
    }
    let at_most = |small: Term, large: Term| AtMost { small, large };
    match op {
        Operator::Lt | Operator::LtEq => vec![at_most(a, b)],
        Operator::Gt | Operator::GtEq => vec![at_most(b, a)],
        Operator::Eq => vec![at_most(a, b), at_most(b, a)],
        _ => Vec::new(),
    }
}

/// `expr` as a timestamp column of one side shifted by a fixed interval: `col`,
/// `col ± INTERVAL '...'` (no months: their length varies), or a cast of `col`
/// between timestamp types.
fn term(expr: &Expr, schemas: (&DFSchema, &DFSchema)) -> Option<Term> {
    match expr {
        Expr::Column(column) => {
            let (side, index) = match schemas.0.index_of_column(column) {
                Ok(index) => (Side::Left, index),
                Err(_) => (Side::Right, schemas.1.index_of_column(column).ok()?),
            };
            Some(Term {
                side,
                column: index,
                micros: 0,
            })
        }
        Expr::Cast(cast) if matches!(cast.field.data_type(), DataType::Timestamp(..)) => {
            term(&cast.expr, schemas)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let sign = match op {
                Operator::Plus => 1,
                Operator::Minus => -1,
                _ => return None,
            };
            let (column, interval) = match (term(left, schemas), interval_micros(right)) {
                (Some(column), Some(interval)) => (column, interval),
                _ if sign == 1 => (term(right, schemas)?, interval_micros(left)?),
                _ => return None,
            };
            Some(Term {
                micros: column.micros.checked_add(sign * interval)?,
                ..column
            })
        }
        _ => None,
    }
}

/// A literal interval of fixed length, in microseconds.
pub(super) fn interval_micros(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(value, _) => scalar_interval_micros(value),
        _ => None,
    }
}

/// An interval or duration value of fixed length, in microseconds.
pub(super) fn scalar_interval_micros(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::IntervalMonthDayNano(Some(v))
            if v.months == 0 && v.nanoseconds % 1_000 == 0 =>
        {
            (v.days as i64)
                .checked_mul(86_400_000_000)?
                .checked_add(v.nanoseconds / 1_000)
        }
        ScalarValue::IntervalDayTime(Some(v)) => (v.days as i64)
            .checked_mul(86_400_000_000)?
            .checked_add((v.milliseconds as i64).checked_mul(1_000)?),
        ScalarValue::DurationMicrosecond(Some(v)) => Some(*v),
        ScalarValue::DurationMillisecond(Some(v)) => v.checked_mul(1_000),
        ScalarValue::DurationSecond(Some(v)) => v.checked_mul(1_000_000),
        _ => None,
    }
}
