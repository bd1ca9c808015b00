//! `pg_size_pretty(bigint | numeric)`: a number of bytes in the largest unit that
//! keeps it at or above 10 (`bytes`, `kB`, `MB`, `GB`, `TB`, `PB`, powers of 1024),
//! exactly as PostgreSQL 15 writes it: a unit is used while the value is below 10240
//! (`bytes`) or 20479 (the others) of it, each unit's value is halved and rounded
//! half away from zero from the next smaller one, truncated toward zero in between,
//! and `bytes` keep a numeric's fractional digits (`123.456 bytes`).
//!
//! Checked against PostgreSQL 15's own output over boundaries, negatives and the
//! extremes (`size_pretty_postgres15.txt`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::{SluiceError, sqlstate};

/// PostgreSQL's units: name, the limit below which the unit is used, whether its
/// value is half-rounded, and its power of two.
const UNITS: [(&str, i128, bool, u32); 6] = [
    ("bytes", 10 * 1024, false, 0),
    ("kB", 20 * 1024 - 1, true, 10),
    ("MB", 20 * 1024 - 1, true, 20),
    ("GB", 20 * 1024 - 1, true, 30),
    ("TB", 20 * 1024 - 1, true, 40),
    ("PB", 20 * 1024 - 1, true, 50),
];

/// The function.
pub fn pg_size_pretty() -> ScalarUDF {
    ScalarUDF::new_from_impl(SizePretty {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SizePretty {
    signature: Signature,
}

impl ScalarUDFImpl for SizePretty {
    fn name(&self) -> &str {
        "pg_size_pretty"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int64]),
            [t @ DataType::Decimal128(..)] => Ok(vec![t.clone()]),
            [
                DataType::Decimal256(..)
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64,
            ] => Ok(vec![DataType::Float64]),
            _ => Err(super::no_such_function("pg_size_pretty", arg_types)),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let sizes = &arrays[0];
        let texts: StringArray = match sizes.data_type() {
            DataType::Int64 => sizes
                .as_primitive::<Int64Type>()
                .iter()
                .map(|size| size.map(|s| pretty(i128::from(s), 0)))
                .collect(),
            DataType::Decimal128(_, scale) => {
                let scale = *scale;
                sizes
                    .as_primitive::<Decimal128Type>()
                    .iter()
                    .map(|size| size.map(|s| pretty(s, scale)))
                    .collect()
            }
            DataType::Float64 => sizes
                .as_primitive::<Float64Type>()
                .iter()
                .map(|size| size.map(pretty_float).transpose())
                .collect::<Result<_>>()?,
            other => {
                return Err(DataFusionError::Internal(format!(
                    "pg_size_pretty of {other}"
                )));
            }
        };
        Ok(ColumnarValue::Array(Arc::new(texts)))
    }
}

/// `unscaled / 10^scale` bytes as PostgreSQL 15 writes it.
pub fn pretty(unscaled: i128, scale: i8) -> String {
    let (mut size, mut scale) = if scale < 0 {
        let factor = 10i128.saturating_pow(u32::from(scale.unsigned_abs()));
        (unscaled.saturating_mul(factor), 0u32)
    } else {
        (unscaled, u32::from(scale.unsigned_abs()))
    };
    for (i, &(name, limit, round, bits)) in UNITS.iter().enumerate() {
        let below = match 10i128.checked_pow(scale).and_then(|f| limit.checked_mul(f)) {
            Some(limit) => size.unsigned_abs() < limit.unsigned_abs(),
            // The limit is past i128: every value is below it.
            None => true,
        };
        let Some(&(_, _, next_round, next_bits)) = UNITS.get(i + 1).filter(|_| !below) else {
            if round {
                size = (size + if size < 0 { -1 } else { 1 }) / 2;
            }
            return format!("{} {name}", decimal(size, scale));
        };
        if scale > 0 {
            // Past `bytes`, PostgreSQL divides with truncation: the fraction goes.
            size /= 10i128.pow(scale);
            scale = 0;
        }
        let shift = next_bits - bits - u32::from(next_round) + u32::from(round);
        size /= 1i128 << shift;
    }
    String::new()
}

/// A float argument (DataFusion's type of a literal such as `1.5`, PostgreSQL's
/// `numeric`), read through its shortest decimal text.
fn pretty_float(size: f64) -> Result<String> {
    let invalid = || {
        DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("pg_size_pretty() of {size} is out of range"),
        )))
    };
    if !size.is_finite() {
        return Err(invalid());
    }
    let text = size.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = format!("{whole}{fraction}");
    let unscaled: i128 = digits.parse().map_err(|_| invalid())?;
    let scale = i8::try_from(fraction.len()).map_err(|_| invalid())?;
    Ok(pretty(unscaled, scale))
}

/// `unscaled / 10^scale` with `scale` fractional digits.
fn decimal(unscaled: i128, scale: u32) -> String {
    if scale == 0 {
        return unscaled.to_string();
    }
    let digits = format!(
        "{:0>width$}",
        unscaled.unsigned_abs(),
        width = scale as usize + 1
    );
    let (whole, fraction) = digits.split_at(digits.len() - scale as usize);
    let sign = if unscaled < 0 { "-" } else { "" };
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::{pretty, pretty_float};

    #[test]
    fn integers_print_as_postgresql_15_prints_them() {
        let expected = include_str!("size_pretty_postgres15.txt");
        let mut checked = 0;
        for line in expected.lines().filter(|l| !l.starts_with('#')) {
            let (size, text) = line.split_once('|').unwrap();
            let size: i128 = size.parse().unwrap();
            assert_eq!(pretty(size, 0), text, "pg_size_pretty({size})");
            checked += 1;
        }
        assert!(checked > 400);
    }

    #[test]
    fn numerics_keep_their_fraction_in_bytes_only() {
        // PostgreSQL 15: SELECT pg_size_pretty(x) over these numeric values.
        for (unscaled, scale, text) in [
            (123456, 3, "123.456 bytes"),
            (-123456, 3, "-123.456 bytes"),
            (5, 1, "0.5 bytes"),
            (-5, 2, "-0.05 bytes"),
            (1023999, 2, "10239.99 bytes"),
            (102400, 1, "10 kB"),
            (102405, 1, "10 kB"),
            (-10239999, 3, "-10239.999 bytes"),
            (10751999, 3, "10 kB"),
            (107520, 1, "11 kB"),
            (150, 2, "1.50 bytes"),
            (0, 3, "0.000 bytes"),
            (99999999999999999999999, 0, "88817842 PB"),
            (-999999999999999999999999, 1, "-88817842 PB"),
            (12345678901234567890123456789123, 3, "10965165576624 PB"),
        ] {
            assert_eq!(pretty(unscaled, scale), text, "{unscaled}e-{scale}");
        }
        assert_eq!(pretty_float(1.5).unwrap(), "1.5 bytes");
        assert_eq!(pretty_float(10752.0).unwrap(), "11 kB");
        assert!(pretty_float(f64::NAN).is_err());
    }
}
