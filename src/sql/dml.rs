//! INSERT, UPDATE and DELETE on Sluice's durable write path.
//!
//! DataFusion plans the statement (coercing values to column types, filling column
//! defaults, typing `$n` parameters) into a `Dml` node whose input yields:
//! - INSERT: the new rows;
//! - DELETE: the rows to remove (a filter over the table);
//! - UPDATE: the new version of every matching row. Sluice adds the old version's
//!   columns to that projection, so one scan yields both halves of each update.
//!
//! The rows become one [`ChangeBatch`] committed under the table's write lock, so the
//! rows read and the rows written belong to the same version of the table. A cancel
//! or `statement_timeout` stops the statement while it computes its rows; once the
//! commit starts, it completes.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::{Column, ParamValues};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan, LogicalPlanBuilder, WriteOp};
use datafusion::sql::sqlparser::ast::{
    FromTable, SelectItem, Statement, TableFactor, TableWithJoins, WildcardAdditionalOptions,
};

use super::Output;
use super::interrupt::Interrupt;
use super::names::reference_name;
use super::on_conflict::{self, OnConflict};
use super::returning;
use crate::database::Database;
use crate::dataflow::ChangeBatch;
use crate::dataflow::change::nullable;
use crate::error::{Result, SluiceError};

const OLD_PREFIX: &str = "__sluice_old_";

/// A write with what DataFusion does not plan: `RETURNING`, `ON CONFLICT`.
#[derive(Debug, Clone)]
pub struct Write {
    /// The write (a `Dml` plan).
    pub plan: LogicalPlan,
    /// `SELECT list FROM target`, its scan of the target reading the rows written
    /// (see [`returning`]).
    pub returning: Option<LogicalPlan>,
    /// An INSERT's `ON CONFLICT`.
    pub on_conflict: Option<OnConflict>,
}

impl Write {
    /// The command tag of its rows, before their count (PostgreSQL's `INSERT 0 n`).
    pub fn tag(&self) -> &'static str {
        match &self.plan {
            LogicalPlan::Dml(dml) if dml.op == WriteOp::Update => "UPDATE",
            LogicalPlan::Dml(dml) if dml.op == WriteOp::Delete => "DELETE",
            _ => "INSERT 0",
        }
    }

    /// The write with its parameters' values.
    pub fn with_params(&self, params: &ParamValues) -> Result<Write> {
        let bind = |plan: &LogicalPlan| plan.clone().replace_params_with_values(params);
        Ok(Write {
            plan: bind(&self.plan)?,
            returning: self.returning.as_ref().map(bind).transpose()?,
            on_conflict: match &self.on_conflict {
                Some(OnConflict::Update { plan, conditional }) => Some(OnConflict::Update {
                    plan: bind(plan)?,
                    conditional: *conditional,
                }),
                other => other.clone(),
            },
        })
    }
}

/// Executes a planned INSERT, UPDATE or DELETE, unless `interrupt` stops it before
/// it commits.
pub async fn execute(db: Arc<Database>, dml: DmlStatement, interrupt: Interrupt) -> Result<Output> {
    run(db, dml, None, None, interrupt).await
}

/// Executes a [`Write`], unless `interrupt` stops it before it commits; with
/// RETURNING, answers with its rows over the rows written.
pub async fn execute_write(
    db: Arc<Database>,
    write: Write,
    interrupt: Interrupt,
) -> Result<Output> {
    let LogicalPlan::Dml(dml) = write.plan else {
        return Err(SluiceError::Internal("a write planned as no write".into()));
    };
    let on_conflict = write.on_conflict.as_ref();
    run(db, dml, write.returning, on_conflict, interrupt).await
}

async fn run(
    db: Arc<Database>,
    dml: DmlStatement,
    returning: Option<LogicalPlan>,
    on_conflict: Option<&OnConflict>,
    interrupt: Interrupt,
) -> Result<Output> {
    let db = db.as_ref();
    let name = reference_name(&dml.table_name)?;
    let table = db.catalog().table(&name)?;
    if table.append_only() && !matches!(dml.op, WriteOp::Insert(InsertOp::Append)) {
        return Err(SluiceError::not_supported(format!(
            "table \"{name}\" is APPEND ONLY: it takes INSERT only, never {}",
            dml.op.name().to_uppercase()
        )));
    }
    let schema = table.store().schema();
    // Waiting for another writer can be stopped too.
    let mut write = interrupt
        .run(async { Ok(table.store().begin_write().await) })
        .await?;
    let (tag, change) = match &dml.op {
        WriteOp::Insert(InsertOp::Append) => {
            let rows = interrupt
                .run(collect(db, dml.input.as_ref().clone(), &schema))
                .await?;
            // Rows late for an append-only table's watermark are not stored (the
            // count says so).
            let (change, _late) = write.without_late(ChangeBatch::inserts(rows))?;
            let change = match on_conflict {
                Some(on_conflict) => {
                    let resolved = on_conflict::resolve(db, &write, on_conflict, change.data());
                    interrupt.run(resolved).await?
                }
                None => change,
            };
            ("INSERT", change)
        }
        WriteOp::Delete => {
            let rows = interrupt
                .run(collect(db, dml.input.as_ref().clone(), &schema))
                .await?;
            let weights = Int64Array::from(vec![-1i64; rows.num_rows()]);
            ("DELETE", ChangeBatch::try_new(rows, weights)?)
        }
        WriteOp::Update => {
            let plan = with_old_columns(dml.input.as_ref(), &schema)?;
            let both = interrupt
                .run(collect(db, plan, &both_schema(&schema)))
                .await?;
            let width = schema.fields().len();
            let new = both.project(&(0..width).collect::<Vec<_>>())?;
            let old = both.project(&(width..2 * width).collect::<Vec<_>>())?;
            ("UPDATE", ChangeBatch::replace(&old, &new)?)
        }
        WriteOp::Truncate => {
            let contents = write.contents();
            let rows = concat_batches(&schema, contents.iter())?;
            let weights = Int64Array::from(vec![-1i64; rows.num_rows()]);
            ("TRUNCATE TABLE", ChangeBatch::try_new(rows, weights)?)
        }
        other => {
            return Err(SluiceError::not_supported(format!(
                "{other} is not supported"
            )));
        }
    };
    // Rows inserted or updated (an upsert's updates are one row out, one in), or
    // deleted.
    let affected = match tag {
        "INSERT" | "UPDATE" => change.split()?.0.num_rows(),
        _ => change.num_rows(),
    };
    let checked = write.check(change)?;
    let returned = match returning {
        Some(plan) => {
            let (added, removed) = checked.change().split()?;
            let written = if tag == "DELETE" { removed } else { added };
            let plan = returning::reading(plan, &written)?;
            let schema = Arc::new(plan.schema().as_arrow().clone());
            let frame = db.context().execute_logical_plan(plan).await?;
            Some((
                schema,
                interrupt.run(async { Ok(frame.collect().await?) }).await?,
            ))
        }
        None => None,
    };
    // The point of no return: a stop that arrives from here on is too late.
    interrupt.check()?;
    write.commit_checked(checked).await?;
    Ok(match returned {
        Some((schema, batches)) => Output::Rows(returning::stream(schema, batches)),
        None => Output::Done {
            tag,
            rows: (tag != "TRUNCATE TABLE").then_some(affected),
        },
    })
}

/// Plans an INSERT, UPDATE or DELETE (without RETURNING, see [`returning::take`]).
///
/// DataFusion takes no alias on an INSERT's target: only RETURNING could use it,
/// and it has been planned apart, so it goes. It plans `DELETE FROM t AS a WHERE …`
/// without the alias (`a.col` is then unknown), so the rows such a DELETE removes
/// are planned as the query `SELECT * FROM t AS a WHERE …`.
pub(super) async fn plan(db: &Database, mut statement: Statement) -> Result<LogicalPlan> {
    if let Statement::Insert(insert) = &mut statement {
        insert.table_alias = None;
    }
    let Statement::Delete(delete) = &mut statement else {
        return super::plan_statement(db, statement).await;
    };
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &mut delete.from;
    let Some(TableWithJoins {
        relation: relation @ TableFactor::Table { alias: Some(_), .. },
        joins,
    }) = from.first_mut()
    else {
        return super::plan_statement(db, statement).await;
    };
    if !joins.is_empty() || delete.using.is_some() {
        return super::plan_statement(db, statement).await;
    }
    let (name, alias) = returning::named(relation)?;
    let wildcard = SelectItem::Wildcard(WildcardAdditionalOptions::default());
    let rows = returning::select(vec![wildcard], name, alias, delete.selection.take())?;
    if let TableFactor::Table { alias, .. } = relation {
        *alias = None;
    }
    let LogicalPlan::Dml(dml) = super::plan_statement(db, statement).await? else {
        return Err(SluiceError::Internal("DELETE planned as no write".into()));
    };
    let rows = super::plan_statement(db, rows).await?;
    Ok(LogicalPlan::Dml(DmlStatement::new(
        dml.table_name,
        dml.target,
        dml.op,
        Arc::new(rows),
    )))
}

/// Runs `plan` and concatenates its output into one batch, taking column names and
/// nullability from `schema` (DataFusion's output fields may be named differently).
async fn collect(db: &Database, plan: LogicalPlan, schema: &SchemaRef) -> Result<RecordBatch> {
    let batches = db
        .context()
        .execute_logical_plan(plan)
        .await?
        .collect()
        .await?;
    let columns_of = |b: &RecordBatch| b.columns().to_vec();
    let loose = nullable(schema);
    let mut out = Vec::with_capacity(batches.len());
    for batch in &batches {
        out.push(RecordBatch::try_new(loose.clone(), columns_of(batch))?);
    }
    Ok(concat_batches(&loose, &out)?)
}

/// The schema of [`with_old_columns`]'s output: new columns, then old ones.
fn both_schema(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for f in schema.fields() {
        fields.push(
            f.as_ref()
                .clone()
                .with_name(format!("{OLD_PREFIX}{}", f.name())),
        );
    }
    Arc::new(Schema::new(fields))
}

/// Extends DataFusion's UPDATE projection (new values of every column) with the
/// current value of every column. The target table is the first relation in the
/// projection's input, so the first field of each name is the target's.
fn with_old_columns(input: &LogicalPlan, schema: &SchemaRef) -> Result<LogicalPlan> {
    let LogicalPlan::Projection(projection) = input else {
        return Err(SluiceError::Internal(format!(
            "unexpected UPDATE plan shape:\n{input}"
        )));
    };
    let source = projection.input.as_ref();
    let mut exprs: Vec<Expr> = projection.expr.clone();
    for field in schema.fields() {
        let (qualifier, _) = source
            .schema()
            .iter()
            .find(|(_, f)| f.name() == field.name())
            .ok_or_else(|| SluiceError::Internal(format!("column {} missing", field.name())))?;
        let column = Column::new(qualifier.cloned(), field.name());
        exprs.push(Expr::Column(column).alias(format!("{OLD_PREFIX}{}", field.name())));
    }
    Ok(LogicalPlanBuilder::from(source.clone())
        .project(exprs)?
        .build()?)
}
