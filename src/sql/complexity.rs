//! How deeply a statement may nest, and the stack its parsing runs on.
//!
//! The parser builds a left-deep tree for a chain like `1 + 1 + … + 1`, `x::int::int…`,
//! `a OR b OR …` or `SELECT … UNION ALL SELECT …`, one level per term, without nesting
//! recursion itself. Everything after it (our AST rewrites, DataFusion's planner and
//! optimizer, expression evaluation, even dropping the tree) recurses once per level,
//! so a few kilobytes of SQL could overflow a thread's stack and abort the server.
//!
//! These guards keep that from happening:
//! - [`TokenNesting`] refuses, before parsing, `CASE` in `CASE` and runs of prefix
//!   operators more than [`MAX_NESTING`] deep (the parser recurses into each), and
//!   through [`check_bracket_nesting`] parentheses and brackets nested deeper than
//!   [`MAX_BRACKET_NESTING`] (near its own recursion limit the parser backtracks
//!   exponentially: `ARRAY[ARRAY[…48 levels…]]` parses for minutes) and function
//!   calls nested deeper than [`MAX_CALL_NESTING`] (`abs(abs(…))`: each level doubles
//!   the parser's work);
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
use datafusion::sql::sqlparser::tokenizer::{Token, Word};

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

/// Watches a statement's tokens, before parsing, for nesting the parser would pay
/// for dearly: brackets and function calls ([`check_bracket_nesting`]), `CASE`
/// inside `CASE`, and runs of prefix operators (`NOT NOT …`, `- - …`), which the
/// parser recurses into once per level, touching hundreds of megabytes of stack
/// for a 100,000-deep one before [`check_nesting`] could refuse it.
#[derive(Debug, Default)]
pub struct TokenNesting<'a> {
    /// Open brackets, innermost last: whether each is a function call's.
    open: Vec<bool>,
    open_calls: usize,
    open_cases: usize,
    prefix_run: usize,
    previous: Option<&'a Token>,
}

impl<'a> TokenNesting<'a> {
    /// Takes the statement's next token (whitespace skipped); `54001` when the
    /// nesting so far is too deep.
    pub fn see(&mut self, token: &'a Token) -> Result<()> {
        match token {
            Token::LParen | Token::LBracket => {
                let call = matches!(token, Token::LParen)
                    && matches!(self.previous, Some(Token::Word(word)) if names_a_function(word));
                self.open.push(call);
                self.open_calls += usize::from(call);
                check_bracket_nesting(self.open.len(), self.open_calls)?;
            }
            Token::RParen | Token::RBracket => {
                let was_call = self.open.pop().unwrap_or(false);
                self.open_calls -= usize::from(was_call);
            }
            Token::Word(word) if word.quote_style.is_none() => {
                if word.value.eq_ignore_ascii_case("case") {
                    self.open_cases += 1;
                    if self.open_cases > MAX_NESTING {
                        return Err(too_complex());
                    }
                } else if word.value.eq_ignore_ascii_case("end") {
                    self.open_cases = self.open_cases.saturating_sub(1);
                }
            }
            _ => {}
        }
        let prefix = matches!(token, Token::Minus | Token::Plus | Token::Tilde)
            || matches!(token, Token::Word(word) if word.quote_style.is_none()
                && word.value.eq_ignore_ascii_case("not"));
        self.prefix_run = if prefix { self.prefix_run + 1 } else { 0 };
        if self.prefix_run > MAX_NESTING {
            return Err(too_complex());
        }
        self.previous = Some(token);
        Ok(())
    }
}

/// Whether `word` before a `(` makes it a function call's argument list: any word
/// but the keywords that open a parenthesized list, subquery or expression.
fn names_a_function(word: &Word) -> bool {
    const NOT_CALLS: &[&str] = &[
        "ALL",
        "AND",
        "ANY",
        "ARRAY",
        "AS",
        "BETWEEN",
        "BY",
        "CASE",
        "CAST",
        "DISTINCT",
        "ELSE",
        "EXCEPT",
        "EXISTS",
        "FROM",
        "HAVING",
        "ILIKE",
        "IN",
        "INTERSECT",
        "IS",
        "JOIN",
        "LATERAL",
        "LIKE",
        "NOT",
        "ON",
        "OR",
        "OVER",
        "RETURNING",
        "SELECT",
        "SOME",
        "THEN",
        "TRY_CAST",
        "UNION",
        "USING",
        "VALUES",
        "WHEN",
        "WHERE",
        "WITH",
    ];
    word.quote_style.is_some() || !NOT_CALLS.contains(&word.value.to_ascii_uppercase().as_str())
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
