//! Model statements, which `sqlparser` does not know, and the `PREDICT(model, ...)`
//! spelling:
//!
//! ```text
//! CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name FROM 'file.onnx'
//!     [WITH (threads = 1, batch_size = 1024, sessions = 2)]
//! DROP MODEL [IF EXISTS] name [, ...]
//! SHOW MODELS
//! DESCRIBE MODEL name
//! ```
//!
//! `PREDICT(fraud, a, b)` names the model like a column; before planning, the name
//! becomes the string literal the function reads (`PREDICT('fraud', a, b)`), which
//! is also accepted as written.

use std::path::Path;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SqlOption, Statement, Value,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::Output;
use super::names::{normalize_ident, quote_literal, relation_name};
use crate::catalog::{CatalogEntry, CatalogModel, RelationKind};
use crate::database::Database;
use crate::error::{Result, SluiceError};
use crate::ml::predict::PREDICT;
use crate::ml::{Model, ModelOptions, store};

/// A parsed `CREATE MODEL`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateModel {
    /// The statement as written (the catalog definition).
    pub text: String,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The model's name.
    pub name: String,
    /// The file to copy in.
    pub path: String,
    /// The `WITH` settings.
    pub options: ModelOptions,
}

fn syntax(message: impl Into<String>) -> SluiceError {
    SluiceError::Syntax(format!("syntax error: {}", message.into()))
}

fn expect_word(parser: &mut Parser, word: &str) -> Result<()> {
    match parser.next_token().token {
        Token::Word(w) if w.value.eq_ignore_ascii_case(word) && w.quote_style.is_none() => Ok(()),
        other => Err(syntax(format!("expected {word}, found {other}"))),
    }
}

fn expect_end(parser: &mut Parser) -> Result<()> {
    let _ = parser.consume_token(&Token::SemiColon);
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(syntax(format!("unexpected {other}"))),
    }
}

fn model_name(parser: &mut Parser) -> Result<String> {
    relation_name(&parser.parse_object_name(false)?)
}

/// Parses `CREATE [OR REPLACE] MODEL ...`.
pub fn parse_create_model(text: &str) -> Result<CreateModel> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_word(&mut parser, "CREATE")?;
    let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    expect_word(&mut parser, "MODEL")?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    if or_replace && if_not_exists {
        return Err(syntax("OR REPLACE and IF NOT EXISTS cannot be combined"));
    }
    let name = model_name(&mut parser)?;
    parser.expect_keyword(Keyword::FROM)?;
    let path = parser.parse_literal_string()?;
    let mut options = ModelOptions::default();
    if parser.parse_keyword(Keyword::WITH) {
        parser.prev_token();
        for option in parser.parse_options(Keyword::WITH)? {
            set_option(&mut options, &option)?;
        }
    }
    expect_end(&mut parser)?;
    Ok(CreateModel {
        text: text.trim().trim_end_matches(';').trim().to_string(),
        or_replace,
        if_not_exists,
        name,
        path,
        options,
    })
}

fn set_option(options: &mut ModelOptions, option: &SqlOption) -> Result<()> {
    let SqlOption::KeyValue { key, value } = option else {
        return Err(syntax(format!("model option {option} is not key = value")));
    };
    let key = normalize_ident(key);
    let text = value.to_string();
    let number = text
        .trim_matches('\'')
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            SluiceError::coded(
                "22023",
                format!("model option {key} must be a positive integer, not {text}"),
            )
        })?;
    match key.as_str() {
        "threads" => options.threads = number,
        "batch_size" => options.batch_size = number,
        "sessions" => options.sessions = number,
        other => {
            return Err(SluiceError::coded(
                "22023",
                format!("unknown model option {other} (known: threads, batch_size, sessions)"),
            ));
        }
    }
    Ok(())
}

/// Parses `DROP MODEL [IF EXISTS] name [, ...]`: (names, if_exists).
pub fn parse_drop_model(text: &str) -> Result<(Vec<String>, bool)> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_word(&mut parser, "DROP")?;
    expect_word(&mut parser, "MODEL")?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let mut names = vec![model_name(&mut parser)?];
    while parser.consume_token(&Token::Comma) {
        names.push(model_name(&mut parser)?);
    }
    if parser.parse_keyword(Keyword::CASCADE) {
        return Err(SluiceError::not_supported(
            "DROP MODEL ... CASCADE: drop the views that use the model first",
        ));
    }
    let _ = parser.parse_keyword(Keyword::RESTRICT);
    expect_end(&mut parser)?;
    Ok((names, if_exists))
}

/// Parses `DESCRIBE MODEL name`.
pub fn parse_describe_model(text: &str) -> Result<String> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_word(&mut parser, "DESCRIBE")?;
    expect_word(&mut parser, "MODEL")?;
    let name = model_name(&mut parser)?;
    expect_end(&mut parser)?;
    Ok(name)
}

/// `SHOW MODELS`.
pub const SHOW_MODELS: &str = "SELECT name, version, inputs, outputs, checksum \
     FROM sluice_catalog.models ORDER BY name";

/// `DESCRIBE MODEL name`: its inputs and outputs, in order.
pub fn describe_query(name: &str) -> String {
    format!(
        "SELECT kind, position, name, type, shape, version, checksum \
         FROM sluice_catalog.model_io WHERE model = {} ORDER BY kind, position",
        quote_literal(name)
    )
}

/// Turns `PREDICT(model, ...)` into `PREDICT('model', ...)` throughout `statement`.
pub fn quote_predict_model_names(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(function) = expr
            && function
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case(PREDICT))
            && let FunctionArguments::List(list) = &mut function.args
            && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut()
            && let Expr::Identifier(ident) = first
        {
            *first = Expr::Value(Value::SingleQuotedString(normalize_ident(ident)).into());
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// Runs `CREATE [OR REPLACE] MODEL`.
pub async fn create_model(db: &Database, create: &CreateModel) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let done = Output::Done {
        tag: "CREATE MODEL",
        rows: None,
    };
    let existing = db.catalog().catalog_model(&create.name);
    if existing.is_some() {
        if create.if_not_exists {
            return Ok(done);
        }
        if !create.or_replace {
            return Err(SluiceError::coded(
                "42710",
                format!("model \"{}\" already exists", create.name),
            ));
        }
    }
    let (id, version) = match &existing {
        Some(old) => (old.entry.id, old.model.version() + 1),
        None => (db.catalog().allocate_id(), 1),
    };
    let dir = db.object_dir(id);
    let checksum = store::copy_in(&dir, version, Path::new(&create.path))?;
    let manifest = store::Manifest {
        version,
        checksum,
        options: create.options,
        source: create.path.clone(),
    };
    let file = manifest.file(&dir);
    let loaded = Model::load(&create.name, &dir, &manifest);
    let model = match loaded {
        Ok(model) => Arc::new(model),
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            if existing.is_none() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return Err(e);
        }
    };
    let users = db.catalog().model_dependents(&create.name);
    if let Some(old) = &existing
        && !users.is_empty()
        && !old.model.signature().compatible(model.signature())
    {
        let _ = std::fs::remove_file(&file);
        let names: Vec<&str> = users.iter().map(|v| v.entry().name.as_str()).collect();
        return Err(SluiceError::coded(
            "2BP01",
            format!(
                "cannot replace model {}: materialized view {} uses it, and the new version \
                 takes or gives different types ({} -> {} instead of {} -> {}); drop the views first",
                create.name,
                names.join(", "),
                model.signature().describe_inputs(),
                model.signature().describe_outputs(),
                old.model.signature().describe_inputs(),
                old.model.signature().describe_outputs(),
            ),
        ));
    }
    if existing.is_some() {
        let mut rebuilt = Vec::new();
        for user in &users {
            rebuilt.push(user.entry().name.clone());
            rebuilt.extend(
                super::ddl::transitive_dependents(db, &user.entry().name)
                    .iter()
                    .map(|v| v.entry().name.clone()),
            );
        }
        let rebuilt: Vec<&str> = rebuilt.iter().map(String::as_str).collect();
        let mut sinks = super::sinks::sinks_reading(db, &rebuilt);
        sinks.extend(super::sinks::sinks_using_model(db, &create.name));
        if let Some(sink) = sinks.first() {
            let _ = std::fs::remove_file(&file);
            return Err(SluiceError::coded(
                crate::error::sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot replace model {}: sink {} reads {}, which would be rebuilt on the \
                     new version; drop the sink first",
                    create.name,
                    sink.entry().name,
                    sink.input()
                ),
            ));
        }
    }
    store::commit(&dir, &manifest)?;
    let entry = CatalogEntry {
        id,
        name: create.name.clone(),
        kind: RelationKind::Model,
        definition: create.text.clone(),
    };
    db.catalog()
        .put_model(CatalogModel { entry, model }, existing.is_some(), true)?;
    rebuild_views_using(db, &create.name).await?;
    Ok(done)
}

/// Rebuilds every view that calls `model` — and the views reading those, in depth
/// order — on the model's version in force. Each view switches at one point: its
/// new dataflow is backfilled first, then takes the old one's place in the catalog.
async fn rebuild_views_using(db: &Database, model: &str) -> Result<()> {
    let mut views = Vec::new();
    for user in db.catalog().model_dependents(model) {
        let name = user.entry().name.clone();
        views.push(user);
        views.extend(super::ddl::transitive_dependents(db, &name));
    }
    views.sort_by_key(|v| v.running().depth());
    views.dedup_by_key(|v| v.entry().id);
    super::ddl::rebuild_views(db, views, &format!("the new version of model {model}")).await
}

/// Runs `DROP MODEL [IF EXISTS] names`: refused while a view uses a model.
pub async fn drop_models(db: &Database, names: &[String], if_exists: bool) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let mut targets = Vec::new();
    for name in names {
        match db.catalog().catalog_model(name) {
            Some(model) => targets.push(model),
            None if if_exists => {}
            None => return Err(crate::catalog::undefined_model(name)),
        }
        let users = db.catalog().model_dependents(name);
        if !users.is_empty() {
            let users: Vec<&str> = users.iter().map(|v| v.entry().name.as_str()).collect();
            return Err(SluiceError::coded(
                crate::error::sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop model {name} because materialized view {} uses it",
                    users.join(", ")
                ),
            ));
        }
        if let Some(sink) = super::sinks::sinks_using_model(db, name).first() {
            return Err(SluiceError::coded(
                crate::error::sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop model {name} because sink {} uses it",
                    sink.entry().name
                ),
            ));
        }
    }
    for target in targets {
        db.catalog().remove_model(&target.entry.name)?;
        let _ = std::fs::remove_dir_all(db.object_dir(target.entry.id));
    }
    Ok(Output::Done {
        tag: "DROP MODEL",
        rows: None,
    })
}

/// Re-loads a stored model at start-up from its copy in the data directory.
pub fn replay_model(db: &Database, entry: &CatalogEntry) -> Result<()> {
    let dir = db.object_dir(entry.id);
    let manifest = store::read(&dir)?;
    let model = Model::load(&entry.name, &dir, &manifest)?;
    let model = CatalogModel {
        entry: entry.clone(),
        model: Arc::new(model),
    };
    db.catalog().put_model(model, false, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_model_statements_parse() {
        let create = parse_create_model(
            "CREATE OR REPLACE MODEL Fraud FROM '/m/f.onnx' WITH (threads = 2, batch_size = '64', sessions = 1);",
        )
        .unwrap();
        assert!(create.or_replace && !create.if_not_exists);
        assert_eq!(create.name, "fraud");
        assert_eq!(create.path, "/m/f.onnx");
        assert_eq!(
            create.options,
            ModelOptions {
                threads: 2,
                batch_size: 64,
                sessions: 1
            }
        );
        let plain = parse_create_model("create model if not exists \"M\" from 'x.onnx'").unwrap();
        assert!(plain.if_not_exists && !plain.or_replace);
        assert_eq!(plain.name, "M");
        assert_eq!(plain.options, ModelOptions::default());
        for (bad, code) in [
            ("CREATE MODEL m FROM x.onnx", "42601"),
            ("CREATE MODEL m 'x.onnx'", "42601"),
            ("CREATE MODEL m FROM 'x' WITH (threads = 0)", "22023"),
            ("CREATE MODEL m FROM 'x' WITH (speed = 1)", "22023"),
            ("CREATE MODEL m FROM 'x' extra", "42601"),
            ("CREATE OR REPLACE MODEL IF NOT EXISTS m FROM 'x'", "42601"),
        ] {
            let err = parse_create_model(bad).unwrap_err();
            assert_eq!(err.sqlstate(), code, "{bad}: {err}");
        }
    }

    #[test]
    fn drop_and_describe_parse() {
        assert_eq!(
            parse_drop_model("DROP MODEL IF EXISTS a, B").unwrap(),
            (vec!["a".to_string(), "b".to_string()], true)
        );
        assert_eq!(
            parse_drop_model("DROP MODEL a").unwrap(),
            (vec!["a".into()], false)
        );
        assert_eq!(
            parse_drop_model("DROP MODEL a CASCADE")
                .unwrap_err()
                .sqlstate(),
            "0A000"
        );
        assert_eq!(parse_describe_model("DESCRIBE MODEL Q").unwrap(), "q");
    }

    #[test]
    fn predict_model_names_become_literals() {
        let parser = crate::sql::parser::SqlParser::default();
        let statement = parser
            .parse_one(
                "SELECT PREDICT(Fraud, a, b), predict('x', c), PREDICT(\"Q\", d), f(g, h) FROM t",
            )
            .unwrap();
        let text = statement.to_string();
        assert!(text.contains("PREDICT('fraud', a, b)"), "{text}");
        assert!(text.contains("predict('x', c)"), "{text}");
        assert!(text.contains("PREDICT('Q', d)"), "{text}");
        assert!(text.contains("f(g, h)"), "{text}");
    }
}
