//! Statement parsing: PostgreSQL syntax through `sqlparser`, with the rewrites that
//! make client catalog queries (psql's `\d`, drivers' introspection) plannable by
//! DataFusion.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::error::{Result, SluiceError};

/// Parses SQL text into statements. Shared by every connection.
#[derive(Debug)]
pub struct SqlParser {
    inner: PostgresCompatibilityParser,
}

impl Default for SqlParser {
    fn default() -> Self {
        SqlParser {
            inner: PostgresCompatibilityParser::new(),
        }
    }
}

impl SqlParser {
    /// Splits `sql` into statements; an empty string gives no statements.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        if sql.trim().trim_matches(';').trim().is_empty() {
            return Ok(Vec::new());
        }
        self.inner.parse(sql).map_err(SluiceError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_have_sqlstate_42601() {
        let err = SqlParser::default().parse("SELEC 1").unwrap_err();
        assert_eq!(err.sqlstate(), "42601");
    }

    #[test]
    fn several_statements_split() {
        let stmts = SqlParser::default().parse("SELECT 1; SELECT 2;").unwrap();
        assert_eq!(stmts.len(), 2);
        assert!(SqlParser::default().parse(" ; ").unwrap().is_empty());
    }
}
