//! `PREDICT(model, expr, ...)`: a vectorized scalar function that runs a model over
//! whole Arrow batches.
//!
//! Arguments bind to the model's inputs in declaration order: an array argument
//! (`real[]`, or any list) fills one input row by itself; otherwise an input of width
//! `k` takes the next `k` numeric arguments, in row-major order. Types and arity are
//! checked when the statement is planned (DataFusion asks for the result type), so a
//! mismatch is an error naming the model's inputs, not a failure at run time.
//!
//! In a query the model's current version is looked up when the query runs. A
//! materialized view binds the version it was planned with ([`bind_models`]), so its
//! results — and the retractions that later cancel them — always come from one
//! version; replacing the model rebuilds the view on the new one.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, FixedSizeListArray, LargeListArray, ListArray,
    PrimitiveArray, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, FieldRef, Float32Type, Float64Type, Int32Type, Int64Type,
};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature as UdfSignature, Volatility,
};
use datafusion::scalar::ScalarValue;

use super::model::{Model, Tensor};
use super::signature::{Element, TensorSpec};
use crate::catalog::Catalog;
use crate::error::{Result, SluiceError};

/// The SQL name of the function.
pub const PREDICT: &str = "predict";

/// `PREDICT`, unbound (looks the model up by name) or bound to one model version.
#[derive(Debug)]
pub struct Predict {
    catalog: Arc<Catalog>,
    bound: Option<Arc<Model>>,
    signature: UdfSignature,
}

impl PartialEq for Predict {
    fn eq(&self, other: &Self) -> bool {
        match (&self.bound, &other.bound) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => Arc::ptr_eq(&self.catalog, &other.catalog),
            _ => false,
        }
    }
}

impl Eq for Predict {}

impl std::hash::Hash for Predict {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if let Some(model) = &self.bound {
            model.name().hash(state);
            model.version().hash(state);
        }
    }
}

impl Predict {
    /// The function as registered in the SQL context: resolves models by name.
    pub fn udf(catalog: Arc<Catalog>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Predict {
            catalog,
            bound: None,
            // Volatile to DataFusion's optimizer, so that it never duplicates a call
            // (pushing a filter on a prediction below the projection computing it) nor
            // merges two: a row's prediction may depend on its batch, and each call
            // must be evaluated, and in a view remembered, once. Views accept it
            // (`calls_predict`) and bind the model version.
            signature: UdfSignature::variadic_any(Volatility::Volatile),
        })
    }

    fn bound_to(&self, model: Arc<Model>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Predict {
            catalog: self.catalog.clone(),
            bound: Some(model),
            signature: self.signature.clone(),
        })
    }

    fn model(&self, name: &str) -> Result<Arc<Model>> {
        match &self.bound {
            Some(model) => Ok(model.clone()),
            None => self.catalog.model(name),
        }
    }
}

/// Replaces each `PREDICT` in `plan` by one bound to the model's current version.
/// Returns the plan and the names of the models it uses.
pub fn bind_models(plan: LogicalPlan) -> Result<(LogicalPlan, Vec<String>)> {
    let mut used: Vec<String> = Vec::new();
    let plan = plan
        .transform_up_with_subqueries(|node| {
            node.map_expressions(|expr| {
                expr.transform_up(|e| {
                    let Expr::ScalarFunction(call) = &e else {
                        return Ok(Transformed::no(e));
                    };
                    let Some(predict) =
                        (call.func.inner().as_ref() as &dyn Any).downcast_ref::<Predict>()
                    else {
                        return Ok(Transformed::no(e));
                    };
                    let name = model_name_literal(call.args.first())?;
                    let model = predict.model(&name).map_err(external)?;
                    if !used.contains(&name) {
                        used.push(name);
                    }
                    let func = Arc::new(predict.bound_to(model));
                    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
                        func,
                        args: call.args.clone(),
                    })))
                })
            })
        })
        .data()?;
    Ok((plan, used))
}

/// True when `expr` is a call of `PREDICT`, which is volatile to DataFusion only so
/// the optimizer keeps each call in one place (see [`Predict::udf`]).
pub fn is_predict(expr: &Expr) -> bool {
    matches!(expr, Expr::ScalarFunction(call)
        if (call.func.inner().as_ref() as &dyn Any).is::<Predict>())
}

/// True when `expr` calls `PREDICT`. A model's result for a row may depend on the other
/// rows of its batch (dynamic quantization scales activations over the whole input;
/// ONNX Runtime promises nothing else), so a view over an input that can retract rows
/// must remember each row's prediction rather than recompute it
/// (`crate::dataflow::memo`).
pub fn calls_predict(expr: &Expr) -> bool {
    expr.exists(|e| Ok(is_predict(e))).unwrap_or(true)
}

fn model_name_literal(arg: Option<&Expr>) -> DfResult<String> {
    match arg {
        Some(Expr::Literal(ScalarValue::Utf8(Some(name)), _)) => Ok(name.clone()),
        _ => Err(external(first_argument_error())),
    }
}

fn first_argument_error() -> SluiceError {
    SluiceError::coded(
        "42883",
        "PREDICT takes a model name first: PREDICT(model, expr, ...)",
    )
}

fn external(e: SluiceError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// How the arguments after the model name feed one model input.
#[derive(Debug, Clone, PartialEq)]
enum Binding {
    /// `width` numeric arguments starting at this argument index, one per element.
    Columns(usize),
    /// One array argument at this index, holding the whole row.
    Array(usize),
}

/// Matches argument types (after the model name) to the model's inputs.
fn bind_arguments(model: &Model, types: &[DataType]) -> Result<Vec<Binding>> {
    let signature = model.signature();
    let mismatch = |why: String| {
        let given: Vec<String> = types.iter().map(sql_type).collect();
        SluiceError::coded(
            "42883",
            format!(
                "PREDICT({}, {}): {why}; the model takes {} — for each input in order, \
                 one numeric value per element or one array",
                model.name(),
                given.join(", "),
                signature.describe_inputs(),
            ),
        )
    };
    let mut bindings = Vec::with_capacity(signature.inputs.len());
    let mut next = 0;
    for input in &signature.inputs {
        let width = input.width();
        match types.get(next) {
            None => return Err(mismatch(format!("no argument for input {}", input.name))),
            Some(DataType::FixedSizeList(field, size)) => {
                if !is_numeric(field.data_type()) {
                    return Err(mismatch(format!("input {} needs numbers", input.name)));
                }
                if *size as usize != width {
                    return Err(mismatch(format!(
                        "input {} takes {width} values per row, the array has {size}",
                        input.name
                    )));
                }
                bindings.push(Binding::Array(next));
                next += 1;
            }
            Some(DataType::List(field) | DataType::LargeList(field)) => {
                if !is_numeric(field.data_type()) {
                    return Err(mismatch(format!("input {} needs numbers", input.name)));
                }
                bindings.push(Binding::Array(next));
                next += 1;
            }
            Some(_) => {
                let columns = types.get(next..next + width).ok_or_else(|| {
                    mismatch(format!(
                        "input {} takes {width} values, {} given",
                        input.name,
                        types.len() - next
                    ))
                })?;
                if let Some(bad) = columns.iter().find(|t| !is_numeric(t)) {
                    return Err(mismatch(format!(
                        "input {} needs numbers, not {}",
                        input.name,
                        sql_type(bad)
                    )));
                }
                bindings.push(Binding::Columns(next));
                next += width;
            }
        }
    }
    if next != types.len() {
        return Err(mismatch(format!(
            "{} arguments too many",
            types.len() - next
        )));
    }
    Ok(bindings)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

fn sql_type(t: &DataType) -> String {
    crate::sql::types::sql_name(t)
}

impl ScalarUDFImpl for Predict {
    fn name(&self) -> &str {
        PREDICT
    }

    fn signature(&self) -> &UdfSignature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Err(DataFusionError::Internal(
            "PREDICT's type comes from return_field_from_args".into(),
        ))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let name = match args.scalar_arguments.first() {
            Some(Some(ScalarValue::Utf8(Some(name)))) => name.clone(),
            _ => return Err(external(first_argument_error())),
        };
        let model = self.model(&name).map_err(external)?;
        let types: Vec<DataType> = args.arg_fields[1..]
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        bind_arguments(&model, &types).map_err(external)?;
        Ok(Arc::new(Field::new(
            PREDICT,
            model.signature().result_type(),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let name = match args.args.first() {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name)))) => name.clone(),
            _ => return Err(external(first_argument_error())),
        };
        let model = self.model(&name).map_err(external)?;
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args.args[1..]
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DfResult<_>>()?;
        let types: Vec<DataType> = arrays.iter().map(|a| a.data_type().clone()).collect();
        let bindings = bind_arguments(&model, &types).map_err(external)?;
        predict(&model, &bindings, &arrays, rows)
            .map(ColumnarValue::Array)
            .map_err(external)
    }
}

/// Runs `model` over `rows` rows of `arrays`, giving one result per row (NULL where
/// an input is NULL).
fn predict(
    model: &Model,
    bindings: &[Binding],
    arrays: &[ArrayRef],
    rows: usize,
) -> Result<ArrayRef> {
    let started = Instant::now();
    let signature = model.signature();
    let valid = valid_rows(model, bindings, arrays, rows)?;
    let count = valid.iter().filter(|v| **v).count();
    let tensors = signature
        .inputs
        .iter()
        .zip(bindings)
        .map(|(spec, binding)| gather(spec, binding, arrays, &valid, count))
        .collect::<Result<Vec<_>>>()?;
    let (outputs, calls) = if count == 0 {
        let empty = signature
            .outputs
            .iter()
            .map(|o| Tensor::with_capacity(o.element, 0))
            .collect();
        (empty, 0)
    } else {
        model.run(count, &tensors)?
    };
    let nulls = NullBuffer::from(valid);
    let columns: Vec<ArrayRef> = signature
        .outputs
        .iter()
        .zip(outputs)
        .map(|(spec, tensor)| scatter(spec, tensor, &nulls))
        .collect::<Result<_>>()?;
    let result: ArrayRef = match columns.as_slice() {
        [only] => only.clone(),
        _ => {
            let DataType::Struct(fields) = signature.result_type() else {
                return Err(SluiceError::Internal(
                    "a model with several outputs gives a struct".into(),
                ));
            };
            Arc::new(StructArray::try_new(fields, columns, Some(nulls))?)
        }
    };
    model.stats().record(count, calls, started.elapsed());
    Ok(result)
}

/// Which rows have every input present: a NULL argument, a NULL array, or a NULL
/// element makes the row's prediction NULL. An array of the wrong length is an error.
fn valid_rows(
    model: &Model,
    bindings: &[Binding],
    arrays: &[ArrayRef],
    rows: usize,
) -> Result<Vec<bool>> {
    let mut valid = vec![true; rows];
    for (spec, binding) in model.signature().inputs.iter().zip(bindings) {
        let used: Vec<&ArrayRef> = match binding {
            Binding::Columns(first) => arrays[*first..*first + spec.width()].iter().collect(),
            Binding::Array(index) => vec![&arrays[*index]],
        };
        for array in &used {
            if let Some(nulls) = array.logical_nulls() {
                for (row, v) in valid.iter_mut().enumerate() {
                    *v &= nulls.is_valid(row);
                }
            }
        }
        if let Binding::Array(index) = binding {
            let (offsets, values) = list_parts(&arrays[*index])?;
            let values_nulls = values.logical_nulls();
            for (row, v) in valid.iter_mut().enumerate() {
                if !*v {
                    continue;
                }
                let (start, end) = (offsets[row], offsets[row + 1]);
                if end - start != spec.width() {
                    return Err(SluiceError::coded(
                        "22023",
                        format!(
                            "PREDICT({}): input {} takes {} values per row, an array has {}",
                            model.name(),
                            spec.name,
                            spec.width(),
                            end - start
                        ),
                    ));
                }
                if let Some(nulls) = &values_nulls {
                    *v &= (start..end).all(|i| nulls.is_valid(i));
                }
            }
        }
    }
    Ok(valid)
}

/// A list array's row offsets (as `usize`, `rows + 1` of them) and its values.
fn list_parts(array: &ArrayRef) -> Result<(Vec<usize>, ArrayRef)> {
    if let Some(list) = array.as_any().downcast_ref::<ListArray>() {
        let offsets = list.value_offsets().iter().map(|o| *o as usize).collect();
        return Ok((offsets, list.values().clone()));
    }
    if let Some(list) = array.as_any().downcast_ref::<LargeListArray>() {
        let offsets = list.value_offsets().iter().map(|o| *o as usize).collect();
        return Ok((offsets, list.values().clone()));
    }
    if let Some(list) = array.as_any().downcast_ref::<FixedSizeListArray>() {
        let size = list.value_length() as usize;
        let offsets = (0..=list.len())
            .map(|row| (list.offset() + row) * size)
            .collect();
        return Ok((offsets, list.values().clone()));
    }
    Err(SluiceError::Internal(format!(
        "PREDICT expected an array, got {}",
        array.data_type()
    )))
}

/// The input tensor for one model input: the valid rows' values, row-major, cast to
/// the input's element type.
fn gather(
    spec: &TensorSpec,
    binding: &Binding,
    arrays: &[ArrayRef],
    valid: &[bool],
    count: usize,
) -> Result<Tensor> {
    fn typed<T: ArrowPrimitiveType>(
        binding: &Binding,
        arrays: &[ArrayRef],
        valid: &[bool],
        width: usize,
        count: usize,
    ) -> Result<Vec<T::Native>> {
        let mut out = Vec::with_capacity(count * width);
        let rows = valid
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(r, _)| r);
        match binding {
            Binding::Columns(first) => {
                let columns = arrays[*first..*first + width]
                    .iter()
                    .map(|a| cast(a, &T::DATA_TYPE))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let slices: Vec<&[T::Native]> = columns
                    .iter()
                    .map(|c| c.as_primitive::<T>().values().as_ref())
                    .collect();
                for row in rows {
                    out.extend(slices.iter().map(|s| s[row]));
                }
            }
            Binding::Array(index) => {
                let (offsets, values) = list_parts(&arrays[*index])?;
                let values = cast(&values, &T::DATA_TYPE)?;
                let values = values.as_primitive::<T>().values();
                for row in rows {
                    out.extend_from_slice(&values[offsets[row]..offsets[row + 1]]);
                }
            }
        }
        Ok(out)
    }
    let width = spec.width();
    Ok(match spec.element {
        Element::Float32 => {
            Tensor::Float32(typed::<Float32Type>(binding, arrays, valid, width, count)?)
        }
        Element::Float64 => {
            Tensor::Float64(typed::<Float64Type>(binding, arrays, valid, width, count)?)
        }
        Element::Int32 => Tensor::Int32(typed::<Int32Type>(binding, arrays, valid, width, count)?),
        Element::Int64 => Tensor::Int64(typed::<Int64Type>(binding, arrays, valid, width, count)?),
    })
}

/// One output as an Arrow column over all rows: results at the valid rows, NULL
/// elsewhere; a scalar column, or a list of `width` values per row.
fn scatter(spec: &TensorSpec, tensor: Tensor, nulls: &NullBuffer) -> Result<ArrayRef> {
    let width = spec.width();
    let rows = nulls.len();
    fn spread<T: ArrowPrimitiveType>(
        values: Vec<T::Native>,
        width: usize,
        nulls: &NullBuffer,
    ) -> PrimitiveArray<T> {
        if nulls.null_count() == 0 {
            return PrimitiveArray::<T>::from_iter_values(values);
        }
        // Rows without a prediction get zeros under a null bit.
        let mut spread = Vec::with_capacity(nulls.len() * width);
        let mut next = values.chunks_exact(width);
        let mut validity = BooleanBufferBuilder::new(nulls.len() * width);
        for valid in nulls.iter() {
            // Only rows with a prediction consume one.
            match valid.then(|| next.next()).flatten() {
                Some(chunk) => spread.extend_from_slice(chunk),
                None => spread.extend(std::iter::repeat_n(T::Native::default(), width)),
            }
            validity.append_n(width, valid);
        }
        PrimitiveArray::<T>::new(spread.into(), Some(NullBuffer::new(validity.finish())))
    }
    let values: ArrayRef = match tensor {
        Tensor::Float32(v) => Arc::new(spread::<Float32Type>(v, width, nulls)),
        Tensor::Float64(v) => Arc::new(spread::<Float64Type>(v, width, nulls)),
        Tensor::Int32(v) => Arc::new(spread::<Int32Type>(v, width, nulls)),
        Tensor::Int64(v) => Arc::new(spread::<Int64Type>(v, width, nulls)),
    };
    match spec.output_type() {
        DataType::List(field) => {
            let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(width, rows));
            let nulls = (nulls.null_count() > 0).then(|| nulls.clone());
            Ok(Arc::new(ListArray::try_new(field, offsets, values, nulls)?))
        }
        _ => Ok(values),
    }
}
