//! `round`, `trunc`, `ceil` and `floor` of a `numeric` as PostgreSQL's: the result
//! has the scale the call asks for, and room for the digit a carry adds.
//!
//! - `ceil(x)`, `floor(x)`, `trunc(x)`, `round(x)`: no decimal places (`ceil(1.5)` is
//!   `2`; DataFusion's kept the argument's scale and printed `2.0`).
//! - `round(x, n)`, `trunc(x, n)` with a constant `n`: `n` decimal places, zeros
//!   added when `x` has fewer (`round(2.5, 3)` is `2.500`, `trunc(1.25, 3)` `1.250`);
//!   none for a negative `n` (`round(1234.5, -2)` is `1200`).
//! - One more integer digit than the argument's type holds: `ceil(9.5)` is `10`
//!   (DataFusion's failed with a decimal overflow).
//!
//! Other arguments (floats, integers, an `n` that is not a constant, whose result
//! scale PostgreSQL would choose row by row) go to the function this one wraps.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array, Decimal256Array};
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Field, FieldRef, i256,
};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

use crate::error::{SluiceError, sqlstate};
use crate::numeric::{Rounding, shift_256};

/// The largest precision of a `Decimal128`.
const MAX_PRECISION: u8 = 38;
/// The largest precision of a `Decimal256`.
const MAX_WIDE_PRECISION: u8 = 76;

/// `inner` (DataFusion's `ceil`, `floor`, `trunc`, or Sluice's `round`) answering for
/// `numeric` arguments as PostgreSQL's does.
pub fn wrap(inner: Arc<ScalarUDF>, rounding: Rounding) -> ScalarUDF {
    ScalarUDF::new_from_impl(NumericRounding { inner, rounding })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericRounding {
    inner: Arc<ScalarUDF>,
    rounding: Rounding,
}

/// Where a `numeric` of scale `from_scale` is rounded (`places`: the decimal places
/// kept, negative for tens, hundreds…) and the type of the result.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    from_scale: i8,
    places: i32,
    precision: u8,
    scale: i8,
    /// Whether the argument and the result are 256-bit decimals.
    wide: bool,
}

impl Shape {
    /// The shape of a call over a `Decimal128(precision, scale)` or a `Decimal256`
    /// keeping `places` decimal places (`None`: not a call this module answers).
    fn of(argument: &DataType, places: Option<i64>) -> Option<Shape> {
        let (precision, from_scale, wide) = match *argument {
            DataType::Decimal128(precision, scale) => (precision, scale, false),
            DataType::Decimal256(precision, scale) => (precision, scale, true),
            _ => return None,
        };
        let max_precision = i32::from(if wide {
            MAX_WIDE_PRECISION
        } else {
            MAX_PRECISION
        });
        // Rounding at 10^(max + 1) or beyond leaves 0 of any value (< 10^max); more
        // places than the widest precision is a scale the decimal cannot have.
        let places = i32::try_from(places?.max(-i64::from(max_precision + 1))).ok()?;
        if places > max_precision {
            return None;
        }
        let scale = places.max(0);
        let integer_digits = i32::from(precision) - i32::from(from_scale);
        let precision = (integer_digits + 1 + scale).clamp(1, max_precision);
        Some(Shape {
            from_scale,
            places,
            precision: u8::try_from(precision).ok()?,
            scale: i8::try_from(scale).ok()?,
            wide,
        })
    }

    fn data_type(self) -> DataType {
        if self.wide {
            DataType::Decimal256(self.precision, self.scale)
        } else {
            DataType::Decimal128(self.precision, self.scale)
        }
    }

    /// `value` (of scale `from_scale`) rounded and written at the result's scale;
    /// `None` when it does not fit.
    fn apply(self, value: i256, rounding: Rounding) -> Option<i256> {
        let dropped = i8::try_from(i32::from(self.from_scale) - self.places).ok()?;
        let rounded = shift_256(value, dropped, rounding)?;
        if rounded == i256::ZERO {
            return Some(i256::ZERO);
        }
        // Back to the result's scale: a negative `places` leaves zeros before the point.
        let zeros = i8::try_from(self.places - i32::from(self.scale)).ok()?;
        let restored = shift_256(rounded, zeros, rounding)?;
        let limit = i256::from_i128(10).checked_pow(u32::from(self.precision))?;
        (restored.checked_abs()? < limit).then_some(restored)
    }
}

/// The constant number of places in a call's second argument, 0 without one; `None`
/// when it is not a constant integer.
fn constant_places(argument: Option<Option<&ScalarValue>>) -> Option<i64> {
    match argument {
        None => Some(0),
        Some(Some(value)) if !value.is_null() && value.data_type().is_integer() => {
            match value.cast_to(&DataType::Int64).ok()? {
                ScalarValue::Int64(places) => places,
                _ => None,
            }
        }
        Some(_) => None,
    }
}

impl NumericRounding {
    /// The shape of a call with these argument types and constant arguments.
    fn shape(&self, types: &[DataType], places: Option<Option<&ScalarValue>>) -> Option<Shape> {
        if types.len() > 2 {
            return None;
        }
        Shape::of(types.first()?, constant_places(places))
    }
}

impl ScalarUDFImpl for NumericRounding {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        match self.shape(&types, args.scalar_arguments.get(1).copied()) {
            Some(shape) => {
                let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
                Ok(Arc::new(Field::new(
                    self.name(),
                    shape.data_type(),
                    nullable,
                )))
            }
            None => self.inner.return_field_from_args(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(ColumnarValue::data_type).collect();
        let places = match args.args.get(1) {
            None => None,
            Some(ColumnarValue::Scalar(value)) => Some(Some(value)),
            Some(ColumnarValue::Array(_)) => Some(None),
        };
        // Only where planning chose this module's type for the result.
        let shape = self
            .shape(&types, places)
            .filter(|shape| &shape.data_type() == args.return_field.data_type());
        let Some(shape) = shape else {
            return self.inner.invoke_with_args(args);
        };
        let values = args.args[0].to_array(args.number_rows)?;
        let rounded = rounded(&values, shape, self.rounding)?;
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&rounded, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(rounded),
        })
    }
}

fn rounded(values: &ArrayRef, shape: Shape, rounding: Rounding) -> Result<ArrayRef> {
    let mut overflow = false;
    let mut apply = |value: i256| {
        let rounded = shape.apply(value, rounding);
        overflow |= rounded.is_none();
        rounded
    };
    let rounded: ArrayRef = if shape.wide {
        let values = values.as_primitive::<Decimal256Type>();
        let rounded: Decimal256Array = values.iter().map(|v| apply(v?)).collect();
        Arc::new(rounded.with_data_type(shape.data_type()))
    } else {
        let values = values.as_primitive::<Decimal128Type>();
        let rounded: Decimal128Array = values
            .iter()
            .map(|v| apply(i256::from_i128(v?))?.to_i128())
            .collect();
        Arc::new(rounded.with_data_type(shape.data_type()))
    };
    if overflow {
        return Err(DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            format!(
                "numeric field overflow: the result needs more than {} digits",
                shape.precision
            ),
        ))));
    }
    Ok(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of `value` (unscaled digits at `shape`'s scale).
    fn text(value: i256, shape: Shape) -> String {
        Decimal256Array::from(vec![value])
            .with_data_type(DataType::Decimal256(shape.precision, shape.scale))
            .value_as_string(0)
    }

    #[test]
    fn results_have_the_scale_postgres_gives_them() {
        use Rounding::*;
        // (argument digits, its type, places, rounding, PostgreSQL's text)
        let cases = [
            (15, (2, 1), 0, Up, "2"),
            (95, (2, 1), 0, Up, "10"),
            (-15, (2, 1), 0, Up, "-1"),
            (-15, (2, 1), 0, Down, "-2"),
            (125, (10, 2), 3, TowardZero, "1.250"),
            (25, (2, 1), 3, HalfAwayFromZero, "2.500"),
            (12345678, (8, 4), -2, HalfAwayFromZero, "1200"),
            (12345678, (8, 4), -1, TowardZero, "1230"),
            (2567, (4, 3), 1, HalfAwayFromZero, "2.6"),
            (-9999, (4, 2), 1, HalfAwayFromZero, "-100.0"),
            (5, (1, 0), -1, HalfAwayFromZero, "10"),
            (4, (1, 0), -5, HalfAwayFromZero, "0"),
            (99, (38, 36), -100, TowardZero, "0"),
        ];
        for (value, (precision, scale), places, rounding, expected) in cases {
            let shape = Shape::of(&DataType::Decimal128(precision, scale), Some(places)).unwrap();
            let result = shape.apply(i256::from_i128(value), rounding).unwrap();
            assert_eq!(
                text(result, shape),
                expected,
                "{value} ({precision},{scale}) {places} {rounding:?}"
            );
        }
    }

    #[test]
    fn results_past_38_digits_overflow() {
        let shape = Shape::of(&DataType::Decimal128(38, 0), Some(0)).unwrap();
        assert_eq!(shape.precision, 38);
        let wide = i256::from_i128;
        assert_eq!(shape.apply(wide(7), Rounding::Up), Some(wide(7)));
        let padded = Shape::of(&DataType::Decimal128(38, 0), Some(2)).unwrap();
        assert_eq!(padded.apply(wide(10i128.pow(37)), Rounding::Up), None);
        let unconstrained = Shape::of(&DataType::Decimal256(76, 10), Some(0)).unwrap();
        assert_eq!(unconstrained.data_type(), DataType::Decimal256(67, 0));
        let big = wide(10i128.pow(37)).wrapping_mul(wide(10i128.pow(20)));
        assert_eq!(
            unconstrained.apply(
                big.wrapping_add(wide(5_000_000_000)),
                Rounding::HalfAwayFromZero
            ),
            Some(
                wide(10i128.pow(37))
                    .wrapping_mul(wide(10i128.pow(10)))
                    .wrapping_add(wide(1))
            )
        );
        assert!(Shape::of(&DataType::Decimal256(76, 10), Some(77)).is_none());
        assert!(Shape::of(&DataType::Float64, Some(0)).is_none());
        assert!(Shape::of(&DataType::Decimal128(10, 2), None).is_none());
        assert!(Shape::of(&DataType::Decimal128(10, 2), Some(39)).is_none());
    }
}
