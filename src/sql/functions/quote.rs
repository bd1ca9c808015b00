//! `quote_literal(text)`: a string as a SQL literal, as PostgreSQL writes it — in
//! single quotes, quotes doubled, and with backslashes doubled behind an `E` prefix
//! when there are any; NULL stays NULL. psql's `\d` of a source (a foreign table to
//! clients) calls it on column options.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

/// The function.
pub fn quote_literal() -> ScalarUDF {
    create_udf(
        "quote_literal",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = match &args[0] {
                ColumnarValue::Array(array) => array.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            let text = cast(&args[0].clone().into_array(rows)?, &DataType::Utf8)?;
            let quoted: StringArray = text
                .as_string::<i32>()
                .iter()
                .map(|value| value.map(quoted))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(quoted)))
        }),
    )
}

/// `text` as PostgreSQL's `quote_literal` writes it.
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    if text.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in text.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn literals_are_quoted_as_postgresql_quotes_them() {
        assert_eq!(quoted("abc"), "'abc'");
        assert_eq!(quoted("O'Reilly"), "'O''Reilly'");
        assert_eq!(quoted(r"a\b"), r"E'a\\b'");
        assert_eq!(quoted(""), "''");
    }
}
