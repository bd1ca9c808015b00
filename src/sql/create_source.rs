//! Parsing `CREATE SOURCE` (RisingWave's syntax), which `sqlparser` does not know:
//!
//! ```text
//! CREATE SOURCE [IF NOT EXISTS] name (
//!     column type [NOT NULL], ...
//!     [, column TIMESTAMPTZ AS PROCTIME()]
//!     [, WATERMARK FOR column AS expression]
//! )
//! [INCLUDE partition [AS name], offset [AS name], timestamp [AS name]]
//! WITH (key = 'value', ...)
//! [FORMAT PLAIN ENCODE JSON | CSV [(without_header = 'true', delimiter = ',')]]
//! ```
//!
//! Built on `sqlparser`'s parser primitives, so column definitions, types and the
//! watermark expression use the same grammar as everywhere else. The helpers the
//! other statements written this way share (`CREATE SINK`: [`super::sinks`]) live
//! here too: words, options, the statement's end, `DROP kind` and `SHOW CREATE kind`.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::{ColumnDef, Expr, Ident, ObjectName};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::{Result, SluiceError};

/// A parsed `CREATE SOURCE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    /// The statement as written (stored as the catalog definition).
    pub text: String,
    /// `IF NOT EXISTS` was given.
    pub if_not_exists: bool,
    /// The source's name.
    pub name: ObjectName,
    /// Declared columns.
    pub columns: Vec<ColumnDef>,
    /// `WATERMARK FOR column AS expression`.
    pub watermark: Option<(Ident, Expr)>,
    /// The column declared `AS PROCTIME()`, by position in `columns`: filled with the
    /// time each row is delivered.
    pub proctime: Option<usize>,
    /// `INCLUDE` metadata columns: (what, optional name).
    pub includes: Vec<(String, Option<Ident>)>,
    /// `WITH (...)` options, keys lowercased.
    pub options: BTreeMap<String, String>,
    /// `FORMAT ... ENCODE ...`: the encoding name (lowercase) and its options.
    pub encode: Option<(String, BTreeMap<String, String>)>,
}

/// The statement this module parses itself, as syntax errors name it.
const CREATE_SOURCE: &str = "CREATE SOURCE";

/// A syntax error in `statement`.
pub(crate) fn syntax_in(statement: &str, message: impl Into<String>) -> SluiceError {
    SluiceError::Syntax(format!("syntax error in {statement}: {}", message.into()))
}

fn syntax(message: impl Into<String>) -> SluiceError {
    syntax_in(CREATE_SOURCE, message)
}

/// True (and consumes it) when the next token is the word `word`.
pub(crate) fn parse_word(parser: &mut Parser, word: &str) -> bool {
    match parser.peek_token().token {
        Token::Word(w) if w.value.eq_ignore_ascii_case(word) && w.quote_style.is_none() => {
            parser.next_token();
            true
        }
        _ => false,
    }
}

/// Consumes `words`, in order, or fails naming the first one missing.
pub(crate) fn expect_words(parser: &mut Parser, statement: &str, words: &[&str]) -> Result<()> {
    for word in words {
        if !parse_word(parser, word) {
            return Err(syntax_in(
                statement,
                format!("expected {word}, found {}", parser.peek_token().token),
            ));
        }
    }
    Ok(())
}

/// The end of the statement (after an optional `;`).
pub(crate) fn expect_end(parser: &mut Parser, statement: &str) -> Result<()> {
    let _ = parser.consume_token(&Token::SemiColon);
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(syntax_in(statement, format!("unexpected {other}"))),
    }
}

fn expect_word(parser: &mut Parser, word: &str) -> Result<()> {
    expect_words(parser, CREATE_SOURCE, &[word])
}

/// Parses `CREATE SOURCE ...` (the whole text of one statement).
pub fn parse_create_source(text: &str) -> Result<CreateSource> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_word(&mut parser, "CREATE")?;
    expect_word(&mut parser, "SOURCE")?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;

    let mut columns = Vec::new();
    let mut watermark = None;
    let mut proctime = None;
    parser.expect_token(&Token::LParen)?;
    loop {
        if parse_word(&mut parser, "WATERMARK") {
            parser.expect_keyword(Keyword::FOR)?;
            let column = parser.parse_identifier()?;
            parser.expect_keyword(Keyword::AS)?;
            let expr = parser.parse_expr()?;
            if watermark.replace((column, expr)).is_some() {
                return Err(syntax("only one WATERMARK may be declared"));
            }
        } else {
            columns.push(parser.parse_column_def()?);
            // The column parser may already have taken the AS of `AS PROCTIME()`.
            let _ = parser.parse_keyword(Keyword::AS);
            if parse_word(&mut parser, "PROCTIME") {
                parser.expect_token(&Token::LParen)?;
                parser.expect_token(&Token::RParen)?;
                if proctime.replace(columns.len() - 1).is_some() {
                    return Err(syntax("only one column may be AS PROCTIME()"));
                }
            }
        }
        if parser.consume_token(&Token::RParen) {
            break;
        }
        parser.expect_token(&Token::Comma)?;
    }

    let mut includes = Vec::new();
    while parser.parse_keyword(Keyword::INCLUDE) {
        loop {
            let what = parser.parse_identifier()?.value.to_lowercase();
            let alias = if parser.parse_keyword(Keyword::AS) {
                Some(parser.parse_identifier()?)
            } else {
                None
            };
            includes.push((what, alias));
            if !parser.consume_token(&Token::Comma) {
                break;
            }
        }
    }

    parser.expect_keyword(Keyword::WITH)?;
    let options = parse_options(&mut parser)?;

    let mut encode = None;
    if parser.parse_keyword(Keyword::FORMAT) {
        expect_word(&mut parser, "PLAIN")?;
        expect_word(&mut parser, "ENCODE")?;
        let encoding = parser.parse_identifier()?.value.to_lowercase();
        let encode_options = if parser.peek_token().token == Token::LParen {
            parse_options(&mut parser)?
        } else {
            BTreeMap::new()
        };
        encode = Some((encoding, encode_options));
    }
    expect_end(&mut parser, CREATE_SOURCE)?;
    Ok(CreateSource {
        text: text.trim().to_string(),
        if_not_exists,
        name,
        columns,
        watermark,
        proctime,
        includes,
        options,
        encode,
    })
}

/// `DROP kind [IF EXISTS] name [, ...] [CASCADE | RESTRICT]` (`kind`: `SOURCE`,
/// `SINK`): (names, if_exists, cascade).
pub fn parse_drop(text: &str, kind: &str) -> Result<(Vec<ObjectName>, bool, bool)> {
    let statement = format!("DROP {kind}");
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, &statement, &["DROP", kind])?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let mut names = vec![parser.parse_object_name(false)?];
    while parser.consume_token(&Token::Comma) {
        names.push(parser.parse_object_name(false)?);
    }
    let cascade = parser.parse_keyword(Keyword::CASCADE);
    if !cascade {
        let _ = parser.parse_keyword(Keyword::RESTRICT);
    }
    expect_end(&mut parser, &statement)?;
    Ok((names, if_exists, cascade))
}

/// `SHOW CREATE kind name` (`kind`: `SOURCE`, `SINK`).
pub fn parse_show_create(text: &str, kind: &str) -> Result<ObjectName> {
    let statement = format!("SHOW CREATE {kind}");
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    expect_words(&mut parser, &statement, &["SHOW", "CREATE", kind])?;
    let name = parser.parse_object_name(false)?;
    expect_end(&mut parser, &statement)?;
    Ok(name)
}

/// `( key = value, ... )` where keys may be dotted (`properties.bootstrap.server`)
/// and values are strings or numbers.
pub(crate) fn parse_options(parser: &mut Parser) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    parser.expect_token(&Token::LParen)?;
    if parser.consume_token(&Token::RParen) {
        return Ok(options);
    }
    loop {
        let key = parser
            .parse_object_name(false)?
            .0
            .iter()
            .map(|part| part.to_string().trim_matches('"').to_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        parser.expect_token(&Token::Eq)?;
        let value = match parser.next_token().token {
            Token::SingleQuotedString(s) => s,
            Token::Number(n, _) => n,
            Token::Word(w) => w.value,
            other => return Err(syntax(format!("option {key} needs a value, found {other}"))),
        };
        if options.insert(key.clone(), value).is_some() {
            return Err(syntax(format!("option {key} given twice")));
        }
        if parser.consume_token(&Token::RParen) {
            return Ok(options);
        }
        parser.expect_token(&Token::Comma)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_risingwave_form() {
        let sql = "CREATE SOURCE bids (
              auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, date_time TIMESTAMP,
              WATERMARK FOR date_time AS date_time - INTERVAL '5' SECOND
            ) INCLUDE partition, offset AS off
            WITH (
              connector = 'kafka', topic = 'bids',
              properties.bootstrap.server = '127.0.0.1:9092',
              scan.startup.mode = 'earliest'
            ) FORMAT PLAIN ENCODE CSV (without_header = 'true', delimiter = '|');";
        let source = parse_create_source(sql).unwrap();
        assert_eq!(source.name.to_string(), "bids");
        assert_eq!(source.columns.len(), 5);
        let (column, expr) = source.watermark.unwrap();
        assert_eq!(column.value, "date_time");
        assert!(expr.to_string().contains("INTERVAL"));
        assert_eq!(
            source.includes,
            vec![
                ("partition".into(), None),
                ("offset".into(), Some(Ident::new("off")))
            ]
        );
        assert_eq!(
            source.options["properties.bootstrap.server"],
            "127.0.0.1:9092"
        );
        let (encoding, options) = source.encode.unwrap();
        assert_eq!(encoding, "csv");
        assert_eq!(options["delimiter"], "|");
    }

    #[test]
    fn a_column_may_hold_the_processing_time() {
        let source = parse_create_source(
            "CREATE SOURCE bid (auction BIGINT, p_time TIMESTAMPTZ AS PROCTIME(), price BIGINT) \
             WITH (connector = 'nexmark')",
        )
        .unwrap();
        assert_eq!(source.proctime, Some(1));
        assert_eq!(source.columns.len(), 3);
        assert!(
            parse_create_source(
                "CREATE SOURCE s (a TIMESTAMPTZ AS PROCTIME(), b TIMESTAMPTZ AS PROCTIME()) \
                 WITH (connector = 'nexmark')"
            )
            .is_err()
        );
    }

    #[test]
    fn generator_sources_need_no_format() {
        let source = parse_create_source(
            "CREATE SOURCE IF NOT EXISTS g (a INT) WITH (connector = 'datagen', datagen.rows.per.second = 10)",
        )
        .unwrap();
        assert!(source.if_not_exists);
        assert_eq!(source.options["datagen.rows.per.second"], "10");
        assert!(source.encode.is_none());
    }

    #[test]
    fn errors_are_syntax_errors() {
        for sql in [
            "CREATE SOURCE s (a INT)",
            "CREATE SOURCE s (a INT) WITH (connector)",
            "CREATE SOURCE s (a INT) WITH (connector = 'kafka') FORMAT UPSERT ENCODE JSON",
            "CREATE SOURCE s (a INT) WITH (a = '1') trailing",
        ] {
            assert_eq!(
                parse_create_source(sql).unwrap_err().sqlstate(),
                "42601",
                "{sql}"
            );
        }
    }
}
