//! `pg_proc` with Sluice's SQL-language functions: the crate's static rows (the
//! built-in functions) followed by one row per `CREATE FUNCTION`, as PostgreSQL 15
//! shows a `LANGUAGE sql` function (`prolang` 14, `prokind` `f`, the body in
//! `prosrc`), so `\df` and drivers' introspection list them.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;

use super::objects::type_oid;
use super::oids;
use super::rows::{Rows, Value};
use crate::catalog::CatalogFunction;
use crate::sql::sql_functions::Volatility;

/// PostgreSQL's OID of `LANGUAGE sql` (`pg_language`).
const SQL_LANGUAGE: i32 = 14;

/// The rows of `functions`, in the crate's `pg_proc` schema.
pub fn rows(schema: SchemaRef, functions: &[CatalogFunction]) -> Result<RecordBatch> {
    let mut rows = Rows::new(schema);
    for f in functions {
        let function = &f.function;
        let declared = |t: &datafusion::sql::sqlparser::ast::DataType| {
            use datafusion::sql::sqlparser::ast::DataType as Sql;
            match t {
                // Stored as text, but declared `character varying`, as PostgreSQL keeps it.
                Sql::Varchar(_) | Sql::CharacterVarying(_) | Sql::CharVarying(_) => 1043,
                t => crate::sql::types::arrow_type(t)
                    .map(|t| i64::from(type_oid(&t)))
                    .unwrap_or(0),
            }
        };
        let arg_types: Vec<i64> = function
            .params
            .iter()
            .map(|p| declared(&p.data_type))
            .collect();
        let arg_names: Vec<String> = function
            .params
            .iter()
            .map(|p| p.name.clone().unwrap_or_default())
            .collect();
        let names = if arg_names.iter().all(String::is_empty) {
            Value::Null
        } else {
            Value::Texts(arg_names)
        };
        rows.push(vec![
            ("oid", oids::function(f.entry.id).into()),
            ("proname", function.name.as_str().into()),
            ("pronamespace", oids::PUBLIC.into()),
            ("proowner", oids::OWNER.into()),
            ("prolang", SQL_LANGUAGE.into()),
            ("procost", Value::Float(100.0)),
            ("prokind", "f".into()),
            ("proisstrict", function.strict.into()),
            (
                "provolatile",
                match function.volatility {
                    Volatility::Immutable => "i",
                    Volatility::Stable => "s",
                    Volatility::Volatile => "v",
                }
                .into(),
            ),
            ("proparallel", "u".into()),
            ("pronargs", Value::Int(arg_types.len() as i64)),
            ("prorettype", Value::Int(declared(&function.return_type))),
            ("proargtypes", Value::Ints(arg_types)),
            ("proargnames", names),
            ("prosrc", function.body.to_string().into()),
        ]);
    }
    rows.finish()
}

/// A table's rows followed by `rows` (of the same schema).
#[derive(Debug)]
pub struct WithRows {
    pub inner: Arc<dyn TableProvider>,
    pub rows: RecordBatch,
}

#[async_trait]
impl TableProvider for WithRows {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // No filter or limit is pushed down (the default): both parts are read whole.
        let inner = self.inner.scan(state, projection, &[], None).await?;
        let extra = MemorySourceConfig::try_new_exec(
            &[vec![self.rows.clone()]],
            self.schema(),
            projection.cloned(),
        )?;
        UnionExec::try_new(vec![inner, extra])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogEntry, RelationKind};
    use crate::sql::sql_functions::{FunctionStatement, parse_function_statement};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn a_function_becomes_a_sql_language_row() {
        let text = "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x + 1";
        let FunctionStatement::Create { function, .. } = parse_function_statement(text).unwrap()
        else {
            panic!("not a CREATE FUNCTION");
        };
        let entry = CatalogEntry {
            id: 3,
            name: "add_one".into(),
            kind: RelationKind::Function,
            definition: text.into(),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("oid", DataType::Int32, false),
            Field::new("proname", DataType::Utf8, true),
            Field::new("prolang", DataType::Int32, true),
            Field::new("provolatile", DataType::Utf8, true),
            Field::new("prosrc", DataType::Utf8, true),
        ]));
        let batch = rows(
            schema,
            &[CatalogFunction {
                entry,
                function: Arc::new(*function),
            }],
        )
        .unwrap();
        assert_eq!(batch.num_rows(), 1);
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&[batch])
            .unwrap()
            .to_string();
        assert!(
            text.contains("add_one") && text.contains("| 14 ") && text.contains("x + 1"),
            "{text}"
        );
    }
}
