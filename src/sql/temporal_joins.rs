//! `FOR SYSTEM_TIME AS OF PROCTIME()`: process-time temporal joins (RisingWave's, and
//! Flink's lookup joins). In
//!
//! ```sql
//! SELECT b.auction, s.value
//! FROM bid b JOIN side_input FOR SYSTEM_TIME AS OF PROCTIME() s ON b.auction % 10000 = s.key
//! ```
//!
//! each row of the stream side (`bid`) is joined with the table as it is when the row
//! arrives; later changes of the table change no row already joined. The clause is
//! taken out of the statement's text (the SQL parser does not read it) and the
//! table's name is recorded in the view's options as `temporal_join_tables`; the
//! planner then makes the join whose right side reads that table a temporal one
//! ([`crate::dataflow::join`]). A plain query reads the table as it is now, which is
//! what the clause asks, so there the clause is only taken out.

use datafusion::sql::sqlparser::ast::{CreateView, Expr, Value};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::parser::tokens;
use crate::error::{Result, SluiceError};

/// The `WITH` option of a view that lists its temporal tables (comma-separated).
pub const TEMPORAL_JOIN_TABLES: &str = "temporal_join_tables";

/// `text` without its `FOR SYSTEM_TIME AS OF PROCTIME()` clauses, and the names of the
/// tables they followed (lowercase unless quoted), in order. The clause is found among
/// the statement's tokens, so comments and quoted text cannot fake it.
pub fn strip_clauses(text: &str) -> Result<(String, Vec<String>)> {
    const CLAUSE: [&str; 5] = ["FOR", "SYSTEM_TIME", "AS", "OF", "PROCTIME"];
    let tokens = tokens(text)?;
    let word = |at: usize, keyword: &str| {
        matches!(tokens.get(at).map(|t| &t.token), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    };
    let (mut out, mut tables, mut copied) = (String::new(), Vec::new(), 0);
    for at in 0..tokens.len() {
        if !(0..CLAUSE.len()).all(|i| word(at + i, CLAUSE[i])) {
            continue;
        }
        let after = at + CLAUSE.len();
        let called = matches!(tokens.get(after).map(|t| &t.token), Some(Token::LParen))
            && matches!(tokens.get(after + 1).map(|t| &t.token), Some(Token::RParen));
        let table = match at.checked_sub(1).map(|before| &tokens[before].token) {
            Some(Token::Word(w)) if called => match w.quote_style {
                Some(_) => w.value.clone(),
                None => w.value.to_ascii_lowercase(),
            },
            _ => {
                return Err(SluiceError::Syntax(
                    "syntax error: FOR SYSTEM_TIME AS OF PROCTIME() follows the name of the \
                     table a join looks rows up in"
                        .into(),
                ));
            }
        };
        out.push_str(&text[copied..tokens[at].start]);
        copied = tokens[after + 1].end;
        tables.push(table);
    }
    out.push_str(&text[copied..]);
    Ok((out, tables))
}

/// Records `tables` in `view`'s options, so the stored definition keeps them.
pub fn mark_tables(view: &mut CreateView, tables: &[String]) {
    let tables = Value::SingleQuotedString(tables.join(","));
    super::parser::add_view_option(view, TEMPORAL_JOIN_TABLES, tables);
}

/// The tables of the option's value.
pub fn tables_of(value: &Expr) -> Result<Vec<String>> {
    let Expr::Value(v) = value else {
        return Err(not_a_list(value));
    };
    let Value::SingleQuotedString(names) = &v.value else {
        return Err(not_a_list(value));
    };
    Ok(names
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect())
}

fn not_a_list(value: &Expr) -> SluiceError {
    SluiceError::not_supported(format!(
        "{TEMPORAL_JOIN_TABLES} takes a quoted list of table names, not {value}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clause_is_taken_out_and_its_table_named() {
        let (text, tables) = strip_clauses(
            "SELECT * FROM bid b JOIN Side_Input FOR SYSTEM_TIME AS OF PROCTIME() s ON b.a = s.k \
             JOIN \"Dim\" for system_time as of proctime ( ) d ON true",
        )
        .unwrap();
        assert_eq!(
            text,
            "SELECT * FROM bid b JOIN Side_Input  s ON b.a = s.k JOIN \"Dim\"  d ON true"
        );
        assert_eq!(tables, ["side_input", "Dim"]);
    }

    #[test]
    fn quoted_text_and_other_times_are_not_the_clause() {
        let text = "SELECT 'FOR SYSTEM_TIME AS OF PROCTIME()' FROM t";
        assert_eq!(strip_clauses(text).unwrap(), (text.to_string(), vec![]));
        assert!(strip_clauses("SELECT * FROM t FOR SYSTEM_TIME AS OF PROCTIME(1)").is_err());
        assert!(strip_clauses("SELECT 1 FOR SYSTEM_TIME AS OF PROCTIME()").is_err());
    }
}
