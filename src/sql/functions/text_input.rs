//! Text read as PostgreSQL's input functions read it, for the types whose text Arrow's
//! cast reads otherwise: `bytea` ([`super::bytea`]: `\x0102` is two bytes), `interval`
//! ([`super::interval_input`]: `1 day 02:00:00`), `date`, `timestamp` and
//! `timestamptz` ([`super::timestamp_input`]: `2024-06-01 12:02`, zones), `numeric`
//! ([`super::numeric_input`]: `1e5`).
//!
//! The analyzer rule [`install`]s replaces every cast from text to one of these types —
//! written ones, typed literals (`TIMESTAMP '…'`) and the casts `INSERT` and
//! comparisons add — by a [`CastFunction`] that reads with [`read_text_as`]; the
//! server reads parameters sent as text with it too.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, IntervalUnit};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use super::cast_function::CastFunction;
use super::timestamp_input::Kind;
use super::{bytea, interval_input, numeric_input, timestamp_input};
use crate::catalog::postgres::regtypes::{ExpressionRule, is_text};

/// Registers the rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "postgres_text_input",
        rewrite,
    }));
}

/// A type whose text Sluice reads itself.
#[derive(Debug, Clone, Copy)]
enum Input {
    Bytea,
    Interval,
    Datetime(Kind),
    Numeric,
}

impl Input {
    fn of(data_type: &DataType) -> Option<Input> {
        Some(match data_type {
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Input::Bytea,
            DataType::Interval(IntervalUnit::MonthDayNano) => Input::Interval,
            DataType::Date32 => Input::Datetime(Kind::Date),
            DataType::Timestamp(_, None) => Input::Datetime(Kind::Timestamp),
            DataType::Timestamp(_, Some(_)) => Input::Datetime(Kind::Timestamptz),
            DataType::Decimal128(..) | DataType::Decimal256(..) => Input::Numeric,
            _ => return None,
        })
    }

    /// PostgreSQL's name for the type.
    fn name(self) -> &'static str {
        match self {
            Input::Bytea => "bytea",
            Input::Interval => "interval",
            Input::Datetime(Kind::Date) => "date",
            Input::Datetime(Kind::Timestamp) => "timestamp",
            Input::Datetime(Kind::Timestamptz) => "timestamptz",
            Input::Numeric => "numeric",
        }
    }

    /// `texts` read as this type, as values of `to` (a type [`Input::of`] maps here:
    /// `LargeBinary` for `bytea`, nanoseconds for a timestamp).
    fn read_as(self, texts: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
        let read = match self {
            Input::Numeric => return numeric_input::numeric_values(texts, to),
            Input::Bytea => bytea::bytea_values(texts),
            Input::Interval => interval_input::interval_values(texts),
            Input::Datetime(kind) => timestamp_input::read_all(texts, kind),
        }?;
        Ok(cast(&read, to)?)
    }
}

/// Text values read as PostgreSQL's input function for `to` reads them; `None` for the
/// types Arrow's cast reads as PostgreSQL does.
pub fn read_text_as(texts: &ArrayRef, to: &DataType) -> Option<Result<ArrayRef>> {
    Some(Input::of(to)?.read_as(texts, to))
}

/// `expr` with the input function of the cast's type in place of a cast from text.
fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast {
        expr: operand,
        field,
    }) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    let to = field.data_type().clone();
    let Some(input) = Input::of(&to) else {
        return Ok(Transformed::no(expr));
    };
    if !operand.get_type(schema).is_ok_and(|t| is_text(&t)) {
        return Ok(Transformed::no(expr));
    }
    let output = to.clone();
    let function = CastFunction::udf(input.name(), to, move |texts| input.read_as(texts, &output));
    Ok(Transformed::yes(Expr::ScalarFunction(
        ScalarFunction::new_udf(Arc::new(function), vec![(**operand).clone()]),
    )))
}
