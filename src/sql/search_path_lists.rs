//! Grafana's "is this schema on the search path" subquery, as an expression DataFusion
//! plans.
//!
//! Grafana's PostgreSQL data source lists tables (and picks columns) with
//!
//! ```sql
//! quote_ident(table_schema) IN (
//!   SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
//!   FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1),
//!                        array_upper(string_to_array(current_setting('search_path'),','),1)) AS i,
//!        string_to_array(current_setting('search_path'),',') s)
//! ```
//!
//! inside a `CASE` of its select list: a scalar function in `FROM` and `IN (subquery)`
//! in a projection, which DataFusion cannot plan. The subquery reads only the session's
//! `search_path`: the entries between its commas, trimmed of spaces, with `"$user"`
//! standing for the current user. So `x IN (that subquery)` becomes
//!
//! ```sql
//! ((x = ANY(entries) AND x <> '"$user"') OR (x = current_user AND '"$user"' = ANY(entries)))
//! ```
//!
//! with `entries` the setting split at commas with the spaces around them removed:
//! the same rows for every setting and every `x` (NULL included).

use datafusion::sql::sqlparser::ast::{Expr, Query, Statement, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The search path's entries: split at commas, the spaces around each removed.
const ENTRIES: &str = "string_to_array(regexp_replace(btrim(current_setting('search_path'), ' '), \
                       ' *, *', ',', 'g'), ',')";

/// Rewrites every `x [NOT] IN (search path subquery)` of `statement`.
pub fn rewrite_search_path_subqueries(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::InSubquery {
            expr: tested,
            subquery,
            negated,
        } = expr
            && is_search_path_subquery(subquery)
            && let Some(membership) = membership(tested, *negated)
        {
            *expr = membership;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// Grafana's subquery: entries of `string_to_array(current_setting('search_path'), ...)`
/// numbered by `generate_series`.
fn is_search_path_subquery(query: &Query) -> bool {
    let text = query.to_string().to_ascii_lowercase();
    text.contains("generate_series")
        && text.contains("string_to_array(current_setting('search_path')")
        && text.contains("'\"$user\"'")
}

/// `tested` is (`negated`: is not) on the search path, as an expression.
fn membership(tested: &Expr, negated: bool) -> Option<Expr> {
    let x = format!("({tested})");
    let test = format!(
        "(({x} = ANY({ENTRIES}) AND {x} <> '\"$user\"') OR ({x} = current_user AND '\"$user\"' = ANY({ENTRIES})))"
    );
    let text = if negated {
        format!("(NOT {test})")
    } else {
        test
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&text)
        .ok()?
        .parse_expr()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::parser::rewritten_by(sql, rewrite_search_path_subqueries)
    }

    const SUBQUERY: &str = "SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END \
        FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), \
        array_upper(string_to_array(current_setting('search_path'),','),1)) AS i, \
        string_to_array(current_setting('search_path'),',') s";

    #[test]
    fn the_search_path_subquery_becomes_a_membership_test() {
        let sql = format!(
            "SELECT CASE WHEN quote_ident(table_schema) IN ({SUBQUERY}) THEN 1 ELSE 2 END \
             FROM information_schema.tables WHERE table_schema NOT IN ({SUBQUERY})"
        );
        let out = rewritten(&sql);
        assert!(!out.contains("generate_series"), "{out}");
        assert!(
            out.contains("CASE WHEN (((quote_ident(table_schema)) = ANY(string_to_array(")
                && out.contains("(NOT (((table_schema) = ANY("),
            "{out}"
        );
    }

    #[test]
    fn other_subqueries_stay() {
        let sql = "SELECT 1 FROM t WHERE a IN (SELECT b FROM u)";
        assert_eq!(rewritten(sql), sql);
    }
}
