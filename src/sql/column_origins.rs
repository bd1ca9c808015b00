//! Where a query's output columns come from, for the RowDescription message: a column
//! read straight from a table, materialized view or source carries the relation's
//! OID, its column number and its type modifier (`numeric(10,2)`, `varchar(n)`), as
//! PostgreSQL sends them; any other column sends zeros. Drivers read them
//! (pgjdbc's `ResultSetMetaData.getTableName` and `getScale`, Npgsql's and
//! psqlODBC's key detection).
//!
//! The plan's output fields carry them as metadata ([`TABLE_OID`], [`COLUMN_NUMBER`],
//! [`TYPE_MODIFIER`], [`TYPE_OID`]), set by a projection over the query, so every path that
//! describes the result (simple and extended protocol) sees them. A column read straight
//! from a system relation (`pg_catalog`, `information_schema`) carries only its declared
//! type, where PostgreSQL's differs from its values' but is sent alike
//! ([`crate::catalog::postgres::declared_types`]: `relname` is `name`), also through
//! a set operation whose branches all read such columns of one type, and beside an
//! `unnest`.

use std::collections::BTreeMap;

use datafusion::common::Column;
use datafusion::common::metadata::FieldMetadata;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

use crate::catalog::postgres::declared_types::declared_type;
use crate::catalog::postgres::objects::{PgRelation, describe};
use crate::catalog::{Catalog, DEFAULT_SCHEMA};
use crate::error::Result;

/// Field metadata: the OID of the relation the column is read from.
pub const TABLE_OID: &str = "sluice.table_oid";
/// Field metadata: the column's number in that relation (from 1).
pub const COLUMN_NUMBER: &str = "sluice.column_number";
/// Field metadata: the column's type modifier (`pg_attribute.atttypmod`).
pub const TYPE_MODIFIER: &str = "sluice.type_modifier";
/// Field metadata: the column's declared type (`pg_attribute.atttypid`), which can
/// differ from its values' (`character varying` columns hold `text` values).
pub const TYPE_OID: &str = "sluice.type_oid";

/// `plan` with the origins of its output columns as field metadata (unchanged when
/// no column is read straight from a relation).
pub fn with_column_origins(catalog: &Catalog, plan: LogicalPlan) -> Result<LogicalPlan> {
    let width = plan.schema().fields().len();
    let origins: Vec<Option<Origin>> = (0..width).map(|i| origin(&plan, i)).collect();
    if origins.iter().all(Option::is_none) {
        return Ok(plan);
    }
    // Only the relations the query reads (describing one reads its definition).
    let read: std::collections::BTreeSet<&String> = origins
        .iter()
        .flatten()
        .filter(|o| o.schema == DEFAULT_SCHEMA)
        .map(|o| &o.table)
        .collect();
    let relations: Vec<PgRelation> = read
        .into_iter()
        .filter_map(|table| catalog.get(table))
        .map(|relation| describe(&relation))
        .collect();
    let exprs: Vec<Expr> = origins
        .iter()
        .enumerate()
        .map(|(i, origin)| {
            let (qualifier, field) = plan.schema().qualified_field(i);
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            match origin.as_ref().and_then(|o| metadata(&relations, o)) {
                Some(metadata) => column.alias_qualified_with_metadata(
                    qualifier.cloned(),
                    field.name(),
                    Some(metadata),
                ),
                None => column,
            }
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// Where an output column is read from: a relation's column, by schema.
struct Origin {
    schema: String,
    table: String,
    column: String,
}

fn metadata(relations: &[PgRelation], origin: &Origin) -> Option<FieldMetadata> {
    let Origin {
        schema,
        table,
        column,
    } = origin;
    if schema != DEFAULT_SCHEMA {
        let declared = declared_type(schema, table, column)?;
        let entries = BTreeMap::from([(TYPE_OID.to_string(), declared.to_string())]);
        return Some(FieldMetadata::from(entries));
    }
    let relation = relations.iter().find(|r| r.name == *table)?;
    let (index, column) = relation
        .columns
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == *column)?;
    let entries = BTreeMap::from([
        (TABLE_OID.to_string(), relation.oid.to_string()),
        (COLUMN_NUMBER.to_string(), (index + 1).to_string()),
        (TYPE_MODIFIER.to_string(), column.typmod.to_string()),
        (TYPE_OID.to_string(), column.type_oid.to_string()),
    ]);
    Some(FieldMetadata::from(entries))
}

/// The relation (in schema `public`, or a system relation) and column output column
/// `index` of `plan` is read from unchanged, if it is.
fn origin(plan: &LogicalPlan, index: usize) -> Option<Origin> {
    match plan {
        LogicalPlan::Projection(projection) => {
            let mut expr = projection.expr.get(index)?;
            while let Expr::Alias(alias) = expr {
                expr = &alias.expr;
            }
            let Expr::Column(column) = expr else {
                return None;
            };
            let input_index = projection.input.schema().index_of_column(column).ok()?;
            origin(&projection.input, input_index)
        }
        LogicalPlan::Filter(f) => origin(&f.input, index),
        LogicalPlan::Sort(s) => origin(&s.input, index),
        LogicalPlan::Limit(l) => origin(&l.input, index),
        LogicalPlan::SubqueryAlias(s) => origin(&s.input, index),
        // A column beside the ones an `unnest` expands (`_pg_expandarray`) is its input's.
        LogicalPlan::Unnest(unnest) => {
            let input = *unnest.dependency_indices.get(index)?;
            let expanded = unnest.list_type_columns.iter().any(|(i, _)| *i == input)
                || unnest.struct_type_columns.contains(&input);
            if expanded {
                return None;
            }
            origin(&unnest.input, input)
        }
        LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(input)) => {
            origin(input, index)
        }
        // A set operation's column has a declared type when every branch reads it from
        // a system relation column of that type (`pg_tables.tablename UNION
        // pg_views.viewname` is `name`); it has no source relation.
        LogicalPlan::Union(union) => {
            let origins: Vec<Origin> = union
                .inputs
                .iter()
                .map(|input| origin(input, index))
                .collect::<Option<_>>()?;
            let declared: Vec<Option<u32>> = origins
                .iter()
                .map(|o| {
                    (o.schema != DEFAULT_SCHEMA)
                        .then(|| declared_type(&o.schema, &o.table, &o.column))
                        .flatten()
                })
                .collect();
            let first = *declared.first()?;
            (first.is_some() && declared.iter().all(|d| *d == first))
                .then(|| origins.into_iter().next())
                .flatten()
        }
        LogicalPlan::Join(join) => {
            use datafusion::logical_expr::JoinType;
            let left = join.left.schema().fields().len();
            match join.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    if index < left {
                        origin(&join.left, index)
                    } else {
                        origin(&join.right, index - left)
                    }
                }
                JoinType::LeftSemi | JoinType::LeftAnti => origin(&join.left, index),
                JoinType::RightSemi | JoinType::RightAnti => origin(&join.right, index),
                _ => None,
            }
        }
        LogicalPlan::TableScan(scan) => {
            let schema = scan.table_name.schema().unwrap_or(DEFAULT_SCHEMA);
            let field = scan.projected_schema.field(index);
            Some(Origin {
                schema: schema.to_string(),
                table: scan.table_name.table().to_string(),
                column: field.name().clone(),
            })
        }
        _ => None,
    }
}
