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

use datafusion::sql::sqlparser::ast::{ObjectName, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::Output;
use super::create_source::{expect_end, expect_words, parse_options, syntax_in};
use super::names::{quote_ident, relation_name};
use super::view_plan::{ViewPlan, plan_view};
use crate::catalog::sink::SinkReads;
use crate::catalog::{CatalogEntry, Relation, RelationKind, Sink, View, undefined_sink};
use crate::connectors::kafka_sink::{KafkaSinkConfig, Writer, spawn_writer};
use crate::connectors::options::{Options, invalid};
use crate::connectors::sink_format::{SinkEncoder, SinkFormat};
use crate::database::Database;
use crate::dataflow::barrier::{Participant, Role};
use crate::dataflow::checkpoints::Manifest;
use crate::dataflow::sink::{RunningSink, SinkStart};
use crate::dataflow::view::ViewCheckpoint;
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
    /// What it writes.
    pub from: SinkFrom,
    /// `WITH (...)`, keys lowercased.
    pub options: BTreeMap<String, String>,
    /// `FORMAT name` (lowercase).
    pub format: String,
    /// `ENCODE name` (lowercase) and its options.
    pub encode: (String, BTreeMap<String, String>),
}

/// What a sink writes: a relation's changes, or a query's.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkFrom {
    /// `FROM name`: a materialized view (read as it is), a table or a source.
    Relation(ObjectName),
    /// `AS query`: the query's text.
    Query(String),
}

/// The statement this module parses, as syntax errors name it.
const CREATE_SINK: &str = "CREATE SINK";

fn syntax(message: impl Into<String>) -> SluiceError {
    syntax_in(CREATE_SINK, message)
}

/// Parses `CREATE SINK ...` (the whole text of one statement).
pub fn parse_create_sink(text: &str) -> Result<CreateSink> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, CREATE_SINK, &["CREATE", "SINK"])?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    let (from, mut parser) = if parser.parse_keyword(Keyword::FROM) {
        (SinkFrom::Relation(parser.parse_object_name(false)?), parser)
    } else if parser.parse_keyword(Keyword::AS) {
        // The query runs up to the options' WITH (sqlparser would read `FROM t WITH
        // (...)` as table hints); it is parsed when planned, as a view's query is
        // (`EMIT ON WINDOW CLOSE` included).
        let start = byte_offset(text, parser.peek_token().span.start);
        let end = options_start(text)?;
        let query = text[start.min(end)..end].trim();
        if query.is_empty() {
            return Err(syntax("expected a query after AS"));
        }
        let rest = Parser::new(&dialect).try_with_sql(&text[end..])?;
        (SinkFrom::Query(query.to_string()), rest)
    } else {
        return Err(syntax(format!(
            "expected FROM or AS, found {}",
            parser.peek_token().token
        )));
    };
    parser.expect_keyword(Keyword::WITH)?;
    let options = parse_options(&mut parser)?;
    if !parser.parse_keyword(Keyword::FORMAT) {
        return Err(syntax(
            "FORMAT PLAIN | UPSERT | DEBEZIUM ENCODE JSON is required after WITH (...)",
        ));
    }
    let format = parser.parse_identifier()?.value.to_lowercase();
    expect_words(&mut parser, CREATE_SINK, &["ENCODE"])?;
    let encoding = parser.parse_identifier()?.value.to_lowercase();
    let encode_options = if parser.peek_token().token == Token::LParen {
        parse_options(&mut parser)?
    } else {
        BTreeMap::new()
    };
    expect_end(&mut parser, CREATE_SINK)?;
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

/// Where `WITH (` of the options starts: the last `WITH (` outside parentheses (a
/// query's own `WITH` starts a common table expression, `WITH name AS (...)`).
fn options_start(text: &str) -> Result<usize> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| syntax(e.to_string()))?;
    let mut depth = 0i32;
    let mut found = None;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    for (i, token) in significant.iter().enumerate() {
        match &token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w)
                if depth == 0
                    && w.keyword == Keyword::WITH
                    && significant
                        .get(i + 1)
                        .is_some_and(|t| t.token == Token::LParen) =>
            {
                found = Some(byte_offset(text, token.span.start));
            }
            _ => {}
        }
    }
    found.ok_or_else(|| syntax("expected WITH (...) after the query"))
}

/// The byte offset in `text` of a tokenizer location (lines and characters from 1).
fn byte_offset(text: &str, at: datafusion::sql::sqlparser::tokenizer::Location) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take((at.line as usize).saturating_sub(1))
        .map(str::len)
        .sum();
    text[line_start..]
        .char_indices()
        .nth((at.column as usize).saturating_sub(1))
        .map_or(text.len(), |(i, _)| line_start + i)
}

/// What `CREATE SINK` asks for, checked against what it reads.
struct Plan {
    input: Input,
    /// The relations its dataflow reads (a view's sink: the view).
    inputs: Vec<String>,
    /// The models its own view calls.
    models: Vec<String>,
    /// What `sink_status.view` shows: the view, or the relations a query reads.
    shown_as: String,
    config: KafkaSinkConfig,
    encoder: SinkEncoder,
    format: SinkFormat,
    snapshot: bool,
}

/// What a sink reads.
enum Input {
    /// A catalog view's changes.
    View(Arc<View>),
    /// Its own view of a query (`AS`, or `FROM` a table or source), which keeps no
    /// rows.
    Query {
        plan: Box<ViewPlan>,
        emit_on_close: bool,
    },
}

fn flag(options: &mut Options, key: &str, default: bool) -> Result<bool> {
    match options.get(key).map(|v| v.to_lowercase()).as_deref() {
        None => Ok(default),
        Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(invalid(format!("{key} = '{other}': use 'true' or 'false'"))),
    }
}

/// Plans the query a sink writes; `FROM` a table or source is `SELECT *` of it.
async fn plan_query(db: &Database, name: &str, create: &CreateSink) -> Result<Input> {
    let query = match &create.from {
        SinkFrom::Query(query) => query.clone(),
        SinkFrom::Relation(relation) => format!("SELECT * FROM {relation}"),
    };
    let text = format!("CREATE MATERIALIZED VIEW {} AS {query}", quote_ident(name));
    let Statement::CreateView(view) = db.parser().parse_one(&text)? else {
        return Err(syntax(format!("AS needs a query, found {query}")));
    };
    let options = super::ddl::view_options(&view)?;
    let emit_on_close = options.emit_on_close;
    let plan = plan_view(db, &view.query, &options).await?;
    Ok(Input::Query {
        plan: Box::new(plan),
        emit_on_close,
    })
}

async fn plan(db: &Database, id: u64, name: &str, create: &CreateSink) -> Result<Plan> {
    let view = match &create.from {
        SinkFrom::Relation(relation) => {
            let relation = relation_name(relation)?;
            match db.catalog().get(&relation) {
                Some(Relation::View(view)) => Some(view),
                Some(Relation::Table(_) | Relation::Source(_)) => None,
                None => return Err(SluiceError::UndefinedTable(relation)),
            }
        }
        SinkFrom::Query(_) => None,
    };
    let input = match view {
        Some(view) => Input::View(view),
        None => plan_query(db, name, create).await?,
    };
    let (schema, append_only, inputs, models, shown_as) = match &input {
        Input::View(view) => {
            let name = view.entry().name.clone();
            let schema = view.running().schema();
            (
                schema,
                view.append_only(),
                vec![name.clone()],
                Vec::new(),
                name,
            )
        }
        Input::Query {
            plan,
            emit_on_close,
        } => (
            plan.schema.clone(),
            plan.append_only || *emit_on_close,
            plan.inputs.clone(),
            plan.models.clone(),
            plan.inputs.join(", "),
        ),
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
    let key = match options.get("primary_key") {
        None => Vec::new(),
        Some(columns) => columns
            .split(',')
            .map(|column| {
                let column = column.trim().trim_matches('"');
                schema.index_of(column).map_err(|_| {
                    SluiceError::coded(
                        sqlstate::UNDEFINED_COLUMN,
                        format!(
                            "primary_key column \"{column}\" is not a column of the sink's rows"
                        ),
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
        && !append_only
    {
        return Err(SluiceError::not_supported(format!(
            "FORMAT PLAIN writes only insertions, and the rows of {shown_as} can be updated and \
             deleted: use FORMAT UPSERT or DEBEZIUM with a primary_key, or \
             force_append_only = 'true' to drop the deletions"
        )));
    }
    let encoder = SinkEncoder::new(format, schema, key, &shown_as);
    Ok(Plan {
        input,
        inputs,
        models,
        shown_as,
        config,
        encoder,
        format,
        snapshot,
    })
}

/// Runs `CREATE SINK`: checks the broker and the topic, subscribes to the view (or
/// starts the sink's own view of its query), and returns once the sink is in a
/// checkpoint (when checkpoints are on), so its start survives a crash.
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
        let plan = plan(db, entry.id, &name, create).await?;
        let config = plan.config.clone();
        tokio::task::spawn_blocking(move || config.check())
            .await
            .map_err(|e| SluiceError::Internal(format!("checking the broker failed: {e}")))??;
        let sink = start(db, entry, plan, None).await?;
        if let Err(e) = db.catalog().insert_sink(sink.clone(), true) {
            sink.stop();
            return Err(e);
        }
    }
    if !db.checkpoints().interval().is_zero() {
        crate::checkpointer::take(db).await?;
    }
    Ok(done)
}

/// Starts a sink, from `restore` (a checkpoint directory and the sink's state
/// there) or from its input's current rows (its `snapshot` option). A view's sink
/// subscribes to it under the sequencer's lock; a query's sink starts its own view,
/// subscribed from its backfill on.
async fn start(
    db: &Database,
    entry: CatalogEntry,
    plan: Plan,
    restore: Option<(String, ViewCheckpoint)>,
) -> Result<Arc<Sink>> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let Plan {
        input,
        inputs,
        models,
        shown_as,
        config,
        encoder,
        format,
        snapshot,
    } = plan;
    let view_id = match &input {
        Input::View(view) => view.entry().id,
        Input::Query { .. } => entry.id,
    };
    let (view, own_view, subscribed) = match input {
        Input::View(view) => (view.running().clone(), None, false),
        Input::Query {
            plan,
            emit_on_close,
        } => {
            // Subscribed from the backfill on, unless only later changes are wanted
            // (a restored view has no backfill).
            let from_backfill = restore.is_some() || snapshot;
            let view = super::ddl::start_sink_view(
                db,
                &entry,
                *plan,
                emit_on_close,
                from_backfill.then(|| sender.clone()),
                restore.is_some(),
            )
            .await?;
            (view.clone(), Some(view), from_backfill)
        }
    };
    // The backlog goes on only with a view restored from the same checkpoint: a
    // rebuilt one sends its rows again, and so does the sink.
    let restore = restore.filter(|_| {
        let recovery = db.lock_recovery();
        let restored = recovery
            .as_ref()
            .is_some_and(|r| r.restored.contains(&view_id));
        if !restored {
            tracing::warn!(sink = %entry.name, "sink starts again from its input's rows: its view was rebuilt");
        }
        restored
    });
    let running = {
        let mut order = db.sequencer().lock();
        let dir = match &restore {
            Some((dir, _)) => dir.clone(),
            None => format!("sink-{}-{}", entry.id, order.next_barrier()),
        };
        let first_barrier = order.register(Participant {
            view_id: entry.id,
            role: Role::Sink,
            dir,
            fingerprint: entry.definition.clone(),
            inbox: sender.clone(),
        });
        let start = match restore {
            Some((dir, checkpoint)) => {
                if !subscribed {
                    view.subscribe_changes(0, sender.clone());
                }
                SinkStart::Restore(Manifest::view_dir(db.checkpoints().dir(), &dir), checkpoint)
            }
            // The backfill is in the inbox already.
            None if subscribed => SinkStart::Changes,
            // Its own view keeps no rows to start from.
            None if own_view.is_some() => {
                view.subscribe_changes(0, sender.clone());
                SinkStart::Changes
            }
            None => {
                let (rows, _) = view.subscribe(0, sender.clone())?;
                match snapshot {
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
        config: config.clone(),
        encoder,
        backlog: running.backlog().clone(),
        progress: running.progress().clone(),
        completed: db.checkpoints().completed(),
        stopped: running.stopped(),
    });
    Ok(Arc::new(Sink::new(
        entry,
        SinkReads {
            shown_as,
            inputs,
            models,
            own_view,
        },
        format,
        config.topic,
        running,
    )))
}

/// Re-creates a sink at start-up: from its state in the last checkpoint when its
/// view was restored from the same checkpoint; otherwise (no checkpoint, or the
/// view rebuilt) from the view's rows, as at `CREATE` (its snapshot option), which
/// writes them again: said in the log.
pub async fn replay_sink(db: &Database, entry: &CatalogEntry) -> Result<()> {
    let create = parse_create_sink(&entry.definition)?;
    let plan = plan(db, entry.id, &entry.name, &create).await?;
    let restore = {
        let recovery = db.lock_recovery();
        recovery.as_ref().and_then(|recovery| {
            match recovery.manifest.entry(entry.id, Role::Sink) {
                Some((dir, saved)) if saved.fingerprint == entry.definition => {
                    Some((dir.to_string(), saved.checkpoint.clone()))
                }
                _ => {
                    tracing::warn!(sink = %entry.name, "sink starts again from its input's rows: it has no state in the last checkpoint");
                    None
                }
            }
        })
    };
    let sink = start(db, entry.clone(), plan, restore).await?;
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
    sink.stop();
    Ok(())
}

/// The sinks whose own view calls `model`, for refusing to drop or replace it.
pub(crate) fn sinks_using_model(db: &Database, model: &str) -> Vec<Arc<Sink>> {
    db.catalog()
        .sinks()
        .into_iter()
        .filter(|s| s.models().iter().any(|m| m == model))
        .collect()
}

/// The sinks reading any of `relations`, for refusing to drop or rebuild them.
pub(crate) fn sinks_reading(db: &Database, relations: &[&str]) -> Vec<Arc<Sink>> {
    db.catalog()
        .sinks()
        .into_iter()
        .filter(|s| s.inputs().iter().any(|i| relations.contains(&i.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::create_source::{parse_drop, parse_show_create};
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
        assert_eq!(
            sink.from,
            SinkFrom::Relation(ObjectName::from(vec!["scores".into()]))
        );
        assert_eq!(sink.options["primary_key"], "id");
        assert_eq!(sink.format, "upsert");
        assert_eq!(sink.encode.0, "json");
        assert!(!sink.text.ends_with(';'));
    }

    #[test]
    fn as_takes_the_query_up_to_with() {
        for (sql, query) in [
            (
                "CREATE SINK s AS SELECT a, count(*) FROM t\n  WHERE b > 'x' GROUP BY a\nWITH (connector = 'kafka') FORMAT PLAIN ENCODE JSON",
                "SELECT a, count(*) FROM t\n  WHERE b > 'x' GROUP BY a",
            ),
            (
                "CREATE SINK s AS WITH c AS (SELECT 1 AS x) SELECT x FROM c WITH (a = 'é') FORMAT PLAIN ENCODE JSON",
                "WITH c AS (SELECT 1 AS x) SELECT x FROM c",
            ),
            (
                "CREATE SINK s AS SELECT 'ü' AS u, window_start FROM TUMBLE(ev, ts, INTERVAL '1' MINUTE) WITH (a = 'b') FORMAT PLAIN ENCODE JSON",
                "SELECT 'ü' AS u, window_start FROM TUMBLE(ev, ts, INTERVAL '1' MINUTE)",
            ),
        ] {
            let sink = parse_create_sink(sql).unwrap();
            assert_eq!(sink.from, SinkFrom::Query(query.into()), "{sql}");
        }
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
                "CREATE SINK s AS WITH (a = 'b') FORMAT PLAIN ENCODE JSON",
                "42601",
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
            parse_drop("DROP SINK IF EXISTS a, b", "SINK").unwrap(),
            (
                vec![
                    ObjectName::from(vec!["a".into()]),
                    ObjectName::from(vec!["b".into()])
                ],
                true,
                false
            )
        );
        assert_eq!(
            parse_show_create("SHOW CREATE SINK a", "SINK")
                .unwrap()
                .to_string(),
            "a"
        );
    }
}
