//! Resolving the names users write (`t`, `public.t`, `sluice.public."T"`) to catalog
//! names, with Postgres's rule: unquoted identifiers fold to lowercase.

use datafusion::common::TableReference;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, Statement, visit_expressions_mut, visit_relations,
};

use crate::catalog::{DEFAULT_DATABASE, DEFAULT_SCHEMA};
use crate::error::{Result, SluiceError};

/// The catalog name of identifier `ident`.
pub fn normalize_ident(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The column an expression names (`c` or `t.c`: its last part), normalized;
/// `None` for any other expression.
pub fn column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(normalize_ident(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(normalize_ident),
        _ => None,
    }
}

/// True when `statement` reads a relation whose last name part is one of `names`
/// (lowercase), under any schema: the catalog rewrites that know `pg_catalog`'s
/// columns by name leave the statements that read none of their relations alone.
pub fn reads_any_of(statement: &Statement, names: &[&str]) -> bool {
    visit_relations(statement, |relation| {
        let last = relation.0.last().and_then(|part| part.as_ident());
        if last.is_some_and(|ident| names.contains(&normalize_ident(ident).as_str())) {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// For every comparison `column op literal` or `literal op column` of `statement` with
/// `op` one of `operators` and the column's name (see [`column_name`]) one of
/// `columns`: the literal becomes `read(literal)` where that reads it. The rewrites
/// that know `pg_catalog`'s columns by name ([`super::array_literals`],
/// [`super::boolean_literals`]) give literals the columns' types so.
pub fn rewrite_compared_literals(
    statement: &mut Statement,
    operators: &[BinaryOperator],
    columns: &[&str],
    read: impl Fn(&Expr) -> Option<Expr>,
) {
    let named =
        |expr: &Expr| column_name(expr).is_some_and(|name| columns.contains(&name.as_str()));
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::BinaryOp { left, op, right } = expr
            && operators.contains(op)
        {
            if named(left)
                && let Some(value) = read(right)
            {
                **right = value;
            } else if named(right)
                && let Some(value) = read(left)
            {
                **left = value;
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// The catalog name of a user object, refusing schemas other than `public`.
pub fn relation_name(name: &ObjectName) -> Result<String> {
    let parts = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(normalize_ident)
                .ok_or_else(|| SluiceError::Syntax(format!("invalid relation name {name}")))
        })
        .collect::<Result<Vec<_>>>()?;
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == DEFAULT_SCHEMA => Ok(table.clone()),
        [db, schema, table] if db == DEFAULT_DATABASE && schema == DEFAULT_SCHEMA => {
            Ok(table.clone())
        }
        _ => Err(SluiceError::not_supported(format!(
            "relation {name}: user objects live in schema \"{DEFAULT_SCHEMA}\""
        ))),
    }
}

/// The catalog name behind a DataFusion table reference (already normalized).
pub fn reference_name(reference: &TableReference) -> Result<String> {
    let schema_ok = reference.schema().is_none_or(|s| s == DEFAULT_SCHEMA);
    let db_ok = reference.catalog().is_none_or(|c| c == DEFAULT_DATABASE);
    if schema_ok && db_ok {
        Ok(reference.table().to_string())
    } else {
        Err(SluiceError::not_supported(format!(
            "cannot write to {reference}: only tables in schema \"{DEFAULT_SCHEMA}\" are writable"
        )))
    }
}

/// `name` as a quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `name` as a SQL string literal.
pub fn quote_literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::ObjectNamePart;

    fn object(parts: &[Ident]) -> ObjectName {
        ObjectName(
            parts
                .iter()
                .cloned()
                .map(ObjectNamePart::Identifier)
                .collect(),
        )
    }

    #[test]
    fn unquoted_names_fold_and_quoted_keep_case() {
        assert_eq!(
            relation_name(&object(&[Ident::new("Bids")])).unwrap(),
            "bids"
        );
        assert_eq!(
            relation_name(&object(&[
                Ident::new("public"),
                Ident::with_quote('"', "Bids")
            ]))
            .unwrap(),
            "Bids"
        );
        assert!(relation_name(&object(&[Ident::new("other"), Ident::new("t")])).is_err());
    }
}
