//! `format(formatstr, args...)` as PostgreSQL 15's (`text_format` in varlena.c): `%s`
//! writes an argument as text (NULL as nothing), `%I` as an identifier
//! (`quote_ident`'s quoting; NULL fails with 22004), `%L` as a literal (`quote_literal`'s
//! quoting; NULL as `NULL`), `%%` a percent sign. A specifier may name its argument
//! (`%2$s`; later bare specifiers go on from there), and take a width (`%10s` pads on
//! the left, `%-10s` on the right, `%*s` and `%*2$s` read it from an argument, a negative
//! one meaning `-`). Bad specifiers fail with 22023 and PostgreSQL's words. Arguments are
//! written with PostgreSQL's text output (the text casts of [`super::text_casts`]); a NULL
//! format gives NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::postgres::MAX_ALLOC_BYTES;
use super::quote::quoted;
use crate::catalog::postgres::regtypes::quote_identifier;
use crate::error::{SluiceError, sqlstate};

/// The function.
pub fn format() -> ScalarUDF {
    ScalarUDF::new_from_impl(Format {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return Err(failure(SluiceError::coded(
                sqlstate::UNDEFINED_FUNCTION,
                "function format() does not exist",
            )));
        }
        // A boolean is written as its output function writes it (`t`), not as its
        // cast to text (`true`).
        Ok(arg_types
            .iter()
            .map(|t| match t {
                DataType::Boolean => DataType::Boolean,
                _ => DataType::Utf8,
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_rows(&args.args, |arrays| {
            let texts = arrays
                .iter()
                .map(output_text)
                .collect::<Result<Vec<ArrayRef>>>()?;
            let texts: Vec<_> = texts.iter().map(|t| t.as_string::<i32>()).collect();
            let rows = texts[0].len();
            let mut out = StringBuilder::with_capacity(rows, rows * 16);
            for row in 0..rows {
                if texts[0].is_null(row) {
                    out.append_null();
                    continue;
                }
                let values: Vec<Option<&str>> = texts[1..]
                    .iter()
                    .map(|t| (!t.is_null(row)).then(|| t.value(row)))
                    .collect();
                out.append_value(formatted(texts[0].value(row), &values).map_err(failure)?);
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }
}

/// `values` as their type's output function writes them: texts already (cast by
/// PostgreSQL's text casts), booleans as `t` and `f`.
fn output_text(values: &ArrayRef) -> Result<ArrayRef> {
    Ok(match values.data_type() {
        DataType::Boolean => Arc::new(
            values
                .as_boolean()
                .iter()
                .map(|b| b.map(|b| if b { "t" } else { "f" }))
                .collect::<StringArray>(),
        ),
        _ => cast(values, &DataType::Utf8)?,
    })
}

fn failure(error: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

fn invalid(message: impl Into<String>) -> SluiceError {
    SluiceError::coded(sqlstate::INVALID_PARAMETER_VALUE, message)
}

/// `format` with `args` (None for NULL) as PostgreSQL's `format` writes it.
fn formatted(format: &str, args: &[Option<&str>]) -> Result<String, SluiceError> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::with_capacity(format.len());
    let mut next_arg = 0;
    let mut at = 0;
    while at < chars.len() {
        if chars[at] != '%' {
            out.push(chars[at]);
            at += 1;
            continue;
        }
        at += 1;
        let unterminated = || invalid("unterminated format() type specifier");
        if *chars.get(at).ok_or_else(unterminated)? == '%' {
            out.push('%');
            at += 1;
            continue;
        }
        // %[position$][flags][width]type
        let mut position = None;
        let mut left = false;
        let mut width = None;
        let (number, after) = number_at(&chars, at)?;
        if let Some(n) = number
            && chars.get(after) == Some(&'$')
        {
            position = Some(argument_index(n)?);
            at = after + 1;
        }
        while chars.get(at) == Some(&'-') {
            left = true;
            at += 1;
        }
        if chars.get(at) == Some(&'*') {
            at += 1;
            let (number, after) = number_at(&chars, at)?;
            let index = match number {
                Some(n) if chars.get(after) == Some(&'$') => {
                    at = after + 1;
                    argument_index(n)?
                }
                Some(_) => {
                    return Err(invalid("width argument position must be ended by \"$\""));
                }
                None => next_arg,
            };
            let value = *args
                .get(index)
                .ok_or_else(|| invalid("too few arguments for format()"))?;
            next_arg = index + 1;
            if let Some(text) = value {
                let w: i64 = text.trim().parse().map_err(|_| {
                    SluiceError::coded(
                        sqlstate::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type integer: \"{text}\""),
                    )
                })?;
                left |= w < 0;
                width = Some(w.unsigned_abs() as usize);
            }
        } else {
            let (number, after) = number_at(&chars, at)?;
            if let Some(n) = number {
                width = Some(n);
                at = after;
            }
        }
        let kind = *chars.get(at).ok_or_else(unterminated)?;
        at += 1;
        let index = position.unwrap_or(next_arg);
        let value = *args
            .get(index)
            .ok_or_else(|| invalid("too few arguments for format()"))?;
        next_arg = index + 1;
        let text = match (kind, value) {
            ('s', value) => value.unwrap_or("").to_string(),
            ('I', Some(value)) => quote_identifier(value),
            ('I', None) => {
                return Err(SluiceError::coded(
                    sqlstate::NULL_VALUE_NOT_ALLOWED,
                    "null values cannot be formatted as an SQL identifier",
                ));
            }
            ('L', Some(value)) => quoted(value),
            ('L', None) => "NULL".to_string(),
            (other, _) => {
                return Err(invalid(format!(
                    "unrecognized format() type specifier \"{other}\""
                )));
            }
        };
        let padding = width.map_or(0, |w| w.saturating_sub(text.chars().count()));
        // PostgreSQL's strings (and their terminating NUL) end at `MaxAllocSize`; a
        // width beyond is out of memory there too.
        if (out.len() + text.len() + padding) as i128 >= MAX_ALLOC_BYTES {
            return Err(SluiceError::coded(
                sqlstate::OUT_OF_MEMORY,
                "out of memory: format() would write more than 1 GB",
            ));
        }
        if !left {
            out.extend(std::iter::repeat_n(' ', padding));
        }
        out.push_str(&text);
        if left {
            out.extend(std::iter::repeat_n(' ', padding));
        }
    }
    Ok(out)
}

/// The decimal number at `chars[at..]`, if any, and where it ends.
fn number_at(chars: &[char], at: usize) -> Result<(Option<usize>, usize), SluiceError> {
    let end = at
        + chars[at.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
    if end == at {
        return Ok((None, at));
    }
    let digits: String = chars[at..end].iter().collect();
    let n = digits
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= i32::MAX as usize)
        .ok_or_else(|| invalid("number is out of range"))?;
    Ok((Some(n), end))
}

/// The 0-based index of argument `n` of a `%n$` specifier.
fn argument_index(n: usize) -> Result<usize, SluiceError> {
    n.checked_sub(1)
        .ok_or_else(|| invalid("format specifies argument 0, but arguments are numbered from 1"))
}

#[cfg(test)]
mod tests {
    use super::formatted;

    fn f(format: &str, args: &[Option<&str>]) -> String {
        formatted(format, args).unwrap_or_else(|e| format!("error {}: {e}", e.sqlstate()))
    }

    #[test]
    fn specifiers_write_as_postgresql() {
        assert_eq!(f("Hello %s", &[Some("World")]), "Hello World");
        assert_eq!(f("%s|%s", &[Some("a"), None]), "a|");
        assert_eq!(
            f(
                "INSERT INTO %I VALUES(%L)",
                &[Some("Foo bar"), Some("O'Reilly")]
            ),
            "INSERT INTO \"Foo bar\" VALUES('O''Reilly')"
        );
        assert_eq!(f("%L", &[None]), "NULL");
        assert_eq!(
            f("|%10s|%-10s|", &[Some("foo"), Some("bar")]),
            "|       foo|bar       |"
        );
        assert_eq!(f("|%*s|", &[Some("-5"), Some("x")]), "|x    |");
        assert_eq!(f("|%*2$s|", &[Some("x"), Some("3"), Some("y")]), "|  y|");
        assert_eq!(f("|%1$*2$s|", &[Some("x"), Some("3")]), "|  x|");
        assert_eq!(f("%--5s|%*s|", &[Some("x"), None, Some("y")]), "x    |y|");
        assert_eq!(
            f("%2$s %1$s %s", &[Some("a"), Some("b"), Some("c")]),
            "b a b"
        );
        assert_eq!(f("100%%", &[]), "100%");
        assert_eq!(f("%I", &[Some("select")]), "\"select\"");
    }

    #[test]
    fn bad_specifiers_fail_as_postgresql() {
        assert_eq!(
            f("%s %s", &[Some("a")]),
            "error 22023: too few arguments for format()"
        );
        assert_eq!(
            f("%", &[]),
            "error 22023: unterminated format() type specifier"
        );
        assert_eq!(
            f("%x", &[Some("a")]),
            "error 22023: unrecognized format() type specifier \"x\""
        );
        assert_eq!(
            f("%0$s", &[Some("a")]),
            "error 22023: format specifies argument 0, but arguments are numbered from 1"
        );
        assert_eq!(
            f("%I", &[None]),
            "error 22004: null values cannot be formatted as an SQL identifier"
        );
    }
}
