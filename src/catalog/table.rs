//! [`Table`]: a catalog table — its entry, its column defaults and its durable rows —
//! readable by DataFusion as a `TableProvider`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Constraints;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::CatalogEntry;
use crate::storage::TableStore;

/// A table in the catalog.
#[derive(Debug)]
pub struct Table {
    entry: CatalogEntry,
    store: TableStore,
    defaults: HashMap<String, Expr>,
    constraints: Constraints,
    /// `APPEND ONLY`: the table takes only inserts.
    append_only: bool,
    /// The column of its `WATERMARK FOR column AS ...` (the store keeps the watermark).
    watermark_column: Option<String>,
}

impl Table {
    /// Wraps an opened store with its catalog entry and column defaults.
    pub fn new(
        entry: CatalogEntry,
        store: TableStore,
        defaults: HashMap<String, Expr>,
        constraints: Constraints,
    ) -> Table {
        Table {
            entry,
            store,
            defaults,
            constraints,
            append_only: false,
            watermark_column: None,
        }
    }

    /// The table as `APPEND ONLY` (taking only inserts) or not.
    pub fn with_append_only(mut self, append_only: bool) -> Table {
        self.append_only = append_only;
        self
    }

    /// The table with a `WATERMARK FOR column AS ...` on `column`.
    pub fn with_watermark_column(mut self, column: Option<String>) -> Table {
        self.watermark_column = column;
        self
    }

    /// The column the table's watermark is declared for, if it has one.
    pub fn watermark_column(&self) -> Option<&str> {
        self.watermark_column.as_deref()
    }

    /// True for an `APPEND ONLY` table: it takes only inserts, so its rows are never
    /// retracted.
    pub fn append_only(&self) -> bool {
        self.append_only
    }

    /// The table's catalog entry.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// The table's durable rows and write path.
    pub fn store(&self) -> &TableStore {
        &self.store
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.entry.name
    }
}

#[async_trait]
impl TableProvider for Table {
    fn schema(&self) -> SchemaRef {
        self.store.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        Some(&self.constraints)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.entry.definition)
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.get(column)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        // One consistent version of the table for the whole scan.
        let contents = self.store.contents();
        let exec = MemorySourceConfig::try_new_exec(
            &[contents.as_ref().clone()],
            self.schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
