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

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

use crate::error::{SluiceError, sqlstate};
use crate::numeric::{Rounding, shift};

/// The largest precision of a `Decimal128`.
const MAX_PRECISION: u8 = 38;

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
}

impl Shape {
    /// The shape of a call over a `Decimal128(precision, scale)` keeping `places`
    /// decimal places (`None`: not a call this module answers).
    fn of(argument: &DataType, places: Option<i64>) -> Option<Shape> {
        let DataType::Decimal128(precision, from_scale) = *argument else {
            return None;
        };
        // Rounding at 10^39 or beyond leaves 0 of any value (< 10^38); more than 38
        // places is a scale a `Decimal128` cannot have.
        let places = i32::try_from(places?.max(-39)).ok()?;
        if places > i32::from(MAX_PRECISION) {
            return None;
        }
        let scale = places.max(0);
        let integer_digits = i32::from(precision) - i32::from(from_scale);
        let precision = (integer_digits + 1 + scale).clamp(1, i32::from(MAX_PRECISION));
        Some(Shape {
            from_scale,
            places,
            precision: u8::try_from(precision).ok()?,
            scale: i8::try_from(scale).ok()?,
        })
    }

    fn data_type(self) -> DataType {
        DataType::Decimal128(self.precision, self.scale)
    }

    /// `value` (of scale `from_scale`) rounded and written at the result's scale;
    /// `None` when it does not fit.
    fn apply(self, value: i128, rounding: Rounding) -> Option<i128> {
        let dropped = i8::try_from(i32::from(self.from_scale) - self.places).ok()?;
        let rounded = shift(value, dropped, rounding)?;
        if rounded == 0 {
            return Some(0);
        }
        // Back to the result's scale: a negative `places` leaves zeros before the point.
        let zeros = i8::try_from(self.places - i32::from(self.scale)).ok()?;
        let restored = shift(rounded, zeros, rounding)?;
        (restored.unsigned_abs() < 10u128.pow(u32::from(self.precision))).then_some(restored)
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
    let values = values.as_primitive::<Decimal128Type>();
    let mut overflow = false;
    let rounded: Decimal128Array = values
        .iter()
        .map(|value| {
            let rounded = shape.apply(value?, rounding);
            overflow |= rounded.is_none();
            rounded
        })
        .collect();
    if overflow {
        return Err(DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("numeric field overflow: the result needs more than {MAX_PRECISION} digits"),
        ))));
    }
    Ok(Arc::new(rounded.with_data_type(shape.data_type())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of `value` (unscaled digits at `shape`'s scale).
    fn text(value: i128, shape: Shape) -> String {
        Decimal128Array::from(vec![value])
            .with_data_type(shape.data_type())
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
            let result = shape.apply(value, rounding).unwrap();
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
        assert_eq!(shape.apply(7, Rounding::Up), Some(7));
        let padded = Shape::of(&DataType::Decimal128(38, 0), Some(2)).unwrap();
        assert_eq!(padded.apply(10i128.pow(37), Rounding::Up), None);
        assert!(Shape::of(&DataType::Float64, Some(0)).is_none());
        assert!(Shape::of(&DataType::Decimal128(10, 2), None).is_none());
        assert!(Shape::of(&DataType::Decimal128(10, 2), Some(39)).is_none());
    }
}
