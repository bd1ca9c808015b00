//! Uncorrelated scalar subqueries in a view, as joins: `WHERE b > (SELECT avg(b) FROM
//! t)` becomes a cross join with the one-row aggregate and a filter on its column.
//!
//! A batch query runs an uncorrelated scalar subquery once, before the query; a view
//! must follow the subquery's value as its input changes, so the value becomes a
//! relation the view's dataflow maintains: an aggregate without `GROUP BY` has
//! exactly one row at all times, and joining every row with it is exact (a change of
//! the value re-evaluates the rows against the new one). Subqueries that can have no
//! row or several (`GROUP BY`, `LIMIT`, plain selections) are left alone and refused
//! where they are translated.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{
    Expr, Filter, LogicalPlan, LogicalPlanBuilder, Projection, Subquery,
};

/// `plan` with the uncorrelated one-row scalar subqueries of its filters and
/// projections turned into cross joins (see the module docs).
pub fn as_cross_joins(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut joined = 0;
    plan.transform_up(|node| {
        let subqueries = one_row_subqueries(&node)?;
        if subqueries.is_empty() {
            return Ok(Transformed::no(node));
        }
        join_subqueries(node, subqueries, &mut joined).map(Transformed::yes)
    })
    .map(|t| t.data)
}

/// The uncorrelated scalar subqueries of `node` (a filter or projection) that always
/// give exactly one row, each once.
fn one_row_subqueries(node: &LogicalPlan) -> Result<Vec<Subquery>> {
    if !matches!(node, LogicalPlan::Filter(_) | LogicalPlan::Projection(_)) {
        return Ok(Vec::new());
    }
    let mut found: Vec<Subquery> = Vec::new();
    for expr in node.expressions() {
        expr.apply(|e| {
            if let Expr::ScalarSubquery(subquery) = e
                && subquery.outer_ref_columns.is_empty()
                && always_one_row(&subquery.subquery)
                && !found.contains(subquery)
            {
                found.push(subquery.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    Ok(found)
}

/// True when `plan` gives exactly one row whatever its input: an aggregate without
/// `GROUP BY`, under projections and aliases.
fn always_one_row(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate(aggregate) => aggregate.group_expr.is_empty(),
        LogicalPlan::Projection(Projection { input, .. })
        | LogicalPlan::SubqueryAlias(datafusion::logical_expr::SubqueryAlias { input, .. }) => {
            always_one_row(input)
        }
        _ => false,
    }
}

/// `node` over its input cross-joined with each of `subqueries` (aliased
/// `__scalar_subquery_N`), each subquery replaced by its column; the output keeps
/// `node`'s schema.
fn join_subqueries(
    node: LogicalPlan,
    subqueries: Vec<Subquery>,
    joined: &mut usize,
) -> Result<LogicalPlan> {
    let input = node.inputs()[0].clone();
    let mut builder = LogicalPlanBuilder::from(input.clone());
    let mut columns = Vec::with_capacity(subqueries.len());
    for subquery in &subqueries {
        *joined += 1;
        let alias = format!("__scalar_subquery_{joined}");
        // Its own uncorrelated subqueries first.
        let plan = as_cross_joins(subquery.subquery.as_ref().clone())?;
        let plan = LogicalPlanBuilder::from(plan)
            .alias(alias.as_str())?
            .build()?;
        let name = plan.schema().field(0).name().clone();
        columns.push(Expr::Column(Column::new(Some(alias), name)));
        builder = builder.cross_join(plan)?;
    }
    let joined_input = Arc::new(builder.build()?);
    let replace = |expr: Expr| -> Result<Expr> {
        expr.transform_up(|e| match &e {
            Expr::ScalarSubquery(s) => match subqueries.iter().position(|q| q == s) {
                Some(i) => Ok(Transformed::yes(columns[i].clone())),
                None => Ok(Transformed::no(e)),
            },
            _ => Ok(Transformed::no(e)),
        })
        .map(|t| t.data)
    };
    match node {
        LogicalPlan::Filter(filter) => {
            let predicate = replace(filter.predicate)?;
            let filtered = Filter::try_new(predicate, joined_input)?;
            // Back to the input's columns: the subqueries' are not the filter's.
            let columns: Vec<Expr> = input
                .schema()
                .columns()
                .into_iter()
                .map(Expr::Column)
                .collect();
            LogicalPlanBuilder::from(LogicalPlan::Filter(filtered))
                .project(columns)?
                .build()
        }
        LogicalPlan::Projection(projection) => {
            let exprs = projection
                .expr
                .into_iter()
                .map(|e| {
                    let name = e.name_for_alias()?;
                    replace(e)?.alias_if_changed(name)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(LogicalPlan::Projection(Projection::try_new(
                exprs,
                joined_input,
            )?))
        }
        other => Ok(other),
    }
}
