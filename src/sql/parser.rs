//! Statement parsing: PostgreSQL syntax through `sqlparser`, with the rewrites that
//! make client catalog queries (psql's `\d`, drivers' introspection) plannable by
//! DataFusion.

use std::collections::HashSet;

use datafusion::sql::sqlparser::ast::{Expr, Ident, Query, SelectItem, SetExpr, Statement};
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
        let mut statements = self.inner.parse(sql).map_err(SluiceError::from)?;
        for statement in &mut statements {
            if let Statement::Query(query) = statement {
                name_columns_like_postgres(query);
            }
        }
        Ok(statements)
    }
}

/// Gives unnamed result columns the names Postgres gives them (`count`, `?column?`),
/// so clients that read columns by name see what they would see from Postgres.
/// A name already taken in the same select list is left to DataFusion, which
/// requires unique names.
fn name_columns_like_postgres(query: &mut Query) {
    let mut body = query.body.as_mut();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    let mut taken: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => {
                ids.last().map(|id| id.value.to_lowercase())
            }
            _ => None,
        })
        .collect();
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            continue;
        }
        let name = postgres_column_name(expr).unwrap_or_else(|| "?column?".to_string());
        if taken.insert(name.clone()) {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name),
            };
        }
    }
}

/// Postgres's `FigureColname`: the name of a column, function or cast type.
fn postgres_column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(id) => Some(id.value.to_lowercase()),
        Expr::CompoundIdentifier(ids) => ids.last().map(|id| id.value.to_lowercase()),
        Expr::Function(f) => f.name.0.last().map(|part| part.to_string().to_lowercase()),
        Expr::Nested(inner) => postgres_column_name(inner),
        Expr::Cast {
            expr, data_type, ..
        } => postgres_column_name(expr).or_else(|| {
            let name = data_type.to_string().to_lowercase();
            Some(match name.as_str() {
                "int" | "integer" => "int4".into(),
                "bigint" => "int8".into(),
                "smallint" => "int2".into(),
                "real" => "float4".into(),
                "double precision" => "float8".into(),
                "boolean" => "bool".into(),
                _ => name.split('(').next().unwrap_or_default().to_string(),
            })
        }),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Array(_) => Some("array".into()),
        _ => None,
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
    fn unnamed_columns_get_postgres_names() {
        let sql = "SELECT 1, count(*), count(x), max(t.y), a, 2::int, x::text, a + 1 AS s FROM t";
        let statement = SqlParser::default().parse(sql).unwrap().remove(0);
        let text = statement.to_string();
        assert!(text.contains(r#"1 AS "?column?""#), "{text}");
        assert!(text.contains(r#"count(*) AS "count""#), "{text}");
        assert!(
            text.contains("count(x),"),
            "a repeated name is left alone: {text}"
        );
        assert!(text.contains(r#"max(t.y) AS "max""#), "{text}");
        assert!(text.contains(r#"2::INT AS "int4""#), "{text}");
        assert!(text.contains(r#"x::TEXT AS "x""#), "{text}");
    }

    #[test]
    fn several_statements_split() {
        let stmts = SqlParser::default().parse("SELECT 1; SELECT 2;").unwrap();
        assert_eq!(stmts.len(), 2);
        assert!(SqlParser::default().parse(" ; ").unwrap().is_empty());
    }
}
