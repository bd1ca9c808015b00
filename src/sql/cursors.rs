//! Cursors over subscriptions, for drivers that cannot stream a query (psycopg,
//! pgjdbc, node pg), as in Materialize:
//!
//! ```text
//!   DECLARE c CURSOR FOR SUBSCRIBE ...   starts the subscription, kept in the session
//!   FETCH [n | ALL] c [WITH (timeout)]   waits for the first row, returns what is ready
//!   CLOSE c | CLOSE ALL                  ends it (so does the end of the session)
//! ```

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::sql::sqlparser::ast::SqlOption;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::Output;
use super::interrupt::Interrupt;
use super::subscribe::{Subscribe, Subscription, parse_subscribe, start, syntax};
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};

/// A statement on a subscription cursor (`DECLARE c CURSOR FOR SUBSCRIBE ...`, for
/// drivers that cannot stream a query). Cursors live until `CLOSE` or the end of the
/// session.
#[derive(Debug, Clone)]
pub struct CursorStatement {
    /// The session (bound before planning, like `pg_backend_pid()`).
    pub pid: i32,
    /// What to do.
    pub op: CursorOp,
}

/// What a cursor statement does.
#[derive(Debug, Clone)]
pub enum CursorOp {
    /// `DECLARE name CURSOR FOR SUBSCRIBE ...`.
    Declare {
        /// The cursor's name.
        name: String,
        /// The subscription.
        subscribe: Box<Subscribe>,
    },
    /// `FETCH [count | ALL] [FROM] name [WITH (timeout = '1s')]`.
    Fetch {
        /// The cursor's name.
        name: String,
        /// At most this many rows (`None`: `ALL`, every row ready).
        count: Option<u64>,
        /// How long to wait for the first row (`None`: until one comes).
        timeout: Option<Duration>,
    },
    /// `CLOSE name` (`None`: `CLOSE ALL`).
    Close {
        /// The cursor's name.
        name: Option<String>,
    },
}

/// `DECLARE name [NO SCROLL] CURSOR [WITHOUT HOLD] FOR SUBSCRIBE ...`; `None` when the
/// cursor is not for a `SUBSCRIBE` (other cursors are not supported).
pub fn parse_declare(text: &str) -> Result<Option<(String, Subscribe)>> {
    let tokens = super::parser::tokens(text)?;
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    };
    let Some(name) = word(1) else {
        return Err(syntax("DECLARE needs a cursor name"));
    };
    let name = super::names::normalize_ident(&match name.quote_style {
        Some(quote) => datafusion::sql::sqlparser::ast::Ident::with_quote(quote, &name.value),
        None => datafusion::sql::sqlparser::ast::Ident::new(&name.value),
    });
    let Some(at) = (2..tokens.len()).find(|&i| {
        word(i).is_some_and(|w| w.value.eq_ignore_ascii_case("for"))
            && word(i + 1).is_some_and(|w| w.value.eq_ignore_ascii_case("subscribe"))
    }) else {
        return Ok(None);
    };
    let between: Vec<String> = (2..at)
        .map(|i| word(i).map_or_else(String::new, |w| w.value.to_uppercase()))
        .collect();
    let allowed = [
        "NO",
        "SCROLL",
        "CURSOR",
        "WITHOUT",
        "HOLD",
        "ASENSITIVE",
        "INSENSITIVE",
    ];
    if !between.iter().any(|w| w == "CURSOR")
        || !between.iter().all(|w| allowed.contains(&w.as_str()))
    {
        return Err(SluiceError::not_supported(format!(
            "DECLARE {name} {}: a subscription cursor is DECLARE name CURSOR FOR SUBSCRIBE ...",
            between.join(" ")
        )));
    }
    let subscribe = parse_subscribe(&text[tokens[at + 1].start..])?;
    if subscribe.copy {
        return Err(syntax("a cursor cannot be declared for COPY"));
    }
    Ok(Some((name, subscribe)))
}

/// `FETCH [FORWARD] [count | ALL | NEXT] [FROM | IN] name [WITH (timeout = '1s')]`.
pub fn parse_fetch(text: &str) -> Result<CursorOp> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    parser.expect_keyword(Keyword::FETCH)?;
    let _ = parser.parse_keyword(Keyword::FORWARD);
    let count = if parser.parse_keyword(Keyword::ALL) {
        None
    } else if parser.parse_keyword(Keyword::NEXT) {
        Some(1)
    } else if let Token::Number(n, _) = parser.peek_token().token {
        parser.next_token();
        Some(
            n.parse::<u64>()
                .map_err(|_| syntax(&format!("invalid FETCH count {n}")))?,
        )
    } else {
        Some(1)
    };
    let _ = parser.parse_one_of_keywords(&[Keyword::FROM, Keyword::IN]);
    let name = super::names::normalize_ident(&parser.parse_identifier()?);
    let mut timeout = None;
    for option in parser.parse_options(Keyword::WITH)? {
        match &option {
            SqlOption::KeyValue { key, value } if key.value.eq_ignore_ascii_case("timeout") => {
                let text = value.to_string();
                let millis = super::settings::parse_milliseconds(text.trim_matches('\''))
                    .filter(|m| *m >= 0)
                    .ok_or_else(|| {
                        SluiceError::coded(
                            sqlstate::INVALID_PARAMETER_VALUE,
                            format!("invalid FETCH timeout {value}: use a duration such as '1s'"),
                        )
                    })?;
                timeout = Some(Duration::from_millis(millis as u64));
            }
            other => {
                return Err(SluiceError::coded(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!("unknown FETCH option {other} (timeout)"),
                ));
            }
        }
    }
    let _ = parser.consume_token(&Token::SemiColon);
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(&format!(
            "unexpected {} in FETCH",
            parser.peek_token().token
        )));
    }
    Ok(CursorOp::Fetch {
        name,
        count,
        timeout,
    })
}

/// `CLOSE name` or `CLOSE ALL`.
pub fn parse_close(text: &str) -> Result<CursorOp> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    parser.expect_keyword(Keyword::CLOSE)?;
    let name = if parser.parse_keyword(Keyword::ALL) {
        None
    } else {
        Some(super::names::normalize_ident(&parser.parse_identifier()?))
    };
    let _ = parser.consume_token(&Token::SemiColon);
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(&format!(
            "unexpected {} in CLOSE",
            parser.peek_token().token
        )));
    }
    Ok(CursorOp::Close { name })
}

fn no_cursor(name: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

/// The rows a `FETCH` on cursor `name` of session `pid` returns (its schema), for
/// describing the statement before it runs.
pub fn cursor_schema(db: &Database, pid: i32, name: &str) -> Result<SchemaRef> {
    let cursor = db
        .backends()
        .cursor(pid, name)
        .ok_or_else(|| no_cursor(name))?;
    let schema = cursor.try_lock().map(|s| s.schema());
    // A FETCH running on the cursor holds it; its schema does not change.
    schema.map_err(|_| {
        SluiceError::coded(
            "55006",
            format!("cursor \"{name}\" is in use by another FETCH"),
        )
    })
}

/// Runs a cursor statement.
pub async fn execute_cursor(
    db: &Database,
    statement: &CursorStatement,
    interrupt: &Interrupt,
) -> Result<Output> {
    let pid = statement.pid;
    match &statement.op {
        CursorOp::Declare { name, subscribe } => {
            let reader = format!("subscribe_{pid}_{name}");
            let subscription = start(db, subscribe, &reader).await?;
            db.backends().declare_cursor(pid, name, subscription)?;
            Ok(Output::Done {
                tag: "DECLARE CURSOR",
                rows: None,
            })
        }
        CursorOp::Close { name } => {
            match name {
                Some(name) if !db.backends().close_cursor(pid, Some(name)) => {
                    return Err(no_cursor(name));
                }
                Some(_) => {}
                None => {
                    db.backends().close_cursor(pid, None);
                }
            }
            Ok(Output::Done {
                tag: "CLOSE CURSOR",
                rows: None,
            })
        }
        CursorOp::Fetch {
            name,
            count,
            timeout,
        } => {
            let cursor = db
                .backends()
                .cursor(pid, name)
                .ok_or_else(|| no_cursor(name))?;
            let mut subscription = cursor.lock().await;
            let batches = fetch(&mut subscription, *count, *timeout, interrupt).await?;
            let stream = datafusion::physical_plan::memory::MemoryStream::try_new(
                batches,
                subscription.schema(),
                None,
            )?;
            Ok(Output::Rows(Box::pin(stream)))
        }
    }
}

/// Up to `count` rows of `subscription`: waits for the first (until `timeout`, if
/// given; none came: no rows), then takes what is ready without waiting.
async fn fetch(
    subscription: &mut Subscription,
    count: Option<u64>,
    timeout: Option<Duration>,
    interrupt: &Interrupt,
) -> Result<Vec<RecordBatch>> {
    use futures::FutureExt;
    let wanted = count.unwrap_or(u64::MAX);
    let mut batches = Vec::new();
    let mut rows = 0u64;
    if wanted == 0 {
        return Ok(batches);
    }
    let first = tokio::select! {
        biased;
        _ = interrupt.interrupted() => return Err(interrupt.error()),
        first = async {
            match timeout {
                Some(timeout) => tokio::time::timeout(timeout, subscription.next()).await.ok(),
                None => Some(subscription.next().await),
            }
        } => first,
    };
    let mut next = match first {
        None | Some(None) => return Ok(batches),
        Some(next) => next,
    };
    loop {
        let batch = match next {
            None => break,
            Some(batch) => batch?,
        };
        let left = usize::try_from(wanted - rows).unwrap_or(usize::MAX);
        if batch.num_rows() > left {
            batches.push(batch.slice(0, left));
            subscription.unread(batch.slice(left, batch.num_rows() - left));
            break;
        }
        rows += batch.num_rows() as u64;
        batches.push(batch);
        if rows >= wanted {
            break;
        }
        match subscription.next().now_or_never() {
            Some(more) => next = more,
            None => break,
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::subscribe::Target;

    #[test]
    fn cursor_statements_parse() {
        let (name, s) = parse_declare("DECLARE C NO SCROLL CURSOR WITHOUT HOLD FOR SUBSCRIBE v")
            .unwrap()
            .unwrap();
        assert_eq!(name, "c");
        assert!(matches!(s.target, Target::Relation(_)));
        assert!(
            parse_declare("DECLARE c CURSOR FOR SELECT 1")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            parse_fetch("FETCH 10 c WITH (timeout = '1s')").unwrap(),
            CursorOp::Fetch { count: Some(10), timeout: Some(t), .. } if t == Duration::from_secs(1)
        ));
        assert!(matches!(
            parse_fetch("fetch all from c").unwrap(),
            CursorOp::Fetch {
                count: None,
                timeout: None,
                ..
            }
        ));
        assert!(matches!(
            parse_close("CLOSE ALL").unwrap(),
            CursorOp::Close { name: None }
        ));
        assert_eq!(
            parse_fetch("FETCH c WITH (timeout = 'soon')")
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
    }
}
