//! `INSERT … ON CONFLICT`, as PostgreSQL: a proposed row whose primary key a stored
//! row holds is skipped (`DO NOTHING`) or updates that row (`DO UPDATE SET …
//! [WHERE …]`, `excluded.col` naming the proposed row's value).
//!
//! ```text
//!  prepare: the conflict target must be the primary key (its columns, or the
//!           constraint <table>_pkey; `DO NOTHING` may name none)
//!           DO UPDATE ──▶ SELECT <each column's new value>, alias.*
//!                         FROM t AS alias JOIN t AS excluded ON <keys equal> [WHERE …]
//!  execute: the proposed rows' keys against the table's key index
//!           free ──▶ inserted; held by a stored row ──▶ skipped, or the query above
//!           over (those stored rows, the proposed ones) ──▶ old row out, new row in
//! ```
//!
//! As in PostgreSQL, a later proposed row whose key an earlier one of the same
//! statement takes is skipped by `DO NOTHING` and fails `DO UPDATE` (`21000`: a row
//! cannot be affected twice); a bare column name in `SET` and `WHERE` is ambiguous
//! (`42702`). Finding the stored rows to update reads the table's rows once
//! per statement that has conflicts.

use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SubqueryAlias, cast};
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, BinaryOperator, ConflictTarget, DoUpdate, Expr as SqlExpr, Ident, Join,
    JoinConstraint, JoinOperator, ObjectName, OnConflictAction, OnInsert, SelectItem, SetExpr,
    Statement, TableFactor, TableObject,
};

use super::names::{normalize_ident, relation_name};
use super::returning;
use crate::database::Database;
use crate::dataflow::ChangeBatch;
use crate::error::{Result, SluiceError, sqlstate};
use crate::storage::table_store::{KeyHolder, TableWrite};

/// The name the proposed row goes by in `DO UPDATE`.
const EXCLUDED: &str = "excluded";

/// An INSERT's ON CONFLICT clause, planned.
#[derive(Debug, Clone)]
pub enum OnConflict {
    /// `DO NOTHING`.
    Nothing,
    /// `DO UPDATE`.
    Update {
        /// The query giving each updated row's new version (the table's columns,
        /// cast to their types) and then its old one, over the stored rows (its scan
        /// outside [`EXCLUDED`]) and the proposed ones (the scan in it).
        plan: LogicalPlan,
        /// Whether it has a `WHERE` condition.
        conditional: bool,
    },
}

/// Takes ON CONFLICT off an INSERT and plans it; `None` without one.
pub async fn take(db: &Database, statement: &mut Statement) -> Result<Option<OnConflict>> {
    let Statement::Insert(insert) = statement else {
        return Ok(None);
    };
    let clause = match insert.on.take() {
        None => return Ok(None),
        Some(OnInsert::OnConflict(clause)) => clause,
        Some(other) => {
            return Err(SluiceError::not_supported(format!(
                "INSERT … {other} is not supported"
            )));
        }
    };
    let TableObject::TableName(name) = &insert.table else {
        return Err(SluiceError::not_supported(
            "INSERT into a table function is not supported",
        ));
    };
    let name = name.clone();
    let alias = insert.table_alias.as_ref().map(|a| a.alias.clone());
    let table = db.catalog().table(&relation_name(&name)?)?;
    let layout = table.store().layout();
    let key: Vec<String> = layout
        .primary_key
        .iter()
        .map(|&i| layout.schema.field(i).name().clone())
        .collect();
    check_target(&layout.name, &key, clause.conflict_target.as_ref())?;
    match clause.action {
        OnConflictAction::DoNothing => Ok(Some(OnConflict::Nothing)),
        OnConflictAction::DoUpdate(update) => {
            if clause.conflict_target.is_none() {
                return Err(SluiceError::coded(
                    sqlstate::SYNTAX_ERROR,
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                ));
            }
            let columns: Vec<String> = layout
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let conditional = update.selection.is_some();
            let query = update_query(&name, alias, &layout.name, &columns, &key, update)?;
            let plan = super::plan_statement(db, query).await?;
            // Each new value as its column's type (DataFusion's cast fails where the
            // value does not fit, as PostgreSQL's assignment does).
            let exprs: Vec<Expr> = (0..plan.schema().fields().len())
                .map(|i| {
                    let (qualifier, field) = plan.schema().qualified_field(i);
                    let value = Expr::Column(Column::from((qualifier, field)));
                    match layout.schema.fields().get(i) {
                        Some(column) if i < columns.len() => {
                            cast(value, column.data_type().clone()).alias(field.name())
                        }
                        _ => value,
                    }
                })
                .collect();
            let plan = LogicalPlanBuilder::from(plan).project(exprs)?.build()?;
            Ok(Some(OnConflict::Update { plan, conditional }))
        }
    }
}

/// Checks that the conflict target is the primary key, as PostgreSQL's inference
/// does (Sluice's only unique constraint).
fn check_target(table: &str, key: &[String], target: Option<&ConflictTarget>) -> Result<()> {
    let no_match = || {
        SluiceError::coded(
            sqlstate::INVALID_COLUMN_REFERENCE,
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
        )
    };
    match target {
        None => Ok(()),
        Some(ConflictTarget::Columns(columns)) => {
            let mut named: Vec<String> = columns.iter().map(normalize_ident).collect();
            let mut key = key.to_vec();
            named.sort();
            named.dedup();
            key.sort();
            if key.is_empty() || named != key {
                return Err(no_match());
            }
            Ok(())
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let name = relation_name(name)?;
            if key.is_empty() || name != format!("{table}_pkey") {
                return Err(SluiceError::coded(
                    sqlstate::UNDEFINED_OBJECT,
                    format!("constraint \"{name}\" for table \"{table}\" does not exist"),
                ));
            }
            Ok(())
        }
    }
}

/// `SELECT <new value of each column>, target.* FROM table AS target JOIN table AS
/// excluded ON <keys equal> [WHERE selection]`.
fn update_query(
    name: &ObjectName,
    alias: Option<Ident>,
    table: &str,
    columns: &[String],
    key: &[String],
    update: DoUpdate,
) -> Result<Statement> {
    // Named as written, or by the table's own name (whatever schema the name gives).
    let target = alias.unwrap_or_else(|| Ident::with_quote('"', table));
    let column_of = |name: &str| {
        SqlExpr::CompoundIdentifier(vec![target.clone(), Ident::with_quote('"', name)])
    };
    let mut values: Vec<SqlExpr> = columns.iter().map(|c| column_of(c)).collect();
    for assignment in update.assignments {
        let AssignmentTarget::ColumnName(column) = &assignment.target else {
            return Err(SluiceError::not_supported(
                "ON CONFLICT DO UPDATE SET (a, b) = … is not supported: assign each column",
            ));
        };
        let column = relation_name(column)?;
        let at = columns.iter().position(|c| *c == column).ok_or_else(|| {
            SluiceError::coded(
                sqlstate::UNDEFINED_COLUMN,
                format!("column \"{column}\" of relation \"{table}\" does not exist"),
            )
        })?;
        values[at] = assignment.value;
    }
    let mut items: Vec<SelectItem> = values
        .into_iter()
        .zip(columns)
        .map(|(expr, column)| SelectItem::ExprWithAlias {
            expr,
            alias: Ident::with_quote('"', format!("new {column}")),
        })
        .collect();
    items.extend(
        columns
            .iter()
            .map(|c| SelectItem::UnnamedExpr(column_of(c))),
    );
    let and = |left: SqlExpr, right: SqlExpr| SqlExpr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    };
    let mut selection = key
        .iter()
        .map(|k| SqlExpr::BinaryOp {
            left: Box::new(column_of(k)),
            op: BinaryOperator::Eq,
            right: Box::new(SqlExpr::CompoundIdentifier(vec![
                Ident::new(EXCLUDED),
                Ident::with_quote('"', k.as_str()),
            ])),
        })
        .reduce(and)
        .ok_or_else(|| SluiceError::Internal("ON CONFLICT DO UPDATE without a key".into()))?;
    if let Some(condition) = update.selection {
        let condition = SqlExpr::Nested(Box::new(condition));
        selection = and(selection, condition);
    }
    let mut query = returning::select(items, name.clone(), Some(target), Some(selection))?;
    // The proposed rows, as `excluded`: the target's rows again under that name.
    if let Statement::Query(query) = &mut query
        && let SetExpr::Select(select) = query.body.as_mut()
        && let Some(from) = select.from.first_mut()
    {
        let mut excluded = from.relation.clone();
        if let TableFactor::Table {
            alias: Some(alias), ..
        } = &mut excluded
        {
            alias.name = Ident::new(EXCLUDED);
        }
        from.joins.push(Join {
            relation: excluded,
            global: false,
            join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
        });
    }
    Ok(query)
}

/// The change an INSERT with `on_conflict` makes from the proposed `rows` (in the
/// table's columns), under the table's write lock.
pub async fn resolve(
    db: &Database,
    write: &TableWrite<'_>,
    on_conflict: &OnConflict,
    rows: &RecordBatch,
) -> Result<ChangeBatch> {
    let holders = write.key_holders(rows)?;
    let holding = |wanted: KeyHolder| -> Result<RecordBatch> {
        let mask: BooleanArray = holders.iter().map(|h| Some(*h == wanted)).collect();
        Ok(filter_record_batch(rows, &mask)?)
    };
    let free = holding(KeyHolder::Nobody)?;
    let (plan, conditional) = match on_conflict {
        OnConflict::Nothing => return Ok(ChangeBatch::inserts(free)),
        OnConflict::Update { plan, conditional } => (plan, *conditional),
    };
    if let Some(KeyHolder::Earlier { stored }) = holders
        .iter()
        .find(|h| matches!(h, KeyHolder::Earlier { .. }))
    {
        // The earlier row inserted or updated the row the later one conflicts with,
        // unless it left a stored row alone for its WHERE: which happened depends
        // on the rows' order, that Sluice does not follow.
        if *stored && conditional {
            return Err(SluiceError::not_supported(
                "ON CONFLICT DO UPDATE … WHERE with one key proposed twice and already \
                 stored is not supported",
            ));
        }
        return Err(SluiceError::coded(
            sqlstate::CARDINALITY_VIOLATION,
            "ON CONFLICT DO UPDATE command cannot affect row a second time",
        ));
    }
    let proposed = holding(KeyHolder::Stored)?;
    if proposed.num_rows() == 0 {
        return Ok(ChangeBatch::inserts(free));
    }
    let stored = write.stored_rows_keyed_like(&proposed)?;
    let plan = reading(plan, &stored, &proposed)?;
    let batches = db
        .context()
        .execute_logical_plan(plan)
        .await?
        .collect()
        .await?;
    let width = rows.num_columns();
    let mut old = Vec::with_capacity(batches.len());
    let mut new = vec![free];
    for batch in &batches {
        let columns = batch.columns();
        new.push(RecordBatch::try_new(
            rows.schema(),
            columns[..width].to_vec(),
        )?);
        old.push(RecordBatch::try_new(
            rows.schema(),
            columns[width..].to_vec(),
        )?);
    }
    let schema = rows.schema();
    ChangeBatch::replace(
        &concat_batches(&schema, &old)?,
        &concat_batches(&schema, &new)?,
    )
}

/// The update query reading `stored` as the target and `proposed` as
/// [`EXCLUDED`].
fn reading(
    plan: &LogicalPlan,
    stored: &RecordBatch,
    proposed: &RecordBatch,
) -> Result<LogicalPlan> {
    let replaced = plan.clone().transform_down(|node| match node {
        LogicalPlan::SubqueryAlias(alias) if alias.alias == TableReference::bare(EXCLUDED) => {
            let input = returning::reading(alias.input.as_ref().clone(), proposed)?;
            let alias = SubqueryAlias::try_new(Arc::new(input), alias.alias)?;
            Ok(Transformed::new(
                LogicalPlan::SubqueryAlias(alias),
                true,
                TreeNodeRecursion::Jump,
            ))
        }
        LogicalPlan::TableScan(scan) => Ok(Transformed::yes(returning::memory_scan(scan, stored)?)),
        other => Ok(Transformed::no(other)),
    })?;
    Ok(replaced.data)
}
