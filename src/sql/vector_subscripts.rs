//! Subscripts of `int2vector` and `oidvector` columns, which start at 0 in
//! PostgreSQL: `i.indkey[ia.attnum - 1]` is the key's column at position `attnum`
//! (psqlODBC's `SQLPrimaryKeys` and `SQLStatistics` join so).
//!
//! Sluice keeps these columns as arrays, whose subscripts start at 1, so a subscript of
//! one of the [`VECTOR_COLUMNS`] is moved up by one: `i.indkey[(ia.attnum - 1) + 1]`.
//! As with [`super::array_literals`], the columns are known by name, and only in a
//! statement that reads `pg_index`: a user's array column of the same name elsewhere
//! keeps its subscripts.

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, Expr, Statement, Subscript, Value, visit_expressions_mut,
};

use super::names::{column_name, reads_any_of};

/// `pg_index`'s `int2vector` and `oidvector` columns.
const VECTOR_COLUMNS: [&str; 4] = ["indkey", "indoption", "indclass", "indcollation"];

/// Rewrites every `vector_column[e]` to `vector_column[(e) + 1]`.
pub fn rewrite_vector_subscripts(statement: &mut Statement) {
    if !reads_any_of(statement, &["pg_index"]) {
        return;
    }
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::CompoundFieldAccess { root, access_chain } = expr
            && let Some(index) = vector_subscript(root, access_chain)
        {
            let zero_based = std::mem::replace(index, Expr::value(Value::Null));
            *index = Expr::BinaryOp {
                left: Box::new(Expr::Nested(Box::new(zero_based))),
                op: BinaryOperator::Plus,
                right: Box::new(Expr::value(Value::Number("1".to_string(), false))),
            };
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// The first subscript of `root` and `chain` (`i.indkey[...]` parses as the root `i`
/// then `.indkey` and the subscript, or as the root `i.indkey` then the subscript) when
/// what it subscripts is one of the [`VECTOR_COLUMNS`].
fn vector_subscript<'a>(root: &Expr, chain: &'a mut [AccessExpr]) -> Option<&'a mut Expr> {
    let at = chain
        .iter()
        .position(|a| matches!(a, AccessExpr::Subscript(_)))?;
    let subscripted = match at {
        0 => root,
        n => match &chain[n - 1] {
            AccessExpr::Dot(expr) if n == 1 => expr,
            _ => return None,
        },
    };
    if !column_name(subscripted).is_some_and(|name| VECTOR_COLUMNS.contains(&name.as_str())) {
        return None;
    }
    match &mut chain[at] {
        AccessExpr::Subscript(Subscript::Index { index }) => Some(index),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::parser::rewritten_by(sql, rewrite_vector_subscripts)
    }

    #[test]
    fn vector_subscripts_start_at_zero() {
        assert_eq!(
            rewritten(
                "SELECT ta.attname FROM a, pg_catalog.pg_index i WHERE ta.attnum = i.indkey[ia.attnum - 1]"
            ),
            "SELECT ta.attname FROM a, pg_catalog.pg_index i WHERE ta.attnum = i.indkey[(ia.attnum - 1) + 1]"
        );
        assert_eq!(
            rewritten("SELECT indclass[0] FROM pg_index"),
            "SELECT indclass[(0) + 1] FROM pg_index"
        );
    }

    #[test]
    fn other_arrays_keep_their_subscripts() {
        assert_eq!(
            rewritten("SELECT conkey[1], tags[2] FROM pg_index"),
            "SELECT conkey[1], tags[2] FROM pg_index"
        );
        // A user's column of the same name, in a statement that reads no `pg_index`.
        assert_eq!(
            rewritten("SELECT indkey[1] FROM t"),
            "SELECT indkey[1] FROM t"
        );
    }
}
