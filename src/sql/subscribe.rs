//! `SUBSCRIBE`: a view's current rows, then every change to them, as rows.
//!
//! ```text
//!   SUBSCRIBE [TO] view_or_relation [WITH (snapshot = true, progress = false,
//!                                          max_buffered_rows = 1000000)]
//!   SUBSCRIBE [TO] (query) [WITH (...)]
//!   COPY (SUBSCRIBE ...) TO STDOUT
//! ```
//!
//! Each row is `sluice_epoch, sluice_diff, [sluice_progressed,] the view's columns`:
//! the snapshot rows at the view's epoch with diff `+1`, then each change at its
//! epoch (`+1` inserted, `-1` deleted). With `progress`, a row whose
//! `sluice_progressed` is true (and whose other columns are NULL) says that every
//! change up to its epoch has been sent. A query, a table or a source is maintained
//! for the subscription by a view of its own, which ends with it.
//!
//! The server streams the rows itself (`server::subscribe`): `SUBSCRIBE` is a
//! simple-protocol statement of its own. Drivers that cannot stream use a cursor
//! ([`super::cursors`]).

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{ObjectName, Query, SqlOption};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::names::relation_name;
use crate::catalog::Relation;
use crate::database::Database;
use crate::dataflow::feed::{FeedItem, FeedReceiver};
use crate::dataflow::view::MaterializedView;
use crate::error::{Result, SluiceError, sqlstate};

/// Rows a subscription may fall behind before it is ended.
pub const DEFAULT_MAX_BUFFERED_ROWS: usize = 1_000_000;

/// What to subscribe to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A materialized view, table or source, by name.
    Relation(ObjectName),
    /// A query, maintained like a view for the subscription.
    Query(Box<Query>),
}

/// A parsed `SUBSCRIBE` (or `COPY (SUBSCRIBE ...) TO STDOUT`).
#[derive(Debug, Clone)]
pub struct Subscribe {
    /// What to subscribe to.
    pub target: Target,
    /// Whether the current rows come first (`snapshot`, default true).
    pub snapshot: bool,
    /// Whether progress rows are sent (`progress`, default false).
    pub progress: bool,
    /// Rows the subscription may fall behind (`max_buffered_rows`).
    pub max_buffered_rows: usize,
    /// Whether the rows go out as `COPY ... TO STDOUT` data (psql prints them as they
    /// come).
    pub copy: bool,
}

/// Whether `text` is a `SUBSCRIBE` statement (or a `COPY` of one), by its first words.
pub fn is_subscribe(text: &str) -> bool {
    let words: String = text
        .trim_start()
        .chars()
        .take(64)
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    words.starts_with("SUBSCRIBE") || words.starts_with("COPY(SUBSCRIBE")
}

pub(crate) fn syntax(message: &str) -> SluiceError {
    SluiceError::Syntax(format!(
        "syntax error: {message}; use SUBSCRIBE [TO] name_or_(query) [WITH (snapshot = true|false, \
         progress = true|false, max_buffered_rows = n)], or COPY (SUBSCRIBE ...) TO STDOUT"
    ))
}

/// Parses `SUBSCRIBE ...` or `COPY (SUBSCRIBE ...) TO STDOUT`.
pub fn parse_subscribe(text: &str) -> Result<Subscribe> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    let copy = parser.parse_keyword(Keyword::COPY);
    if copy {
        parser.expect_token(&Token::LParen)?;
    }
    match parser.next_token().token {
        Token::Word(word) if word.value.eq_ignore_ascii_case("subscribe") => {}
        _ => return Err(syntax("expected SUBSCRIBE")),
    }
    let _ = parser.parse_keyword(Keyword::TO);
    let target = if parser.consume_token(&Token::LParen) {
        let query = parser.parse_query()?;
        parser.expect_token(&Token::RParen)?;
        Target::Query(query)
    } else {
        Target::Relation(parser.parse_object_name(false)?)
    };
    let mut subscribe = Subscribe {
        target,
        snapshot: true,
        progress: false,
        max_buffered_rows: DEFAULT_MAX_BUFFERED_ROWS,
        copy,
    };
    for option in parser.parse_options(Keyword::WITH)? {
        apply_option(&mut subscribe, &option)?;
    }
    if copy {
        parser.expect_token(&Token::RParen)?;
        parser.expect_keyword(Keyword::TO)?;
        parser.expect_keyword(Keyword::STDOUT)?;
        // COPY's options: `WITH (name value, ...)`; only the text format streams.
        if parser.parse_keyword(Keyword::WITH) {
            parser.expect_token(&Token::LParen)?;
            loop {
                let name = parser.parse_identifier()?;
                let value = parser.next_token().token;
                let value = match &value {
                    Token::Word(w) => w.value.clone(),
                    Token::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                if !(name.value.eq_ignore_ascii_case("format")
                    && value.eq_ignore_ascii_case("text"))
                {
                    return Err(SluiceError::not_supported(format!(
                        "COPY (SUBSCRIBE ...) TO STDOUT option {name} {value}: only FORMAT text \
                         is supported"
                    )));
                }
                if !parser.consume_token(&Token::Comma) {
                    break;
                }
            }
            parser.expect_token(&Token::RParen)?;
        }
    }
    let _ = parser.consume_token(&Token::SemiColon);
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(&format!(
            "unexpected {} after the subscription",
            parser.peek_token().token
        )));
    }
    Ok(subscribe)
}

fn apply_option(subscribe: &mut Subscribe, option: &SqlOption) -> Result<()> {
    let SqlOption::KeyValue { key, value } = option else {
        return Err(syntax(&format!("invalid option {option}")));
    };
    let text = value.to_string().trim_matches('\'').to_lowercase();
    let flag = || super::ddl::boolean_option(&format!("SUBSCRIBE option {key}"), value);
    match key.value.to_lowercase().as_str() {
        "snapshot" => subscribe.snapshot = flag()?,
        "progress" => subscribe.progress = flag()?,
        "max_buffered_rows" => {
            subscribe.max_buffered_rows =
                text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    SluiceError::coded(
                        sqlstate::INVALID_PARAMETER_VALUE,
                        format!("max_buffered_rows must be a positive integer, not {value}"),
                    )
                })?;
        }
        other => {
            return Err(SluiceError::coded(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("unknown SUBSCRIBE option {other} (snapshot, progress, max_buffered_rows)"),
            ));
        }
    }
    Ok(())
}

/// A running subscription: its rows come from [`Subscription::next`].
#[derive(Debug)]
pub struct Subscription {
    schema: SchemaRef,
    progress: bool,
    /// Rows to send before the feed's: the snapshot, or rows a `FETCH` did not take.
    pending: VecDeque<RecordBatch>,
    feed: FeedReceiver,
    /// The view maintained for this subscription (a query, table or source), stopped
    /// when the subscription ends.
    _own_view: Option<Arc<MaterializedView>>,
}

/// Starts `subscribe` for session `session` (names the view maintained for a query).
pub async fn start(db: &Database, subscribe: &Subscribe, session: &str) -> Result<Subscription> {
    let (view, own) = match &subscribe.target {
        Target::Relation(name) => {
            let name = relation_name(name)?;
            match db.catalog().get(&name) {
                Some(Relation::View(view)) => (view.running().clone(), false),
                Some(Relation::Table(_) | Relation::Source(_)) => {
                    let query = db
                        .parser()
                        .parse_one(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\"")))?;
                    let datafusion::sql::sqlparser::ast::Statement::Query(query) = query else {
                        return Err(SluiceError::Internal(
                            "SELECT did not parse as a query".into(),
                        ));
                    };
                    (super::ddl::start_own_view(db, session, &query).await?, true)
                }
                None => return Err(SluiceError::UndefinedTable(name)),
            }
        }
        Target::Query(query) => (super::ddl::start_own_view(db, session, query).await?, true),
    };
    let (snapshot, snapshot_epoch, feed) =
        view.subscribe_feed(subscribe.max_buffered_rows, subscribe.progress)?;
    let mut fields = vec![
        Field::new("sluice_epoch", DataType::Int64, false),
        Field::new("sluice_diff", DataType::Int64, true),
    ];
    if subscribe.progress {
        fields.push(Field::new("sluice_progressed", DataType::Boolean, false));
    }
    fields.extend(
        view.schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true)),
    );
    let mut subscription = Subscription {
        schema: Arc::new(Schema::new(fields)),
        progress: subscribe.progress,
        pending: VecDeque::new(),
        feed,
        _own_view: own.then_some(view),
    };
    if subscribe.snapshot {
        for batch in snapshot.iter().filter(|b| b.num_rows() > 0) {
            let diffs = Int64Array::from(vec![1; batch.num_rows()]);
            let rows = subscription.rows(snapshot_epoch, diffs, batch.columns().to_vec())?;
            subscription.pending.push_back(rows);
        }
    }
    if subscribe.progress {
        let progress = subscription.progress_row(snapshot_epoch)?;
        subscription.pending.push_back(progress);
    }
    Ok(subscription)
}

impl Subscription {
    /// The rows' schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next rows to send: the snapshot first (followed by a progress row), then
    /// the changes as they come. `None` once the view is gone (dropped). Cancel-safe:
    /// dropping the future before it completes loses nothing.
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(batch) = self.pending.pop_front() {
            return Some(Ok(batch));
        }
        match self.feed.next().await? {
            Ok(FeedItem::Change { epoch, batch }) => Some(self.rows(
                epoch,
                batch.weights().clone(),
                batch.data().columns().to_vec(),
            )),
            Ok(FeedItem::Progress { epoch }) => Some(self.progress_row(epoch)),
            Err(e) => Some(Err(e)),
        }
    }

    /// Puts rows taken from [`Subscription::next`] back, to come first next time.
    pub fn unread(&mut self, batch: RecordBatch) {
        self.pending.push_front(batch);
    }

    fn rows(&self, epoch: u64, diffs: Int64Array, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
        let rows = diffs.len();
        let mut out: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![epoch_value(epoch)?; rows])),
            Arc::new(diffs),
        ];
        if self.progress {
            out.push(Arc::new(BooleanArray::from(vec![false; rows])));
        }
        out.extend(columns);
        Ok(RecordBatch::try_new(self.schema.clone(), out)?)
    }

    fn progress_row(&self, epoch: u64) -> Result<RecordBatch> {
        let mut out: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![epoch_value(epoch)?])),
            Arc::new(Int64Array::from(vec![None::<i64>])),
            Arc::new(BooleanArray::from(vec![true])),
        ];
        let view_columns = &self.schema.fields()[3..];
        out.extend(
            view_columns
                .iter()
                .map(|f| new_null_array(f.data_type(), 1)),
        );
        Ok(RecordBatch::try_new(self.schema.clone(), out)?)
    }
}

fn epoch_value(epoch: u64) -> Result<i64> {
    i64::try_from(epoch).map_err(|_| SluiceError::Internal(format!("epoch {epoch} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_statements_parse() {
        let s = parse_subscribe("SUBSCRIBE TO totals").unwrap();
        assert!(matches!(s.target, Target::Relation(_)));
        assert!(s.snapshot && !s.progress && !s.copy);
        let s = parse_subscribe(
            "subscribe (SELECT k, count(*) FROM t GROUP BY k) WITH (snapshot = false, progress = true);",
        )
        .unwrap();
        assert!(matches!(s.target, Target::Query(_)));
        assert!(!s.snapshot && s.progress);
        let s =
            parse_subscribe("COPY (SUBSCRIBE v WITH (max_buffered_rows = 10)) TO STDOUT").unwrap();
        assert!(s.copy);
        assert_eq!(s.max_buffered_rows, 10);
        assert!(is_subscribe("  copy ( subscribe v ) to stdout"));
        assert!(!is_subscribe("COPY t TO STDOUT"));
        for (sql, code) in [
            ("SUBSCRIBE v WITH (snapshot = maybe)", "22023"),
            ("SUBSCRIBE v WITH (colour = 1)", "22023"),
            ("SUBSCRIBE v extra", "42601"),
            ("COPY (SUBSCRIBE v) TO STDOUT WITH (FORMAT csv)", "0A000"),
            ("COPY (SUBSCRIBE v) TO STDOUT WITH (FORMAT text", "42601"),
        ] {
            assert_eq!(parse_subscribe(sql).unwrap_err().sqlstate(), code, "{sql}");
        }
    }
}
