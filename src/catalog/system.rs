//! Schema `sluice_catalog`: Sluice's own system relations, defined in
//! `catalog/sluice_catalog.sql` and filled from the live catalog on every read.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::sql::sqlparser::ast::{ColumnOption, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::Catalog;
use crate::error::{Result, SluiceError};
use crate::sql::types::{arrow_type, sql_name};

/// Name of the schema holding the system relations.
pub const SYSTEM_SCHEMA: &str = "sluice_catalog";
const DEFINITIONS: &str = include_str!("../../catalog/sluice_catalog.sql");

/// Schema provider for [`SYSTEM_SCHEMA`].
#[derive(Debug)]
pub struct SystemSchema {
    catalog: Arc<Catalog>,
    schemas: BTreeMap<String, SchemaRef>,
}

impl SystemSchema {
    /// Parses the relation definitions and binds them to `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> Result<Self> {
        Ok(SystemSchema {
            catalog,
            schemas: parse_definitions(DEFINITIONS)?,
        })
    }

    fn rows(&self, name: &str, schema: &SchemaRef) -> Result<RecordBatch> {
        let relations = self.catalog.relations();
        let columns: Vec<ArrayRef> = match name {
            "relations" => vec![
                Arc::new(Int64Array::from_iter_values(
                    relations.iter().map(|r| r.entry().id as i64),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| &r.entry().name),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| r.entry().kind.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    relations.iter().map(|r| &r.entry().definition),
                )),
            ],
            "columns" => {
                let mut relation = Vec::new();
                let mut position = Vec::new();
                let mut column = Vec::new();
                let mut data_type = Vec::new();
                let mut nullable = Vec::new();
                let mut primary_key = Vec::new();
                for r in &relations {
                    let keys = match r {
                        super::Relation::Table(t) => t.store().layout().primary_key.clone(),
                        super::Relation::View(_) => Vec::new(),
                    };
                    for (i, field) in r.schema().fields().iter().enumerate() {
                        relation.push(r.entry().name.clone());
                        position.push(i as i32 + 1);
                        column.push(field.name().clone());
                        data_type.push(sql_name(field.data_type()));
                        nullable.push(field.is_nullable());
                        primary_key.push(keys.contains(&i));
                    }
                }
                vec![
                    Arc::new(StringArray::from(relation)),
                    Arc::new(Int32Array::from(position)),
                    Arc::new(StringArray::from(column)),
                    Arc::new(StringArray::from(data_type)),
                    Arc::new(BooleanArray::from(nullable)),
                    Arc::new(BooleanArray::from(primary_key)),
                ]
            }
            other => {
                return Err(SluiceError::Internal(format!(
                    "system relation {other} has no row source"
                )));
            }
        };
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        self.schemas.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        let Some(schema) = self.schemas.get(name) else {
            return Ok(None);
        };
        let batch = self
            .rows(name, schema)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema.clone(),
            vec![vec![batch]],
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }
}

/// Reads the `CREATE TABLE sluice_catalog.x (...)` statements of the definitions file.
fn parse_definitions(sql: &str) -> Result<BTreeMap<String, SchemaRef>> {
    let mut schemas = BTreeMap::new();
    for statement in Parser::parse_sql(&PostgreSqlDialect {}, sql)? {
        let Statement::CreateTable(create) = statement else {
            return Err(SluiceError::Internal(
                "catalog/sluice_catalog.sql may only hold CREATE TABLE statements".into(),
            ));
        };
        let name = create
            .name
            .0
            .last()
            .map(|part| part.to_string())
            .ok_or_else(|| SluiceError::Internal("system relation without a name".into()))?;
        let mut fields = Vec::new();
        for column in &create.columns {
            let not_null = column
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::NotNull));
            fields.push(Field::new(
                column.name.value.clone(),
                arrow_type(&column.data_type)?,
                !not_null,
            ));
        }
        schemas.insert(name, Arc::new(Schema::new(fields)));
    }
    Ok(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_definitions_parse() {
        let schemas = parse_definitions(DEFINITIONS).unwrap();
        assert_eq!(
            schemas.keys().cloned().collect::<Vec<_>>(),
            vec!["columns".to_string(), "relations".to_string()]
        );
        assert_eq!(schemas["relations"].fields().len(), 4);
    }
}
