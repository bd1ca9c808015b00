//! [`Database`]: one open data directory — catalog, tables, and the DataFusion
//! context that plans queries over them. Shared by every connection.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::ColumnarValue;
use datafusion::prelude::SessionConfig;
use datafusion::scalar::ScalarValue;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::catalog::schema::PublicSchema;
use crate::catalog::system::{SYSTEM_SCHEMA, SystemSchema};
use crate::catalog::{Catalog, DEFAULT_DATABASE, DEFAULT_SCHEMA};
use crate::dataflow::Sequencer;
use crate::error::{Result, SluiceError};
use crate::sql::backends::{self, Backends};
use crate::sql::parser::SqlParser;
use crate::sql::settings::version_string;

/// An open Sluice database. See the module docs.
pub struct Database {
    data_dir: PathBuf,
    catalog: Arc<Catalog>,
    context: SessionContext,
    parser: SqlParser,
    sequencer: Arc<Sequencer>,
    backends: Arc<Backends>,
    ddl: tokio::sync::Mutex<()>,
    _lock: File,
}

impl Database {
    /// Opens (creating if needed) the database in `data_dir`: takes the directory
    /// lock, reads the catalog and reopens every object in creation order.
    pub async fn open(data_dir: &Path) -> Result<Arc<Database>> {
        std::fs::create_dir_all(data_dir.join("tables"))?;
        let lock = File::create(data_dir.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            SluiceError::coded(
                "55006",
                format!(
                    "data directory {} is in use by another Sluice process",
                    data_dir.display()
                ),
            )
        })?;
        let (catalog, entries) = Catalog::open(data_dir)?;
        let catalog = Arc::new(catalog);
        let backends = Backends::new();
        let context = new_context(&catalog, &backends)?;
        let db = Arc::new(Database {
            data_dir: data_dir.to_path_buf(),
            catalog,
            context,
            parser: SqlParser::default(),
            sequencer: Arc::default(),
            backends,
            ddl: tokio::sync::Mutex::new(()),
            _lock: lock,
        });
        for entry in entries {
            crate::sql::ddl::replay(&db, &entry).await?;
        }
        Ok(db)
    }

    /// The live catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The DataFusion context every statement is planned in.
    pub fn context(&self) -> &SessionContext {
        &self.context
    }

    /// The statement parser.
    pub fn parser(&self) -> &SqlParser {
        &self.parser
    }

    /// The global order of changes (see [`Sequencer`]).
    pub fn sequencer(&self) -> &Arc<Sequencer> {
        &self.sequencer
    }

    /// The connected sessions and their running statements.
    pub fn backends(&self) -> &Arc<Backends> {
        &self.backends
    }

    /// Where object `id` keeps its files.
    pub fn object_dir(&self, id: u64) -> PathBuf {
        self.data_dir.join("tables").join(id.to_string())
    }

    /// Waits until every change accepted before the call is visible in every
    /// materialized view. Views are visited in depth order, so a view's output
    /// reaches the views reading it before they are asked.
    pub async fn flush(&self) {
        let mut views = self.catalog.views();
        views.sort_by_key(|v| v.running().depth());
        for level in views.chunk_by(|a, b| a.running().depth() == b.running().depth()) {
            let markers: Vec<_> = {
                let _order = self.sequencer.lock();
                level.iter().map(|v| v.running().flush_marker()).collect()
            };
            for marker in markers {
                // An error means the view stopped: nothing more to wait for.
                let _ = marker.await;
            }
        }
    }

    /// Serializes catalog changes: hold the guard for the whole DDL statement.
    pub async fn ddl_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.ddl.lock().await
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

fn new_context(catalog: &Arc<Catalog>, sessions: &Arc<Backends>) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DEFAULT_DATABASE, DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true);
    // Postgres reads `1.5` as an exact NUMERIC, not a float.
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // The session time zone is UTC: `timestamptz` values (casts, literals, now())
    // carry it, as the TIMESTAMPTZ columns do, and print with their offset.
    config.options_mut().execution.time_zone = Some(crate::sql::types::UTC.to_string());
    let context = SessionContext::new_with_config(config);
    let database = context
        .catalog(DEFAULT_DATABASE)
        .ok_or_else(|| SluiceError::Internal("default catalog missing".into()))?;
    database.register_schema(DEFAULT_SCHEMA, Arc::new(PublicSchema::new(catalog.clone())))?;
    database.register_schema(SYSTEM_SCHEMA, Arc::new(SystemSchema::new(catalog.clone())?))?;
    setup_pg_catalog(&context, DEFAULT_DATABASE, EmptyContextProvider)
        .map_err(|e| SluiceError::DataFusion(*e))?;
    context.register_udf(version_udf());
    // pg_catalog's own pg_backend_pid() answers 1 for every session.
    context.register_udf(backends::unbound_pg_backend_pid());
    context.register_udf(backends::pg_cancel_backend(sessions.clone()));
    for function in crate::sql::functions::postgres::replacements() {
        context.register_udf(function);
    }
    context.register_udf(crate::ml::predict::Predict::udf(catalog.clone()));
    context.register_udf(crate::ml::functions::argmax());
    context.register_udf(crate::ml::functions::softmax());
    for function in crate::sql::session_functions::session_functions() {
        context.register_udwf(function);
    }
    Ok(context)
}

/// `version()`: the Postgres-style version string drivers parse.
fn version_udf() -> ScalarUDF {
    let version = version_string();
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                version.clone(),
            ))))
        }),
    )
}
