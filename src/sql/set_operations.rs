//! `INTERSECT ALL` and `EXCEPT ALL` with PostgreSQL's multiset semantics.
//!
//! DataFusion plans `a INTERSECT ALL b` as a semi join of `a` with `b` on every
//! column (NULLs equal), and `EXCEPT ALL` as an anti join: every copy of a row with
//! (without) a match is kept, so three copies `INTERSECT ALL` one copy give three
//! instead of one, and `EXCEPT ALL` gives none instead of two. The `DISTINCT` forms
//! are right, since they put a `Distinct` over the left input.
//!
//! Before optimization, such a join (`NullEqualsNull`, no condition besides the keys,
//! its left input not a `Distinct`: a shape only these statements produce) is
//! rewritten:
//! - in queries ([`exact_set_operations`]), each side numbers the copies of each row
//!   (`row_number()` partitioned by every column) and the join compares the numbers
//!   too: copy `i` of a row is in `INTERSECT ALL` when the right side has an `i`-th
//!   copy, and in `EXCEPT ALL` when it has not, which gives `min(m, n)` and
//!   `max(m - n, 0)` copies;
//! - in materialized views ([`set_operations_for_views`]), into a
//!   [`SetOperationAll`] node, which the view planner maintains as a join that counts
//!   copies ([`crate::dataflow::join::JoinKind::IntersectAll`]).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchemaRef, JoinType, NullEquality};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{
    Distinct, Expr, ExprFunctionExt, Extension, Join, LogicalPlan, LogicalPlanBuilder,
    UserDefinedLogicalNodeCore,
};

use crate::error::Result;

/// The name of the copy number each side gets in a query.
const COPY: &str = "__sluice_copy";

/// Which multiset operation a [`SetOperationAll`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub enum SetOperationKind {
    /// `INTERSECT ALL`.
    IntersectAll,
    /// `EXCEPT ALL`.
    ExceptAll,
}

/// `left INTERSECT ALL right` or `left EXCEPT ALL right`, rows compared as
/// `DISTINCT` compares them; its columns are `left`'s.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetOperationAll {
    pub kind: SetOperationKind,
    pub left: LogicalPlan,
    pub right: LogicalPlan,
}

impl PartialOrd for SetOperationAll {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.kind.partial_cmp(&other.kind) {
            Some(Ordering::Equal) => match self.left.partial_cmp(&other.left) {
                Some(Ordering::Equal) => self.right.partial_cmp(&other.right),
                order => order,
            },
            order => order,
        }
    }
}

impl UserDefinedLogicalNodeCore for SetOperationAll {
    fn name(&self) -> &str {
        match self.kind {
            SetOperationKind::IntersectAll => "IntersectAll",
            SetOperationKind::ExceptAll => "ExceptAll",
        }
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.left, &self.right]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.left.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.name())
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> datafusion::common::Result<Self> {
        let (Some(right), Some(left), None) = (inputs.pop(), inputs.pop(), inputs.pop()) else {
            return datafusion::common::plan_err!("{} takes two inputs", self.name());
        };
        Ok(SetOperationAll {
            kind: self.kind,
            left,
            right,
        })
    }
}

/// The multiset operation `join` was planned for, if it is one (see the module docs).
fn set_operation_all(join: &Join) -> Option<SetOperationKind> {
    let kind = match join.join_type {
        JoinType::LeftSemi => SetOperationKind::IntersectAll,
        JoinType::LeftAnti => SetOperationKind::ExceptAll,
        _ => return None,
    };
    let every_column = join.on.len() == join.left.schema().fields().len();
    (join.null_equality == NullEquality::NullEqualsNull
        && join.filter.is_none()
        && every_column
        && !matches!(join.left.as_ref(), LogicalPlan::Distinct(Distinct::All(_))))
    .then_some(kind)
}

/// Rewrites the multiset operations of an unoptimized query plan into plans
/// DataFusion computes exactly. See the module docs.
pub fn exact_set_operations(plan: LogicalPlan) -> Result<LogicalPlan> {
    Ok(plan
        .transform_up_with_subqueries(|node| {
            let LogicalPlan::Join(join) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some(_) = set_operation_all(join) else {
                return Ok(Transformed::no(node));
            };
            let numbered = |side: &LogicalPlan| -> datafusion::common::Result<LogicalPlan> {
                let columns: Vec<Expr> = side
                    .schema()
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                LogicalPlanBuilder::from(side.clone())
                    .window(vec![
                        row_number().partition_by(columns).build()?.alias(COPY),
                    ])?
                    .build()
            };
            let left = numbered(&join.left)?;
            let right = numbered(&join.right)?;
            let keys = |side: &LogicalPlan| side.schema().columns();
            let joined = LogicalPlanBuilder::from(left.clone())
                .join_detailed(
                    right.clone(),
                    join.join_type,
                    (keys(&left), keys(&right)),
                    None,
                    NullEquality::NullEqualsNull,
                )?
                .project(join.left.schema().columns().into_iter().map(Expr::Column))?
                .build()?;
            Ok(Transformed::yes(joined))
        })?
        .data)
}

/// Rewrites the multiset operations of an unoptimized view plan into
/// [`SetOperationAll`] nodes. See the module docs.
pub fn set_operations_for_views(plan: LogicalPlan) -> Result<LogicalPlan> {
    Ok(plan
        .transform_up_with_subqueries(|node| {
            let LogicalPlan::Join(join) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some(kind) = set_operation_all(join) else {
                return Ok(Transformed::no(node));
            };
            let operation = SetOperationAll {
                kind,
                left: join.left.as_ref().clone(),
                right: join.right.as_ref().clone(),
            };
            let columns = join.left.schema().columns().into_iter().map(Expr::Column);
            let extension = LogicalPlan::Extension(Extension {
                node: Arc::new(operation),
            });
            // A projection over it, so that a subquery of it has its output expression
            // (`x IN (SELECT ... EXCEPT ALL ...)`).
            Ok(Transformed::yes(
                LogicalPlanBuilder::from(extension)
                    .project(columns)?
                    .build()?,
            ))
        })?
        .data)
}
