//! PostgreSQL's rounding of exact numbers: to fewer decimal places, half away from
//! zero (`numeric_in` with a type modifier, casts from `numeric` to integers), and
//! exact numbers into integer and numeric columns with their range checked. Shared by
//! casts (`sql::functions::integers`) and the readers of JSON and CSV messages
//! (`connectors::decode`), which read numbers with more digits than kept.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Int16Type, Int32Type, Int64Type, i256,
};
use datafusion::arrow::error::ArrowError;

/// How an exact number drops decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// To the nearest, halves away from zero (`round`, `numeric_in`).
    HalfAwayFromZero,
    /// Toward zero (`trunc`).
    TowardZero,
    /// Toward negative infinity (`floor`).
    Down,
    /// Toward positive infinity (`ceil`).
    Up,
}

/// `value / 10^scale` rounded half away from zero (`scale` ≤ 0 multiplies); `None`
/// when it does not fit.
pub fn round_half_away(value: i128, scale: i8) -> Option<i128> {
    shift(value, scale, Rounding::HalfAwayFromZero)
}

/// `value / 10^places` rounded as `rounding` says (`places` ≤ 0 multiplies by
/// `10^-places`); `None` when it does not fit.
pub fn shift(value: i128, places: i8, rounding: Rounding) -> Option<i128> {
    let power = 10i128.checked_pow(u32::from(places.unsigned_abs()));
    if places <= 0 {
        return value.checked_mul(power?);
    }
    let (quotient, remainder, half_or_more) = match power {
        Some(power) => {
            let remainder = value % power;
            let half_or_more = remainder.unsigned_abs() * 2 >= power.unsigned_abs();
            (value / power, remainder, half_or_more)
        }
        // 10^39 and beyond do not fit: every value is less than half of them.
        None => (0, value, false),
    };
    let step = match rounding {
        Rounding::HalfAwayFromZero if half_or_more => value.signum(),
        Rounding::Down if remainder < 0 => -1,
        Rounding::Up if remainder > 0 => 1,
        _ => 0,
    };
    Some(quotient + step)
}

/// [`round_half_away`] of a 256-bit decimal, `None` when the result does not fit 128
/// bits.
pub fn round_half_away_256(value: i256, scale: i8) -> Option<i128> {
    shift_256(value, scale, Rounding::HalfAwayFromZero)?.to_i128()
}

/// [`shift`] of a 256-bit decimal's unscaled digits.
pub fn shift_256(value: i256, places: i8, rounding: Rounding) -> Option<i256> {
    let power = i256::from_i128(10).checked_pow(u32::from(places.unsigned_abs()));
    if places <= 0 {
        return value.checked_mul(power?);
    }
    let Some(power) = power else {
        // 10^77 and beyond do not fit: every value is less than half of them.
        let step = match rounding {
            Rounding::Down if value < i256::ZERO => i256::MINUS_ONE,
            Rounding::Up if value > i256::ZERO => i256::ONE,
            _ => i256::ZERO,
        };
        return Some(step);
    };
    let (quotient, remainder) = (value.checked_div(power)?, value.checked_rem(power)?);
    let half_or_more = remainder.checked_abs()?.checked_mul(i256::from_i128(2))? >= power;
    let step = match rounding {
        Rounding::HalfAwayFromZero if half_or_more => value.signum(),
        Rounding::Down if remainder < i256::ZERO => i256::MINUS_ONE,
        Rounding::Up if remainder > i256::ZERO => i256::ONE,
        _ => i256::ZERO,
    };
    quotient.checked_add(step)
}

/// `values` (exact numbers as `i128`: integers, or a decimal's unscaled digits) as an
/// array of `data_type`, an integer type or a `Decimal128` whose precision bounds
/// them. A value that does not fit is NULL and its row is added to `out_of_range`.
pub fn exact_array(
    values: impl Iterator<Item = Option<i128>>,
    data_type: &DataType,
    out_of_range: &mut Vec<usize>,
) -> Result<ArrayRef, ArrowError> {
    fn build<T: ArrowPrimitiveType>(
        values: impl Iterator<Item = Option<i128>>,
        out_of_range: &mut Vec<usize>,
        fit: impl Fn(i128) -> Option<T::Native>,
    ) -> PrimitiveArray<T> {
        values
            .enumerate()
            .map(|(row, value)| {
                let fitted = fit(value?);
                if fitted.is_none() {
                    out_of_range.push(row);
                }
                fitted
            })
            .collect()
    }
    Ok(match data_type {
        DataType::Int16 => Arc::new(build::<Int16Type>(values, out_of_range, |v| {
            i16::try_from(v).ok()
        })),
        DataType::Int32 => Arc::new(build::<Int32Type>(values, out_of_range, |v| {
            i32::try_from(v).ok()
        })),
        DataType::Int64 => Arc::new(build::<Int64Type>(values, out_of_range, |v| {
            i64::try_from(v).ok()
        })),
        DataType::Decimal128(precision, scale) => {
            let limit = 10u128.pow(u32::from(*precision));
            let fit = |v: i128| (v.unsigned_abs() < limit).then_some(v);
            Arc::new(
                build::<Decimal128Type>(values, out_of_range, fit)
                    .with_precision_and_scale(*precision, *scale)?,
            )
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "exact numbers cannot make an array of {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_round_away_from_zero() {
        assert_eq!(round_half_away(25, 1), Some(3));
        assert_eq!(round_half_away(-25, 1), Some(-3));
        assert_eq!(round_half_away(24, 1), Some(2));
        assert_eq!(round_half_away(-249, 2), Some(-2));
        assert_eq!(round_half_away(5, 0), Some(5));
        assert_eq!(round_half_away(5, -2), Some(500));
        assert_eq!(round_half_away(i128::MAX, 38), Some(2));
        assert_eq!(round_half_away(i128::MAX, -1), None);
        let big = i256::from_i128(10).wrapping_pow(40);
        assert_eq!(round_half_away_256(big, 40), Some(1));
        assert_eq!(round_half_away_256(big.wrapping_neg(), 41), Some(0));
        assert_eq!(round_half_away_256(i256::from_i128(-15), 1), Some(-2));
        assert_eq!(round_half_away_256(big, 0), None);
    }

    #[test]
    fn shifts_round_each_way() {
        use Rounding::*;
        let cases = [
            (15, Up, 2),
            (-15, Up, -1),
            (15, Down, 1),
            (-15, Down, -2),
            (-15, TowardZero, -1),
            (19, TowardZero, 1),
            (10, Up, 1),
            (-10, Down, -1),
            (-15, HalfAwayFromZero, -2),
        ];
        for (value, rounding, expected) in cases {
            assert_eq!(
                shift(value, 1, rounding),
                Some(expected),
                "{value} {rounding:?}"
            );
        }
        assert_eq!(shift(7, -2, Up), Some(700));
        assert_eq!(shift(i128::MAX, -1, Down), None);
        assert_eq!(shift(1, 38, Up), Some(1));
        assert_eq!(shift(-1, 38, Down), Some(-1));
        assert_eq!(shift(-1, 38, Up), Some(0));
        assert_eq!(shift(i128::MAX, 60, HalfAwayFromZero), Some(0));
        assert_eq!(shift(i128::MIN, 60, Down), Some(-1));
        assert_eq!(shift(5, 39, Up), Some(1));
        let wide = |v: i128| i256::from_i128(v);
        for (value, rounding, expected) in cases {
            assert_eq!(shift_256(wide(value), 1, rounding), Some(wide(expected)));
        }
        assert_eq!(shift_256(wide(7), -2, Up), Some(wide(700)));
        assert_eq!(shift_256(i256::MAX, -1, Down), None);
        assert_eq!(shift_256(wide(-1), 77, Down), Some(wide(-1)));
        assert_eq!(shift_256(i256::MAX, 77, HalfAwayFromZero), Some(wide(0)));
    }

    #[test]
    fn exact_arrays_leave_out_what_does_not_fit() {
        let mut out_of_range = Vec::new();
        let values = [Some(32767), None, Some(32768), Some(-32769)];
        let array = exact_array(values.into_iter(), &DataType::Int16, &mut out_of_range).unwrap();
        assert_eq!(out_of_range, vec![2, 3]);
        assert_eq!(array.null_count(), 3);
        let mut out_of_range = Vec::new();
        let decimal = DataType::Decimal128(3, 1);
        let array = exact_array(
            [Some(999), Some(-1000)].into_iter(),
            &decimal,
            &mut out_of_range,
        )
        .unwrap();
        assert_eq!(out_of_range, vec![1]);
        assert_eq!(array.data_type(), &decimal);
    }
}
