//! [`SourceRelation`]: a source in the catalog. DataFusion sees its columns (so views
//! can be planned over it) but cannot scan it: a source's rows exist only as they
//! stream into the views that read it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::CatalogEntry;
use crate::connectors::Source;
use crate::error::SluiceError;

/// A source in the catalog.
#[derive(Debug)]
pub struct SourceRelation {
    entry: CatalogEntry,
    source: Arc<Source>,
}

impl SourceRelation {
    /// Wraps a configured source.
    pub fn new(entry: CatalogEntry, source: Arc<Source>) -> Self {
        SourceRelation { entry, source }
    }

    /// The catalog entry.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// The source.
    pub fn source(&self) -> &Arc<Source> {
        &self.source
    }
}

#[async_trait]
impl TableProvider for SourceRelation {
    fn schema(&self) -> SchemaRef {
        self.source.config().schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.entry.definition)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let name = &self.entry.name;
        Err(datafusion::error::DataFusionError::External(Box::new(
            SluiceError::not_supported(format!(
                "source \"{name}\" streams into materialized views and cannot be queried directly; \
             CREATE MATERIALIZED VIEW ... AS SELECT ... FROM {name}"
            )),
        )))
    }
}
