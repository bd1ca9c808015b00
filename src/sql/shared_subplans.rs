//! Finding what a view's query computes more than once, so that its dataflow computes
//! it once ([`crate::dataflow::graph::Node::Shared`]).
//!
//! Nexmark q5 (RisingWave's text) counts bids per auction and window twice: once for
//! the counts it reports, once under the per-window maximum it compares them with. The
//! two counts group by the same keys in another order (`GROUP BY window_start,
//! auction` and `GROUP BY auction, window_start`), so [`align_aggregates`] first
//! makes such aggregates one plan (the later one groups in the earlier one's order,
//! under a projection that puts its columns back), then [`repeated_subplans`] names
//! the subplans that occur more than once.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Projection};

use crate::error::Result;

/// An aggregate's input, aggregate calls and group keys.
type Grouping = (Arc<LogicalPlan>, Vec<Expr>, Vec<Expr>);

/// `plan` with every aggregate that groups the same input by the same keys as an
/// earlier one (in pre-order), with the same aggregate calls but its keys in another
/// order, grouping in the earlier one's order under a projection that restores its
/// own column order. Grouping sets are left alone.
pub fn align_aggregates(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut groupings: Vec<Grouping> = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::Aggregate(a) = node
            && plain_keys(a)
            && !groupings.iter().any(|g| permutes(g, a))
        {
            groupings.push((a.input.clone(), a.aggr_expr.clone(), a.group_expr.clone()));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(plan
        .transform_up(|node| {
            let LogicalPlan::Aggregate(a) = &node else {
                return Ok(Transformed::no(node));
            };
            match groupings
                .iter()
                .find(|g| permutes(g, a) && g.2 != a.group_expr)
            {
                Some((_, _, keys)) => Ok(Transformed::yes(regrouped(a, keys)?)),
                None => Ok(Transformed::no(node)),
            }
        })
        .data()?)
}

/// True when the aggregate's keys are plain expressions (no grouping sets).
fn plain_keys(a: &Aggregate) -> bool {
    !a.group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
}

/// True when `a` reads the same input with the same calls as `grouping`, grouped by
/// the same keys in any order.
fn permutes((input, calls, keys): &Grouping, a: &Aggregate) -> bool {
    plain_keys(a)
        && keys.len() == a.group_expr.len()
        && keys.iter().all(|k| a.group_expr.contains(k))
        && a.group_expr.iter().all(|k| keys.contains(k))
        && *calls == a.aggr_expr
        && **input == *a.input
}

/// `a` grouped by `keys` (its own keys in another order), under a projection giving
/// `a`'s columns in `a`'s order.
fn regrouped(a: &Aggregate, keys: &[Expr]) -> datafusion::common::Result<LogicalPlan> {
    let aligned = Aggregate::try_new(a.input.clone(), keys.to_vec(), a.aggr_expr.clone())?;
    let columns = (0..a.schema.fields().len())
        .map(|i| {
            // `keys` holds each of `a`'s keys ([`permutes`]); the calls follow them.
            let from = match a.group_expr.get(i) {
                Some(key) => keys.iter().position(|k| k == key).unwrap_or(i),
                None => i,
            };
            Expr::Column(Column::from(aligned.schema.qualified_field(from)))
        })
        .collect();
    let aligned = Arc::new(LogicalPlan::Aggregate(aligned));
    Projection::try_new(columns, aligned).map(LogicalPlan::Projection)
}

/// The subplans of `plan` that occur more than once and hold state (an aggregate, a
/// join, a window...), numbered in pre-order; a repeat inside a repeat is not named
/// (the outer one is shared whole). Stateless repeats (projections and filters over
/// a table) are cheaper to compute again where the rows are than to hand on.
pub fn repeated_subplans(plan: &LogicalPlan) -> Result<HashMap<LogicalPlan, usize>> {
    let mut seen: HashMap<&LogicalPlan, usize> = HashMap::new();
    let mut order = Vec::new();
    plan.apply(|node| {
        if let Some(count) = seen.get_mut(node) {
            *count += 1;
            // Its subplans occur inside it: sharing it shares them.
            return Ok(TreeNodeRecursion::Jump);
        }
        seen.insert(node, 1);
        order.push(node);
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut repeated = HashMap::new();
    for node in order {
        if seen[node] > 1 && holds_state(node)? {
            let id = repeated.len();
            repeated.insert(node.clone(), id);
        }
    }
    Ok(repeated)
}

/// True when a node of `plan` keeps state between changes.
fn holds_state(plan: &LogicalPlan) -> Result<bool> {
    use LogicalPlan as P;
    Ok(plan.exists(|node| {
        Ok(!matches!(
            node,
            P::Projection(_)
                | P::Filter(_)
                | P::SubqueryAlias(_)
                | P::TableScan(_)
                | P::Union(_)
                | P::EmptyRelation(_)
                | P::Values(_)
        ) && !matches!(node, P::Sort(s) if s.fetch.is_none()))
    })?)
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn optimized(sql: &str) -> LogicalPlan {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE bid (auction BIGINT, price BIGINT, day BIGINT)")
            .await
            .unwrap();
        ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap()
    }

    fn aggregates(plan: &LogicalPlan) -> Vec<Aggregate> {
        let mut found = Vec::new();
        plan.apply(|node| {
            if let LogicalPlan::Aggregate(a) = node {
                found.push(a.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        found
    }

    const TWICE: &str = "SELECT a.auction, a.n FROM \
        (SELECT day, auction, count(*) AS n FROM bid GROUP BY day, auction) a JOIN \
        (SELECT max(n) AS m, day FROM (SELECT count(*) AS n, day FROM bid \
         GROUP BY auction, day) c GROUP BY day) b ON a.day = b.day AND a.n >= b.m";

    /// The two counts of a q5-like query become one plan, shared; the result's
    /// schema does not change.
    #[tokio::test]
    async fn counts_grouped_in_another_order_become_one_shared_plan() {
        let plan = optimized(TWICE).await;
        assert!(repeated_subplans(&plan).unwrap().is_empty());
        let schema = plan.schema().clone();
        let aligned = align_aggregates(plan).unwrap();
        assert_eq!(aligned.schema(), &schema);
        let counts: Vec<_> = aggregates(&aligned)
            .into_iter()
            .filter(|a| a.group_expr.len() == 2)
            .collect();
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[0], counts[1]);
        let repeated = repeated_subplans(&aligned).unwrap();
        assert_eq!(repeated.len(), 1, "{repeated:?}");
        let (shared, id) = repeated.into_iter().next().unwrap();
        assert_eq!(id, 0);
        assert!(matches!(shared, LogicalPlan::Aggregate(_)), "{shared}");
    }

    /// Different aggregate calls, inputs or keys are not aligned; stateless repeats
    /// (the table scans of a self-join) are not shared.
    #[tokio::test]
    async fn only_equal_groupings_are_aligned_and_only_stateful_repeats_shared() {
        for sql in [
            "SELECT * FROM (SELECT day, auction, count(*) FROM bid GROUP BY day, auction) a \
             JOIN (SELECT auction, day, sum(price) FROM bid GROUP BY auction, day) b \
             ON a.day = b.day",
            "SELECT * FROM (SELECT day, auction, count(*) FROM bid GROUP BY day, auction) a \
             JOIN (SELECT auction, price, count(*) FROM bid GROUP BY auction, price) b \
             ON a.auction = b.auction",
            "SELECT * FROM bid a JOIN bid b ON a.auction = b.auction",
        ] {
            let plan = optimized(sql).await;
            let aligned = align_aggregates(plan.clone()).unwrap();
            assert_eq!(aligned, plan, "{sql}");
            assert!(repeated_subplans(&aligned).unwrap().is_empty(), "{sql}");
        }
    }
}
