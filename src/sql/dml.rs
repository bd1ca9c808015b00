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
use datafusion::common::Column;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan, LogicalPlanBuilder, WriteOp};

use super::Output;
use super::interrupt::Interrupt;
use super::names::reference_name;
use crate::database::Database;
use crate::dataflow::ChangeBatch;
use crate::dataflow::change::nullable;
use crate::error::{Result, SluiceError};

const OLD_PREFIX: &str = "__sluice_old_";

/// Executes a planned INSERT, UPDATE or DELETE, unless `interrupt` stops it before
/// it commits.
pub async fn execute(db: Arc<Database>, dml: DmlStatement, interrupt: Interrupt) -> Result<Output> {
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
    let affected = match tag {
        "UPDATE" => change.num_rows() / 2,
        _ => change.num_rows(),
    };
    // The point of no return: a stop that arrives from here on is too late.
    interrupt.check()?;
    write.commit(change).await?;
    Ok(Output::Done {
        tag,
        rows: (tag != "TRUNCATE TABLE").then_some(affected),
    })
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
