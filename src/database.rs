//! [`Database`]: one open data directory — catalog, tables, and the DataFusion
//! context that plans queries over them. Shared by every connection.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::DataType;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::ColumnarValue;
use datafusion::prelude::SessionConfig;
use datafusion::scalar::ScalarValue;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::catalog::roles::Roles;
use crate::catalog::schema::PublicSchema;
use crate::catalog::system::{SYSTEM_SCHEMA, SystemSchema};
use crate::catalog::{Catalog, DEFAULT_DATABASE, DEFAULT_SCHEMA};
use crate::checkpointer::{self, Checkpoints, Recovery};
use crate::dataflow::Sequencer;
use crate::dataflow::checkpoints::{Manifest, SharedCheckpointStatus};
use crate::error::{Result, SluiceError};
use crate::sql::backends::{self, Backends};
use crate::sql::parser::SqlParser;
use crate::sql::settings::version_string;
use crate::storage::system_settings::SystemSettings;

/// An open Sluice database. See the module docs.
pub struct Database {
    data_dir: PathBuf,
    catalog: Arc<Catalog>,
    roles: Arc<Roles>,
    context: SessionContext,
    parser: SqlParser,
    sequencer: Arc<Sequencer>,
    backends: Arc<Backends>,
    ddl: tokio::sync::Mutex<()>,
    checkpoints: Checkpoints,
    /// Set while the server starts from a checkpoint.
    recovery: std::sync::Mutex<Option<Recovery>>,
    /// The checkpoint interval `ALTER SYSTEM RESET` goes back to: the start-up
    /// option's, else the default.
    started_interval: Duration,
    view_workers: usize,
    _lock: File,
}

/// How a database runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How often views are checkpointed (zero: never). `None`: as `ALTER SYSTEM SET
    /// checkpoint_interval` last set it, else [`checkpointer::DEFAULT_INTERVAL`]; a
    /// value given here wins over `ALTER SYSTEM` at this start, as PostgreSQL's
    /// command-line options win over `postgresql.auto.conf`.
    pub checkpoint_interval: Option<Duration>,
    /// How many workers a view runs on when its `WITH (workers = n)` does not say
    /// (see [`crate::dataflow::workers`]). `None`: the machine's cores.
    pub view_workers: Option<usize>,
}

/// The machine's cores (one where they cannot be told).
fn default_view_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Database {
    /// How many workers a view runs on unless it says (see [`Options::view_workers`]).
    pub fn view_workers(&self) -> usize {
        self.view_workers
    }

    /// Opens (creating if needed) the database in `data_dir` with the default
    /// [`Options`]; see [`Database::open_with`].
    pub async fn open(data_dir: &Path) -> Result<Arc<Database>> {
        Database::open_with(data_dir, Options::default()).await
    }

    /// Opens (creating if needed) the database in `data_dir`: takes the directory
    /// lock, reads the catalog and reopens every object in creation order, views
    /// from the last complete checkpoint where they can (see
    /// [`crate::checkpointer`]); then checkpoints every `options.checkpoint_interval`.
    pub async fn open_with(data_dir: &Path, options: Options) -> Result<Arc<Database>> {
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
        let checkpoint_dir = data_dir.join("checkpoints");
        // A damaged or unknown checkpoint stops the start, naming its file.
        let manifest = Manifest::read(&checkpoint_dir)?;
        // Run files no complete checkpoint names (a checkpoint cut short by a crash)
        // go before any view writes again.
        let kept = manifest.clone().unwrap_or_else(Manifest::empty);
        if let Err(e) = kept.remove_unreferenced(&checkpoint_dir) {
            tracing::warn!("removing the files of an unfinished checkpoint failed: {e}");
        }
        let (catalog, entries) = Catalog::open(data_dir)?;
        let roles = Arc::new(Roles::open(data_dir)?);
        let catalog = Arc::new(catalog);
        let started_interval = options
            .checkpoint_interval
            .unwrap_or(checkpointer::DEFAULT_INTERVAL);
        let altered = SystemSettings::read(data_dir)?.checkpoint_interval_ms;
        let interval = match (options.checkpoint_interval, altered) {
            (None, Some(millis)) => Duration::from_millis(millis),
            _ => started_interval,
        };
        let checkpoints = Checkpoints::new(checkpoint_dir, interval);
        if let Some(manifest) = &manifest {
            checkpoints.recovered_from(manifest.clone());
        }
        let sequencer = match &manifest {
            Some(m) => Sequencer::resuming(m.epoch, m.id),
            None => Sequencer::default(),
        };

        let backends = Backends::new();
        let context = new_context(&catalog, &roles, &backends, checkpoints.status())?;
        let db = Arc::new(Database {
            data_dir: data_dir.to_path_buf(),
            catalog,
            roles,
            context,
            parser: SqlParser::default(),
            sequencer: Arc::new(sequencer),
            backends,
            ddl: tokio::sync::Mutex::new(()),
            checkpoints,
            started_interval,
            view_workers: options
                .view_workers
                .unwrap_or_else(default_view_workers)
                .max(1),
            recovery: std::sync::Mutex::new(manifest.map(|manifest| Recovery {
                manifest,
                restored: Default::default(),
                deferred: Vec::new(),
            })),
            _lock: lock,
        });
        for entry in entries {
            crate::sql::ddl::replay(&db, &entry).await?;
        }
        db.finish_recovery()?;
        // Views restored from a checkpoint apply their tables' changes after it before
        // the first client reads them, as a rebuilt view has backfilled: a row
        // committed before the restart is never missing from a view after it.
        db.flush().await;
        checkpointer::start_periodic(&db);
        Ok(db)
    }

    /// `ALTER SYSTEM SET checkpoint_interval` (`None`: `RESET`): checkpoints follow
    /// the new interval at once, and later starts keep it (unless started with an
    /// interval of their own).
    pub async fn alter_checkpoint_interval(&self, interval: Option<Duration>) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let mut settings = SystemSettings::read(&self.data_dir)?;
        settings.checkpoint_interval_ms = interval.map(|i| i.as_millis() as u64);
        settings.write(&self.data_dir)?;
        self.checkpoints
            .set_interval(interval.unwrap_or(self.started_interval));
        Ok(())
    }

    /// Ends start-up from a checkpoint: every view has subscribed to the views it
    /// reads, so the restored views' table changes and source readers may start.
    fn finish_recovery(&self) -> Result<()> {
        let Some(recovery) = self.lock_recovery().take() else {
            return Ok(());
        };
        {
            let mut order = self.sequencer.lock();
            for deferred in recovery.deferred {
                deferred(&mut order)?;
            }
        }
        for relation in self.catalog.relations() {
            if let crate::catalog::Relation::Table(table) = relation {
                table.store().forget_recovered_changes();
            }
        }
        tracing::info!(
            checkpoint = recovery.manifest.id,
            restored = recovery.restored.len(),
            "started from the last complete checkpoint"
        );
        Ok(())
    }

    /// The checkpoint the server is starting from (`None` once it has started).
    pub fn lock_recovery(&self) -> std::sync::MutexGuard<'_, Option<Recovery>> {
        self.recovery.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The server's checkpoints.
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// The live catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The roles, their passwords and grants.
    pub fn roles(&self) -> &Arc<Roles> {
        &self.roles
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

fn new_context(
    catalog: &Arc<Catalog>,
    roles: &Arc<Roles>,
    sessions: &Arc<Backends>,
    checkpoints: &SharedCheckpointStatus,
) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DEFAULT_DATABASE, DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(true)
        // Sluice's own, with PostgreSQL's columns (catalog::postgres::information_schema).
        .with_information_schema(false);
    // Postgres reads `1.5` as an exact NUMERIC, not a float.
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // The session time zone is UTC: `timestamptz` values (casts, literals, now())
    // carry it, as the TIMESTAMPTZ columns do, and print with their offset.
    config.options_mut().execution.time_zone = Some(crate::sql::types::UTC.to_string());
    let mut context = SessionContext::new_with_config(config);
    // One optimizer rule re-sums partial sums, which must keep PostgreSQL's sum types.
    let rules = crate::sql::functions::checked_sum::optimizer_rules(context.state().optimizers());
    // Analyzer rules and planners added later come after DataFusion's (after type
    // coercion, after its EXTRACT); these must come before.
    let state = context.state();
    let analyzer_rules = [
        crate::sql::functions::real_operands::before_coercion(),
        crate::sql::functions::date_arithmetic::before_coercion(),
        crate::sql::functions::interval_keys::before_coercion(),
    ]
    .into_iter()
    .chain(state.analyzer().rules.iter().cloned())
    .collect();
    let planners = std::iter::once(Arc::new(crate::sql::functions::extract::ExtractPlanner) as _)
        .chain(state.expr_planners().iter().cloned())
        .collect();
    context = SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_optimizer_rules(rules)
            .with_analyzer_rules(analyzer_rules)
            .with_expr_planners(planners)
            .build(),
    );
    let database = context
        .catalog(DEFAULT_DATABASE)
        .ok_or_else(|| SluiceError::Internal("default catalog missing".into()))?;
    database.register_schema(DEFAULT_SCHEMA, Arc::new(PublicSchema::new(catalog.clone())))?;
    database.register_schema(
        SYSTEM_SCHEMA,
        Arc::new(SystemSchema::new(catalog.clone(), checkpoints.clone())?),
    )?;
    setup_pg_catalog(&context, DEFAULT_DATABASE, EmptyContextProvider)
        .map_err(|e| SluiceError::DataFusion(*e))?;
    crate::catalog::postgres::install(&context, catalog.clone(), roles.clone())?;
    context.register_udf(version_udf());
    // pg_catalog's own pg_backend_pid() answers 1 for every session.
    context.register_udf(backends::unbound_pg_backend_pid());
    context.register_udf(backends::pg_cancel_backend(sessions.clone()));
    for function in crate::sql::functions::postgres::replacements() {
        context.register_udf(function);
    }
    context.register_udaf(crate::sql::functions::checked_sum::sum());
    for function in crate::sql::functions::float_extremes::functions() {
        context.register_udaf(function);
    }
    for function in crate::sql::functions::signed_ranks::functions() {
        context.register_udwf(function);
    }
    crate::sql::functions::integers::install(&context);
    crate::sql::functions::text_casts::install(&context);
    crate::sql::functions::text_input::install(&context);
    crate::sql::functions::float_range::install(&context);
    crate::sql::functions::interval_comparison::install(&context);
    crate::sql::functions::interval_keys::install(&context);
    crate::sql::functions::similar_to::install(&context);
    context.register_udf(crate::ml::predict::Predict::udf(catalog.clone()));
    context.register_udf(crate::sql::functions::serial::pg_get_serial_sequence(
        catalog.clone(),
    ));
    context.register_udf(crate::sql::functions::like_escape::like_escape());
    context.register_udf(crate::sql::functions::sign::sign());
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut context,
        Arc::new(crate::sql::functions::interval_arithmetic::IntervalProducts::default()),
    )?;
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut context,
        Arc::new(crate::sql::functions::date_arithmetic::DateTimeArithmetic),
    )?;
    crate::sql::functions::real_operands::install(&mut context)?;
    // After real_operands, which makes a real beside an integer a double precision.
    datafusion::execution::FunctionRegistry::register_expr_planner(
        &mut context,
        Arc::new(crate::sql::functions::float_arithmetic::FloatArithmetic),
    )?;
    context.register_udf(crate::sql::functions::age::age());
    context.register_udf(crate::sql::functions::pg_typeof::pg_typeof());
    for function in crate::sql::functions::justify::functions() {
        context.register_udf(function);
    }
    context.register_udf(crate::sql::functions::to_timestamp::to_timestamp());
    context.register_udf(crate::sql::functions::from_char::to_date());
    context.register_udf(crate::sql::functions::quote::quote_literal());
    context.register_udf(crate::sql::functions::format::format());
    context.register_udf(crate::sql::functions::size_pretty::pg_size_pretty());
    context.register_udf(crate::sql::functions::subscripts::generate_subscripts());
    context.register_udf(crate::sql::functions::expandarray::ExpandArray::udf());
    for function in crate::sql::functions::json::functions() {
        context.register_udf(function);
    }
    // PostgreSQL's `variance` is the sample variance, DataFusion's `var_samp`.
    let var_samp = datafusion::functions_aggregate::variance::var_samp_udaf();
    context.register_udaf(var_samp.as_ref().clone().with_aliases(["variance"]));
    // RisingWave's and Flink's name for DataFusion's `approx_distinct`.
    let approx_distinct = datafusion::functions_aggregate::approx_distinct::approx_distinct_udaf();
    context.register_udaf(
        approx_distinct
            .as_ref()
            .clone()
            .with_aliases(["approx_count_distinct"]),
    );
    context.register_udaf(crate::sql::scalar_subqueries::single_value());
    for function in crate::sql::functions::settings::functions() {
        context.register_udf(function);
    }
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
