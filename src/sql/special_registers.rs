//! PostgreSQL's special registers, written without parentheses: `current_user`,
//! `session_user`, `user`, `current_role`, `current_catalog`, `current_schema` and
//! `localtimestamp` — their values and the names of their columns.
//!
//! The `pg_catalog` crate's parser renames `current_user` to `session_user` and
//! `current_catalog` to `current_database()` (the functions DataFusion has), so
//! `SELECT current_user` answered in a column named `session_user`. [`restore_names`]
//! gives such a select-list item the name PostgreSQL gives it, read from a plain parse
//! of the same text (only for text that mentions one). [`rewrite`] gives `user` and
//! `current_role` (the session's user, as `current_user`) and `localtimestamp`
//! (`now()` as a `timestamp`; the session's time zone is UTC) their values; they were
//! refused as unknown columns.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlDataType, Expr, Function, FunctionArgumentList, FunctionArguments,
    Ident, ObjectName, SelectItem, SetExpr, Statement, TimezoneInfo, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The registers, by the name PostgreSQL gives their column.
const REGISTERS: [&str; 7] = [
    "current_user",
    "session_user",
    "user",
    "current_role",
    "current_catalog",
    "current_schema",
    "localtimestamp",
];

/// The register `expr` is, as written (before the crate renamed it).
fn register(expr: &Expr) -> Option<&'static str> {
    let name = match expr {
        Expr::Function(Function {
            name,
            args: FunctionArguments::None,
            ..
        }) => name.to_string().to_lowercase(),
        Expr::Identifier(Ident {
            value,
            quote_style: None,
            ..
        }) => value.to_lowercase(),
        _ => return None,
    };
    REGISTERS.iter().copied().find(|r| *r == name)
}

/// `statements` (parsed by the crate from `text`) with each select-list item that is a
/// register named as PostgreSQL names it.
pub fn restore_names(mut statements: Vec<Statement>, text: &str) -> Vec<Statement> {
    let lower = text.to_ascii_lowercase();
    if !["current_user", "current_catalog"]
        .iter()
        .any(|name| lower.contains(name))
    {
        return statements;
    }
    let Ok(plain) = Parser::parse_sql(&PostgreSqlDialect {}, text) else {
        return statements;
    };
    if plain.len() != statements.len() {
        return statements;
    }
    for (written, parsed) in plain.iter().zip(statements.iter_mut()) {
        if let (Statement::Query(written), Statement::Query(parsed)) = (written, parsed)
            && let (SetExpr::Select(written), SetExpr::Select(parsed)) =
                (written.body.as_ref(), parsed.body.as_mut())
            && written.projection.len() == parsed.projection.len()
        {
            for (item, parsed) in written.projection.iter().zip(parsed.projection.iter_mut()) {
                if let (SelectItem::UnnamedExpr(written), SelectItem::UnnamedExpr(expr)) =
                    (item, &*parsed)
                    && let Some(name) = register(written)
                {
                    *parsed = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::with_quote('"', name),
                    };
                }
            }
        }
    }
    statements
}

/// `user`, `current_role` and `localtimestamp` in `statement` replaced by what they
/// stand for, each select-list item named after its register.
pub fn rewrite(statement: &mut Statement) {
    if let Statement::Query(query) = statement
        && let SetExpr::Select(select) = query.body.as_mut()
    {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && let Some(name @ ("user" | "current_role" | "localtimestamp")) = register(expr)
            {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', name),
                };
            }
        }
    }
    let _ = visit_expressions_mut(statement, |expr: &mut Expr| {
        match register(expr) {
            // bind_session replaces it by the session's user.
            Some("user" | "current_role") => *expr = call("session_user", FunctionArguments::None),
            Some("localtimestamp") => {
                *expr = Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(call(
                        "now",
                        FunctionArguments::List(FunctionArgumentList {
                            duplicate_treatment: None,
                            args: Vec::new(),
                            clauses: Vec::new(),
                        }),
                    )),
                    data_type: SqlDataType::Timestamp(None, TimezoneInfo::None),
                    array: false,
                    format: None,
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

fn call(name: &str, args: FunctionArguments) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args,
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str, crate_parsed: &str) -> Vec<String> {
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, crate_parsed).unwrap();
        let mut statements = restore_names(parsed, sql);
        rewrite(&mut statements[0]);
        let Statement::Query(query) = &statements[0] else {
            panic!("not a query")
        };
        let SetExpr::Select(select) = query.body.as_ref() else {
            panic!("not a select")
        };
        select
            .projection
            .iter()
            .map(|item| item.to_string())
            .collect()
    }

    #[test]
    fn registers_are_named_as_written() {
        assert_eq!(
            names(
                "SELECT current_user, current_catalog, x",
                "SELECT session_user, current_database(), x"
            ),
            [
                "session_user AS \"current_user\"",
                "current_database() AS \"current_catalog\"",
                "x"
            ]
        );
        assert_eq!(
            names(
                "SELECT user, current_role, localtimestamp, \"user\"",
                "SELECT user, current_role, localtimestamp, \"user\""
            ),
            [
                "session_user AS \"user\"",
                "session_user AS \"current_role\"",
                "CAST(now() AS TIMESTAMP) AS \"localtimestamp\"",
                "\"user\""
            ]
        );
    }
}
