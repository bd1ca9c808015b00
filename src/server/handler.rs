//! The query handlers: simple protocol (`Query`) and extended protocol
//! (`Parse`/`Bind`/`Describe`/`Execute`), both running statements through `sql`.

use std::fmt::Debug;
use std::sync::Arc;

use arrow_pg::datatypes::df::deserialize_parameters;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use pgwire::types::format::FormatOptions;

use super::encoding::{error_info, fields, parameter_type, response, wire_error};
use super::row_limit;
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};
use crate::sql::{self, Command, Prepared};

/// Serves statements for every connection of one database.
#[derive(Debug)]
pub struct SluiceHandler {
    db: Arc<Database>,
    parser: Arc<StatementParser>,
}

impl SluiceHandler {
    /// A handler over `db`.
    pub fn new(db: Arc<Database>) -> Self {
        SluiceHandler {
            parser: Arc::new(StatementParser { db: db.clone() }),
            db,
        }
    }
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

    /// `SHOW x` answers with tag `SHOW`, like Postgres; other row results with `SELECT`.
    fn tag_override(&self) -> Option<&'static str> {
        matches!(self.prepared, Prepared::Command(Command::Show { .. })).then_some("SHOW")
    }
}

/// Parses and plans statements for the extended protocol.
#[derive(Debug)]
pub struct StatementParser {
    db: Arc<Database>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = ParsedStatement;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<ParsedStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.db.parser().parse(sql).map_err(wire_error)?;
        if statements.len() > 1 {
            return Err(wire_error(SluiceError::coded(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        let prepared = sql::prepare(&self.db, statement)
            .await
            .map_err(wire_error)?;
        Ok(Some(ParsedStatement::new(prepared).map_err(wire_error)?))
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
        let statements = match self.db.parser().parse(query) {
            Ok(statements) => statements,
            Err(e) => return Ok(vec![Response::Error(Box::new(error_info(&e)))]),
        };
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(statements.len());
        for statement in statements {
            let result = async {
                let parsed = ParsedStatement::new(sql::prepare(&self.db, statement).await?)?;
                let output =
                    sql::execute(&self.db, &parsed.prepared, None, client.metadata_mut()).await?;
                Ok::<_, SluiceError>((parsed, output))
            }
            .await;
            match result {
                Ok((parsed, output)) => {
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
        let output = sql::execute(&self.db, &stmt.prepared, params, client.metadata_mut())
            .await
            .map_err(wire_error)?;
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
    let refs: Vec<Option<&DataType>> = expected.iter().map(Option::as_ref).collect();
    let values = deserialize_parameters(portal, &refs)?;
    let ParamValues::List(values) = values else {
        return Ok(Some(values));
    };
    let converted = values
        .into_iter()
        .zip(expected)
        .map(|(value, expected)| match expected {
            Some(t) if value.value.data_type() != *t => value
                .value
                .cast_to(t)
                .map(|v| v.into())
                .map_err(|e| wire_error(SluiceError::from(e))),
            _ => Ok(value),
        })
        .collect::<PgWireResult<Vec<_>>>()?;
    Ok(Some(ParamValues::List(converted)))
}
