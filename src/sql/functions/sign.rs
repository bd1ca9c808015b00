//! `sign(x)` as PostgreSQL's: -1, 0 or 1 after the argument's sign; a `numeric` of
//! scale 0 for a `numeric` (`sign(-2.50)` is `-1`), a `double precision` for floats and
//! integers (PostgreSQL resolves `sign(7)` to `sign(double precision)`), 0 for `NaN`
//! and `-0`. DataFusion's nearest function, `signum`, is not PostgreSQL's and stays
//! refused.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Decimal256Type, Float64Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The function, to register.
pub fn sign() -> ScalarUDF {
    ScalarUDF::new_from_impl(Sign {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sign {
    signature: Signature,
}

/// The sign of a `numeric`: `Decimal128(1, 0)`.
const NUMERIC_SIGN: DataType = DataType::Decimal128(1, 0);

impl ScalarUDFImpl for Sign {
    fn name(&self) -> &str {
        "sign"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t @ (DataType::Decimal128(..) | DataType::Decimal256(..))] => Ok(vec![t.clone()]),
            [t] if t.is_numeric() || t.is_null() => Ok(vec![DataType::Float64]),
            _ => Err(DataFusionError::Plan(format!(
                "function sign({}) does not exist",
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match arg_types {
            [DataType::Decimal128(..) | DataType::Decimal256(..)] => NUMERIC_SIGN,
            _ => DataType::Float64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_values(&args.args, self.name(), signs)
    }
}

fn signs(values: &ArrayRef) -> Result<ArrayRef> {
    Ok(match values.data_type() {
        DataType::Decimal128(..) => {
            let signs: Decimal128Array =
                values.as_primitive::<Decimal128Type>().unary(i128::signum);
            Arc::new(signs.with_data_type(NUMERIC_SIGN))
        }
        DataType::Decimal256(..) => {
            let signs: Decimal128Array = values
                .as_primitive::<Decimal256Type>()
                .unary::<_, Decimal128Type>(|v| v.signum().as_i128());
            Arc::new(signs.with_data_type(NUMERIC_SIGN))
        }
        _ => {
            let values = cast(values, &DataType::Float64)?;
            let signs: Float64Array = values.as_primitive::<Float64Type>().unary(|v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            });
            Arc::new(signs)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    #[test]
    fn signs_are_postgres() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(f64::NAN),
            Some(-0.0),
            Some(-2.5),
            Some(f64::INFINITY),
            None,
        ]));
        let of_floats = signs(&floats).unwrap();
        let of_floats = of_floats.as_primitive::<Float64Type>();
        assert_eq!(of_floats.values()[..4], [0.0, 0.0, -1.0, 1.0]);
        assert!(of_floats.is_null(4));
        let numerics: ArrayRef = Arc::new(
            Decimal128Array::from(vec![-250, 0, 1])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        let of_numerics = signs(&numerics).unwrap();
        assert_eq!(of_numerics.data_type(), &NUMERIC_SIGN);
        assert_eq!(
            of_numerics.as_primitive::<Decimal128Type>().values()[..],
            [-1, 0, 1]
        );
    }
}
