//! PostgreSQL's rounding of exact numbers: to fewer decimal places, half away from
//! zero (`numeric_in` with a type modifier, casts from `numeric` to integers).
//! Shared by casts (`sql::functions::integers`) and the readers of JSON and CSV
//! messages (`connectors::decode`), which read numbers with more digits than kept.

use datafusion::arrow::datatypes::i256;

/// `value / 10^scale` rounded half away from zero (`scale` ≤ 0 multiplies); `None`
/// when it does not fit.
pub fn round_half_away(value: i128, scale: i8) -> Option<i128> {
    let power = 10i128.checked_pow(u32::from(scale.unsigned_abs()))?;
    if scale <= 0 {
        return value.checked_mul(power);
    }
    let (quotient, remainder) = (value / power, value % power);
    let half_or_more = remainder.unsigned_abs() * 2 >= power.unsigned_abs();
    Some(quotient + if half_or_more { value.signum() } else { 0 })
}

/// [`round_half_away`] of a 256-bit decimal, `None` when the result does not fit 128
/// bits.
pub fn round_half_away_256(value: i256, scale: i8) -> Option<i128> {
    let power = i256::from_i128(10).checked_pow(u32::from(scale.unsigned_abs()))?;
    if scale <= 0 {
        return value.checked_mul(power)?.to_i128();
    }
    let (quotient, remainder) = (value.checked_div(power)?, value.checked_rem(power)?);
    let twice = remainder.checked_abs()?.checked_mul(i256::from_i128(2))?;
    let step = if twice >= power {
        value.signum()
    } else {
        i256::ZERO
    };
    quotient.checked_add(step)?.to_i128()
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
}
