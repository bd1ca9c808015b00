//! `to_timestamp(seconds)` as PostgreSQL 15's `float8_timestamptz`: the `timestamptz`
//! that many seconds after 1970-01-01 00:00 UTC, rounded to the microsecond as
//! PostgreSQL rounds it (half to even, counted from 2000-01-01). `NaN` fails with
//! `22008 timestamp cannot be NaN`, a value beyond 4714-11-24 BC–294276 AD with `22008
//! timestamp out of range: "1e+20"`; an infinite value, which PostgreSQL returns as
//! `infinity`, is refused (`0A000`): Sluice's timestamps have no infinities.
//!
//! Grafana's Unix-time macros (`to_timestamp($__unixEpochFrom())`) call it.
//! DataFusion's `to_timestamp` (text with chrono's patterns, a timestamp without time
//! zone) is replaced; `to_timestamp(text, pattern)` reads PostgreSQL's patterns
//! ([`super::from_char`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{SluiceError, sqlstate};

/// The function, to register in place of DataFusion's.
pub fn to_timestamp() -> ScalarUDF {
    ScalarUDF::new_from_impl(ToTimestamp {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToTimestamp {
    signature: Signature,
}

fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(crate::sql::types::UTC.into()))
}

impl ScalarUDFImpl for ToTimestamp {
    fn name(&self) -> &str {
        "to_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(match arg_types {
            [t] if t.is_numeric() || t.is_null() => vec![DataType::Float64],
            [text, pattern]
                if super::from_char::is_text_argument(text)
                    && super::from_char::is_text_argument(pattern) =>
            {
                vec![DataType::Utf8, DataType::Utf8]
            }
            // Refused by `return_type`, whose error keeps its SQLSTATE.
            other => other.to_vec(),
        })
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Float64] | [DataType::Utf8, DataType::Utf8] => Ok(timestamptz()),
            [_] => Err(DataFusionError::External(Box::new(
                SluiceError::not_supported(
                    "function to_timestamp() takes seconds since 1970 (double precision) or a \
                 text and a pattern (to_timestamp(text, text))",
                ),
            ))),
            other => Err(super::no_such_function("to_timestamp", other)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() == 2 {
            return super::from_char::timestamps(&args);
        }
        super::convert_values(&args.args, self.name(), |seconds| {
            let seconds = cast(seconds, &DataType::Float64)?;
            let micros: TimestampMicrosecondArray = seconds
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(from_unix_seconds).transpose())
                .collect::<std::result::Result<_, SluiceError>>()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok(Arc::new(micros.with_timezone(crate::sql::types::UTC)) as ArrayRef)
        })
    }
}

/// Seconds from 1970 to 2000-01-01, PostgreSQL's epoch.
const POSTGRES_EPOCH_SECONDS: f64 = 946_684_800.0;
/// The first second PostgreSQL's timestamps hold (4714-11-24 BC) and the first
/// beyond them (294277-01-01), from 1970.
const FIRST_SECOND: f64 = -210_866_803_200.0;
const END_SECOND: f64 = 9_224_318_016_000.0;

/// The microseconds from 1970 of `seconds` from 1970, as `float8_timestamptz`.
fn from_unix_seconds(seconds: f64) -> std::result::Result<i64, SluiceError> {
    if seconds.is_nan() {
        return Err(SluiceError::coded(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            "timestamp cannot be NaN",
        ));
    }
    if seconds.is_infinite() {
        return Err(SluiceError::not_supported(
            "to_timestamp() of an infinity is not supported: Sluice's timestamps have no infinities",
        ));
    }
    let out_of_range = || {
        SluiceError::coded(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            format!("timestamp out of range: \"{}\"", c_general(seconds)),
        )
    };
    if !(FIRST_SECOND..END_SECOND).contains(&seconds) {
        return Err(out_of_range());
    }
    let from_2000 = ((seconds - POSTGRES_EPOCH_SECONDS) * 1e6).round_ties_even();
    // Microseconds from 1970 in 64 bits end in 294247, before PostgreSQL's range does.
    (from_2000 as i64)
        .checked_add(946_684_800_000_000)
        .filter(|micros| *micros >= -210_866_803_200_000_000)
        .ok_or_else(out_of_range)
}

/// `value` as C's `%g` writes it: six significant digits, exponent form below 1e-4 and
/// from 1e6, trailing zeros dropped (`1e+20`, `-2.10867e+11`).
fn c_general(value: f64) -> String {
    let exponent = if value == 0.0 {
        0
    } else {
        value.abs().log10().floor() as i32
    };
    let trim = |text: String| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    };
    if (-4..6).contains(&exponent) {
        let decimals = usize::try_from(5 - exponent).unwrap_or(0);
        return trim(format!("{value:.decimals$}"));
    }
    let scientific = format!("{value:.5e}");
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{}e{sign}{:02}", trim(mantissa.to_string()), exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 15's answers.
    #[test]
    fn seconds_become_microseconds_as_postgres() {
        assert_eq!(
            from_unix_seconds(1_700_000_000.0).unwrap(),
            1_700_000_000_000_000
        );
        assert_eq!(from_unix_seconds(1.5).unwrap(), 1_500_000);
        assert_eq!(from_unix_seconds(-0.0000005).unwrap(), 0);
        assert_eq!(from_unix_seconds(0.0000015).unwrap(), 2);
        assert_eq!(
            from_unix_seconds(-210_866_803_200.0).unwrap(),
            -210_866_803_200_000_000
        );
        let error = |v: f64| from_unix_seconds(v).unwrap_err().to_string();
        assert_eq!(error(1e20), "timestamp out of range: \"1e+20\"");
        assert_eq!(
            error(-210_866_803_201.0),
            "timestamp out of range: \"-2.10867e+11\""
        );
        assert_eq!(error(f64::NAN), "timestamp cannot be NaN");
        assert_eq!(
            from_unix_seconds(f64::INFINITY).unwrap_err().sqlstate(),
            sqlstate::FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn general_format_is_c() {
        assert_eq!(c_general(1e20), "1e+20");
        assert_eq!(c_general(123456.0), "123456");
        assert_eq!(c_general(1234567.0), "1.23457e+06");
        assert_eq!(c_general(0.5), "0.5");
        assert_eq!(c_general(0.00001), "1e-05");
    }
}
