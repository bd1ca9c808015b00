//! `pg_type`'s I/O function columns compared with a `regproc` literal:
//! `typinput = 'pg_catalog.array_in'::regproc`, as pgjdbc's `getTypeInfo` asks
//! which types are arrays.
//!
//! The `pg_catalog` crate's `pg_type` holds these columns as the function's name
//! (`array_in`), not its OID, and its `regproc` cast looks the name up in `pg_proc`
//! without reading a schema (so `pg_catalog.array_in` is no function, and comparing
//! the OID with a name fails). [`RegprocNames`] runs before that cast's rule and
//! compares names instead: the literal's name, without its `pg_catalog.` schema
//! (every built-in function is there). Other casts to `regproc` are left alone. A
//! join of `pg_proc` by OID on one of these columns (`proc.oid = typ.typreceive`,
//! Npgsql's type loading) joins by name the same way.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, DataType as SqlType, Expr, ObjectNamePart, Statement, Value, ValueWithSpan,
    visit_expressions_mut,
};

use crate::sql::names::column_name;

/// `pg_type`'s columns that name a function (`regproc` in PostgreSQL).
const FUNCTION_COLUMNS: [&str; 7] = [
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
];

/// Rewrites `column = 'name'::regproc` and `p.oid = column` (either side, `=` or
/// `<>`) for the [`FUNCTION_COLUMNS`] as a comparison of names.
#[derive(Debug)]
pub struct RegprocNames;

impl datafusion_pg_catalog::sql::rules::SqlStatementRewriteRule for RegprocNames {
    fn rewrite(&self, mut statement: Statement) -> Statement {
        let _ = visit_expressions_mut(&mut statement, |expr| {
            if let Expr::BinaryOp { left, op, right } = expr
                && matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq)
            {
                if is_function_column(left)
                    && let Some(name) = regproc_literal(right)
                {
                    **right = name;
                } else if is_function_column(right)
                    && let Some(name) = regproc_literal(left)
                {
                    **left = name;
                } else if is_function_column(right)
                    && let Some(name) = function_name_column(left)
                {
                    **left = name;
                } else if is_function_column(left)
                    && let Some(name) = function_name_column(right)
                {
                    **right = name;
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        statement
    }
}

/// `p.proname` for `p.oid`: joining `pg_proc` on a function column by OID
/// (`LEFT JOIN pg_proc AS proc ON proc.oid = typ.typreceive`, as Npgsql loads types)
/// joins on the name the column holds instead. The names of `pg_type`'s functions
/// are unique in `pg_proc`, so the rows are those of a join by OID; were `p` not
/// `pg_proc`, `p.proname` is no column and the query fails, never answers wrongly.
fn function_name_column(expr: &Expr) -> Option<Expr> {
    let Expr::CompoundIdentifier(parts) = expr else {
        return None;
    };
    let (last, qualifier) = parts.split_last()?;
    if qualifier.is_empty() || last.quote_style.is_some() || !last.value.eq_ignore_ascii_case("oid")
    {
        return None;
    }
    let mut parts = qualifier.to_vec();
    parts.push(datafusion::sql::sqlparser::ast::Ident::new("proname"));
    Some(Expr::CompoundIdentifier(parts))
}

fn is_function_column(expr: &Expr) -> bool {
    column_name(expr).is_some_and(|name| FUNCTION_COLUMNS.contains(&name.as_str()))
}

/// The function name of `'[pg_catalog.]name'::regproc`, as a string literal.
fn regproc_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Cast {
        expr: operand,
        data_type,
        ..
    } = expr
    else {
        return None;
    };
    let SqlType::Custom(type_name, modifiers) = data_type else {
        return None;
    };
    let type_parts: Vec<String> = type_name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
            other => other.to_string(),
        })
        .collect();
    let is_regproc = matches!(
        type_parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["regproc"] | ["pg_catalog", "regproc"]
    );
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(text),
        ..
    }) = operand.as_ref()
    else {
        return None;
    };
    if !is_regproc || !modifiers.is_empty() {
        return None;
    }
    let name = text.strip_prefix("pg_catalog.").unwrap_or(text);
    // A quoted or otherwise qualified name is left to the cast's rule.
    if name.contains(['.', '"']) {
        return None;
    }
    Some(Expr::value(Value::SingleQuotedString(name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion_pg_catalog::sql::rules::SqlStatementRewriteRule;

    fn rewritten(sql: &str) -> String {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        RegprocNames.rewrite(statement).to_string()
    }

    #[test]
    fn io_function_columns_compare_names() {
        assert_eq!(
            rewritten("SELECT typinput = 'pg_catalog.array_in'::regproc FROM pg_type"),
            "SELECT typinput = 'array_in' FROM pg_type"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM pg_type t WHERE 'boolin'::pg_catalog.regproc <> t.typinput"),
            "SELECT 1 FROM pg_type t WHERE 'boolin' <> t.typinput"
        );
    }

    #[test]
    fn other_casts_are_left() {
        for sql in [
            "SELECT 'array_in'::regproc",
            "SELECT prorettype = 'array_in'::regproc FROM pg_proc",
            "SELECT typinput = 'myschema.f'::regproc FROM pg_type",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }
}
