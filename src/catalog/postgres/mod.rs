//! `pg_catalog` as PostgreSQL 15 shows it, for Sluice's objects.
//!
//! The `datafusion-pg-catalog` crate supplies the schema `pg_catalog`: PostgreSQL's
//! static rows (`pg_type`, `pg_proc`, ...) and functions drivers call. What describes
//! relations ([`tables::BUILT_HERE`]) is built here instead, from the catalog: tables
//! (`relkind 'r'`), materialized views (`'m'`, with their query), sources (`'f'`, as
//! foreign tables), primary keys as an index (`'i'`), a `pg_index` row and a
//! `pg_constraint` row, columns with their declared types (`numeric(10,2)`,
//! `character varying(20)`) and defaults, all under OIDs that stay the same across
//! restarts ([`oids`]). `pg_database` lists Sluice's one database ([`database`]);
//! [`sizes`] gives the bytes of each relation's files. [`functions`] answers the functions that read these objects
//! (`pg_get_viewdef`, `pg_get_indexdef`, `pg_table_is_visible`, ...), and
//! [`information_schema`] is PostgreSQL's, built from the same [`PgObjects`].

mod cast_types;
mod database;
pub mod declared_types;
pub mod functions;
pub mod information_schema;
pub mod objects;
pub mod oids;
mod proc;
pub mod regproc;
pub mod regtypes;
pub mod roles;
mod rows;
mod sizes;
mod sqlbody;
pub mod tables;
mod text_arrays;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use super::Catalog;
use super::roles::Roles;
use objects::{PgRelation, SystemRelations, user_relations};

/// Every relation, Sluice's and the system's: what [`PgCatalog`]'s tables, the
/// [`functions`] and [`information_schema`] describe.
#[derive(Debug)]
pub struct PgObjects {
    catalog: Arc<Catalog>,
    roles: Arc<Roles>,
    system: SystemRelations,
    /// `pg_catalog`'s relations, the crate's (whose schemas those built here start from).
    pg_catalog: Arc<dyn SchemaProvider>,
    /// The schemas of the relations built here (from the crate's, on first use).
    schemas: tokio::sync::OnceCell<HashMap<&'static str, SchemaRef>>,
}

impl PgObjects {
    /// Every relation, the system's and Sluice's.
    pub async fn relations(&self) -> Result<Vec<PgRelation>> {
        let schemas = self.schemas().await?;
        let mut relations = self
            .system
            .describe(|namespace, name| {
                (namespace == oids::PG_CATALOG)
                    .then(|| schemas.get(name).cloned())
                    .flatten()
            })
            .await?;
        relations.extend(self.user_relations());
        Ok(relations)
    }

    async fn schemas(&self) -> Result<&HashMap<&'static str, SchemaRef>> {
        self.schemas
            .get_or_try_init(|| async {
                let mut schemas = HashMap::new();
                for name in tables::BUILT_HERE {
                    let table = self.pg_catalog.table(name).await?.ok_or_else(|| {
                        DataFusionError::Internal(format!("pg_catalog has no {name}"))
                    })?;
                    schemas.insert(name, tables::schema(name, &table.schema()));
                }
                Ok(schemas)
            })
            .await
    }

    /// Sluice's relations (each table's CREATE TABLE is read for declared types).
    pub fn user_relations(&self) -> Vec<PgRelation> {
        user_relations(&self.catalog)
    }
}

/// Replaces the schema `pg_catalog` registered by `setup_pg_catalog` with
/// [`PgCatalog`] over it, registers `information_schema` and the [`functions`]. Run
/// after every other schema is registered (the system relations are listed once,
/// here), with DataFusion's own `information_schema` off.
pub fn install(
    context: &SessionContext,
    catalog: Arc<Catalog>,
    roles: Arc<Roles>,
) -> crate::error::Result<()> {
    let database = context
        .catalog(super::DEFAULT_DATABASE)
        .ok_or_else(|| crate::error::SluiceError::Internal("default catalog missing".into()))?;
    let schema = |name: &str| {
        database.schema(name).ok_or_else(|| {
            crate::error::SluiceError::Internal(format!("schema {name} is not registered"))
        })
    };
    let inner = schema("pg_catalog")?;
    // sluice_catalog's and information_schema's schemas are known: describing them
    // need not fill their tables.
    let fixed = information_schema::relation_schemas()
        .into_iter()
        .map(|(name, schema)| (oids::INFORMATION_SCHEMA, name, schema))
        .chain(
            super::system::relation_schemas()?
                .into_iter()
                .map(|(name, schema)| (oids::SLUICE_CATALOG, name, schema)),
        )
        .collect();
    let system = SystemRelations::new(vec![(oids::PG_CATALOG, inner.clone())], fixed);
    let objects = Arc::new(PgObjects {
        catalog,
        roles,
        system,
        pg_catalog: inner.clone(),
        schemas: tokio::sync::OnceCell::new(),
    });
    database.register_schema(
        "pg_catalog",
        Arc::new(PgCatalog {
            inner,
            objects: objects.clone(),
        }),
    )?;
    database.register_schema(
        "information_schema",
        Arc::new(information_schema::InformationSchema::new(objects.clone())),
    )?;
    regtypes::install(context, objects.clone());
    cast_types::install(context);
    context.register_udf(sqlbody::udf(objects.clone()));
    for function in functions::all(objects.clone()) {
        context.register_udf(function);
    }
    for name in functions::OID_FUNCTIONS {
        if let Ok(inner) = datafusion::execution::FunctionRegistry::udf(context, name) {
            context.register_udf(functions::OidArgument::udf(inner));
        }
    }
    // After the crate's: its pg_relation_size and pg_total_relation_size answer 0.
    for function in sizes::all(objects) {
        context.register_udf(function);
    }
    Ok(())
}

/// `pg_settings` rows after the crate's: the preset settings drivers read, as
/// PostgreSQL 15 shows them (`max_index_keys`, for pgjdbc's `getImportedKeys`).
fn preset_settings(schema: SchemaRef) -> Result<datafusion::arrow::array::RecordBatch> {
    use crate::sql::settings::MAX_INDEX_KEYS;
    let mut rows = rows::Rows::new(schema);
    rows.push(vec![
        ("name", "max_index_keys".into()),
        ("setting", MAX_INDEX_KEYS.into()),
        ("category", "Preset Options".into()),
        (
            "short_desc",
            "Shows the maximum number of index keys.".into(),
        ),
        ("context", "internal".into()),
        ("vartype", "integer".into()),
        ("source", "default".into()),
        ("min_val", MAX_INDEX_KEYS.into()),
        ("max_val", MAX_INDEX_KEYS.into()),
        ("reset_val", MAX_INDEX_KEYS.into()),
        ("pending_restart", false.into()),
    ]);
    rows.finish()
}

/// The schema `pg_catalog`: the crate's relations, but those in
/// [`tables::BUILT_HERE`] built from [`PgObjects`] when a query names them.
#[derive(Debug)]
struct PgCatalog {
    inner: Arc<dyn SchemaProvider>,
    objects: Arc<PgObjects>,
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        for name in roles::ROLE_RELATIONS {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let lower = name.to_ascii_lowercase();
        if let Some(name) = roles::ROLE_RELATIONS.iter().find(|n| **n == lower) {
            let batch = roles::rows(name, &self.objects.roles.all())?;
            return Ok(Some(Arc::new(MemTable::try_new(
                batch.schema(),
                vec![vec![batch]],
            )?)));
        }
        if lower == "pg_database" {
            let Some(inner) = self.inner.table(name).await? else {
                return Ok(None);
            };
            let batch = database::rows(inner.schema())?;
            return Ok(Some(Arc::new(MemTable::try_new(
                batch.schema(),
                vec![vec![batch]],
            )?)));
        }
        if lower == "pg_settings" {
            let Some(inner) = self.inner.table(name).await? else {
                return Ok(None);
            };
            let rows = preset_settings(inner.schema())?;
            return Ok(Some(Arc::new(proc::WithRows { inner, rows })));
        }
        if lower == "pg_proc" {
            let Some(mut inner) = self.inner.table(name).await? else {
                return Ok(None);
            };
            if self.objects.catalog.has_functions() {
                let rows = proc::rows(inner.schema(), &self.objects.catalog.functions())?;
                inner = Arc::new(proc::WithRows { inner, rows });
            }
            // `aclitem[]`, not text (psql's `\df+` gives it to `array_to_string`).
            return Ok(Some(Arc::new(text_arrays::TextArrayColumns::new(
                inner,
                &["proacl"],
            ))));
        }
        let Some(built_here) = tables::BUILT_HERE.iter().find(|n| **n == lower) else {
            return self.inner.table(name).await;
        };
        // pg_namespace describes the schemas, not the relations in them.
        let relations = match *built_here {
            "pg_namespace" | "pg_foreign_server" | "pg_policy" => Vec::new(),
            _ => self.objects.relations().await?,
        };
        let schema = self.objects.schemas().await?[built_here].clone();
        let batch = tables::rows(built_here, schema.clone(), &relations, &self.objects.roles)?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        roles::ROLE_RELATIONS.contains(&name.to_ascii_lowercase().as_str())
            || self.inner.table_exist(name)
    }
}
