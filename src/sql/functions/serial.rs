//! `pg_get_serial_sequence(table, column)`: the sequence behind a serial column.
//! Sluice has no sequences, so for an existing column the answer is NULL, as
//! PostgreSQL answers for a column that is not serial; a relation or column that does
//! not exist fails as in PostgreSQL (`42P01`, `42703`). SQLAlchemy's inspector
//! (`get_columns`) and other tools call it for every column they describe.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::catalog::Catalog;
use crate::error::{SluiceError, sqlstate};

/// The function, answering from `catalog`.
pub fn pg_get_serial_sequence(catalog: Arc<Catalog>) -> ScalarUDF {
    create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(array) => Some(array.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let text = |i: usize| -> datafusion::common::Result<StringArray> {
                let array = args[i].clone().into_array(rows)?;
                Ok(cast(&array, &DataType::Utf8)?.as_string::<i32>().clone())
            };
            let (tables, columns) = (text(0)?, text(1)?);
            for row in 0..rows {
                if tables.is_null(row) || columns.is_null(row) {
                    continue;
                }
                check_column(&catalog, tables.value(row), columns.value(row))
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
            }
            let answer: StringArray = (0..rows).map(|_| None::<&str>).collect();
            Ok(ColumnarValue::Array(Arc::new(answer)))
        }),
    )
}

/// Fails unless `table` (optionally `public.`-qualified) has column `column` (taken
/// as written, as PostgreSQL takes the second argument).
fn check_column(catalog: &Catalog, table: &str, column: &str) -> Result<(), SluiceError> {
    let (schema, name) = crate::catalog::relation_name_from_text(table);
    let relation = schema
        .is_none_or(|s| s == crate::catalog::DEFAULT_SCHEMA)
        .then(|| catalog.get(&name))
        .flatten()
        .ok_or_else(|| SluiceError::UndefinedTable(table.to_string()))?;
    if relation.schema().index_of(column).is_err() {
        return Err(SluiceError::coded(
            sqlstate::UNDEFINED_COLUMN,
            format!("column \"{column}\" of relation \"{name}\" does not exist"),
        ));
    }
    Ok(())
}
