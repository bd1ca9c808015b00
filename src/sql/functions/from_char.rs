//! PostgreSQL 15's `to_timestamp(text, pattern)` and `to_date(text, pattern)`, following
//! `formatting.c` (`DCH_from_char`, `do_to_timestamp`): the pattern is parsed as
//! `to_char` parses it ([`super::to_char`]) and read against the text left to right.
//!
//! - Spaces in the text are skipped at its start, before fields and after them (not
//!   after `FX`, which makes every pattern character take exactly one text character).
//! - A space or separator (`-`, `/`, `:`…) of the pattern matches one space or
//!   separator of the text, or nothing; other pattern characters and quoted text skip
//!   one text character each.
//! - A number field takes as many digits as its keyword has letters (`YYYY` four,
//!   `MM` two), or every digit there is after `FM` or before a non-digit;
//!   `YYY`/`YY`/`Y` of fewer digits pick the year nearest 2020; names (`Mon`,
//!   `Month`, `Day`, `AM`, `BC`, `RM`) match case-insensitively.
//! - What the text lacks keeps its default (January 1 of year 1 BC, midnight); text
//!   after the pattern's end is ignored.
//!
//! Errors as PostgreSQL's: `22007` for text that does not match, `22008` for values
//! out of range. The ISO-week fields (`IYYY`, `IW`, `ID`, `IDDD`…) and the zone fields
//! `TZH`/`TZM` are refused (`0A000`), as are `TZ` and `OF` (as in PostgreSQL).
//! `timestamptz` results are in UTC, Sluice's only time zone.

use std::sync::Arc;

use chrono::DateTime;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::age::{days_in_month, is_leap};
use super::to_char::{DAYS, MONTHS, Piece, ROMAN, parse};
use crate::error::{SluiceError, sqlstate};

/// `to_date(text, text)`, to register in place of DataFusion's (chrono's patterns).
pub fn to_date() -> ScalarUDF {
    ScalarUDF::new_from_impl(ToDate {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToDate {
    signature: Signature,
}

impl ScalarUDFImpl for ToDate {
    fn name(&self) -> &str {
        "to_date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match arg_types {
            [text, pattern] if is_text_argument(text) && is_text_argument(pattern) => {
                Ok(vec![DataType::Utf8, DataType::Utf8])
            }
            other => Err(super::no_such_function("to_date", other)),
        }
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let dates = with_patterns(&args, read_date)?;
        let dates: Date32Array = dates.into_iter().collect();
        Ok(columnar(&args, Arc::new(dates)))
    }
}

/// Whether an argument of `data_type` is read as text (text, or an untyped NULL).
pub fn is_text_argument(data_type: &DataType) -> bool {
    crate::catalog::postgres::regtypes::is_text(data_type) || data_type.is_null()
}

/// `read` of each row's text and pattern (NULL where either is NULL).
fn with_patterns<T>(
    args: &ScalarFunctionArgs,
    read: impl Fn(&str, &str) -> Result<T, SluiceError>,
) -> DfResult<Vec<Option<T>>> {
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let [texts, patterns] = arrays.as_slice() else {
        return Err(DataFusionError::Plan(
            "to_timestamp and to_date take a text and a pattern".into(),
        ));
    };
    let (texts, patterns) = (
        cast(texts, &DataType::Utf8)?,
        cast(patterns, &DataType::Utf8)?,
    );
    let (texts, patterns) = (texts.as_string::<i32>(), patterns.as_string::<i32>());
    (0..texts.len())
        .map(|row| {
            if texts.is_null(row) || patterns.is_null(row) {
                return Ok(None);
            }
            read(texts.value(row), patterns.value(row)).map(Some)
        })
        .collect::<Result<_, SluiceError>>()
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// `values` as a scalar when every argument is one.
fn columnar(args: &ScalarFunctionArgs, values: ArrayRef) -> ColumnarValue {
    let scalars = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    match datafusion::common::ScalarValue::try_from_array(&values, 0) {
        Ok(value) if scalars && values.len() == 1 => ColumnarValue::Scalar(value),
        _ => ColumnarValue::Array(values),
    }
}

/// `to_timestamp(text, text)`'s values: timestamptz in UTC.
pub fn timestamps(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let micros = with_patterns(args, read_timestamp)?;
    let micros: TimestampMicrosecondArray = micros.into_iter().collect();
    Ok(columnar(
        args,
        Arc::new(micros.with_timezone(crate::sql::types::UTC)),
    ))
}

/// The Julian day of 1970-01-01.
const JULIAN_1970: i64 = 2_440_588;

/// The fields read from the text (PostgreSQL's `TmFromChar`; 0 is "not given").
#[derive(Debug, Default)]
struct Fields {
    hh: i32,
    pm: i32,
    twelve_hour: bool,
    mi: i32,
    ss: i32,
    ssss: i32,
    dd: i32,
    ddd: i32,
    mm: i32,
    ms: i32,
    us: i32,
    year: i32,
    year_digits: i32,
    bc: i32,
    cc: i32,
    j: i32,
    w: i32,
    ww: i32,
    /// Day of the week: read and checked, not used (as in PostgreSQL's Gregorian mode).
    d: i32,
}

/// A date and time as PostgreSQL's `pg_tm` holds it: astronomical years (0 is 1 BC).
#[derive(Debug, PartialEq)]
struct Tm {
    year: i32,
    month: i32,
    day: i32,
    hour: i32,
    minute: i32,
    second: i32,
    micros: i64,
}

/// Which fields a pattern set, to validate the date (`fmask`).
#[derive(Debug, Default)]
struct Given {
    year: bool,
    month: bool,
    day: bool,
}

fn invalid_format(message: String) -> SluiceError {
    SluiceError::coded(sqlstate::INVALID_DATETIME_FORMAT, message)
}

fn out_of_range(message: String) -> SluiceError {
    SluiceError::coded(sqlstate::DATETIME_FIELD_OVERFLOW, message)
}

/// `text` read with `pattern` as a timestamp: microseconds since 1970 (UTC).
pub fn read_timestamp(text: &str, pattern: &str) -> Result<i64, SluiceError> {
    let tm = read(text, pattern)?;
    let too_far = || out_of_range("timestamp out of range".into());
    if !julian_holds(&tm) {
        return Err(too_far());
    }
    let days = i64::from(date_to_julian(tm.year, tm.month, tm.day)) - JULIAN_1970;
    let seconds = i64::from((tm.hour * 60 + tm.minute) * 60 + tm.second);
    let micros = days
        .checked_mul(86_400_000_000)
        .and_then(|m| m.checked_add(seconds * 1_000_000 + tm.micros))
        .ok_or_else(too_far)?;
    // PostgreSQL's range: 4714-11-24 BC up to 294277 (Sluice's ends in 294247).
    if micros < -210_866_803_200_000_000 || DateTime::from_timestamp_micros(micros).is_none() {
        return Err(too_far());
    }
    Ok(micros)
}

/// `text` read with `pattern` as a date: days since 1970.
pub fn read_date(text: &str, pattern: &str) -> Result<i32, SluiceError> {
    let tm = read(text, pattern)?;
    let too_far = || out_of_range(format!("date out of range: \"{text}\""));
    if !julian_holds(&tm) {
        return Err(too_far());
    }
    // PostgreSQL's dates: Julian day 0 (4714-11-24 BC) to 5874897 AD.
    let julian = date_to_julian(tm.year, tm.month, tm.day);
    if !(0..2_147_483_494).contains(&julian) {
        return Err(too_far());
    }
    let days = i32::try_from(i64::from(julian) - JULIAN_1970).map_err(|_| too_far())?;
    // Sluice writes dates through chrono, whose calendar ends in 262142 AD.
    if chrono::NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)).is_none() {
        return Err(SluiceError::not_supported(format!(
            "date \"{text}\" is after {}-12-31, the last date Sluice holds",
            chrono::Datelike::year(&chrono::NaiveDate::MAX)
        )));
    }
    Ok(days)
}

/// PostgreSQL's `IS_VALID_JULIAN`: from 4714-11-01 BC to before 5874898-06-01.
fn julian_holds(tm: &Tm) -> bool {
    (tm.year > -4713 || (tm.year == -4713 && tm.month >= 11))
        && (tm.year < 5_874_898 || (tm.year == 5_874_898 && tm.month < 6))
}

/// PostgreSQL's `date2j`: the Julian day of a year, month and day (a day past the
/// month's end runs into the next month).
fn date_to_julian(year: i32, month: i32, day: i32) -> i32 {
    let (month, year) = if month > 2 {
        (month + 1, year + 4800)
    } else {
        (month + 13, year + 4799)
    };
    let century = year / 100;
    let mut julian = year * 365 - 32167;
    julian += year / 4 - century + century / 4;
    julian + 7834 * month / 256 + day
}

/// PostgreSQL's `do_to_timestamp`: the fields of `text`, then the date and time they
/// make, validated.
fn read(text: &str, pattern: &str) -> Result<Tm, SluiceError> {
    let pieces = parse(pattern);
    let fields = read_fields(text, &pieces)?;
    let mut tm = Tm {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    };
    let mut given = Given::default();
    let mut f = fields;
    if f.ssss != 0 {
        tm.hour = f.ssss / 3600;
        tm.minute = f.ssss % 3600 / 60;
        tm.second = f.ssss % 60;
    }
    if f.ss != 0 {
        tm.second = f.ss;
    }
    if f.mi != 0 {
        tm.minute = f.mi;
    }
    if f.hh != 0 {
        tm.hour = f.hh;
    }
    if f.twelve_hour {
        if !(1..=12).contains(&tm.hour) {
            return Err(invalid_format(format!(
                "hour \"{}\" is invalid for the 12-hour clock",
                tm.hour
            )));
        }
        if f.pm != 0 && tm.hour < 12 {
            tm.hour += 12;
        } else if f.pm == 0 && tm.hour == 12 {
            tm.hour = 0;
        }
    }
    if f.year != 0 {
        if f.cc != 0 && f.year_digits <= 2 {
            if f.bc != 0 {
                f.cc = -f.cc;
            }
            tm.year = f.year % 100;
            if tm.year != 0 {
                tm.year = if f.cc >= 0 {
                    tm.year + (f.cc - 1) * 100
                } else {
                    (f.cc + 1) * 100 - tm.year + 1
                };
            } else {
                tm.year = f.cc * 100 + i32::from(f.cc < 0);
            }
        } else {
            tm.year = if f.bc != 0 { -f.year } else { f.year };
            if tm.year < 0 {
                tm.year += 1;
            }
        }
        given.year = true;
    } else if f.cc != 0 {
        if f.bc != 0 {
            f.cc = -f.cc;
        }
        tm.year = if f.cc >= 0 {
            (f.cc - 1) * 100 + 1
        } else {
            f.cc * 100 + 1
        };
        given.year = true;
    }
    if f.j != 0 {
        let (year, month, day) = julian_to_date(f.j);
        (tm.year, tm.month, tm.day) = (year, month, day);
        given = Given {
            year: true,
            month: true,
            day: true,
        };
    }
    if f.ww != 0 {
        f.ddd = (f.ww - 1) * 7 + 1;
    }
    if f.w != 0 {
        f.dd = (f.w - 1) * 7 + 1;
    }
    if f.dd != 0 {
        tm.day = f.dd;
        given.day = true;
    }
    if f.mm != 0 {
        tm.month = f.mm;
        given.month = true;
    }
    if f.ddd != 0 && (tm.month <= 1 || tm.day <= 1) {
        if tm.year == 0 && f.bc == 0 {
            return Err(invalid_format(
                "cannot calculate day of year without year information".into(),
            ));
        }
        let sums = if is_leap(i64::from(tm.year)) {
            [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366]
        } else {
            [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365]
        };
        let month = (1..=12).find(|&i| f.ddd <= sums[i]).unwrap_or(13);
        if tm.month <= 1 {
            tm.month = month as i32;
        }
        if tm.day <= 1 {
            tm.day = f.ddd - sums[month - 1];
        }
        given.month = true;
        given.day = true;
    }
    tm.micros = i64::from(f.ms) * 1000 + i64::from(f.us);
    let field_overflow = || out_of_range(format!("date/time field value out of range: \"{text}\""));
    if (given.month && !(1..=12).contains(&tm.month)) || (given.day && !(1..=31).contains(&tm.day))
    {
        return Err(field_overflow());
    }
    if given.year
        && given.month
        && given.day
        && i64::from(tm.day) > days_in_month(tm.year.into(), tm.month.into())
    {
        return Err(field_overflow());
    }
    if !(0..24).contains(&tm.hour)
        || !(0..60).contains(&tm.minute)
        || !(0..60).contains(&tm.second)
        || !(0..1_000_000).contains(&tm.micros)
    {
        return Err(field_overflow());
    }
    Ok(tm)
}

/// PostgreSQL's `j2date`.
fn julian_to_date(julian: i32) -> (i32, i32, i32) {
    let mut julian = i64::from(julian) + 32044;
    let mut quad = julian / 146_097;
    let extra = (julian - quad * 146_097) * 4 + 3;
    julian += 60 + quad * 3 + extra / 146_097;
    quad = julian / 1461;
    julian -= quad * 1461;
    let mut y = julian * 4 / 1461;
    julian = if y != 0 {
        (julian + 305) % 365
    } else {
        (julian + 306) % 366
    } + 123;
    y += quad * 4;
    let year = y - 4800;
    quad = julian * 2141 / 65536;
    let day = julian - 7834 * quad / 256;
    let month = (quad + 10) % 12 + 1;
    (year as i32, month as i32, day as i32)
}

/// The C locale's `isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// PostgreSQL's `is_separator_char`: printable ASCII that is no letter, digit or space.
fn is_separator(c: char) -> bool {
    c.is_ascii_graphic() && !c.is_ascii_alphanumeric()
}

/// Whether a keyword's field is a number.
fn is_number_field(keyword: &str) -> bool {
    let upper = keyword.to_ascii_uppercase();
    !matches!(
        upper.as_str(),
        "A.D."
            | "A.M."
            | "AD"
            | "AM"
            | "B.C."
            | "BC"
            | "DAY"
            | "DY"
            | "FX"
            | "MONTH"
            | "MON"
            | "OF"
            | "P.M."
            | "PM"
            | "RM"
            | "TZ"
    )
}

/// PostgreSQL's `is_next_separator`: whether the field at `index` is followed by
/// something other than digits (so its number takes every digit there is).
fn next_is_separator(pieces: &[Piece], index: usize) -> bool {
    if let Some(Piece::Field {
        ordinal: Some(_), ..
    }) = pieces.get(index)
    {
        return true;
    }
    match pieces.get(index + 1) {
        None => true,
        Some(Piece::Field { keyword, .. }) => !is_number_field(keyword),
        Some(Piece::Text(c) | Piece::Quoted(c)) => !c.is_ascii_digit(),
    }
}

/// The text not read yet.
struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    fn skip_one(&mut self) {
        let mut chars = self.rest.chars();
        chars.next();
        self.rest = chars.as_str();
    }

    fn skip_spaces(&mut self) -> i32 {
        let before = self.rest.len();
        self.rest = self.rest.trim_start_matches(is_space);
        (before - self.rest.len()) as i32
    }

    /// PostgreSQL's `from_char_parse_int_len`: a number of at most `width` characters
    /// (every digit there is when `greedy`); the value and the characters consumed.
    fn number(
        &mut self,
        width: usize,
        greedy: bool,
        name: &str,
    ) -> Result<(i32, usize), SluiceError> {
        let start = self.rest;
        let after_spaces = start.trim_start_matches(is_space);
        let copy: String = after_spaces.chars().take(width).collect();
        let (value, rest) = if greedy {
            let (value, used) = strtol(start);
            (value, &start[used..])
        } else {
            let available = copy.chars().count();
            if available < width {
                return Err(invalid_format(format!(
                    "source string too short for \"{name}\" formatting field"
                )));
            }
            let (value, used) = strtol(&copy);
            if used > 0 && used < width {
                return Err(invalid_format(format!(
                    "invalid value \"{copy}\" for \"{name}\""
                )));
            }
            (value, &after_spaces[used..])
        };
        if rest.len() == start.len() {
            return Err(invalid_format(format!(
                "invalid value \"{copy}\" for \"{name}\""
            )));
        }
        let value = value.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| {
            out_of_range(format!(
                "value for \"{name}\" in source string is out of range"
            ))
        })?;
        self.rest = rest;
        Ok((value, start.len() - rest.len()))
    }

    /// PostgreSQL's `from_char_seq_search`: the index of the first of `names` the text
    /// starts with (ignoring ASCII case).
    fn name(&mut self, names: &[&str], field: &str) -> Result<usize, SluiceError> {
        let found = names.iter().position(|name| {
            self.rest.len() >= name.len()
                && self.rest.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        });
        match found {
            Some(index) => {
                self.rest = &self.rest[names[index].len()..];
                Ok(index)
            }
            None => {
                let word = self.rest.split(is_space).next().unwrap_or("");
                Err(invalid_format(format!(
                    "invalid value \"{word}\" for \"{field}\""
                )))
            }
        }
    }

    /// Skips a `TH`/`th` ordinal suffix's two characters when the pattern has one.
    fn skip_ordinal(&mut self, ordinal: Option<bool>) {
        if ordinal.is_some() {
            self.skip_one();
            self.skip_one();
        }
    }
}

/// C's `strtol` in base 10: spaces, a sign, digits; the value (`None` past 64 bits)
/// and the bytes read (0 without a digit).
fn strtol(text: &str) -> (Option<i64>, usize) {
    let trimmed = text.trim_start_matches(is_space);
    let mut used = text.len() - trimmed.len();
    let bytes = trimmed.as_bytes();
    let mut at = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            at = 1;
            true
        }
        Some(b'+') => {
            at = 1;
            false
        }
        _ => false,
    };
    let digits = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return (Some(0), 0);
    }
    used += at + digits;
    let value = trimmed[at..at + digits]
        .parse::<i64>()
        .ok()
        .map(|v| if negative { -v } else { v });
    (value, used)
}

/// `*slot = value`, refused when the pattern gave the field another value before.
fn set(slot: &mut i32, value: i32, name: &str) -> Result<(), SluiceError> {
    if *slot != 0 && *slot != value {
        return Err(invalid_format(format!(
            "conflicting values for \"{name}\" field in formatting string"
        )));
    }
    *slot = value;
    Ok(())
}

/// PostgreSQL's `adjust_partial_year_to_2020`.
fn nearest_2020(year: i32) -> i32 {
    match year {
        ..70 => year + 2000,
        70..100 => year + 1900,
        100..520 => year + 2000,
        520..1000 => year + 1000,
        _ => year,
    }
}

/// PostgreSQL's `DCH_from_char`: the fields `pieces` read from `text`.
fn read_fields(text: &str, pieces: &[Piece]) -> Result<Fields, SluiceError> {
    let mut f = Fields::default();
    let mut reader = Reader { rest: text };
    let mut fixed = false;
    let mut extra_skip = 0;
    for (index, piece) in pieces.iter().enumerate() {
        if reader.rest.is_empty() {
            break;
        }
        let is_fx =
            matches!(piece, Piece::Field { keyword, .. } if keyword.eq_ignore_ascii_case("FX"));
        if !fixed && !is_fx && (matches!(piece, Piece::Field { .. }) || index == 0) {
            extra_skip += reader.skip_spaces();
        }
        let (keyword, fill, ordinal) = match piece {
            Piece::Text(c) if is_space(*c) || is_separator(*c) => {
                if fixed {
                    reader.skip_one();
                } else {
                    extra_skip -= 1;
                    if reader
                        .rest
                        .starts_with(|c: char| is_space(c) || is_separator(c))
                    {
                        reader.skip_one();
                        extra_skip += 1;
                    }
                }
                continue;
            }
            Piece::Text(_) | Piece::Quoted(_) => {
                if !fixed && extra_skip > 0 {
                    extra_skip -= 1;
                } else {
                    reader.skip_one();
                }
                continue;
            }
            Piece::Field {
                keyword,
                fill,
                ordinal,
            } => (*keyword, *fill, *ordinal),
        };
        let greedy = fill || next_is_separator(pieces, index);
        let upper = keyword.to_ascii_uppercase();
        let name = keyword;
        let number = |reader: &mut Reader, width: usize| reader.number(width, greedy, name);
        let mut ignored = 0;
        match upper.as_str() {
            "FX" => fixed = true,
            "A.M." | "P.M." => {
                let index = reader.name(&["a.m.", "p.m.", "A.M.", "P.M."], name)?;
                set(&mut f.pm, (index % 2) as i32, name)?;
                f.twelve_hour = true;
            }
            "AM" | "PM" => {
                let index = reader.name(&["am", "pm", "AM", "PM"], name)?;
                set(&mut f.pm, (index % 2) as i32, name)?;
                f.twelve_hour = true;
            }
            "HH" | "HH12" => {
                let (value, _) = number(&mut reader, 2)?;
                set(&mut f.hh, value, name)?;
                f.twelve_hour = true;
                reader.skip_ordinal(ordinal);
            }
            "HH24" => {
                let (value, _) = number(&mut reader, 2)?;
                set(&mut f.hh, value, name)?;
                reader.skip_ordinal(ordinal);
            }
            "MI" | "SS" | "SSSS" | "SSSSS" | "MM" | "DDD" | "DD" | "D" | "WW" | "CC" | "W"
            | "J" | "Q" => {
                let (value, _) = number(&mut reader, keyword.len())?;
                let slot = match upper.as_str() {
                    "MI" => &mut f.mi,
                    "SS" => &mut f.ss,
                    "SSSS" | "SSSSS" => &mut f.ssss,
                    "MM" => &mut f.mm,
                    "DDD" => &mut f.ddd,
                    "DD" => &mut f.dd,
                    "D" => &mut f.d,
                    "WW" => &mut f.ww,
                    "CC" => &mut f.cc,
                    "W" => &mut f.w,
                    "J" => &mut f.j,
                    // `Q` is read and ignored: which date of the quarter is unclear.
                    _ => &mut ignored,
                };
                set(slot, value, name)?;
                reader.skip_ordinal(ordinal);
            }
            "MS" => {
                let (value, used) = number(&mut reader, 3)?;
                set(&mut f.ms, value, name)?;
                f.ms *= match used {
                    1 => 100,
                    2 => 10,
                    _ => 1,
                };
                reader.skip_ordinal(ordinal);
            }
            "US" | "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                let width = match upper.as_bytes() {
                    [b'F', b'F', digit] => usize::from(digit - b'0'),
                    _ => 6,
                };
                let (value, used) = number(&mut reader, width)?;
                set(&mut f.us, value, name)?;
                f.us *= 10i32.pow(6u32.saturating_sub(used.clamp(1, 6) as u32));
                reader.skip_ordinal(ordinal);
            }
            "A.D." | "B.C." => {
                let index = reader.name(&["a.d.", "b.c.", "A.D.", "B.C."], name)?;
                set(&mut f.bc, (index % 2) as i32, name)?;
            }
            "AD" | "BC" => {
                let index = reader.name(&["ad", "bc", "AD", "BC"], name)?;
                set(&mut f.bc, (index % 2) as i32, name)?;
            }
            "MONTH" => {
                let index = reader.name(&MONTHS, name)?;
                set(&mut f.mm, index as i32 + 1, name)?;
            }
            "MON" => {
                let abbreviations: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                let index = reader.name(&abbreviations, name)?;
                set(&mut f.mm, index as i32 + 1, name)?;
            }
            "DAY" => {
                let index = reader.name(&DAYS, name)?;
                set(&mut f.d, index as i32 + 1, name)?;
            }
            "DY" => {
                let abbreviations: Vec<&str> = DAYS.iter().map(|d| &d[..3]).collect();
                let index = reader.name(&abbreviations, name)?;
                set(&mut f.d, index as i32 + 1, name)?;
            }
            "RM" => {
                let numerals: Vec<&str> = ROMAN.iter().rev().copied().collect();
                let index = reader.name(&numerals, name)?;
                set(&mut f.mm, 12 - index as i32, name)?;
            }
            "Y,YYY" => {
                let (value, used) = thousands_year(reader.rest)
                    .ok_or_else(|| invalid_format("invalid input string for \"Y,YYY\"".into()))?;
                set(&mut f.year, value, name)?;
                f.year_digits = 4;
                reader.rest = &reader.rest[used..];
                reader.skip_ordinal(ordinal);
            }
            "YYYY" | "YYY" | "YY" | "Y" => {
                let (value, used) = number(&mut reader, keyword.len())?;
                set(&mut f.year, value, name)?;
                let digits = keyword.len() as i32;
                if digits < 4 && used < 4 {
                    f.year = nearest_2020(f.year);
                }
                f.year_digits = digits;
                reader.skip_ordinal(ordinal);
            }
            "TZ" | "OF" => {
                return Err(SluiceError::not_supported(format!(
                    "formatting field \"{keyword}\" is only supported in to_char"
                )));
            }
            _ => {
                return Err(SluiceError::not_supported(format!(
                    "formatting field \"{keyword}\" is not supported by Sluice's \
                     to_timestamp and to_date (ISO week dates and zone offsets)"
                )));
            }
        }
        if !fixed {
            extra_skip = reader.skip_spaces();
        }
    }
    Ok(f)
}

/// C's `sscanf(s, "%d,%03d%n")`: thousands, a comma, up to three characters of
/// digits; the year and the bytes read.
fn thousands_year(text: &str) -> Option<(i32, usize)> {
    let (thousands, used) = strtol(text);
    if used == 0 {
        return None;
    }
    let rest = text[used..].strip_prefix(',')?;
    let spaces = rest.len() - rest.trim_start_matches(is_space).len();
    let window: String = rest[spaces..].chars().take(3).collect();
    let (units, units_used) = strtol(&window);
    if units_used == 0 {
        return None;
    }
    let year = thousands?.checked_mul(1000)?.checked_add(units?)?;
    Some((i32::try_from(year).ok()?, used + 1 + spaces + units_used))
}

/// The date and time of `tm` (for tests).
#[cfg(test)]
fn naive(tm: &Tm) -> Option<chrono::NaiveDateTime> {
    use chrono::NaiveDate;
    NaiveDate::from_ymd_opt(tm.year, tm.month as u32, tm.day as u32)?.and_hms_micro_opt(
        tm.hour as u32,
        tm.minute as u32,
        tm.second as u32,
        tm.micros as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, pattern: &str) -> String {
        let micros = read_timestamp(text, pattern).unwrap();
        DateTime::from_timestamp_micros(micros)
            .unwrap()
            .naive_utc()
            .to_string()
    }

    /// PostgreSQL 15's answers (`SELECT to_timestamp(text, pattern)` in UTC).
    #[test]
    fn reads_as_postgres() {
        let cases = [
            (
                "2024-06-01 12:02:03",
                "YYYY-MM-DD HH24:MI:SS",
                "2024-06-01 12:02:03",
            ),
            ("  2000    JUN", "YYYY MON", "2000-06-01 00:00:00"),
            ("2000 - JUN", "YYYY-MON", "2000-06-01 00:00:00"),
            ("2000JUN", "YYYY///MON", "2000-06-01 00:00:00"),
            ("2000/JUN", "YYYY MON", "2000-06-01 00:00:00"),
            ("5 March 2024", "FMDD Month YYYY", "2024-03-05 00:00:00"),
            ("20240229", "YYYYMMDD", "2024-02-29 00:00:00"),
            ("99-1-5", "YY-MM-DD", "1999-01-05 00:00:00"),
            ("2024-060", "YYYY-DDD", "2024-02-29 00:00:00"),
            ("12:30 PM", "HH:MI AM", "0000-01-01 12:30:00"),
            ("12:30 am", "HH12:MI PM", "0000-01-01 00:30:00"),
            ("1,999 12 31", "Y,YYY MM DD", "1999-12-31 00:00:00"),
            (
                "2024-01-02 03:04:05.5",
                "YYYY-MM-DD HH24:MI:SS.MS",
                "2024-01-02 03:04:05.500",
            ),
            (
                "2024-01-02 03:04:05.12",
                "YYYY-MM-DD HH24:MI:SS.US",
                "2024-01-02 03:04:05.120",
            ),
            ("2451545", "J", "2000-01-01 00:00:00"),
            ("2024 xii", "YYYY RM", "2024-12-01 00:00:00"),
            ("21 05", "CC YY", "2005-01-01 00:00:00"),
            (
                "2024-01-01T10:00",
                "YYYY-MM-DD\"T\"HH24:MI",
                "2024-01-01 10:00:00",
            ),
            ("2024-01-01 garbage", "YYYY-MM-DD", "2024-01-01 00:00:00"),
            ("2024", "YYYY-MM-DD", "2024-01-01 00:00:00"),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(at(text, pattern), expected, "{text} / {pattern}");
        }
    }

    #[test]
    fn refuses_as_postgres() {
        let code = |text: &str, pattern: &str| {
            read_timestamp(text, pattern)
                .map(|_| String::new())
                .unwrap_or_else(|e| e.sqlstate().to_string())
        };
        assert_eq!(code("2024-02-30", "YYYY-MM-DD"), "22008");
        assert_eq!(code("2024-13-01", "YYYY-MM-DD"), "22008");
        assert_eq!(code("13:00 PM", "HH:MI AM"), "22007");
        assert_eq!(code("2024-Foo-01", "YYYY-Mon-DD"), "22007");
        assert_eq!(code("202", "YYYYMMDD"), "22007");
        assert_eq!(code("2024-1x-01", "YYYYMMDD"), "22007");
        assert_eq!(code("2024 2025", "YYYY YYYY"), "22007");
        assert_eq!(code("060", "DDD"), "22007");
        assert_eq!(code("2024", "IYYY"), "0A000");
        assert_eq!(code("UTC", "TZ"), "0A000");
        assert_eq!(
            naive(&read("2024-02-29", "YYYY-MM-DD").unwrap()),
            chrono::NaiveDate::from_ymd_opt(2024, 2, 29).and_then(|d| d.and_hms_opt(0, 0, 0))
        );
    }

    #[test]
    fn julian_days_round_trip() {
        for julian in [0, 1_721_426, 2_451_545, 2_460_000, 5_373_484] {
            let (year, month, day) = julian_to_date(julian);
            assert_eq!(date_to_julian(year, month, day), julian);
        }
        assert_eq!(julian_to_date(2_451_545), (2000, 1, 1));
        assert_eq!(read_date("1970-01-02", "YYYY-MM-DD").unwrap(), 1);
    }
}
