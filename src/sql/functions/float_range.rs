//! Floats read and narrowed within their range, as PostgreSQL 15's `float4in`,
//! `float8in`, `float8_to_float4` and `numeric_float4` do: a value beyond the type's
//! range fails with `22003` (`"1e40" is out of range for type real`, `value out of
//! range: overflow`, `value out of range: underflow`) where Arrow's casts answered
//! `Infinity` or `0` without a word (`'1e40'::real`, `1e300::float8::real`,
//! `'1e-400'::float8`). Infinities and NaN written as such stay what they are.
//!
//! The analyzer rule [`install`]s replaces such casts — written ones and those that
//! `INSERT` and type coercion add — by a [`CastFunction`] that casts with Arrow, then
//! checks each value against its source.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use super::cast_function::CastFunction;
use crate::catalog::postgres::regtypes::{ExpressionRule, is_text};
use crate::error::{SluiceError, sqlstate};

/// Registers the rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "postgres_float_range",
        rewrite,
    }));
}

/// Where a cast to a float comes from, when PostgreSQL checks its range.
#[derive(Debug, Clone, Copy)]
enum Source {
    Text,
    Double,
    Numeric,
}

/// `expr` with a range-checking cast in place of a cast to a float that can leave its
/// range.
fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast {
        expr: operand,
        field,
    }) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    let to = field.data_type().clone();
    let Ok(from) = operand.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    let source = match (&from, &to) {
        (from, DataType::Float32 | DataType::Float64) if is_text(from) => Source::Text,
        (DataType::Float64, DataType::Float32) => Source::Double,
        (DataType::Decimal128(..) | DataType::Decimal256(..), DataType::Float32) => Source::Numeric,
        _ => return Ok(Transformed::no(expr)),
    };
    let name = if to == DataType::Float32 {
        "float4"
    } else {
        "float8"
    };
    let output = to.clone();
    let function = CastFunction::udf(name, to, move |values| {
        // Text that is no number fails, as Arrow's cast in place of this one did.
        let options = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        let cast_values = cast_with_options(values, &output, &options)?;
        check(values, &cast_values, source)?;
        Ok(cast_values)
    });
    Ok(Transformed::yes(Expr::ScalarFunction(
        ScalarFunction::new_udf(Arc::new(function), vec![(**operand).clone()]),
    )))
}

/// The first value of `cast_values` out of the range of its type, as PostgreSQL's error.
fn check(values: &ArrayRef, cast_values: &ArrayRef, source: Source) -> Result<()> {
    let real = cast_values.data_type() == &DataType::Float32;
    let as_double = cast(cast_values, &DataType::Float64)?;
    let results = as_double.as_primitive::<Float64Type>();
    for row in 0..values.len() {
        if results.is_null(row) || values.is_null(row) {
            continue;
        }
        let result = results.value(row);
        let wrong = match source {
            Source::Double => {
                let value = values.as_primitive::<Float64Type>().value(row);
                if result.is_infinite() && value.is_finite() {
                    Some("value out of range: overflow".to_string())
                } else if result == 0.0 && value != 0.0 {
                    Some("value out of range: underflow".to_string())
                } else {
                    None
                }
            }
            // Only an infinity or a zero can be a value out of range.
            Source::Text | Source::Numeric if result.is_finite() && result != 0.0 => None,
            Source::Text | Source::Numeric => {
                let text = array_value_to_string(values, row)?;
                let lost = (result.is_infinite() && !names_infinity(&text))
                    || (result == 0.0 && has_nonzero_digit(&text));
                lost.then(|| {
                    format!(
                        "\"{}\" is out of range for type {}",
                        text.trim(),
                        if real { "real" } else { "double precision" }
                    )
                })
            }
        };
        if let Some(message) = wrong {
            return Err(DataFusionError::External(Box::new(SluiceError::coded(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                message,
            ))));
        }
    }
    Ok(())
}

/// Whether `text` spells an infinity (`Infinity`, `-inf`).
fn names_infinity(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    unsigned == "inf" || unsigned == "infinity"
}

/// Whether the digits of `text` before any exponent hold one that is not zero.
fn has_nonzero_digit(text: &str) -> bool {
    text.chars()
        .take_while(|c| !matches!(c, 'e' | 'E'))
        .any(|c| matches!(c, '1'..='9'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinities_and_zeros_are_told_apart_from_overflow_and_underflow() {
        assert!(names_infinity(" -Infinity"));
        assert!(names_infinity("inf"));
        assert!(!names_infinity("1e400"));
        assert!(has_nonzero_digit("1e-400"));
        assert!(!has_nonzero_digit("0.000e5"));
        assert!(!has_nonzero_digit("-0"));
    }
}
