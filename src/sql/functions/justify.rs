//! `justify_hours`, `justify_days` and `justify_interval` as PostgreSQL 15's
//! (`interval.c`): whole days of an interval's time become days, whole 30-day months
//! of its days become months, and the parts are then given one sign where they had
//! two (`justify_hours(interval '-1 day 25 hours')` is `01:00:00`). Text is read as an
//! interval (PostgreSQL reads an untyped literal so). A result beyond an interval's
//! range fails with `22008 interval out of range`. DataFusion has none of them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::datatypes::{
    DataType, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{SluiceError, sqlstate};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;
const DAYS_PER_MONTH: i32 = 30;
const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// The three functions, to register.
pub fn functions() -> Vec<ScalarUDF> {
    [Part::Hours, Part::Days, Part::Interval]
        .into_iter()
        .map(|part| {
            ScalarUDF::new_from_impl(Justify {
                part,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

/// What a function justifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Hours,
    Days,
    Interval,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Hours => "justify_hours",
            Part::Days => "justify_days",
            Part::Interval => "justify_interval",
        }
    }

    /// The justified interval; `None` when it is out of range.
    fn justify(self, i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
        match self {
            Part::Hours => justify_hours(i),
            Part::Days => justify_days(i),
            Part::Interval => justify_interval(i),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Justify {
    part: Part,
    signature: Signature,
}

impl ScalarUDFImpl for Justify {
    fn name(&self) -> &str {
        self.part.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            // Text as PostgreSQL reads an untyped literal there: as an interval.
            [
                DataType::Interval(_)
                | DataType::Null
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8,
            ] => Ok(vec![INTERVAL]),
            _ => Err(super::no_such_function(self.part.name(), arg_types)),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_rows(&args.args, |arrays| {
            let [intervals] = arrays else {
                return Err(DataFusionError::Internal(format!(
                    "{} takes one interval",
                    self.part.name()
                )));
            };
            let justified: IntervalMonthDayNanoArray = intervals
                .as_primitive::<IntervalMonthDayNanoType>()
                .try_unary(|interval| {
                    self.part.justify(interval).ok_or_else(|| {
                        ArrowError::ExternalError(Box::new(SluiceError::coded(
                            sqlstate::DATETIME_FIELD_OVERFLOW,
                            "interval out of range",
                        )))
                    })
                })?;
            Ok(Arc::new(justified) as ArrayRef)
        })
    }
}

/// Whole days of the time moved to the days (PostgreSQL's `TMODULO`: both truncated
/// toward zero).
fn days_of_time(i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
    let whole_days = i32::try_from(i.nanoseconds / NANOS_PER_DAY).ok()?;
    Some(IntervalMonthDayNano::new(
        i.months,
        i.days.checked_add(whole_days)?,
        i.nanoseconds % NANOS_PER_DAY,
    ))
}

/// Whole 30-day months of the days moved to the months.
fn months_of_days(i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
    let whole_months = i.days / DAYS_PER_MONTH;
    Some(IntervalMonthDayNano::new(
        i.months.checked_add(whole_months)?,
        i.days - whole_months * DAYS_PER_MONTH,
        i.nanoseconds,
    ))
}

/// A day borrowed from or lent to the time where days and time have two signs.
fn time_of_days_sign(i: IntervalMonthDayNano) -> IntervalMonthDayNano {
    let IntervalMonthDayNano {
        months,
        days,
        nanoseconds,
    } = i;
    if days > 0 && nanoseconds < 0 {
        IntervalMonthDayNano::new(months, days - 1, nanoseconds + NANOS_PER_DAY)
    } else if days < 0 && nanoseconds > 0 {
        IntervalMonthDayNano::new(months, days + 1, nanoseconds - NANOS_PER_DAY)
    } else {
        i
    }
}

fn justify_hours(i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
    Some(time_of_days_sign(days_of_time(i)?))
}

fn justify_days(i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
    let IntervalMonthDayNano {
        months,
        days,
        nanoseconds,
    } = months_of_days(i)?;
    Some(if months > 0 && days < 0 {
        IntervalMonthDayNano::new(months - 1, days + DAYS_PER_MONTH, nanoseconds)
    } else if months < 0 && days > 0 {
        IntervalMonthDayNano::new(months + 1, days - DAYS_PER_MONTH, nanoseconds)
    } else {
        IntervalMonthDayNano::new(months, days, nanoseconds)
    })
}

fn justify_interval(i: IntervalMonthDayNano) -> Option<IntervalMonthDayNano> {
    let IntervalMonthDayNano {
        months,
        days,
        nanoseconds,
    } = months_of_days(days_of_time(i)?)?;
    let negative_after_months = days < 0 || (days == 0 && nanoseconds < 0);
    let positive_after_months = days > 0 || (days == 0 && nanoseconds > 0);
    let i = if months > 0 && negative_after_months {
        IntervalMonthDayNano::new(months - 1, days + DAYS_PER_MONTH, nanoseconds)
    } else if months < 0 && positive_after_months {
        IntervalMonthDayNano::new(months + 1, days - DAYS_PER_MONTH, nanoseconds)
    } else {
        IntervalMonthDayNano::new(months, days, nanoseconds)
    };
    Some(time_of_days_sign(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn text(i: Option<IntervalMonthDayNano>) -> String {
        let i = i.expect("in range");
        crate::sql::text_format::interval(i.months, i.days, i.nanoseconds / 1_000)
    }

    fn interval(months: i32, days: i32, hours: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, hours * HOUR)
    }

    /// PostgreSQL 15's answers.
    #[test]
    fn justified_as_postgres() {
        let cases = [
            (Part::Hours, interval(0, 0, 27), "1 day 03:00:00"),
            (Part::Hours, interval(0, -1, 25), "01:00:00"),
            (Part::Hours, interval(0, 1, -25), "-01:00:00"),
            (Part::Hours, interval(1, 0, -1), "1 mon -01:00:00"),
            (Part::Days, interval(0, 35, 0), "1 mon 5 days"),
            (Part::Days, interval(1, -35, 0), "-5 days"),
            (Part::Days, interval(-1, 40, 1), "10 days 01:00:00"),
            (Part::Interval, interval(1, 0, -1), "29 days 23:00:00"),
            (
                Part::Interval,
                interval(0, 0, -745),
                "-1 mons -1 days -01:00:00",
            ),
            (Part::Interval, interval(-1, 0, 1), "-29 days -23:00:00"),
        ];
        for (part, input, want) in cases {
            assert_eq!(text(part.justify(input)), want, "{part:?} {input:?}");
        }
    }

    #[test]
    fn beyond_the_range_is_none() {
        assert!(justify_days(IntervalMonthDayNano::new(i32::MAX, 30, 0)).is_none());
        assert!(justify_hours(IntervalMonthDayNano::new(0, i32::MAX, NANOS_PER_DAY)).is_none());
    }
}
