//! SQL prepared statements, as in PostgreSQL: `PREPARE name [(type, ...)] AS
//! statement` keeps a `SELECT`, `VALUES`, `INSERT`, `UPDATE` or `DELETE`;
//! `EXECUTE name [(value, ...)]` runs it with its parameters (`$1`, `$2`, ...) bound
//! to the values, each cast to its parameter's type; `DEALLOCATE [PREPARE] name | ALL`
//! (and `DISCARD ALL`) forgets it. A session's prepared statements are its own, kept
//! with the session ([`super::backends::Backends`]) until it ends.
//!
//! The body is planned at `PREPARE`, for its errors, and again at each `EXECUTE`, for
//! the relations as they are then, as the extended protocol's `Parse` plans a
//! statement: each parameter takes the type the statement gives it (`WHERE id = $1`).
//! `EXECUTE` reads each value as the parameter's declared type (`PREPARE
//! q(timestamp)`), else as that type, else as `text`, then converts it to the type the
//! statement expects. Privileges are checked when the statement runs, as PostgreSQL
//! checks them.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::sqlparser::ast::{
    DataType as SqlDataType, DiscardObject, Expr as SqlExpr, ObjectNamePart, Statement,
};

use super::{Command, Prepared, SqlStatement, names, types};
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};

/// A prepared-statement statement of session `pid` (bound before planning, like a
/// cursor's, by [`super::backends::bind_session`]).
#[derive(Debug, Clone)]
pub struct PreparedStatementOp {
    pub pid: i32,
    pub op: Op,
}

/// What the statement does.
#[derive(Debug, Clone)]
pub enum Op {
    /// `PREPARE name [(types)] AS statement`.
    Prepare {
        name: String,
        types: Vec<SqlDataType>,
        statement: Box<Statement>,
    },
    /// `EXECUTE name [(values)]`.
    Execute { name: String, values: Vec<SqlExpr> },
    /// `DEALLOCATE [PREPARE] name` (`None`: `ALL`).
    Deallocate { name: Option<String> },
    /// `DISCARD ALL`: forgets every prepared statement too.
    DiscardAll,
}

/// A statement `PREPARE` planned, ready for `EXECUTE`.
#[derive(Debug)]
pub struct StoredStatement {
    /// The body and the declared types, as written: `EXECUTE` plans them again, so
    /// that it reads the relations as they are then, as PostgreSQL's re-planning does
    /// (a table dropped since is `42P01`), not as they were at `PREPARE`.
    body: Statement,
    types: Vec<SqlDataType>,
    pub prepared: Prepared,
    pub parameters: Vec<Parameter>,
}

/// A parameter (`$1`, ...) of a [`StoredStatement`].
#[derive(Debug)]
pub struct Parameter {
    /// The type `EXECUTE`'s value is read as: the declared one, else the one the
    /// statement expects, else `text`.
    sql_type: String,
    /// The type the planned statement expects, when it fixes one.
    data_type: Option<DataType>,
}

/// The operation `statement` is, when it is one; `rewrite` is applied to a prepared
/// statement's body, which is planned as a statement of its own.
pub fn op_of(
    statement: &Statement,
    rewrite: impl Fn(&mut Statement) -> Result<()>,
) -> Result<Option<Op>> {
    Ok(Some(match statement {
        Statement::Prepare {
            name,
            data_types,
            statement,
        } => {
            let mut statement = statement.clone();
            rewrite(&mut statement)?;
            Op::Prepare {
                name: names::normalize_ident(name),
                types: data_types.clone(),
                statement,
            }
        }
        Statement::Execute {
            name: Some(name),
            parameters,
            immediate: false,
            into,
            using,
            output: false,
            default: false,
            ..
        } if into.is_empty() && using.is_empty() => match name.0.as_slice() {
            [ObjectNamePart::Identifier(name)] => Op::Execute {
                name: names::normalize_ident(name),
                values: parameters.clone(),
            },
            _ => return Ok(None),
        },
        Statement::Deallocate { name, .. } => Op::Deallocate {
            name: if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
                None
            } else {
                Some(names::normalize_ident(name))
            },
        },
        Statement::Discard {
            object_type: DiscardObject::ALL,
        } => Op::DiscardAll,
        _ => return Ok(None),
    }))
}

/// Checks and plans `statement` as a [`Command`].
pub async fn prepare(db: &Database, statement: PreparedStatementOp) -> Result<Command> {
    let pid = statement.pid;
    Ok(match statement.op {
        Op::Prepare {
            name,
            types,
            statement,
        } => Command::Prepare {
            pid,
            statement: Arc::new(plan(types, *statement, db).await?),
            name,
        },
        Op::Execute { name, values } => {
            let stored = db
                .backends()
                .prepared_statement(pid, &name)
                .ok_or_else(|| does_not_exist(&name))?;
            let statement = Arc::new(plan(stored.types.clone(), stored.body.clone(), db).await?);
            if values.len() != statement.parameters.len() {
                return Err(SluiceError::coded(
                    sqlstate::SYNTAX_ERROR,
                    format!(
                        "wrong number of parameters for prepared statement \"{name}\": \
                         expected {} parameters but got {}",
                        statement.parameters.len(),
                        values.len()
                    ),
                ));
            }
            let values = (!values.is_empty())
                .then(|| values_query(db, &statement, &values))
                .transpose()?
                .map(Box::new);
            Command::Execute { statement, values }
        }
        Op::Deallocate { name } => Command::Deallocate {
            pid,
            tag: if name.is_some() {
                "DEALLOCATE"
            } else {
                "DEALLOCATE ALL"
            },
            name,
        },
        Op::DiscardAll => Command::Deallocate {
            pid,
            name: None,
            tag: "DISCARD ALL",
        },
    })
}

/// `prepared statement "name" does not exist` (`26000`).
pub fn does_not_exist(name: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::INVALID_SQL_STATEMENT_NAME,
        format!("prepared statement \"{name}\" does not exist"),
    )
}

/// Plans the body of `PREPARE name (types) AS statement`, as the extended protocol's
/// `Parse` plans a statement.
async fn plan(
    types: Vec<SqlDataType>,
    statement: Statement,
    db: &Database,
) -> Result<StoredStatement> {
    if !matches!(
        statement,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)
    ) {
        let text = statement.to_string();
        let head = text.split_whitespace().next().unwrap_or_default();
        return Err(SluiceError::coded(
            sqlstate::SYNTAX_ERROR,
            format!(
                "syntax error at or near \"{head}\": PREPARE takes a SELECT, VALUES, INSERT, \
                 UPDATE or DELETE"
            ),
        ));
    }
    let prepared = Box::pin(super::prepare(
        db,
        SqlStatement::Standard(Box::new(statement.clone())),
    ))
    .await?;
    let inferred = super::parameter_types(&prepared)?;
    let parameters = (0..inferred.len().max(types.len()))
        .map(|i| {
            let data_type = inferred.get(i).cloned().flatten();
            // An untyped parameter is text, as PostgreSQL resolves one.
            let sql_type = match (types.get(i), &data_type) {
                (Some(declared), _) => declared.to_string(),
                (None, Some(data_type)) => types::sql_name(data_type),
                (None, None) => "text".to_string(),
            };
            Parameter {
                sql_type,
                data_type,
            }
        })
        .collect();
    Ok(StoredStatement {
        body: statement,
        types,
        prepared,
        parameters,
    })
}

/// `SELECT CAST((value) AS type), ...`: `EXECUTE`'s values as its parameters' types
/// (a string is read as the type, as PostgreSQL reads an untyped literal).
fn values_query(
    db: &Database,
    statement: &StoredStatement,
    values: &[SqlExpr],
) -> Result<Statement> {
    let casts: Vec<String> = values
        .iter()
        .zip(&statement.parameters)
        .map(|(value, parameter)| format!("CAST(({value}) AS {})", parameter.sql_type))
        .collect();
    db.parser()
        .parse_one(&format!("SELECT {}", casts.join(", ")))
}

/// The parameters' values of `statement`: the one row of `values` ([`values_query`]),
/// each as the type the statement expects.
pub async fn evaluate(
    db: &Database,
    statement: &StoredStatement,
    values: Statement,
) -> Result<ParamValues> {
    let plan = super::plan_statement(db, values).await?;
    let batches = db
        .context()
        .execute_logical_plan(plan)
        .await?
        .collect()
        .await?;
    let row = batches
        .iter()
        .find(|batch| batch.num_rows() > 0)
        .ok_or_else(|| SluiceError::Internal("EXECUTE's values gave no row".into()))?;
    let values = row
        .columns()
        .iter()
        .zip(&statement.parameters)
        .map(|(column, parameter)| {
            let value = ScalarValue::try_from_array(column, 0)?;
            Ok(match &parameter.data_type {
                Some(data_type) if data_type != &value.data_type() => value.cast_to(data_type)?,
                _ => value,
            }
            .into())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ParamValues::List(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn op(sql: &str) -> Option<Op> {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        op_of(&statements.remove(0), |_| Ok(())).unwrap()
    }

    #[test]
    fn names_fold_as_postgres_identifiers() {
        let Some(Op::Prepare { name, types, .. }) = op("PREPARE Q1(int, text) AS SELECT $1") else {
            panic!("not a PREPARE");
        };
        assert_eq!((name.as_str(), types.len()), ("q1", 2));
        let Some(Op::Execute { name, values }) = op("EXECUTE \"Q1\"(1, 'a')") else {
            panic!("not an EXECUTE");
        };
        assert_eq!((name.as_str(), values.len()), ("Q1", 2));
        assert!(matches!(
            op("DEALLOCATE PREPARE Q1"),
            Some(Op::Deallocate { name: Some(n) }) if n == "q1"
        ));
    }

    #[test]
    fn all_is_every_statement_unless_quoted() {
        assert!(matches!(
            op("DEALLOCATE ALL"),
            Some(Op::Deallocate { name: None })
        ));
        assert!(matches!(
            op("DEALLOCATE \"ALL\""),
            Some(Op::Deallocate { name: Some(n) }) if n == "ALL"
        ));
        assert!(matches!(op("DISCARD ALL"), Some(Op::DiscardAll)));
        assert!(op("DISCARD PLANS").is_none());
        assert!(op("SELECT 1").is_none());
    }

    #[test]
    fn the_body_is_rewritten_as_a_statement_of_its_own() {
        let mut statements =
            Parser::parse_sql(&PostgreSqlDialect {}, "PREPARE q AS SELECT 1").unwrap();
        let rewritten = op_of(&statements.remove(0), |statement| {
            *statement = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 2")
                .unwrap()
                .remove(0);
            Ok(())
        })
        .unwrap();
        let Some(Op::Prepare { statement, .. }) = rewritten else {
            panic!("not a PREPARE");
        };
        assert_eq!(statement.to_string(), "SELECT 2");
    }
}
