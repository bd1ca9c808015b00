//! `CREATE SINK`, `DROP SINK`, `SHOW CREATE SINK` (RisingWave's syntax), and a
//! sink's start: at `CREATE`, and at start-up from the last checkpoint.
//!
//! ```text
//! CREATE SINK [IF NOT EXISTS] name FROM materialized_view
//! WITH (connector = 'kafka', topic = '...', properties.bootstrap.server = '...',
//!       [primary_key = 'col[, ...]'], [snapshot = 'true' | 'false'],
//!       [force_append_only = 'true' | 'false'], [properties.* = '...'])
//! FORMAT PLAIN | UPSERT | DEBEZIUM ENCODE JSON
//! ```
//!
//! A sink is a participant in checkpoints like a view (its backlog is its state,
//! see [`crate::dataflow::sink`]); its writer commits each complete checkpoint's
//! part to Kafka in one transaction ([`crate::connectors::kafka_sink`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::ObjectName;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::Output;
use super::create_source::{parse_options, parse_word};
use super::names::relation_name;
use crate::catalog::{CatalogEntry, Relation, RelationKind, Sink, View, undefined_sink};
use crate::connectors::kafka_sink::{KafkaSinkConfig, Writer, spawn_writer};
use crate::connectors::options::{Options, invalid};
use crate::connectors::sink_format::{SinkEncoder, SinkFormat};
use crate::database::Database;
use crate::dataflow::barrier::Participant;
use crate::dataflow::checkpoints::Manifest;
use crate::dataflow::sink::{RunningSink, SinkStart};
use crate::error::{Result, SluiceError, sqlstate};

/// A parsed `CREATE SINK`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSink {
    /// The statement as written (the catalog definition).
    pub text: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The sink's name.
    pub name: ObjectName,
    /// The view it reads.
    pub from: ObjectName,
    /// `WITH (...)`, keys lowercased.
    pub options: BTreeMap<String, String>,
    /// `FORMAT name` (lowercase).
    pub format: String,
    /// `ENCODE name` (lowercase) and its options.
    pub encode: (String, BTreeMap<String, String>),
}

fn syntax(message: impl Into<String>) -> SluiceError {
    SluiceError::Syntax(format!("syntax error in CREATE SINK: {}", message.into()))
}

fn expect_words(parser: &mut Parser, words: &[&str]) -> Result<()> {
    for word in words {
        if !parse_word(parser, word) {
            return Err(syntax(format!(
                "expected {word}, found {}",
                parser.peek_token().token
            )));
        }
    }
    Ok(())
}

fn expect_end(parser: &mut Parser) -> Result<()> {
    let _ = parser.consume_token(&Token::SemiColon);
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(syntax(format!("unexpected {other}"))),
    }
}

/// Parses `CREATE SINK ...` (the whole text of one statement).
pub fn parse_create_sink(text: &str) -> Result<CreateSink> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, &["CREATE", "SINK"])?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    if parser.parse_keyword(Keyword::AS) {
        return Err(SluiceError::not_supported(
            "CREATE SINK ... AS SELECT is not supported yet: create a materialized view of the \
             query and a sink FROM it",
        ));
    }
    if !parser.parse_keyword(Keyword::FROM) {
        return Err(syntax(format!(
            "expected FROM, found {}",
            parser.peek_token().token
        )));
    }
    let from = parser.parse_object_name(false)?;
    parser.expect_keyword(Keyword::WITH)?;
    let options = parse_options(&mut parser)?;
    if !parser.parse_keyword(Keyword::FORMAT) {
        return Err(syntax(
            "FORMAT PLAIN | UPSERT | DEBEZIUM ENCODE JSON is required after WITH (...)",
        ));
    }
    let format = parser.parse_identifier()?.value.to_lowercase();
    expect_words(&mut parser, &["ENCODE"])?;
    let encoding = parser.parse_identifier()?.value.to_lowercase();
    let encode_options = if parser.peek_token().token == Token::LParen {
        parse_options(&mut parser)?
    } else {
        BTreeMap::new()
    };
    expect_end(&mut parser)?;
    Ok(CreateSink {
        text: text.trim().trim_end_matches(';').trim().to_string(),
        if_not_exists,
        name,
        from,
        options,
        format,
        encode: (encoding, encode_options),
    })
}

/// `DROP SINK [IF EXISTS] name [, ...]`: (names, if_exists).
pub fn parse_drop_sink(text: &str) -> Result<(Vec<ObjectName>, bool)> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, &["DROP", "SINK"])?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let mut names = vec![parser.parse_object_name(false)?];
    while parser.consume_token(&Token::Comma) {
        names.push(parser.parse_object_name(false)?);
    }
    let _ = parser.parse_keyword(Keyword::RESTRICT) || parser.parse_keyword(Keyword::CASCADE);
    expect_end(&mut parser)?;
    Ok((names, if_exists))
}

/// `SHOW CREATE SINK name`.
pub fn parse_show_create_sink(text: &str) -> Result<ObjectName> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, &["SHOW", "CREATE", "SINK"])?;
    let name = parser.parse_object_name(false)?;
    expect_end(&mut parser)?;
    Ok(name)
}

/// What `CREATE SINK` asks for, checked against its view.
struct Plan {
    view: Arc<View>,
    config: KafkaSinkConfig,
    encoder: SinkEncoder,
    format: SinkFormat,
    snapshot: bool,
}

fn flag(options: &mut Options, key: &str, default: bool) -> Result<bool> {
    match options.get(key).map(|v| v.to_lowercase()).as_deref() {
        None => Ok(default),
        Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(format!("{key} = '{other}': use 'true' or 'false'"))),
    }
}

fn plan(db: &Database, id: u64, name: &str, create: &CreateSink) -> Result<Plan> {
    let from = relation_name(&create.from)?;
    let view = match db.catalog().get(&from) {
        Some(Relation::View(view)) => view,
        Some(Relation::Table(_) | Relation::Source(_)) => {
            return Err(SluiceError::not_supported(format!(
                "a sink reads a materialized view; \"{from}\" is a table or a source: create a \
                 materialized view of it (SELECT * FROM {from}) and a sink FROM that"
            )));
        }
        None => return Err(SluiceError::UndefinedTable(from)),
    };
    let mut options = Options::new(create.options.clone());
    match options.required("connector")?.to_lowercase().as_str() {
        "kafka" => {}
        other => {
            return Err(SluiceError::not_supported(format!(
                "sink connector '{other}' is not supported: Sluice sinks write to Kafka"
            )));
        }
    }
    let config = KafkaSinkConfig::from_options(&mut options, &format!("sluice-sink-{id}-{name}"))?;
    let snapshot = flag(&mut options, "snapshot", true)?;
    let force_append_only = flag(&mut options, "force_append_only", false)?;
    let schema = view.running().schema();
    let key = match options.get("primary_key") {
        None => Vec::new(),
        Some(columns) => columns
            .split(',')
            .map(|column| {
                let column = column.trim().trim_matches('"');
                schema.index_of(column).map_err(|_| {
                    SluiceError::coded(
                        sqlstate::UNDEFINED_COLUMN,
                        format!("primary_key column \"{column}\" is not a column of {from}"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    options.finish()?;
    let (encoding, encode_options) = &create.encode;
    if encoding != "json" || !encode_options.is_empty() {
        return Err(SluiceError::not_supported(format!(
            "ENCODE {} is not supported: sinks encode JSON, without options",
            encoding.to_uppercase()
        )));
    }
    let format = match create.format.as_str() {
        "plain" => SinkFormat::Plain { force_append_only },
        "upsert" => SinkFormat::Upsert,
        "debezium" => SinkFormat::Debezium,
        other => {
            return Err(SluiceError::not_supported(format!(
                "FORMAT {} is not supported: use PLAIN, UPSERT or DEBEZIUM",
                other.to_uppercase()
            )));
        }
    };
    if force_append_only && format.keyed() {
        return Err(invalid("force_append_only applies to FORMAT PLAIN only"));
    }
    if format.keyed() && key.is_empty() {
        return Err(invalid(format!(
            "FORMAT {} needs primary_key = 'column[, ...]': the message key that a change \
             replaces or deletes",
            format.name().to_uppercase()
        )));
    }
    if format
        == (SinkFormat::Plain {
            force_append_only: false,
        })
        && !view.append_only()
    {
        return Err(SluiceError::not_supported(format!(
            "FORMAT PLAIN writes only insertions, and materialized view {from} can update and \
             delete rows: use FORMAT UPSERT or DEBEZIUM with a primary_key, or \
             force_append_only = 'true' to drop its deletions"
        )));
    }
    let encoder = SinkEncoder::new(format, schema, key, &from);
    Ok(Plan {
        view,
        config,
        encoder,
        format,
        snapshot,
    })
}

/// Runs `CREATE SINK`: checks the broker and the topic, subscribes to the view,
/// and returns once the sink is in a checkpoint (when checkpoints are on), so its
/// start survives a crash.
pub async fn create_sink(db: &Database, create: &CreateSink) -> Result<Output> {
    let done = Output::Done {
        tag: "CREATE SINK",
        rows: None,
    };
    {
        let _ddl = db.ddl_guard().await;
        let name = relation_name(&create.name)?;
        let taken = db.catalog().get(&name).is_some() || db.catalog().sink(&name).is_some();
        if taken {
            return match create.if_not_exists {
                true => Ok(done),
                false => Err(SluiceError::DuplicateTable(name)),
            };
        }
        let entry = CatalogEntry {
            id: db.catalog().allocate_id(),
            name: name.clone(),
            kind: RelationKind::Sink,
            definition: create.text.clone(),
        };
        let plan = plan(db, entry.id, &name, create)?;
        let config = plan.config.clone();
        tokio::task::spawn_blocking(move || config.check())
            .await
            .map_err(|e| SluiceError::Internal(format!("checking the broker failed: {e}")))??;
        let sink = start(db, entry, plan, None)?;
        let running = sink.running().clone();
        if let Err(e) = db.catalog().insert_sink(sink, true) {
            running.stop();
            return Err(e);
        }
    }
    if !db.checkpoints().interval().is_zero() {
        crate::checkpointer::take(db).await?;
    }
    Ok(done)
}

/// Starts a sink under the sequencer's lock: registered for checkpoints and
/// subscribed to its view in one step, from `restore` (a checkpoint directory and
/// the sink's state there) or from the view's current rows.
fn start(
    db: &Database,
    entry: CatalogEntry,
    plan: Plan,
    restore: Option<(String, crate::dataflow::view::ViewCheckpoint)>,
) -> Result<Arc<Sink>> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let view = plan.view.running().clone();
    let running = {
        let mut order = db.sequencer().lock();
        let dir = match &restore {
            Some((dir, _)) => dir.clone(),
            None => format!("{}-{}", entry.id, order.next_barrier()),
        };
        let first_barrier = order.register(Participant {
            view_id: entry.id,
            dir,
            fingerprint: entry.definition.clone(),
            inbox: sender.clone(),
        });
        let start = match restore {
            Some((dir, checkpoint)) => {
                view.subscribe_changes(0, sender.clone());
                SinkStart::Restore(Manifest::view_dir(db.checkpoints().dir(), &dir), checkpoint)
            }
            None => {
                let (rows, _) = view.subscribe(0, sender.clone())?;
                match plan.snapshot {
                    true => SinkStart::Snapshot(rows),
                    false => SinkStart::Changes,
                }
            }
        };
        RunningSink::start(
            &entry.name,
            view.schema(),
            (sender, receiver),
            Some(first_barrier),
            start,
        )?
    };
    spawn_writer(Writer {
        config: plan.config.clone(),
        encoder: plan.encoder,
        backlog: running.backlog().clone(),
        progress: running.progress().clone(),
        completed: db.checkpoints().completed(),
        stopped: running.stopped(),
    });
    Ok(Arc::new(Sink::new(
        entry,
        plan.view.entry().name.clone(),
        plan.format,
        plan.config.topic,
        running,
    )))
}

/// Re-creates a sink at start-up: from its state in the last checkpoint when its
/// view was restored from the same checkpoint; otherwise (no checkpoint, or the
/// view rebuilt) from the view's rows as at `CREATE` (its snapshot option), which
/// writes them again: said in the log.
pub async fn replay_sink(db: &Database, entry: &CatalogEntry) -> Result<()> {
    let create = parse_create_sink(&entry.definition)?;
    let plan = plan(db, entry.id, &entry.name, &create)?;
    let restore = {
        let recovery = db.lock_recovery();
        recovery.as_ref().and_then(|recovery| {
            let view_restored = recovery.restored.contains(&plan.view.entry().id);
            match recovery.manifest.view(entry.id) {
                Some((dir, saved)) if view_restored && saved.fingerprint == entry.definition => {
                    Some((dir.to_string(), saved.checkpoint.clone()))
                }
                _ => {
                    tracing::warn!(sink = %entry.name, "sink starts again from its view's rows: it has no state in the last checkpoint, or its view was rebuilt");
                    None
                }
            }
        })
    };
    let sink = start(db, entry.clone(), plan, restore)?;
    db.catalog().insert_sink(sink, false)
}

/// Runs `DROP SINK [IF EXISTS] names`.
pub async fn drop_sinks(db: &Database, names: &[ObjectName], if_exists: bool) -> Result<Output> {
    let _ddl = db.ddl_guard().await;
    let mut sinks = Vec::new();
    for name in names {
        let name = relation_name(name)?;
        match db.catalog().sink(&name) {
            Some(sink) => sinks.push(sink),
            None if if_exists => {}
            None => return Err(undefined_sink(&name)),
        }
    }
    for sink in sinks {
        drop_sink(db, &sink)?;
    }
    Ok(Output::Done {
        tag: "DROP SINK",
        rows: None,
    })
}

/// Removes a sink and stops it (what it had not written stays unwritten).
pub(crate) fn drop_sink(db: &Database, sink: &Sink) -> Result<()> {
    db.catalog().remove_sink(&sink.entry().name)?;
    sink.running().stop();
    Ok(())
}

/// The sinks reading any of `views`, for refusing to drop or rebuild them.
pub(crate) fn sinks_reading(db: &Database, views: &[&str]) -> Vec<Arc<Sink>> {
    db.catalog()
        .sinks()
        .into_iter()
        .filter(|s| views.contains(&s.input()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_risingwave_form() {
        let sink = parse_create_sink(
            "CREATE SINK IF NOT EXISTS decisions FROM scores WITH (
               connector = 'kafka', topic = 'out', properties.bootstrap.server = '127.0.0.1:9092',
               primary_key = 'id') FORMAT UPSERT ENCODE JSON;",
        )
        .unwrap();
        assert!(sink.if_not_exists);
        assert_eq!(sink.name.to_string(), "decisions");
        assert_eq!(sink.from.to_string(), "scores");
        assert_eq!(sink.options["primary_key"], "id");
        assert_eq!(sink.format, "upsert");
        assert_eq!(sink.encode.0, "json");
        assert!(!sink.text.ends_with(';'));
    }

    #[test]
    fn errors_say_what_is_missing() {
        for (sql, code) in [
            ("CREATE SINK s FROM v WITH (connector = 'kafka')", "42601"),
            (
                "CREATE SINK s v WITH (connector = 'kafka') FORMAT PLAIN ENCODE JSON",
                "42601",
            ),
            (
                "CREATE SINK s AS SELECT 1 WITH (a = 'b') FORMAT PLAIN ENCODE JSON",
                "0A000",
            ),
            (
                "CREATE SINK s FROM v WITH (a = 'b') FORMAT PLAIN ENCODE JSON x",
                "42601",
            ),
        ] {
            assert_eq!(
                parse_create_sink(sql).unwrap_err().sqlstate(),
                code,
                "{sql}"
            );
        }
        assert_eq!(
            parse_drop_sink("DROP SINK IF EXISTS a, b").unwrap(),
            (
                vec![
                    ObjectName::from(vec!["a".into()]),
                    ObjectName::from(vec!["b".into()])
                ],
                true
            )
        );
        assert_eq!(
            parse_show_create_sink("SHOW CREATE SINK a")
                .unwrap()
                .to_string(),
            "a"
        );
    }
}
