//! Array literals written as strings, compared with a `pg_catalog` array column:
//! `pol.polroles = '{0}'` (psql's `\d+` and `\dp`) is `pol.polroles = make_array(0)`.
//!
//! PostgreSQL reads `'{0}'` as an array of the column's type; DataFusion cannot
//! compare a list with a string (nor cast one to the other). Only the
//! [`INTEGER_ARRAY_COLUMNS`] are rewritten, and only literals whose elements are all
//! integers: anything else is left for DataFusion to refuse.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, Value, ValueWithSpan,
};

use super::names::rewrite_compared_literals;

/// `pg_catalog` columns that are arrays of integers (`oid[]`, `int2vector`,
/// `oidvector`).
const INTEGER_ARRAY_COLUMNS: [&str; 7] = [
    "polroles",
    "conkey",
    "confkey",
    "indkey",
    "indoption",
    "indclass",
    "indcollation",
];

/// Rewrites every `column op '{...}'` (either side) with `op` a comparison.
pub fn rewrite_array_literals(statement: &mut Statement) {
    use BinaryOperator::*;
    rewrite_compared_literals(
        statement,
        &[Eq, NotEq, Lt, LtEq, Gt, GtEq],
        &INTEGER_ARRAY_COLUMNS,
        integer_array,
    );
}

/// `make_array(...)` of a string literal `'{1,2}'` of integers (`'{}'` has no element
/// type to give: left alone).
fn integer_array(expr: &Expr) -> Option<Expr> {
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(text),
        ..
    }) = expr
    else {
        return None;
    };
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let elements = inner
        .split(',')
        .map(|item| item.trim().parse::<i64>().ok())
        .collect::<Option<Vec<i64>>>()?;
    let args = elements
        .into_iter()
        .map(|n| {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(Value::Number(
                n.to_string(),
                false,
            ))))
        })
        .collect();
    Some(Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new("make_array"))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::parser::rewritten_by(sql, rewrite_array_literals)
    }

    #[test]
    fn integer_array_literals_become_arrays() {
        assert_eq!(
            rewritten("SELECT 1 FROM pg_policy pol WHERE pol.polroles = '{0}'"),
            "SELECT 1 FROM pg_policy pol WHERE pol.polroles = make_array(0)"
        );
        assert_eq!(
            rewritten("SELECT '{1, 2}' <> indkey FROM pg_index"),
            "SELECT make_array(1, 2) <> indkey FROM pg_index"
        );
    }

    #[test]
    fn other_literals_and_columns_are_left() {
        for sql in [
            "SELECT 1 FROM pg_policy WHERE polroles = '{a}'",
            "SELECT 1 FROM pg_policy WHERE polroles = '{}'",
            "SELECT 1 FROM t WHERE tags = '{0}'",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }
}
