//! Quoted literals in a `VALUES` list read as the type of their column's typed values,
//! as PostgreSQL resolves a `VALUES` column's type: in `VALUES (DATE '2024-01-01'),
//! ('2024-01-02')` the second row is a `date` too (DataFusion refused the list:
//! "Inconsistent data type across values list ... Was Date32 but found Utf8").
//!
//! Where every value of a column is a quoted literal, a `NULL`, or a value written with
//! its type (`DATE '...'`, `INTERVAL '...'`, `'...'::type`, `CAST(... AS type)`,
//! `TRUE`/`FALSE`), and the typed ones name one type, the quoted literals are written
//! with that type as well. Columns holding anything else are left as they are (their
//! types are known only once planned). The `VALUES` of an `INSERT` are left alone:
//! there each value is read as its target column's type, as in PostgreSQL.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Interval, Query, SetExpr, Statement, Value, Values, VisitMut,
    VisitorMut,
};

/// Every `VALUES` list of `statement` but an `INSERT`'s own, its quoted literals typed
/// as described in the module's documentation.
pub fn rewrite_untyped_literals(statement: &mut Statement) {
    let inserted = match statement {
        Statement::Insert(insert) => insert.source.as_deref().map(|q| q as *const Query),
        _ => None,
    };
    let _ = statement.visit(&mut TypedValues { inserted });
}

struct TypedValues {
    /// The query whose `VALUES` an `INSERT` writes (compared by address only).
    inserted: Option<*const Query>,
}

impl VisitorMut for TypedValues {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if self.inserted != Some(query as *const Query) {
            type_values_of(&mut query.body);
        }
        ControlFlow::Continue(())
    }
}

/// The `VALUES` lists of a query's body (also under `UNION` and the like).
fn type_values_of(body: &mut SetExpr) {
    match body {
        SetExpr::Values(values) => type_columns(values),
        SetExpr::SetOperation { left, right, .. } => {
            type_values_of(left);
            type_values_of(right);
        }
        _ => {}
    }
}

fn type_columns(values: &mut Values) {
    let width = values.rows.first().map_or(0, |row| row.len());
    for column in 0..width {
        let Some(template) = column_type(values, column) else {
            continue;
        };
        for row in &mut values.rows {
            if let Some(value) = row.get_mut(column)
                && is_quoted(value)
            {
                *value = typed_like(&template, value.clone());
            }
        }
    }
}

/// A typed value of `column` whose type every typed value there names, where the
/// column also holds quoted literals and nothing of an unknown type.
fn column_type(values: &Values, column: usize) -> Option<Expr> {
    let mut template: Option<(String, &Expr)> = None;
    let mut quoted = false;
    for row in &values.rows {
        let value = row.get(column)?;
        if is_quoted(value) {
            quoted = true;
            continue;
        }
        if matches!(value, Expr::Value(v) if v.value == Value::Null) {
            continue;
        }
        let name = type_name(value)?;
        match &template {
            Some((known, _)) if *known != name => return None,
            Some(_) => {}
            None => template = Some((name, value)),
        }
    }
    let (_, template) = template?;
    quoted.then(|| template.clone())
}

/// The type a value is written with, if it is written with one.
fn type_name(value: &Expr) -> Option<String> {
    match value {
        Expr::TypedString(typed) => Some(typed.data_type.to_string()),
        Expr::Cast {
            data_type,
            array: false,
            format: None,
            ..
        } => Some(data_type.to_string()),
        Expr::Interval(_) => Some(
            DataType::Interval {
                fields: None,
                precision: None,
            }
            .to_string(),
        ),
        Expr::Value(v) if matches!(v.value, Value::Boolean(_)) => {
            Some(DataType::Boolean.to_string())
        }
        _ => None,
    }
}

fn is_quoted(value: &Expr) -> bool {
    matches!(value, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
}

/// `literal` written with the type of `template` (a value [`type_name`] names).
fn typed_like(template: &Expr, literal: Expr) -> Expr {
    match template {
        Expr::TypedString(typed) => {
            let mut typed = typed.clone();
            if let Expr::Value(value) = literal {
                typed.value = value;
            }
            Expr::TypedString(typed)
        }
        Expr::Cast {
            kind, data_type, ..
        } => Expr::Cast {
            kind: kind.clone(),
            expr: Box::new(literal),
            data_type: data_type.clone(),
            array: false,
            format: None,
        },
        Expr::Interval(_) => Expr::Interval(Interval {
            value: Box::new(literal),
            leading_field: None,
            leading_precision: None,
            last_field: None,
            fractional_seconds_precision: None,
        }),
        _ => Expr::Cast {
            kind: CastKind::DoubleColon,
            expr: Box::new(literal),
            data_type: DataType::Boolean,
            array: false,
            format: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite_untyped_literals(&mut statement);
        statement.to_string()
    }

    #[test]
    fn quoted_literals_take_their_columns_typed_values_type() {
        assert_eq!(
            rewritten("VALUES (DATE '2024-01-01', 1), ('2024-01-02', 2), (NULL, 3)"),
            "VALUES (DATE '2024-01-01', 1), (DATE '2024-01-02', 2), (NULL, 3)"
        );
        assert_eq!(
            rewritten("SELECT * FROM (VALUES ('1 day'), (INTERVAL '1' HOUR)) AS t (i)"),
            "SELECT * FROM (VALUES (INTERVAL '1 day'), (INTERVAL '1' HOUR)) AS t (i)"
        );
        assert_eq!(
            rewritten("VALUES (TRUE), ('f'), ('x'::TEXT)"),
            "VALUES (true), ('f'), ('x'::TEXT)"
        );
        assert_eq!(
            rewritten("VALUES (TRUE), ('f')"),
            "VALUES (true), ('f'::BOOLEAN)"
        );
        assert_eq!(
            rewritten("VALUES ('a'::CHAR(3)), ('b') UNION VALUES ('c'), (CAST('d' AS TEXT))"),
            "VALUES ('a'::CHAR(3)), ('b'::CHAR(3)) UNION VALUES (CAST('c' AS TEXT)), (CAST('d' AS TEXT))"
        );
    }

    #[test]
    fn columns_of_other_values_and_inserts_are_left_alone() {
        for sql in [
            "VALUES (DATE '2024-01-01'), ('2024-01-02'), (now())",
            "VALUES ('a'), ('b')",
            "INSERT INTO t VALUES (DATE '2024-01-01'), ('hello')",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
        assert_eq!(
            rewritten("INSERT INTO t SELECT * FROM (VALUES (DATE '2024-01-01'), ('x')) AS v"),
            "INSERT INTO t SELECT * FROM (VALUES (DATE '2024-01-01'), (DATE 'x')) AS v"
        );
    }
}
