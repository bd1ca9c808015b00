//! `SELECT c.oid, c.* FROM pg_class c`: a column named before a wildcard that also
//! covers it. PostgreSQL sends both columns under the same name (DBeaver's catalog
//! queries read `oid` this way); DataFusion refuses a projection with a name twice, so
//! the `pg_catalog` crate's `AliasDuplicatedProjectionRewrite` renames the first one
//! `__alias_oid` — a name the client would then see.
//!
//! [`restore_names`] gives such a column the alias Sluice uses for any repeated name
//! instead (with [`REPEATED_NAME_MARK`]), which the server takes off when it describes
//! the result ([`super::parser::output_name`]): the client sees `oid` twice, as from
//! PostgreSQL. An alias `__alias_...` the query itself wrote is left alone: only a
//! query whose text has no `__alias_` is changed.

use datafusion::sql::sqlparser::ast::{Ident, SelectItem, SetExpr, Statement};

use super::parser::REPEATED_NAME_MARK;

/// What the crate's rule puts before the column's name.
const CRATE_PREFIX: &str = "__alias_";

/// `statement` (parsed from `text`) with the crate's `__alias_x` aliases of its
/// select list replaced by Sluice's marked `x` (see the module's documentation).
pub fn restore_names(mut statement: Statement, text: &str) -> Statement {
    if text.contains(CRATE_PREFIX) {
        return statement;
    }
    if let Statement::Query(query) = &mut statement
        && let SetExpr::Select(select) = query.body.as_mut()
    {
        for (position, item) in select.projection.iter_mut().enumerate() {
            if let SelectItem::ExprWithAlias { alias, .. } = item
                && let Some(name) = alias.value.strip_prefix(CRATE_PREFIX)
            {
                *alias =
                    Ident::with_quote('"', format!("{name}{REPEATED_NAME_MARK}w{}", position + 1));
            }
        }
    }
    statement
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion_pg_catalog::sql::rules::{
        AliasDuplicatedProjectionRewrite, SqlStatementRewriteRule,
    };

    /// `sql` through the crate's rule and [`restore_names`], the mark shown as `~`.
    fn rewritten(sql: &str) -> String {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let statement = AliasDuplicatedProjectionRewrite.rewrite(statement);
        restore_names(statement, sql)
            .to_string()
            .replace(REPEATED_NAME_MARK, "~")
    }

    #[test]
    fn a_column_a_wildcard_covers_keeps_its_name() {
        assert_eq!(
            rewritten("SELECT c.oid, c.*, d.description FROM pg_class c, pg_description d"),
            "SELECT c.oid AS \"oid~w1\", c.*, d.description FROM pg_class c, pg_description d"
        );
    }

    #[test]
    fn an_alias_the_query_wrote_stays() {
        assert_eq!(
            rewritten("SELECT c.oid AS __alias_oid, c.* FROM pg_class c"),
            "SELECT c.oid AS __alias_oid, c.* FROM pg_class c"
        );
        assert_eq!(
            rewritten("SELECT oid FROM pg_class"),
            "SELECT oid FROM pg_class"
        );
    }
}
