//! Interval text read as PostgreSQL 15's `interval_in` reads it (the `postgres`
//! interval style): `1 day 02:00:00`, `-1 days +02:00:00`, `1:30`, `1 2:03:04`,
//! `1-2`, `@ 3 days ago`, `1.5 months`, `P1Y2M3DT4H5M6.5S` — PostgreSQL's own output
//! among them, which Arrow's parser refused.
//!
//! Fields are read right to left, as PostgreSQL reads them: a unit names the number
//! before it (`1 day`, `1day`); a time field (`H:M`, `H:M:S.f`, or `M:S.f`) makes a
//! bare number before it a number of days; any other bare number is seconds.
//! Fractions cascade down, never up: a fraction of a year becomes whole months, of a
//! month or week days (a month being 30 days) and the rest time, of a day or smaller
//! unit microseconds. `ago` negates the whole interval.
//!
//! Casts from text (`'1 day 02:00'::interval`, `INSERT`'s conversions into `INTERVAL`
//! columns, `text_column::interval`) are replaced by `interval_in` ([`read`]; the analyzer rule of
//! [`super::text_input`]); `INTERVAL '...'` literals, which DataFusion parses while planning,
//! are rewritten to a text Arrow's parser reads exactly ([`rewrite_literals`]:
//! `3 months 4 days 5 microseconds`). Text this reader refuses is left to Arrow's
//! parser, which fails on it or reads its own forms (`1 nanosecond`).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::common::{DataFusionError, Result};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Interval, Statement, Value, visit_expressions_mut,
};

use crate::error::{SluiceError, sqlstate};

/// Every `INTERVAL '...'` literal of `statement` without units after its text, its
/// text rewritten as [`canonical`] where [`parse`] reads it.
pub fn rewrite_literals(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr: &mut SqlExpr| {
        if let SqlExpr::Interval(Interval {
            value,
            leading_field: None,
            leading_precision: None,
            last_field: None,
            fractional_seconds_precision: None,
        }) = expr
            && let SqlExpr::Value(literal) = value.as_mut()
            && let Value::SingleQuotedString(text) = &mut literal.value
            && let Ok(interval) = parse(text)
        {
            *text = canonical(interval);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Texts (any text type) read by [`read`], as intervals.
pub fn interval_values(array: &ArrayRef) -> Result<ArrayRef> {
    let texts = cast(array, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let mut out = IntervalMonthDayNanoBuilder::with_capacity(texts.len());
    for text in texts.iter() {
        match text {
            Some(text) => out.append_value(read(text)?),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `text` as [`parse`] reads it, else as Arrow's parser does, else PostgreSQL's error.
fn read(text: &str) -> Result<IntervalMonthDayNano> {
    let refused = |e: SluiceError| DataFusionError::External(Box::new(e));
    match parse(text) {
        Ok(interval) => Ok(IntervalMonthDayNano::new(
            interval.months,
            interval.days,
            interval
                .microseconds
                .checked_mul(1000)
                .ok_or_else(|| refused(out_of_range()))?,
        )),
        Err(error) => parse_interval_month_day_nano(text).map_err(|_| refused(error)),
    }
}

/// An interval as PostgreSQL keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParsedInterval {
    pub months: i32,
    pub days: i32,
    pub microseconds: i64,
}

const MICROS_PER_SECOND: f64 = 1_000_000.0;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// The units a number can name, by how it is added.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// Years, times this many (1 year, 10 a decade, 100 a century, 1000 a millennium).
    Years(i64),
    Months,
    /// Days, times this many (1, or 7 for a week).
    Days(i64),
    /// Time, in seconds per unit (3600 an hour, 60 a minute, 1 a second, 0.001 ...).
    Seconds(f64),
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Years(1),
        "dec" | "decs" | "decade" | "decades" => Unit::Years(10),
        "c" | "cent" | "century" | "centuries" => Unit::Years(100),
        "mil" | "mils" | "millennium" | "millennia" | "millenniums" => Unit::Years(1000),
        "mon" | "mons" | "month" | "months" => Unit::Months,
        "w" | "week" | "weeks" => Unit::Days(7),
        "d" | "day" | "days" => Unit::Days(1),
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Seconds(3600.0),
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Seconds(60.0),
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Seconds(1.0),
        "ms" | "msec" | "msecs" | "msecond" | "mseconds" | "millisecond" | "milliseconds" => {
            Unit::Seconds(0.001)
        }
        "us" | "usec" | "usecs" | "usecond" | "useconds" | "microsecond" | "microseconds" => {
            Unit::Seconds(0.000_001)
        }
        _ => return None,
    })
}

/// The running total while fields are read.
#[derive(Debug, Default)]
struct Total {
    months: i64,
    days: i64,
    microseconds: f64,
}

impl Total {
    /// `value` (with its fraction) of `unit`, the fraction cascading down.
    fn add(&mut self, value: f64, unit: Unit) {
        let whole = value.trunc();
        let fraction = value - whole;
        match unit {
            Unit::Years(per) => {
                self.months += whole as i64 * 12 * per;
                self.months += (fraction * 12.0 * per as f64).round() as i64;
            }
            Unit::Months => {
                self.months += whole as i64;
                self.add_fraction_of_days(fraction * 30.0);
            }
            Unit::Days(per) => {
                self.days += whole as i64 * per;
                self.add_fraction_of_days(fraction * per as f64);
            }
            Unit::Seconds(seconds) => {
                self.microseconds += (value * seconds * MICROS_PER_SECOND).round();
            }
        }
    }

    fn add_fraction_of_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole as i64;
        self.microseconds += ((days - whole) * SECONDS_PER_DAY * MICROS_PER_SECOND).round();
    }
}

fn invalid(text: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type interval: \"{text}\""),
    )
}

fn out_of_range() -> SluiceError {
    SluiceError::coded(sqlstate::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

/// A signed decimal number (`-1.5`, `+2`, `.5`), or `None`.
fn number(text: &str) -> Option<f64> {
    let digits = text.trim_start_matches(['+', '-']);
    let valid = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits != ".";
    if valid { text.parse().ok() } else { None }
}

/// `H:M`, `H:M:S[.f]` or `M:S.f`, signed, in microseconds.
fn time(text: &str) -> Option<f64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let whole = |part: &str| {
        (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
            .then(|| part.parse::<f64>().ok())
            .flatten()
    };
    let seconds = match parts.as_slice() {
        [minutes, seconds] if seconds.contains('.') => {
            whole(minutes)? * 60.0 + number(seconds).filter(|_| !seconds.starts_with(['+', '-']))?
        }
        [hours, minutes] => whole(hours)? * 3600.0 + whole(minutes)? * 60.0,
        [hours, minutes, seconds] => {
            whole(hours)? * 3600.0
                + whole(minutes)? * 60.0
                + number(seconds).filter(|_| !seconds.starts_with(['+', '-']))?
        }
        _ => return None,
    };
    let micros = (seconds * MICROS_PER_SECOND).round();
    Some(if negative { -micros } else { micros })
}

/// `Y-M` (the SQL standard's year-month form), signed.
fn year_month(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (years, months) = body.split_once('-')?;
    let whole = |part: &str| {
        (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
            .then(|| part.parse::<i64>().ok())
            .flatten()
    };
    let months = whole(years)?.checked_mul(12)?.checked_add(whole(months)?)?;
    Some(if negative { -months } else { months })
}

/// The fields of the `postgres` form: words and numbers, a number and its unit split
/// apart where written together (`1day`).
fn fields(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let split = word
            .char_indices()
            .find(|(i, c)| *i > 0 && c.is_ascii_alphabetic())
            .map(|(i, _)| i)
            .filter(|i| number(&word[..*i]).is_some());
        match split {
            Some(at) => {
                out.push(word[..at].to_string());
                out.push(word[at..].to_string());
            }
            None => out.push(word.to_string()),
        }
    }
    out
}

/// `text` as PostgreSQL reads an interval.
pub fn parse(text: &str) -> Result<ParsedInterval, SluiceError> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let total = match lower.strip_prefix('p') {
        Some(iso) => iso_8601(iso).ok_or_else(|| invalid(text))?,
        None => postgres_form(&lower).ok_or_else(|| invalid(text))?,
    };
    let months = i32::try_from(total.months).map_err(|_| out_of_range())?;
    let days = i32::try_from(total.days).map_err(|_| out_of_range())?;
    if !total.microseconds.is_finite() || total.microseconds.abs() >= 9.2e18 {
        return Err(out_of_range());
    }
    Ok(ParsedInterval {
        months,
        days,
        microseconds: total.microseconds as i64,
    })
}

fn postgres_form(text: &str) -> Option<Total> {
    let text = text.strip_prefix('@').unwrap_or(text);
    let mut fields = fields(text);
    let ago = fields.last().is_some_and(|f| f == "ago");
    if ago {
        fields.pop();
    }
    if fields.is_empty() {
        return None;
    }
    let mut total = Total::default();
    // The unit of a bare number, from the field after it: a unit word, or days after
    // a time field (`implied`: a unit word may still come before it).
    let mut pending: Option<Unit> = None;
    let mut implied = false;
    for field in fields.iter().rev() {
        if let Some(named) = unit(field) {
            if pending.is_some() && !implied {
                return None;
            }
            pending = Some(named);
            implied = false;
        } else if let Some(value) = number(field) {
            total.add(value, pending.take().unwrap_or(Unit::Seconds(1.0)));
            implied = false;
        } else if let Some(micros) = time(field).filter(|_| pending.is_none() || implied) {
            total.microseconds += micros;
            pending = Some(Unit::Days(1));
            implied = true;
        } else if let Some(months) = year_month(field).filter(|_| pending.is_none() || implied) {
            total.months += months;
            pending = None;
            implied = false;
        } else {
            return None;
        }
    }
    // A unit word with no number before it.
    if pending.is_some() && !implied {
        return None;
    }
    if ago {
        total.months = -total.months;
        total.days = -total.days;
        total.microseconds = -total.microseconds;
    }
    Some(total)
}

/// ISO 8601's designators after the `P`: `1Y2M3W4DT5H6M7.5S`.
fn iso_8601(text: &str) -> Option<Total> {
    let mut total = Total::default();
    let mut in_time = false;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('t') {
            if in_time || after.is_empty() {
                return None;
            }
            in_time = true;
            rest = after;
            continue;
        }
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let value = number(&rest[..end])?;
        let unit = match (&rest[end..=end], in_time) {
            ("y", false) => Unit::Years(1),
            ("m", false) => Unit::Months,
            ("w", false) => Unit::Days(7),
            ("d", false) => Unit::Days(1),
            ("h", true) => Unit::Seconds(3600.0),
            ("m", true) => Unit::Seconds(60.0),
            ("s", true) => Unit::Seconds(1.0),
            _ => return None,
        };
        total.add(value, unit);
        rest = &rest[end + 1..];
    }
    Some(total)
}

/// `interval` written so that Arrow's interval parser reads exactly it.
pub fn canonical(interval: ParsedInterval) -> String {
    format!(
        "{} months {} days {} microseconds",
        interval.months, interval.days, interval.microseconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (i32, i32, i64) {
        let i = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (i.months, i.days, i.microseconds)
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn postgresql_output_reads_back() {
        assert_eq!(read("1 day 02:00:00"), (0, 1, 2 * HOUR));
        assert_eq!(read("-1 days +02:00:00"), (0, -1, 2 * HOUR));
        assert_eq!(
            read("1 year 2 mons 3 days 04:05:06.5"),
            (14, 3, 4 * HOUR + 306_500_000)
        );
        assert_eq!(read("00:00:00.000001"), (0, 0, 1));
        assert_eq!(read("-00:00:19.998"), (0, 0, -19_998_000));
        assert_eq!(read("-1 years -2 mons"), (-14, 0, 0));
    }

    #[test]
    fn other_forms_read_as_postgresql_reads_them() {
        assert_eq!(read("1:30"), (0, 0, HOUR + 30 * 60_000_000));
        assert_eq!(read("1:30.5"), (0, 0, 90_500_000));
        assert_eq!(read("1 2:03:04"), (0, 1, 2 * HOUR + 184_000_000));
        assert_eq!(read("1-2"), (14, 0, 0));
        assert_eq!(read("@ 3 days ago"), (0, -3, 0));
        assert_eq!(read("1 day 2 hours ago"), (0, -1, -2 * HOUR));
        assert_eq!(read("10"), (0, 0, 10_000_000));
        assert_eq!(read("1day 2h"), (0, 1, 2 * HOUR));
        assert_eq!(read("1.5 months"), (1, 15, 0));
        assert_eq!(read("1.5 years"), (18, 0, 0));
        assert_eq!(read("1.5 days"), (0, 1, 12 * HOUR));
        assert_eq!(read("1.5 weeks"), (0, 10, 12 * HOUR));
        assert_eq!(read("2 decades 1 century"), (1440, 0, 0));
        assert_eq!(read("5 ms 3 us"), (0, 0, 5003));
        assert_eq!(read("P1Y2M3DT4H5M6.5S"), (14, 3, 4 * HOUR + 306_500_000));
        assert_eq!(read("PT1.5H"), (0, 0, 90 * 60_000_000));
        assert_eq!(read("P2W"), (0, 14, 0));
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in [
            "",
            "abc",
            "1 parsec",
            "day",
            "P",
            "PT",
            "P1H",
            "@",
            "1 days ago ago",
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(
                error.sqlstate(),
                sqlstate::INVALID_DATETIME_FORMAT,
                "{text}"
            );
        }
        assert_eq!(
            parse("3000000000 days").unwrap_err().sqlstate(),
            sqlstate::DATETIME_FIELD_OVERFLOW
        );
    }

    #[test]
    fn canonical_text_names_every_part() {
        let interval = parse("-1 days +02:00:00.5").unwrap();
        assert_eq!(
            canonical(interval),
            "0 months -1 days 7200500000 microseconds"
        );
    }
}
