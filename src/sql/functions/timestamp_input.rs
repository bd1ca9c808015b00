//! Date and timestamp text read as PostgreSQL 15 reads it (`date_in`, `timestamp_in`,
//! `timestamptz_in`, with `DateStyle = 'ISO, MDY'`): `2020-04-15 12:02` (no seconds),
//! `2020-04-15T12:02`, `2020-4-5 1:2:3`, `20200415 120203`, `Apr 15 2020 12:02 PM`,
//! `04/15/2020`, `2020-04-15 12:02:03 +05:30`, `… Europe/Paris`, `… EST`, `… BC`,
//! `epoch`.
//!
//! Arrow's parser refused most of these and read others differently: a zone written in
//! text read as `timestamp` (without time zone) converted the time to UTC where
//! PostgreSQL ignores the zone, and digits of a second beyond the sixth were cut where
//! PostgreSQL rounds. The analyzer rule of [`super::text_input`] replaces every cast from text to
//! `date` or a timestamp — written ones, typed literals (`TIMESTAMP '…'`) and the casts
//! `INSERT` and comparisons add — by these readers.
//!
//! The text is split into fields as PostgreSQL's `ParseDateTime` does (a date, a time,
//! numbers, words, signed offsets) and the fields decoded as `DecodeDateTime` does:
//! a date is year first when its first number has three digits or more, else month,
//! day, year (`MDY`); a two-digit year is 1970–2069; a month may be named; week days
//! are ignored; `AM`/`PM`, `BC`/`AD`. A zone is an offset (`+05`, `+0530`, `-05:30`),
//! an abbreviation of PostgreSQL's default set ([`super::zone_abbreviations`]) or a
//! zone name (`Europe/Paris`); in a named zone, a local time that occurs twice or
//! never is read as standard time, as PostgreSQL reads it. `timestamp` and `date`
//! ignore the zone; `timestamptz` without one is UTC (the only session time zone).
//!
//! Refused as in PostgreSQL: malformed text (`22007 invalid input syntax for type
//! timestamp: "…"`), impossible fields (`22008 date/time field value out of range`),
//! unknown zones (`22023 time zone "…" not recognized`) and offsets beyond 15:59:59
//! (`22009`). Refused because Sluice cannot hold or fix them (`0A000`): `infinity`,
//! `now`/`today`/`tomorrow`/`yesterday` (their value depends on when the text is read;
//! `now()` and `current_date` say so), and abbreviations whose offset changed over time.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};

use super::zone_abbreviations;
use crate::error::{SluiceError, sqlstate};
use crate::sql::types::UTC;

/// What the text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Date,
    Timestamp,
    Timestamptz,
}

impl Kind {
    /// The type's name in PostgreSQL's messages.
    fn name(self) -> &'static str {
        match self {
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Timestamptz => "timestamp with time zone",
        }
    }
}

/// Texts (any text type) read as `kind`: days since the epoch for a date, else
/// microseconds (local time for `timestamp`, UTC for `timestamptz`).
pub fn read_all(texts: &ArrayRef, kind: Kind) -> Result<ArrayRef> {
    let texts = cast(texts, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let refused = |e: SluiceError| DataFusionError::External(Box::new(e));
    if kind == Kind::Date {
        let mut out = Date32Builder::with_capacity(texts.len());
        for text in texts.iter() {
            out.append_option(text.map(|t| read_date(t).map_err(refused)).transpose()?);
        }
        return Ok(Arc::new(out.finish()));
    }
    let mut out = TimestampMicrosecondBuilder::with_capacity(texts.len());
    for text in texts.iter() {
        out.append_option(
            text.map(|t| read_timestamp(t, kind).map_err(refused))
                .transpose()?,
        );
    }
    let values = out.finish();
    Ok(match kind {
        Kind::Timestamptz => Arc::new(values.with_timezone(UTC)),
        _ => Arc::new(values),
    })
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// `text` as a date: days since 1970-01-01 (a time and a zone in it are ignored).
pub fn read_date(text: &str) -> Result<i32, SluiceError> {
    let fields = decode(text, Kind::Date)?;
    let date = fields.date(text)?;
    fields.time_micros(text)?;
    i32::try_from((date - epoch()).num_days()).map_err(|_| out_of_range("date", text))
}

/// `text` as a timestamp of `kind`, in microseconds since the epoch: local time for
/// `timestamp` (a zone in the text is ignored), UTC for `timestamptz`.
pub fn read_timestamp(text: &str, kind: Kind) -> Result<i64, SluiceError> {
    let fields = decode(text, kind)?;
    let date = fields.date(text)?;
    let days = (date - epoch()).num_days();
    let time = fields.time_micros(text)?;
    let local = days
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(time))
        .ok_or_else(|| out_of_range(kind.name(), text))?;
    let zone_offset = match (&fields.zone, kind) {
        (Some(zone), Kind::Timestamptz) => zone.offset_at(local),
        _ => 0,
    };
    local
        .checked_sub(i64::from(zone_offset) * MICROS_PER_SECOND)
        .filter(|_| (MIN_YEAR..=MAX_YEAR).contains(&date.year()))
        .ok_or_else(|| out_of_range(kind.name(), text))
}

/// PostgreSQL's range of timestamps, in years (4714 BC is year -4713).
const MIN_YEAR: i32 = -4713;
const MAX_YEAR: i32 = 294_276;

fn epoch() -> NaiveDate {
    NaiveDate::default()
}

/// A zone written in the text.
#[derive(Debug, Clone)]
enum Zone {
    /// Seconds east of Greenwich.
    Fixed(i32),
    /// A zone of the tz database.
    Named(Tz),
}

impl Zone {
    /// Seconds east of Greenwich at local time `local` (µs): in a named zone, a local
    /// time that occurs twice or never is standard time, as PostgreSQL reads it.
    fn offset_at(&self, local: i64) -> i32 {
        let tz = match self {
            Zone::Fixed(seconds) => return *seconds,
            Zone::Named(tz) => tz,
        };
        let Some(naive) = naive_time(local) else {
            return 0;
        };
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(at) => at.offset().fix().local_minus_utc(),
            // Twice (clocks set back): the later instant, standard time.
            LocalResult::Ambiguous(first, second) => first
                .offset()
                .fix()
                .local_minus_utc()
                .min(second.offset().fix().local_minus_utc()),
            // Never (clocks set forward): the offset before the change.
            LocalResult::None => tz
                .offset_from_utc_datetime(&(naive - Duration::days(1)))
                .fix()
                .local_minus_utc(),
        }
    }
}

fn naive_time(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}

/// The fields of a date/time text, decoded.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i64>,
    /// Whether the year was written with two digits (1970–2069).
    two_digit_year: bool,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    minute: i64,
    second: i64,
    /// Microseconds of the second, rounded from its fraction.
    micros: i64,
    /// `Some(true)` for PM, `Some(false)` for AM.
    pm: Option<bool>,
    bc: bool,
    zone: Option<Zone>,
    /// `epoch`: no other field may be written.
    epoch: bool,
}

impl Fields {
    /// The date, with the year's era and century applied ([`decode`] saw to it that
    /// the date is complete, or `epoch`).
    fn date(&self, text: &str) -> Result<NaiveDate, SluiceError> {
        let (Some(mut year), Some(month), Some(day)) = (self.year, self.month, self.day) else {
            return Ok(epoch());
        };
        if self.two_digit_year {
            year += if year < 70 { 2000 } else { 1900 };
        }
        if self.bc {
            if year <= 0 {
                return Err(field_out_of_range(text));
            }
            year = 1 - year;
        } else if year <= 0 {
            return Err(field_out_of_range(text));
        }
        let year = i32::try_from(year).map_err(|_| field_out_of_range(text))?;
        let (month, day) = (
            u32::try_from(month).map_err(|_| field_out_of_range(text))?,
            u32::try_from(day).map_err(|_| field_out_of_range(text))?,
        );
        NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| field_out_of_range(text))
    }

    /// Microseconds since midnight (24:00:00 and a leap second carry over), or the
    /// error for impossible fields.
    fn time_micros(&self, text: &str) -> Result<i64, SluiceError> {
        let mut hour = self.hour.unwrap_or(0);
        match self.pm {
            Some(_) if !(1..=12).contains(&hour) => return Err(field_out_of_range(text)),
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
        let beyond_midnight = hour == 24 && (self.minute, self.second, self.micros) != (0, 0, 0);
        if hour > 24 || beyond_midnight || self.minute > 59 || self.second > 60 {
            return Err(field_out_of_range(text));
        }
        Ok(((hour * 60 + self.minute) * 60 + self.second) * MICROS_PER_SECOND + self.micros)
    }
}

/// A field of the text, as PostgreSQL's `ParseDateTime` splits it.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    /// Digits, with `.` and a fraction possibly.
    Number(&'a str),
    /// Numbers or a month name joined by one of `-`, `/`, `.`: a date.
    Date(&'a str, char),
    /// Numbers joined by `:` (the last possibly with a fraction): a time.
    Time(&'a str),
    /// Letters (a month, a week day, `AM`, a zone abbreviation…), or a zone name
    /// with `/` (`America/New_York`).
    Word(&'a str),
    /// `+` or `-` and digits: a zone offset.
    Offset(&'a str),
}

fn syntax_error(kind: Kind, text: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {}: \"{text}\"", kind.name()),
    )
}

fn field_out_of_range(text: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{text}\""),
    )
}

fn out_of_range(type_name: &str, text: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::DATETIME_FIELD_OVERFLOW,
        format!("{type_name} out of range: \"{text}\""),
    )
}

/// `text` split into fields; `None` for a character no field takes.
fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let run = |from: usize, accept: &dyn Fn(u8) -> bool| {
        let mut end = from;
        while end < bytes.len() && accept(bytes[end]) {
            end += 1;
        }
        end
    };
    while at < bytes.len() {
        let c = bytes[at];
        if c.is_ascii_whitespace() || c == b',' {
            at += 1;
        } else if c.is_ascii_digit() {
            let digits = run(at, &|b| b.is_ascii_digit());
            let next = bytes.get(digits).copied();
            let (end, token) = match next {
                Some(b':') => {
                    let end = run(digits, &|b| b.is_ascii_digit() || b == b':' || b == b'.');
                    (end, Token::Time(&text[at..end]))
                }
                Some(separator @ (b'-' | b'/' | b'.'))
                    if bytes
                        .get(digits + 1)
                        .is_some_and(|b| b.is_ascii_alphanumeric()) =>
                {
                    // Groups of digits or of letters, each after the separator.
                    let mut end = digits;
                    while bytes.get(end) == Some(&separator)
                        && let Some(&first) = bytes.get(end + 1)
                        && first.is_ascii_alphanumeric()
                    {
                        end = if first.is_ascii_digit() {
                            run(end + 1, &|b| b.is_ascii_digit())
                        } else {
                            run(end + 1, &|b| b.is_ascii_alphabetic())
                        };
                    }
                    let field = &text[at..end];
                    // `12.5` is a number with a fraction, `2020.04.15` a date.
                    if separator == b'.' && field.matches('.').count() == 1 {
                        (end, Token::Number(field))
                    } else {
                        (end, Token::Date(field, char::from(separator)))
                    }
                }
                _ => (digits, Token::Number(&text[at..digits])),
            };
            out.push(token);
            at = end;
        } else if c.is_ascii_alphabetic() {
            let letters = run(at, &|b| b.is_ascii_alphabetic());
            let end = if bytes.get(letters) == Some(&b'/') {
                run(at, &|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'-')
                })
            } else {
                letters
            };
            out.push(Token::Word(&text[at..end]));
            at = end;
        } else if (c == b'+' || c == b'-') && bytes.get(at + 1).is_some_and(|b| b.is_ascii_digit())
        {
            let end = run(at + 1, &|b| b.is_ascii_digit() || b == b':');
            out.push(Token::Offset(&text[at..end]));
            at = end;
        } else if (c == b'+' || c == b'-')
            && bytes.get(at + 1).is_some_and(|b| b.is_ascii_alphabetic())
        {
            // `-infinity`
            let end = run(at + 1, &|b| b.is_ascii_alphabetic());
            out.push(Token::Word(&text[at..end]));
            at = end;
        } else {
            return None;
        }
    }
    Some(out)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The month (1–12) `word` names: `apr`, `April`, `sept`.
fn month_named(word: &str) -> Option<i64> {
    let word = word.to_ascii_lowercase();
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (0..12)
        .find(|&m| word == MONTHS[m] || word == FULL[m] || (m == 8 && word == "sept"))
        .map(|m| m as i64 + 1)
}

fn is_week_day(word: &str) -> bool {
    let word = word.to_ascii_lowercase();
    [
        ("sun", "sunday"),
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
    ]
    .iter()
    .any(|(short, full)| {
        word == *short || word == *full || (word.len() > 3 && full.starts_with(word.as_str()))
    })
}

/// The fields of `text` (see the module's documentation).
fn decode(text: &str, kind: Kind) -> Result<Fields, SluiceError> {
    let syntax = || syntax_error(kind, text);
    let tokens = tokens(text.trim()).ok_or_else(syntax)?;
    let mut fields = Fields::default();
    // Numbers not yet placed, with a month written as a word (`Apr 15 2020`).
    let mut loose: Vec<&str> = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Date(field, separator) => {
                if fields.month.is_some() {
                    return Err(syntax());
                }
                read_date_field(&mut fields, field, *separator).ok_or_else(syntax)?;
            }
            Token::Time(field) => {
                if fields.hour.is_some() {
                    return Err(syntax());
                }
                read_time_field(&mut fields, field).ok_or_else(syntax)?;
            }
            Token::Number(digits) => {
                let whole = digits.split('.').next().unwrap_or_default();
                let has_date = fields.month.is_some() && fields.day.is_some();
                if fields.month.is_none()
                    && fields.day.is_none()
                    && whole.len() == 8
                    && !digits.contains('.')
                {
                    // `20200415`
                    fields.year = Some(number(&whole[..4]).ok_or_else(syntax)?);
                    fields.month = Some(number(&whole[4..6]).ok_or_else(syntax)?);
                    fields.day = Some(number(&whole[6..]).ok_or_else(syntax)?);
                } else if has_date
                    && fields.year.is_some()
                    && fields.hour.is_none()
                    && whole.len() == 6
                {
                    // `120203` after a date: the time, as ISO 8601's basic form.
                    fields.hour = Some(number(&whole[..2]).ok_or_else(syntax)?);
                    fields.minute = number(&whole[2..4]).ok_or_else(syntax)?;
                    fields.second = number(&whole[4..]).ok_or_else(syntax)?;
                    fields.micros = fraction_micros(&digits[6..]).ok_or_else(syntax)?;
                    carry_second(&mut fields);
                } else if digits.contains('.') {
                    return Err(syntax());
                } else {
                    loose.push(digits);
                }
            }
            Token::Word(word) => read_word(&mut fields, word, index, &tokens, kind, text)?,
            Token::Offset(offset) => {
                if fields.zone.is_some() || (fields.hour.is_none() && fields.month.is_none()) {
                    return Err(syntax());
                }
                fields.zone = Some(Zone::Fixed(
                    offset_seconds(offset, text).ok_or_else(syntax)??,
                ));
            }
        }
    }
    place_loose_numbers(&mut fields, &loose).ok_or_else(syntax)?;
    if fields.epoch && (fields.year.is_some() || fields.hour.is_some() || !loose.is_empty()) {
        return Err(syntax());
    }
    if !fields.epoch && (fields.year.is_none() || fields.month.is_none() || fields.day.is_none()) {
        return Err(syntax());
    }
    Ok(fields)
}

/// Numbers written beside a month name: the one of three digits or more is the
/// year, the other the day (`Apr 15 2020`, `15 April 2020`, `April 15, 20`).
fn place_loose_numbers(fields: &mut Fields, loose: &[&str]) -> Option<()> {
    for digits in loose {
        if fields.month.is_none() || (fields.day.is_some() && fields.year.is_some()) {
            return None;
        }
        let value = number(digits)?;
        if digits.len() >= 3 {
            if fields.year.is_some() {
                return None;
            }
            fields.year = Some(value);
        } else if fields.day.is_none() {
            fields.day = Some(value);
        } else {
            fields.year = Some(value);
            fields.two_digit_year = true;
        }
    }
    Some(())
}

fn number(digits: &str) -> Option<i64> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.parse().ok()
}

/// Microseconds of `.ddd` (empty: none), rounded half to even as PostgreSQL's `rint`.
fn fraction_micros(fraction: &str) -> Option<i64> {
    if fraction.is_empty() {
        return Some(0);
    }
    let digits = fraction.strip_prefix('.')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: f64 = format!("0.{digits}").parse().ok()?;
    Some((value * 1e6).round_ties_even() as i64)
}

/// A fraction that rounded to a whole second carries into the seconds.
fn carry_second(fields: &mut Fields) {
    if fields.micros >= MICROS_PER_SECOND {
        fields.micros -= MICROS_PER_SECOND;
        fields.second += 1;
    }
}

/// `Y-M-D` (first number of three digits or more), `M/D/Y`, or with a month name
/// (`15-Apr-2020`).
fn read_date_field(fields: &mut Fields, field: &str, separator: char) -> Option<()> {
    let parts: Vec<&str> = field.split(separator).collect();
    let [first, second, third] = parts.as_slice() else {
        return None;
    };
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let year = |fields: &mut Fields, digits: &str| -> Option<()> {
        fields.year = Some(number(digits)?);
        fields.two_digit_year = digits.len() <= 2;
        Some(())
    };
    match (numeric(first), numeric(second), numeric(third)) {
        (true, true, true) if first.len() >= 3 => {
            year(fields, first)?;
            fields.month = Some(number(second)?);
            fields.day = Some(number(third)?);
        }
        (true, true, true) => {
            fields.month = Some(number(first)?);
            fields.day = Some(number(second)?);
            year(fields, third)?;
        }
        (true, false, true) if first.len() >= 3 => {
            year(fields, first)?;
            fields.month = Some(month_named(second)?);
            fields.day = Some(number(third)?);
        }
        (true, false, true) => {
            fields.day = Some(number(first)?);
            fields.month = Some(month_named(second)?);
            year(fields, third)?;
        }
        (false, true, true) => {
            fields.month = Some(month_named(first)?);
            fields.day = Some(number(second)?);
            year(fields, third)?;
        }
        _ => return None,
    }
    Some(())
}

/// `H:M`, `H:M:S`, `H:M:S.f`.
fn read_time_field(fields: &mut Fields, field: &str) -> Option<()> {
    let parts: Vec<&str> = field.split(':').collect();
    let (hour, minute, second) = match parts.as_slice() {
        [hour, minute] => (hour, minute, "0"),
        [hour, minute, second] => (hour, minute, *second),
        _ => return None,
    };
    if hour.contains('.') || minute.contains('.') {
        return None;
    }
    fields.hour = Some(number(hour)?);
    fields.minute = number(minute)?;
    let (whole, fraction) = second.split_at(second.find('.').unwrap_or(second.len()));
    fields.second = number(whole)?;
    fields.micros = fraction_micros(fraction)?;
    carry_second(fields);
    Some(())
}

/// Seconds east of `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS`, `+HHMMSS` (west for `-`);
/// `None` for another form, an error beyond 15:59:59 as PostgreSQL.
fn offset_seconds(offset: &str, text: &str) -> Option<Result<i32, SluiceError>> {
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let body = &offset[1..];
    let parts: Vec<&str> = body.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [digits] if digits.len() <= 2 => (number(digits)?, 0, 0),
        [digits] if digits.len() == 4 => (number(&digits[..2])?, number(&digits[2..])?, 0),
        [digits] if digits.len() == 6 => (
            number(&digits[..2])?,
            number(&digits[2..4])?,
            number(&digits[4..])?,
        ),
        [h, m] => (number(h)?, number(m)?, 0),
        [h, m, s] => (number(h)?, number(m)?, number(s)?),
        _ => return None,
    };
    if minutes > 59 || seconds > 59 {
        return Some(Err(field_out_of_range(text)));
    }
    if hours > 15 {
        return Some(Err(SluiceError::coded(
            sqlstate::INVALID_TIME_ZONE_DISPLACEMENT_VALUE,
            format!("time zone displacement out of range: \"{text}\""),
        )));
    }
    Some(Ok(sign
        * i32::try_from((hours * 60 + minutes) * 60 + seconds)
            .ok()?))
}

/// A word of the text: a month, a week day, `AM`/`PM`, `BC`/`AD`, the `T` of ISO 8601,
/// a special value or a zone.
fn read_word(
    fields: &mut Fields,
    word: &str,
    index: usize,
    tokens: &[Token<'_>],
    kind: Kind,
    text: &str,
) -> Result<(), SluiceError> {
    let syntax = || syntax_error(kind, text);
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        // `2020-04-15T12:02`: the T between a date and a time.
        "t" if matches!(
            tokens.get(index + 1),
            Some(Token::Time(_) | Token::Number(_))
        ) => {}
        "am" | "pm" => {
            if fields.pm.is_some() {
                return Err(syntax());
            }
            fields.pm = Some(lower.starts_with('p'));
        }
        "bc" => fields.bc = true,
        "ad" => {}
        "epoch" if tokens.len() == 1 => fields.epoch = true,
        "infinity" | "+infinity" | "-infinity" => {
            return Err(SluiceError::not_supported(format!(
                "\"{word}\" is not supported: Sluice's {} values are finite",
                kind.name()
            )));
        }
        "now" | "today" | "tomorrow" | "yesterday" | "allballs" => {
            return Err(SluiceError::not_supported(format!(
                "\"{word}\" as {} text is not supported: its value depends on when it is \
                 read, and a view must read a row the same way every time; use now() or \
                 current_date",
                kind.name()
            )));
        }
        _ => {
            if let Some(month) = month_named(word) {
                if fields.month.is_some() {
                    return Err(syntax());
                }
                fields.month = Some(month);
            } else if is_week_day(word) {
            } else {
                if fields.zone.is_some() {
                    return Err(syntax());
                }
                fields.zone = Some(zone_named(word).ok_or_else(syntax)??);
            }
        }
    }
    Ok(())
}

/// The zone `name` stands for: an abbreviation of PostgreSQL's default set, else a
/// zone of the tz database. `None` for an unknown word without `/` (not a zone, as
/// PostgreSQL says: a syntax error); an error for an unknown name with `/`.
fn zone_named(name: &str) -> Option<Result<Zone, SluiceError>> {
    if let Some(seconds) = zone_abbreviations::fixed_offset(name) {
        return Some(Ok(Zone::Fixed(seconds)));
    }
    if let Some(zone) = zone_abbreviations::dynamic_zone(name) {
        return Some(Err(SluiceError::not_supported(format!(
            "time zone abbreviation \"{name}\" is not supported: its offset changed over \
             time; write the offset or the zone ({zone})"
        ))));
    }
    match Tz::from_str(name).or_else(|_| Tz::from_str(&capitalized(name))) {
        Ok(zone) => Some(Ok(Zone::Named(zone))),
        Err(_) if name.contains('/') => Some(Err(SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("time zone \"{}\" not recognized", name.to_ascii_lowercase()),
        ))),
        Err(_) => None,
    }
}

/// A zone name as the tz database writes most (`america/new_york` →
/// `America/New_York`): PostgreSQL reads zone names in any case.
fn capitalized(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word_start = true;
    for c in name.chars() {
        out.push(if word_start {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        word_start = matches!(c, '/' | '_' | '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamp(text: &str) -> String {
        match read_timestamp(text, Kind::Timestamp) {
            Ok(micros) => naive_time(micros).unwrap().to_string(),
            Err(e) => format!("{} {}", e.sqlstate(), e),
        }
    }

    fn timestamptz(text: &str) -> String {
        match read_timestamp(text, Kind::Timestamptz) {
            Ok(micros) => naive_time(micros).unwrap().to_string(),
            Err(e) => format!("{} {}", e.sqlstate(), e),
        }
    }

    /// PostgreSQL 15's answers (`SELECT 'text'::timestamp`, `::timestamptz` under
    /// `TimeZone = UTC`).
    #[test]
    fn timestamps_read_as_postgresql_reads_them() {
        for (text, plain, utc) in [
            (
                "2020-04-15 12:02",
                "2020-04-15 12:02:00",
                "2020-04-15 12:02:00",
            ),
            (
                "2020-04-15T12:02",
                "2020-04-15 12:02:00",
                "2020-04-15 12:02:00",
            ),
            (
                "2020-04-15 12:02:03.5",
                "2020-04-15 12:02:03.500",
                "2020-04-15 12:02:03.500",
            ),
            (
                "2020-04-15 12:02+02",
                "2020-04-15 12:02:00",
                "2020-04-15 10:02:00",
            ),
            (
                "2020-04-15 12:02:03 +05:30",
                "2020-04-15 12:02:03",
                "2020-04-15 06:32:03",
            ),
            (
                "2020-04-15 12:02:03-0530",
                "2020-04-15 12:02:03",
                "2020-04-15 17:32:03",
            ),
            (
                "2020-04-15 12:02:03Z",
                "2020-04-15 12:02:03",
                "2020-04-15 12:02:03",
            ),
            (
                "2020-04-15 12:02:03 UTC",
                "2020-04-15 12:02:03",
                "2020-04-15 12:02:03",
            ),
            (
                "2020-04-15 12:02:03 EST",
                "2020-04-15 12:02:03",
                "2020-04-15 17:02:03",
            ),
            (
                "2020-07-01 12:00 CET",
                "2020-07-01 12:00:00",
                "2020-07-01 11:00:00",
            ),
            (
                "2020-04-15 12:02:03 Europe/Paris",
                "2020-04-15 12:02:03",
                "2020-04-15 10:02:03",
            ),
            (
                "2020-04-15 12:00 europe/paris",
                "2020-04-15 12:00:00",
                "2020-04-15 10:00:00",
            ),
            (
                "2020-04-15 12:00 Japan",
                "2020-04-15 12:00:00",
                "2020-04-15 03:00:00",
            ),
            (
                "2020-04-15 +02",
                "2020-04-15 00:00:00",
                "2020-04-14 22:00:00",
            ),
            (
                "2020-01-15 12:02:03 Europe/Paris",
                "2020-01-15 12:02:03",
                "2020-01-15 11:02:03",
            ),
            ("2020-04-15", "2020-04-15 00:00:00", "2020-04-15 00:00:00"),
            (
                "20200415 120203",
                "2020-04-15 12:02:03",
                "2020-04-15 12:02:03",
            ),
            (
                "20200415T120203",
                "2020-04-15 12:02:03",
                "2020-04-15 12:02:03",
            ),
            (
                "Apr 15 2020 12:02",
                "2020-04-15 12:02:00",
                "2020-04-15 12:02:00",
            ),
            (
                "Wed Apr 15 2020 12:02 PM",
                "2020-04-15 12:02:00",
                "2020-04-15 12:02:00",
            ),
            (
                "15 April 2020 1:02 pm",
                "2020-04-15 13:02:00",
                "2020-04-15 13:02:00",
            ),
            (
                "April 15, 2020",
                "2020-04-15 00:00:00",
                "2020-04-15 00:00:00",
            ),
            (
                "15-Apr-2020 12:00 AM",
                "2020-04-15 00:00:00",
                "2020-04-15 00:00:00",
            ),
            (
                "04/15/2020 12:02",
                "2020-04-15 12:02:00",
                "2020-04-15 12:02:00",
            ),
            ("04/15/20", "2020-04-15 00:00:00", "2020-04-15 00:00:00"),
            ("2020/04/15", "2020-04-15 00:00:00", "2020-04-15 00:00:00"),
            ("2020.04.15", "2020-04-15 00:00:00", "2020-04-15 00:00:00"),
            ("epoch", "1970-01-01 00:00:00", "1970-01-01 00:00:00"),
            (
                "2020-04-15 1:02",
                "2020-04-15 01:02:00",
                "2020-04-15 01:02:00",
            ),
            (
                "2020-4-5 1:2:3",
                "2020-04-05 01:02:03",
                "2020-04-05 01:02:03",
            ),
            (
                "  2020-04-15 12:02:03  ",
                "2020-04-15 12:02:03",
                "2020-04-15 12:02:03",
            ),
            (
                "2020-04-15 12:02:03.1234567",
                "2020-04-15 12:02:03.123457",
                "2020-04-15 12:02:03.123457",
            ),
            (
                "2020-04-15 12:02:03.9999995",
                "2020-04-15 12:02:04",
                "2020-04-15 12:02:04",
            ),
            (
                "2020-04-15 24:00",
                "2020-04-16 00:00:00",
                "2020-04-16 00:00:00",
            ),
            (
                "2020-04-15 23:59:60",
                "2020-04-16 00:00:00",
                "2020-04-16 00:00:00",
            ),
            (
                "0001-01-01 BC",
                "0000-01-01 00:00:00",
                "0000-01-01 00:00:00",
            ),
            // Clocks set back: 01:30 happens twice, read as standard time (EST).
            (
                "2018-11-04 01:30 America/New_York",
                "2018-11-04 01:30:00",
                "2018-11-04 06:30:00",
            ),
            // Clocks set forward: 02:30 never happens, read as standard time.
            (
                "2018-03-11 02:30 America/New_York",
                "2018-03-11 02:30:00",
                "2018-03-11 07:30:00",
            ),
        ] {
            assert_eq!(timestamp(text), plain, "{text}");
            assert_eq!(timestamptz(text), utc, "{text}");
        }
    }

    #[test]
    fn malformed_and_impossible_timestamps_fail_as_in_postgresql() {
        for (text, error) in [
            (
                "abc",
                "22007 invalid input syntax for type timestamp: \"abc\"",
            ),
            (
                "12:02",
                "22007 invalid input syntax for type timestamp: \"12:02\"",
            ),
            (
                "2020-04-15 12:02 12:03",
                "22007 invalid input syntax for type timestamp: \"2020-04-15 12:02 12:03\"",
            ),
            (
                "2020-02-30",
                "22008 date/time field value out of range: \"2020-02-30\"",
            ),
            (
                "2020-04-15 25:00",
                "22008 date/time field value out of range: \"2020-04-15 25:00\"",
            ),
            (
                "2020-04-15 12:60",
                "22008 date/time field value out of range: \"2020-04-15 12:60\"",
            ),
            (
                "2020-04-15 13:00 PM",
                "22008 date/time field value out of range: \"2020-04-15 13:00 PM\"",
            ),
            (
                "15/04/2020",
                "22008 date/time field value out of range: \"15/04/2020\"",
            ),
            (
                "2020-04-15 12:00 Mars/Olympus",
                "22023 time zone \"mars/olympus\" not recognized",
            ),
            (
                "2020-04-15 12:00 Foo",
                "22007 invalid input syntax for type timestamp: \"2020-04-15 12:00 Foo\"",
            ),
            (
                "2020-04-15 12:00+16",
                "22009 time zone displacement out of range: \"2020-04-15 12:00+16\"",
            ),
        ] {
            assert_eq!(timestamp(text), error, "{text}");
        }
        assert!(timestamptz("abc").contains("type timestamp with time zone: \"abc\""));
        for refused in [
            "infinity",
            "-infinity",
            "now",
            "today",
            "2020-04-15 12:00 MSK",
        ] {
            assert!(timestamp(refused).starts_with("0A000"), "{refused}");
        }
    }

    #[test]
    fn dates_ignore_times_and_zones() {
        let date = |text: &str| {
            read_date(text).map(|days| (epoch() + Duration::days(days.into())).to_string())
        };
        assert_eq!(date("2020-4-5").unwrap(), "2020-04-05");
        assert_eq!(date("Apr 15 2020").unwrap(), "2020-04-15");
        assert_eq!(date("2020-04-15 23:02 -05").unwrap(), "2020-04-15");
        assert_eq!(date("04/15/2020").unwrap(), "2020-04-15");
        assert_eq!(date("epoch").unwrap(), "1970-01-01");
        assert_eq!(date("2020-02-30").unwrap_err().sqlstate(), "22008");
        assert_eq!(date("x").unwrap_err().sqlstate(), "22007");
    }
}
