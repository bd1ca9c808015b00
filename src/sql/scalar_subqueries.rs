//! Scalar subqueries (`(SELECT ...)` used as a value) as PostgreSQL evaluates them:
//! NULL when the subquery has no row, its value when it has one, and error `21000`
//! ("more than one row returned by a subquery used as an expression") when it has
//! more — correlated or not.
//!
//! DataFusion decorrelates a scalar subquery only when it is an aggregate (at most one
//! row by construction). So a subquery whose one output expression is not an aggregate
//! — `(SELECT d.adbin FROM pg_attrdef d WHERE d.adrelid = a.attrelid)`, as psql's `\d`
//! writes — has that expression wrapped in [`SINGLE_VALUE`], an aggregate that is the
//! value of the only row and fails on a second one. Subqueries with `GROUP BY`,
//! `DISTINCT`, `LIMIT`, a window function or several outputs are left to DataFusion.
//!
//! DataFusion decorrelates equality predicates between the subquery and the outer row
//! only, so two more rewrites keep the others out of the subquery (both exact):
//! - a condition on the outer row alone leaves it: `(SELECT e FROM d WHERE d.k = a.k
//!   AND a.flag)` is `CASE WHEN a.flag THEN (SELECT e FROM d WHERE d.k = a.k) END`
//!   (with the condition not true the subquery has no row: NULL either way);
//! - an outer column equal to an expression of the subquery's own columns is replaced
//!   by that expression elsewhere in the condition: with `c.oid = a.coll`, `a.coll <>
//!   t.coll` becomes `c.oid <> t.coll`.
//!
//! `ARRAY(SELECT e FROM ... [ORDER BY ...])` (psql's `\du` and `\d+` write it) is the
//! aggregate subquery `(SELECT coalesce(array_agg(e ORDER BY ...), make_array())
//! FROM ...)`: the rows' values in order, `{}` when there is none
//! ([`rewrite_array_subqueries`]).
//!
//! An `ARRAY(subquery)` that reads only one of the [`EMPTY_RELATIONS`] is `{}`
//! (`make_array()`): psql's `\dp` nests in it a subquery correlated with it by
//! `oid = ANY (polroles)`, which DataFusion cannot decorrelate.
//!
//! (The `pg_catalog` crate's parser would instead replace a correlated subquery in a
//! select list with NULL and cut an uncorrelated one to `LIMIT 1`; `sql::parser` keeps
//! that rule out.)

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, TableWithJoins, Value, Visit, Visitor, visit_expressions_mut,
};

use super::names::normalize_ident;
use crate::error::{SluiceError, sqlstate};

/// The aggregate a non-aggregate scalar subquery's output is wrapped in.
pub const SINGLE_VALUE: &str = "scalar_subquery_value";

/// Aggregate functions (a subquery whose output calls one is at most one row already).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "mean",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "first_value",
    "last_value",
    "nth_value",
    "approx_distinct",
    "approx_count_distinct",
    "approx_median",
    "approx_percentile_cont",
    "median",
    "corr",
    "covar",
    "covar_samp",
    "covar_pop",
    "bit_and",
    "bit_or",
    "bit_xor",
    "json_agg",
    "jsonb_agg",
    "percentile_cont",
    "mode",
    "grouping",
    "regr_slope",
    "regr_intercept",
    "regr_count",
    "regr_r2",
    "regr_avgx",
    "regr_avgy",
    "regr_sxx",
    "regr_syy",
    "regr_sxy",
    SINGLE_VALUE,
];

/// `pg_catalog` relations that have no rows in Sluice (`pg_policy`: there is no row
/// security).
const EMPTY_RELATIONS: [&str; 1] = ["pg_policy"];

/// Whether `query` reads one of the [`EMPTY_RELATIONS`] and nothing else.
fn reads_only_an_empty_relation(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let [
        TableWithJoins {
            relation: TableFactor::Table {
                name, args: None, ..
            },
            joins,
        },
    ] = select.from.as_slice()
    else {
        return false;
    };
    let names: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(normalize_ident))
        .collect();
    let relation = match names.as_slice() {
        [relation] => relation,
        [schema, relation] if schema == "pg_catalog" => relation,
        _ => return false,
    };
    joins.is_empty() && EMPTY_RELATIONS.contains(&relation.as_str())
}

/// `ARRAY(subquery)` as an aggregate scalar subquery (see the module's header);
/// `0A000` for a subquery with `GROUP BY`, `DISTINCT`, `LIMIT`, set operations or
/// more than one output.
pub fn rewrite_array_subqueries(statement: &mut Statement) -> crate::error::Result<()> {
    let outcome = visit_expressions_mut(statement, |expr| {
        let Expr::Function(call) = expr else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::Subquery(query) = &call.args else {
            return ControlFlow::Continue(());
        };
        if !call
            .name
            .0
            .last()
            .is_some_and(|n| n.to_string().eq_ignore_ascii_case("array"))
        {
            return ControlFlow::Continue(());
        }
        if reads_only_an_empty_relation(query) {
            *expr = Expr::Function(Function {
                name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("make_array"))]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
            return ControlFlow::Continue(());
        }
        match array_subquery(query) {
            Ok(query) => {
                *expr = Expr::Subquery(Box::new(query));
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(e),
        }
    });
    match outcome {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The aggregate subquery computing `ARRAY(query)`.
fn array_subquery(query: &Query) -> crate::error::Result<Query> {
    let refuse = || {
        SluiceError::not_supported(
            "ARRAY(subquery) is supported for one output column without GROUP BY, \
             DISTINCT, LIMIT or set operations",
        )
    };
    let mut query = query.clone();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(refuse());
    };
    let plain = query.limit_clause.is_none()
        && query.fetch.is_none()
        && query.with.is_none()
        && select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    let output = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] if plain => e,
        _ => return Err(refuse()),
    };
    let order = match query.order_by.take() {
        None => String::new(),
        Some(order_by) => format!(" {order_by}"),
    };
    let text = format!("coalesce(array_agg({output}{order}), make_array())");
    let aggregate = datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(&text)
    .and_then(|mut parser| parser.parse_expr())
    .map_err(|e| SluiceError::Internal(format!("ARRAY(subquery) rewrite: {e}")))?;
    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    Ok(query)
}

/// Rewrites every non-aggregate scalar subquery in `statement` as the module says.
pub fn rewrite_scalar_subqueries(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Subquery(query) = expr {
            let query = std::mem::replace(query.as_mut(), empty_query());
            *expr = match with_outer_output(&query) {
                Some(rewritten) => rewritten,
                None => rewritten_subquery(query),
            };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// A placeholder while a subquery is taken out of its expression.
fn empty_query() -> Query {
    Query {
        with: None,
        body: Box::new(SetExpr::Values(datafusion::sql::sqlparser::ast::Values {
            explicit_row: false,
            value_keyword: false,
            rows: vec![],
        })),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: vec![],
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: vec![],
    }
}

/// `query` as a scalar subquery expression, rewritten by [`rewrite_subquery`] (with
/// the conditions on the outer row taken out of it around it).
fn rewritten_subquery(mut query: Query) -> Expr {
    let outer_conditions = rewrite_subquery(&mut query);
    let subquery = Expr::Subquery(Box::new(query));
    match outer_conditions {
        Some(condition) => Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: vec![CaseWhen {
                condition,
                result: subquery,
            }],
            else_result: None,
        },
        None => subquery,
    }
}

/// True when `select` groups, has `HAVING` or is `DISTINCT`: it may give other rows
/// than one per row of its `FROM`.
fn grouped_or_distinct(select: &Select) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    grouped || select.having.is_some() || select.distinct.is_some()
}

/// A subquery whose output reads the outer row (SQLAlchemy's column reflection:
/// `(SELECT json_build_object('always', a.attidentity = 'a', 'start', s.seqstart)
/// FROM pg_sequence s WHERE ...)`), which DataFusion cannot decorrelate: the output
/// is computed outside, each of the subquery's own columns in it read by a subquery
/// of its own, and the whole is NULL when the subquery has no row —
/// `CASE WHEN (SELECT 1 FROM ...) IS NOT NULL THEN json_build_object('always',
/// a.attidentity = 'a', 'start', (SELECT s.seqstart FROM ...)) END`. Exact: each of
/// those subqueries has the original's rows, so more than one row still fails with
/// `21000`. `None` when the output does not read the outer row (or reads unqualified
/// columns, which could be either) or the subquery is not one row per outer row.
fn with_outer_output(query: &Query) -> Option<Expr> {
    if query.limit_clause.is_some() || query.fetch.is_some() || query.with.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if grouped_or_distinct(select) {
        return None;
    }
    let [SelectItem::UnnamedExpr(output) | SelectItem::ExprWithAlias { expr: output, .. }] =
        select.projection.as_slice()
    else {
        return None;
    };
    let names = relation_names(&select.from);
    let output_reads = reads(output, &names);
    if !output_reads.outer || output_reads.unknown || aggregates_or_windows(output) {
        return None;
    }
    let with_output = |expr: Expr| {
        let mut query = query.clone();
        if let SetExpr::Select(select) = query.body.as_mut() {
            select.projection = vec![SelectItem::UnnamedExpr(expr)];
        }
        rewritten_subquery(query)
    };
    let mut computed = output.clone();
    let _ = visit_expressions_mut(&mut computed, |e| {
        if let Expr::CompoundIdentifier(_) = e
            && reads(e, &names).inner
        {
            let column = std::mem::replace(e, Expr::value(Value::Null));
            *e = with_output(column);
        }
        ControlFlow::<()>::Continue(())
    });
    let one_row = with_output(Expr::value(Value::Number("1".into(), false)));
    Some(Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::IsNotNull(Box::new(one_row)),
            result: computed,
        }],
        else_result: None,
    })
}

/// Rewrites `query` when it is a non-aggregate scalar subquery; returns the
/// conditions on the outer row alone taken out of it, if any.
fn rewrite_subquery(query: &mut Query) -> Option<Expr> {
    if query.limit_clause.is_some() || query.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    if grouped_or_distinct(select) {
        return None;
    }
    let [item] = select.projection.as_mut_slice() else {
        return None;
    };
    let output = match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
        _ => return None,
    };
    if aggregates_or_windows(output) {
        return None;
    }
    let inner = std::mem::replace(output, Expr::value(Value::Null));
    *output = Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(SINGLE_VALUE))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(inner))],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    });
    let mut outer_conditions = None;
    if let Some(condition) = select.selection.take() {
        let names = relation_names(&select.from);
        let (inner, outer) = split_condition(condition, &names);
        select.selection = inner;
        outer_conditions = outer;
    }
    // One row at most: its order does not matter, and an aggregate cannot be ordered
    // by the columns it reads.
    query.order_by = None;
    outer_conditions
}

/// The names the subquery's columns are qualified with: its relations' aliases, or
/// their names (lower case unless quoted).
fn relation_names(from: &[TableWithJoins]) -> HashSet<String> {
    let factors = from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    factors
        .filter_map(|factor| match factor {
            TableFactor::Table {
                alias: Some(alias), ..
            }
            | TableFactor::Derived {
                alias: Some(alias), ..
            } => Some(normalize_ident(&alias.name)),
            TableFactor::Table { name, .. } => match name.0.last() {
                Some(ObjectNamePart::Identifier(ident)) => Some(normalize_ident(ident)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Which columns an expression reads: qualified by the subquery's relations (inner),
/// by others (outer), or unqualified (either: left alone).
#[derive(Debug, Default)]
struct Reads {
    inner: bool,
    outer: bool,
    unknown: bool,
}

fn reads(expr: &Expr, names: &HashSet<String>) -> Reads {
    struct Finder<'a>(Reads, &'a HashSet<String>);
    impl Visitor for Finder<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                    if self.1.contains(&normalize_ident(&parts[parts.len() - 2])) {
                        self.0.inner = true;
                    } else {
                        self.0.outer = true;
                    }
                }
                Expr::Identifier(_)
                | Expr::Subquery(_)
                | Expr::Exists { .. }
                | Expr::InSubquery { .. } => self.0.unknown = true,
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(Reads::default(), names);
    let _ = expr.visit(&mut finder);
    finder.0
}

/// Splits a subquery's `WHERE` into what stays in it and the conditions on the outer
/// row alone, after replacing outer columns equal to inner expressions.
fn split_condition(condition: Expr, names: &HashSet<String>) -> (Option<Expr>, Option<Expr>) {
    let mut conjuncts = Vec::new();
    flatten_and(condition, &mut conjuncts);
    // outer column → the inner expression it equals
    let mut equal: Vec<(Vec<Ident>, Expr)> = Vec::new();
    let mut defining = vec![false; conjuncts.len()];
    for (i, conjunct) in conjuncts.iter().enumerate() {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = conjunct
        {
            for (column, other) in [(left, right), (right, left)] {
                if let Expr::CompoundIdentifier(parts) = column.as_ref() {
                    let column_reads = reads(column, names);
                    let other_reads = reads(other, names);
                    if column_reads.outer
                        && other_reads.inner
                        && !other_reads.outer
                        && !other_reads.unknown
                    {
                        equal.push((parts.clone(), other.as_ref().clone()));
                        defining[i] = true;
                        break;
                    }
                }
            }
        }
    }
    let (mut inner, mut outer) = (Vec::new(), Vec::new());
    for (mut conjunct, defines) in conjuncts.into_iter().zip(defining) {
        if !defines && !equal.is_empty() {
            let _ = visit_expressions_mut(&mut conjunct, |e| {
                if let Expr::CompoundIdentifier(parts) = e
                    && let Some((_, inner)) = equal.iter().find(|(p, _)| p == parts)
                {
                    *e = Expr::Nested(Box::new(inner.clone()));
                }
                ControlFlow::<()>::Continue(())
            });
        }
        let conjunct_reads = reads(&conjunct, names);
        if conjunct_reads.outer && !conjunct_reads.inner && !conjunct_reads.unknown {
            outer.push(conjunct);
        } else {
            inner.push(conjunct);
        }
    }
    (join_and(inner), join_and(outer))
}

fn flatten_and(expr: Expr, out: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            flatten_and(*left, out);
            flatten_and(*right, out);
        }
        Expr::Nested(inner)
            if matches!(
                *inner,
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            flatten_and(*inner, out)
        }
        other => out.push(other),
    }
}

fn join_and(conjuncts: Vec<Expr>) -> Option<Expr> {
    conjuncts.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    })
}

/// Whether `expr` calls an aggregate or a window function (inside a nested subquery
/// too: such an output is left to DataFusion).
fn aggregates_or_windows(expr: &Expr) -> bool {
    struct Finder(bool);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Function(function) = expr {
                let name = function.name.to_string().to_ascii_lowercase();
                let name = name.rsplit('.').next().unwrap_or(&name).to_string();
                if function.over.is_some() || AGGREGATES.contains(&name.as_str()) {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(false);
    let _ = expr.visit(&mut finder);
    finder.0
}

/// [`SINGLE_VALUE`]: the value of the only row of its group, NULL for none, `21000`
/// for more than one.
pub fn single_value() -> AggregateUDF {
    AggregateUDF::new_from_impl(SingleValue {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleValueAccumulator {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "rows"),
                DataType::UInt64,
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct SingleValueAccumulator {
    value: ScalarValue,
    rows: u64,
}

impl SingleValueAccumulator {
    /// Counts `rows` more rows, the first of them (if any is the first) `value`.
    fn add(&mut self, rows: u64, value: impl FnOnce() -> Result<ScalarValue>) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        if self.rows + rows > 1 {
            return Err(datafusion::error::DataFusionError::External(Box::new(
                SluiceError::coded(
                    sqlstate::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                ),
            )));
        }
        self.value = value()?;
        self.rows = rows;
        Ok(())
    }
}

impl Accumulator for SingleValueAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let column = &values[0];
        self.add(column.len() as u64, || {
            ScalarValue::try_from_array(column, 0)
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = datafusion::common::cast::as_uint64_array(&states[1])?;
        for row in 0..counts.len() {
            let rows = if counts.is_null(row) {
                0
            } else {
                counts.value(row)
            };
            self.add(rows, || ScalarValue::try_from_array(&states[0], row))?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::UInt64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size() - std::mem::size_of_val(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::parser::rewritten_by(sql, rewrite_scalar_subqueries)
    }

    #[test]
    fn an_array_of_an_empty_relation_is_empty() {
        let mut statement = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT ARRAY(SELECT polname || array_to_string(ARRAY(SELECT rolname FROM pg_roles \
             WHERE oid = ANY (polroles)), ',') FROM pg_catalog.pg_policy WHERE polrelid = c.oid), \
             ARRAY(SELECT attname FROM pg_attribute a WHERE attrelid = c.oid) FROM pg_class c",
        )
        .unwrap()
        .remove(0);
        rewrite_array_subqueries(&mut statement).unwrap();
        let text = statement.to_string();
        assert!(
            text.starts_with("SELECT make_array(), (SELECT coalesce(array_agg(attname)"),
            "{text}"
        );
    }

    #[test]
    fn non_aggregate_outputs_are_wrapped_and_others_left() {
        assert_eq!(
            rewritten("SELECT k, (SELECT y FROM b WHERE b.k = a.k ORDER BY y) FROM a"),
            "SELECT k, (SELECT scalar_subquery_value(y) FROM b WHERE b.k = a.k) FROM a"
        );
        assert_eq!(
            rewritten("SELECT k FROM a WHERE x > (SELECT y + 1 AS z FROM b)"),
            "SELECT k FROM a WHERE x > (SELECT scalar_subquery_value(y + 1) AS z FROM b)"
        );
        assert_eq!(
            rewritten(
                "SELECT (SELECT d.adbin FROM pg_attrdef d \
                 WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef) \
                 FROM pg_attribute a"
            ),
            "SELECT CASE WHEN a.atthasdef THEN (SELECT scalar_subquery_value(d.adbin) \
             FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) END \
             FROM pg_attribute a"
        );
        assert_eq!(
            rewritten(
                "SELECT (SELECT c.collname FROM pg_collation c, pg_type t \
                 WHERE c.oid = a.attcollation AND t.oid = a.atttypid \
                 AND a.attcollation <> t.typcollation) FROM pg_attribute a"
            ),
            "SELECT (SELECT scalar_subquery_value(c.collname) FROM pg_collation c, pg_type t \
             WHERE c.oid = a.attcollation AND t.oid = a.atttypid \
             AND (c.oid) <> t.typcollation) FROM pg_attribute a"
        );
        for kept in [
            "SELECT (SELECT max(y) FROM b WHERE b.k = a.k) FROM a",
            "SELECT (SELECT y FROM b ORDER BY y LIMIT 1) FROM a",
            "SELECT (SELECT y FROM b GROUP BY y) FROM a",
            "SELECT (SELECT DISTINCT y FROM b) FROM a",
            "SELECT (SELECT row_number() OVER () FROM b) FROM a",
            "SELECT (SELECT y, z FROM b) FROM a",
            "SELECT (SELECT pg_catalog.count(*) FROM b) FROM a",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }

    #[test]
    fn the_accumulator_fails_on_a_second_row() {
        let mut accumulator = SingleValueAccumulator {
            value: ScalarValue::Int64(None),
            rows: 0,
        };
        assert_eq!(accumulator.evaluate().unwrap(), ScalarValue::Int64(None));
        let one: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![7]));
        accumulator
            .update_batch(std::slice::from_ref(&one))
            .unwrap();
        assert_eq!(accumulator.evaluate().unwrap(), ScalarValue::Int64(Some(7)));
        let error = accumulator.update_batch(&[one]).unwrap_err().to_string();
        assert!(error.contains("more than one row"), "{error}");
    }
}
