//! `information_schema._pg_expandarray(array)`, PostgreSQL's set-returning function
//! that gives one row `(x, n)` per element: the element and its position from 1.
//! pgjdbc's `getPrimaryKeys` and `getIndexInfo` call it in a select list over
//! `pg_index.indkey` and read `.x` and `.n` of the result.
//!
//! DataFusion has no set-returning functions in a select list but `unnest`, so a
//! call is rewritten ([`rewrite_expandarray_calls`]) as `unnest(expandarray(array))`:
//! [`ExpandArray`] makes the list of `{x, n}` structs that `unnest` turns into rows.
//! Several calls in one select list give rows side by side, as in PostgreSQL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int32Array, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement,
    visit_expressions_mut,
};

use crate::sql::names::normalize_ident;

/// The name of [`ExpandArray`] (what a `_pg_expandarray` call becomes, under `unnest`).
pub const NAME: &str = "pg_expandarray_items";

/// Rewrites every `[information_schema.]_pg_expandarray(a)` as
/// `unnest(pg_expandarray_items(a))`.
pub fn rewrite_expandarray_calls(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(call) = expr
            && is_expandarray(&call.name)
            && call.over.is_none()
            && call.filter.is_none()
            && matches!(call.args, FunctionArguments::List(_))
        {
            let mut items = call.clone();
            items.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(NAME))]);
            *expr = Expr::Function(Function {
                name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("unnest"))]),
                args: FunctionArguments::List(
                    datafusion::sql::sqlparser::ast::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: vec![datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                            datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(Expr::Function(
                                items,
                            )),
                        )],
                        clauses: vec![],
                    },
                ),
                ..call.clone()
            });
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `_pg_expandarray` or `information_schema._pg_expandarray`.
fn is_expandarray(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(normalize_ident))
        .collect();
    match parts.as_slice() {
        [f] => f == "_pg_expandarray",
        [schema, f] => schema == "information_schema" && f == "_pg_expandarray",
        _ => false,
    }
}

/// An array's elements with their positions: `[a, b]` is `[{x: a, n: 1}, {x: b, n: 2}]`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpandArray {
    signature: Signature,
}

impl ExpandArray {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(ExpandArray {
            signature: Signature::any(1, Volatility::Immutable),
        })
    }
}

/// The struct `{x: element, n: int4}` of an array of `element`s.
fn item_fields(element: &Field) -> Fields {
    Fields::from(vec![
        Field::new("x", element.data_type().clone(), true),
        Field::new("n", DataType::Int32, false),
    ])
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::List(element)] => Ok(DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(item_fields(element)),
                true,
            )))),
            other => plan_err!("_pg_expandarray takes an array, not {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [array] = arrays.as_slice() else {
            return exec_err!("_pg_expandarray takes one argument");
        };
        let Some(lists) = array.as_any().downcast_ref::<ListArray>() else {
            return exec_err!("_pg_expandarray takes an array");
        };
        let DataType::List(element) = lists.data_type() else {
            return exec_err!("_pg_expandarray takes an array");
        };
        // Each list's elements keep their place in `values`: positions count from each
        // list's start.
        let offsets = lists.value_offsets();
        let mut positions = vec![0i32; lists.values().len()];
        for row in 0..lists.len() {
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            for (i, position) in positions[start..end].iter_mut().enumerate() {
                *position = i as i32 + 1;
            }
        }
        let items = StructArray::try_new(
            item_fields(element),
            vec![
                lists.values().clone(),
                Arc::new(Int32Array::from(positions)) as ArrayRef,
            ],
            None,
        )?;
        let result = ListArray::try_new(
            Arc::new(Field::new_list_field(items.data_type().clone(), true)),
            OffsetBuffer::new(lists.offsets().inner().clone()),
            Arc::new(items),
            lists.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn calls_become_unnest() {
        let mut statement = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT (information_schema._pg_expandarray(i.indkey)).n, _pg_expandarray(k) FROM i",
        )
        .unwrap()
        .remove(0);
        rewrite_expandarray_calls(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT (unnest(pg_expandarray_items(i.indkey))).n, \
             unnest(pg_expandarray_items(k)) FROM i"
        );
    }
}
