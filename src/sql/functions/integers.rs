//! Integer arithmetic and casts to integers as PostgreSQL computes them.
//!
//! DataFusion's `+`, `-`, `*` and unary `-` on integers wrap around on overflow
//! (`9223372036854775807 + 1` was `-9223372036854775808`), and its casts from
//! `numeric` and floating point to integers truncate (`2.5::int` was 2). PostgreSQL
//! fails with `22003` and the type's name (`bigint out of range`), rounds a `numeric`
//! half away from zero (`2.5::int` is 3, `-2.5::int` is -3) and a float half to even,
//! as C's `rint` does (`2.5::float8::int` is 2, `3.5::float8::int` is 4).
//!
//! (`/` is replaced too: its one overflow, `-9223372036854775808 / -1`, failed with
//! arrow's words.)
//!
//! The analyzer rule [`install`]s replaces those operators and casts, in every plan
//! (queries, materialized views, `INSERT`'s conversions to the columns' types), by
//! [`Arithmetic`] and [`to_integer`], which check and round as PostgreSQL does. The
//! replacements are named like the expressions they replace, so result columns keep
//! their names.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Decimal256Type, Field, FieldRef, Float32Type, Float64Type, Int32Type,
    Int64Type, UInt64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr_common::datum::apply;
use datafusion::prelude::SessionContext;

use super::cast_function::CastFunction;
use crate::catalog::postgres::regtypes::ExpressionRule;
use crate::error::{SluiceError, sqlstate};
use crate::numeric::{exact_array, round_half_away, round_half_away_256};

/// Registers the rule.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(ExpressionRule {
        name: "postgres_integers",
        rewrite,
    }));
}

/// PostgreSQL's integer types, as Sluice stores them, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Integer {
    Smallint,
    Int,
    Bigint,
}

impl Integer {
    fn of(data_type: &DataType) -> Option<Integer> {
        match data_type {
            DataType::Int16 => Some(Integer::Smallint),
            DataType::Int32 => Some(Integer::Int),
            DataType::Int64 => Some(Integer::Bigint),
            _ => None,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Integer::Smallint => DataType::Int16,
            Integer::Int => DataType::Int32,
            Integer::Bigint => DataType::Int64,
        }
    }

    /// PostgreSQL's name for its cast functions (`int4(numeric)`).
    fn function_name(self) -> &'static str {
        match self {
            Integer::Smallint => "int2",
            Integer::Int => "int4",
            Integer::Bigint => "int8",
        }
    }

    /// PostgreSQL's error for a value outside the type's range.
    fn out_of_range(self) -> DataFusionError {
        let name = match self {
            Integer::Smallint => "smallint",
            Integer::Int => "integer",
            Integer::Bigint => "bigint",
        };
        DataFusionError::External(Box::new(SluiceError::coded(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{name} out of range"),
        )))
    }

    /// Arrow's overflow error as PostgreSQL's; other errors (division by zero) as
    /// they are.
    fn overflow_as_out_of_range(self, error: DataFusionError) -> DataFusionError {
        match error {
            DataFusionError::ArrowError(e, _)
                if matches!(*e, ArrowError::ArithmeticOverflow(_)) =>
            {
                self.out_of_range()
            }
            other => other,
        }
    }

    /// The values as this type; an error if one is out of its range.
    fn narrowed(self, values: impl Iterator<Item = Option<i128>>) -> Result<ArrayRef> {
        let mut out_of_range = Vec::new();
        let array = exact_array(values, &self.data_type(), &mut out_of_range)?;
        if out_of_range.is_empty() {
            Ok(array)
        } else {
            Err(self.out_of_range())
        }
    }
}

/// `expr` with PostgreSQL's integer operator or cast, where it is one that differs.
fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let integer = |operand: &Expr| operand.get_type(schema).ok().and_then(|t| Integer::of(&t));
    let call = |function: ScalarUDF, args: Vec<Expr>| {
        Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::new(function), args),
        )))
    };
    match &expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let Some(operation) = Operation::of(*op) else {
                return Ok(Transformed::no(expr));
            };
            match (integer(left), integer(right)) {
                // Type coercion has given both sides the same type.
                (Some(l), Some(r)) if l == r => call(
                    Arithmetic::udf(operation, l),
                    vec![(**left).clone(), (**right).clone()],
                ),
                _ => Ok(Transformed::no(expr)),
            }
        }
        Expr::Negative(operand) => match integer(operand) {
            Some(integer) => call(
                Arithmetic::udf(Operation::Negate, integer),
                vec![(**operand).clone()],
            ),
            None => Ok(Transformed::no(expr)),
        },
        // A target with metadata of its own (`::oid`) is another type of PostgreSQL's.
        Expr::Cast(Cast {
            expr: operand,
            field,
        }) if field.metadata().is_empty() => {
            let (Some(target), Ok(source)) =
                (Integer::of(field.data_type()), operand.get_type(schema))
            else {
                return Ok(Transformed::no(expr));
            };
            let differs = match &source {
                DataType::Decimal128(..)
                | DataType::Decimal256(..)
                | DataType::Float32
                | DataType::Float64 => true,
                // Narrowing: arrow's error names no type.
                DataType::UInt64 => true,
                other => Integer::of(other).is_some_and(|source| source > target),
            };
            if differs {
                call(to_integer(target), vec![(**operand).clone()])
            } else {
                Ok(Transformed::no(expr))
            }
        }
        _ => Ok(Transformed::no(expr)),
    }
}

/// The integer operations whose overflow PostgreSQL reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Add,
    Subtract,
    Multiply,
    /// Only `-9223372036854775808 / -1` overflows; division by zero stays arrow's
    /// error, which is PostgreSQL's (`22012`).
    Divide,
    Negate,
}

impl Operation {
    fn of(op: Operator) -> Option<Operation> {
        match op {
            Operator::Plus => Some(Operation::Add),
            Operator::Minus => Some(Operation::Subtract),
            Operator::Multiply => Some(Operation::Multiply),
            Operator::Divide => Some(Operation::Divide),
            _ => None,
        }
    }

    /// The operator's text in a column name.
    fn symbol(self) -> &'static str {
        match self {
            Operation::Add => "+",
            Operation::Subtract | Operation::Negate => "-",
            Operation::Multiply => "*",
            Operation::Divide => "/",
        }
    }

    /// PostgreSQL's name for the operator's function, less the type (`int8pl`).
    fn suffix(self) -> &'static str {
        match self {
            Operation::Add => "pl",
            Operation::Subtract => "mi",
            Operation::Multiply => "mul",
            Operation::Divide => "div",
            Operation::Negate => "um",
        }
    }
}

/// An integer operation that fails when its result leaves the type's range.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Arithmetic {
    operation: Operation,
    integer: Integer,
    /// `int8pl`, `int4um`, ...: what `EXPLAIN` shows.
    name: String,
    signature: Signature,
}

impl Arithmetic {
    fn udf(operation: Operation, integer: Integer) -> ScalarUDF {
        let arguments = if operation == Operation::Negate { 1 } else { 2 };
        ScalarUDF::new_from_impl(Arithmetic {
            operation,
            integer,
            name: format!("{}{}", integer.function_name(), operation.suffix()),
            signature: Signature::any(arguments, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for Arithmetic {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The name of the operator expression it replaces (`t.a + t.b`, `(- t.a)`).
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(match args {
            [operand] => format!("({} {})", self.operation.symbol(), operand.schema_name()),
            [left, right] => format!(
                "{} {} {}",
                left.schema_name(),
                self.operation.symbol(),
                right.schema_name()
            ),
            _ => self.name.clone(),
        })
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.integer.data_type())
    }

    /// Nullable when an operand is, as the operator's result.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            self.integer.data_type(),
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let kernel = match self.operation {
            Operation::Negate => {
                let negated =
                    super::convert_values(&args.args, &self.name, |array| Ok(numeric::neg(array)?));
                return negated.map_err(|e| self.integer.overflow_as_out_of_range(e));
            }
            Operation::Add => numeric::add,
            Operation::Subtract => numeric::sub,
            Operation::Multiply => numeric::mul,
            Operation::Divide => numeric::div,
        };
        let result = match args.args.as_slice() {
            [left, right] => apply(left, right, kernel),
            _ => Err(DataFusionError::Internal(format!(
                "{} called with {} arguments",
                self.name,
                args.args.len()
            ))),
        };
        result.map_err(|e| self.integer.overflow_as_out_of_range(e))
    }
}

/// A cast to `target` as PostgreSQL's: a `numeric` rounds half away from zero, a
/// float half to even; a value out of the type's range fails with `22003`.
fn to_integer(target: Integer) -> ScalarUDF {
    CastFunction::udf(target.function_name(), target.data_type(), move |array| {
        target.converted(array)
    })
}

impl Integer {
    /// `array`'s values as this type (see [`to_integer`]).
    fn converted(self, array: &ArrayRef) -> Result<ArrayRef> {
        let out_of_range = || self.out_of_range();
        match array.data_type() {
            DataType::Decimal128(_, scale) => {
                let scale = *scale;
                let rounded: Result<Vec<Option<i128>>> = array
                    .as_primitive::<Decimal128Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| round_half_away(v, scale).ok_or_else(out_of_range))
                            .transpose()
                    })
                    .collect();
                self.narrowed(rounded?.into_iter())
            }
            DataType::Decimal256(_, scale) => {
                let scale = *scale;
                let rounded: Result<Vec<Option<i128>>> = array
                    .as_primitive::<Decimal256Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| round_half_away_256(v, scale).ok_or_else(out_of_range))
                            .transpose()
                    })
                    .collect();
                self.narrowed(rounded?.into_iter())
            }
            DataType::Float64 => {
                let rounded: Result<Vec<Option<i128>>> = array
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| rounded_float(v).ok_or_else(out_of_range))
                            .transpose()
                    })
                    .collect();
                self.narrowed(rounded?.into_iter())
            }
            DataType::Float32 => {
                let rounded: Result<Vec<Option<i128>>> = array
                    .as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| rounded_float(f64::from(v)).ok_or_else(out_of_range))
                            .transpose()
                    })
                    .collect();
                self.narrowed(rounded?.into_iter())
            }
            DataType::Int64 => self.narrowed(
                array
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(i128::from)),
            ),
            DataType::Int32 => self.narrowed(
                array
                    .as_primitive::<Int32Type>()
                    .iter()
                    .map(|v| v.map(i128::from)),
            ),
            // Integer literals beyond bigint's range (`9223372036854775808`).
            DataType::UInt64 => self.narrowed(
                array
                    .as_primitive::<UInt64Type>()
                    .iter()
                    .map(|v| v.map(i128::from)),
            ),
            other => Err(DataFusionError::Internal(format!(
                "{} called with {other}",
                self.function_name()
            ))),
        }
    }
}

/// `value` rounded half to even (`rint`), `None` for NaN and infinities.
fn rounded_float(value: f64) -> Option<i128> {
    let rounded = value.round_ties_even();
    // Beyond ±2^100 no integer type holds it anyway; the bound keeps `as` exact.
    (rounded.is_finite() && rounded.abs() < 2f64.powi(100)).then_some(rounded as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_half_to_even() {
        assert_eq!(rounded_float(2.5), Some(2));
        assert_eq!(rounded_float(3.5), Some(4));
        assert_eq!(rounded_float(-2.5), Some(-2));
        assert_eq!(rounded_float(f64::NAN), None);
        assert_eq!(rounded_float(f64::INFINITY), None);
        assert_eq!(rounded_float(1e300), None);
    }

    #[test]
    fn narrowing_names_the_type_out_of_range() {
        let error = Integer::Int
            .narrowed([Some(1), Some(3_000_000_000)].into_iter())
            .unwrap_err();
        assert!(
            error.to_string().contains("integer out of range"),
            "{error}"
        );
        let fits = Integer::Smallint
            .narrowed([Some(-32768), None].into_iter())
            .unwrap();
        assert_eq!(fits.len(), 2);
        assert!(fits.is_null(1));
    }
}
