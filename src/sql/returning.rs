//! `INSERT/UPDATE/DELETE … RETURNING`: the rows a write stored or removed, run
//! through the statement's RETURNING list, as PostgreSQL returns them (ORMs read
//! generated keys and defaults this way).
//!
//! ```text
//!  prepare: strip RETURNING ──▶ the write, planned as before
//!           RETURNING list ──▶ SELECT list FROM target [AS alias], planned as a query
//!  execute: the write's rows, checked against the table's constraints
//!           ──▶ the query with its scan of the target reading those rows
//!           ──▶ commit ──▶ the rows, tagged INSERT 0 n / UPDATE n / DELETE n
//! ```
//!
//! The returned rows are those the write changes: the inserted rows with their
//! defaults (not the rows an append-only table's watermark leaves out), the new
//! version of each updated row, the deleted rows. They are computed before the
//! commit, so an error in the list leaves the table unchanged, as in PostgreSQL.
//! Subqueries in the list read the table as it was before the statement.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::provider_as_source;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{
    Expr, FromTable, Ident, ObjectName, SelectItem, SetExpr, Statement, TableFactor, TableObject,
    TableWithJoins,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Result, SluiceError};

/// Takes the RETURNING list off `statement`, with the query that computes it over
/// the target (`SELECT list FROM target [AS alias]`); `None` without one.
pub fn take(statement: &mut Statement) -> Result<Option<Statement>> {
    let (items, name, alias) = match statement {
        Statement::Insert(insert) => {
            let Some(items) = insert.returning.take() else {
                return Ok(None);
            };
            let TableObject::TableName(name) = &insert.table else {
                return Err(refused("INSERT into a table function"));
            };
            let alias = insert.table_alias.as_ref().map(|a| a.alias.clone());
            (items, name.clone(), alias)
        }
        Statement::Update(update) => {
            let Some(items) = update.returning.take() else {
                return Ok(None);
            };
            if update.from.is_some() || !update.table.joins.is_empty() {
                return Err(refused("UPDATE … FROM"));
            }
            let (name, alias) = named(&update.table.relation)?;
            (items, name, alias)
        }
        Statement::Delete(delete) => {
            let Some(items) = delete.returning.take() else {
                return Ok(None);
            };
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            let [TableWithJoins { relation, joins }] = from.as_slice() else {
                return Err(refused("DELETE from several tables"));
            };
            if delete.using.is_some() || !joins.is_empty() {
                return Err(refused("DELETE … USING"));
            }
            let (name, alias) = named(relation)?;
            (items, name, alias)
        }
        _ => return Ok(None),
    };
    Ok(Some(select(items, name, alias, None)?))
}

/// The name and alias of a write's target.
pub(super) fn named(relation: &TableFactor) -> Result<(ObjectName, Option<Ident>)> {
    match relation {
        TableFactor::Table { name, alias, .. } => {
            Ok((name.clone(), alias.as_ref().map(|a| a.name.clone())))
        }
        _ => Err(refused("a target that is not a table")),
    }
}

/// `plan` with each of its scans (outside subqueries, which read the tables as they
/// were before the write) reading `rows` instead of its table: RETURNING's query
/// over the rows written.
pub(super) fn reading(
    plan: LogicalPlan,
    rows: &RecordBatch,
) -> datafusion::common::Result<LogicalPlan> {
    let replaced = plan.transform_up(|node| match node {
        LogicalPlan::TableScan(scan) => Ok(Transformed::yes(memory_scan(scan, rows)?)),
        other => Ok(Transformed::no(other)),
    })?;
    Ok(replaced.data)
}

/// `scan` reading `rows` (in its table's columns) instead of its table.
pub(super) fn memory_scan(
    scan: TableScan,
    rows: &RecordBatch,
) -> datafusion::common::Result<LogicalPlan> {
    let schema = scan.source.schema();
    let batch = RecordBatch::try_new(schema.clone(), rows.columns().to_vec())?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    let source = provider_as_source(Arc::new(table));
    Ok(LogicalPlan::TableScan(TableScan { source, ..scan }))
}

/// `batches` as a stream of `schema`.
pub fn stream(
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
) -> SendableRecordBatchStream {
    let stream = futures::stream::iter(batches.into_iter().map(Ok));
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

/// `SELECT items FROM name [AS alias] [WHERE selection]`.
pub(super) fn select(
    items: Vec<SelectItem>,
    name: ObjectName,
    alias: Option<Ident>,
    selection: Option<Expr>,
) -> Result<Statement> {
    let sql = "SELECT 1 FROM target AS alias";
    let internal = || SluiceError::Internal(format!("RETURNING's query {sql} did not parse"));
    let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|_| internal())?
        .pop()
        .ok_or_else(internal)?;
    let Statement::Query(query) = &mut statement else {
        return Err(internal());
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(internal());
    };
    let [TableWithJoins { relation, .. }] = select.from.as_mut_slice() else {
        return Err(internal());
    };
    let TableFactor::Table {
        name: target,
        alias: target_alias,
        ..
    } = relation
    else {
        return Err(internal());
    };
    *target = name;
    match alias {
        Some(alias) => {
            if let Some(target_alias) = target_alias {
                target_alias.name = alias;
            }
        }
        None => *target_alias = None,
    }
    select.projection = items;
    select.selection = selection;
    Ok(statement)
}

fn refused(what: &str) -> SluiceError {
    SluiceError::not_supported(format!(
        "RETURNING is not supported with {what}: Sluice returns the rows of one table's write"
    ))
}
