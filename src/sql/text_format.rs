//! Values in PostgreSQL 15's text output format, where it differs from what `arrow-pg`
//! prints (the server's text results) and from Arrow's display (casts to text,
//! [`super::functions::text_casts`]): floating-point numbers (`float8out`/`float4out`:
//! the shortest digits that read back to the same value, exponential outside a fixed
//! range), arrays of them, timestamps and times (fractional seconds without trailing
//! zeros), and numerics of more than 28 digits (which `arrow-pg` cannot convert).
//!
//! ```text
//!   24997500::float8  →  24997500          (not 24997500.0)
//!   1e20::float8      →  1e+20             0.00001::float8 → 1e-05
//!   16777216::float4  →  1.6777216e+07     'Infinity'      → Infinity
//! ```

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};

/// A `double precision` as PostgreSQL prints it with the session's
/// `extra_float_digits`: above 0 (the default, 1), the shortest digits that read back
/// to the same value; otherwise rounded to `15 + extra_float_digits` digits.
pub fn float8(value: f64, extra_float_digits: i8) -> String {
    // DBL_DIG: 15 digits before PostgreSQL switches to exponential notation.
    match significant_digits(15, extra_float_digits) {
        None => float(value, format!("{value:e}"), 15),
        Some(digits) => float(value, format!("{value:.*e}", digits - 1), digits as i32),
    }
}

/// A `real` as PostgreSQL prints it (see [`float8`]; 6 digits instead of 15).
pub fn float4(value: f32, extra_float_digits: i8) -> String {
    // FLT_DIG: 6.
    match significant_digits(6, extra_float_digits) {
        None => float(f64::from(value), format!("{value:e}"), 6),
        Some(digits) => float(
            f64::from(value),
            format!("{value:.*e}", digits - 1),
            digits as i32,
        ),
    }
}

/// How many significant digits `extra_float_digits` asks for over a type's `dig`;
/// `None` for the shortest exact form (`extra_float_digits` above 0).
fn significant_digits(dig: i8, extra_float_digits: i8) -> Option<usize> {
    (extra_float_digits <= 0).then(|| (dig + extra_float_digits.max(-15)).max(1) as usize)
}

/// `digits`: the value's digits in Rust's `{:e}` form (`-2.49975e7`);
/// `fixed_below`: the decimal exponent from which PostgreSQL prints exponential
/// notation (`1e+15`), as it does below -4 (`1e-05`). Trailing zeros are dropped.
fn float(value: f64, digits: String, fixed_below: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0");
    }
    let unsigned = digits.trim_start_matches('-');
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let text = if (-4..fixed_below).contains(&exponent) {
        if exponent >= 0 {
            let whole = exponent as usize + 1;
            if digits.len() <= whole {
                format!("{digits}{}", "0".repeat(whole - digits.len()))
            } else {
                format!("{}.{}", &digits[..whole], &digits[whole..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{point}{rest}e{exponent_sign}{:02}", exponent.abs())
    };
    format!("{sign}{text}")
}

/// The text of row `row` of a float array (`Float32`/`Float64`); `None` for NULL or
/// another type.
pub fn float_value(array: &dyn Array, row: usize, extra_float_digits: i8) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Float64 => Some(float8(
            array.as_primitive::<Float64Type>().value(row),
            extra_float_digits,
        )),
        DataType::Float32 => Some(float4(
            array.as_primitive::<Float32Type>().value(row),
            extra_float_digits,
        )),
        _ => None,
    }
}

/// Row `row` of a list of floats as a PostgreSQL array literal (`{1.5,2,NULL}`);
/// `None` for NULL.
pub fn float_list(array: &dyn Array, row: usize, extra_float_digits: i8) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let values = array.as_list_opt::<i32>()?.value(row);
    let items: Vec<String> = (0..values.len())
        .map(|i| {
            float_value(values.as_ref(), i, extra_float_digits).unwrap_or_else(|| "NULL".into())
        })
        .collect();
    Some(format!("{{{}}}", items.join(",")))
}

/// Whether `data_type` is a list of floats, printed by [`float_list`].
pub fn is_float_list(data_type: &DataType) -> bool {
    matches!(data_type, DataType::List(item)
        if matches!(item.data_type(), DataType::Float32 | DataType::Float64))
}

/// A timestamp as PostgreSQL prints it (ISO style, UTC for `timestamptz`).
pub fn timestamp(array: &dyn Array, unit: &TimeUnit, with_tz: bool, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let micros = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
        TimeUnit::Millisecond => {
            array.as_primitive::<TimestampMillisecondType>().value(row) * 1_000
        }
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .value(row)
            .div_euclid(1_000),
    };
    let at = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
    let mut text = at.format("%Y-%m-%d %H:%M:%S").to_string();
    push_fraction(&mut text, micros.rem_euclid(1_000_000));
    if with_tz {
        text.push_str("+00");
    }
    Some(text)
}

/// A `numeric` with all its digits and its scale (`-1234.5000`), as PostgreSQL prints
/// it: `arrow-pg` converts through `rust_decimal`, which holds 28 digits and failed on
/// longer values.
pub fn decimal(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Decimal128(..) => {
            Some(array.as_primitive::<Decimal128Type>().value_as_string(row))
        }
        DataType::Decimal256(..) => {
            Some(array.as_primitive::<Decimal256Type>().value_as_string(row))
        }
        _ => None,
    }
}

/// A `time` as PostgreSQL prints it; `None` for NULL or a type that is not a time.
pub fn time(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let micros = match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000
        }
        DataType::Time32(_) => {
            i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            array.as_primitive::<Time64MicrosecondType>().value(row)
        }
        DataType::Time64(_) => array.as_primitive::<Time64NanosecondType>().value(row) / 1_000,
        _ => return None,
    };
    let seconds = micros / 1_000_000;
    let mut text = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    push_fraction(&mut text, micros % 1_000_000);
    Some(text)
}

/// Appends `.ffffff` without trailing zeros, nothing for a whole second.
fn push_fraction(text: &mut String, micros: i64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Float64Array, ListArray, Time64MicrosecondArray, TimestampMicrosecondArray,
    };

    /// Each value with PostgreSQL 15's text for it (checked with psql).
    #[test]
    fn floats_print_like_postgres() {
        for (value, text) in [
            (24_997_500.0, "24997500"),
            (1e20, "1e+20"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-300, "1e-300"),
            (-2.5, "-2.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float8(value, 1), text, "{value:e}");
        }
        // extra_float_digits 0 and below round to 15 (6) + extra digits, as %g does.
        for (value, extra, text) in [
            (0.1 + 0.2, 0, "0.3"),
            (0.1 + 0.2, 1, "0.30000000000000004"),
            (1.0 / 3.0, -5, "0.3333333333"),
            (123_456_789.0, -10, "1.2346e+08"),
            (1e15, 0, "1e+15"),
            (f64::NAN, 0, "NaN"),
        ] {
            assert_eq!(float8(value, extra), text, "{value:e} with {extra}");
        }
        assert_eq!(float4(16_777_216.0, 0), "1.67772e+07");
        for (value, text) in [
            (2.75_f32, "2.75"),
            (1e20, "1e+20"),
            (16_777_216.0, "1.6777216e+07"),
            (100_000.0, "100000"),
            (1_000_000.0, "1e+06"),
            (0.1, "0.1"),
        ] {
            assert_eq!(float4(value, 1), text, "{value:e}");
        }
    }

    #[test]
    fn float_arrays_print_like_postgres() {
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
            Some(vec![Some(1.5), Some(2.0), None, Some(f64::INFINITY)]),
            None,
        ]);
        assert!(is_float_list(list.data_type()));
        assert_eq!(
            float_list(&list, 0, 1).as_deref(),
            Some("{1.5,2,NULL,Infinity}")
        );
        assert_eq!(float_list(&list, 1, 1), None);
        assert_eq!(
            float_value(&Float64Array::from(vec![2.0]), 0, 1).as_deref(),
            Some("2")
        );
    }

    #[test]
    fn times_and_timestamps_print_like_postgres() {
        let array = TimestampMicrosecondArray::from(vec![Some(0), Some(1_500_000), Some(-1), None]);
        let text = |row| timestamp(&array, &TimeUnit::Microsecond, false, row);
        assert_eq!(text(0).as_deref(), Some("1970-01-01 00:00:00"));
        assert_eq!(text(1).as_deref(), Some("1970-01-01 00:00:01.5"));
        assert_eq!(text(2).as_deref(), Some("1969-12-31 23:59:59.999999"));
        assert_eq!(text(3), None);
        let tz = timestamp(&array, &TimeUnit::Microsecond, true, 1);
        assert_eq!(tz.as_deref(), Some("1970-01-01 00:00:01.5+00"));
        let times = Time64MicrosecondArray::from(vec![45_296_500_000, 0]);
        assert_eq!(time(&times, 0).as_deref(), Some("12:34:56.5"));
        assert_eq!(time(&times, 1).as_deref(), Some("00:00:00"));
    }
}
