//! How deeply a statement may nest, and the stack its parsing runs on.
//!
//! The parser builds a left-deep tree for a chain like `1 + 1 + … + 1`, `x::int::int…`,
//! `a OR b OR …` or `SELECT … UNION ALL SELECT …`, one level per term, without nesting
//! recursion itself. Everything after it (our AST rewrites, DataFusion's planner and
//! optimizer, expression evaluation, even dropping the tree) recurses once per level,
//! so a few kilobytes of SQL could overflow a thread's stack and abort the server.
//!
//! These guards keep that from happening:
//! - [`check_bracket_nesting`] refuses, before parsing, parentheses and brackets nested
//!   deeper than [`MAX_BRACKET_NESTING`]: near its own recursion limit the parser
//!   backtracks exponentially (`ARRAY[ARRAY[…48 levels…]]` parses for minutes), and
//!   function calls nested deeper than [`MAX_CALL_NESTING`] (`abs(abs(…))`: each
//!   level doubles the parser's work);
//! - [`on_parse_stack`] runs parsing and the rewrites on a fresh stack of
//!   [`PARSE_STACK_BYTES`] (reserved, touched only as deep as a statement needs), so
//!   even a tree far beyond the limit can be built, measured and dropped;
//! - [`check_nesting`] refuses a statement nested deeper than [`MAX_NESTING`] with
//!   `54001` (PostgreSQL's "statement is too complex" / "stack depth limit exceeded"),
//!   so only trees the rest of the server handles on an ordinary stack go further;
//!   [`check_plan_depth`] does the same for the plan (a chain of CTEs nests only there).

use std::ops::ControlFlow;

use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Statement, Visit, Visitor};

use crate::error::{Result, SluiceError, sqlstate};

/// The deepest nesting of expressions, subqueries and set operations a statement may
/// have. Deeper statements are refused with `54001`.
pub const MAX_NESTING: usize = 1_000;

/// The deepest nesting of parentheses and brackets a statement may have.
pub const MAX_BRACKET_NESTING: usize = 32;

/// The deepest nesting of function calls a statement may have. The parser tries each
/// call's argument as a named argument (`f(name => value)`, where PostgreSQL's
/// dialect allows an expression as the name) before parsing it again as a value, so
/// the work doubles with each level of calls nested in calls: 16 levels take a tenth
/// of a second, 30 took hours.
pub const MAX_CALL_NESTING: usize = 16;

/// Refuses `open` nested parentheses or brackets, of which `calls` are function
/// calls' argument lists, when they are too many to parse.
pub fn check_bracket_nesting(open: usize, calls: usize) -> Result<()> {
    if open > MAX_BRACKET_NESTING {
        return Err(SluiceError::coded(
            sqlstate::STATEMENT_TOO_COMPLEX,
            format!(
                "statement is too complex: it nests more than {MAX_BRACKET_NESTING} \
                 parentheses or brackets"
            ),
        ));
    }
    if calls > MAX_CALL_NESTING {
        return Err(SluiceError::coded(
            sqlstate::STATEMENT_TOO_COMPLEX,
            format!(
                "statement is too complex: it nests function calls more than \
                 {MAX_CALL_NESTING} deep"
            ),
        ));
    }
    Ok(())
}

/// The stack parsing runs on: address space reserved per statement, committed only
/// as deep as the statement's tree goes.
pub const PARSE_STACK_BYTES: usize = 256 << 20;

/// Runs `parse` on a stack of [`PARSE_STACK_BYTES`].
pub fn on_parse_stack<T>(parse: impl FnOnce() -> T) -> T {
    stacker::grow(PARSE_STACK_BYTES, parse)
}

/// Refuses `statement` when it nests deeper than [`MAX_NESTING`].
pub fn check_nesting(statement: &Statement) -> Result<()> {
    let mut depth = NestingDepth::default();
    match statement.visit(&mut depth) {
        ControlFlow::Break(()) => Err(too_complex()),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Refuses a plan more than [`MAX_NESTING`] operators deep (a chain of a thousand
/// CTEs is flat text but a deep plan, and executing it recurses once per operator).
pub fn check_plan_depth(plan: &LogicalPlan) -> Result<()> {
    let mut pending = vec![(plan, 1usize)];
    while let Some((node, depth)) = pending.pop() {
        if depth > MAX_NESTING {
            return Err(too_complex());
        }
        pending.extend(node.inputs().into_iter().map(|input| (input, depth + 1)));
    }
    Ok(())
}

fn too_complex() -> SluiceError {
    SluiceError::coded(
        sqlstate::STATEMENT_TOO_COMPLEX,
        format!(
            "statement is too complex: it nests more than {MAX_NESTING} levels of \
             expressions, subqueries or set operations"
        ),
    )
}

/// Counts open expressions and queries on the visitor's path (plus each query's chain
/// of set operations) and stops the walk as soon as the count passes the limit, so
/// the walk itself never recurses deeper than that.
#[derive(Default)]
struct NestingDepth {
    /// Levels open on the current path; per query, how many it added.
    open: usize,
    query_levels: Vec<usize>,
}

impl NestingDepth {
    fn enter(&mut self, levels: usize) -> ControlFlow<()> {
        self.open += levels;
        if self.open > MAX_NESTING {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Visitor for NestingDepth {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let levels = 1 + set_operation_depth(&query.body);
        self.query_levels.push(levels);
        self.enter(levels)
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.open -= self.query_levels.pop().unwrap_or(0);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.enter(1)
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.open -= 1;
        ControlFlow::Continue(())
    }
}

/// The longest chain of set operations (`UNION`, `INTERSECT`, `EXCEPT`) in `body`,
/// counted without recursion (the visitor has no hook for set operations).
fn set_operation_depth(body: &SetExpr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(body, 0usize)];
    while let Some((expr, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        if let SetExpr::SetOperation { left, right, .. } = expr {
            pending.push((left, depth + 1));
            pending.push((right, depth + 1));
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn nesting(sql: &str) -> Result<()> {
        on_parse_stack(|| {
            let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)?;
            statements.iter().try_for_each(check_nesting)
        })
    }

    fn chain(head: &str, term: &str, n: usize) -> String {
        format!("{head}{}", term.repeat(n))
    }

    #[test]
    fn chains_within_the_limit_pass() {
        nesting(&chain("SELECT 1", " + 1", MAX_NESTING - 10)).unwrap();
        nesting(&chain("SELECT 1", " UNION ALL SELECT 1", MAX_NESTING - 10)).unwrap();
        nesting("SELECT a FROM t WHERE a IN (1, 2, 3) AND (b OR c)").unwrap();
    }

    #[test]
    fn chains_beyond_the_limit_are_too_complex() {
        for sql in [
            chain("SELECT 1", " + 1", 2_000),
            chain("SELECT 1", "::bigint", 2_000),
            chain("SELECT true", " AND true OR false", 1_000),
            chain("SELECT 'a'", " || 'a'", 10_000),
            chain("SELECT 1", " UNION ALL SELECT 1", 2_000),
        ] {
            let err = nesting(&sql).unwrap_err();
            assert_eq!(err.sqlstate(), sqlstate::STATEMENT_TOO_COMPLEX, "{err}");
        }
    }
}
