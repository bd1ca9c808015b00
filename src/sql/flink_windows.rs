//! Flink's window table-function syntax, rewritten to RisingWave's form before the
//! text is parsed (`sqlparser` cannot parse `TABLE t` as a function argument):
//!
//! ```text
//! TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size))          →  TUMBLE(t, ts, size)
//! TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size))      →  HOP(t, ts, slide, size)
//! TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), step, size))  →  CUMULATE(t, ts, step, size)
//! TABLE(SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), gap))  →  SESSION(t, ts, gap, k)
//! ```
//!
//! Named arguments (`DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => ...`) are
//! accepted in any order. The rewrite works on tokens and splices the original text,
//! so everything outside the window call is left byte for byte as written.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::parser::{Spanned, tokens};
use crate::error::{Result, SluiceError};

/// The window functions Flink writes as `TABLE(f(TABLE t, DESCRIPTOR(ts), ...))`, with
/// the names of their arguments after `DATA` and `TIMECOL`, in positional order.
fn parameters(function: &str) -> Option<&'static [&'static str]> {
    match function {
        "TUMBLE" => Some(&["SIZE"]),
        "HOP" => Some(&["SLIDE", "SIZE"]),
        "CUMULATE" => Some(&["STEP", "SIZE"]),
        "SESSION" => Some(&["GAP"]),
        _ => None,
    }
}

/// `sql` with every Flink-style window call replaced by RisingWave's form.
pub fn rewrite_flink_windows(sql: &str) -> Result<String> {
    // Every Flink window call names its time column with DESCRIPTOR.
    if !sql.to_ascii_uppercase().contains("DESCRIPTOR") {
        return Ok(sql.to_string());
    }
    let tokens = tokens(sql)?;
    let mut splices = Vec::new();
    let mut i = 0;
    while i + 3 < tokens.len() {
        let function = word(&tokens[i + 2]).unwrap_or_default();
        if word(&tokens[i]).as_deref() == Some("TABLE")
            && tokens[i + 1].token == Token::LParen
            && parameters(&function).is_some()
            && tokens[i + 3].token == Token::LParen
        {
            let close = matching(&tokens, i + 3)?;
            if tokens.get(close + 1).map(|t| &t.token) != Some(&Token::RParen) {
                return Err(syntax(
                    &function,
                    "TABLE(...) is missing its closing parenthesis",
                ));
            }
            let call = rewrite_call(sql, &function, &tokens[i + 4..close])?;
            splices.push((tokens[i].start, tokens[close + 1].end, call));
            i = close + 2;
        } else {
            i += 1;
        }
    }
    let mut out = sql.to_string();
    for (start, end, text) in splices.into_iter().rev() {
        out.replace_range(start..end, &text);
    }
    Ok(out)
}

fn syntax(function: &str, message: &str) -> SluiceError {
    SluiceError::Syntax(format!("syntax error in {function}: {message}"))
}

/// An unquoted word, uppercased.
fn word(token: &Spanned) -> Option<String> {
    match &token.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// The index of the parenthesis closing the one at `open`.
fn matching(tokens: &[Spanned], open: usize) -> Result<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(SluiceError::Syntax(
        "syntax error: unbalanced parentheses".into(),
    ))
}

/// Splits `tokens` at commas outside parentheses.
fn split_arguments(tokens: &[Spanned]) -> Vec<&[Spanned]> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, t) in tokens.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() || !out.is_empty() {
        out.push(&tokens[start..]);
    }
    out
}

/// The original text covered by `tokens`.
fn text<'a>(sql: &'a str, tokens: &[Spanned]) -> &'a str {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => &sql[first.start..last.end],
        _ => "",
    }
}

/// `DATA`: `TABLE name [PARTITION BY key | PARTITION BY (key, ...)]`; returns the
/// relation's text and its keys' text.
fn data_argument<'a>(
    sql: &'a str,
    function: &str,
    tokens: &[Spanned],
) -> Result<(&'a str, Option<&'a str>)> {
    if tokens.first().and_then(word).as_deref() != Some("TABLE") || tokens.len() < 2 {
        return Err(syntax(
            function,
            "the first argument must be TABLE relation (DATA => TABLE relation)",
        ));
    }
    let rest = &tokens[1..];
    let partition = rest
        .iter()
        .position(|t| word(t).as_deref() == Some("PARTITION"));
    let Some(p) = partition else {
        return Ok((text(sql, rest), None));
    };
    if function != "SESSION" {
        return Err(syntax(function, "PARTITION BY is only allowed in SESSION"));
    }
    if rest.get(p + 1).and_then(word).as_deref() != Some("BY") || rest.len() < p + 3 {
        return Err(syntax(
            function,
            "use PARTITION BY key or PARTITION BY (key, ...)",
        ));
    }
    let mut keys = &rest[p + 2..];
    if keys.first().map(|t| &t.token) == Some(&Token::LParen)
        && keys.last().map(|t| &t.token) == Some(&Token::RParen)
    {
        keys = &keys[1..keys.len() - 1];
    }
    if p == 0 || keys.is_empty() {
        return Err(syntax(function, "use TABLE relation PARTITION BY key"));
    }
    Ok((text(sql, &rest[..p]), Some(text(sql, keys))))
}

/// `TIMECOL`: `DESCRIPTOR(column)`; returns the column's text.
fn descriptor_argument<'a>(sql: &'a str, function: &str, tokens: &[Spanned]) -> Result<&'a str> {
    let ok = tokens.first().and_then(word).as_deref() == Some("DESCRIPTOR")
        && tokens.get(1).map(|t| &t.token) == Some(&Token::LParen)
        && tokens.last().map(|t| &t.token) == Some(&Token::RParen)
        && tokens.len() == 4;
    if !ok {
        return Err(syntax(
            function,
            "the time column is written DESCRIPTOR(column)",
        ));
    }
    Ok(text(sql, &tokens[2..3]))
}

/// The RisingWave-form call for the arguments of one Flink window call.
fn rewrite_call(sql: &str, function: &str, tokens: &[Spanned]) -> Result<String> {
    let names = parameters(function).unwrap_or(&[]);
    let usage = match function {
        "TUMBLE" => "TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size))",
        "HOP" => "TABLE(HOP(TABLE t, DESCRIPTOR(ts), slide, size))",
        "CUMULATE" => "TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), step, size))",
        _ => "TABLE(SESSION(TABLE t [PARTITION BY key], DESCRIPTOR(ts), gap))",
    };
    let arguments = split_arguments(tokens);
    let is_named = |a: &[Spanned]| a.len() > 2 && a[1].token == Token::RArrow;
    let named_count = arguments.iter().filter(|a| is_named(a)).count();
    if named_count != 0 && named_count != arguments.len() {
        return Err(syntax(
            function,
            "either every argument is named (NAME => value) or none is",
        ));
    }
    // Each argument by name: DATA, TIMECOL, then the function's own.
    let mut named: Vec<(String, &[Spanned])> = Vec::new();
    for (position, argument) in arguments.iter().enumerate() {
        let is_named = is_named(argument);
        let name = match (is_named, argument.first().and_then(word)) {
            (true, Some(name)) => name,
            (true, None) => return Err(syntax(function, &format!("use {usage}"))),
            (false, _) => match position {
                0 => "DATA".to_string(),
                1 => "TIMECOL".to_string(),
                n if n - 2 < names.len() => names[n - 2].to_string(),
                // Flink's optional last argument.
                n if n - 2 == names.len() => "OFFSET".to_string(),
                n => format!("#{}", n + 1),
            },
        };
        let value = if is_named { &argument[2..] } else { argument };
        if named.iter().any(|(n, _)| *n == name) {
            return Err(syntax(function, &format!("argument {name} is given twice")));
        }
        named.push((name, value));
    }
    let get = |name: &str| named.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    for (name, _) in &named {
        if name == "OFFSET" && !matches!(function, "TUMBLE" | "HOP") {
            return Err(SluiceError::not_supported(format!(
                "{function}: window offsets (OFFSET) are supported for TUMBLE and HOP only"
            )));
        }
        if name == "OFFSET" {
            continue;
        }
        if name != "DATA" && name != "TIMECOL" && !names.contains(&name.as_str()) {
            return Err(syntax(
                function,
                &format!("unexpected argument {name}; use {usage}"),
            ));
        }
    }
    let (Some(data), Some(timecol)) = (get("DATA"), get("TIMECOL")) else {
        return Err(syntax(function, &format!("use {usage}")));
    };
    let (relation, keys) = data_argument(sql, function, data)?;
    let mut out = vec![
        relation.to_string(),
        descriptor_argument(sql, function, timecol)?.to_string(),
    ];
    for name in names {
        match get(name) {
            Some(value) if !value.is_empty() => out.push(text(sql, value).to_string()),
            _ => {
                return Err(syntax(
                    function,
                    &format!("missing argument {name}; use {usage}"),
                ));
            }
        }
    }
    // RisingWave takes the offset last, as Flink does.
    if let Some(offset) = get("OFFSET") {
        if offset.is_empty() {
            return Err(syntax(function, "OFFSET needs a value"));
        }
        out.push(text(sql, offset).to_string());
    }
    if let Some(keys) = keys {
        out.push(keys.to_string());
    }
    Ok(format!("{function}({})", out.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(sql: &str) -> String {
        rewrite_flink_windows(sql).unwrap()
    }

    #[test]
    fn flink_calls_become_risingwave_calls() {
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(date_time), INTERVAL '10' SECOND)) AS t"
            ),
            "SELECT * FROM TUMBLE(bids, date_time, INTERVAL '10' SECOND) AS t"
        );
        assert_eq!(
            rewrite(
                "select * from table(\n  hop(table public.bids, descriptor(ts), interval '2' second, interval '10' second))"
            ),
            "select * from HOP(public.bids, ts, interval '2' second, interval '10' second)"
        );
        assert_eq!(
            rewrite(
                "SELECT 'DESCRIPTOR' FROM TABLE(CUMULATE(TABLE b, DESCRIPTOR(t), INTERVAL '1' MINUTE, INTERVAL '1' HOUR))"
            ),
            "SELECT 'DESCRIPTOR' FROM CUMULATE(b, t, INTERVAL '1' MINUTE, INTERVAL '1' HOUR)"
        );
    }

    #[test]
    fn named_arguments_in_any_order() {
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(HOP(DATA => TABLE b, TIMECOL => DESCRIPTOR(ts), \
                 SIZE => INTERVAL '10' SECOND, SLIDE => INTERVAL '5' SECOND))"
            ),
            "SELECT * FROM HOP(b, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)"
        );
    }

    #[test]
    fn offsets_go_last_as_in_risingwave() {
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '3' SECOND))"
            ),
            "SELECT * FROM TUMBLE(b, ts, INTERVAL '10' SECOND, INTERVAL '3' SECOND)"
        );
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(HOP(OFFSET => INTERVAL '1' SECOND, DATA => TABLE b, \
                 TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '5' SECOND, SIZE => INTERVAL '10' SECOND))"
            ),
            "SELECT * FROM HOP(b, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND, INTERVAL '1' SECOND)"
        );
    }

    #[test]
    fn other_text_is_untouched() {
        for sql in [
            "SELECT 'it''s' AS descriptor",
            "CREATE TABLE descriptor (x INT)",
            "SELECT * FROM TUMBLE(b, ts, INTERVAL '1' SECOND)",
        ] {
            assert_eq!(rewrite(sql), sql);
        }
    }

    #[test]
    fn malformed_calls_are_refused() {
        for (sql, code) in [
            (
                "SELECT * FROM TABLE(TUMBLE(b, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
                "42601",
            ),
            (
                "SELECT * FROM TABLE(TUMBLE(TABLE b, ts, DESCRIPTOR(ts)))",
                "42601",
            ),
            (
                "SELECT * FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(ts)))",
                "42601",
            ),
            (
                "SELECT * FROM TABLE(TUMBLE(TABLE b PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
                "42601",
            ),
            (
                "SELECT * FROM TABLE(CUMULATE(TABLE b, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND, INTERVAL '1' SECOND))",
                "0A000",
            ),
            (
                "SELECT * FROM TABLE(TUMBLE(DATA => TABLE b, DATA => TABLE b, TIMECOL => DESCRIPTOR(ts)))",
                "42601",
            ),
        ] {
            let err = rewrite_flink_windows(sql).unwrap_err();
            assert_eq!(err.sqlstate(), code, "{sql}: {err}");
        }
    }
}
