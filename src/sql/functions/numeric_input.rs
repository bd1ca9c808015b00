//! Text read as a `numeric` as PostgreSQL 15's `numeric_in` reads it: spaces around
//! the number, a sign, `1.`, `.5` and an exponent (`1e5`, `1.5E-3`), which Arrow's
//! cast refused. The number is written out in plain digits for Arrow's cast to the
//! column's precision and scale (rounded half away from zero, `22003` when too wide,
//! `22P02` for text that is no number, in PostgreSQL's words).
//! `NaN` and `Infinity`, which PostgreSQL's `numeric` holds and Sluice's does not, are
//! refused (`0A000`) rather than read as something else.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};

use crate::error::{SluiceError, sqlstate};
use crate::sql::types::sql_name;

/// Exponents beyond this either way are written as a number that overflows every
/// column (above) or rounds to zero (below), as PostgreSQL's would.
const LARGEST_EXPONENT: i64 = 1000;

/// `texts` (any string type) as values of `decimal`, a `Decimal128` or `Decimal256`:
/// `22P02` for text that is no number, `22003` for a number too wide for the type.
pub fn numeric_values(texts: &ArrayRef, decimal: &DataType) -> Result<ArrayRef> {
    let texts = cast(texts, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    let plain = texts
        .iter()
        .map(|text| text.map(plain_digits).transpose())
        .collect::<Result<StringArray>>()?;
    // NULL where Arrow cannot read the plain digits: told apart below.
    let read = cast(&(Arc::new(plain) as ArrayRef), decimal)?;
    if let Some(row) = (0..read.len()).find(|&row| read.is_null(row) && texts.is_valid(row)) {
        let text = texts.value(row);
        let error = if Number::parse(trimmed(text)).is_some() {
            SluiceError::coded(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "numeric field overflow: {} does not fit {}",
                    trimmed(text),
                    sql_name(decimal)
                ),
            )
        } else {
            SluiceError::coded(
                sqlstate::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type numeric: \"{text}\""),
            )
        };
        return Err(DataFusionError::External(Box::new(error)));
    }
    Ok(read)
}

fn trimmed(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// `text` as plain digits (`-1500`, `0.0015`); text that is no number as it is, for
/// the cast to refuse in PostgreSQL's words.
fn plain_digits(text: &str) -> Result<String> {
    let trimmed = trimmed(text);
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    if ["nan", "infinity", "inf"]
        .iter()
        .any(|special| unsigned.eq_ignore_ascii_case(special))
    {
        return Err(DataFusionError::External(Box::new(
            SluiceError::not_supported(format!(
                "\"{trimmed}\" is not a numeric value Sluice can hold: its NUMERIC has no NaN or infinities"
            )),
        )));
    }
    Ok(Number::parse(trimmed).map_or_else(|| text.to_string(), Number::plain))
}

/// A number written in decimal: its sign, digits and where the point falls in them.
#[derive(Debug, PartialEq)]
struct Number {
    negative: bool,
    digits: String,
    /// The digits before the point (negative or beyond `digits` for zeros to add).
    point: i64,
}

impl Number {
    /// `[+-]digits[.digits][(e|E)[+-]digits]` with a digit on one side of the point.
    fn parse(text: &str) -> Option<Number> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.len() + fraction.len() == 0 || !all_digits(integer) || !all_digits(fraction) {
            return None;
        }
        let exponent = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.trim_start_matches(['+', '-']);
                if unsigned.is_empty() || !all_digits(unsigned) || e.len() - unsigned.len() > 1 {
                    return None;
                }
                let magnitude = unsigned
                    .parse::<i64>()
                    .unwrap_or(i64::MAX)
                    .min(10 * LARGEST_EXPONENT);
                if e.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        Some(Number {
            negative,
            digits: format!("{integer}{fraction}"),
            point: integer.len() as i64 + exponent,
        })
    }

    /// The number in plain digits, without an exponent.
    fn plain(self) -> String {
        let sign = if self.negative { "-" } else { "" };
        if self.point > LARGEST_EXPONENT {
            return format!("{sign}1{}", "0".repeat(LARGEST_EXPONENT as usize));
        }
        if self.point < -LARGEST_EXPONENT {
            return "0".to_string();
        }
        let length = self.digits.len() as i64;
        let (integer, fraction) = if self.point <= 0 {
            (
                "0".to_string(),
                format!("{}{}", "0".repeat((-self.point) as usize), self.digits),
            )
        } else if self.point >= length {
            (
                format!(
                    "{}{}",
                    self.digits,
                    "0".repeat((self.point - length) as usize)
                ),
                String::new(),
            )
        } else {
            let (integer, fraction) = self.digits.split_at(self.point as usize);
            (integer.to_string(), fraction.to_string())
        };
        if fraction.is_empty() {
            format!("{sign}{integer}")
        } else {
            format!("{sign}{integer}.{fraction}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_and_bare_points_become_plain_digits() {
        let cases = [
            ("1e5", "100000"),
            (" -1.5E-3 ", "-0.0015"),
            ("+12.5e1", "125"),
            ("1.", "1"),
            (".5", "0.5"),
            ("-.5e2", "-50"),
            ("123.456e-1", "12.3456"),
            ("0e0", "0"),
            ("1e-1000000", "0"),
        ];
        for (text, plain) in cases {
            assert_eq!(plain_digits(text).unwrap(), plain, "{text}");
        }
        assert_eq!(plain_digits("1e9999").unwrap().len(), 1001);
    }

    #[test]
    fn text_that_is_no_number_stays_for_the_cast_to_refuse() {
        for text in ["abc", "1e", "1.2.3", "--1", "e5", ".", "1e+-2", ""] {
            assert_eq!(plain_digits(text).unwrap(), text, "{text}");
        }
        for special in ["NaN", "-Infinity", " inf"] {
            assert!(plain_digits(special).is_err(), "{special}");
        }
    }

    #[test]
    fn values_take_the_scale_of_the_type() {
        let texts: ArrayRef = Arc::new(StringArray::from(vec![
            Some("1.005e0"),
            None,
            Some("2.5E+1"),
        ]));
        let read = numeric_values(&texts, &DataType::Decimal128(10, 2)).unwrap();
        let read = read.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
        assert_eq!(
            read.iter().collect::<Vec<_>>(),
            [Some(101), None, Some(2500)]
        );
        let wide = numeric_values(&texts, &DataType::Decimal128(3, 2));
        assert!(wide.is_err());
    }
}
