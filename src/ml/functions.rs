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
