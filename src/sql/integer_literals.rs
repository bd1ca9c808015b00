//! Integer literals typed as PostgreSQL types them: `integer` when the value fits 32
//! bits, `bigint` when it needs 64 (DataFusion reads every integer literal as a
//! `bigint`). The type shows in result columns (drivers map `integer` and `bigint` to
//! different host types: node-postgres returns a `bigint` as a string, pgjdbc as a
//! `Long`), in integer arithmetic (`2147483647 + 1` fails with `integer out of range`,
//! as in PostgreSQL) and in array literals (`ARRAY[1, 2]` is an `integer[]`).
//!
//! Applied to a statement's plan as soon as DataFusion has planned it (queries and
//! views), before its types are coerced and before its result columns are described
//! to the client, so that a literal meets the other operands as PostgreSQL's would
//! (`int_col + 1` stays `integer`, `bigint_col + 1` is `bigint`). Parameters bound
//! later keep their own types. Left as they are:
//! - a literal that is itself an argument of an aggregate or window function (`count(*)`
//!   is planned as `count(1)`; `lag(x, 1)`'s offset): no result depends on its type;
//! - `LIMIT` and `OFFSET`;
//! - the expressions of `GROUPING SETS`, `ROLLUP` and `CUBE` (`v % 3` stays `bigint`
//!   there);
//! - `INSERT`, `UPDATE` and `DELETE`, whose values are converted to the columns' types.

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, Values};

/// `plan` with its integer literals typed as PostgreSQL types them.
pub fn as_postgres(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(plan, LogicalPlan::Dml(_)) {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(narrow_node).data()
}

fn narrow_node(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    match plan {
        LogicalPlan::Limit(_) => Ok(Transformed::no(plan)),
        LogicalPlan::Values(Values { values, schema }) => {
            let mut changed = false;
            let rows = values
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|expr| {
                            let narrowed = narrow(expr)?;
                            changed |= narrowed.transformed;
                            Ok(narrowed.data)
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            if changed {
                // Rebuilt, so that each column's type is inferred again over its rows
                // (`VALUES (1), (3000000000)` is a `bigint` column, as in PostgreSQL);
                // a NULL typed `bigint` by the first inference is untyped again.
                let rows = rows
                    .into_iter()
                    .map(|row| {
                        row.into_iter()
                            .map(|expr| match expr {
                                Expr::Literal(ScalarValue::Int64(None), metadata) => {
                                    Expr::Literal(ScalarValue::Null, metadata)
                                }
                                expr => expr,
                            })
                            .collect()
                    })
                    .collect();
                LogicalPlanBuilder::values(rows)?
                    .build()
                    .map(Transformed::yes)
            } else {
                Ok(Transformed::no(LogicalPlan::Values(Values {
                    values: rows,
                    schema,
                })))
            }
        }
        plan => {
            let preserver = NamePreserver::new(&plan);
            // The inputs' types may have changed below even where this node's own
            // expressions did not: its schema is computed again either way.
            plan.map_expressions(|expr| {
                let name = preserver.save(&expr);
                narrow(expr).map(|t| t.update_data(|e| name.restore(e)))
            })?
            .map_data(|plan| plan.recompute_schema())
        }
    }
}

/// `expr` with its integer literals that fit 32 bits made `integer`, but for those
/// that are themselves arguments of aggregate and window functions.
fn narrow(expr: Expr) -> Result<Transformed<Expr>> {
    expr.transform_down(|expr| match expr {
        Expr::Literal(ScalarValue::Int64(Some(value)), None) => Ok(match i32::try_from(value) {
            Ok(value) => Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(value)), None)),
            Err(_) => Transformed::no(Expr::Literal(ScalarValue::Int64(Some(value)), None)),
        }),
        Expr::AggregateFunction(mut call) => {
            let params = &mut call.params;
            let (args, in_args) = narrow_each(std::mem::take(&mut params.args), true)?;
            params.args = args;
            let filter = params.filter.take().map(|f| narrow(*f)).transpose()?;
            let in_filter = filter.as_ref().is_some_and(|f| f.transformed);
            params.filter = filter.map(|f| Box::new(f.data));
            Ok(rewritten(
                Expr::AggregateFunction(call),
                in_args || in_filter,
            ))
        }
        Expr::WindowFunction(mut call) => {
            let params = &mut call.params;
            let (args, in_args) = narrow_each(std::mem::take(&mut params.args), true)?;
            params.args = args;
            let (partition_by, in_partitions) =
                narrow_each(std::mem::take(&mut params.partition_by), false)?;
            params.partition_by = partition_by;
            Ok(rewritten(
                Expr::WindowFunction(call),
                in_args || in_partitions,
            ))
        }
        // The columns of GROUPING SETS, ROLLUP and CUBE are named after their
        // expressions, which the select list reads by name.
        expr @ Expr::GroupingSet(_) => Ok(rewritten(expr, false)),
        expr => Ok(Transformed::no(expr)),
    })
}

/// Each of `exprs` narrowed, but for bare literals when `keep_literals` (the
/// arguments of an aggregate or window function); and whether any changed.
fn narrow_each(exprs: Vec<Expr>, keep_literals: bool) -> Result<(Vec<Expr>, bool)> {
    let mut changed = false;
    let exprs = exprs
        .into_iter()
        .map(|expr| {
            if keep_literals && matches!(expr, Expr::Literal(..)) {
                return Ok(expr);
            }
            let expr = narrow(expr)?;
            changed |= expr.transformed;
            Ok(expr.data)
        })
        .collect::<Result<_>>()?;
    Ok((exprs, changed))
}

/// `expr`, whose children were rewritten here: the walk does not go into them again.
fn rewritten(expr: Expr, changed: bool) -> Transformed<Expr> {
    Transformed::new(expr, changed, TreeNodeRecursion::Jump)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::prelude::SessionContext;

    /// The types of `sql`'s result columns as planned, after checking that running it
    /// gives the same types (the client is told the first before the rows arrive).
    async fn column_types(sql: &str) -> Vec<DataType> {
        let context = SessionContext::new();
        let plan = context.state().create_logical_plan(sql).await.unwrap();
        let plan = as_postgres(plan).unwrap();
        let planned: Vec<DataType> = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let batches = context
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        for batch in batches {
            let ran: Vec<DataType> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect();
            assert_eq!(ran, planned, "{sql}");
        }
        planned
    }

    #[tokio::test]
    async fn literals_that_fit_32_bits_are_integers() {
        use DataType::{Int32, Int64};
        let cases: &[(&str, &[DataType])] = &[
            (
                "SELECT 1, -2147483648, 2147483648, 3000000000",
                &[Int32, Int32, Int64, Int64],
            ),
            (
                "SELECT 1 + 2, 1 + 3000000000, 2 * 3 - 1",
                &[Int32, Int64, Int32],
            ),
            (
                "SELECT 1::bigint, CAST(2 AS smallint)",
                &[Int64, DataType::Int16],
            ),
            ("SELECT * FROM (VALUES (1), (2))", &[Int32]),
            ("SELECT * FROM (VALUES (1), (3000000000))", &[Int64]),
            ("SELECT * FROM (VALUES (NULL), (2))", &[Int32]),
            // Aggregates keep their result types (count(*) is count(1)).
            (
                "SELECT count(*), sum(2), count(1 + 1) FROM (VALUES (1)) t(x)",
                &[Int64, Int64, Int64],
            ),
            ("SELECT max(x + 1) FROM (VALUES (1)) t(x)", &[Int32]),
            (
                "SELECT x + 1 FROM (VALUES (1)) t(x) GROUP BY x + 1",
                &[Int32],
            ),
            (
                "SELECT x FROM (VALUES (1)) t(x) UNION ALL SELECT 5000000000",
                &[Int64],
            ),
            ("SELECT (SELECT 1)", &[Int32]),
            (
                "SELECT x % 3 AS r, count(*) FROM (VALUES (1)) t(x) GROUP BY ROLLUP (x % 3)",
                &[Int64, Int64],
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(column_types(sql).await, *expected, "{sql}");
        }
    }

    #[tokio::test]
    async fn limits_and_window_offsets_keep_working() {
        let types = column_types(
            "SELECT lag(x, 1) OVER (ORDER BY x), x FROM (VALUES (1), (2)) t(x) LIMIT 1 OFFSET 1",
        )
        .await;
        assert_eq!(types, [DataType::Int32, DataType::Int32]);
    }
}
