//! `bytea` as PostgreSQL reads and measures it.
//!
//! Text read as `bytea` is decoded as PostgreSQL's input function (`byteain`) decodes
//! it: `'\x0102'::bytea`, `INSERT INTO blobs VALUES ('\x0102')`, `data = '\x0102'`.
//! Arrow's cast from text to binary takes the text's bytes as they are, so `'\x0102'`
//! was stored as the six bytes `\x0102` — a silently different value. PostgreSQL reads
//! two forms: hex (`\x` then pairs of hex digits, whitespace allowed between pairs) and
//! escape (any other text: bytes as they are, `\\` for a backslash, `\ooo` for the byte
//! of three octal digits). The analyzer rule of [`super::text_input`] replaces every cast from text
//! to `bytea` — written ones and those `INSERT` and type coercion add — by
//! `byteain` ([`bytea_in`]). Malformed input fails as in PostgreSQL: `22023` for hex
//! (`invalid hexadecimal digit: "z"`, `invalid hexadecimal data: odd number of
//! digits`), `22P02` for escapes (`invalid input syntax for type bytea`).
//!
//! `length`, `octet_length` (and `bit_length`) of a `bytea` count its bytes
//! ([`ByteaLength`]);
//! DataFusion's read it as text (`length('abc'::bytea)` was 8, the length of
//! `\x616263`) or refused it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, Int32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::{SluiceError, sqlstate};

/// Texts (any text type) decoded by [`bytea_in`], as `bytea`.
pub fn bytea_values(array: &ArrayRef) -> Result<ArrayRef> {
    let texts = cast(array, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let mut out = BinaryBuilder::with_capacity(texts.len(), texts.value_data().len());
    for text in texts.iter() {
        match text {
            Some(text) => out
                .append_value(bytea_in(text).map_err(|e| DataFusionError::External(Box::new(e)))?),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `length` or `octet_length` (`inner`, DataFusion's): of a `bytea`, its number of
/// bytes; of text, DataFusion's. `bit_length`: eight times as many.
pub fn byte_lengths(inner: Arc<ScalarUDF>) -> ScalarUDF {
    let bits_per_unit = if inner.name() == "bit_length" { 8 } else { 1 };
    ScalarUDF::new_from_impl(ByteaLength {
        inner,
        bits_per_unit,
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

fn is_bytea(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// See [`byte_lengths`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ByteaLength {
    inner: Arc<ScalarUDF>,
    /// What a byte counts for: 1, or 8 for `bit_length`.
    bits_per_unit: i32,
    /// User-defined: a `bytea` is taken as it is, other types as `inner` takes them.
    signature: Signature,
}

impl ScalarUDFImpl for ByteaLength {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if let [bytes] = arg_types
            && is_bytea(bytes)
        {
            return Ok(vec![DataType::Binary]);
        }
        let given: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("argument", t.clone(), true)))
            .collect();
        Ok(fields_with_udf(&given, self.inner.as_ref())?
            .iter()
            .map(|field| field.data_type().clone())
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [bytes] if is_bytea(bytes) => Ok(DataType::Int32),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields {
            [bytes] if is_bytea(bytes.data_type()) => Ok(Arc::new(Field::new(
                self.name(),
                DataType::Int32,
                bytes.is_nullable(),
            ))),
            _ => self.inner.return_field_from_args(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !matches!(args.args.as_slice(), [bytes] if is_bytea(&bytes.data_type())) {
            return self.inner.invoke_with_args(args);
        }
        super::convert_values(&args.args, self.name(), |array| {
            let bytes = cast(array, &DataType::Binary)?;
            let lengths = bytes
                .as_binary::<i32>()
                .iter()
                .map(|value| {
                    value
                        .map(|v| {
                            i32::try_from(v.len())
                                .ok()
                                .and_then(|n| n.checked_mul(self.bits_per_unit))
                                .ok_or_else(|| {
                                    DataFusionError::External(Box::new(SluiceError::coded(
                                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                                        "integer out of range",
                                    )))
                                })
                        })
                        .transpose()
                })
                .collect::<Result<Int32Array>>()?;
            Ok(Arc::new(lengths) as ArrayRef)
        })
    }
}

/// The bytes `text` stands for, read as PostgreSQL's `byteain` reads it.
pub fn bytea_in(text: &str) -> Result<Vec<u8>, SluiceError> {
    match text.strip_prefix("\\x") {
        Some(hex) => hex_bytes(hex),
        None => escaped_bytes(text),
    }
}

/// The hex form after `\x`: pairs of hex digits, whitespace between pairs.
fn hex_bytes(hex: &str) -> Result<Vec<u8>, SluiceError> {
    let invalid = |what: String| SluiceError::coded(sqlstate::INVALID_PARAMETER_VALUE, what);
    let digit = |c: char| {
        c.to_digit(16)
            .ok_or_else(|| invalid(format!("invalid hexadecimal digit: \"{c}\"")))
    };
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars();
    while let Some(high) = chars.next() {
        if matches!(high, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        let high = digit(high)?;
        let low = chars
            .next()
            .ok_or_else(|| invalid("invalid hexadecimal data: odd number of digits".to_string()))?;
        // `digit` bounds both to 0..16, so the byte cannot overflow.
        bytes.push((high * 16 + digit(low)?) as u8);
    }
    Ok(bytes)
}

/// The escape form: bytes as they are, `\\` for a backslash, `\ooo` in octal.
fn escaped_bytes(text: &str) -> Result<Vec<u8>, SluiceError> {
    let invalid = || {
        SluiceError::coded(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type bytea",
        )
    };
    let input = text.as_bytes();
    let mut bytes = Vec::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        match &input[at..] {
            [b'\\', b'\\', ..] => {
                bytes.push(b'\\');
                at += 2;
            }
            [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] => {
                bytes.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                at += 4;
            }
            [b'\\', ..] => return Err(invalid()),
            [byte, ..] => {
                bytes.push(*byte);
                at += 1;
            }
            [] => break,
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_escape_forms_read_as_postgresql_reads_them() {
        assert_eq!(bytea_in("\\x0102ff").unwrap(), vec![1, 2, 255]);
        assert_eq!(bytea_in("\\xDE ad\n").unwrap(), vec![0xde, 0xad]);
        assert_eq!(bytea_in("\\x").unwrap(), Vec::<u8>::new());
        assert_eq!(bytea_in("abc").unwrap(), b"abc".to_vec());
        assert_eq!(
            bytea_in("a\\\\b\\001\\377").unwrap(),
            vec![b'a', b'\\', b'b', 1, 255]
        );
        assert_eq!(bytea_in("é").unwrap(), "é".as_bytes().to_vec());
    }

    #[test]
    fn malformed_input_fails_with_postgresql_sqlstates() {
        let code = |text: &str| bytea_in(text).unwrap_err().sqlstate().to_string();
        let message = |text: &str| bytea_in(text).unwrap_err().to_string();
        assert_eq!(code("\\x0"), sqlstate::INVALID_PARAMETER_VALUE);
        assert!(message("\\x0").contains("odd number of digits"));
        assert_eq!(code("\\x0z"), sqlstate::INVALID_PARAMETER_VALUE);
        assert!(message("\\xzz").contains("invalid hexadecimal digit: \"z\""));
        assert_eq!(code("a\\b"), sqlstate::INVALID_TEXT_REPRESENTATION);
        assert_eq!(code("\\400"), sqlstate::INVALID_TEXT_REPRESENTATION);
        assert_eq!(code("trailing\\"), sqlstate::INVALID_TEXT_REPRESENTATION);
    }
}
