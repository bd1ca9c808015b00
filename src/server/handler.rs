//! The query handlers: simple protocol (`Query`) and extended protocol
//! (`Parse`/`Bind`/`Describe`/`Execute`), both running statements through `sql` on
//! the statement pool, each under its session's cancel key and `statement_timeout`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::df::deserialize_parameters;
use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::sqlparser::ast::Statement;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use pgwire::types::format::FormatOptions;

use super::encoding::{error_info, fields, parameter_type, response, wire_error};
use super::row_limit;
use super::statement_pool::StatementPool;
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};
use crate::sql::backends::{RunningStatement, bind_session};
use crate::sql::parser::SqlStatement;
use crate::sql::{self, Command, Output, Prepared, settings};

/// Serves statements for every connection of one database.
#[derive(Debug)]
pub struct SluiceHandler {
    runner: Arc<Runner>,
    parser: Arc<StatementParser>,
}

impl SluiceHandler {
    /// A handler over `db`, running statements on `pool`.
    pub fn new(db: Arc<Database>, pool: Arc<StatementPool>) -> Self {
        let runner = Arc::new(Runner { db, pool });
        SluiceHandler {
            parser: Arc::new(StatementParser {
                runner: runner.clone(),
            }),
            runner,
        }
    }
}

impl SluiceHandler {
    /// Parses `text` (a lone `SUBSCRIBE`) and starts the subscription for session
    /// `pid` with metadata `vars`, on the pool; `running` is the statement (its
    /// interrupt ends the stream).
    pub async fn start_subscription(
        &self,
        text: &str,
        pid: i32,
        vars: &HashMap<String, String>,
        running: &RunningStatement,
    ) -> Result<(sql::subscribe::Subscribe, sql::subscribe::Subscription)> {
        let db = self.runner.db.clone();
        let text = text.to_owned();
        let vars = vars.clone();
        self.runner
            .pool
            .run(running, async move {
                let mut statements = db.parser().parse(&text)?;
                let subscribe = match (statements.pop(), statements.is_empty()) {
                    (Some(SqlStatement::Subscribe(subscribe)), true) => subscribe,
                    _ => {
                        return Err(SluiceError::not_supported(
                            "SUBSCRIBE must be the only statement of its query",
                        ));
                    }
                };
                sql::privileges::check_subscription(&db, &subscribe, &vars)?;
                let reader = format!("subscribe_{pid}");
                let subscription = sql::subscribe::start(&db, &subscribe, &reader).await?;
                Ok((*subscribe, subscription))
            })
            .await
    }

    /// Starts a statement of session `pid` with its settings `vars` (see
    /// [`Runner::start`]).
    pub fn start_statement(&self, pid: i32, vars: &HashMap<String, String>) -> RunningStatement {
        let timeout = settings::statement_timeout(vars);
        self.runner.db.backends().start_statement(pid, timeout)
    }
}

/// Runs every session's statements on the statement pool.
#[derive(Debug)]
struct Runner {
    db: Arc<Database>,
    pool: Arc<StatementPool>,
}

impl Runner {
    /// Starts a statement of `client`'s session: cancellable, and timed by the
    /// session's `statement_timeout`.
    fn start<C: ClientInfo>(&self, client: &C) -> RunningStatement {
        let (pid, _) = client.pid_and_secret_key();
        let timeout = settings::statement_timeout(client.metadata());
        self.db.backends().start_statement(pid, timeout)
    }

    /// Splits `text` into statements, on the pool.
    async fn parse(&self, text: &str, running: &RunningStatement) -> Result<Vec<SqlStatement>> {
        let db = self.db.clone();
        let text = text.to_owned();
        self.pool
            .run(running, async move { db.parser().parse(&text) })
            .await
    }

    /// Plans `statement` for session `pid`, on the pool.
    async fn prepare(
        &self,
        mut statement: SqlStatement,
        pid: i32,
        running: &RunningStatement,
    ) -> Result<ParsedStatement> {
        bind_session(&mut statement, pid, &self.db.backends().user(pid));
        let db = self.db.clone();
        self.pool
            .run(running, async move {
                ParsedStatement::new(sql::prepare(&db, statement).await?)
            })
            .await
    }

    /// Plans and runs a query (a [`is_query`] statement) in one trip to the pool, so
    /// a short query waits for the pool's threads once, not twice.
    async fn query(
        &self,
        mut statement: SqlStatement,
        pid: i32,
        mut vars: HashMap<String, String>,
        running: RunningStatement,
    ) -> Result<(ParsedStatement, Output, HashMap<String, String>)> {
        bind_session(&mut statement, pid, &self.db.backends().user(pid));
        let db = self.db.clone();
        let interrupt = running.interrupt().clone();
        let work = async move {
            let parsed = ParsedStatement::new(sql::prepare(&db, statement).await?)?;
            if sql::is_write(&parsed.prepared) {
                return Err(SluiceError::Internal("a query planned as a write".into()));
            }
            let output = sql::execute(&db, &parsed.prepared, None, &mut vars, &interrupt).await?;
            Ok((parsed, output, vars))
        };
        let (parsed, output, vars) = self.pool.run(&running, work).await?;
        let output = match output {
            Output::Rows(rows) => Output::Rows(self.pool.stream_rows(rows, running)?),
            done => done,
        };
        Ok((parsed, output, vars))
    }

    /// Executes `prepared` on the pool with the session's settings `vars`; returns
    /// its output and the settings as it left them. Rows are produced on the pool
    /// while the client reads them, and `running` ends with the last one.
    async fn execute(
        &self,
        prepared: Prepared,
        params: Option<ParamValues>,
        mut vars: HashMap<String, String>,
        running: RunningStatement,
    ) -> Result<(Output, HashMap<String, String>)> {
        let db = self.db.clone();
        let interrupt = running.interrupt().clone();
        let write = sql::is_write(&prepared);
        let work = async move {
            let output = sql::execute(&db, &prepared, params, &mut vars, &interrupt).await?;
            Ok((output, vars))
        };
        let (output, vars) = if write {
            self.pool.run_to_completion(&running, work).await?
        } else {
            self.pool.run(&running, work).await?
        };
        let output = match output {
            Output::Rows(rows) => Output::Rows(self.pool.stream_rows(rows, running)?),
            done => done,
        };
        Ok((output, vars))
    }
}

/// Whether `statement` is a query (`SELECT`, `WITH`, `VALUES`): it reads only, so
/// its planning and execution may be abandoned together.
fn is_query(statement: &SqlStatement) -> bool {
    matches!(statement, SqlStatement::Standard(s) if matches!(s.as_ref(), Statement::Query(_)))
}

/// A statement prepared by the extended protocol's `Parse`.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    prepared: Prepared,
    parameter_types: Vec<Option<DataType>>,
}

impl ParsedStatement {
    fn new(prepared: Prepared) -> Result<Self> {
        let parameter_types = sql::parameter_types(&prepared)?;
        Ok(ParsedStatement {
            prepared,
            parameter_types,
        })
    }

    /// `SHOW x` answers with tag `SHOW`, `FETCH` with `FETCH` and a write with
    /// RETURNING with the write's (`INSERT 0 n`), like Postgres; other row results
    /// with `SELECT`.
    fn tag_override(&self) -> Option<&'static str> {
        match &self.prepared {
            Prepared::Command(Command::Show { .. }) => Some("SHOW"),
            Prepared::Command(Command::Cursor(_, Some(_))) => Some("FETCH"),
            Prepared::Write(write) => Some(write.tag()),
            _ => None,
        }
    }
}

/// Parses and plans statements for the extended protocol.
#[derive(Debug)]
pub struct StatementParser {
    runner: Arc<Runner>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = ParsedStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<ParsedStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let running = self.runner.start(client);
        let mut statements = self.runner.parse(sql, &running).await.map_err(wire_error)?;
        if statements.len() > 1 {
            return Err(wire_error(SluiceError::coded(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        let (pid, _) = client.pid_and_secret_key();
        let parsed = self.runner.prepare(statement, pid, &running).await;
        Ok(Some(parsed.map_err(wire_error)?))
    }

    fn get_parameter_types(&self, stmt: &ParsedStatement) -> PgWireResult<Vec<Type>> {
        stmt.parameter_types
            .iter()
            .map(|t| parameter_type(t.as_ref()))
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &ParsedStatement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match sql::result_schema(&stmt.prepared) {
            Some(schema) => fields(
                &schema,
                column_format.unwrap_or(&Format::UnifiedText),
                Arc::new(FormatOptions::default()),
            ),
            None => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for SluiceHandler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parsing = self.runner.start(client);
        let statements = match self.runner.parse(query, &parsing).await {
            Ok(statements) => statements,
            Err(e) => return Ok(vec![Response::Error(Box::new(error_info(&e)))]),
        };
        drop(parsing);
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let (pid, _) = client.pid_and_secret_key();
        let mut responses = Vec::with_capacity(statements.len());
        for statement in statements {
            let running = self.runner.start(client);
            let vars = client.metadata().clone();
            let result = async {
                if is_query(&statement) {
                    return self.runner.query(statement, pid, vars, running).await;
                }
                let parsed = self.runner.prepare(statement, pid, &running).await?;
                let prepared = parsed.prepared.clone();
                let (output, vars) = self.runner.execute(prepared, None, vars, running).await?;
                Ok::<_, SluiceError>((parsed, output, vars))
            }
            .await;
            match result {
                Ok((parsed, output, vars)) => {
                    *client.metadata_mut() = vars;
                    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                    responses.push(response(
                        output,
                        &Format::UnifiedText,
                        options,
                        parsed.tag_override(),
                    )?);
                }
                Err(e) => {
                    // Like Postgres: the first failing statement ends the query string.
                    responses.push(Response::Error(Box::new(error_info(&e))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for SluiceHandler {
    type Statement = ParsedStatement;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    /// Executes a portal; a row limit above [`row_limit::CHUNK_ROWS`] is served in
    /// chunks (see `row_limit`), smaller ones by pgwire.
    async fn on_execute<C>(&self, client: &mut C, mut message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = ParsedStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        message.max_rows = row_limit::effective_limit(message.max_rows);
        let limit = message.max_rows as usize;
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) if limit > row_limit::CHUNK_ROWS => portal,
            _ => return self._on_execute(client, message).await,
        };
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let started = !matches!(*portal.state().lock().await, PortalExecutionState::Initial);
        if !started {
            if sql::result_schema(&portal.statement.statement.prepared).is_none() {
                // No rows to limit.
                message.max_rows = 0;
                return self._on_execute(client, message).await;
            }
            match ExtendedQueryHandler::do_query(self, client, &portal, limit).await? {
                Response::Query(rows) => portal.start(rows).await,
                Response::Error(error) => {
                    client
                        .send(PgWireBackendMessage::ErrorResponse((*error).into()))
                        .await?;
                    let status = client.transaction_status().to_error_state();
                    client.set_transaction_status(status);
                    return Ok(());
                }
                _ => {
                    return Err(wire_error(SluiceError::Internal(
                        "a statement with a result schema answered without rows".into(),
                    )));
                }
            }
        }
        row_limit::send_rows(client, &portal, limit).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<ParsedStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = ParsedStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmt = &portal.statement.statement;
        let params = bind_parameters(portal, &stmt.parameter_types)?;
        let running = self.runner.start(client);
        let vars = client.metadata().clone();
        let (output, vars) = self
            .runner
            .execute(stmt.prepared.clone(), params, vars, running)
            .await
            .map_err(wire_error)?;
        *client.metadata_mut() = vars;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        response(
            output,
            &portal.result_column_format,
            options,
            stmt.tag_override(),
        )
    }
}

/// Decodes a portal's parameters and converts each to the type the plan expects.
fn bind_parameters(
    portal: &Portal<ParsedStatement>,
    expected: &[Option<DataType>],
) -> PgWireResult<Option<ParamValues>> {
    if portal.parameter_len() == 0 && expected.is_empty() {
        return Ok(None);
    }
    if portal.parameter_len() != expected.len() {
        return Err(wire_error(SluiceError::coded(
            sqlstate::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameter_len(),
                expected.len()
            ),
        )));
    }
    // Text read by Sluice's own input functions (dates, timestamps, intervals, bytea:
    // pgwire's text parsers refuse `2024-06-01 12:02` and read zones otherwise) and
    // NULLs of no declared type (arrow-pg leaves those out of its list, shifting the
    // parameters after them); the others deserialized by arrow-pg.
    let read_here: Vec<Option<ScalarValue>> = (0..portal.parameter_len())
        .map(|index| read_parameter_here(portal, index, expected[index].as_ref()))
        .collect::<PgWireResult<_>>()?;
    let others: Vec<usize> = (0..read_here.len())
        .filter(|&index| read_here[index].is_none())
        .collect();
    let mut values = read_here;
    if !others.is_empty() {
        let portal_of_others = only_parameters(portal, &others);
        let types: Vec<Option<&DataType>> = others
            .iter()
            .map(|&index| expected[index].as_ref())
            .collect();
        let ParamValues::List(deserialized) = deserialize_parameters(&portal_of_others, &types)?
        else {
            return Err(wire_error(SluiceError::coded(
                sqlstate::PROTOCOL_VIOLATION,
                "parameters are positional",
            )));
        };
        if deserialized.len() != others.len() {
            return Err(wire_error(SluiceError::coded(
                sqlstate::PROTOCOL_VIOLATION,
                "a parameter could not be read",
            )));
        }
        for (index, value) in others.into_iter().zip(deserialized) {
            let value = match &expected[index] {
                Some(t) if value.value.data_type() != *t => value
                    .value
                    .cast_to(t)
                    .map_err(|e| wire_error(SluiceError::from(e)))?,
                _ => value.value,
            };
            values[index] = Some(value);
        }
    }
    Ok(Some(ParamValues::List(
        values.into_iter().flatten().map(Into::into).collect(),
    )))
}

/// `portal` with only the parameters at `indexes` (their values, formats and
/// declared types), in that order.
fn only_parameters(portal: &Portal<ParsedStatement>, indexes: &[usize]) -> Portal<ParsedStatement> {
    let statement = &portal.statement;
    let types = indexes
        .iter()
        .map(|&index| statement.parameter_types.get(index).cloned().flatten())
        .collect();
    let statement = StoredStatement::new(statement.id.clone(), statement.statement.clone(), types);
    let mut only = Portal::new_cursor(portal.name.clone(), Arc::new(statement));
    only.parameter_format = Format::Individual(
        indexes
            .iter()
            .map(|&index| i16::from(portal.parameter_format.is_binary(index)))
            .collect(),
    );
    only.parameters = indexes
        .iter()
        .map(|&index| portal.parameters[index].clone())
        .collect();
    only
}

/// A `numeric` parameter (`bytes` in binary or text form) as a value of `decimal`,
/// exactly at any width (arrow-pg's reader stops at 28 digits), read as PostgreSQL's
/// `numeric_in` reads it (`1E+5`; rounded half away from zero to the type's scale).
fn read_numeric_parameter(
    bytes: &[u8],
    binary: bool,
    decimal: &DataType,
) -> PgWireResult<ScalarValue> {
    let text = if binary {
        crate::server::numeric_binary::to_text(bytes).map_err(|reason| {
            wire_error(SluiceError::coded(
                sqlstate::INVALID_BINARY_REPRESENTATION,
                reason,
            ))
        })?
    } else {
        std::str::from_utf8(bytes)
            .map_err(|_| {
                wire_error(SluiceError::coded(
                    sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\" in a parameter",
                ))
            })?
            .to_string()
    };
    let texts: ArrayRef = Arc::new(StringArray::from(vec![text]));
    sql::functions::numeric_input::numeric_values(&texts, decimal)
        .and_then(|values| ScalarValue::try_from_array(&values, 0))
        .map_err(|e| wire_error(SluiceError::from(e)))
}

/// Parameter `index`, when Sluice reads it rather than arrow-pg: text of a type Sluice
/// reads itself ([`sql::functions::text_input::read_text_as`]: sent in text format
/// and declared by the client as that type, or declared as text or unknown where the
/// statement expects that type), or a NULL of no declared type. `None` for the others.
fn read_parameter_here(
    portal: &Portal<ParsedStatement>,
    index: usize,
    expected: Option<&DataType>,
) -> PgWireResult<Option<ScalarValue>> {
    let declared = portal
        .statement
        .parameter_types
        .get(index)
        .cloned()
        .flatten();
    let Some(Some(bytes)) = portal.parameters.get(index) else {
        if !matches!(declared, None | Some(Type::UNKNOWN)) {
            return Ok(None);
        }
        return match expected {
            Some(t) => ScalarValue::try_from(t)
                .map(Some)
                .map_err(|e| wire_error(SluiceError::from(e))),
            None => Ok(Some(ScalarValue::Null)),
        };
    };
    // A value for a numeric, declared so or as the statement's description said (a
    // binary one is numeric's form then; unknown's is its text).
    if let (
        None | Some(Type::NUMERIC | Type::UNKNOWN),
        Some(decimal @ (DataType::Decimal128(..) | DataType::Decimal256(..))),
    ) = (&declared, expected)
    {
        let binary = portal.parameter_format.is_binary(index) && declared != Some(Type::UNKNOWN);
        return read_numeric_parameter(bytes, binary, decimal).map(Some);
    }
    // In binary, text's and unknown's representation is their text.
    let text_declared = matches!(declared, Some(Type::TEXT | Type::VARCHAR | Type::UNKNOWN));
    if portal.parameter_format.is_binary(index) && !text_declared {
        return Ok(None);
    }
    let target = match declared {
        Some(Type::DATE) => DataType::Date32,
        Some(Type::TIMESTAMP) => DataType::Timestamp(TimeUnit::Microsecond, None),
        Some(Type::TIMESTAMPTZ) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(sql::types::UTC.into()))
        }
        Some(Type::INTERVAL) => DataType::Interval(IntervalUnit::MonthDayNano),
        Some(Type::BYTEA) => DataType::Binary,
        None | Some(Type::UNKNOWN | Type::TEXT | Type::VARCHAR) => match expected {
            Some(expected) => expected.clone(),
            None => return Ok(None),
        },
        Some(_) => return Ok(None),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| {
        wire_error(SluiceError::coded(
            sqlstate::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\" in a parameter",
        ))
    })?;
    let texts: ArrayRef = Arc::new(StringArray::from(vec![text]));
    let Some(read) = sql::functions::text_input::read_text_as(&texts, &target) else {
        return Ok(None);
    };
    let values = read.map_err(|e| wire_error(SluiceError::from(e)))?;
    let value =
        ScalarValue::try_from_array(&values, 0).map_err(|e| wire_error(SluiceError::from(e)))?;
    match expected {
        Some(expected) if expected != &value.data_type() => value
            .cast_to(expected)
            .map(Some)
            .map_err(|e| wire_error(SluiceError::from(e))),
        _ => Ok(Some(value)),
    }
}
