//! Session settings: `SET name = value`, `SHOW name`, and the values reported to
//! clients at start-up.
//!
//! Settings live in the connection's metadata map under their lowercase name (the
//! wire layer reads `datestyle`, `intervalstyle`, `extra_float_digits` from there to
//! format values). Unknown names are refused as Postgres does, except qualified
//! `prefix.name` ones, which Postgres accepts as custom options.

use std::collections::HashMap;

use crate::error::{Result, SluiceError, sqlstate};

/// The PostgreSQL version Sluice speaks (drivers pick their queries by it).
pub const PG_VERSION: &str = "15.6";
/// `server_version_num` matching [`PG_VERSION`].
pub const PG_VERSION_NUM: &str = "150006";

/// `max_index_keys`: PostgreSQL's; pgjdbc reads it (in `pg_settings`) to number the
/// columns of foreign keys, which Sluice does not have.
pub const MAX_INDEX_KEYS: &str = "32";

/// `SELECT version()`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (Sluice {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// A known setting: name, default, and whether clients may change it.
struct Setting {
    name: &'static str,
    default: &'static str,
    writable: bool,
}

const fn rw(name: &'static str, default: &'static str) -> Setting {
    Setting {
        name,
        default,
        writable: true,
    }
}

const fn ro(name: &'static str, default: &'static str) -> Setting {
    Setting {
        name,
        default,
        writable: false,
    }
}

const SETTINGS: &[Setting] = &[
    ro("server_version", PG_VERSION),
    ro("server_version_num", PG_VERSION_NUM),
    ro("server_encoding", "UTF8"),
    ro("integer_datetimes", "on"),
    ro("max_identifier_length", "63"),
    ro("max_index_keys", MAX_INDEX_KEYS),
    ro("lc_collate", "C"),
    ro("lc_ctype", "C"),
    ro("is_superuser", "on"),
    rw("client_encoding", "UTF8"),
    rw("datestyle", "ISO, MDY"),
    rw("intervalstyle", "postgres"),
    rw("timezone", "UTC"),
    rw("standard_conforming_strings", "on"),
    rw("search_path", "public"),
    rw("default_table_access_method", "heap"),
    rw("application_name", ""),
    rw("extra_float_digits", "1"),
    rw("bytea_output", "hex"),
    rw("statement_timeout", "0"),
    rw("lock_timeout", "0"),
    rw("idle_in_transaction_session_timeout", "0"),
    rw("transaction_isolation", "read committed"),
    rw("default_transaction_isolation", "read committed"),
    rw("transaction_read_only", "off"),
    rw("default_transaction_read_only", "off"),
    rw("client_min_messages", "notice"),
    rw("geqo", "on"),
    rw("jit", "off"),
    rw("synchronous_commit", "on"),
    rw("session_authorization", "sluice"),
    rw("role", "none"),
];

/// Normalizes a setting name as written in SQL (`TimeZone`, `transaction isolation level`).
pub fn normalize(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        "names" => "client_encoding".into(),
        _ => lower,
    }
}

/// The column name of `SHOW name`'s result: the setting's canonical name, which
/// PostgreSQL spells in mixed case for a few (`SHOW datestyle` answers in a column
/// named `DateStyle`).
pub fn column_name(name: &str) -> String {
    let name = normalize(name);
    match name.as_str() {
        "datestyle" => "DateStyle".into(),
        "intervalstyle" => "IntervalStyle".into(),
        "timezone" => "TimeZone".into(),
        // `SHOW a.b` arrives as the words `a b`: custom options are dotted.
        _ => name.replace(' ', "."),
    }
}

fn lookup(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The value of setting `name` for a session whose metadata is `vars`.
pub fn show(vars: &HashMap<String, String>, name: &str) -> Result<String> {
    let name = normalize(name);
    if name == "session_authorization"
        && let Some(user) = vars.get("user")
    {
        return Ok(user.clone());
    }
    // `SHOW a.b` arrives as the words `a b`: custom options are dotted.
    let dotted = name.replace(' ', ".");
    if let Some(value) = vars.get(&dotted) {
        return Ok(value.clone());
    }
    if let Some(value) = vars.get(&name) {
        return Ok(value.clone());
    }
    // Start-up parameters arrive with the client's spelling (`DateStyle`).
    if let Some((_, value)) = vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)) {
        return Ok(value.clone());
    }
    match lookup(&name) {
        Some(setting) => Ok(setting.default.to_string()),
        None => Err(unrecognized(&name)),
    }
}

/// Changes setting `name` for the session. `None` resets it to its default.
pub fn set(vars: &mut HashMap<String, String>, name: &str, value: Option<String>) -> Result<()> {
    let name = normalize(name);
    match lookup(&name) {
        Some(setting) if !setting.writable => {
            return Err(SluiceError::coded(
                "55P02",
                format!("parameter \"{name}\" cannot be changed"),
            ));
        }
        Some(_) => {}
        None if name.contains('.') => {}
        None => return Err(unrecognized(&name)),
    }
    let value = match value {
        Some(v) => validate(&name, v)?,
        None => lookup(&name)
            .map(|s| s.default.to_string())
            .unwrap_or_default(),
    };
    vars.retain(|k, _| !k.eq_ignore_ascii_case(&name));
    vars.insert(name, value);
    Ok(())
}

fn validate(name: &str, value: String) -> Result<String> {
    let invalid = || {
        SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
        )
    };
    match name {
        "client_encoding"
            if !matches!(
                value.to_ascii_uppercase().as_str(),
                "UTF8" | "UTF-8" | "UNICODE"
            ) =>
        {
            Err(SluiceError::not_supported(format!(
                "client encoding \"{value}\" is not supported; Sluice speaks UTF8"
            )))
        }
        "client_encoding" => Ok("UTF8".into()),
        "timezone"
            if !matches!(
                value.to_ascii_uppercase().as_str(),
                "UTC" | "ETC/UTC" | "GMT" | "Z" | "+00:00" | "0"
            ) =>
        {
            Err(SluiceError::not_supported(format!(
                "time zone \"{value}\" is not supported; timestamptz values are shown in UTC"
            )))
        }
        "standard_conforming_strings" if value != "on" => Err(invalid()),
        "extra_float_digits" if value.parse::<i8>().is_err() => Err(invalid()),
        "statement_timeout" => {
            let millis = parse_milliseconds(&value).ok_or_else(invalid)?;
            if !(0..=i64::from(i32::MAX)).contains(&millis) {
                return Err(SluiceError::coded(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!(
                        "{millis} ms is outside the valid range for parameter \"{name}\" (0 .. {})",
                        i32::MAX
                    ),
                ));
            }
            Ok(show_milliseconds(millis))
        }
        _ => Ok(value),
    }
}

/// The server-wide setting `ALTER SYSTEM` changes (see docs/storage.md).
pub const CHECKPOINT_INTERVAL: &str = "checkpoint_interval";

/// Parses `ALTER SYSTEM SET name { = | TO } { value | DEFAULT }` and `ALTER SYSTEM
/// RESET name` into the checkpoint interval to set (`None`: back to the start-up
/// one). `checkpoint_interval` is the only server-wide setting; a session setting
/// is refused with `0A000` (use `SET`), an unknown name with `42704`.
pub fn parse_alter_system(text: &str) -> Result<Option<std::time::Duration>> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Token;

    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text)?;
    let syntax = || {
        SluiceError::coded(
            sqlstate::SYNTAX_ERROR,
            "expected ALTER SYSTEM SET name = value or ALTER SYSTEM RESET name",
        )
    };
    if !parser.parse_keyword(Keyword::ALTER) || !parser.parse_keyword(Keyword::SYSTEM) {
        return Err(syntax());
    }
    let set = match parser.parse_one_of_keywords(&[Keyword::SET, Keyword::RESET]) {
        Some(Keyword::SET) => true,
        Some(_) => false,
        None => return Err(syntax()),
    };
    let name = parser.parse_identifier()?.value.to_ascii_lowercase();
    let value = if set {
        if !parser.consume_token(&Token::Eq) && !parser.parse_keyword(Keyword::TO) {
            return Err(syntax());
        }
        match parser.parse_expr()? {
            datafusion::sql::sqlparser::ast::Expr::Identifier(id)
                if id.value.eq_ignore_ascii_case("default") =>
            {
                None
            }
            value => Some(super::setting_value(&value)),
        }
    } else {
        None
    };
    let _ = parser.consume_token(&Token::SemiColon);
    if parser.peek_token().token != Token::EOF {
        return Err(syntax());
    }
    if name != CHECKPOINT_INTERVAL {
        return Err(match lookup(&name) {
            Some(_) => SluiceError::not_supported(format!(
                "\"{name}\" is a session setting: use SET; ALTER SYSTEM sets only {CHECKPOINT_INTERVAL}"
            )),
            None => unrecognized(&name),
        });
    }
    let Some(value) = value else {
        return Ok(None);
    };
    let millis = parse_milliseconds(&value)
        .filter(|m| (0..=i64::from(i32::MAX)).contains(m))
        .ok_or_else(|| {
            SluiceError::coded(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!(
                    "invalid value for parameter \"{name}\": \"{value}\" (an interval such as '1s', \
                     '500ms' or '2min', from 0 (off) to {} ms)",
                    i32::MAX
                ),
            )
        })?;
    Ok(Some(std::time::Duration::from_millis(millis as u64)))
}

/// A time setting as PostgreSQL reads it: a number, optionally followed by a unit
/// (`us`, `ms`, `s`, `min`, `h`, `d`; milliseconds when none), rounded to whole
/// milliseconds.
pub(crate) fn parse_milliseconds(value: &str) -> Option<i64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let millis = (number * scale).round();
    millis.is_finite().then_some(millis as i64)
}

/// Milliseconds shown in the largest unit that holds them exactly, as PostgreSQL's
/// `SHOW` does (`1500ms`, `2s`, `5min`, `0`).
pub(crate) fn show_milliseconds(millis: i64) -> String {
    if millis == 0 {
        return "0".into();
    }
    [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ]
    .into_iter()
    .find(|(unit, _)| millis % unit == 0)
    .map_or_else(
        || format!("{millis}ms"),
        |(unit, name)| format!("{}{name}", millis / unit),
    )
}

/// The session's `statement_timeout`; `None` when it is 0 (no limit).
pub fn statement_timeout(vars: &HashMap<String, String>) -> Option<std::time::Duration> {
    let value = show(vars, "statement_timeout").ok()?;
    match parse_milliseconds(&value)? {
        millis if millis > 0 => Some(std::time::Duration::from_millis(millis as u64)),
        _ => None,
    }
}

fn unrecognized(name: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// Parameters sent to the client in `ParameterStatus` messages at start-up.
pub fn startup_parameters() -> HashMap<String, String> {
    [
        ("server_version", PG_VERSION),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("TimeZone", "UTC"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("is_superuser", "on"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alter_system_sets_and_resets_the_checkpoint_interval() {
        use std::time::Duration;
        let parsed = |sql: &str| parse_alter_system(sql).map_err(|e| e.sqlstate());
        let ms = |n| Ok(Some(Duration::from_millis(n)));
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = '5s'"),
            ms(5000)
        );
        assert_eq!(
            parsed("alter system set Checkpoint_Interval to 250;"),
            ms(250)
        );
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = '2min'"),
            ms(120_000)
        );
        assert_eq!(parsed("ALTER SYSTEM SET checkpoint_interval = 0"), ms(0));
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = DEFAULT"),
            Ok(None)
        );
        assert_eq!(parsed("ALTER SYSTEM RESET checkpoint_interval"), Ok(None));
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = '1 fortnight'"),
            Err("22023")
        );
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = '9999999999'"),
            Err("22023")
        );
        assert_eq!(parsed("ALTER SYSTEM SET datestyle = 'ISO'"), Err("0A000"));
        assert_eq!(parsed("ALTER SYSTEM SET nope = 1"), Err("42704"));
        assert_eq!(
            parsed("ALTER SYSTEM SET checkpoint_interval = 1 2"),
            Err("42601")
        );
    }

    #[test]
    fn set_then_show() {
        let mut vars = HashMap::new();
        set(&mut vars, "application_name", Some("app".into())).unwrap();
        assert_eq!(show(&vars, "APPLICATION_NAME").unwrap(), "app");
        set(&mut vars, "application_name", None).unwrap();
        assert_eq!(show(&vars, "application_name").unwrap(), "");
    }

    #[test]
    fn statement_timeout_is_read_and_shown_like_postgres() {
        let mut vars = HashMap::new();
        assert_eq!(statement_timeout(&vars), None);
        for (given, shown, millis) in [
            ("1500", "1500ms", 1500),
            ("2s", "2s", 2000),
            ("2 s", "2s", 2000),
            ("60000", "1min", 60_000),
            ("1.5s", "1500ms", 1500),
            ("3h", "3h", 10_800_000),
            ("0", "0", 0),
        ] {
            set(&mut vars, "statement_timeout", Some(given.into())).unwrap();
            assert_eq!(show(&vars, "statement_timeout").unwrap(), shown, "{given}");
            let expected = (millis > 0).then(|| std::time::Duration::from_millis(millis));
            assert_eq!(statement_timeout(&vars), expected, "{given}");
        }
        for bad in ["abc", "5 years", "-1", "3000000000"] {
            let error = set(&mut vars, "statement_timeout", Some(bad.into())).unwrap_err();
            assert_eq!(error.sqlstate(), sqlstate::INVALID_PARAMETER_VALUE, "{bad}");
        }
    }

    #[test]
    fn startup_spelling_is_found() {
        let vars = HashMap::from([("DateStyle".to_string(), "ISO, DMY".to_string())]);
        assert_eq!(show(&vars, "datestyle").unwrap(), "ISO, DMY");
    }

    #[test]
    fn unknown_and_read_only_settings_are_refused() {
        let mut vars = HashMap::new();
        assert_eq!(show(&vars, "no_such").unwrap_err().sqlstate(), "42704");
        assert_eq!(
            set(&mut vars, "no_such", Some("1".into()))
                .unwrap_err()
                .sqlstate(),
            "42704"
        );
        assert!(set(&mut vars, "server_version", Some("1".into())).is_err());
        set(&mut vars, "myapp.flag", Some("x".into())).unwrap();
        assert_eq!(show(&vars, "myapp flag").unwrap(), "x");
        assert_eq!(
            show(&vars, "transaction isolation level").unwrap(),
            "read committed"
        );
    }
}
