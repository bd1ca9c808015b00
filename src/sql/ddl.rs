//! `CREATE TABLE` / `DROP TABLE`, and replaying stored definitions at start-up.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Constraint, Constraints, DFSchema};
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateView, Ident, ObjectName, Statement, TableConstraint,
};

use super::create_source::CreateSource;
use super::names::{normalize_ident, relation_name};
use super::parser::EMIT_ON_WINDOW_CLOSE;
use super::temporal_joins::TEMPORAL_JOIN_TABLES;
use super::types::{arrow_type, sql_name};
use super::view_plan::{ViewOptions, ViewPlan, plan_view};
use super::{Output, plan_statement};
use crate::catalog::{CatalogEntry, Relation, RelationKind, SourceRelation, Table, View};
use crate::connectors::source::{Connector, Include};
use crate::connectors::{Source, SourceConfig};
use crate::database::Database;
use crate::dataflow::ChangeBatch;
use crate::dataflow::barrier::{Participant, Role};
use crate::dataflow::checkpoints::{Manifest, ViewEntry};
use crate::dataflow::view::{Inputs, MaterializedView, can_restore};
use crate::dataflow::window_close::{InputWatermarks, Release, WindowCloser};
use crate::dataflow::{ChangeSender, SequencerGuard};
use crate::error::{Result, SluiceError, sqlstate};
use crate::storage::TableStore;
use crate::storage::table_store::TableLayout;

/// Runs `CREATE TABLE` (including `CREATE TABLE ... AS SELECT`).
pub async fn create_table(db: &Database, create: &CreateTable) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let name = relation_name(&create.name)?;
    let done = Output::Done {
        tag: "CREATE TABLE",
        rows: None,
    };
    if name_taken(db, &name, create.if_not_exists)? {
        return Ok(done);
    }
    reject_unsupported(create)?;

    let (definition, rows) = match &create.query {
        None => (create.clone(), None),
        Some(query) => {
            let plan = plan_statement(db, Statement::Query(query.clone())).await?;
            let definition = definition_from_schema(&create.name, plan.schema().as_arrow())?;
            let frame = db.context().execute_logical_plan(plan).await?;
            (definition, Some(frame.collect().await?))
        }
    };
    let clauses = super::append_only::table_clauses(&definition, true)?;
    if create.query.is_some() && clauses != Default::default() {
        return Err(SluiceError::not_supported(
            "CREATE TABLE AS with APPEND ONLY or a WATERMARK",
        ));
    }
    let id = db.catalog().allocate_id();
    let entry = CatalogEntry {
        id,
        name: name.clone(),
        kind: RelationKind::Table,
        definition: Statement::CreateTable(definition.clone()).to_string(),
    };
    let (layout, defaults, constraints) = table_layout(db, &name, &definition)?;
    let watermark = table_watermark(db, &layout.schema, &clauses)?;
    let dir = db.object_dir(id);
    let store = TableStore::create(&dir, layout, db.sequencer().clone())?;
    let mut watermark_column = None;
    if let Some((column, of_rows)) = watermark {
        store.set_watermark(of_rows)?;
        watermark_column = Some(column);
    }
    let table = Arc::new(
        Table::new(entry, store, defaults, constraints)
            .with_append_only(clauses.append_only)
            .with_watermark_column(watermark_column),
    );
    if let Err(e) = db.catalog().insert(Relation::Table(table.clone()), true) {
        let _ = table.store().destroy();
        return Err(e);
    }
    if let Some(batches) = rows {
        let mut write = table.store().begin_write().await;
        for batch in batches {
            write.commit(ChangeBatch::inserts(batch)).await?;
        }
    }
    Ok(done)
}

/// Re-creates a stored catalog entry at start-up.
pub async fn replay(db: &Database, entry: &CatalogEntry) -> Result<()> {
    if entry.kind == RelationKind::Model {
        return super::models::replay_model(db, entry);
    }
    if entry.kind == RelationKind::Sink {
        return super::sinks::replay_sink(db, entry).await;
    }
    if entry.kind == RelationKind::Function {
        return super::sql_functions::replay(db, entry);
    }
    if entry.kind == RelationKind::Source {
        let source = crate::sql::create_source::parse_create_source(&entry.definition)?;
        let relation = source_relation(db, entry.clone(), &source)?;
        return db
            .catalog()
            .insert(Relation::Source(Arc::new(relation)), false);
    }
    let statement = db.parser().parse_one(&entry.definition)?;
    let create = match (entry.kind, statement) {
        (RelationKind::Table, Statement::CreateTable(create)) => create,
        (RelationKind::MaterializedView, Statement::CreateView(view)) => {
            let starting_from_checkpoint = db.lock_recovery().is_some();
            let view = build_view(db, entry, &view).await?;
            if !starting_from_checkpoint {
                tracing::info!(view = %entry.name, rows = view.running().stats().0, "materialized view rebuilt: there is no checkpoint to start from");
            }
            return db.catalog().insert(Relation::View(Arc::new(view)), false);
        }
        _ => {
            return Err(SluiceError::Corrupt {
                path: "catalog.json".into(),
                reason: format!(
                    "entry {} does not hold a {} definition",
                    entry.id,
                    entry.kind.as_str()
                ),
            });
        }
    };
    let (layout, defaults, constraints) = table_layout(db, &entry.name, &create)?;
    let checkpoint_lsn = db
        .lock_recovery()
        .as_ref()
        .and_then(|r| r.manifest.tables.get(&entry.id).copied());
    let dir = db.object_dir(entry.id);
    let (store, report) = match checkpoint_lsn {
        Some(lsn) => TableStore::open_after_checkpoint(&dir, layout, db.sequencer().clone(), lsn)?,
        None => TableStore::open(&dir, layout, db.sequencer().clone())?,
    };
    if let Some(torn) = &report.torn_tail {
        tracing::warn!(
            table = %entry.name,
            offset = torn.offset,
            bytes = torn.len,
            reason = %torn.reason,
            saved_to = %torn.saved_to.display(),
            "cut off a torn write at the end of the table's log (a write that was never acknowledged)"
        );
    }
    tracing::info!(table = %entry.name, rows = report.rows, replayed = report.replayed, "table opened");
    let clauses = super::append_only::table_clauses(&create, false)?;
    let mut watermark_column = None;
    if let Some((column, of_rows)) = table_watermark(db, &store.schema(), &clauses)? {
        store.set_watermark(of_rows)?;
        watermark_column = Some(column);
    }
    let table = Table::new(entry.clone(), store, defaults, constraints)
        .with_append_only(clauses.append_only)
        .with_watermark_column(watermark_column);
    db.catalog().insert(Relation::Table(Arc::new(table)), false)
}

/// Runs `CREATE MATERIALIZED VIEW`: plans the query, subscribes to its inputs,
/// backfills from their current contents, and returns once the result is visible.
pub async fn create_materialized_view(db: &Database, view: &CreateView) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let name = relation_name(&view.name)?;
    let done = Output::Done {
        tag: "CREATE MATERIALIZED VIEW",
        rows: None,
    };
    if name_taken(db, &name, view.if_not_exists)? {
        return Ok(done);
    }
    if view.or_replace || view.or_alter || view.temporary || !view.columns.is_empty() {
        return Err(SluiceError::not_supported(
            "CREATE OR REPLACE / TEMPORARY materialized views and column lists are not supported",
        ));
    }
    // As PostgreSQL: a view's columns are read by name, so each needs its own.
    let mut seen = HashSet::new();
    let options = view_options(view)?;
    for field in plan_view(db, &view.query, &options).await?.schema.fields() {
        if !seen.insert(field.name()) {
            return Err(SluiceError::coded(
                sqlstate::DUPLICATE_COLUMN,
                format!("column \"{}\" specified more than once", field.name()),
            ));
        }
    }
    let entry = CatalogEntry {
        id: db.catalog().allocate_id(),
        name: name.clone(),
        kind: RelationKind::MaterializedView,
        definition: Statement::CreateView(view.clone()).to_string(),
    };
    let view = build_view(db, &entry, view).await?;
    let running = view.running().clone();
    if let Err(e) = db.catalog().insert(Relation::View(Arc::new(view)), true) {
        running.stop();
        return Err(e);
    }
    Ok(done)
}

/// Rebuilds `views` (shallowest first) on what they call now (`cause`, for the log:
/// a replaced model or function). Each switches at one point: its new dataflow is
/// backfilled first, then takes the old one's place in the catalog.
pub(crate) async fn rebuild_views(
    db: &Database,
    views: Vec<Arc<crate::catalog::View>>,
    cause: &str,
) -> Result<()> {
    for old in views {
        let entry = old.entry().clone();
        let Statement::CreateView(definition) = db.parser().parse_one(&entry.definition)? else {
            return Err(SluiceError::Internal(format!(
                "view {} has no view definition",
                entry.name
            )));
        };
        let rebuilt = build_view(db, &entry, &definition).await?;
        db.catalog().swap(Relation::View(Arc::new(rebuilt)))?;
        old.running().stop();
        tracing::info!(view = %entry.name, "materialized view switched to {cause}");
    }
    Ok(())
}

/// Plans and starts the view `entry` defines (at `CREATE`, at start-up, or when a
/// model it uses is replaced).
pub async fn build_view(db: &Database, entry: &CatalogEntry, view: &CreateView) -> Result<View> {
    let options = view_options(view)?;
    let emit = options.emit_on_close;
    let plan = plan_view(db, &view.query, &options).await?;
    let inputs = plan.inputs.clone();
    let models = plan.models.clone();
    let identity = Identity {
        view_id: entry.id,
        fingerprint: fingerprint(db, entry, &plan)?,
        restore: true,
    };
    let append_only = plan.append_only || emit;
    let running = start_view(
        db,
        &entry.name,
        plan,
        emit,
        (Some(identity), ViewOutput::default()),
    )
    .await?;
    Ok(View::new(
        entry.clone(),
        (inputs, models),
        append_only,
        running,
    ))
}

/// A catalog view (or a sink's own view), as it takes part in checkpoints.
struct Identity {
    view_id: u64,
    fingerprint: String,
    /// Start from the last checkpoint when it can (while the server starts).
    restore: bool,
}

/// Where a view's result goes besides its readers.
#[derive(Debug, Default)]
struct ViewOutput {
    /// See [`Inputs::discard_rows`].
    discard_rows: bool,
    /// See [`Inputs::subscribers`].
    subscriber: Option<ChangeSender>,
}

/// Starts the view a sink runs of its query (`entry` is the sink's): it takes part
/// in checkpoints under the sink's id, keeps no rows, and hands its changes to
/// `subscriber` — from its backfill on, when given. While the server starts it
/// starts from the last checkpoint when `restore` is set and it can; the caller
/// learns which from the recovery's restored set.
pub(crate) async fn start_sink_view(
    db: &Database,
    entry: &CatalogEntry,
    plan: ViewPlan,
    emit_on_close: bool,
    subscriber: Option<ChangeSender>,
    restore: bool,
) -> Result<Arc<MaterializedView>> {
    let identity = Identity {
        view_id: entry.id,
        fingerprint: fingerprint(db, entry, &plan)?,
        restore,
    };
    let output = ViewOutput {
        discard_rows: true,
        subscriber,
    };
    start_view(
        db,
        &entry.name,
        plan,
        emit_on_close,
        (Some(identity), output),
    )
    .await
}

/// What a view's state is a state of: its definition, the operator tree Sluice plans
/// for it (so that a version of Sluice that plans the definition otherwise does not
/// take over state kept for another plan), the types of the columns it reads and
/// shows (state is kept in them: a version that holds a type otherwise, such as an
/// unconstrained `NUMERIC` in 256 bits, must not read state kept in 128), and the
/// versions of the models it calls.
fn fingerprint(db: &Database, entry: &CatalogEntry, plan: &ViewPlan) -> Result<String> {
    let mut fingerprint = entry.definition.clone();
    fingerprint.push_str(&super::sql_functions::fingerprint_of(db, &entry.definition));
    let mut operators = Vec::new();
    plan.graph.explain(0, &mut operators);
    fingerprint.push_str("\nplan:\n");
    fingerprint.push_str(&operators.join("\n"));
    let types = |schema: &datafusion::arrow::datatypes::Schema| -> String {
        let types: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().to_string())
            .collect();
        types.join(", ")
    };
    for name in &plan.inputs {
        if let Some(relation) = db.catalog().get(name) {
            fingerprint.push_str(&format!("\ninput {name}: {}", types(&relation.schema())));
        }
    }
    fingerprint.push_str(&format!("\noutput: {}", types(&plan.schema)));
    for name in &plan.models {
        let model = db.catalog().model(name)?;
        fingerprint.push_str(&format!("\nmodel {name} sha256:{}", model.checksum()));
    }
    Ok(fingerprint)
}

/// The view's options (stored as `WITH (...)`): `EMIT ON WINDOW CLOSE` and the tables
/// of its temporal joins; other options are refused.
pub(crate) fn view_options(view: &CreateView) -> Result<ViewOptions> {
    use datafusion::sql::sqlparser::ast::{CreateTableOptions, SqlOption};
    let options = match &view.options {
        CreateTableOptions::None => return Ok(ViewOptions::default()),
        CreateTableOptions::With(options) => options,
        _ => {
            return Err(SluiceError::not_supported(
                "materialized view options other than WITH (...)",
            ));
        }
    };
    let mut out = ViewOptions::default();
    for option in options {
        match option {
            SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case(EMIT_ON_WINDOW_CLOSE) =>
            {
                out.emit_on_close = value.to_string().eq_ignore_ascii_case("true");
            }
            SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case(TEMPORAL_JOIN_TABLES) =>
            {
                out.temporal_tables = super::temporal_joins::tables_of(value)?;
            }
            SqlOption::KeyValue { key, value } if key.value.eq_ignore_ascii_case(WORKERS) => {
                out.workers = Some(workers_of(value)?);
            }
            SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case(SHARE_SUBPLANS) =>
            {
                out.share_subplans = boolean_option(SHARE_SUBPLANS, value)?;
            }
            other => {
                return Err(SluiceError::not_supported(format!(
                    "materialized view option {other} is not supported"
                )));
            }
        }
    }
    Ok(out)
}

/// The view option saying how many workers the view runs on (see
/// [`crate::dataflow::workers`]); without it, the server's `--view-workers`.
pub const WORKERS: &str = "workers";

/// The view option saying whether a subplan the query computes more than once is
/// computed once (see [`super::shared_subplans`]); default true.
pub const SHARE_SUBPLANS: &str = "share_subplans";

/// A boolean option's value: `true`/`on` or `false`/`off`, quoted or not, in any
/// case (`22023` naming `subject` for anything else). Views' and `SUBSCRIBE`'s
/// options read their flags so.
pub(crate) fn boolean_option(
    subject: &str,
    value: &datafusion::sql::sqlparser::ast::Expr,
) -> Result<bool> {
    match value.to_string().trim_matches('\'').to_lowercase().as_str() {
        "true" | "on" => Ok(true),
        "false" | "off" => Ok(false),
        _ => Err(SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("{subject} must be true or false, not {value}"),
        )),
    }
}

/// The most workers a view may run on.
const MAX_WORKERS: usize = 1024;

/// `workers = n`: a whole number from 1 to [`MAX_WORKERS`].
fn workers_of(value: &datafusion::sql::sqlparser::ast::Expr) -> Result<usize> {
    value
        .to_string()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_WORKERS).contains(n))
        .ok_or_else(|| {
            SluiceError::coded(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("{WORKERS} must be a whole number from 1 to {MAX_WORKERS}, not {value}"),
            )
        })
}

/// How a planned view closes its rows. A view whose every input sends watermarks
/// (a source with a `WATERMARK`, or a view whose inputs all do) tracks its own; if its
/// output has watermarked columns (window bounds, the time column, ...: see
/// [`super::watermarks`]), its rows close by them: late rows are dropped, and with
/// `EMIT ON WINDOW CLOSE` rows are held until they close. `EMIT ON WINDOW CLOSE`
/// without both is refused.
pub(crate) fn window_closing(
    db: &Database,
    plan: &ViewPlan,
    emit_on_close: bool,
) -> Result<(Option<InputWatermarks>, Option<WindowCloser>)> {
    let unwatermarked = plan
        .inputs
        .iter()
        .find(|input| match db.catalog().get(input) {
            Some(Relation::Source(s)) => s.source().config().watermark.is_none(),
            Some(Relation::View(v)) => !v.running().watermarked(),
            Some(Relation::Table(t)) => !t.store().has_watermark(),
            None => true,
        });
    if let Some(input) = unwatermarked {
        if emit_on_close {
            return Err(SluiceError::not_supported(format!(
                "EMIT ON WINDOW CLOSE needs every input to have a watermark (a source or \
                 an APPEND ONLY table with a WATERMARK, or a view over such inputs); \
                 \"{input}\" has none, so its windows would never close"
            )));
        }
        return Ok((None, None));
    }
    let watermarks = Some(InputWatermarks::new(plan.inputs.len()));
    if plan.closes_itself {
        return Ok((watermarks, None));
    }
    let closing = super::watermarks::closing(&db.context().state(), &plan.watermarks)?;
    let release = if emit_on_close {
        Release::OnClose
    } else {
        Release::Immediately
    };
    match closing {
        Some(closing) => {
            let closer = WindowCloser::try_new(plan.schema.clone(), closing, release)?;
            Ok((watermarks, Some(closer)))
        }
        None if emit_on_close => Err(SluiceError::not_supported(
            "EMIT ON WINDOW CLOSE needs a column that closes by the watermark in the \
             view's output: window_start or window_end of TUMBLE, HOP, CUMULATE or SESSION, \
             or another expression that only grows with the watermarked time column, such \
             as date_trunc('minute', ts)",
        )),
        None => Ok((watermarks, None)),
    }
}

/// Plans and starts a view of `query` that is not in the catalog (for a
/// subscription); it stops when the last reference to it is dropped. `name` names
/// its source readers.
pub async fn start_own_view(
    db: &Database,
    name: &str,
    query: &datafusion::sql::sqlparser::ast::Query,
) -> Result<Arc<MaterializedView>> {
    let plan = plan_view(db, query, &ViewOptions::default()).await?;
    start_view(db, name, plan, false, (None, ViewOutput::default())).await
}

/// Subscribes a planned view to its inputs (one atomic step under the sequencer's
/// lock, so the backfill and the changes that follow neither overlap nor leave a
/// gap) and starts it. A catalog view (`identity`) takes part in checkpoints; while
/// the server starts, it starts from the last checkpoint when it can.
async fn start_view(
    db: &Database,
    name: &str,
    mut plan: ViewPlan,
    emit_on_close: bool,
    (identity, output): (Option<Identity>, ViewOutput),
) -> Result<Arc<MaterializedView>> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let view_id = identity.as_ref().map(|i| i.view_id);
    let (watermarks, mut window_closer) = window_closing(db, &plan, emit_on_close)?;
    let restore = match &identity {
        Some(identity) if identity.restore => restorable(
            db,
            name,
            identity,
            &mut plan,
            window_closer.as_mut(),
            watermarks.is_some(),
        ),
        _ => None,
    };
    let mut inputs = Inputs {
        watermarks,
        window_closer,
        output_watermarks: plan.watermarks.clone(),
        discard_rows: output.discard_rows,
        subscribers: output.subscriber.into_iter().map(|s| (s, 0)).collect(),
        ..Inputs::default()
    };
    {
        let mut order = db.sequencer().lock();
        inputs.epoch = order.current();
        let restore = restore.filter(|_| restorable_inputs(db, name, &order, &plan.inputs));
        if let Some(identity) = identity {
            let dir = match &restore {
                Some((dir, _)) => dir.clone(),
                None => format!("{}-{}", identity.view_id, order.next_barrier()),
            };
            inputs.first_barrier = Some(order.register(Participant {
                view_id: identity.view_id,
                role: Role::View,
                dir,
                fingerprint: identity.fingerprint,
                inbox: sender.clone(),
            }));
        }
        match restore {
            Some((dir, entry)) => {
                subscribe_restored(db, name, &plan.inputs, &sender, &entry, &mut inputs)?;
                inputs.epoch = entry.checkpoint.epoch;
                let dir = Manifest::view_dir(db.checkpoints().dir(), &dir);
                inputs.restore = Some((dir, entry.checkpoint));
            }
            None => subscribe(db, name, &plan.inputs, &sender, &order, &mut inputs)?,
        }
    }
    let restored = view_id.filter(|_| inputs.restore.is_some());
    let view =
        MaterializedView::start(name, plan.schema, plan.graph, (sender, receiver), inputs).await?;
    if let (Some(view_id), Some(recovery)) = (restored, db.lock_recovery().as_mut()) {
        tracing::info!(view = %name, checkpoint = recovery.manifest.id, "materialized view started from the last checkpoint");
        recovery.restored.insert(view_id);
    }
    Ok(view)
}

/// Subscribes a view to its inputs from their current contents.
fn subscribe(
    db: &Database,
    name: &str,
    relations: &[String],
    sender: &ChangeSender,
    order: &SequencerGuard<'_>,
    inputs: &mut Inputs,
) -> Result<()> {
    for (i, input) in relations.iter().enumerate() {
        match db.catalog().get(input) {
            Some(Relation::Table(table)) => {
                let snapshot = table.store().subscribe(order, i, sender.clone());
                inputs.snapshots.push((i, snapshot));
            }
            Some(Relation::View(view)) => {
                // A view's rows may be behind the sequencer: the snapshot is as of
                // the oldest input's epoch.
                let (snapshot, epoch) = view.running().subscribe(i, sender.clone())?;
                inputs.epoch = inputs.epoch.min(epoch);
                inputs.snapshots.push((i, snapshot));
                inputs.upstream.push((i, view.running().clone()));
            }
            Some(Relation::Source(source)) => {
                // A source has no stored rows: the view reads it from the
                // source's startup position (backfilled if the live reader is past it).
                source.source().attach(
                    order,
                    name,
                    i,
                    sender.clone(),
                    db.sequencer().clone(),
                    None,
                )?;
            }
            None => return Err(SluiceError::UndefinedTable(input.clone())),
        }
    }
    Ok(())
}

/// The view's entry in the checkpoint the server starts from, when its state can
/// be restored: the same definition and models, the same plan. Says in the log why
/// not otherwise.
fn restorable(
    db: &Database,
    name: &str,
    identity: &Identity,
    plan: &mut ViewPlan,
    closer: Option<&mut WindowCloser>,
    watermarked: bool,
) -> Option<(String, ViewEntry)> {
    let recovery = db.lock_recovery();
    let recovery = recovery.as_ref()?;
    let Some((dir, entry)) = recovery.manifest.view(identity.view_id) else {
        tracing::info!(view = %name, "materialized view rebuilt: it is not in the last checkpoint");
        return None;
    };
    if entry.fingerprint != identity.fingerprint {
        tracing::info!(view = %name, "materialized view rebuilt: its definition, a model it uses or the plan Sluice makes of it changed since the last checkpoint");
        return None;
    }
    if !can_restore(&mut plan.graph, closer, watermarked, &entry.checkpoint) {
        tracing::info!(view = %name, "materialized view rebuilt: this version of Sluice plans it differently from the one that checkpointed it");
        return None;
    }
    Some((dir.to_string(), entry.clone()))
}

/// Whether every input can go on from the checkpoint: each table still has its
/// changes after the checkpoint, each view read was restored from it too.
fn restorable_inputs(
    db: &Database,
    name: &str,
    order: &SequencerGuard<'_>,
    relations: &[String],
) -> bool {
    let recovery = db.lock_recovery();
    let Some(recovery) = recovery.as_ref() else {
        return false;
    };
    let ok = relations.iter().all(|input| match db.catalog().get(input) {
        Some(Relation::Table(table)) => recovery
            .manifest
            .tables
            .get(&table.entry().id)
            .is_some_and(|lsn| table.store().has_changes_after(order, *lsn)),
        Some(Relation::View(view)) => recovery.restored.contains(&view.entry().id),
        Some(Relation::Source(_)) => true,
        None => false,
    });
    if !ok {
        tracing::info!(view = %name, "materialized view rebuilt: an input cannot go on from the last checkpoint");
    }
    ok
}

/// Subscribes a view restored from `entry` to its inputs: to the views it reads
/// from now on (they were restored from the same checkpoint); its tables' changes
/// after the checkpoint and its source readers (at their checkpointed positions)
/// start once every view has started (see [`crate::checkpointer`]).
fn subscribe_restored(
    db: &Database,
    name: &str,
    relations: &[String],
    sender: &ChangeSender,
    entry: &ViewEntry,
    inputs: &mut Inputs,
) -> Result<()> {
    let mut recovery = db.lock_recovery();
    let recovery = recovery
        .as_mut()
        .ok_or_else(|| SluiceError::Internal("restoring a view outside start-up".into()))?;
    for (i, input) in relations.iter().enumerate() {
        let sender = sender.clone();
        match db.catalog().get(input) {
            Some(Relation::Table(table)) => {
                let lsn = recovery.manifest.tables.get(&table.entry().id).copied();
                let name = input.clone();
                recovery.deferred.push(Box::new(move |order| match lsn {
                    Some(lsn) if table.store().subscribe_after(order, i, sender, lsn) => Ok(()),
                    _ => Err(SluiceError::Internal(format!(
                        "table {name} lost its changes after the checkpoint"
                    ))),
                }));
            }
            Some(Relation::View(view)) => {
                view.running().subscribe_changes(i, sender);
                inputs.upstream.push((i, view.running().clone()));
            }
            Some(Relation::Source(source)) => {
                let position = entry.checkpoint.sources.get(&i).cloned();
                let name = name.to_string();
                let sequencer = db.sequencer().clone();
                recovery.deferred.push(Box::new(move |order| {
                    source
                        .source()
                        .attach(order, &name, i, sender, sequencer, position)
                }));
            }
            None => return Err(SluiceError::UndefinedTable(input.clone())),
        }
    }
    Ok(())
}

/// Runs `DROP TABLE` / `DROP MATERIALIZED VIEW [IF EXISTS] names [CASCADE]`.
pub async fn drop_relations(
    db: &Database,
    names: &[ObjectName],
    kind: RelationKind,
    if_exists: bool,
    cascade: bool,
) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    // Check every name before dropping anything, so the statement is all or nothing.
    let mut targets = Vec::new();
    for name in names {
        let name = relation_name(name)?;
        let Some(relation) = db.catalog().get(&name) else {
            if if_exists {
                continue;
            }
            return Err(SluiceError::UndefinedTable(name));
        };
        if relation.entry().kind != kind {
            return Err(SluiceError::coded(
                "42809",
                format!("\"{name}\" is not a {}", kind.as_str()),
            ));
        }
        targets.push(relation);
    }
    let named: Vec<&str> = targets.iter().map(|r| r.entry().name.as_str()).collect();
    let mut doomed: Vec<Arc<View>> = Vec::new();
    for relation in &targets {
        let name = &relation.entry().name;
        let dependents = transitive_dependents(db, name);
        let outside: Vec<&str> = dependents
            .iter()
            .map(|v| v.entry().name.as_str())
            .filter(|d| !named.contains(d))
            .collect();
        if !outside.is_empty() && !cascade {
            return Err(SluiceError::coded(
                sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop {} {name} because other objects depend on it: materialized view {} \
                     (use DROP ... CASCADE to drop them too)",
                    kind.as_str(),
                    outside.join(", ")
                ),
            ));
        }
        for view in dependents {
            if !doomed.iter().any(|d| d.entry().id == view.entry().id) {
                doomed.push(view);
            }
        }
    }
    let dropped_views: Vec<&str> = doomed
        .iter()
        .map(|v| v.entry().name.as_str())
        .chain(named.iter().copied())
        .collect();
    let sinks = super::sinks::sinks_reading(db, &dropped_views);
    if !sinks.is_empty() && !cascade {
        let names: Vec<&str> = sinks.iter().map(|s| s.entry().name.as_str()).collect();
        return Err(SluiceError::coded(
            sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
            format!(
                "cannot drop {}: sink {} reads it (use DROP ... CASCADE to drop the sinks too)",
                named.join(", "),
                names.join(", ")
            ),
        ));
    }
    for sink in sinks {
        super::sinks::drop_sink(db, &sink)?;
    }
    doomed.sort_by_key(|v| std::cmp::Reverse(v.running().depth()));
    for view in doomed {
        drop_one(db, Relation::View(view)).await?;
    }
    for relation in targets {
        if db.catalog().get(&relation.entry().name).is_some() {
            drop_one(db, relation).await?;
        }
    }
    Ok(Output::Done {
        tag: match kind {
            RelationKind::Table => "DROP TABLE",
            RelationKind::MaterializedView => "DROP MATERIALIZED VIEW",
            RelationKind::Source => "DROP SOURCE",
            RelationKind::Model => "DROP MODEL",
            RelationKind::Sink => "DROP SINK",
            RelationKind::Function => "DROP FUNCTION",
        },
        rows: None,
    })
}

/// Every view reading `name` directly or through other views, deepest first.
pub(crate) fn transitive_dependents(db: &Database, name: &str) -> Vec<Arc<View>> {
    let mut found: Vec<Arc<View>> = Vec::new();
    let mut pending = vec![name.to_string()];
    while let Some(next) = pending.pop() {
        for view in db.catalog().dependents(&next) {
            if !found.iter().any(|v| v.entry().id == view.entry().id) {
                pending.push(view.entry().name.clone());
                found.push(view);
            }
        }
    }
    found.sort_by_key(|v| std::cmp::Reverse(v.running().depth()));
    found
}

async fn drop_one(db: &Database, relation: Relation) -> Result<()> {
    // Its grants go with it (after the drop: a failed drop keeps them).
    let id = relation.entry().id;
    drop_relation(db, relation).await?;
    db.roles().forget_relation(id)
}

async fn drop_relation(db: &Database, relation: Relation) -> Result<()> {
    match relation {
        Relation::Table(table) => {
            // Wait for writes in flight, so none lands in a deleted directory.
            let _write = table.store().begin_write().await;
            db.catalog().remove(table.name())?;
            table.store().destroy()
        }
        Relation::View(view) => {
            db.catalog().remove(&view.entry().name)?;
            view.running().stop();
            Ok(())
        }
        Relation::Source(source) => {
            db.catalog().remove(&source.entry().name)?;
            Ok(())
        }
    }
}

/// True when `name` exists and `IF NOT EXISTS` makes that a no-op; an error when it
/// exists otherwise.
fn name_taken(db: &Database, name: &str, if_not_exists: bool) -> Result<bool> {
    match (db.catalog().get(name).is_some(), if_not_exists) {
        (false, _) => Ok(false),
        (true, true) => Ok(true),
        (true, false) => Err(SluiceError::DuplicateTable(name.to_string())),
    }
}

fn reject_unsupported(create: &CreateTable) -> Result<()> {
    let unsupported = |what: &str| {
        Err(SluiceError::not_supported(format!(
            "{what} is not supported"
        )))
    };
    if create.temporary {
        return unsupported("CREATE TEMPORARY TABLE");
    }
    if create.external {
        return unsupported("CREATE EXTERNAL TABLE");
    }
    if create.or_replace {
        return unsupported("CREATE OR REPLACE TABLE");
    }
    if create.like.is_some() || create.clone.is_some() {
        return unsupported("CREATE TABLE LIKE/CLONE");
    }
    Ok(())
}

/// `WATERMARK FOR column AS expr` over rows shaped `schema` (a source's or a table's):
/// the column's name and the expression, checked to be timestamps.
fn watermark_expression(
    db: &Database,
    schema: &SchemaRef,
    column: &Ident,
    expr: &datafusion::sql::sqlparser::ast::Expr,
) -> Result<(String, Arc<dyn datafusion::physical_expr::PhysicalExpr>)> {
    let column = normalize_ident(column);
    let field = schema.field_with_name(&column).map_err(|_| {
        SluiceError::UndefinedColumn(format!("watermark column \"{column}\" does not exist"))
    })?;
    if !matches!(field.data_type(), DataType::Timestamp(..)) {
        return Err(SluiceError::DatatypeMismatch(format!(
            "watermark column \"{column}\" must be a timestamp, not {}",
            sql_name(field.data_type())
        )));
    }
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let logical = db.context().parse_sql_expr(&expr.to_string(), &df_schema)?;
    let physical = db
        .context()
        .state()
        .create_physical_expr(logical, &df_schema)?;
    if !matches!(physical.data_type(schema)?, DataType::Timestamp(..)) {
        return Err(SluiceError::DatatypeMismatch(format!(
            "watermark expression {expr} must be a timestamp"
        )));
    }
    Ok((column, physical))
}

/// An append-only table's `WATERMARK`: its column, and how it is computed over rows
/// (see [`TableStore::set_watermark`]); `None` without one.
fn table_watermark(
    db: &Database,
    schema: &SchemaRef,
    clauses: &super::append_only::TableClauses,
) -> Result<Option<(String, crate::storage::table_store::WatermarkOfRows)>> {
    let Some((column, expr)) = &clauses.watermark else {
        return Ok(None);
    };
    let (column, expr) = watermark_expression(db, schema, column, expr)?;
    let index = schema.index_of(&column)?;
    Ok(Some((
        column,
        Box::new(move |rows: &RecordBatch| {
            use crate::dataflow::watermark::micros;
            let values = expr.evaluate(rows)?.into_array(rows.num_rows())?;
            Ok((
                micros(rows.column(index).as_ref())?,
                micros(values.as_ref())?,
            ))
        }),
    )))
}

/// Column names, types, nullability, primary key and defaults of a `CREATE TABLE`.
fn table_layout(
    db: &Database,
    name: &str,
    create: &CreateTable,
) -> Result<(TableLayout, HashMap<String, Expr>, Constraints)> {
    if create.columns.is_empty() {
        return Err(SluiceError::Syntax(format!(
            "table \"{name}\" needs at least one column"
        )));
    }
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    for column in &create.columns {
        let column_name = normalize_ident(&column.name);
        if !seen.insert(column_name.clone()) {
            return Err(SluiceError::coded(
                sqlstate::DUPLICATE_COLUMN,
                format!("column \"{column_name}\" specified more than once"),
            ));
        }
        names.push(column_name);
    }
    let position = |ident: &Ident| -> Result<usize> {
        let wanted = normalize_ident(ident);
        names.iter().position(|n| *n == wanted).ok_or_else(|| {
            SluiceError::UndefinedColumn(format!("column \"{wanted}\" named in key does not exist"))
        })
    };

    let mut primary_key: Vec<usize> = Vec::new();
    let mut not_null = vec![false; names.len()];
    let mut default_sql = Vec::new();
    for (i, column) in create.columns.iter().enumerate() {
        for option in &column.options {
            match &option.option {
                ColumnOption::NotNull => not_null[i] = true,
                ColumnOption::Null => {}
                ColumnOption::PrimaryKey(_) => set_primary_key(&mut primary_key, vec![i])?,
                ColumnOption::Default(expr) => default_sql.push((i, expr.to_string())),
                other => {
                    return Err(SluiceError::not_supported(format!(
                        "column option {other} is not supported"
                    )));
                }
            }
        }
    }
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                let columns = pk
                    .columns
                    .iter()
                    .map(|c| match &c.column.expr {
                        datafusion::sql::sqlparser::ast::Expr::Identifier(id) => position(id),
                        other => Err(SluiceError::not_supported(format!(
                            "primary key expression {other} is not supported"
                        ))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                set_primary_key(&mut primary_key, columns)?;
            }
            other => {
                return Err(SluiceError::not_supported(format!(
                    "table constraint {other} is not supported"
                )));
            }
        }
    }
    for &i in &primary_key {
        not_null[i] = true;
    }

    let fields = create
        .columns
        .iter()
        .zip(&names)
        .zip(&not_null)
        .map(|((column, name), not_null)| {
            Ok(Field::new(name, arrow_type(&column.data_type)?, !not_null))
        })
        .collect::<Result<Vec<_>>>()?;
    let schema = Arc::new(Schema::new(fields));

    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let mut defaults = HashMap::new();
    for (i, sql) in default_sql {
        let expr = db.context().parse_sql_expr(&sql, &df_schema)?;
        defaults.insert(names[i].clone(), expr);
    }
    let constraints = if primary_key.is_empty() {
        Constraints::default()
    } else {
        Constraints::new_unverified(vec![Constraint::PrimaryKey(primary_key.clone())])
    };
    let layout = TableLayout {
        name: name.to_string(),
        schema,
        primary_key,
    };
    Ok((layout, defaults, constraints))
}

fn set_primary_key(primary_key: &mut Vec<usize>, columns: Vec<usize>) -> Result<()> {
    if !primary_key.is_empty() {
        return Err(SluiceError::coded(
            "42P16",
            "multiple primary keys for a table are not allowed",
        ));
    }
    *primary_key = columns;
    Ok(())
}

/// `CREATE TABLE name (col type, ...)` for the result of a `CREATE TABLE AS` query.
fn definition_from_schema(name: &ObjectName, schema: &Schema) -> Result<CreateTable> {
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                Ident::with_quote('"', f.name()),
                sql_name(f.data_type())
            )
        })
        .collect();
    let sql = format!("CREATE TABLE {name} ({})", columns.join(", "));
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let mut statements = datafusion::sql::sqlparser::parser::Parser::parse_sql(&dialect, &sql)
        .map_err(|_| {
            SluiceError::not_supported(format!(
                "CREATE TABLE AS: a column type of the query is not supported ({sql})"
            ))
        })?;
    match statements.pop() {
        Some(Statement::CreateTable(create)) => Ok(create),
        _ => Err(SluiceError::Internal(
            "generated CREATE TABLE did not parse".into(),
        )),
    }
}

/// Runs `CREATE SOURCE`: validates the definition and, for Kafka, that the broker
/// answers and the topic exists. No rows are read until a view reads the source.
pub async fn create_source(db: &Database, source: &CreateSource) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let name = relation_name(&source.name)?;
    let done = Output::Done {
        tag: "CREATE SOURCE",
        rows: None,
    };
    if name_taken(db, &name, source.if_not_exists)? {
        return Ok(done);
    }
    let entry = CatalogEntry {
        id: db.catalog().allocate_id(),
        name,
        kind: RelationKind::Source,
        definition: source.text.clone(),
    };
    let relation = source_relation(db, entry, source)?;
    if let Connector::Kafka { config, .. } = &relation.source().config().connector {
        let config = config.clone();
        tokio::task::spawn_blocking(move || config.check())
            .await
            .map_err(|e| SluiceError::Internal(format!("broker check failed: {e}")))??;
    }
    db.catalog()
        .insert(Relation::Source(Arc::new(relation)), true)?;
    Ok(done)
}

/// Builds a source from its definition (at creation and at start-up).
fn source_relation(
    db: &Database,
    entry: CatalogEntry,
    source: &CreateSource,
) -> Result<SourceRelation> {
    let mut fields = Vec::with_capacity(source.columns.len());
    let mut proctime = None;
    for (index, column) in source.columns.iter().enumerate() {
        let name = normalize_ident(&column.name);
        if fields.iter().any(|f: &Field| f.name() == &name)
            || proctime
                .as_ref()
                .is_some_and(|(_, f): &(usize, Field)| f.name() == &name)
        {
            return Err(SluiceError::coded(
                sqlstate::DUPLICATE_COLUMN,
                format!("column \"{name}\" specified more than once"),
            ));
        }
        let not_null = column
            .options
            .iter()
            .any(|o| matches!(o.option, ColumnOption::NotNull));
        let field = Field::new(name, arrow_type(&column.data_type)?, !not_null);
        if source.proctime == Some(index) {
            if !matches!(field.data_type(), DataType::Timestamp(..)) {
                return Err(SluiceError::coded(
                    sqlstate::DATATYPE_MISMATCH,
                    format!(
                        "column \"{}\" AS PROCTIME() must be TIMESTAMPTZ or TIMESTAMP, not {}",
                        field.name(),
                        sql_name(field.data_type())
                    ),
                ));
            }
            // Filled as rows are delivered: the connector does not produce it.
            proctime = Some((index, field.with_nullable(false)));
        } else {
            fields.push(field);
        }
    }
    let declared = Arc::new(Schema::new(fields));
    if let (Some((column, _)), Some((_, field))) = (&source.watermark, &proctime)
        && &normalize_ident(column) == field.name()
    {
        return Err(SluiceError::not_supported(format!(
            "a WATERMARK on \"{}\": it is the processing time, which is never late",
            field.name()
        )));
    }
    let watermark = match &source.watermark {
        None => None,
        Some((column, expr)) => Some(watermark_expression(db, &declared, column, expr)?),
    };
    let includes = source
        .includes
        .iter()
        .map(|(what, alias)| {
            let include = match what.as_str() {
                "partition" => Include::Partition,
                "offset" => Include::Offset,
                "timestamp" => Include::Timestamp,
                other => {
                    return Err(SluiceError::not_supported(format!(
                        "INCLUDE {other} is not supported (partition, offset, timestamp)"
                    )));
                }
            };
            let name = alias
                .as_ref()
                .map(normalize_ident)
                .unwrap_or_else(|| format!("kafka_{what}"));
            Ok((include, name))
        })
        .collect::<Result<Vec<_>>>()?;
    let config = SourceConfig::try_new(
        &entry.name,
        declared,
        watermark,
        includes,
        source.encode.clone(),
        source.options.clone(),
    )?
    .with_proctime(proctime)?;
    Ok(SourceRelation::new(entry, Arc::new(Source::new(config))))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::{Expr, Ident, Value};

    use super::boolean_option;

    #[test]
    fn boolean_options_read_true_on_false_off_and_refuse_the_rest() {
        let word = |w: &str| Expr::Identifier(Ident::new(w));
        let quoted = |q: &str| Expr::value(Value::SingleQuotedString(q.into()));
        assert!(boolean_option("o", &word("true")).unwrap());
        assert!(boolean_option("o", &word("ON")).unwrap());
        assert!(!boolean_option("o", &quoted("False")).unwrap());
        assert!(!boolean_option("o", &quoted("off")).unwrap());
        let error = boolean_option("share_subplans", &word("maybe")).unwrap_err();
        assert_eq!(error.sqlstate(), "22023");
        assert_eq!(
            error.to_string(),
            "share_subplans must be true or false, not maybe"
        );
    }
}
