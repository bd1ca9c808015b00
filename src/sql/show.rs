//! `SHOW TABLES`, `SHOW COLUMNS FROM t`, `DESCRIBE t` (queries over the system
//! relations of `catalog/sluice_catalog.sql`) and `SHOW setting`.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{
    ObjectName, ShowStatementInParentType, ShowStatementOptions,
};

use super::names::{quote_literal, relation_name};
use super::{Output, text_schema};
use crate::database::Database;
use crate::error::{Result, SluiceError};

/// `SHOW TABLES`.
pub const TABLES: &str =
    "SELECT name FROM sluice_catalog.relations WHERE kind = 'table' ORDER BY name";

/// `SHOW MATERIALIZED VIEWS`.
pub const VIEWS: &str =
    "SELECT name FROM sluice_catalog.relations WHERE kind = 'materialized view' ORDER BY name";

/// `SHOW SOURCES`.
pub const SOURCES: &str =
    "SELECT name FROM sluice_catalog.relations WHERE kind = 'source' ORDER BY name";

/// `SHOW SINKS`.
pub const SINKS: &str = "SELECT name FROM sluice_catalog.sink_status ORDER BY name";

/// The result schema of `SHOW CREATE ...`.
pub fn create_schema() -> SchemaRef {
    std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
        datafusion::arrow::datatypes::Field::new(
            "name",
            datafusion::arrow::datatypes::DataType::Utf8,
            false,
        ),
        datafusion::arrow::datatypes::Field::new(
            "create_sql",
            datafusion::arrow::datatypes::DataType::Utf8,
            false,
        ),
    ]))
}

/// `SHOW CREATE SOURCE/TABLE/MATERIALIZED VIEW name`: the stored definition.
pub fn show_create(db: &Database, name: &ObjectName) -> Result<Output> {
    let name = relation_name(name)?;
    let relation = db
        .catalog()
        .get(&name)
        .ok_or_else(|| SluiceError::UndefinedTable(name.clone()))?;
    let definition = relation.entry().definition.clone();
    definition_rows(name, definition)
}

/// `SHOW CREATE SINK name`: the stored definition.
pub fn show_create_sink(db: &Database, name: &ObjectName) -> Result<Output> {
    let name = relation_name(name)?;
    let sink = db
        .catalog()
        .sink(&name)
        .ok_or_else(|| crate::catalog::undefined_sink(&name))?;
    let definition = sink.entry().definition.clone();
    definition_rows(name, definition)
}

fn definition_rows(name: String, definition: String) -> Result<Output> {
    let schema = create_schema();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![name])),
            Arc::new(StringArray::from(vec![definition])),
        ],
    )?;
    let stream = futures::stream::iter(vec![Ok(batch)]);
    Ok(Output::Rows(Box::pin(RecordBatchStreamAdapter::new(
        schema, stream,
    ))))
}

/// The query behind `SHOW COLUMNS FROM table` and `DESCRIBE table`.
pub fn columns_query(db: &Database, table: &ObjectName) -> Result<String> {
    let name = relation_name(table)?;
    if db.catalog().get(&name).is_none() {
        return Err(SluiceError::UndefinedTable(name));
    }
    Ok(format!(
        "SELECT name, type, nullable, primary_key FROM sluice_catalog.columns \
         WHERE relation = {} ORDER BY position",
        quote_literal(&name)
    ))
}

/// The table named by `SHOW COLUMNS FROM t`.
pub fn show_in_table(options: &ShowStatementOptions) -> Result<ObjectName> {
    match &options.show_in {
        Some(show_in)
            if matches!(
                show_in.parent_type,
                None | Some(ShowStatementInParentType::Table)
            ) =>
        {
            show_in
                .parent_name
                .clone()
                .ok_or_else(|| SluiceError::Syntax("SHOW COLUMNS needs FROM <table>".into()))
        }
        _ => Err(SluiceError::Syntax(
            "SHOW COLUMNS needs FROM <table>".into(),
        )),
    }
}

/// The result schema of `SHOW name`.
pub fn setting_schema(name: &str) -> SchemaRef {
    text_schema(&super::settings::column_name(name))
}

/// A one-column text result (`SHOW name`, `EXPLAIN CREATE MATERIALIZED VIEW`).
pub fn text_rows(name: &str, lines: Vec<String>) -> Result<Output> {
    let schema = text_schema(name);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(lines))])?;
    let stream = futures::stream::iter(vec![Ok(batch)]);
    Ok(Output::Rows(Box::pin(RecordBatchStreamAdapter::new(
        schema, stream,
    ))))
}
