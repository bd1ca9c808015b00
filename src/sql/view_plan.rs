//! Planning a materialized view: DataFusion plans and optimizes the view's query;
//! this module translates the optimized logical plan into a dataflow [`Node`] tree of
//! incremental operators, refusing (SQLSTATE 0A000) every plan node it cannot
//! maintain incrementally.
//!
//! Every `LogicalPlan` variant is matched by name, so a DataFusion upgrade that adds
//! one fails to compile here instead of being silently mishandled.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, TableReference};
use datafusion::execution::context::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{Distinct, Expr, ExprSchemable, LogicalPlan, Volatility};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement};

use super::names::reference_name;
use crate::catalog::Relation;
use crate::database::Database;
use crate::dataflow::accumulator::{AggregateKind, AggregateSignature};
use crate::dataflow::aggregate::{Aggregate, AggregateCall};
use crate::dataflow::closing_over_window::{ClosingOverWindow, Reach, Span};
use crate::dataflow::filter::Filter;
use crate::dataflow::graph::Node;
use crate::dataflow::ordered_partitions::OrderKey;
use crate::dataflow::over_window::OverWindow;
use crate::dataflow::project::Project;
use crate::dataflow::session::Session;
use crate::dataflow::timestamp_shift::shift_fixed_intervals;
use crate::dataflow::top_n::{Bound, Ranking, TopN};
use crate::dataflow::watermark::Closing;
use crate::dataflow::workers::Workers;
use crate::error::{Result, SluiceError};
use crate::ml::predict::{calls_predict, is_predict};
use crate::sql::session_functions::bound_of;
use crate::sql::set_operations::{SetOperationAll, SetOperationKind};
use crate::sql::top_n::{rank_bound, ranking_of};
use crate::sql::watermarks::{ColumnWatermarks, Derivation, closing, column_watermark};
use datafusion::arrow::compute::SortOptions;

/// A view's dataflow and what it reads.
#[derive(Debug)]
pub struct ViewPlan {
    /// The operator tree.
    pub graph: Workers,
    /// Names of the relations read, in input-number order.
    pub inputs: Vec<String>,
    /// The view's output schema.
    pub schema: SchemaRef,
    /// Names of the models it calls (`PREDICT`), each bound to its current version.
    pub models: Vec<String>,
    /// Per output column, its watermark (see [`super::watermarks`]).
    pub watermarks: ColumnWatermarks,
    /// True when the view never retracts a row (it reads only sources, row by row).
    pub append_only: bool,
    /// True when an operator emits rows only once they close (`EMIT ON WINDOW CLOSE`
    /// over window functions): the view holds nothing back itself.
    pub closes_itself: bool,
}

/// The session's optimizer without common subexpression elimination: it would hoist
/// the casts DataFusion puts around aggregate arguments (`avg(CAST(v AS DOUBLE))`,
/// `stddev(...)`) into a projection below the aggregate, where the view could no longer
/// see through them to keep integer and decimal aggregates exact. A view evaluates
/// each change's expressions once anyway.
fn view_optimizer(state: &SessionState) -> SessionState {
    let rules = state
        .optimizers()
        .iter()
        .filter(|rule| rule.name() != "common_sub_expression_eliminate")
        .cloned()
        .collect();
    SessionStateBuilder::new_from_existing(state.clone())
        .with_optimizer_rules(rules)
        .build()
}

/// How a view is maintained, from its `WITH` options ([`super::ddl::view_options`]).
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// `EMIT ON WINDOW CLOSE`.
    pub emit_on_close: bool,
    /// The tables its joins read `FOR SYSTEM_TIME AS OF PROCTIME()`
    /// ([`super::temporal_joins`]).
    pub temporal_tables: Vec<String>,
    /// `WITH (workers = n)`: the view runs on n workers (`None`: the server's
    /// default, [`Database::view_workers`]).
    pub workers: Option<usize>,
    /// `WITH (share_subplans = false)` makes it false: each occurrence of a subplan
    /// the query computes twice gets operators of its own
    /// ([`super::shared_subplans`]; RisingWave's `rw_enable_share_plan`).
    pub share_subplans: bool,
}

impl Default for ViewOptions {
    fn default() -> ViewOptions {
        ViewOptions {
            emit_on_close: false,
            temporal_tables: Vec::new(),
            workers: None,
            share_subplans: true,
        }
    }
}

/// Plans `query` as a materialized view maintained as `options` say.
pub async fn plan_view(db: &Database, query: &Query, options: &ViewOptions) -> Result<ViewPlan> {
    // SQL functions' calls become their bodies (only IMMUTABLE ones are allowed).
    let query = super::sql_functions::inline_view(db, query)?;
    let state = db.context().state();
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::Query(
            Box::new(query),
        ))))
        .await
        .map_err(|e| super::windows::explain_error(e.into()))?;
    super::complexity::check_plan_depth(&plan)?;
    let plan = super::integer_literals::as_postgres(plan)?;
    // Before optimizing: the optimizer folds now() into a constant.
    let plan = super::temporal_filters::clock_bounds(plan)?;
    check_deterministic(&plan)?;
    let plan = super::set_operations::set_operations_for_views(plan)?;
    let plan = super::functions::postgres::use_postgres_versions(plan)?;
    super::functions::check_functions(&plan)?;
    let plan = view_optimizer(&state).optimize(&plan)?;
    let plan = super::uncorrelated_subqueries::as_cross_joins(plan)?;
    let (plan, models) = crate::ml::predict::bind_models(plan)?;
    let schema = Arc::new(plan.schema().as_arrow().clone());
    // Subplans computed more than once are computed once. Not where translating a
    // subplan counts something (temporal joins, windows emitting on close): each
    // occurrence must be counted.
    let (plan, shared) = if !options.share_subplans
        || options.emit_on_close
        || !options.temporal_tables.is_empty()
    {
        (plan, HashMap::new())
    } else {
        let plan = super::shared_subplans::align_aggregates(plan)?;
        let shared = super::shared_subplans::repeated_subplans(&plan)?;
        (plan, shared)
    };
    let translator = || Translator {
        db,
        state: &state,
        inputs: Vec::new(),
        watermarks: Derivation::new(db),
        emit_on_close: options.emit_on_close,
        closes_itself: false,
        temporal_tables: options.temporal_tables.clone(),
        temporal_joins: 0,
        shared: &shared,
        built_shared: HashSet::new(),
        next_shared_id: shared.len(),
    };
    let mut first = translator();
    let mut trees = vec![first.translate(&plan)?];
    // Every worker gets its own tree: its operators hold its share of the state.
    for _ in 1..options.workers.unwrap_or_else(|| db.view_workers()) {
        trees.push(translator().translate(&plan)?);
    }
    let graph = Workers::new(trees)?;
    let mut translator = first;
    if translator.temporal_joins < translator.temporal_tables.len() {
        return Err(SluiceError::not_supported(format!(
            "FOR SYSTEM_TIME AS OF PROCTIME() reads a table on the right side of an inner or \
             left join whose left side only appends rows (a source, an APPEND ONLY table, or \
             a view over them); {} is not read that way here",
            options.temporal_tables.join(", ")
        )));
    }
    if translator.closes_itself && !window_on_top(&plan) {
        return Err(SluiceError::not_supported(
            "EMIT ON WINDOW CLOSE over window functions (OVER) needs them in the query's top \
             level, under nothing but projections and WHERE: compute them in a view of their \
             own and read it",
        ));
    }
    let watermarks = translator.watermarks.of(&plan)?;
    let append_only = translator.append_only(&plan);
    Ok(ViewPlan {
        graph,
        inputs: translator.inputs,
        schema,
        models,
        watermarks,
        append_only,
        closes_itself: translator.closes_itself,
    })
}

/// True when only projections, filters and aliases stand above the plan's window
/// functions: nothing that would hold or combine the rows they emit on close.
fn window_on_top(plan: &LogicalPlan) -> bool {
    use LogicalPlan as P;
    match plan {
        P::Projection(p) => window_on_top(&p.input),
        P::Filter(f) => window_on_top(&f.input),
        P::SubqueryAlias(a) => window_on_top(&a.input),
        P::Sort(s) if s.fetch.is_none() => window_on_top(&s.input),
        P::Window(_) => true,
        _ => false,
    }
}

fn unsupported(what: &str) -> SluiceError {
    SluiceError::not_supported(format!(
        "{what} cannot be maintained incrementally, so it is not supported in a materialized view"
    ))
}

/// Refuses functions whose result may change without the input changing (`now()`,
/// `random()`): a maintained result would silently go stale or differ from a
/// recomputation. `PREDICT` is volatile only to keep the optimizer from moving it;
/// views bind its model version and remember its results.
fn check_deterministic(plan: &LogicalPlan) -> Result<()> {
    let mut offender = None;
    plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            expr.apply(|e| {
                if let Expr::ScalarFunction(f) = e
                    && f.func.signature().volatility != Volatility::Immutable
                    && !is_predict(e)
                {
                    offender = Some(f.func.name().to_string());
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(if offender.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    match offender {
        Some(name) if name == "now" => Err(SluiceError::not_supported(
            "now() is not deterministic (its value changes while the data does not); in a \
             materialized view it is supported only compared with a time of the row in WHERE \
             or HAVING (a temporal filter, such as WHERE ts > now() - INTERVAL '1' HOUR)",
        )),
        Some(name) => Err(SluiceError::not_supported(format!(
            "function {name}() is not deterministic (its value can change while the data does not), \
             so it is not supported in a materialized view"
        ))),
        None => Ok(()),
    }
}

struct Translator<'a> {
    db: &'a Database,
    state: &'a SessionState,
    inputs: Vec<String>,
    watermarks: Derivation<'a>,
    /// The view has `EMIT ON WINDOW CLOSE`: window functions emit rows on close.
    emit_on_close: bool,
    /// A window function's operator emits rows on close ([`ClosingOverWindow`]).
    closes_itself: bool,
    /// The tables read `FOR SYSTEM_TIME AS OF PROCTIME()`.
    temporal_tables: Vec<String>,
    /// The temporal joins planned so far.
    temporal_joins: usize,
    /// The subplans the query computes more than once, numbered
    /// ([`super::shared_subplans::repeated_subplans`]).
    shared: &'a HashMap<LogicalPlan, usize>,
    /// The numbers of the shared subplans translated so far.
    built_shared: HashSet<usize>,
    /// The number the next subtree shared by the translation itself gets (a grouping
    /// sets aggregate's input); after those of `shared`.
    next_shared_id: usize,
}

impl Translator<'_> {
    fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = self.state.create_physical_expr(expr.clone(), schema)?;
        shift_fixed_intervals(expr, schema.as_arrow())
    }

    fn input_number(&mut self, reference: &TableReference) -> Result<usize> {
        let name = reference_name(reference).map_err(|_| {
            SluiceError::not_supported(format!(
                "a materialized view can only read tables and views of schema \"public\", not {reference}"
            ))
        })?;
        match self.db.catalog().get(&name) {
            Some(Relation::Table(_) | Relation::View(_) | Relation::Source(_)) => {}
            None => return Err(SluiceError::UndefinedTable(name)),
        }
        Ok(match self.inputs.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                self.inputs.push(name);
                self.inputs.len() - 1
            }
        })
    }

    /// The operator tree computing `plan`: for a subplan the query computes more than
    /// once, the tree the first time, a [`Node::Reuse`] of it the next times.
    fn translate(&mut self, plan: &LogicalPlan) -> Result<Node> {
        let Some(&id) = self.shared.get(plan) else {
            return self.translate_node(plan);
        };
        if !self.built_shared.insert(id) {
            return Ok(Node::Reuse { id });
        }
        let child = Box::new(self.translate_node(plan)?);
        Ok(Node::Shared { id, child })
    }

    /// The operator tree computing `plan`, its inputs translated by [`Self::translate`].
    fn translate_node(&mut self, plan: &LogicalPlan) -> Result<Node> {
        use LogicalPlan as P;
        match plan {
            P::Projection(p) => {
                let child = self.translate(&p.input)?;
                self.projection(p, child)
            }
            P::Filter(f) => {
                if let Some(top_n) = self.top_n_filter(f)? {
                    return Ok(top_n);
                }
                let child = self.translate(&f.input)?;
                let memo = self.needs_memo(plan);
                self.filtered(&f.predicate, f.input.schema(), child, memo)
            }
            P::Aggregate(a) => {
                if let Some((keys, sets)) = super::grouping_sets::grouping_sets(&a.group_expr)? {
                    return self.grouping_sets(a, &keys, sets);
                }
                let child = self.translate(&a.input)?;
                let input_schema = a.input.schema();
                let keys = a
                    .group_expr
                    .iter()
                    .map(|e| self.physical(e, input_schema))
                    .collect::<Result<Vec<_>>>()?;
                let output = Arc::new(a.schema.as_arrow().clone());
                let tiebreak = listing_arguments(&a.aggr_expr);
                let calls = a
                    .aggr_expr
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let field = output.field(a.group_expr.len() + i);
                        let output_type = field.data_type().clone();
                        self.aggregate_call(e, input_schema, output_type, &tiebreak)
                    })
                    .collect::<Result<Vec<_>>>()?;
                // The group keys are the aggregate's first output columns.
                let mut keys_watermarks = self.watermarks.of(plan)?;
                keys_watermarks.truncate(a.group_expr.len());
                let mut aggregate = Aggregate::try_new(keys, calls, output)?
                    .closing_by(closing(self.state, &keys_watermarks)?)
                    .append_only(self.append_only(&a.input));
                if self.needs_memo(plan) {
                    aggregate = aggregate.memoized(input_schema.as_arrow())?;
                }
                Ok(operator(aggregate, child))
            }
            P::Distinct(Distinct::All(input)) => {
                let child = self.translate(input)?;
                let schema = input.schema();
                let keys = schema
                    .columns()
                    .iter()
                    .map(|c| self.physical(&Expr::Column(c.clone()), schema))
                    .collect::<Result<Vec<_>>>()?;
                let output = Arc::new(schema.as_arrow().clone());
                let columns = self.watermarks.of(input)?;
                Ok(operator(
                    Aggregate::try_new(keys, Vec::new(), output)?
                        .closing_by(closing(self.state, &columns)?),
                    child,
                ))
            }
            P::Distinct(Distinct::On(_)) => Err(unsupported("DISTINCT ON")),
            P::TableScan(scan) => {
                if scan.fetch.is_some() {
                    return Err(unsupported("LIMIT"));
                }
                let input = self.input_number(&scan.table_name)?;
                let mut node = Node::Input {
                    input,
                    name: self.inputs[input].clone(),
                    append_only: self.append_only(plan),
                };
                let full = scan.source.schema();
                if let Some(projection) = &scan.projection {
                    let full_df =
                        DFSchema::try_from_qualified_schema(scan.table_name.clone(), &full)?;
                    let exprs = projection
                        .iter()
                        .map(|&i| {
                            let column = Expr::Column(datafusion::common::Column::from(
                                full_df.qualified_field(i),
                            ));
                            self.physical(&column, &full_df)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let fields: Vec<_> =
                        projection.iter().map(|&i| full.field(i).clone()).collect();
                    node = operator(Project::new(exprs, Arc::new(Schema::new(fields))), node);
                }
                for filter in &scan.filters {
                    let memo = calls_predict(filter) && !self.append_only(plan);
                    node = self.filtered(filter, &scan.projected_schema, node, memo)?;
                }
                Ok(node)
            }
            P::SubqueryAlias(alias) => self.translate(&alias.input),
            P::Union(u) => {
                let children = u
                    .inputs
                    .iter()
                    .map(|input| self.translate(input))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Node::Union {
                    children,
                    schema: Arc::new(u.schema.as_arrow().clone()),
                })
            }
            // Rows have no order: an ORDER BY without LIMIT changes nothing.
            P::Sort(sort) => match sort.fetch {
                None => self.translate(&sort.input),
                Some(fetch) => self.top_n_sort(sort, 0, fetch as u64),
            },
            P::Limit(limit) => self.limit(limit),
            P::EmptyRelation(empty) => {
                let rows = usize::from(empty.produce_one_row);
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                let schema = Arc::new(empty.schema.as_arrow().clone());
                Ok(Node::Constant(RecordBatch::try_new_with_options(
                    schema,
                    vec![],
                    &options,
                )?))
            }
            P::Values(values) => Ok(Node::Constant(self.values(values)?)),
            P::Join(_) | P::Window(_) if self.needs_memo(plan) => Err(SluiceError::not_supported(
                "PREDICT in a join condition or a SESSION window over a table or view that can \
                 change is not supported in a materialized view (a model's result for a row may \
                 depend on the rows predicted with it, so it must be remembered); compute \
                 PREDICT in a subquery's select list instead",
            )),
            P::Join(join) => self.join(join),
            P::Window(window) if is_session(window) => self.session(window),
            P::Window(window) => self.over_window(window),
            P::Subquery(_) => Err(unsupported("a correlated subquery")),
            P::Unnest(_) => Err(unsupported("UNNEST")),
            P::RecursiveQuery(_) => Err(unsupported("WITH RECURSIVE")),
            P::Repartition(_) => Err(unsupported("a repartition")),
            P::Extension(e) => match e.node.as_any().downcast_ref::<SetOperationAll>() {
                Some(operation) => self.set_operation_all(operation),
                None => Err(unsupported(&format!("plan node {}", e.node.name()))),
            },
            P::Statement(_)
            | P::Explain(_)
            | P::Analyze(_)
            | P::Dml(_)
            | P::Ddl(_)
            | P::Copy(_)
            | P::DescribeTable(_) => Err(SluiceError::not_supported(
                "a materialized view must be defined by a query",
            )),
        }
    }

    /// An aggregate over grouping sets (see [`super::grouping_sets`]): per set, an
    /// aggregate by the set's keys, padded to the full row with NULLs and the set's
    /// grouping id; the sets' rows together.
    fn grouping_sets(
        &mut self,
        a: &datafusion::logical_expr::Aggregate,
        keys: &[Expr],
        sets: Vec<super::grouping_sets::GroupingSetPlan>,
    ) -> Result<Node> {
        use datafusion::physical_expr::expressions::{Column, Literal};
        use datafusion::scalar::ScalarValue;
        let input_schema = a.input.schema();
        let output = Arc::new(a.schema.as_arrow().clone());
        // The output: keys, the grouping id, then the aggregates.
        let aggregates_start = keys.len() + 1;
        let tiebreak = listing_arguments(&a.aggr_expr);
        // The sets' aggregates read one input, built once and shared (a join under a
        // ROLLUP keeps its state once, not once per set).
        let shared_input = self.next_shared_id;
        self.next_shared_id += 1;
        let mut input = Some(self.translate(&a.input)?);
        let mut children = Vec::with_capacity(sets.len());
        for set in sets {
            let grouped: Vec<usize> = (0..keys.len()).filter(|&k| set.grouped[k]).collect();
            let mut fields: Vec<_> = grouped.iter().map(|&k| output.field(k).clone()).collect();
            fields.extend(
                output.fields()[aggregates_start..]
                    .iter()
                    .map(|f| f.as_ref().clone()),
            );
            let set_schema = Arc::new(Schema::new(fields));
            let set_keys = grouped
                .iter()
                .map(|&k| self.physical(&keys[k], input_schema))
                .collect::<Result<Vec<_>>>()?;
            let calls = a
                .aggr_expr
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let output_type = output.field(aggregates_start + i).data_type().clone();
                    self.aggregate_call(e, input_schema, output_type, &tiebreak)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut aggregate = Aggregate::try_new(set_keys, calls, set_schema.clone())?
                .append_only(self.append_only(&a.input));
            if self.needs_memo(&LogicalPlan::Aggregate(a.clone())) {
                aggregate = aggregate.memoized(input_schema.as_arrow())?;
            }
            let reads = match input.take() {
                Some(child) => Node::Shared {
                    id: shared_input,
                    child: Box::new(child),
                },
                None => Node::Reuse { id: shared_input },
            };
            let child = operator(aggregate, reads);
            // Pad to the full row.
            let mut exprs: Vec<Arc<dyn PhysicalExpr>> = Vec::with_capacity(output.fields().len());
            for k in 0..keys.len() {
                exprs.push(match grouped.iter().position(|&g| g == k) {
                    Some(i) => Arc::new(Column::new(set_schema.field(i).name(), i)),
                    None => Arc::new(Literal::new(ScalarValue::try_from(
                        output.field(k).data_type(),
                    )?)),
                });
            }
            exprs.push(Arc::new(Literal::new(set.grouping_id)));
            for i in 0..a.aggr_expr.len() {
                let column = grouped.len() + i;
                exprs.push(Arc::new(Column::new(
                    set_schema.field(column).name(),
                    column,
                )));
            }
            children.push(operator(Project::new(exprs, output.clone()), child));
        }
        Ok(Node::Union {
            children,
            schema: output,
        })
    }

    /// `child`'s rows that pass `predicate` (over `schema`; `memo`: remembering what
    /// each row gave): the conjuncts comparing rows with the clock as a temporal
    /// filter ([`super::temporal_filters`]), the others as a filter below it.
    fn filtered(
        &self,
        predicate: &Expr,
        schema: &DFSchema,
        child: Node,
        memo: bool,
    ) -> Result<Node> {
        use super::temporal_filters::{clock_bound, has_clock_bound};
        use crate::dataflow::temporal_filter::{ClockBound, TemporalFilter};
        let mut bounds = Vec::new();
        let mut rest = Vec::new();
        for conjunct in split_conjunction(predicate) {
            match clock_bound(conjunct) {
                Some((kind, exclusive, value)) => bounds.push(ClockBound {
                    kind,
                    value: self.physical(value, schema)?,
                    exclusive,
                }),
                None => rest.push(conjunct.clone()),
            }
        }
        let mut node = child;
        if let Some(rest) = conjunction(rest) {
            if has_clock_bound(&rest) {
                return Err(unsupported("a comparison with now() under OR or NOT"));
            }
            let mut filter = Filter::new(self.physical(&rest, schema)?);
            if memo {
                filter = filter.memoized(schema.as_arrow())?;
            }
            node = operator(filter, node);
        }
        if !bounds.is_empty() {
            let schema = Arc::new(schema.as_arrow().clone());
            node = operator(TemporalFilter::try_new(bounds, schema)?, node);
        }
        Ok(node)
    }

    /// True when `plan`'s rows never retract: it reads only sources (append-only)
    /// through row-by-row nodes, none of which is a temporal filter (its rows leave
    /// with the clock). Conservative: anything else may retract.
    fn append_only(&self, plan: &LogicalPlan) -> bool {
        use super::temporal_filters::has_clock_bound;
        use LogicalPlan as P;
        if plan.expressions().iter().any(has_clock_bound)
            || matches!(plan, P::TableScan(scan) if scan.filters.iter().any(has_clock_bound))
        {
            return false;
        }
        match plan {
            P::TableScan(scan) => reference_name(&scan.table_name).is_ok_and(|name| {
                match self.db.catalog().get(&name) {
                    Some(Relation::Source(_)) => true,
                    Some(Relation::Table(table)) => table.append_only(),
                    _ => false,
                }
            }),
            P::Projection(_)
            | P::Filter(_)
            | P::SubqueryAlias(_)
            | P::Sort(_)
            | P::Union(_)
            | P::Values(_)
            | P::EmptyRelation(_) => plan.inputs().into_iter().all(|i| self.append_only(i)),
            // A temporal join never revisits a row it joined.
            P::Join(join) => {
                matches!(
                    join.join_type,
                    datafusion::common::JoinType::Inner | datafusion::common::JoinType::Left
                ) && self.temporal_table(&join.right).is_some()
                    && self.append_only(&join.left)
            }
            _ => false,
        }
    }

    /// True when `plan`'s own expressions call `PREDICT` over an input that may
    /// retract rows: its operator must remember what each row gave
    /// ([`crate::dataflow::memo`]), since a recomputation may differ.
    fn needs_memo(&self, plan: &LogicalPlan) -> bool {
        plan.expressions().iter().any(calls_predict)
            && !plan.inputs().into_iter().all(|i| self.append_only(i))
    }

    /// A projection of `child`'s rows.
    fn projection(
        &mut self,
        p: &datafusion::logical_expr::Projection,
        child: Node,
    ) -> Result<Node> {
        let exprs = p
            .expr
            .iter()
            .map(|e| self.physical(e, p.input.schema()))
            .collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(p.schema.as_arrow().clone());
        let mut project = Project::new(exprs, schema);
        if self.needs_memo(&LogicalPlan::Projection(p.clone())) {
            project = project.memoized(p.input.schema().as_arrow())?;
        }
        Ok(operator(project, child))
    }

    /// A filter bounding a ranking window function (see [`super::top_n`]): the
    /// window's input through a top-N that numbers the rows, then the projection
    /// between the two, then what is left of the filter. `None` when `filter` is not
    /// one.
    fn top_n_filter(&mut self, filter: &datafusion::logical_expr::Filter) -> Result<Option<Node>> {
        use LogicalPlan as P;
        let (projection, window) = match filter.input.as_ref() {
            P::Window(window) => (None, window),
            P::Projection(p) => match p.input.as_ref() {
                P::Window(window) => (Some(p), window),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let Some((ranking, function)) = ranking_of(window) else {
            return Ok(None);
        };
        // The rank is the window's last column.
        let rank = window.input.schema().fields().len();
        let is_rank = |e: &Expr| -> bool {
            let Expr::Column(column) = e else {
                return false;
            };
            let Ok(i) = filter.input.schema().index_of_column(column) else {
                return false;
            };
            match projection {
                None => i == rank,
                Some(p) => matches!(
                    p.expr.get(i).map(strip_alias),
                    Some(Expr::Column(c)) if window.schema.index_of_column(c).ok() == Some(rank)
                ),
            }
        };
        let mut fetch: Option<u64> = None;
        let mut rest = Vec::new();
        for conjunct in split_conjunction(&filter.predicate) {
            match rank_bound(conjunct, &is_rank) {
                Some((n, keep)) => {
                    fetch = Some(fetch.map_or(n, |f| f.min(n)));
                    if keep {
                        rest.push(conjunct.clone());
                    }
                }
                None => rest.push(conjunct.clone()),
            }
        }
        let Some(fetch) = fetch else {
            return Ok(None);
        };
        let input = window.input.schema();
        let child = self.translate(&window.input)?;
        let partition = function
            .params
            .partition_by
            .iter()
            .map(|e| self.physical(e, input))
            .collect::<Result<Vec<_>>>()?;
        let order = self.sort_keys(&function.params.order_by, input)?;
        let bound = Bound {
            ranking,
            skip: 0,
            fetch,
        };
        let top_n = TopN::try_new(
            input.as_arrow(),
            partition,
            order,
            bound,
            true,
            Arc::new(window.schema.as_arrow().clone()),
        )?
        .append_only(self.append_only(&window.input));
        let mut node = operator(top_n, child);
        if let Some(p) = projection {
            node = self.projection(p, node)?;
        }
        if let Some(predicate) = conjunction(rest) {
            let predicate = self.physical(&predicate, filter.input.schema())?;
            node = operator(Filter::new(predicate), node);
        }
        Ok(Some(node))
    }

    /// Sort keys as physical expressions with their directions.
    fn sort_keys(
        &self,
        keys: &[datafusion::logical_expr::SortExpr],
        schema: &DFSchema,
    ) -> Result<Vec<OrderKey>> {
        keys.iter()
            .map(|key| {
                let options = SortOptions {
                    descending: !key.asc,
                    nulls_first: key.nulls_first,
                };
                Ok((self.physical(&key.expr, schema)?, options))
            })
            .collect()
    }

    /// `ORDER BY ... LIMIT fetch OFFSET skip`: the first rows in that order.
    fn top_n_sort(
        &mut self,
        sort: &datafusion::logical_expr::Sort,
        skip: u64,
        fetch: u64,
    ) -> Result<Node> {
        let input = sort.input.schema();
        let child = self.translate(&sort.input)?;
        let order = self.sort_keys(&sort.expr, input)?;
        let bound = Bound {
            ranking: Ranking::RowNumber,
            skip,
            fetch,
        };
        let top_n = TopN::try_new(
            input.as_arrow(),
            Vec::new(),
            order,
            bound,
            false,
            Arc::new(input.as_arrow().clone()),
        )?
        .append_only(self.append_only(&sort.input));
        Ok(operator(top_n, child))
    }

    /// `LIMIT` / `OFFSET`: over an `ORDER BY`, a top-N; alone, it picks arbitrary rows
    /// (refused).
    fn limit(&mut self, limit: &datafusion::logical_expr::Limit) -> Result<Node> {
        use datafusion::logical_expr::{FetchType, SkipType};
        let LogicalPlan::Sort(sort) = limit.input.as_ref() else {
            return Err(SluiceError::not_supported(
                "LIMIT without ORDER BY picks arbitrary rows, so it is not supported in a \
                 materialized view; add an ORDER BY",
            ));
        };
        let (SkipType::Literal(skip), FetchType::Literal(Some(fetch))) =
            (limit.get_skip_type()?, limit.get_fetch_type()?)
        else {
            return Err(SluiceError::not_supported(
                "OFFSET without LIMIT, or a LIMIT that is not a constant, is not supported \
                 in a materialized view",
            ));
        };
        self.top_n_sort(sort, skip as u64, fetch as u64)
    }

    /// `INTERSECT ALL` / `EXCEPT ALL`: a join on every column, NULLs equal, that
    /// counts each row's copies on both sides.
    fn set_operation_all(&mut self, operation: &SetOperationAll) -> Result<Node> {
        use crate::dataflow::join::{Join, JoinKind};
        use datafusion::physical_expr::expressions::Column;
        let left = self.translate(&operation.left)?;
        let right = self.translate(&operation.right)?;
        let (left_schema, right_schema) = (
            operation.left.schema().as_arrow(),
            operation.right.schema().as_arrow(),
        );
        let keys = left_schema
            .fields()
            .iter()
            .zip(right_schema.fields())
            .enumerate()
            .map(|(i, (l, r))| {
                (
                    Arc::new(Column::new(l.name(), i)) as Arc<dyn PhysicalExpr>,
                    Arc::new(Column::new(r.name(), i)) as Arc<dyn PhysicalExpr>,
                )
            })
            .collect();
        let kind = match operation.kind {
            SetOperationKind::IntersectAll => JoinKind::IntersectAll,
            SetOperationKind::ExceptAll => JoinKind::ExceptAll,
        };
        let join = Join::try_new(
            kind,
            left_schema,
            right_schema,
            keys,
            None,
            Arc::new(left_schema.clone()),
        )?;
        Ok(Node::Operator {
            op: Box::new(join),
            children: vec![left, right],
        })
    }

    /// A join. A right join is planned as a left join with the inputs swapped, then
    /// its columns put back in order; right semi, anti and mark joins are left ones
    /// with the inputs swapped.
    fn join(&mut self, join: &datafusion::logical_expr::Join) -> Result<Node> {
        use crate::dataflow::join::JoinKind;
        use datafusion::common::{JoinType, NullEquality};
        let (kind, swapped) = match join.join_type {
            JoinType::Inner => (JoinKind::Inner, false),
            JoinType::LeftSemi => (JoinKind::LeftSemi, false),
            JoinType::RightSemi => (JoinKind::LeftSemi, true),
            JoinType::LeftAnti if join.null_aware => (JoinKind::LeftNotIn, false),
            JoinType::LeftAnti => (JoinKind::LeftAnti, false),
            JoinType::RightAnti => (JoinKind::LeftAnti, true),
            JoinType::LeftMark => (JoinKind::LeftMark, false),
            JoinType::RightMark => (JoinKind::LeftMark, true),
            JoinType::Left => (JoinKind::LeftOuter, false),
            JoinType::Right => (JoinKind::LeftOuter, true),
            JoinType::Full => (JoinKind::FullOuter, false),
        };
        if join
            .filter
            .as_ref()
            .is_some_and(super::temporal_filters::has_clock_bound)
        {
            return Err(unsupported(
                "a comparison with now() over the columns of both sides of a join",
            ));
        }
        if join.null_aware
            && (kind != JoinKind::LeftNotIn || join.on.len() != 1 || join.filter.is_some())
        {
            return Err(SluiceError::not_supported(
                "this NOT IN (subquery) is not supported in a materialized view: only an \
                 uncorrelated subquery of one column is; write NOT EXISTS instead",
            ));
        }
        let temporal = self.temporal(join)?;
        let (first, second) = if swapped {
            (&join.right, &join.left)
        } else {
            (&join.left, &join.right)
        };
        let first_node = self.translate(first)?;
        let second_node = self.translate(second)?;
        let keys = join
            .on
            .iter()
            .map(|(l, r)| {
                let (a, b) = if swapped { (r, l) } else { (l, r) };
                Ok((
                    self.physical(a, first.schema())?,
                    self.physical(b, second.schema())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // The condition reads a pair: the first input's columns, then the second's.
        let pair = first.schema().join(second.schema())?;
        let filter = match &join.filter {
            Some(f) => Some(self.physical(f, &pair)?),
            None => None,
        };
        let fields = join.schema.as_arrow().fields().clone();
        let left_width = join.left.schema().fields().len();
        let output = if swapped && kind == JoinKind::LeftOuter {
            Schema::new(
                fields[left_width..]
                    .iter()
                    .chain(&fields[..left_width])
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        } else {
            join.schema.as_arrow().clone()
        };
        let mut op = crate::dataflow::join::Join::try_new(
            kind,
            first.schema().as_arrow(),
            second.schema().as_arrow(),
            keys,
            filter,
            Arc::new(output),
        )?;
        if join.null_equality == NullEquality::NullEqualsNull {
            op = op.matching_nulls();
        }
        if temporal {
            op = op.temporal()?;
            self.temporal_joins += 1;
        } else if !join.null_aware && join.null_equality != NullEquality::NullEqualsNull {
            op = self.expiring(join, op, swapped)?;
        }
        let node = Node::Operator {
            op: Box::new(op),
            children: vec![first_node, second_node],
        };
        // Only the pairs of a right join come out with the sides in the wrong order.
        if !swapped || kind != JoinKind::LeftOuter {
            return Ok(node);
        }
        let right_width = fields.len() - left_width;
        let exprs = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let from = if i < left_width {
                    right_width + i
                } else {
                    i - left_width
                };
                Arc::new(datafusion::physical_expr::expressions::Column::new(
                    f.name(),
                    from,
                )) as Arc<dyn PhysicalExpr>
            })
            .collect();
        let schema = Arc::new(join.schema.as_arrow().clone());
        Ok(operator(Project::new(exprs, schema), node))
    }

    /// `op` forgetting the stored rows that the watermark frees (see
    /// [`super::join_expiry`]); `swapped`: `op`'s left input is the join's right.
    fn expiring(
        &mut self,
        join: &datafusion::logical_expr::Join,
        mut op: crate::dataflow::join::Join,
        swapped: bool,
    ) -> Result<crate::dataflow::join::Join> {
        use super::join_expiry::{Inputs, SideExpiry, derive};
        use crate::dataflow::join::{Expiry, JoinSide};
        let (left, right) = (
            self.watermarks.of(&join.left)?,
            self.watermarks.of(&join.right)?,
        );
        let expiry = derive(&Inputs {
            join,
            left: &left,
            right: &right,
            left_append_only: self.append_only(&join.left),
            right_append_only: self.append_only(&join.right),
        });
        let (first, second) = match swapped {
            false => (JoinSide::Left, JoinSide::Right),
            true => (JoinSide::Right, JoinSide::Left),
        };
        for (side, freed) in [(first, expiry.left), (second, expiry.right)] {
            let Some(SideExpiry {
                column,
                bound,
                late,
            }) = freed
            else {
                continue;
            };
            let late = late
                .iter()
                .map(|(i, w)| Ok((*i, column_watermark(self.state, w)?)))
                .collect::<Result<Vec<_>>>()?;
            let Some(late) = Closing::new(late) else {
                continue;
            };
            let expiry = Expiry::new(column, column_watermark(self.state, &bound)?);
            op = op.expiring(side, expiry, late)?;
        }
        Ok(op)
    }

    /// Whether `join` is a temporal join: its right side reads a table `FOR SYSTEM_TIME
    /// AS OF PROCTIME()` ([`super::temporal_joins`]). Refused where such a table is
    /// read otherwise than as the right side of an inner or left join of rows that
    /// only append.
    fn temporal(&self, join: &datafusion::logical_expr::Join) -> Result<bool> {
        use datafusion::common::JoinType;
        if self.temporal_table(&join.left).is_some() {
            return Err(SluiceError::not_supported(
                "FOR SYSTEM_TIME AS OF PROCTIME() on the left side of a join: the table a \
                 temporal join looks rows up in goes on its right side",
            ));
        }
        let Some(table) = self.temporal_table(&join.right) else {
            return Ok(false);
        };
        if !matches!(self.db.catalog().get(&table), Some(Relation::Table(_))) {
            return Err(SluiceError::not_supported(format!(
                "FOR SYSTEM_TIME AS OF PROCTIME() over \"{table}\", which is not a table: \
                 a temporal join looks rows up in a table"
            )));
        }
        if !matches!(join.join_type, JoinType::Inner | JoinType::Left) || join.null_aware {
            return Err(SluiceError::not_supported(format!(
                "a {} temporal join: only inner and left joins read a table FOR SYSTEM_TIME \
                 AS OF PROCTIME()",
                join.join_type
            )));
        }
        if !self.append_only(&join.left) {
            return Err(SluiceError::not_supported(
                "a temporal join whose left side may update or delete rows: each left row is \
                 joined with the table as it was when the row came, which a retraction could \
                 not find again; read a source, an APPEND ONLY table or a view over them",
            ));
        }
        Ok(true)
    }

    /// The temporal table `plan` reads, through projections, filters and aliases.
    fn temporal_table(&self, plan: &LogicalPlan) -> Option<String> {
        use LogicalPlan as P;
        match plan {
            P::Projection(p) => self.temporal_table(&p.input),
            P::Filter(f) => self.temporal_table(&f.input),
            P::SubqueryAlias(a) => self.temporal_table(&a.input),
            P::TableScan(scan) => reference_name(&scan.table_name)
                .ok()
                .filter(|name| self.temporal_tables.contains(name)),
            _ => None,
        }
    }

    /// Window functions `OVER (PARTITION BY ... ORDER BY ...)`, all over the same
    /// partition and order (DataFusion makes one `Window` node per partition and
    /// order), evaluated per touched partition ([`OverWindow`]).
    fn over_window(&mut self, window: &datafusion::logical_expr::Window) -> Result<Node> {
        use datafusion::physical_planner::create_window_expr;
        let mut keys = None;
        for expr in &window.window_expr {
            let Expr::WindowFunction(f) = strip_alias(expr) else {
                return Err(unsupported(&format!("window expression {expr}")));
            };
            let these = (&f.params.partition_by, &f.params.order_by);
            if *keys.get_or_insert(these) != these {
                return Err(unsupported(
                    "window functions with different PARTITION BY or ORDER BY in one query level",
                ));
            }
        }
        let Some((partition_by, order_by)) = keys else {
            return Err(unsupported("a window without functions"));
        };
        let input = window.input.schema();
        let functions = window
            .window_expr
            .iter()
            .map(|e| {
                Ok(create_window_expr(
                    e,
                    input,
                    self.state.execution_props(),
                    &Default::default(),
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        let partition = partition_by
            .iter()
            .map(|e| self.physical(e, input))
            .collect::<Result<Vec<_>>>()?;
        let order = self.sort_keys(order_by, input)?;
        let child = self.translate(&window.input)?;
        if self.emit_on_close {
            let op = self.closing_over_window(window, order_by, partition, order, functions)?;
            return Ok(operator(op, child));
        }
        let op = OverWindow::try_new(
            input.as_arrow(),
            partition,
            order,
            functions,
            Arc::new(window.schema.as_arrow().clone()),
        )?;
        Ok(operator(op, child))
    }

    /// Window functions with `EMIT ON WINDOW CLOSE`: ordered first by a time with a
    /// watermark, each row emitted once its values are final ([`ClosingOverWindow`]).
    fn closing_over_window(
        &mut self,
        window: &datafusion::logical_expr::Window,
        order_by: &[datafusion::logical_expr::SortExpr],
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<OrderKey>,
        functions: Vec<Arc<dyn datafusion::physical_plan::WindowExpr>>,
    ) -> Result<ClosingOverWindow> {
        let refuse = |why: &str| {
            SluiceError::not_supported(format!(
                "EMIT ON WINDOW CLOSE over window functions (OVER) {why}"
            ))
        };
        if self.closes_itself {
            return Err(refuse(
                "needs all of them over the same PARTITION BY and ORDER BY, in one query level",
            ));
        }
        let time = order_by
            .first()
            .filter(|key| key.asc && !key.nulls_first)
            .ok_or_else(|| {
                refuse(
                    "needs ORDER BY a time column with a watermark, ascending (NULLS LAST), as \
                     the first key: rows close in that order",
                )
            })?;
        let watermark = self
            .watermarks
            .of_expr(&time.expr, &window.input)?
            .ok_or_else(|| {
                refuse(&format!(
                    "needs its first ORDER BY key to close by the watermark (the WATERMARK \
                     column of a source or APPEND ONLY table, window_start, ...); {} does not",
                    time.expr
                ))
            })?;
        let closing = column_watermark(self.state, &watermark)?;
        let mut reach = Reach {
            back: Some(Span::default()),
            ahead: Span::default(),
        };
        for expr in &window.window_expr {
            if let Expr::WindowFunction(f) = strip_alias(expr) {
                reach = reach.max(super::over_reach::reach(f)?);
            }
        }
        self.closes_itself = true;
        ClosingOverWindow::try_new(
            window.input.schema().as_arrow(),
            partition,
            order,
            closing,
            reach,
            functions,
            Arc::new(window.schema.as_arrow().clone()),
        )
    }

    /// The session window functions that `SESSION(...)` is rewritten to, all over the
    /// same partition, time and gap.
    fn session(&mut self, window: &datafusion::logical_expr::Window) -> Result<Node> {
        use datafusion::logical_expr::expr::WindowFunctionDefinition;
        use datafusion::scalar::ScalarValue;
        let mut shape: Option<(&Vec<Expr>, &Vec<Expr>)> = None;
        let mut bounds = Vec::new();
        for expr in &window.window_expr {
            let Expr::WindowFunction(f) = strip_alias(expr) else {
                return Err(unsupported("a window function (OVER)"));
            };
            let bound = match &f.fun {
                WindowFunctionDefinition::WindowUDF(udf) => bound_of(udf.name()),
                WindowFunctionDefinition::AggregateUDF(_) => None,
            }
            .ok_or_else(|| unsupported("a window function (OVER)"))?;
            let params = &f.params;
            if !params.order_by.is_empty() || params.filter.is_some() {
                return Err(unsupported("a window function (OVER)"));
            }
            match shape {
                None => shape = Some((&params.partition_by, &params.args)),
                Some(s) if s == (&params.partition_by, &params.args) => {}
                Some(_) => {
                    return Err(unsupported(
                        "SESSION windows of different shapes in one query level",
                    ));
                }
            }
            bounds.push(bound);
        }
        let Some((partition_by, args)) = shape else {
            return Err(unsupported("a window function (OVER)"));
        };
        let (Some(time), Some(Expr::Literal(ScalarValue::Int64(Some(gap)), _))) =
            (args.first(), args.get(1))
        else {
            return Err(unsupported("a SESSION window whose gap is not a constant"));
        };
        let child = self.translate(&window.input)?;
        let input_schema = window.input.schema();
        let keys = partition_by
            .iter()
            .map(|e| self.physical(e, input_schema))
            .collect::<Result<Vec<_>>>()?;
        let time_watermark = self.watermarks.of_expr(time, &window.input)?;
        let time = self.physical(time, input_schema)?;
        let mut op = Session::try_new(
            keys,
            time,
            *gap,
            bounds,
            &Arc::new(input_schema.as_arrow().clone()),
            Arc::new(window.schema.as_arrow().clone()),
        )?;
        if let Some(w) = time_watermark {
            op = op.closing_by(column_watermark(self.state, &w)?);
        }
        Ok(operator(op, child))
    }

    /// One aggregate call; `tiebreak` orders the tied rows of listing aggregates (see
    /// [`listing_arguments`]).
    fn aggregate_call(
        &self,
        expr: &Expr,
        input_schema: &DFSchema,
        output_type: DataType,
        tiebreak: &[Expr],
    ) -> Result<AggregateCall> {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = strip_alias(expr) else {
            return Err(unsupported(&format!("aggregate expression {expr}")));
        };
        if let Some(kind) = listing_kind(func.name()) {
            return self.listing_call(kind, params, input_schema, output_type, tiebreak);
        }
        if !params.order_by.is_empty() {
            return Err(unsupported(
                "an ordered aggregate (ORDER BY inside the call) other than string_agg, \
                 array_agg, first_value and last_value",
            ));
        }
        let kind = match (func.name(), params.distinct) {
            ("count", false) => AggregateKind::Count,
            ("count", true) => AggregateKind::CountDistinct,
            // Exactly: the exact count is within any approximation's error.
            ("approx_distinct", _) => AggregateKind::CountDistinct,
            ("sum", false) => AggregateKind::Sum,
            ("avg", false) => AggregateKind::Avg,
            ("min" | "max", _) if func.name() == "min" => AggregateKind::Min,
            ("min" | "max", _) => AggregateKind::Max,
            // DISTINCT changes neither: they only ask whether some or all values are true.
            ("bool_and", _) => AggregateKind::BoolAnd,
            ("bool_or", _) => AggregateKind::BoolOr,
            ("var" | "var_samp" | "var_sample", false) => AggregateKind::VarSamp,
            ("var_pop" | "var_population", false) => AggregateKind::VarPop,
            ("stddev" | "stddev_samp", false) => AggregateKind::StddevSamp,
            ("stddev_pop", false) => AggregateKind::StddevPop,
            (super::scalar_subqueries::SINGLE_VALUE, _) => {
                return Err(SluiceError::not_supported(
                    "a scalar subquery that is not an aggregate (it could give several rows) \
                     is not supported in materialized views; write it with an aggregate, \
                     e.g. (SELECT max(x) FROM t WHERE t.k = outer.k)",
                ));
            }
            (name, distinct) => {
                let distinct = if distinct { "DISTINCT " } else { "" };
                return Err(SluiceError::not_supported(format!(
                    "aggregate {name}({distinct}...) is not supported in materialized views; \
                     supported: count, count(DISTINCT), sum, avg, min, max, bool_and, bool_or, \
                     var_samp, var_pop, stddev_samp, stddev_pop, string_agg, array_agg, \
                     first_value, last_value, approx_distinct"
                )));
            }
        };
        let arg = match params.args.as_slice() {
            [arg] => arg,
            _ => {
                return Err(unsupported(&format!(
                    "{}() with {} arguments",
                    func.name(),
                    params.args.len()
                )));
            }
        };
        // Where DataFusion casts the argument to a float, aggregates that keep the
        // values exactly (see `AggregateKind::keeps_exactly`) take them before the cast.
        let arg = match arg {
            Expr::Cast(cast)
                if cast.field.data_type().is_floating()
                    && kind.keeps_exactly(&cast.expr.get_type(input_schema)?) =>
            {
                cast.expr.as_ref()
            }
            _ => arg,
        };
        let input_type = arg.get_type(input_schema)?;
        let signature = AggregateSignature::try_new(kind, &input_type, output_type)?;
        let filter = match &params.filter {
            Some(f) => Some(self.physical(f, input_schema)?),
            None => None,
        };
        Ok(AggregateCall {
            signature,
            args: vec![self.physical(arg, input_schema)?],
            filter,
        })
    }

    /// `string_agg`, `array_agg`, `first_value` or `last_value`, with their `ORDER BY`
    /// and `DISTINCT` (see [`AggregateKind::is_listing`]).
    fn listing_call(
        &self,
        kind: AggregateKind,
        params: &datafusion::logical_expr::expr::AggregateFunctionParams,
        input_schema: &DFSchema,
        output_type: DataType,
        tiebreak: &[Expr],
    ) -> Result<AggregateCall> {
        use datafusion::logical_expr::expr::NullTreatment;
        let ignore_nulls = params.null_treatment == Some(NullTreatment::IgnoreNulls);
        let order = self.sort_keys(&params.order_by, input_schema)?;
        let order_types = order
            .iter()
            .map(|(e, options)| Ok((e.data_type(input_schema.as_arrow())?, *options)))
            .collect::<Result<Vec<_>>>()?;
        // DISTINCT keeps each value once: tied rows are equal in what is kept.
        let tiebreak = if params.distinct { &[][..] } else { tiebreak };
        let types = |exprs: &[Expr]| {
            exprs
                .iter()
                .map(|a| Ok(a.get_type(input_schema)?))
                .collect::<Result<Vec<_>>>()
        };
        let signature = AggregateSignature::listing(
            kind,
            &order_types,
            &types(tiebreak)?,
            &types(&params.args)?,
            (params.distinct, ignore_nulls),
            output_type,
        )?;
        let mut args: Vec<Arc<dyn PhysicalExpr>> = order.into_iter().map(|(e, _)| e).collect();
        for arg in tiebreak.iter().chain(&params.args) {
            args.push(self.physical(arg, input_schema)?);
        }
        let filter = match &params.filter {
            Some(f) => Some(self.physical(f, input_schema)?),
            None => None,
        };
        Ok(AggregateCall {
            signature,
            args,
            filter,
        })
    }

    /// Evaluates a `VALUES` list (constant expressions) into one batch.
    fn values(&self, values: &datafusion::logical_expr::Values) -> Result<RecordBatch> {
        let schema = Arc::new(values.schema.as_arrow().clone());
        let empty = DFSchema::empty();
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); schema.fields().len()];
        for row in &values.values {
            for (i, expr) in row.iter().enumerate() {
                let value = self
                    .physical(expr, &empty)?
                    .evaluate(&one_row)?
                    .into_array(1)?;
                let value = datafusion::arrow::compute::cast(&value, schema.field(i).data_type())?;
                columns[i].push(value);
            }
        }
        let columns = columns
            .iter()
            .map(|parts| {
                let refs: Vec<&dyn datafusion::arrow::array::Array> =
                    parts.iter().map(|a| a.as_ref()).collect();
                datafusion::arrow::compute::concat(&refs)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(values.values.len()));
        Ok(RecordBatch::try_new_with_options(
            schema, columns, &options,
        )?)
    }
}

/// `expr` without its aliases.
/// The listing aggregate named `name` ([`AggregateKind::is_listing`]).
fn listing_kind(name: &str) -> Option<AggregateKind> {
    match name {
        "string_agg" => Some(AggregateKind::StringAgg),
        "array_agg" => Some(AggregateKind::ArrayAgg),
        "first_value" => Some(AggregateKind::FirstValue),
        "last_value" => Some(AggregateKind::LastValue),
        _ => None,
    }
}

/// The arguments of the listing aggregates among `calls` (string_agg, array_agg,
/// first_value, last_value), each once: the columns that order their tied rows, the
/// same way in each, so that several of them over one `ORDER BY` list the rows in one
/// order (and `DISTINCT ON`'s `first_value` calls all take one row).
fn listing_arguments(calls: &[Expr]) -> Vec<Expr> {
    let mut arguments: Vec<Expr> = Vec::new();
    for call in calls {
        if let Expr::AggregateFunction(AggregateFunction { func, params }) = strip_alias(call) {
            let listing = listing_kind(func.name()).is_some();
            for arg in params.args.iter().filter(|_| listing && !params.distinct) {
                if !arguments.contains(arg) {
                    arguments.push(arg.clone());
                }
            }
        }
    }
    arguments
}

/// True when `window` computes `SESSION(...)`'s window functions (its first one is
/// one of them; [`Translator::session`] checks the rest).
fn is_session(window: &datafusion::logical_expr::Window) -> bool {
    use datafusion::logical_expr::expr::WindowFunctionDefinition;
    window.window_expr.first().is_some_and(|e| {
        matches!(strip_alias(e), Expr::WindowFunction(f)
            if matches!(&f.fun, WindowFunctionDefinition::WindowUDF(udf) if bound_of(udf.name()).is_some()))
    })
}

pub(super) fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => strip_alias(&alias.expr),
        other => other,
    }
}

fn operator(op: impl crate::dataflow::operator::Operator + 'static, child: Node) -> Node {
    Node::Operator {
        op: Box::new(op),
        children: vec![child],
    }
}
