//! Values in PostgreSQL 15's text output format, where it differs from what `arrow-pg`
//! prints (the server's text results) and from Arrow's display (casts to text,
//! [`super::functions::text_casts`]): floating-point numbers (`float8out`/`float4out`:
//! the shortest digits that read back to the same value, exponential outside a fixed
//! range), arrays of them, timestamps, times and intervals (fractional seconds without
//! trailing zeros; `interval_out`'s signs), and numerics of more than 28 digits (which `arrow-pg` cannot convert).
//!
//! ```text
//!   24997500::float8  →  24997500          (not 24997500.0)
//!   1e20::float8      →  1e+20             0.00001::float8 → 1e-05
//!   16777216::float4  →  1.6777216e+07     'Infinity'      → Infinity
//! ```

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::array_value_to_string;

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

/// `array[row]` as its PostgreSQL type's output function writes it (arrays as
/// `array_out`: `{1,NULL,"a b"}`), floats with `extra_float_digits`; `None` for NULL.
pub fn value_text(
    array: &dyn Array,
    row: usize,
    extra_float_digits: i8,
) -> Result<Option<String>, ArrowError> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(match array.data_type() {
        // boolout: `t` and `f` (only a cast of a boolean to text writes `true`).
        DataType::Boolean => Some(
            if array.as_boolean().value(row) {
                "t"
            } else {
                "f"
            }
            .into(),
        ),
        DataType::Float32 | DataType::Float64 => float_value(array, row, extra_float_digits),
        DataType::Timestamp(unit, tz) => timestamp(array, unit, tz.is_some(), row),
        DataType::Date32 => date(array, row),
        DataType::Time32(_) | DataType::Time64(_) => time(array, row),
        DataType::Decimal128(..) | DataType::Decimal256(..) => decimal(array, row),
        DataType::Interval(_) => interval_value(array, row),
        DataType::Binary => Some(bytea(array.as_binary::<i32>().value(row))),
        DataType::LargeBinary => Some(bytea(array.as_binary::<i64>().value(row))),
        DataType::List(_) => Some(list(
            &array.as_list::<i32>().value(row),
            extra_float_digits,
        )?),
        DataType::LargeList(_) => Some(list(
            &array.as_list::<i64>().value(row),
            extra_float_digits,
        )?),
        _ => Some(array_value_to_string(array, row)?),
    })
}

/// A `bytea` as `byteaout` writes it (`bytea_output` hex: `\x0aff`).
fn bytea(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// An array as `array_out` writes it: `{1,NULL,"a b"}`.
fn list(items: &ArrayRef, extra_float_digits: i8) -> Result<String, ArrowError> {
    let mut text = String::from("{");
    for item in 0..items.len() {
        if item > 0 {
            text.push(',');
        }
        match value_text(items.as_ref(), item, extra_float_digits)? {
            None => text.push_str("NULL"),
            Some(value) => push_element(&mut text, &value),
        }
    }
    text.push('}');
    Ok(text)
}

/// `value` as an array element: in double quotes (with `"` and `\` escaped) when it
/// is empty, `NULL` in any case, or holds a brace, comma, quote, backslash or space.
fn push_element(text: &mut String, value: &str) {
    let quoted = value.is_empty()
        || value.eq_ignore_ascii_case("null")
        || value.chars().any(|c| {
            matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace() || c == '\x0b'
        });
    if !quoted {
        text.push_str(value);
        return;
    }
    text.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            text.push('\\');
        }
        text.push(c);
    }
    text.push('"');
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
    let (mut text, bc) = iso_date(at.date());
    text.push_str(&at.format(" %H:%M:%S").to_string());
    push_fraction(&mut text, micros.rem_euclid(1_000_000));
    if with_tz {
        text.push_str("+00");
    }
    if bc {
        text.push_str(" BC");
    }
    Some(text)
}

/// A `date` as PostgreSQL prints it (ISO style: `2024-06-01`, `0044-03-15 BC`).
pub fn date(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let days = array.as_primitive::<Date32Type>().value(row);
    let date =
        chrono::NaiveDate::default().checked_add_signed(chrono::Duration::days(days.into()))?;
    let (mut text, bc) = iso_date(date);
    if bc {
        text.push_str(" BC");
    }
    Some(text)
}

/// A date as PostgreSQL's ISO style writes it: at least four digits of year, no sign
/// (`12000-01-01`, where chrono writes `+12000-01-01`), and whether ` BC` follows (the
/// year before 1 AD is 1 BC: chrono's year 0).
fn iso_date(date: chrono::NaiveDate) -> (String, bool) {
    use chrono::Datelike;
    let (year, bc) = match date.year() {
        year if year <= 0 => (1 - i64::from(year), true),
        year => (i64::from(year), false),
    };
    (
        format!("{year:04}-{:02}-{:02}", date.month(), date.day()),
        bc,
    )
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

/// An interval as PostgreSQL prints it ([`interval`]); `None` for NULL or a type that is
/// not an interval.
pub fn interval_value(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let (months, days, micros) = match array.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => (
            array.as_primitive::<IntervalYearMonthType>().value(row),
            0,
            0,
        ),
        DataType::Interval(IntervalUnit::DayTime) => {
            let value = array.as_primitive::<IntervalDayTimeType>().value(row);
            (0, value.days, i64::from(value.milliseconds) * 1_000)
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let value = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            (value.months, value.days, value.nanoseconds / 1_000)
        }
        _ => return None,
    };
    Some(interval(months, days, micros))
}

/// An interval as `interval_out` writes it in the default `IntervalStyle` (`postgres`):
/// `1 year 2 mons -3 days +04:05:06.5`. A field is written when it is not zero (the
/// time when nothing else is); a field after a negative one carries its sign, `+` too;
/// fractional seconds lose their trailing zeros.
pub fn interval(months: i32, days: i32, micros: i64) -> String {
    let mut text = String::new();
    let mut before_negative = false;
    for (value, unit) in [
        (i64::from(months / 12), "year"),
        (i64::from(months % 12), "mon"),
        (i64::from(days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        if before_negative && value > 0 {
            text.push('+');
        }
        let plural = if value == 1 { "" } else { "s" };
        text.push_str(&format!("{value} {unit}{plural}"));
        before_negative = value < 0;
    }
    if text.is_empty() || micros != 0 {
        let sign = if micros < 0 {
            "-"
        } else if before_negative {
            "+"
        } else {
            ""
        };
        if !text.is_empty() {
            text.push(' ');
        }
        let (seconds, fraction) = (
            micros.unsigned_abs() / 1_000_000,
            micros.unsigned_abs() % 1_000_000,
        );
        text.push_str(&format!(
            "{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        ));
        push_fraction(&mut text, fraction as i64);
    }
    text
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

    #[test]
    fn array_elements_are_quoted_as_array_out_quotes_them() {
        let mut text = String::new();
        for value in [
            "a", "", "NULL", "null", "a b", "x,y", "q\"", "b\\s", "{}", "tab\t",
        ] {
            push_element(&mut text, value);
            text.push('|');
        }
        assert_eq!(
            text,
            r#"a|""|"NULL"|"null"|"a b"|"x,y"|"q\""|"b\\s"|"{}"|"tab	"|"#
        );
    }

    use datafusion::arrow::array::{
        Float64Array, ListArray, Time64MicrosecondArray, TimestampMicrosecondArray,
    };

    /// Each interval (months, days, microseconds) with PostgreSQL 15's text for it
    /// (checked with psql).
    #[test]
    fn intervals_print_like_postgres() {
        let hour = 3_600_000_000;
        for ((months, days, micros), text) in [
            ((0, 0, 0), "00:00:00"),
            ((0, -1, 2 * hour), "-1 days +02:00:00"),
            ((1, -1, 0), "1 mon -1 days"),
            ((-14, 0, 0), "-1 years -2 mons"),
            ((0, 0, -1_500_000), "-00:00:01.5"),
            ((0, 1, -1_250_000), "1 day -00:00:01.25"),
            ((0, 0, 100 * hour + 500_000), "100:00:00.5"),
            ((13, 1, 1), "1 year 1 mon 1 day 00:00:00.000001"),
            ((0, 0, 19_998_000), "00:00:19.998"),
            ((-1, 2, 0), "-1 mons +2 days"),
        ] {
            assert_eq!(interval(months, days, micros), text);
        }
    }

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
        assert_eq!(
            value_text(&list, 0, 1).unwrap().as_deref(),
            Some("{1.5,2,NULL,Infinity}")
        );
        assert_eq!(
            value_text(&list, 0, 0).unwrap().as_deref(),
            Some("{1.5,2,NULL,Infinity}")
        );
        assert_eq!(value_text(&list, 1, 1).unwrap(), None);
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

    /// PostgreSQL 15: `'0044-03-15 12:00 BC'::timestamptz` is `0044-03-15 12:00:00+00
    /// BC`, `'12000-01-01'::date` `12000-01-01` (chrono wrote `-0043`, `+12000`).
    #[test]
    fn years_before_christ_and_beyond_9999_print_like_postgres() {
        let micros = |date: &str| {
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let array = TimestampMicrosecondArray::from(vec![
            micros("-0043-03-15 12:00:00"),
            micros("+12000-01-01 10:00:00"),
        ]);
        let text = |row, zone| timestamp(&array, &TimeUnit::Microsecond, zone, row);
        assert_eq!(text(0, true).as_deref(), Some("0044-03-15 12:00:00+00 BC"));
        assert_eq!(text(1, false).as_deref(), Some("12000-01-01 10:00:00"));
        let days = |micros: i64| i32::try_from(micros.div_euclid(86_400_000_000)).unwrap();
        let dates = datafusion::arrow::array::Date32Array::from(vec![
            Some(days(micros("-0043-03-15 00:00:00"))),
            Some(days(micros("+12000-01-01 00:00:00"))),
            Some(0),
            None,
        ]);
        assert_eq!(date(&dates, 0).as_deref(), Some("0044-03-15 BC"));
        assert_eq!(date(&dates, 1).as_deref(), Some("12000-01-01"));
        assert_eq!(date(&dates, 2).as_deref(), Some("1970-01-01"));
        assert_eq!(date(&dates, 3), None);
    }
}
