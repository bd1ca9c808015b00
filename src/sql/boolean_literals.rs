//! Boolean catalog columns compared with a quoted literal: `i.indisprimary = 't'`
//! (psqlODBC's `SQLPrimaryKeys` and `SQLStatistics`, many older tools).
//!
//! PostgreSQL reads `'t'` as a literal of the other side's type, `boolean`; DataFusion
//! cannot compare a boolean with a string. For the [`BOOLEAN_COLUMNS`] of
//! `pg_catalog` (known by name, as [`super::array_literals`] knows its columns, and
//! only in a statement that reads one of the [`CATALOG_RELATIONS`]), a
//! literal PostgreSQL reads as a boolean (`t`, `true`, `yes`, `on`, `1` and their
//! negatives, in any case, around spaces) becomes `TRUE` or `FALSE`; any other
//! literal is left for DataFusion to refuse.

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Statement, Value, ValueWithSpan};

use super::names::{reads_any_of, rewrite_compared_literals};

/// The relations that hold the [`BOOLEAN_COLUMNS`]: a statement that reads none of
/// them compares a user's columns of the same names as written.
const CATALOG_RELATIONS: &[&str] = &[
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_constraint",
    "pg_type",
    "pg_proc",
    "pg_database",
    "pg_roles",
    "pg_authid",
    "pg_trigger",
];

/// `boolean` columns of PostgreSQL 15's `pg_class`, `pg_attribute`, `pg_index`,
/// `pg_constraint`, `pg_type`, `pg_proc`, `pg_database`, `pg_roles`/`pg_authid`
/// and `pg_trigger`.
const BOOLEAN_COLUMNS: &[&str] = &[
    "attbyval",
    "atthasdef",
    "atthasmissing",
    "attisdropped",
    "attislocal",
    "attnotnull",
    "condeferrable",
    "condeferred",
    "conislocal",
    "connoinherit",
    "convalidated",
    "datallowconn",
    "datistemplate",
    "indcheckxmin",
    "indimmediate",
    "indisclustered",
    "indisexclusion",
    "indislive",
    "indisprimary",
    "indisready",
    "indisreplident",
    "indisunique",
    "indisvalid",
    "indnullsnotdistinct",
    "proisstrict",
    "proleakproof",
    "proretset",
    "prosecdef",
    "relforcerowsecurity",
    "relhasindex",
    "relhasrules",
    "relhassubclass",
    "relhastriggers",
    "relispartition",
    "relispopulated",
    "relisshared",
    "relrowsecurity",
    "rolbypassrls",
    "rolcanlogin",
    "rolcreatedb",
    "rolcreaterole",
    "rolinherit",
    "rolreplication",
    "rolsuper",
    "tgdeferrable",
    "tginitdeferred",
    "tgisinternal",
    "typbyval",
    "typisdefined",
    "typispreferred",
    "typnotnull",
];

/// Rewrites every `column = 'literal'` and `column <> 'literal'` (either side).
pub fn rewrite_boolean_literals(statement: &mut Statement) {
    if !reads_any_of(statement, CATALOG_RELATIONS) {
        return;
    }
    rewrite_compared_literals(
        statement,
        &[BinaryOperator::Eq, BinaryOperator::NotEq],
        BOOLEAN_COLUMNS,
        boolean_literal,
    );
}

/// `TRUE` or `FALSE` for a quoted literal PostgreSQL's `boolin` reads.
fn boolean_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(text),
        ..
    }) = expr
    else {
        return None;
    };
    let value = match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => true,
        "f" | "false" | "n" | "no" | "off" | "0" => false,
        _ => return None,
    };
    Some(Expr::value(Value::Boolean(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::parser::rewritten_by(sql, rewrite_boolean_literals)
    }

    #[test]
    fn boolean_catalog_columns_read_quoted_booleans() {
        assert_eq!(
            rewritten("SELECT 1 FROM pg_index i WHERE i.indisprimary = 't' AND 'f' <> indisunique"),
            "SELECT 1 FROM pg_index i WHERE i.indisprimary = true AND false <> indisunique"
        );
    }

    #[test]
    fn other_columns_and_literals_stay() {
        assert_eq!(
            rewritten("SELECT 1 FROM pg_index WHERE flag = 't' AND indisprimary = 'maybe'"),
            "SELECT 1 FROM pg_index WHERE flag = 't' AND indisprimary = 'maybe'"
        );
        // A user's text column of a catalog column's name, in a statement that reads
        // no catalog relation, compares with the text 't'.
        assert_eq!(
            rewritten("SELECT 1 FROM t WHERE relhasrules = 't'"),
            "SELECT 1 FROM t WHERE relhasrules = 't'"
        );
    }
}
