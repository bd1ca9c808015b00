//! Intervals as keys, as PostgreSQL keys them: by their span (`'1 month'` and `'30
//! days'` are one group, one distinct value, one partition and one join key), where Arrow
//! tells the months, days and nanoseconds apart and answered with two groups without a
//! word.
//!
//! An analyzer rule, after [`super::interval_comparison`]'s, rewrites (and one before
//! type coercion, which refuses a range frame over intervals, rewrites windows):
//! - `GROUP BY` an interval (and `SELECT DISTINCT`, `UNION`, which become a grouping
//!   here): the group is keyed by the span, and the interval it shows is one of its
//!   members, the one with the most months, then the most days
//!   (`first_value(x ORDER BY x DESC)` in Arrow's field order), so `'1 mon'` rather than
//!   `'30 days'` and `'1 day'` rather than `'24:00:00'`. PostgreSQL shows whichever member
//!   its plan met first; this choice is one it can show, and it is the same every time
//!   the group is computed, so a view's group shows the same value as the query's.
//! - `DISTINCT ON`, window `PARTITION BY` and `ORDER BY` (a range frame's offsets become
//!   spans too), join keys (`ON a = b`, `USING`, `INTERSECT`, `EXCEPT`) and
//!   `count(DISTINCT x)`: the span is the key.
//!
//! Refused (`0A000`): other aggregates of `DISTINCT` intervals (which member is summed
//! or listed is the plan's choice in PostgreSQL) and grouping sets over intervals.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult};
use datafusion::common::{Column, DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::{
    Aggregate, Distinct, Expr, LogicalPlan, LogicalPlanBuilder, Projection, WindowFrameBound,
    WindowFrameUnits,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::SessionContext;

use super::interval_comparison::{is_interval, span, span_of};
use crate::catalog::postgres::regtypes::{ExpressionRule, rewrite_expressions};
use crate::error::SluiceError;

/// Registers the analyzer rule; after `interval_comparison::install`.
pub fn install(context: &SessionContext) {
    context.add_analyzer_rule(Arc::new(IntervalKeys));
}

/// The analyzer rule for windows' keys, to run before type coercion (which refuses a
/// range frame ordered by an interval).
pub fn before_coercion() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(ExpressionRule {
        name: "postgres_interval_window_keys",
        rewrite: windows_by_span,
    })
}

/// `expr` partitioned and ordered by span where it is a window function over intervals.
fn windows_by_span(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::WindowFunction(window) = expr else {
        return Ok(Transformed::no(expr));
    };
    let WindowFunction { fun, mut params } = *window;
    let partitioned = keyed_by_span(&mut params.partition_by, schema);
    let ordered = keyed_by_span(params.order_by.iter_mut().map(|s| &mut s.expr), schema);
    if ordered && params.window_frame.units == WindowFrameUnits::Range {
        let frame = &mut params.window_frame;
        frame.start_bound = bound_by_span(frame.start_bound.clone())?;
        frame.end_bound = bound_by_span(frame.end_bound.clone())?;
    }
    let changed = partitioned || ordered;
    Ok(Transformed::new_transformed(
        Expr::WindowFunction(Box::new(WindowFunction { fun, params })),
        changed,
    ))
}

/// The rule (see the module's documentation).
#[derive(Debug)]
struct IntervalKeys;

impl AnalyzerRule for IntervalKeys {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = rewrite_expressions(plan, distinct_by_span)?;
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Distinct(Distinct::All(input))
                if input
                    .schema()
                    .fields()
                    .iter()
                    .any(|f| matches!(f.data_type(), DataType::Interval(_))) =>
            {
                let columns = input.schema().columns().into_iter().map(Expr::Column);
                let grouping = LogicalPlanBuilder::from(input)
                    .aggregate(columns, Vec::<Expr>::new())?
                    .build()?;
                let LogicalPlan::Aggregate(aggregate) = grouping else {
                    return Err(DataFusionError::Internal(
                        "a grouping built as an aggregate".into(),
                    ));
                };
                grouped_by_span(aggregate)
            }
            LogicalPlan::Distinct(Distinct::On(mut on)) => {
                let schema = on.input.schema().clone();
                let keys = keyed_by_span(&mut on.on_expr, &schema);
                let sorts = keyed_by_span(
                    on.sort_expr.iter_mut().flatten().map(|s| &mut s.expr),
                    &schema,
                );
                let changed = keys || sorts;
                Ok(Transformed::new_transformed(
                    LogicalPlan::Distinct(Distinct::On(on)),
                    changed,
                ))
            }
            LogicalPlan::Aggregate(aggregate) => grouped_by_span(aggregate),
            LogicalPlan::Join(mut join) => {
                let (left, right) = (join.left.schema().clone(), join.right.schema().clone());
                let mut changed = false;
                for (l, r) in &mut join.on {
                    if is_interval(l, &left) && is_interval(r, &right) {
                        *l = span(l.clone());
                        *r = span(r.clone());
                        changed = true;
                    }
                }
                Ok(Transformed::new_transformed(
                    LogicalPlan::Join(join),
                    changed,
                ))
            }
            other => Ok(Transformed::no(other)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "postgres_interval_keys"
    }
}

/// `expr` counting distinct intervals by span; an error where it aggregates distinct
/// intervals otherwise.
fn distinct_by_span(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::AggregateFunction(AggregateFunction { func, mut params })
            if params.distinct && params.args.iter().any(|a| is_interval(a, schema)) =>
        {
            if func.name() != "count" {
                return Err(refused(format!(
                    "{}(DISTINCT ...) of intervals is not supported: which of equal \
                     intervals ('1 mon', '30 days') PostgreSQL keeps depends on its plan",
                    func.name()
                )));
            }
            params.args = params
                .args
                .into_iter()
                .map(|a| if is_interval(&a, schema) { span(a) } else { a })
                .collect();
            Ok(Transformed::yes(Expr::AggregateFunction(
                AggregateFunction { func, params },
            )))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// Each interval among `keys` replaced by its span; whether there was one.
fn keyed_by_span<'a>(keys: impl IntoIterator<Item = &'a mut Expr>, schema: &DFSchema) -> bool {
    let mut changed = false;
    for key in keys {
        if is_interval(key, schema) {
            *key = span(key.clone());
            changed = true;
        }
    }
    changed
}

/// `aggregate` keyed by the span of its interval group keys, each showing the member
/// with the most months, then days (see the module's documentation), under the names
/// and in the order of the original output.
fn grouped_by_span(aggregate: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let input_schema = aggregate.input.schema().clone();
    let intervals: Vec<usize> = (0..aggregate.group_expr.len())
        .filter(|&k| is_interval(&aggregate.group_expr[k], &input_schema))
        .collect();
    if aggregate.group_expr.iter().any(|e| match e {
        Expr::GroupingSet(set) => set
            .distinct_expr()
            .iter()
            .any(|e| is_interval(e, &input_schema)),
        _ => false,
    }) {
        return Err(refused(
            "grouping sets over intervals are not supported: PostgreSQL groups equal \
             intervals ('1 mon' and '30 days') together"
                .to_string(),
        ));
    }
    if intervals.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
    }
    let original = aggregate.schema.clone();
    let groups = aggregate.group_expr.len();
    let aggregates = aggregate.aggr_expr.len();
    let mut group_expr = aggregate.group_expr;
    let mut aggr_expr = aggregate.aggr_expr;
    for (n, &k) in intervals.iter().enumerate() {
        let member = group_expr[k].clone();
        let first = Expr::AggregateFunction(AggregateFunction::new_udf(
            first_value_udaf(),
            vec![member.clone()],
            false,
            None,
            vec![member.clone().sort(false, true)],
            None,
        ));
        aggr_expr.push(first.alias(format!("__interval_group_{n}")));
        group_expr[k] = span(member);
    }
    let grouped =
        LogicalPlan::Aggregate(Aggregate::try_new(aggregate.input, group_expr, aggr_expr)?);
    let new_schema = grouped.schema().clone();
    let exprs = original
        .iter()
        .enumerate()
        .map(|(index, (qualifier, field))| {
            let source = match intervals.iter().position(|&k| k == index) {
                Some(n) => groups + aggregates + n,
                None => index,
            };
            let column = Expr::Column(Column::from(new_schema.qualified_field(source)));
            column.alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    Ok(Transformed::yes(LogicalPlan::Projection(
        Projection::try_new(exprs, Arc::new(grouped))?,
    )))
}

/// A range frame's bound over interval keys, over their spans instead: an offset
/// interval's span (spans are linear: the span of `x - offset` is the span of `x` less
/// the offset's).
fn bound_by_span(bound: WindowFrameBound) -> Result<WindowFrameBound> {
    // The planner leaves an offset as text (`0 months 1 days 0 microseconds`).
    let span = |offset: ScalarValue| {
        if offset.is_null() {
            return Ok(offset);
        }
        let ScalarValue::Utf8(Some(text)) = &offset else {
            return Err(refused(format!(
                "the RANGE frame offset {offset} over an interval ORDER BY is not supported"
            )));
        };
        let i = super::interval_input::parse(text)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(ScalarValue::Decimal128(
            Some(span_of(i.months, i.days, i.microseconds * 1000)),
            38,
            0,
        ))
    };
    Ok(match bound {
        WindowFrameBound::Preceding(offset) => WindowFrameBound::Preceding(span(offset)?),
        WindowFrameBound::Following(offset) => WindowFrameBound::Following(span(offset)?),
        WindowFrameBound::CurrentRow => WindowFrameBound::CurrentRow,
    })
}

fn refused(message: String) -> DataFusionError {
    DataFusionError::External(Box::new(SluiceError::not_supported(message)))
}
