//! DataFusion's view of the catalog: schema `public` holds the user's objects.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::TableProvider;
use datafusion::error::Result;

use super::Catalog;

/// The `public` schema, answering name look-ups from the live [`Catalog`].
#[derive(Debug)]
pub struct PublicSchema {
    catalog: Arc<Catalog>,
}

impl PublicSchema {
    /// A schema provider over `catalog`.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        PublicSchema { catalog }
    }
}

#[async_trait]
impl SchemaProvider for PublicSchema {
    fn table_names(&self) -> Vec<String> {
        self.catalog.names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.catalog.get(name).map(|relation| relation.provider()))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog.get(name).is_some()
    }
}
