//! `trim([BOTH | LEADING | TRAILING] FROM s)`: PostgreSQL trims spaces when no
//! characters are named; the SQL parser insists on them (`Expected: ), found: s`).
//! The text of such a call gets PostgreSQL's default, `' '`, before its `FROM`.

use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::Result;
use crate::sql::parser::{Spanned, tokens};

/// `sql` with `' '` named in every `trim(... FROM s)` that names no characters.
pub fn name_default_characters(sql: &str) -> Result<String> {
    if !sql.to_ascii_uppercase().contains("TRIM") {
        return Ok(sql.to_string());
    }
    let tokens = tokens(sql)?;
    let is_word = |i: usize, words: &[&str]| {
        tokens.get(i).is_some_and(|t: &Spanned| match &t.token {
            Token::Word(w) => {
                w.quote_style.is_none() && words.iter().any(|k| w.value.eq_ignore_ascii_case(k))
            }
            _ => false,
        })
    };
    let mut at = Vec::new();
    for i in 0..tokens.len() {
        if !is_word(i, &["TRIM"]) || tokens.get(i + 1).map(|t| &t.token) != Some(&Token::LParen) {
            continue;
        }
        let from = if is_word(i + 2, &["BOTH", "LEADING", "TRAILING"]) {
            i + 3
        } else {
            i + 2
        };
        if is_word(from, &["FROM"]) {
            at.push(tokens[from].start);
        }
    }
    let mut out = sql.to_string();
    for position in at.into_iter().rev() {
        out.insert_str(position, "' ' ");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_without_characters_trim_spaces() {
        let named = |sql: &str| name_default_characters(sql).unwrap();
        assert_eq!(
            named("SELECT trim(LEADING FROM s), TRIM(from s) FROM t"),
            "SELECT trim(LEADING ' ' FROM s), TRIM(' ' from s) FROM t"
        );
        for unchanged in [
            "SELECT trim(BOTH 'x' FROM s)",
            "SELECT trim(s)",
            "SELECT \"trim\"(LEADING FROM s)",
            "SELECT 'trim(from s)'",
        ] {
            assert_eq!(named(unchanged), unchanged);
        }
    }
}
