//! `x LIKE pattern ESCAPE 'c'` (and `ILIKE`, `NOT LIKE`) with any escape character,
//! as PostgreSQL allows. DataFusion's `LIKE` escapes with a backslash only, so
//! [`rewrite_like_escapes`] makes the pattern `like_escape(pattern, 'c')` — PostgreSQL's
//! own function that turns a pattern with escape character `c` into backslash form —
//! and drops the `ESCAPE`. Metadata queries write such patterns, literal or not
//! (SQLAlchemy's inspector: `nspname NOT LIKE 'pg/_' || '%' ESCAPE '/'`); the
//! optimizer folds a literal pattern's call into a literal.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, ObjectNamePart, Statement, Value, visit_expressions_mut,
};

use crate::error::{SluiceError, sqlstate};

/// `pattern` with escape character `escape` (`None`: `ESCAPE ''`, no escaping) in the
/// backslash form, as PostgreSQL's `like_escape` writes it: an escaped character
/// after a backslash, a backslash that is not the escape doubled, an escape character
/// at the end a lone backslash.
pub fn backslash_pattern(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            out.push('\\');
            out.push(c);
            escaped = false;
        } else if Some(c) == escape {
            escaped = true;
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    if escaped {
        out.push('\\');
    }
    out
}

/// PostgreSQL's `like_escape(pattern text, escape text)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LikeEscape {
    signature: Signature,
}

impl ScalarUDFImpl for LikeEscape {
    fn name(&self) -> &str {
        "like_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let columns: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<DfResult<_>>()?;
        let [patterns, escapes] = columns.as_slice() else {
            return Err(DataFusionError::Internal(
                "like_escape takes two arguments".into(),
            ));
        };
        let (patterns, escapes) = (patterns.as_string::<i32>(), escapes.as_string::<i32>());
        let mut out = StringBuilder::new();
        for row in 0..patterns.len() {
            if patterns.is_null(row) || escapes.is_null(row) {
                out.append_null();
                continue;
            }
            let mut escape = escapes.value(row).chars();
            let escape = match (escape.next(), escape.next()) {
                (None, _) => None,
                (Some(c), None) => Some(c),
                _ => {
                    return Err(DataFusionError::External(Box::new(SluiceError::coded(
                        sqlstate::INVALID_ESCAPE_SEQUENCE,
                        "invalid escape string",
                    ))));
                }
            };
            out.append_value(backslash_pattern(patterns.value(row), escape));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The `like_escape` function, for the session's function registry.
pub fn like_escape() -> ScalarUDF {
    ScalarUDF::new_from_impl(LikeEscape {
        signature: Signature::new(
            TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8]),
            Volatility::Immutable,
        ),
    })
}

/// Rewrites every `LIKE`/`ILIKE` whose escape character is not the backslash to match
/// `like_escape(pattern, escape)` with the backslash (see the module docs). A literal
/// pattern that ends with its escape character is refused: PostgreSQL fails on it
/// when matching reaches the end, DataFusion would match a backslash there.
pub fn rewrite_like_escapes(statement: &mut Statement) -> crate::error::Result<()> {
    let outcome = visit_expressions_mut(statement, |expr| {
        let (Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        }) = expr
        else {
            return std::ops::ControlFlow::Continue(());
        };
        let Some(escape) =
            escape_char.take_if(|e| !matches!(&e.value, Value::SingleQuotedString(s) if s == "\\"))
        else {
            return std::ops::ControlFlow::Continue(());
        };
        if let (Expr::Value(text), Value::SingleQuotedString(escape)) =
            (pattern.as_ref(), &escape.value)
            && let Value::SingleQuotedString(text) = &text.value
            && let Some(escape) = escape.chars().next()
            && ends_with_escape(text, escape)
        {
            return std::ops::ControlFlow::Break(SluiceError::not_supported(
                "a LIKE pattern that ends with its escape character is not supported",
            ));
        }
        let argument = |e: Expr| FunctionArg::Unnamed(FunctionArgExpr::Expr(e));
        let call = Function {
            name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("like_escape"))]),
            uses_odbc_syntax: false,
            parameters: FunctionArguments::None,
            args: FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![
                    argument(std::mem::replace(
                        pattern.as_mut(),
                        Expr::Value(Value::Null.into()),
                    )),
                    argument(Expr::Value(escape)),
                ],
                clauses: vec![],
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: vec![],
        };
        **pattern = Expr::Function(call);
        std::ops::ControlFlow::Continue(())
    });
    match outcome {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

/// True when `pattern`'s last character is an escape character that escapes nothing.
fn ends_with_escape(pattern: &str, escape: char) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        escaped = !escaped && c == escape;
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::backslash_pattern;

    /// As PostgreSQL 15's `like_escape` writes them.
    #[test]
    fn patterns_are_written_as_postgresql_writes_them() {
        for (pattern, escape, rewritten) in [
            ("pg/_%", Some('/'), "pg\\_%"),
            ("a//b", Some('/'), "a\\/b"),
            ("a/%b/_", Some('/'), "a\\%b\\_"),
            ("a\\b", Some('/'), "a\\\\b"),
            ("a/b", Some('/'), "a\\b"),
            ("a\\%", None, "a\\\\%"),
            ("a/", Some('/'), "a\\"),
        ] {
            assert_eq!(backslash_pattern(pattern, escape), rewritten, "{pattern}");
        }
    }
}
