//! Append-only tables with a watermark (RisingWave's syntax), which `sqlparser` does
//! not know:
//!
//! ```text
//! CREATE TABLE name (
//!     column type, ...
//!     [, WATERMARK FOR column AS expression]
//! ) [APPEND ONLY]
//! ```
//!
//! The clauses are taken out of the text before parsing and kept as table options —
//! `WITH (append_only = true, watermark_column = 'ts', watermark = 'ts - INTERVAL
//! ''5'' SECOND')` — so the stored definition is one `sqlparser` reads back. An
//! append-only table takes only `INSERT`; its watermark is the greatest value of the
//! expression over its rows, and views read it as they read a source's.

use datafusion::sql::sqlparser::ast::{
    CreateTable, CreateTableOptions, Expr, Ident, SqlOption, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::parser::tokens;
use crate::error::{Result, SluiceError};

/// The option saying a table is append-only.
const APPEND_ONLY: &str = "append_only";
/// The options holding the watermark's column and expression (SQL text).
const WATERMARK_COLUMN: &str = "watermark_column";
const WATERMARK: &str = "watermark";

/// What a `CREATE TABLE`'s own clauses say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableClauses {
    /// `APPEND ONLY`.
    pub append_only: bool,
    /// `WATERMARK FOR column AS expression`.
    pub watermark: Option<(Ident, Expr)>,
}

/// The clauses [`strip_clauses`] takes out of a `CREATE TABLE`'s text, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrittenClauses {
    /// `APPEND ONLY`.
    pub append_only: bool,
    /// `WATERMARK FOR column AS expression`: the column's and the expression's text.
    pub watermark: Option<(String, String)>,
}

/// `text` (a `CREATE TABLE`) without its `WATERMARK FOR ... AS ...` and `APPEND
/// ONLY` clauses, and what they said.
pub fn strip_clauses(text: &str) -> Result<(String, WrittenClauses)> {
    let tokens = tokens(text)?;
    let word = |at: usize, keyword: &str| {
        matches!(tokens.get(at).map(|t| &t.token), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    };
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let mut watermark = None;
    let mut append_only = false;
    let mut depth = 0usize;
    let mut at = 0;
    while at < tokens.len() {
        match tokens[at].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 1
            && matches!(tokens[at].token, Token::Comma)
            && word(at + 1, "WATERMARK")
            && word(at + 2, "FOR")
        {
            let column = tokens
                .get(at + 3)
                .ok_or_else(|| syntax("WATERMARK FOR needs a column"))?;
            if !word(at + 4, "AS") {
                return Err(syntax("expected AS after WATERMARK FOR column"));
            }
            // The expression runs to the next comma at this depth or the closing
            // parenthesis of the column list.
            let from = at + 5;
            let mut end = from;
            let mut inner = 0usize;
            while end < tokens.len() {
                match tokens[end].token {
                    Token::LParen => inner += 1,
                    Token::RParen if inner == 0 => break,
                    Token::RParen => inner -= 1,
                    Token::Comma if inner == 0 => break,
                    _ => {}
                }
                end += 1;
            }
            let (Some(first), Some(last)) = (
                tokens.get(from),
                end.checked_sub(1).and_then(|l| tokens.get(l)),
            ) else {
                return Err(syntax("WATERMARK FOR column AS needs an expression"));
            };
            if end <= from {
                return Err(syntax("WATERMARK FOR column AS needs an expression"));
            }
            if watermark.is_some() {
                return Err(syntax("only one WATERMARK may be declared"));
            }
            watermark = Some((
                text[column.start..column.end].to_string(),
                text[first.start..last.end].to_string(),
            ));
            cut.push((tokens[at].start, last.end));
            at = end;
            continue;
        }
        if depth == 0 && word(at, "APPEND") && word(at + 1, "ONLY") {
            append_only = true;
            cut.push((tokens[at].start, tokens[at + 1].end));
            at += 2;
            continue;
        }
        at += 1;
    }
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for (start, end) in cut {
        out.push_str(&text[kept..start]);
        kept = end;
    }
    out.push_str(&text[kept..]);
    Ok((
        out,
        WrittenClauses {
            append_only,
            watermark,
        },
    ))
}

fn syntax(message: &str) -> SluiceError {
    SluiceError::Syntax(format!("syntax error in CREATE TABLE: {message}"))
}

/// Records the clauses [`strip_clauses`] took out as options of `create`.
pub fn mark_clauses(create: &mut CreateTable, clauses: &WrittenClauses) {
    let mut options = Vec::new();
    if clauses.append_only {
        options.push(SqlOption::KeyValue {
            key: Ident::new(APPEND_ONLY),
            value: Expr::Value(Value::Boolean(true).into()),
        });
    }
    if let Some((column, expression)) = &clauses.watermark {
        for (key, text) in [(WATERMARK_COLUMN, column), (WATERMARK, expression)] {
            options.push(SqlOption::KeyValue {
                key: Ident::new(key),
                value: Expr::Value(Value::SingleQuotedString(text.clone()).into()),
            });
        }
    }
    if options.is_empty() {
        return;
    }
    create.table_options = match std::mem::take(&mut create.table_options) {
        CreateTableOptions::With(mut existing) => {
            existing.extend(options);
            CreateTableOptions::With(existing)
        }
        _ => CreateTableOptions::With(options),
    };
}

/// The clauses a table's definition holds (as options; see the module docs). Other
/// options are refused (`0A000`) when `strict` (at `CREATE TABLE`), ignored otherwise
/// (a definition stored by an earlier version).
pub fn table_clauses(create: &CreateTable, strict: bool) -> Result<TableClauses> {
    let options = match &create.table_options {
        CreateTableOptions::With(options) => options.as_slice(),
        CreateTableOptions::None => &[],
        _ if strict => {
            return Err(SluiceError::not_supported(
                "table options other than WITH (...)",
            ));
        }
        _ => &[],
    };
    let mut clauses = TableClauses::default();
    let mut watermark_column = None;
    let mut watermark = None;
    for option in options {
        let SqlOption::KeyValue { key, value } = option else {
            if strict {
                return Err(SluiceError::not_supported(format!("table option {option}")));
            }
            continue;
        };
        let text = match value {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                Value::Boolean(b) => Some(b.to_string()),
                _ => None,
            },
            _ => None,
        };
        match (key.value.to_lowercase().as_str(), text) {
            (APPEND_ONLY, Some(flag)) => clauses.append_only = flag == "true",
            (WATERMARK_COLUMN, Some(column)) => watermark_column = Some(column),
            (WATERMARK, Some(expression)) => watermark = Some(expression),
            _ if strict => {
                return Err(SluiceError::not_supported(format!(
                    "table option {option} is not supported (Sluice's tables take APPEND ONLY \
                     and WATERMARK FOR column AS expression)"
                )));
            }
            _ => {}
        }
    }
    if let (Some(column), Some(expression)) = (watermark_column, watermark) {
        let column = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&column)?
            .parse_identifier()?;
        let expression = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&expression)?
            .parse_expr()?;
        clauses.watermark = Some((column, expression));
    }
    if clauses.watermark.is_some() && !clauses.append_only {
        return Err(SluiceError::not_supported(
            "a WATERMARK needs an APPEND ONLY table: a row that can be deleted or updated \
             could change below the watermark",
        ));
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_come_out_of_the_text() {
        let (text, clauses) = strip_clauses(
            "CREATE TABLE t (id INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) APPEND ONLY",
        )
        .unwrap();
        assert_eq!(text.trim_end(), "CREATE TABLE t (id INT, ts TIMESTAMP)");
        assert!(clauses.append_only);
        assert_eq!(
            clauses.watermark,
            Some(("ts".to_string(), "ts - INTERVAL '5' SECOND".to_string()))
        );
        let (text, clauses) = strip_clauses("CREATE TABLE t (id INT, f NUMERIC(10, 2))").unwrap();
        assert_eq!(text, "CREATE TABLE t (id INT, f NUMERIC(10, 2))");
        assert_eq!(clauses, WrittenClauses::default());
        let (text, clauses) = strip_clauses(
            "CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS date_trunc('second', ts), id INT) APPEND ONLY",
        )
        .unwrap();
        assert_eq!(text.trim_end(), "CREATE TABLE t (ts TIMESTAMP, id INT)");
        assert_eq!(clauses.watermark.unwrap().1, "date_trunc('second', ts)");
    }

    #[test]
    fn clauses_round_trip_through_the_options() {
        let (text, clauses) = strip_clauses(
            "CREATE TABLE t (id INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) APPEND ONLY",
        )
        .unwrap();
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, &text).unwrap();
        let datafusion::sql::sqlparser::ast::Statement::CreateTable(mut create) = parsed[0].clone()
        else {
            panic!("a CREATE TABLE");
        };
        mark_clauses(&mut create, &clauses);
        let stored = datafusion::sql::sqlparser::ast::Statement::CreateTable(create).to_string();
        let again = Parser::parse_sql(&PostgreSqlDialect {}, &stored).unwrap();
        let datafusion::sql::sqlparser::ast::Statement::CreateTable(create) = &again[0] else {
            panic!("a CREATE TABLE");
        };
        let clauses = table_clauses(create, true).unwrap();
        assert!(clauses.append_only);
        let (column, expression) = clauses.watermark.unwrap();
        assert_eq!(column.value, "ts");
        assert_eq!(expression.to_string(), "ts - INTERVAL '5' SECOND");
    }

    #[test]
    fn a_watermark_needs_an_append_only_table() {
        let (text, clauses) =
            strip_clauses("CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts)").unwrap();
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, &text).unwrap();
        let datafusion::sql::sqlparser::ast::Statement::CreateTable(mut create) = parsed[0].clone()
        else {
            panic!("a CREATE TABLE");
        };
        mark_clauses(&mut create, &clauses);
        let error = table_clauses(&create, true).unwrap_err();
        assert!(error.to_string().contains("APPEND ONLY"), "{error}");
    }
}
