//! SQL: from a parsed statement to its result.
//!
//! ```text
//!  text ──parser──▶ Statement ──prepare──▶ Prepared ──execute(params)──▶ Output
//!                                            │
//!                  DataFusion LogicalPlan ◀──┤ SELECT, EXPLAIN, INSERT/UPDATE/DELETE,
//!                                            │ SHOW TABLES/COLUMNS (queries on sluice_catalog)
//!                  Command ◀─────────────────┘ CREATE/DROP TABLE, SET, SHOW, BEGIN/COMMIT
//! ```
//!
//! `prepare` does all checking that needs no data (so the extended protocol's Parse
//! reports errors early and Describe knows parameter and result types); `execute`
//! runs it. INSERT/UPDATE/DELETE are planned by DataFusion (type coercion, defaults,
//! parameter types) but executed by [`dml`] on Sluice's durable write path.

pub mod append_only;
pub mod array_literals;
pub mod backends;
pub mod boolean_literals;
pub mod column_origins;
pub mod complexity;
pub mod create_source;
pub mod cursors;
pub mod ddl;
pub mod dml;
pub mod flink_windows;
pub mod functions;
pub mod grouping_sets;
pub mod integer_literals;
pub mod interrupt;
pub mod join_expiry;
pub mod models;
pub mod names;
pub mod on_conflict;
pub mod over_reach;
pub mod parser;
pub mod prepared_statements;
pub mod privileges;
pub mod returning;
pub mod roles;
pub mod savepoints;
pub mod scalar_subqueries;
pub mod search_path_lists;
pub mod session_functions;
pub mod set_operations;
pub mod settings;
pub mod shared_subplans;
pub mod show;
pub mod sinks;
pub mod special_registers;
pub mod sql_functions;
pub mod subscribe;
pub mod temporal_filters;
pub mod temporal_joins;
pub mod text_format;
pub mod top_n;
pub mod types;
pub mod uncorrelated_subqueries;
pub mod values_literals;
pub mod vector_subscripts;
pub mod view_plan;
pub mod watermarks;
pub mod wildcard_repeats;
pub mod windows;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CreateTable, CreateView, DiscardObject, Expr as SqlExpr, ObjectName, ObjectType, Set,
    Statement, Value,
};

pub use parser::SqlStatement;

use crate::catalog::RelationKind;
use crate::database::Database;
use crate::error::{Result, SluiceError};
use interrupt::Interrupt;

/// A statement ready to run, possibly many times with different parameters.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// A statement DataFusion planned (queries, EXPLAIN, DML).
    Plan(LogicalPlan),
    /// `INSERT/UPDATE/DELETE` with `RETURNING` or `ON CONFLICT`.
    Write(Box<dml::Write>),
    /// A statement Sluice runs itself.
    Command(Command),
}

/// What a savepoint statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavepointOp {
    Set,
    Release,
    RollBackTo,
}

/// Statements that are not DataFusion plans.
#[derive(Debug, Clone)]
pub enum Command {
    /// `CREATE TABLE`, with the original text kept as its catalog definition.
    CreateTable(Box<CreateTable>),
    /// `DROP TABLE | MATERIALIZED VIEW | SOURCE [IF EXISTS] a, b [CASCADE]`.
    Drop {
        kind: RelationKind,
        names: Vec<ObjectName>,
        if_exists: bool,
        cascade: bool,
    },
    /// `CREATE MATERIALIZED VIEW name AS query`.
    CreateMaterializedView(Box<CreateView>),
    /// `EXPLAIN CREATE MATERIALIZED VIEW`: the view's operator tree.
    ExplainView(Box<CreateView>),
    /// `FLUSH`.
    Flush,
    /// `CREATE SOURCE`.
    CreateSource(Box<create_source::CreateSource>),
    /// `SHOW CREATE SOURCE/TABLE/MATERIALIZED VIEW name`: the stored definition.
    ShowCreate(ObjectName),
    /// `SET name = value` (`None` for `SET name TO DEFAULT`).
    Set { name: String, value: Option<String> },
    /// `SHOW name`.
    Show { name: String },
    /// `ALTER SYSTEM SET checkpoint_interval` (`None`: `RESET`).
    AlterCheckpointInterval(Option<std::time::Duration>),
    /// `CREATE [OR REPLACE] MODEL`.
    CreateModel(Box<models::CreateModel>),
    /// `DROP MODEL [IF EXISTS] names`.
    DropModel { names: Vec<String>, if_exists: bool },
    /// `CREATE SINK`.
    CreateSink(Box<sinks::CreateSink>),
    /// `DROP SINK [IF EXISTS] names`.
    DropSink {
        names: Vec<ObjectName>,
        if_exists: bool,
    },
    /// `SHOW CREATE SINK name`.
    ShowCreateSink(ObjectName),
    /// A statement that only answers with its tag: BEGIN, COMMIT, ROLLBACK, DISCARD.
    Acknowledge(&'static str),
    /// `SAVEPOINT`, `RELEASE SAVEPOINT`, `ROLLBACK TO SAVEPOINT` (see [`savepoints`]).
    Savepoint(SavepointOp, String),
    /// A subscription cursor's `DECLARE`, `FETCH` (with the rows' schema) or `CLOSE`.
    Cursor(Box<cursors::CursorStatement>, Option<SchemaRef>),
    /// `CREATE | ALTER | DROP ROLE`, `GRANT`, `REVOKE`.
    Role(Box<roles::RoleStatement>),
    /// `CREATE [OR REPLACE] FUNCTION`, `DROP FUNCTION`.
    Function(Box<sql_functions::FunctionStatement>),
    /// `PREPARE`: keeps the planned statement as session `pid`'s `name`.
    Prepare {
        pid: i32,
        name: String,
        statement: Arc<prepared_statements::StoredStatement>,
    },
    /// `EXECUTE`: runs a prepared statement with the parameters' values (the one row
    /// of a query, `None` without parameters).
    Execute {
        statement: Arc<prepared_statements::StoredStatement>,
        values: Option<Box<Statement>>,
    },
    /// `DEALLOCATE name | ALL`, `DISCARD ALL` (`name` `None`), answered with `tag`.
    Deallocate {
        pid: i32,
        name: Option<String>,
        tag: &'static str,
    },
}

/// What executing a statement produced.
pub enum Output {
    /// Rows, streamed.
    Rows(SendableRecordBatchStream),
    /// A completed command: its tag and, for DML, the number of rows affected.
    Done {
        tag: &'static str,
        rows: Option<usize>,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Rows(stream) => write!(f, "Rows({:?})", stream.schema()),
            Output::Done { tag, rows } => write!(f, "Done({tag}, {rows:?})"),
        }
    }
}

/// Checks and plans `statement`.
pub async fn prepare(db: &Database, statement: SqlStatement) -> Result<Prepared> {
    let statement = match statement {
        SqlStatement::Flush => return Ok(Prepared::Command(Command::Flush)),
        SqlStatement::CreateSource(source) => {
            return Ok(Prepared::Command(Command::CreateSource(source)));
        }
        SqlStatement::DropSource {
            names,
            if_exists,
            cascade,
        } => {
            return Ok(Prepared::Command(Command::Drop {
                kind: RelationKind::Source,
                names,
                if_exists,
                cascade,
            }));
        }
        SqlStatement::CreateSink(sink) => {
            return Ok(Prepared::Command(Command::CreateSink(sink)));
        }
        SqlStatement::DropSink { names, if_exists } => {
            return Ok(Prepared::Command(Command::DropSink { names, if_exists }));
        }
        SqlStatement::ShowSinks => {
            return Ok(Prepared::Plan(plan_query(db, show::SINKS).await?));
        }
        SqlStatement::ShowCreateSink(name) => {
            return Ok(Prepared::Command(Command::ShowCreateSink(name)));
        }
        SqlStatement::ShowSources => {
            return Ok(Prepared::Plan(plan_query(db, show::SOURCES).await?));
        }
        SqlStatement::ShowCreateSource(name) => {
            return Ok(Prepared::Command(Command::ShowCreate(name)));
        }
        SqlStatement::CreateModel(create) => {
            return Ok(Prepared::Command(Command::CreateModel(create)));
        }
        SqlStatement::DropModel { names, if_exists } => {
            return Ok(Prepared::Command(Command::DropModel { names, if_exists }));
        }
        SqlStatement::AlterSystem(interval) => {
            return Ok(Prepared::Command(Command::AlterCheckpointInterval(
                interval,
            )));
        }
        SqlStatement::ShowModels => {
            return Ok(Prepared::Plan(plan_query(db, models::SHOW_MODELS).await?));
        }
        SqlStatement::DescribeModel(name) => {
            db.catalog().model(&name)?;
            return Ok(Prepared::Plan(
                plan_query(db, &models::describe_query(&name)).await?,
            ));
        }
        // The server streams a subscription itself, when it is sent alone.
        SqlStatement::Subscribe(_) => {
            return Err(SluiceError::not_supported(
                "SUBSCRIBE must be the only statement of a simple-protocol query (as psql and \
                 simple_query send it); through the extended protocol, use DECLARE c CURSOR \
                 FOR SUBSCRIBE ... and FETCH",
            ));
        }
        SqlStatement::Role(statement) => return Ok(Prepared::Command(Command::Role(statement))),
        SqlStatement::Function(statement) => {
            return Ok(Prepared::Command(Command::Function(statement)));
        }
        SqlStatement::Cursor(cursor) => {
            let schema = match &cursor.op {
                cursors::CursorOp::Fetch { name, .. } => {
                    Some(cursors::cursor_schema(db, cursor.pid, name)?)
                }
                _ => None,
            };
            return Ok(Prepared::Command(Command::Cursor(cursor, schema)));
        }
        SqlStatement::PreparedStatement(statement) => {
            return Ok(Prepared::Command(
                prepared_statements::prepare(db, *statement).await?,
            ));
        }
        SqlStatement::Standard(statement) => *statement,
    };
    Ok(match statement {
        Statement::CreateTable(create) => Prepared::Command(Command::CreateTable(Box::new(create))),
        Statement::Drop {
            object_type: ObjectType::Table,
            if_exists,
            names,
            cascade,
            ..
        } => Prepared::Command(Command::Drop {
            kind: RelationKind::Table,
            names,
            if_exists,
            cascade,
        }),
        Statement::CreateView(view) if view.materialized => {
            Prepared::Command(Command::CreateMaterializedView(Box::new(view)))
        }
        Statement::CreateView(_) => {
            return Err(SluiceError::not_supported(
                "CREATE VIEW is not supported; use CREATE MATERIALIZED VIEW",
            ));
        }
        Statement::Drop {
            object_type: ObjectType::MaterializedView,
            if_exists,
            names,
            cascade,
            ..
        } => Prepared::Command(Command::Drop {
            kind: RelationKind::MaterializedView,
            names,
            if_exists,
            cascade,
        }),
        Statement::Explain { statement, .. } if matches!(statement.as_ref(), Statement::CreateView(v) if v.materialized) =>
        {
            let Statement::CreateView(view) = *statement else {
                return Err(SluiceError::Internal("EXPLAIN lost its view".into()));
            };
            Prepared::Command(Command::ExplainView(Box::new(view)))
        }
        Statement::ShowViews { .. } => Prepared::Plan(plan_query(db, show::VIEWS).await?),
        Statement::ShowCreate { obj_name, .. } => Prepared::Command(Command::ShowCreate(obj_name)),
        Statement::Set(set) => Prepared::Command(prepare_set(set)?),
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if name.eq_ignore_ascii_case("tables") {
                Prepared::Plan(plan_query(db, show::TABLES).await?)
            } else {
                Prepared::Command(Command::Show {
                    name: settings::normalize(&name),
                })
            }
        }
        Statement::ShowTables { .. } => Prepared::Plan(plan_query(db, show::TABLES).await?),
        Statement::ShowColumns { show_options, .. } => {
            let table = show::show_in_table(&show_options)?;
            Prepared::Plan(plan_query(db, &show::columns_query(db, &table)?).await?)
        }
        Statement::ExplainTable { table_name, .. } => {
            Prepared::Plan(plan_query(db, &show::columns_query(db, &table_name)?).await?)
        }
        Statement::StartTransaction { .. } => Prepared::Command(Command::Acknowledge("BEGIN")),
        Statement::Commit { .. } => Prepared::Command(Command::Acknowledge("COMMIT")),
        Statement::Savepoint { name } => Prepared::Command(Command::Savepoint(
            SavepointOp::Set,
            names::normalize_ident(&name),
        )),
        Statement::ReleaseSavepoint { name } => Prepared::Command(Command::Savepoint(
            SavepointOp::Release,
            names::normalize_ident(&name),
        )),
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => Prepared::Command(Command::Savepoint(
            SavepointOp::RollBackTo,
            names::normalize_ident(&name),
        )),
        Statement::Rollback { .. } => Prepared::Command(Command::Acknowledge("ROLLBACK")),
        // Nothing to discard: Sluice caches no plans and has no temporary objects or
        // sequences (DISCARD ALL is a prepared statement's, it forgets them).
        Statement::Discard { object_type } => {
            Prepared::Command(Command::Acknowledge(match object_type {
                DiscardObject::ALL => "DISCARD ALL",
                DiscardObject::PLANS => "DISCARD PLANS",
                DiscardObject::SEQUENCES => "DISCARD SEQUENCES",
                DiscardObject::TEMP => "DISCARD TEMP",
            }))
        }
        statement @ Statement::Query(_) => {
            let plan = plan_statement(db, statement).await?;
            Prepared::Plan(column_origins::with_column_origins(db.catalog(), plan)?)
        }
        mut statement @ (Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)) => {
            let on_conflict = on_conflict::take(db, &mut statement).await?;
            let returning = match returning::take(&mut statement)? {
                Some(mut query) => {
                    if let Statement::Query(query) = &mut query {
                        parser::name_result_columns(query);
                    }
                    let rows = plan_statement(db, query).await?;
                    Some(column_origins::with_column_origins(db.catalog(), rows)?)
                }
                None => None,
            };
            let plan = dml::plan(db, statement).await?;
            if returning.is_none() && on_conflict.is_none() {
                Prepared::Plan(plan)
            } else {
                Prepared::Write(Box::new(dml::Write {
                    plan,
                    returning,
                    on_conflict,
                }))
            }
        }
        statement @ Statement::Explain { .. } => {
            Prepared::Plan(plan_statement(db, statement).await?)
        }
        other => {
            let text = other.to_string();
            let head: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(SluiceError::not_supported(format!(
                "statement {head} is not supported"
            )));
        }
    })
}

async fn plan_statement(db: &Database, mut statement: Statement) -> Result<LogicalPlan> {
    sql_functions::inline_statement(db, &mut statement)?;
    let state = db.context().state();
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(|e| windows::explain_error(e.into()))?;
    complexity::check_plan_depth(&plan)?;
    let plan = integer_literals::as_postgres(plan)?;
    let plan = set_operations::exact_set_operations(plan)?;
    let plan = functions::postgres::use_postgres_versions(plan)?;
    functions::check_functions(&plan)?;
    Ok(plan)
}

/// Plans SQL text that Sluice itself generated (SHOW rewrites).
async fn plan_query(db: &Database, sql: &str) -> Result<LogicalPlan> {
    plan_statement(db, db.parser().parse_one(sql)?).await
}

fn prepare_set(set: Set) -> Result<Command> {
    match set {
        Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = variable.to_string();
            let value = match values.as_slice() {
                [SqlExpr::Identifier(id)] if id.value.eq_ignore_ascii_case("default") => None,
                _ => Some(
                    values
                        .iter()
                        .map(setting_value)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            Ok(Command::Set { name, value })
        }
        Set::SetTimeZone { value, .. } => Ok(Command::Set {
            name: "timezone".into(),
            value: Some(setting_value(&value)),
        }),
        Set::SetNames { charset_name, .. } => Ok(Command::Set {
            name: "client_encoding".into(),
            value: Some(charset_name.value),
        }),
        Set::SetTransaction { .. } => Ok(Command::Acknowledge("SET")),
        other => Err(SluiceError::not_supported(format!(
            "{other} is not supported"
        ))),
    }
}

/// A SET value as the setting stores it: strings unquoted, identifiers as written.
fn setting_value(expr: &SqlExpr) -> String {
    match expr {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        SqlExpr::Identifier(id) => id.value.clone(),
        other => other.to_string(),
    }
}

/// The DataFusion plans of a prepared statement (a write with RETURNING has two).
fn plans(prepared: &Prepared) -> Vec<&LogicalPlan> {
    match prepared {
        Prepared::Plan(plan) => vec![plan],
        Prepared::Write(write) => {
            let mut plans = vec![&write.plan];
            plans.extend(&write.returning);
            if let Some(on_conflict::OnConflict::Update { plan: update, .. }) = &write.on_conflict {
                plans.push(update);
            }
            plans
        }
        Prepared::Command(_) => Vec::new(),
    }
}

/// Parameter types (`$1`, `$2`, ... in order) a prepared statement expects; `None`
/// where nothing in the statement fixes the type.
pub fn parameter_types(prepared: &Prepared) -> Result<Vec<Option<DataType>>> {
    let plans = plans(prepared);
    let mut types: HashMap<String, Option<DataType>> = HashMap::new();
    for plan in &plans {
        for (id, found) in plan.get_parameter_types()? {
            let slot = types.entry(id).or_default();
            if slot.is_none() {
                *slot = found;
            }
        }
    }
    for plan in &plans {
        for (id, cast) in cast_parameter_types(plan)? {
            if let Some(slot @ None) = types.get_mut(&id) {
                *slot = Some(cast);
            }
        }
    }
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(id, t)| {
            id.trim_start_matches('$')
                .parse::<usize>()
                .ok()
                .map(|n| (n, t))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let count = numbered.last().map_or(0, |(n, _)| *n);
    let mut out = vec![None; count];
    for (n, t) in numbered {
        out[n - 1] = t;
    }
    Ok(out)
}

/// The types of parameters cast where they stand (`$1::bigint`, `CAST($2 AS int)`):
/// PostgreSQL gives such a parameter the cast's type, and drivers send it as that
/// type (the first cast of a parameter counts, as in PostgreSQL).
fn cast_parameter_types(plan: &LogicalPlan) -> Result<HashMap<String, DataType>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::{Cast, Expr, TryCast};
    let mut found = HashMap::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) = e
                    && let Expr::Placeholder(placeholder) = expr.as_ref()
                {
                    found
                        .entry(placeholder.id.clone())
                        .or_insert_with(|| field.data_type().clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(found)
}

/// The columns a prepared statement returns, or `None` for a command without rows.
pub fn result_schema(prepared: &Prepared) -> Option<SchemaRef> {
    match prepared {
        Prepared::Plan(LogicalPlan::Dml(_)) => None,
        Prepared::Plan(plan) => Some(Arc::new(plan.schema().as_arrow().clone())),
        Prepared::Write(write) => write
            .returning
            .as_ref()
            .map(|rows| Arc::new(rows.schema().as_arrow().clone())),
        Prepared::Command(Command::Show { name }) => Some(show::setting_schema(name)),
        Prepared::Command(Command::ExplainView(_)) => Some(text_schema("QUERY PLAN")),
        Prepared::Command(Command::ShowCreate(_) | Command::ShowCreateSink(_)) => {
            Some(show::create_schema())
        }
        Prepared::Command(Command::Cursor(_, schema)) => schema.clone(),
        Prepared::Command(Command::Execute { statement, .. }) => result_schema(&statement.prepared),
        Prepared::Command(_) => None,
    }
}

/// Whether running `prepared` changes stored state (DML and DDL). A write can be
/// stopped only before its point of no return (see [`interrupt`]); anything else may
/// be abandoned at any await point.
pub fn is_write(prepared: &Prepared) -> bool {
    match prepared {
        Prepared::Plan(plan) => matches!(plan, LogicalPlan::Dml(_)),
        Prepared::Write(_) => true,
        Prepared::Command(Command::Execute { statement, .. }) => is_write(&statement.prepared),
        Prepared::Command(command) => matches!(
            command,
            Command::CreateTable(_)
                | Command::Drop { .. }
                | Command::CreateMaterializedView(_)
                | Command::CreateSource(_)
                | Command::CreateModel(_)
                | Command::DropModel { .. }
                | Command::CreateSink(_)
                | Command::DropSink { .. }
                | Command::AlterCheckpointInterval(_)
                | Command::Role(_)
                | Command::Function(_)
        ),
    }
}

/// Runs a prepared statement. `vars` are the session's settings; `interrupt` stops it
/// (a write only before its point of no return, see [`interrupt`]).
///
/// Writes (DML and DDL) run on their own task: a client that disconnects while its
/// statement runs cancels its wait, never a write half-way through.
pub async fn execute(
    db: &Arc<Database>,
    prepared: &Prepared,
    params: Option<ParamValues>,
    vars: &mut HashMap<String, String>,
    interrupt: &Interrupt,
) -> Result<Output> {
    interrupt.check()?;
    privileges::check(db, prepared, vars)?;
    let output = run(db, prepared, params, vars, interrupt).await?;
    if is_write(prepared) {
        savepoints::written(vars);
    }
    Ok(output)
}

async fn run(
    db: &Arc<Database>,
    prepared: &Prepared,
    params: Option<ParamValues>,
    vars: &mut HashMap<String, String>,
    interrupt: &Interrupt,
) -> Result<Output> {
    match prepared {
        Prepared::Plan(plan) => {
            let plan = match params {
                Some(params) => plan.clone().replace_params_with_values(&params)?,
                None => plan.clone(),
            };
            if let LogicalPlan::Dml(dml) = plan {
                let write = dml::execute(db.clone(), dml, interrupt.clone());
                return run_to_completion(write).await;
            }
            let frame = if functions::settings::reads_settings(&plan) {
                // The session's settings, for current_setting(), in this statement's
                // configuration only.
                let state = db.context().state();
                let mut config = state.config().clone();
                config
                    .options_mut()
                    .extensions
                    .insert(functions::settings::SessionSettings(vars.clone()));
                let mut state =
                    datafusion::execution::SessionStateBuilder::new_from_existing(state)
                        .with_config(config)
                        .build();
                // Functions read the configuration the execution was started with.
                state.mark_start_execution();
                datafusion::dataframe::DataFrame::new(state, plan)
            } else {
                db.context().execute_logical_plan(plan).await?
            };
            let stream = frame.execute_stream().await?;
            Ok(Output::Rows(
                crate::catalog::postgres::regtypes::name_output(db.context(), stream)?,
            ))
        }
        Prepared::Write(write) => {
            let write = match params {
                Some(params) => write.with_params(&params)?,
                None => write.as_ref().clone(),
            };
            let write = dml::execute_write(db.clone(), write, interrupt.clone());
            match run_to_completion(write).await? {
                Output::Rows(stream) => Ok(Output::Rows(
                    crate::catalog::postgres::regtypes::name_output(db.context(), stream)?,
                )),
                done => Ok(done),
            }
        }
        Prepared::Command(command) => execute_command(db, command, vars, interrupt).await,
    }
}

/// Runs a command; DDL, once started here, runs to completion.
async fn execute_command(
    db: &Arc<Database>,
    command: &Command,
    vars: &mut HashMap<String, String>,
    interrupt: &Interrupt,
) -> Result<Output> {
    let db = db.clone();
    match command.clone() {
        Command::CreateTable(create) => {
            run_to_completion(async move { ddl::create_table(&db, &create).await }).await
        }
        Command::Drop {
            kind,
            names,
            if_exists,
            cascade,
        } => {
            run_to_completion(async move {
                ddl::drop_relations(&db, &names, kind, if_exists, cascade).await
            })
            .await
        }
        Command::CreateMaterializedView(view) => {
            run_to_completion(async move { ddl::create_materialized_view(&db, &view).await }).await
        }
        Command::ExplainView(view) => {
            let options = ddl::view_options(&view)?;
            let plan = view_plan::plan_view(&db, &view.query, &options).await?;
            let (_, closer) = ddl::window_closing(&db, &plan, options.emit_on_close)?;
            let mut lines = Vec::new();
            let depth = match closer {
                Some(closer) => {
                    lines.push(closer.describe());
                    1
                }
                None => 0,
            };
            plan.graph.explain(depth, &mut lines);
            show::text_rows("QUERY PLAN", lines)
        }
        Command::CreateSource(source) => {
            run_to_completion(async move { ddl::create_source(&db, &source).await }).await
        }
        Command::ShowCreate(name) => show::show_create(&db, &name),
        Command::ShowCreateSink(name) => show::show_create_sink(&db, &name),
        Command::CreateSink(sink) => sinks::create_sink(&db, &sink).await,
        Command::DropSink { names, if_exists } => sinks::drop_sinks(&db, &names, if_exists).await,
        Command::CreateModel(create) => {
            run_to_completion(async move { models::create_model(&db, &create).await }).await
        }
        Command::DropModel { names, if_exists } => {
            run_to_completion(async move { models::drop_models(&db, &names, if_exists).await })
                .await
        }
        Command::Cursor(cursor, _) => cursors::execute_cursor(&db, &cursor, interrupt).await,
        Command::Flush => {
            db.flush().await;
            Ok(Output::Done {
                tag: "FLUSH",
                rows: None,
            })
        }
        Command::Set { name, value } => {
            settings::set(vars, &name, value)?;
            Ok(Output::Done {
                tag: "SET",
                rows: None,
            })
        }
        Command::Show { name } if name == settings::CHECKPOINT_INTERVAL => {
            let millis = db.checkpoints().interval().as_millis();
            let value = settings::show_milliseconds(i64::try_from(millis).unwrap_or(i64::MAX));
            show::text_rows(&settings::column_name(&name), vec![value])
        }
        Command::Show { name } if name == "is_superuser" => {
            let value = if privileges::is_superuser(&db, vars) {
                "on"
            } else {
                "off"
            };
            show::text_rows(&name, vec![value.to_string()])
        }
        Command::Show { name } => {
            let value = settings::show(vars, &name)?;
            show::text_rows(&settings::column_name(&name), vec![value])
        }
        Command::AlterCheckpointInterval(interval) => {
            run_to_completion(async move {
                db.alter_checkpoint_interval(interval).await?;
                Ok(Output::Done {
                    tag: "ALTER SYSTEM",
                    rows: None,
                })
            })
            .await
        }
        Command::Acknowledge(tag) => {
            if matches!(tag, "BEGIN" | "COMMIT" | "ROLLBACK") {
                savepoints::forget(vars);
            }
            Ok(Output::Done { tag, rows: None })
        }
        Command::Savepoint(op, name) => {
            let tag = match op {
                SavepointOp::Set => {
                    savepoints::set(vars, &name);
                    "SAVEPOINT"
                }
                SavepointOp::Release => {
                    savepoints::release(vars, &name)?;
                    "RELEASE"
                }
                SavepointOp::RollBackTo => {
                    savepoints::roll_back_to(vars, &name)?;
                    savepoints::ROLLBACK_TO
                }
            };
            Ok(Output::Done { tag, rows: None })
        }
        Command::Function(statement) => {
            run_to_completion(async move { sql_functions::execute(&db, &statement).await }).await
        }
        Command::Prepare {
            pid,
            name,
            statement,
        } => {
            db.backends()
                .add_prepared_statement(pid, &name, statement)?;
            Ok(Output::Done {
                tag: "PREPARE",
                rows: None,
            })
        }
        Command::Execute { statement, values } => {
            let params = match values {
                Some(values) => {
                    Some(prepared_statements::evaluate(&db, &statement, *values).await?)
                }
                None => None,
            };
            Box::pin(execute(&db, &statement.prepared, params, vars, interrupt)).await
        }
        Command::Deallocate { pid, name, tag } => {
            db.backends().deallocate(pid, name.as_deref())?;
            Ok(Output::Done { tag, rows: None })
        }
        Command::Role(statement) => {
            let current = privileges::session_role(vars).map(str::to_string);
            run_to_completion(
                async move { roles::execute(&db, &statement, current.as_deref()).await },
            )
            .await
        }
    }
}

/// Runs `work` on its own task and waits for it; dropping the wait does not stop it.
async fn run_to_completion(
    work: impl std::future::Future<Output = Result<Output>> + Send + 'static,
) -> Result<Output> {
    tokio::spawn(work)
        .await
        .map_err(|e| SluiceError::Internal(format!("statement task failed: {e}")))?
}

/// A one-column text schema, for results Sluice builds itself.
pub fn text_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]))
}
