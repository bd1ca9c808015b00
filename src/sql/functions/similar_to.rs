//! `x SIMILAR TO pattern [ESCAPE 'c']` as PostgreSQL's: the pattern is an SQL regular
//! expression matching the whole text — `%` any text, `_` any character, `|`, `*`, `+`,
//! `?`, `{m,n}`, `(...)` and `[...]` as in POSIX, `.`, `^` and `$` themselves — which
//! PostgreSQL translates to a POSIX one (`similar_to_escape`) before matching.
//!
//! DataFusion matched the pattern as a POSIX regular expression anywhere in the text,
//! which answered wrongly without a word (`'abc' SIMILAR TO 'a%'` was false,
//! `'xabcx' SIMILAR TO 'abc'` true) and refused `ESCAPE`. An analyzer rule translates
//! the pattern as PostgreSQL does ([`translate`]): a constant once, any other by
//! `similar_to_escape(pattern, escape)` row by row. The escape-double-quote form,
//! which only `SUBSTRING(... SIMILAR ...)` uses, is refused (`0A000`).

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::{Like, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};
use datafusion::prelude::SessionContext;

use crate::catalog::postgres::regtypes::ExpressionRule;
use crate::error::SluiceError;

/// Registers the analyzer rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "postgres_similar_to",
        rewrite,
    }));
}

fn rewrite(expr: Expr, _schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::SimilarTo(like) = expr else {
        return Ok(Transformed::no(expr));
    };
    let escape = like.escape_char.unwrap_or('\\');
    let pattern = match constant(&like.pattern) {
        Some(text) => {
            let regex = text
                .map(|p| translate(&p, Some(escape)))
                .transpose()
                .map_err(refused)?;
            Expr::Literal(ScalarValue::Utf8(regex), None)
        }
        None => Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(similar_to_escape()),
            vec![*like.pattern, lit(escape.to_string())],
        )),
    };
    Ok(Transformed::yes(Expr::SimilarTo(Like::new(
        like.negated,
        like.expr,
        Box::new(pattern),
        None,
        like.case_insensitive,
    ))))
}

/// The text of a constant pattern (`Some(None)` for NULL), `None` if not a constant.
fn constant(pattern: &Expr) -> Option<Option<String>> {
    match pattern {
        Expr::Literal(
            ScalarValue::Utf8(p) | ScalarValue::Utf8View(p) | ScalarValue::LargeUtf8(p),
            _,
        ) => Some(p.clone()),
        Expr::Literal(value, _) if value.is_null() => Some(None),
        Expr::Cast(cast) => constant(&cast.expr),
        _ => None,
    }
}

/// `similar_to_escape(pattern, escape)`: PostgreSQL's function, [`translate`] of each
/// pattern, for patterns that are not constants.
fn similar_to_escape() -> ScalarUDF {
    ScalarUDF::new_from_impl(SimilarToEscape {
        signature: Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SimilarToEscape {
    signature: Signature,
}

impl ScalarUDFImpl for SimilarToEscape {
    fn name(&self) -> &str {
        "similar_to_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [patterns, escapes] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "similar_to_escape takes a pattern and an escape".into(),
            ));
        };
        let escapes = escapes.as_string::<i32>();
        let regexes: StringArray = patterns
            .as_string::<i32>()
            .iter()
            .zip(escapes.iter())
            .map(|(pattern, escape)| {
                pattern
                    .map(|p| translate(p, escape.and_then(|e| e.chars().next())))
                    .transpose()
            })
            .collect::<std::result::Result<_, SluiceError>>()
            .map_err(refused)?;
        Ok(ColumnarValue::Array(Arc::new(regexes)))
    }
}

fn refused(error: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

/// `pattern` (with escape character `escape`) as the POSIX regular expression
/// PostgreSQL 15's `similar_to_escape` makes of it, anchored at both ends.
fn translate(pattern: &str, escape: Option<char>) -> std::result::Result<String, SluiceError> {
    let mut out = String::from("^(?:");
    let mut after_escape = false;
    let mut in_class = false;
    for c in pattern.chars() {
        if after_escape {
            if c == '"' && !in_class {
                return Err(SluiceError::not_supported(
                    "SIMILAR TO with an escape-double-quote separator is not supported",
                ));
            }
            out.push('\\');
            out.push(c);
            after_escape = false;
        } else if Some(c) == escape {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            if c == ']' {
                in_class = false;
            }
        } else {
            match c {
                '[' => {
                    out.push(c);
                    in_class = true;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
    }
    // A trailing escape character escapes nothing and is dropped, as in PostgreSQL.
    out.push_str(")$");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str, pattern: &str, escape: Option<char>) -> bool {
        let regex = regex::Regex::new(&translate(pattern, escape).unwrap()).unwrap();
        regex.is_match(text)
    }

    /// PostgreSQL 15's answers.
    #[test]
    fn patterns_match_as_postgres() {
        let slash = Some('\\');
        assert!(matches("abc", "a%", slash));
        assert!(!matches("xabcx", "abc", slash));
        assert!(matches("abc", "(a|x)bc", slash));
        assert!(matches("a.c", "a.c", slash));
        assert!(!matches("abc", "a.c", slash));
        assert!(matches("a%", "a\\%", slash));
        assert!(!matches("abc", "a\\%", slash));
        assert!(matches("abc", "a_c", slash));
        assert!(matches("AbC", "[A-Z]%", slash));
        assert!(matches("a%", "a#%", Some('#')));
        assert!(matches("aaab", "a+b?", slash));
        assert!(matches("a^$b", "a^$b", slash));
        assert!(matches("ab", "a{1}b", slash));
        assert!(matches("abc", "abc\\", slash));
        assert!(matches("a\\b", "a\\\\b", slash));
        assert!(matches("a", "[\\\\a]", slash));
        assert_eq!(translate("(a|b)%", slash).unwrap(), "^(?:(?:a|b).*)$");
    }
}
