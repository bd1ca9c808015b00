//! Casts to text that write values as PostgreSQL does: `x::text`, `CAST(x AS
//! VARCHAR)`, the casts `||` adds (`'at ' || ts`) and `INSERT`'s conversions into text
//! columns.
//!
//! DataFusion's casts to text use Arrow's display: `1000::float8::text` was `1000.0`,
//! a timestamp `2024-06-01T10:00:00`, an interval `1 days 2 hours`, an array `[1, 2]`,
//! a `bytea` its raw bytes. PostgreSQL writes a value as its type's output function
//! does — what clients receive in text format: `1000`, `2024-06-01 10:00:00`,
//! `1 day 02:00:00`, `{1,2}`, `\x0102`. The analyzer rule [`install`]s replaces those
//! casts by a function that writes values as the server's text format does
//! ([`crate::sql::text_format`]), dates included (Arrow writes years before 1 AD and
//! after 9999 as `-0043-03-15` and `+12000-01-01`, PostgreSQL `0044-03-15 BC` and
//! `12000-01-01`). Casts of other types (integers, `numeric`, booleans, text) already
//! agree and stay DataFusion's.
//!
//! Floats are written with the shortest digits that read back to the same value, as
//! under PostgreSQL's default `extra_float_digits` (1): a view's value must not depend
//! on the setting of the session that created it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::prelude::SessionContext;

use super::cast_function::CastFunction;
use crate::catalog::postgres::regtypes::{ExpressionRule, is_text};
use crate::sql::text_format;

/// `extra_float_digits` of the text casts: PostgreSQL's default (shortest exact).
const EXTRA_FLOAT_DIGITS: i8 = 1;

/// Registers the rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "postgres_text_casts",
        rewrite,
    }));
}

/// `expr` with a text output function for a cast to text whose operand Arrow writes otherwise.
fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast {
        expr: operand,
        field,
    }) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    let to_text = is_text(field.data_type());
    // Catalog columns of PostgreSQL's own types (`int2vector`, `oidvector`: marked
    // with metadata) have output functions of their own.
    let Ok((_, source)) = operand.to_field(schema) else {
        return Ok(Transformed::no(expr));
    };
    let catalog_type = source.metadata().keys().any(|k| k.starts_with("pg."));
    if !to_text
        || !field.metadata().is_empty()
        || catalog_type
        || !written_otherwise(source.data_type())
    {
        return Ok(Transformed::no(expr));
    }
    let text = Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(CastFunction::udf("text", DataType::Utf8, texts)),
        vec![(**operand).clone()],
    ));
    Ok(Transformed::yes(match field.data_type() {
        DataType::Utf8 => text,
        other => Expr::Cast(Cast::new(Box::new(text), other.clone())),
    }))
}

/// Whether Arrow's cast to text writes values of `data_type` otherwise than
/// PostgreSQL, and [`output`] writes them.
fn written_otherwise(data_type: &DataType) -> bool {
    match data_type {
        DataType::Float32
        | DataType::Float64
        | DataType::Timestamp(..)
        | DataType::Date32
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Interval(_)
        | DataType::Binary
        | DataType::LargeBinary => true,
        DataType::List(item) | DataType::LargeList(item) => written(item.data_type()),
        _ => false,
    }
}

/// Whether [`output`] writes values of `data_type`.
fn written(data_type: &DataType) -> bool {
    written_otherwise(data_type)
        || data_type.is_integer()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        )
}

/// Values as text, as PostgreSQL's output function for their type writes them.
fn texts(array: &ArrayRef) -> Result<ArrayRef> {
    let texts = (0..array.len())
        .map(|row| text_format::value_text(array.as_ref(), row, EXTRA_FLOAT_DIGITS))
        .collect::<Result<StringArray, _>>()?;
    Ok(Arc::new(texts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, BinaryArray, ListArray};
    use datafusion::arrow::datatypes::Int32Type;

    #[test]
    fn lists_and_bytea_are_written_as_postgresql_writes_them() {
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(-3)]),
            Some(vec![]),
            None,
        ]);
        let written = texts(&(Arc::new(lists) as ArrayRef)).unwrap();
        let written = written.as_string::<i32>();
        assert_eq!(written.value(0), "{1,NULL,-3}");
        assert_eq!(written.value(1), "{}");
        assert!(written.is_null(2));
        let bytes = BinaryArray::from(vec![&[0x0a_u8, 0xff][..], &[][..]]);
        let written = texts(&(Arc::new(bytes) as ArrayRef)).unwrap();
        assert_eq!(written.as_string::<i32>().value(0), "\\x0aff");
        assert_eq!(written.as_string::<i32>().value(1), "\\x");
    }
}
