//! [`View`]: a materialized view in the catalog — its entry, the relations it reads,
//! and its running dataflow — readable by DataFusion as a `TableProvider`.
//!
//! Scans read the view's arrangement. An equality filter on the view's leading
//! columns (`WHERE k = 5` on a view grouped by `k`) is answered by a range read of
//! the arrangement instead of a full read (reported to DataFusion as `Inexact`, so
//! the filter is still applied on top).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use super::CatalogEntry;
use crate::dataflow::view::MaterializedView;

/// A materialized view in the catalog.
#[derive(Debug)]
pub struct View {
    entry: CatalogEntry,
    inputs: Vec<String>,
    models: Vec<String>,
    append_only: bool,
    running: Arc<MaterializedView>,
}

impl View {
    /// Wraps a started view that reads `inputs` and runs `models`; `append_only`
    /// when it never retracts a row.
    pub fn new(
        entry: CatalogEntry,
        (inputs, models): (Vec<String>, Vec<String>),
        append_only: bool,
        running: Arc<MaterializedView>,
    ) -> Self {
        View {
            entry,
            inputs,
            models,
            append_only,
            running,
        }
    }

    /// True when the view never retracts a row: it reads only sources row by row,
    /// or emits each window once on close.
    pub fn append_only(&self) -> bool {
        self.append_only
    }

    /// The view's catalog entry.
    pub fn entry(&self) -> &CatalogEntry {
        &self.entry
    }

    /// Names of the relations the view reads.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Names of the models the view calls with `PREDICT`.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// The running dataflow.
    pub fn running(&self) -> &Arc<MaterializedView> {
        &self.running
    }

    /// Values for the longest run of leading columns fixed by `col = literal` filters.
    fn prefix(&self, filters: &[Expr]) -> Vec<ArrayRef> {
        let schema = self.running.schema();
        let mut prefix = Vec::new();
        for field in schema.fields() {
            let value = filters.iter().find_map(|f| equality(f, field.name()));
            match value.and_then(|v| v.cast_to(field.data_type()).ok()) {
                Some(v) if !v.is_null() => match v.to_array() {
                    Ok(array) => prefix.push(array),
                    Err(_) => break,
                },
                _ => break,
            }
        }
        prefix
    }
}

/// The literal `x` of a filter `column = x` (either side).
fn equality(filter: &Expr, column: &str) -> Option<datafusion::scalar::ScalarValue> {
    let Expr::BinaryExpr(BinaryExpr {
        left,
        op: Operator::Eq,
        right,
    }) = filter
    else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(Column { name, .. }), Expr::Literal(v, _))
        | (Expr::Literal(v, _), Expr::Column(Column { name, .. }))
            if name == column =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

#[async_trait]
impl TableProvider for View {
    fn schema(&self) -> SchemaRef {
        self.running.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.entry.definition)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let to_df = |e: crate::error::SluiceError| {
            datafusion::error::DataFusionError::External(Box::new(e))
        };
        let prefix = self.prefix(filters);
        let batches = if prefix.is_empty() {
            self.running.read().map_err(to_df)?.as_ref().clone()
        } else {
            self.running.read_prefix(&prefix).map_err(to_df)?
        };
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema(),
            projection.cloned(),
        )?)
    }
}
