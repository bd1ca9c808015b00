//! `age(a, b)` and `age(a)` as PostgreSQL 15's `timestamp_age`: the symbolic
//! difference of two timestamps in years, months, days and time, each field
//! subtracted on its own and a negative field borrowed from the next (a borrowed month
//! counts the days of the earlier timestamp's month; see [`age_of`]).
//!
//! `age(a)` is `age(CURRENT_DATE::timestamp, a)`, rewritten so before planning
//! ([`rewrite_one_argument_calls`]); like `CURRENT_DATE` it is refused in materialized
//! views. Dates and `timestamptz` values are read as timestamps in UTC, the session's
//! zone (PostgreSQL reads dates as `timestamptz` there).

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart, Statement,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{SluiceError, sqlstate};

/// The function, to register.
pub fn age() -> ScalarUDF {
    ScalarUDF::new_from_impl(Age {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

/// `age(x)` in `statement` written `age(CAST(CURRENT_DATE AS TIMESTAMP), x)`.
pub fn rewrite_one_argument_calls(statement: &mut Statement) {
    let Ok(today) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql("CAST(CURRENT_DATE AS TIMESTAMP)")
        .and_then(|mut parser| parser.parse_expr())
    else {
        return;
    };
    let _ = visit_expressions_mut(statement, |expr: &mut Expr| {
        if let Expr::Function(f) = expr
            && let [ObjectNamePart::Identifier(name)] = f.name.0.as_slice()
            && name.quote_style.is_none()
            && name.value.eq_ignore_ascii_case("age")
            && f.over.is_none()
            && let FunctionArguments::List(list) = &mut f.args
            && list.args.len() == 1
        {
            list.args.insert(
                0,
                FunctionArg::Unnamed(FunctionArgExpr::Expr(today.clone())),
            );
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Age {
    signature: Signature,
}

const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

impl ScalarUDFImpl for Age {
    fn name(&self) -> &str {
        "age"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let readable = |t: &DataType| {
            matches!(
                t,
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 | DataType::Null
            )
        };
        if arg_types.len() == 2 && arg_types.iter().all(readable) {
            return Ok(vec![MICROS; 2]);
        }
        let shown: Vec<String> = arg_types.iter().map(crate::sql::types::sql_name).collect();
        Err(DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::UNDEFINED_FUNCTION,
            format!("function age({}) does not exist", shown.join(", ")),
        ))))
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::date_arithmetic::intervals_of_timestamps(self.name(), args, age_of)
    }
}

/// A timestamp's fields as PostgreSQL's `timestamp2tm` gives them: the astronomical
/// year, month, day, hour, minute, second and microsecond.
fn fields(micros: i64) -> Option<[i64; 7]> {
    const PER_DAY: i64 = 86_400_000_000;
    let days = micros.div_euclid(PER_DAY);
    let time = micros.rem_euclid(PER_DAY);
    let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(days + 719_163).ok()?)?;
    Some([
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
        time / 3_600_000_000,
        time / 60_000_000 % 60,
        time / 1_000_000 % 60,
        time % 1_000_000,
    ])
}

/// Whether astronomical year `year` (0 is 1 BC) is a leap year.
pub(super) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days of month `month` (1–12) of astronomical year `year`.
pub(super) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `age(a, b)` of two timestamps (microseconds), as PostgreSQL's `timestamp_age`:
/// the fields' differences, made positive (flipping the sign when `a < b`), each
/// negative field borrowed from the next larger — days from a month of as many days
/// as the earlier timestamp's month has — then the sign restored. `None` beyond the
/// calendar's or the interval's range.
fn age_of(a: i64, b: i64) -> Option<IntervalMonthDayNano> {
    let (first, second) = (fields(a)?, fields(b)?);
    let mut diff: Vec<i64> = first.iter().zip(&second).map(|(x, y)| x - y).collect();
    let negative = a < b;
    if negative {
        diff.iter_mut().for_each(|d| *d = -*d);
    }
    let [year, month, day, hour, minute, second_, micro] = diff.as_mut_slice() else {
        return None;
    };
    while *micro < 0 {
        *micro += 1_000_000;
        *second_ -= 1;
    }
    while *second_ < 0 {
        *second_ += 60;
        *minute -= 1;
    }
    while *minute < 0 {
        *minute += 60;
        *hour -= 1;
    }
    while *hour < 0 {
        *hour += 24;
        *day -= 1;
    }
    let borrowed_from = if negative { first } else { second };
    while *day < 0 {
        *day += days_in_month(borrowed_from[0], borrowed_from[1]);
        *month -= 1;
    }
    while *month < 0 {
        *month += 12;
        *year -= 1;
    }
    let sign = if negative { -1 } else { 1 };
    let months = i32::try_from(sign * (*year * 12 + *month)).ok()?;
    let days = i32::try_from(sign * *day).ok()?;
    let micros = sign * (((*hour * 60 + *minute) * 60 + *second_) * 1_000_000 + *micro);
    Some(IntervalMonthDayNano::new(
        months,
        days,
        micros.checked_mul(1_000)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::functions::timestamp_input::{Kind, read_timestamp};

    fn micros(text: &str) -> i64 {
        read_timestamp(text, Kind::Timestamp).unwrap()
    }

    fn age(a: &str, b: &str) -> String {
        let i = age_of(micros(a), micros(b)).unwrap();
        crate::sql::text_format::interval(i.months, i.days, i.nanoseconds / 1_000)
    }

    /// PostgreSQL 15's answers.
    #[test]
    fn ages_are_postgres() {
        let cases = [
            ("2024-03-31 00:00:00", "2024-02-29 00:00:00", "1 mon 2 days"),
            (
                "2024-02-29 00:00:00",
                "2024-03-31 00:00:00",
                "-1 mons -2 days",
            ),
            (
                "2024-01-31 10:00:00",
                "2023-12-31 12:00:00.5",
                "30 days 21:59:59.5",
            ),
            (
                "2023-12-31 12:00:00.5",
                "2024-01-31 10:00:00",
                "-30 days -21:59:59.5",
            ),
            (
                "2001-04-10 00:00:00",
                "1957-06-13 00:00:00",
                "43 years 9 mons 27 days",
            ),
            ("2024-03-01 00:00:00", "2024-01-31 00:00:00", "1 mon 1 day"),
            ("2024-03-01 00:00:00", "2023-03-01 00:00:00", "1 year"),
            (
                "2024-05-31 00:00:00",
                "2024-04-30 23:00:00",
                "1 mon 01:00:00",
            ),
            (
                "0044-03-15 00:00:00 BC",
                "2024-01-01 00:00:00",
                "-2066 years -9 mons -17 days",
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(age(a, b), want, "age('{a}', '{b}')");
        }
    }
}
