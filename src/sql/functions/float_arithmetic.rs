//! `+`, `-`, `*` and `/` of floating-point numbers as PostgreSQL 15's `float8pl`,
//! `float8mi`, `float8mul`, `float8div` (and their `float4` twins): a zero divisor fails
//! with `22012 division by zero` (but `NaN / 0` is `NaN`), an infinite result of
//! finite operands with `22003 value out of range: overflow`, a zero product or
//! quotient of non-zero operands with `22003 value out of range: underflow`.
//! DataFusion answered `Infinity`, `NaN` or `0` without a word (`1::float8 / 0`,
//! `'1e308'::float8 * 10`), where integer and `numeric` arithmetic already failed as in
//! PostgreSQL. `%` of a float fails with `42883 operator does not exist`, as PostgreSQL
//! has none (DataFusion answered a float remainder).
//!
//! The operators are met by an [`ExprPlanner`] before type coercion and planned as
//! [`FloatOperation`]s when either operand is a float and both are numbers: two `real`s
//! compute as `real`s, anything else as `double precision`s (PostgreSQL reads an
//! integer or `numeric` beside a float as a `double precision`, see
//! [`super::real_operands`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::arity::try_binary;
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use num_traits::Float;

use crate::error::{SluiceError, sqlstate};

/// Plans `a + b`, `a - b`, `a * b` and `a / b` with a float operand as a
/// [`FloatOperation`].
#[derive(Debug)]
pub struct FloatArithmetic;

impl ExprPlanner for FloatArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let is_float = |e: &Expr| e.get_type(schema).is_ok_and(|t| t.is_floating());
        let is_number = |e: &Expr| {
            e.get_type(schema)
                .is_ok_and(|t| t.is_numeric() || t.is_null())
        };
        if !(is_float(&expr.left) || is_float(&expr.right))
            || !(is_number(&expr.left) && is_number(&expr.right))
        {
            return Ok(PlannerResult::Original(expr));
        }
        let operation = match expr.op {
            BinaryOperator::Plus => Operation::Add,
            BinaryOperator::Minus => Operation::Subtract,
            BinaryOperator::Multiply => Operation::Multiply,
            BinaryOperator::Divide => Operation::Divide,
            BinaryOperator::Modulo => return Err(no_float_remainder(&expr, schema)),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let function = ScalarUDF::new_from_impl(FloatOperation {
            operation,
            signature: Signature::user_defined(Volatility::Immutable),
        });
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::new(function), vec![expr.left, expr.right]),
        )))
    }
}

/// PostgreSQL has no `%` for floats (`mod(x, y)` is read as `x % y`): 42883, in its
/// words, where DataFusion answered a float remainder.
fn no_float_remainder(expr: &RawBinaryExpr, schema: &DFSchema) -> DataFusionError {
    let name = |e: &Expr| {
        e.get_type(schema)
            .map_or_else(|_| "unknown".into(), |t| crate::sql::types::sql_name(&t))
    };
    DataFusionError::External(Box::new(SluiceError::coded(
        sqlstate::UNDEFINED_FUNCTION,
        format!(
            "operator does not exist: {} % {}",
            name(&expr.left),
            name(&expr.right)
        ),
    )))
}

/// One of the four operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl Operation {
    /// `x op y`, or PostgreSQL's error.
    fn apply<T: Float>(self, x: T, y: T) -> Result<T, ArrowError> {
        let zero = T::zero();
        let result = match self {
            Operation::Add => x + y,
            Operation::Subtract => x - y,
            Operation::Multiply => x * y,
            Operation::Divide if y == zero && !x.is_nan() => {
                return Err(error(sqlstate::DIVISION_BY_ZERO, "division by zero"));
            }
            Operation::Divide => x / y,
        };
        let overflow = result.is_infinite()
            && match self {
                Operation::Divide => !x.is_infinite(),
                _ => !x.is_infinite() && !y.is_infinite(),
            };
        let underflow = result == zero
            && x != zero
            && match self {
                Operation::Multiply => y != zero,
                Operation::Divide => !y.is_infinite(),
                Operation::Add | Operation::Subtract => false,
            };
        if overflow {
            Err(error(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                "value out of range: overflow",
            ))
        } else if underflow {
            Err(error(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                "value out of range: underflow",
            ))
        } else {
            Ok(result)
        }
    }

    fn name(self) -> &'static str {
        match self {
            Operation::Add => "float_pl",
            Operation::Subtract => "float_mi",
            Operation::Multiply => "float_mul",
            Operation::Divide => "float_div",
        }
    }
}

fn error(code: &'static str, message: &str) -> ArrowError {
    ArrowError::ExternalError(Box::new(SluiceError::coded(code, message)))
}

/// `x op y` over floats, with PostgreSQL's errors (see the module's documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatOperation {
    operation: Operation,
    signature: Signature,
}

/// The type both operands are computed as.
fn operand_type(arg_types: &[DataType]) -> DataType {
    if arg_types.iter().all(|t| *t == DataType::Float32) {
        DataType::Float32
    } else {
        DataType::Float64
    }
}

impl ScalarUDFImpl for FloatOperation {
    fn name(&self) -> &str {
        self.operation.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![operand_type(arg_types); arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(operand_type(arg_types))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::convert_rows(&args.args, |arrays| {
            let [a, b] = arrays else {
                return Err(DataFusionError::Internal(format!(
                    "{} takes two numbers",
                    self.name()
                )));
            };
            compute(self.operation, a, b)
        })
    }
}

/// `a op b` row by row, as their common float type.
fn compute(operation: Operation, a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef> {
    fn typed<T>(operation: Operation, a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef>
    where
        T: ArrowPrimitiveType,
        T::Native: Float,
    {
        let results: PrimitiveArray<T> =
            try_binary(a.as_primitive::<T>(), b.as_primitive::<T>(), |x, y| {
                operation.apply(x, y)
            })?;
        Ok(Arc::new(results))
    }
    let as_type = operand_type(&[a.data_type().clone(), b.data_type().clone()]);
    let (a, b) = (cast(a, &as_type)?, cast(b, &as_type)?);
    match as_type {
        DataType::Float32 => typed::<Float32Type>(operation, &a, &b),
        _ => typed::<Float64Type>(operation, &a, &b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<f64, ArrowError>) -> String {
        result.map_or_else(|e| e.to_string(), |v| v.to_string())
    }

    /// PostgreSQL 15's answers.
    #[test]
    fn errors_are_postgres() {
        use Operation::*;
        assert!(message(Divide.apply(1.0, 0.0)).contains("division by zero"));
        assert!(message(Divide.apply(1.0, -0.0)).contains("division by zero"));
        assert!(Divide.apply(f64::NAN, 0.0).unwrap().is_nan());
        assert_eq!(Divide.apply(1.0, f64::INFINITY).unwrap(), 0.0);
        assert!(message(Divide.apply(1e-300, 1e300)).contains("underflow"));
        assert!(message(Multiply.apply(1e-300, 1e-300)).contains("underflow"));
        assert!(message(Add.apply(1e308, 1e308)).contains("overflow"));
        assert!(message(Divide.apply(1e308, 1e-10)).contains("overflow"));
        assert_eq!(Add.apply(f64::INFINITY, 1.0).unwrap(), f64::INFINITY);
        assert!(
            Subtract
                .apply(f64::INFINITY, f64::INFINITY)
                .unwrap()
                .is_nan()
        );
        assert!(Multiply.apply(0.0, f64::INFINITY).unwrap().is_nan());
        assert!(
            Operation::Multiply
                .apply(3e38f32, 10.0)
                .unwrap_err()
                .to_string()
                .contains("overflow")
        );
        assert_eq!(Multiply.apply(0.0, 5.0).unwrap(), 0.0);
        assert_eq!(Add.apply(-0.5, 0.5).unwrap(), 0.0);
    }

    #[test]
    fn nulls_stay_null() {
        use datafusion::arrow::array::{Array, Float64Array};
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None]));
        let b: ArrayRef = Arc::new(Float64Array::from(vec![Some(4.0), Some(0.0)]));
        let q = compute(Operation::Divide, &a, &b).unwrap();
        let q = q.as_primitive::<Float64Type>();
        assert_eq!(q.value(0), 0.25);
        assert!(q.is_null(1));
    }
}
