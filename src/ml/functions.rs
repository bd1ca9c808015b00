//! Array functions for model outputs: `argmax(array)` (the position of the largest
//! value — a Q-network's best action, a classifier's class) and `softmax(array)`
//! (scores to probabilities).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Which array function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Argmax,
    Softmax,
}

/// `argmax` or `softmax` over numeric arrays.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArrayFunction {
    kind: Kind,
    signature: Signature,
}

/// `argmax(array) -> bigint`: the 0-based position of the largest value (the first
/// one on ties; NaN never wins), NULL for a NULL or empty array.
pub fn argmax() -> ScalarUDF {
    ScalarUDF::new_from_impl(ArrayFunction {
        kind: Kind::Argmax,
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// `softmax(array) -> double precision[]`: `exp(x_i - max) / sum(exp(x_j - max))`,
/// NULL for a NULL array or one holding a NULL.
pub fn softmax() -> ScalarUDF {
    ScalarUDF::new_from_impl(ArrayFunction {
        kind: Kind::Softmax,
        signature: Signature::any(1, Volatility::Immutable),
    })
}

fn numeric_list(t: &DataType) -> bool {
    matches!(t, DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
        if f.data_type().is_numeric())
}

fn softmax_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

impl ScalarUDFImpl for ArrayFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Argmax => "argmax",
            Kind::Softmax => "softmax",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match arg_types {
            [t] if numeric_list(t) || t.is_null() => Ok(match self.kind {
                Kind::Argmax => DataType::Int64,
                Kind::Softmax => softmax_type(),
            }),
            _ => Err(DataFusionError::External(Box::new(
                crate::error::SluiceError::coded(
                    "42883",
                    format!("{}() takes one numeric array", self.name()),
                ),
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes one argument",
                self.name()
            )));
        };
        let array = arg.to_array(args.number_rows)?;
        // One layout to walk: a list of doubles.
        let list = cast(&array, &softmax_type())?;
        let list = list.as_list::<i32>();
        let result: ArrayRef = match self.kind {
            Kind::Argmax => Arc::new(
                (0..list.len())
                    .map(|row| {
                        if list.is_null(row) {
                            return None;
                        }
                        let values = list.value(row);
                        let values = values.as_primitive::<Float64Type>();
                        let mut best: Option<(usize, f64)> = None;
                        for (i, v) in values.iter().enumerate() {
                            if let Some(v) = v.filter(|v| !v.is_nan())
                                && best.is_none_or(|(_, b)| v > b)
                            {
                                best = Some((i, v));
                            }
                        }
                        best.map(|(i, _)| i as i64)
                    })
                    .collect::<Int64Array>(),
            ),
            Kind::Softmax => {
                let rows = (0..list.len()).map(|row| {
                    if list.is_null(row) {
                        return None;
                    }
                    let values = list.value(row);
                    let values = values.as_primitive::<Float64Type>();
                    if values.null_count() > 0 {
                        return None;
                    }
                    let max = values
                        .values()
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max);
                    let exps: Vec<f64> = values.values().iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = exps.iter().sum();
                    Some(exps.into_iter().map(|e| Some(e / sum)).collect::<Vec<_>>())
                });
                Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows))
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Float32Type;
    use datafusion::config::ConfigOptions;

    use super::*;

    fn call(function: &ScalarUDF, input: ArrayRef) -> ArrayRef {
        let return_type = function.return_type(&[input.data_type().clone()]).unwrap();
        let args = ScalarFunctionArgs {
            number_rows: input.len(),
            arg_fields: vec![Arc::new(Field::new("x", input.data_type().clone(), true))],
            args: vec![ColumnarValue::Array(input)],
            return_field: Arc::new(Field::new("y", return_type, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        match function.invoke_with_args(args).unwrap() {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array().unwrap(),
        }
    }

    fn lists(rows: Vec<Option<Vec<Option<f32>>>>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows))
    }

    #[test]
    fn argmax_picks_the_first_largest_and_skips_nulls_and_nan() {
        let input = lists(vec![
            Some(vec![Some(0.5), Some(2.0), Some(2.0)]),
            Some(vec![Some(f32::NAN), Some(-1.0)]),
            Some(vec![None, Some(-3.0), Some(-4.0)]),
            Some(vec![]),
            None,
        ]);
        let out = call(&argmax(), input);
        let out = out.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let got: Vec<Option<i64>> = out.iter().collect();
        assert_eq!(got, vec![Some(1), Some(1), Some(1), None, None]);
    }

    #[test]
    fn softmax_sums_to_one_and_is_stable_for_large_values() {
        let input = lists(vec![
            Some(vec![Some(1000.0), Some(1000.0)]),
            Some(vec![Some(0.0), None]),
            None,
        ]);
        let out = call(&softmax(), input);
        let out = out.as_list::<i32>();
        let first = out.value(0);
        let first = first.as_primitive::<Float64Type>();
        assert_eq!(first.values().as_ref(), &[0.5, 0.5]);
        assert!(out.is_null(1) && out.is_null(2));
    }

    #[test]
    fn non_arrays_are_refused() {
        let err = argmax().return_type(&[DataType::Utf8]).unwrap_err();
        assert!(err.to_string().contains("numeric array"), "{err}");
    }
}
