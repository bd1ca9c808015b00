//! PostgreSQL's `json_build_object(VARIADIC "any")` and `json_build_array(VARIADIC
//! "any")`, with PostgreSQL 15's exact text (`{"a" : 1, "b" : [1,2]}`, `[1, "a",
//! null]`).
//!
//! Sluice has no `json` column type; a result is text whose field carries the `json`
//! type OID (114) as metadata ([`crate::sql::column_origins::TYPE_OID`]), so the
//! RowDescription says `json` (drivers such as psycopg parse it, as SQLAlchemy's
//! column reflection expects) and a `json` argument nested in another call is
//! inserted as it is, not quoted as a string.
//!
//! Values are written as PostgreSQL's `datum_to_json` writes them: numbers and
//! booleans bare (floats with the shortest exact digits, as with the default
//! `extra_float_digits`; `NaN` and infinities quoted), text escaped, dates and
//! timestamps in ISO 8601 (`"2024-01-02T03:04:05+00:00"`), arrays as JSON arrays
//! without spaces. Arguments of other types (`interval`, `bytea`, composites) are
//! refused with `0A000` when the statement is planned, rather than written in a
//! form that might differ. As in PostgreSQL, an odd number of arguments, a NULL key
//! and an array key fail (`22023`) only when a row is built.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};

use crate::error::{SluiceError, sqlstate};
use crate::sql::column_origins::TYPE_OID;
use crate::sql::text_format;

/// PostgreSQL's OID of type `json`.
pub const JSON_OID: u32 = 114;

/// Whether `field` holds `json` values (a result of these functions).
pub fn is_json(field: &Field) -> bool {
    field
        .metadata()
        .get(TYPE_OID)
        .is_some_and(|oid| oid == &JSON_OID.to_string())
}

/// `json_build_object` and `json_build_array`.
pub fn functions() -> Vec<ScalarUDF> {
    [Shape::Object, Shape::Array]
        .into_iter()
        .map(|shape| {
            ScalarUDF::new_from_impl(JsonBuild {
                shape,
                // Stable as in PostgreSQL: a timestamptz is written in the session's
                // time zone.
                signature: Signature::one_of(
                    vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                    Volatility::Stable,
                ),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Object,
    Array,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuild {
    shape: Shape,
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuild {
    fn name(&self) -> &str {
        match self.shape {
            Shape::Object => "json_build_object",
            Shape::Array => "json_build_array",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        for field in args.arg_fields {
            if !writable(field.data_type()) {
                return Err(DataFusionError::External(Box::new(
                    SluiceError::not_supported(format!(
                        "{}() does not support arguments of Arrow type {} yet: their JSON form \
                         has not been checked against PostgreSQL's",
                        self.name(),
                        field.data_type()
                    )),
                )));
            }
        }
        let metadata = HashMap::from([(TYPE_OID.to_string(), JSON_OID.to_string())]);
        Ok(Arc::new(
            Field::new(self.name(), DataType::Utf8, false).with_metadata(metadata),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::new();
        if rows > 0 && self.shape == Shape::Object && arrays.len() % 2 == 1 {
            return Err(invalid("argument list must have even number of elements"));
        }
        for row in 0..rows {
            match self.shape {
                Shape::Array => {
                    let mut items = Vec::with_capacity(arrays.len());
                    for (array, field) in arrays.iter().zip(&args.arg_fields) {
                        items.push(value(array, row, is_json(field))?);
                    }
                    out.append_value(format!("[{}]", items.join(", ")));
                }
                Shape::Object => {
                    let mut members = Vec::with_capacity(arrays.len() / 2);
                    for key in (0..arrays.len()).step_by(2) {
                        let name =
                            object_key(&arrays[key], row, is_json(&args.arg_fields[key]), key + 1)?;
                        let member =
                            value(&arrays[key + 1], row, is_json(&args.arg_fields[key + 1]))?;
                        members.push(format!("{name} : {member}"));
                    }
                    out.append_value(format!("{{{}}}", members.join(", ")));
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn invalid(message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(SluiceError::coded(
        sqlstate::INVALID_PARAMETER_VALUE,
        message,
    )))
}

/// Whether values of `data_type` can be written as PostgreSQL writes them.
fn writable(data_type: &DataType) -> bool {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) => {
            !matches!(item.data_type(), DataType::List(_) | DataType::LargeList(_))
                && writable(item.data_type())
        }
        t => {
            t.is_integer()
                || t.is_floating()
                || matches!(
                    t,
                    DataType::Null
                        | DataType::Boolean
                        | DataType::Decimal128(..)
                        | DataType::Decimal256(..)
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Date32
                        | DataType::Timestamp(..)
                )
        }
    }
}

/// The member name for key argument `number` (from 1) at `row`: its JSON value as
/// a string. PostgreSQL refuses NULL keys and keys that are arrays or `json`.
fn object_key(array: &ArrayRef, row: usize, json: bool, number: usize) -> DfResult<String> {
    if is_null(array, row) {
        return Err(invalid(format!("argument {number} cannot be null")));
    }
    if json
        || matches!(
            array.data_type(),
            DataType::List(_) | DataType::LargeList(_)
        )
    {
        return Err(invalid(
            "key value must be scalar, not array, composite, or json",
        ));
    }
    let text = value(array, row, false)?;
    // Strings, dates and timestamps are already quoted; numbers and booleans are not.
    Ok(if text.starts_with('"') {
        text
    } else {
        quoted(&text)
    })
}

/// Row `row` of `array` as JSON; `json` when the values are already JSON text.
fn value(array: &ArrayRef, row: usize, json: bool) -> DfResult<String> {
    if is_null(array, row) {
        return Ok("null".to_string());
    }
    let data_type = array.data_type();
    Ok(match data_type {
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = formatted(array, row)?;
            if json { text } else { quoted(&text) }
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let array = datafusion::arrow::compute::cast(array, &DataType::Float64)?;
            let value = array.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            let number = value.value(row);
            // float4 values print with float4's digits, as PostgreSQL's float4out does.
            let text = if matches!(data_type, DataType::Float64) {
                text_format::float8(number, 1)
            } else {
                text_format::float4(number as f32, 1)
            };
            if number.is_finite() {
                text
            } else {
                quoted(&text)
            }
        }
        DataType::Date32 => quoted(&formatted(array, row)?),
        DataType::Timestamp(unit, zone) => {
            let text = text_format::timestamp(array.as_ref(), unit, zone.is_some(), row)
                .unwrap_or_default()
                .replacen(' ', "T", 1);
            // The session's time zone is UTC; JSON writes its offset with minutes.
            if zone.is_some() {
                quoted(&format!("{text}:00"))
            } else {
                quoted(&text)
            }
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let items = match data_type {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            let items = (0..items.len())
                .map(|i| value(&items, i, false))
                .collect::<DfResult<Vec<_>>>()?;
            format!("[{}]", items.join(","))
        }
        t if t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            formatted(array, row)?
        }
        other => {
            return Err(DataFusionError::Internal(format!(
                "no JSON form for Arrow type {other}"
            )));
        }
    })
}

/// Whether row `row` is NULL (an array of Arrow type `Null` has no null buffer).
fn is_null(array: &ArrayRef, row: usize) -> bool {
    array.data_type() == &DataType::Null || array.is_null(row)
}

/// Arrow's text of row `row` (integers, decimals with their scale, dates, strings).
fn formatted(array: &ArrayRef, row: usize) -> DfResult<String> {
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
    Ok(formatter.value(row).to_string())
}

/// `text` as a JSON string, escaped as PostgreSQL's `escape_json` does.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
