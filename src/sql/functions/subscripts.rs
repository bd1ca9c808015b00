//! PostgreSQL's `generate_subscripts(array, dimension [, reverse])` in a select list,
//! as SQLAlchemy's primary key and index reflection calls it next to
//! `unnest(pg_index.indkey)` to number the key's columns.
//!
//! It is a set-returning function, which DataFusion has only as `unnest`: the call is
//! rewritten to `unnest(generate_subscripts(...))`, where this module's scalar
//! `generate_subscripts` returns the subscripts as an `integer` array. Several
//! `unnest`s in one select list run in step, the shorter padded with NULLs, as
//! PostgreSQL runs several set-returning functions, so `unnest(a),
//! generate_subscripts(a, 1)` pairs each element with its subscript.
//!
//! Sluice's arrays have one dimension and start at 1: dimension 1 gives `1..n`
//! (`n..1` when `reverse` is true); another dimension, an empty array or a NULL
//! argument give no rows, as in PostgreSQL. In `FROM` the function is not supported
//! (DataFusion reports no such table function).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Builder, ListBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, ObjectNamePart, Statement, visit_expressions_mut,
};

/// The function's name, as called and as the scalar registered here.
const NAME: &str = "generate_subscripts";

/// The scalar half of the rewrite, for the session's function registry.
pub fn generate_subscripts() -> ScalarUDF {
    ScalarUDF::new_from_impl(Subscripts {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

/// Rewrites every call `generate_subscripts(...)` to `unnest(generate_subscripts(...))`.
/// Runs after result columns are named, so an unaliased call keeps PostgreSQL's
/// column name (`generate_subscripts`).
pub fn rewrite_generate_subscripts(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(function) = expr
            && function
                .name
                .0
                .last()
                .and_then(ObjectNamePart::as_ident)
                .is_some_and(|name| crate::sql::names::normalize_ident(name) == NAME)
            && function.over.is_none()
        {
            let call = std::mem::replace(
                expr,
                Expr::Value(datafusion::sql::sqlparser::ast::Value::Null.into()),
            );
            *expr = Expr::Function(Function {
                name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("unnest"))]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(call))],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Subscripts {
    signature: Signature,
}

fn item() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Int32, true))
}

impl ScalarUDFImpl for Subscripts {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let array = |t: &DataType| {
            matches!(
                t,
                DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::FixedSizeList(..)
                    | DataType::Null
            )
        };
        let integer = |t: &DataType| t.is_integer() || t.is_null();
        let boolean = |t: &DataType| matches!(t, DataType::Boolean | DataType::Null);
        match arg_types {
            [a, d] if array(a) && integer(d) => Ok(vec![a.clone(), DataType::Int64]),
            [a, d, r] if array(a) && integer(d) && boolean(r) => {
                Ok(vec![a.clone(), DataType::Int64, DataType::Boolean])
            }
            _ => Err(DataFusionError::Plan(format!(
                "function generate_subscripts({}) does not exist: it takes an array, an \
                 integer dimension and optionally a boolean",
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(item()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (Some(arrays_arg), Some(dimensions)) = (arrays.first(), arrays.get(1)) else {
            return Err(DataFusionError::Internal(
                "generate_subscripts takes two or three arguments".into(),
            ));
        };
        // Only the lengths matter: any list type, its items as they are.
        let lengths: Vec<Option<usize>> = match arrays_arg.data_type() {
            DataType::Null => vec![None; args.number_rows],
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                let item = match arrays_arg.data_type() {
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                        f.clone()
                    }
                    _ => item(),
                };
                let lists = cast(arrays_arg, &DataType::LargeList(item))?;
                let lists = lists.as_list::<i64>();
                (0..lists.len())
                    .map(|row| (!lists.is_null(row)).then(|| lists.value_length(row) as usize))
                    .collect()
            }
            other => {
                return Err(DataFusionError::Plan(format!(
                    "generate_subscripts takes an array, not {other}"
                )));
            }
        };
        let dimensions = cast(dimensions, &DataType::Int64)?;
        let dimensions = dimensions.as_primitive::<Int64Type>();
        let reverse = match arrays.get(2) {
            Some(flags) => Some(cast(flags, &DataType::Boolean)?),
            None => None,
        };
        let mut out = ListBuilder::new(Int32Builder::new()).with_field(item());
        for (row, length) in lengths.into_iter().enumerate() {
            let reversed = reverse
                .as_ref()
                .map(|flags| flags.as_boolean())
                .map(|flags| (!flags.is_null(row)).then(|| flags.value(row)));
            let dimension = (!dimensions.is_null(row)).then(|| dimensions.value(row));
            match (length, dimension, reversed) {
                // A NULL argument: PostgreSQL's function is strict, no rows.
                (None, _, _) | (_, None, _) | (_, _, Some(None)) => out.append_null(),
                (Some(length), Some(1), reversed) => {
                    // Subscripts fit in i32: PostgreSQL's arrays hold at most 2^27 items.
                    let subscripts = 1..=i32::try_from(length).unwrap_or(i32::MAX);
                    if reversed == Some(Some(true)) {
                        out.values().append_values(
                            &subscripts.rev().collect::<Vec<_>>(),
                            &vec![true; length],
                        );
                    } else {
                        out.values()
                            .append_values(&subscripts.collect::<Vec<_>>(), &vec![true; length]);
                    }
                    out.append(true);
                }
                // A dimension the array does not have.
                (Some(_), Some(_), _) => out.append(true),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
