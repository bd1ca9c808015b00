//! `EXTRACT(field FROM value)` as PostgreSQL 15 computes it: a `numeric`, exact, of
//! PostgreSQL's scale — 6 for `second` and `epoch` (`7.500000`, `1717243200.000000`), 3
//! for `milliseconds`, 0 for the rest — from a `timestamp`, `timestamptz` (in UTC, the
//! session's zone), `date` or `interval`.
//!
//! DataFusion plans `EXTRACT` as its `date_part`, a `double precision` (PostgreSQL's
//! `date_part` is one, its `EXTRACT` is not since version 14): `1717243200.5` where
//! PostgreSQL prints `1717243200.500000`, and it drops the fraction of `second`.
//! [`ExtractPlanner`] meets the syntax first and calls [`Extract`] instead; `date_part`
//! stays DataFusion's (refused for the fields it answers differently).
//!
//! Units are read as PostgreSQL reads them: any case, its abbreviations and plurals
//! (`secs`, `mon`, `yr`, `msec`, `timezone_h`), cut to 10 characters as its token
//! table is (`microseconds` is `microsecon`). A unit the value's type has not is
//! PostgreSQL's error (`unit "hour" not supported for type date`, 0A000; an unknown
//! one 22023), raised when the statement is planned. BC years count as PostgreSQL's
//! (no year 0: `year` of 44 BC is -44; `century` of 1 BC is -1).
//! `julian` of a timestamp (a fraction of PostgreSQL's own scale) is refused.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, FieldRef, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
    TimestampMicrosecondType,
};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::error::{SluiceError, sqlstate};

/// The function's name (the syntax's, as PostgreSQL names the column).
pub const EXTRACT: &str = "extract";

/// Plans `EXTRACT(field FROM value)` (arguments: the field's text, the value) as a
/// call of [`Extract`]. It must come before DataFusion's planners, which plan
/// `EXTRACT` as `date_part`.
#[derive(Debug)]
pub struct ExtractPlanner;

impl ExprPlanner for ExtractPlanner {
    fn plan_extract(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        let function = Arc::new(ScalarUDF::new_from_impl(Extract {
            signature: Signature::user_defined(Volatility::Immutable),
        }));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(function, args),
        )))
    }
}

/// A field `EXTRACT` reads (PostgreSQL's `DTK_*` units it accepts there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Week,
    Dow,
    Isodow,
    Doy,
    Isoyear,
    Epoch,
    Julian,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

impl Unit {
    /// The unit `text` names, as PostgreSQL's `DecodeUnits`/`DecodeSpecial` read it
    /// (lower case, at most 10 characters compared).
    fn parse(text: &str) -> Option<Unit> {
        let lower = text.to_ascii_lowercase();
        let token: String = lower.chars().take(10).collect();
        use Unit::*;
        Some(match token.as_str() {
            "us" | "usec" | "usecs" | "usecond" | "useconds" | "microsecon" => Microseconds,
            "ms" | "msec" | "msecs" | "msecond" | "mseconds" | "millisecon" => Milliseconds,
            "s" | "sec" | "secs" | "second" | "seconds" => Second,
            "m" | "min" | "mins" | "minute" | "minutes" => Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Hour,
            "d" | "day" | "days" => Day,
            "mon" | "mons" | "month" | "months" => Month,
            "qtr" | "quarter" => Quarter,
            "y" | "yr" | "yrs" | "year" | "years" => Year,
            "dec" | "decs" | "decade" | "decades" => Decade,
            "c" | "cent" | "century" | "centuries" => Century,
            "mil" | "mils" | "millennia" | "millennium" => Millennium,
            "w" | "week" | "weeks" => Week,
            "dow" => Dow,
            "isodow" => Isodow,
            "doy" => Doy,
            "isoyear" => Isoyear,
            "epoch" => Epoch,
            "j" | "jd" | "julian" => Julian,
            "timezone" => Timezone,
            "timezone_h" => TimezoneHour,
            "timezone_m" => TimezoneMinute,
            _ => return None,
        })
    }

    /// The scale of the `numeric` it is, for values of `kind`.
    fn scale(self, kind: Kind) -> i8 {
        match self {
            Unit::Second => 6,
            Unit::Epoch if kind != Kind::Date => 6,
            Unit::Milliseconds => 3,
            _ => 0,
        }
    }

    /// Whether PostgreSQL extracts it from values of `kind`.
    fn applies_to(self, kind: Kind) -> bool {
        use Unit::*;
        match kind {
            Kind::Timestamp => !matches!(self, Timezone | TimezoneHour | TimezoneMinute),
            Kind::Timestamptz => true,
            Kind::Date => !matches!(
                self,
                Microseconds
                    | Milliseconds
                    | Second
                    | Minute
                    | Hour
                    | Timezone
                    | TimezoneHour
                    | TimezoneMinute
            ),
            Kind::Interval => !matches!(
                self,
                Week | Dow
                    | Isodow
                    | Doy
                    | Isoyear
                    | Julian
                    | Timezone
                    | TimezoneHour
                    | TimezoneMinute
            ),
        }
    }
}

/// The types `EXTRACT` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Timestamp,
    Timestamptz,
    Date,
    Interval,
}

impl Kind {
    fn of(data_type: &DataType) -> Option<Kind> {
        Some(match data_type {
            DataType::Timestamp(_, None) => Kind::Timestamp,
            DataType::Timestamp(_, Some(_)) => Kind::Timestamptz,
            DataType::Date32 | DataType::Date64 => Kind::Date,
            DataType::Interval(_) => Kind::Interval,
            _ => return None,
        })
    }

    /// PostgreSQL's name of the type, for messages.
    fn name(self) -> &'static str {
        match self {
            Kind::Timestamp => "timestamp without time zone",
            Kind::Timestamptz => "timestamp with time zone",
            Kind::Date => "date",
            Kind::Interval => "interval",
        }
    }

    /// The Arrow type values are read as.
    fn arrow_type(self) -> DataType {
        match self {
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Date => DataType::Date32,
            Kind::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        }
    }
}

/// The unit named by `text`, checked against `kind` as PostgreSQL checks it.
fn unit_for(text: &str, kind: Kind) -> std::result::Result<Unit, SluiceError> {
    let shown = text.to_ascii_lowercase();
    let unit = Unit::parse(text).ok_or_else(|| {
        SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("unit \"{shown}\" not recognized for type {}", kind.name()),
        )
    })?;
    if !unit.applies_to(kind) {
        return Err(SluiceError::not_supported(format!(
            "unit \"{shown}\" not supported for type {}",
            kind.name()
        )));
    }
    if unit == Unit::Julian && kind != Kind::Date {
        return Err(SluiceError::not_supported(
            "EXTRACT(julian FROM ...) is supported for dates only: of a timestamp, \
             PostgreSQL's fraction of a day has a scale Sluice does not compute",
        ));
    }
    Ok(unit)
}

/// `extract(field, value)`: the planned form of the syntax (see the module's
/// documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Extract {
    signature: Signature,
}

/// The field's text, which must be a constant.
fn field_text(field: Option<&ScalarValue>) -> Result<&str> {
    match field {
        Some(ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text))) => {
            Ok(text.trim_matches(|c| c == '\'' || c == '"'))
        }
        _ => Err(refused(SluiceError::not_supported(
            "extract() needs its field as a constant (EXTRACT(year FROM value))",
        ))),
    }
}

fn refused(error: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

impl ScalarUDFImpl for Extract {
    fn name(&self) -> &str {
        EXTRACT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [field, value] => {
                let kind = match value {
                    DataType::Null => Kind::Timestamp,
                    other => Kind::of(other).ok_or_else(|| {
                        refused(SluiceError::coded(
                            sqlstate::UNDEFINED_FUNCTION,
                            format!(
                                "function extract(unknown, {}) does not exist",
                                crate::sql::types::sql_name(other)
                            ),
                        ))
                    })?,
                };
                Ok(vec![field.clone(), kind.arrow_type()])
            }
            _ => Err(DataFusionError::Plan(
                "extract() takes a field and a value".into(),
            )),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal(
            "extract's type is read from its arguments".into(),
        ))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let [_, value] = args.arg_fields else {
            return Err(DataFusionError::Plan(
                "extract() takes a field and a value".into(),
            ));
        };
        let kind = Kind::of(value.data_type()).unwrap_or(Kind::Timestamp);
        let field = field_text(args.scalar_arguments.first().copied().flatten())?;
        let unit = unit_for(field, kind).map_err(refused)?;
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Decimal128(38, unit.scale(kind)),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [field, value] = args.args.as_slice() else {
            return Err(DataFusionError::Internal(
                "extract() takes a field and a value".into(),
            ));
        };
        let field = match field {
            ColumnarValue::Scalar(scalar) => field_text(Some(scalar))?,
            ColumnarValue::Array(_) => field_text(None)?,
        };
        let kind = Kind::of(&value.data_type()).unwrap_or(Kind::Timestamp);
        let unit = unit_for(field, kind).map_err(refused)?;
        super::convert_values(std::slice::from_ref(value), self.name(), |values| {
            extract_all(unit, kind, values)
        })
    }
}

/// `unit` of each of `values` (of `kind`), as `numeric`s of the unit's scale.
fn extract_all(unit: Unit, kind: Kind, values: &ArrayRef) -> Result<ArrayRef> {
    let values = cast(values, &kind.arrow_type())?;
    let out_of_range = || {
        refused(SluiceError::coded(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            format!("{} out of range", kind.name()),
        ))
    };
    let numbers: Vec<Option<i128>> = match kind {
        Kind::Timestamp | Kind::Timestamptz => values
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|v| v.map(|micros| of_timestamp(unit, micros).ok_or_else(out_of_range)))
            .map(Option::transpose)
            .collect::<Result<_>>()?,
        Kind::Date => values
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| v.map(|days| of_date(unit, days).ok_or_else(out_of_range)))
            .map(Option::transpose)
            .collect::<Result<_>>()?,
        Kind::Interval => values
            .as_primitive::<IntervalMonthDayNanoType>()
            .iter()
            .map(|v| v.map(|i| of_interval(unit, i.months, i.days, i.nanoseconds / 1_000)))
            .collect(),
    };
    let array = Decimal128Array::from(numbers)
        .with_precision_and_scale(38, unit.scale(kind))
        .map_err(DataFusionError::from)?;
    Ok(Arc::new(array))
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;
/// 1970-01-01 as days from 0001-01-01 (chrono's day numbers count from 1).
const UNIX_EPOCH_CE_DAYS: i64 = 719_163;
/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// `unit` of a timestamp (microseconds from 1970 in UTC), unscaled; `None` beyond the
/// calendar's range.
fn of_timestamp(unit: Unit, micros: i64) -> Option<i128> {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let time = micros.rem_euclid(MICROS_PER_DAY);
    Some(match unit {
        // The seconds with their fraction, at scale 0, 3 or 6.
        Unit::Microseconds | Unit::Milliseconds | Unit::Second => {
            i128::from(time % MICROS_PER_MINUTE)
        }
        Unit::Minute => i128::from(time % MICROS_PER_HOUR / MICROS_PER_MINUTE),
        Unit::Hour => i128::from(time / MICROS_PER_HOUR),
        Unit::Epoch => i128::from(micros),
        Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute => 0,
        calendar => i128::from(of_day(calendar, days)?),
    })
}

/// `unit` of a date (days from 1970), unscaled; `None` beyond the calendar's range.
fn of_date(unit: Unit, days: i32) -> Option<i128> {
    let days = i64::from(days);
    Some(match unit {
        Unit::Epoch => i128::from(days) * i128::from(MICROS_PER_DAY / MICROS_PER_SECOND),
        Unit::Julian => i128::from(days + UNIX_EPOCH_JULIAN_DAY),
        calendar => i128::from(of_day(calendar, days)?),
    })
}

/// A calendar unit of the day `days` from 1970, with PostgreSQL's BC years.
fn of_day(unit: Unit, days: i64) -> Option<i64> {
    let date =
        NaiveDate::from_num_days_from_ce_opt(i32::try_from(days + UNIX_EPOCH_CE_DAYS).ok()?)?;
    // Astronomical: 0 is 1 BC.
    let year = i64::from(date.year());
    let month = i64::from(date.month());
    Some(match unit {
        Unit::Day => i64::from(date.day()),
        Unit::Month => month,
        Unit::Quarter => (month - 1) / 3 + 1,
        Unit::Year => bc_counted(year),
        Unit::Decade if year >= 0 => year / 10,
        Unit::Decade => -((8 - (year - 1)) / 10),
        Unit::Century if year > 0 => (year + 99) / 100,
        Unit::Century => -((99 - (year - 1)) / 100),
        Unit::Millennium if year > 0 => (year + 999) / 1000,
        Unit::Millennium => -((999 - (year - 1)) / 1000),
        Unit::Week => i64::from(date.iso_week().week()),
        Unit::Isoyear => bc_counted(i64::from(date.iso_week().year())),
        Unit::Dow => i64::from(date.weekday().num_days_from_sunday()),
        Unit::Isodow => i64::from(date.weekday().number_from_monday()),
        Unit::Doy => i64::from(date.ordinal()),
        _ => return None,
    })
}

/// An astronomical year as PostgreSQL counts it: no year 0, 1 BC is -1.
fn bc_counted(year: i64) -> i64 {
    if year > 0 { year } else { year - 1 }
}

/// `unit` of an interval, unscaled: the time part's fields truncate toward zero as
/// PostgreSQL's `interval2itm` does; `epoch` counts a year as 365.25 days and a month
/// as 30.
fn of_interval(unit: Unit, months: i32, days: i32, micros: i64) -> i128 {
    let (months, days, micros) = (i128::from(months), i128::from(days), i128::from(micros));
    let (per_minute, per_hour) = (i128::from(MICROS_PER_MINUTE), i128::from(MICROS_PER_HOUR));
    let years = months / 12;
    match unit {
        Unit::Microseconds | Unit::Milliseconds | Unit::Second => micros % per_minute,
        Unit::Minute => micros % per_hour / per_minute,
        Unit::Hour => micros / per_hour,
        Unit::Day => days,
        Unit::Month => months % 12,
        Unit::Quarter => (months % 12) / 3 + 1,
        Unit::Year => years,
        Unit::Decade => years / 10,
        Unit::Century => years / 100,
        Unit::Millennium => years / 1000,
        Unit::Epoch => {
            let seconds = years * 31_557_600 + (months % 12) * 2_592_000 + days * 86_400;
            seconds * i128::from(MICROS_PER_SECOND) + micros
        }
        // Refused by `unit_for`.
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::functions::timestamp_input::{self, read_date, read_timestamp};

    /// PostgreSQL 15's answers (unscaled: `56.789000` is 56789000).
    #[test]
    fn timestamp_fields_are_postgres() {
        let t =
            read_timestamp("2024-06-01 12:34:56.789", timestamp_input::Kind::Timestamp).unwrap();
        let cases = [
            ("second", 56_789_000),
            ("ms", 56_789_000),
            ("microseconds", 56_789_000),
            ("min", 34),
            ("h", 12),
            ("d", 1),
            ("mon", 6),
            ("qtr", 2),
            ("yr", 2024),
            ("decs", 202),
            ("c", 21),
            ("mil", 3),
            ("w", 22),
            ("dow", 6),
            ("isodow", 6),
            ("doy", 153),
            ("isoyear", 2024),
            ("epoch", i128::from(t)),
        ];
        for (field, want) in cases {
            let unit = unit_for(field, Kind::Timestamp).unwrap();
            assert_eq!(of_timestamp(unit, t), Some(want), "{field}");
        }
        assert_eq!(
            unit_for("timezone_hour", Kind::Timestamptz).unwrap(),
            Unit::TimezoneHour
        );
    }

    /// PostgreSQL 15: year, decade, century, millennium, isoyear, week of BC and early
    /// AD dates, and the epoch and Julian day of dates.
    #[test]
    fn bc_years_count_as_postgres() {
        let rows: [(&str, [i64; 6], i128, i128); 6] = [
            (
                "0044-03-15 BC",
                [-44, -5, -1, -1, -44, 11],
                -63_517_824_000,
                1_705_428,
            ),
            (
                "0001-01-01 BC",
                [-1, 0, -1, -1, -2, 52],
                -62_167_219_200,
                1_721_060,
            ),
            ("0001-01-01", [1, 0, 1, 1, 1, 1], -62_135_596_800, 1_721_426),
            (
                "0010-12-31 BC",
                [-10, -1, -1, -1, -9, 1],
                -62_419_766_400,
                1_718_137,
            ),
            (
                "1000-06-01 BC",
                [-1000, -100, -10, -1, -1000, 23],
                -93_679_545_600,
                1_356_334,
            ),
            (
                "2000-01-01",
                [2000, 200, 20, 2, 1999, 52],
                946_684_800,
                2_451_545,
            ),
        ];
        let units = [
            Unit::Year,
            Unit::Decade,
            Unit::Century,
            Unit::Millennium,
            Unit::Isoyear,
            Unit::Week,
        ];
        for (date, fields, epoch, julian) in rows {
            let d = read_date(date).unwrap();
            for (unit, want) in units.iter().zip(fields) {
                assert_eq!(
                    of_date(*unit, d),
                    Some(i128::from(want)),
                    "{unit:?} of {date}"
                );
            }
            assert_eq!(of_date(Unit::Epoch, d), Some(epoch), "{date}");
            assert_eq!(of_date(Unit::Julian, d), Some(julian), "{date}");
        }
    }

    #[test]
    fn interval_fields_are_postgres() {
        let hour = MICROS_PER_HOUR;
        // '1 year 1 month 1 day 01:00:00.5'
        assert_eq!(
            of_interval(Unit::Epoch, 13, 1, hour + 500_000),
            34_239_600_500_000
        );
        // '-1 year -2 days -00:00:01.5'
        assert_eq!(
            of_interval(Unit::Epoch, -12, -2, -1_500_000),
            -31_730_401_500_000
        );
        let minus = -(25 * hour + 30 * MICROS_PER_MINUTE + 10_250_000);
        assert_eq!(of_interval(Unit::Hour, 0, 0, minus), -25);
        assert_eq!(of_interval(Unit::Minute, 0, 0, minus), -30);
        assert_eq!(of_interval(Unit::Second, 0, 0, minus), -10_250_000);
        assert_eq!(of_interval(Unit::Quarter, -5, 0, 0), 0);
        assert_eq!(of_interval(Unit::Month, -14, 0, 0), -2);
        assert_eq!(of_interval(Unit::Year, -14, 0, 0), -1);
        assert_eq!(of_interval(Unit::Decade, -150, 0, 0), -1);
    }

    #[test]
    fn units_a_type_has_not_are_postgres_errors() {
        let code = |field, kind| unit_for(field, kind).unwrap_err().sqlstate();
        assert_eq!(code("hour", Kind::Date), sqlstate::FEATURE_NOT_SUPPORTED);
        assert_eq!(code("dow", Kind::Interval), sqlstate::FEATURE_NOT_SUPPORTED);
        assert_eq!(
            code("timezone", Kind::Timestamp),
            sqlstate::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(code("foo", Kind::Date), sqlstate::INVALID_PARAMETER_VALUE);
        assert_eq!(
            code("millenium", Kind::Timestamp),
            sqlstate::INVALID_PARAMETER_VALUE
        );
        assert_eq!(
            unit_for("HOUR", Kind::Date).unwrap_err().to_string(),
            "unit \"hour\" not supported for type date"
        );
    }
}
