//! Role statements, in PostgreSQL's grammar:
//!
//! ```text
//! CREATE ROLE | USER name [[WITH] option ...]
//! ALTER ROLE | USER name [WITH] option ...
//! DROP ROLE | USER [IF EXISTS] name [, ...]
//!     option: SUPERUSER | NOSUPERUSER | LOGIN | NOLOGIN | INHERIT | NOINHERIT
//!           | [ENCRYPTED] PASSWORD 'password' | PASSWORD NULL
//! GRANT privileges ON { [TABLE] name [, ...] | ALL TABLES IN SCHEMA public }
//!     TO { role | PUBLIC } [, ...]
//! REVOKE privileges ON ... FROM { role | PUBLIC } [, ...] [CASCADE | RESTRICT]
//!     privileges: ALL [PRIVILEGES] | { SELECT | INSERT | UPDATE | DELETE } [, ...]
//! ```
//!
//! Parsed here rather than by `sqlparser`, whose `CREATE USER` / `ALTER USER` are
//! Snowflake's. Only superusers run them (checked in [`super::privileges`]).
//! Passwords are turned into SCRAM verifiers while parsing, so the cleartext never
//! reaches the catalog or a log line.

use datafusion::sql::sqlparser::ast::ObjectName;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::Output;
use super::create_source::{expect_end, expect_words, parse_word, syntax_in};
use super::names;
use crate::catalog::password::verifier_for;
use crate::catalog::roles::{Grantee, Privilege, RoleAttributes};
use crate::catalog::{DEFAULT_SCHEMA, Relation};
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};

/// A role statement, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleStatement {
    /// `CREATE ROLE` (`user`: `CREATE USER`, which may log in by default).
    Create {
        name: String,
        user: bool,
        attributes: RoleAttributes,
    },
    /// `ALTER ROLE | USER`.
    Alter {
        name: String,
        attributes: RoleAttributes,
    },
    /// `DROP ROLE | USER`.
    Drop { names: Vec<String>, if_exists: bool },
    /// `GRANT` (`grant`) or `REVOKE`.
    Grant {
        grant: bool,
        privileges: Vec<Privilege>,
        on: GrantTarget,
        grantees: Vec<Grantee>,
    },
}

/// The relations a `GRANT` names.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantTarget {
    /// `ON [TABLE] a, b`.
    Relations(Vec<ObjectName>),
    /// `ON ALL TABLES IN SCHEMA public`: every relation there now.
    AllInPublic,
}

impl RoleStatement {
    /// The command tag PostgreSQL answers with.
    pub fn tag(&self) -> &'static str {
        match self {
            RoleStatement::Create { .. } => "CREATE ROLE",
            RoleStatement::Alter { .. } => "ALTER ROLE",
            RoleStatement::Drop { .. } => "DROP ROLE",
            RoleStatement::Grant { grant: true, .. } => "GRANT",
            RoleStatement::Grant { grant: false, .. } => "REVOKE",
        }
    }
}

fn parser_for(text: &str) -> Result<Parser<'static>> {
    static DIALECT: PostgreSqlDialect = PostgreSqlDialect {};
    Ok(Parser::new(&DIALECT).try_with_sql(text)?)
}

/// A role name: an identifier, folded as identifiers are.
fn role_name(parser: &mut Parser, statement: &str) -> Result<String> {
    match parser.next_token().token {
        Token::Word(word) => Ok(names::normalize_ident(
            &word.into_ident(datafusion::sql::sqlparser::tokenizer::Span::empty()),
        )),
        other => Err(syntax_in(
            statement,
            format!("expected a role name, found {other}"),
        )),
    }
}

/// Parses `CREATE | ALTER | DROP  ROLE | USER ...`.
pub fn parse_role_statement(text: &str) -> Result<RoleStatement> {
    let mut parser = parser_for(text)?;
    let verb = match parser.next_token().token {
        Token::Word(w) => w.value.to_uppercase(),
        other => return Err(SluiceError::Syntax(format!("unexpected {other}"))),
    };
    let user = parse_word(&mut parser, "USER");
    if !user {
        expect_words(&mut parser, &verb, &["ROLE"])?;
    }
    let statement = format!("{verb} {}", if user { "USER" } else { "ROLE" });
    let parsed = match verb.as_str() {
        "CREATE" => {
            let name = role_name(&mut parser, &statement)?;
            let _ = parse_word(&mut parser, "WITH");
            RoleStatement::Create {
                name,
                user,
                attributes: parse_attributes(&mut parser, &statement)?,
            }
        }
        "ALTER" => {
            let name = role_name(&mut parser, &statement)?;
            if parse_word(&mut parser, "RENAME") || parse_word(&mut parser, "SET") {
                return Err(SluiceError::not_supported(format!(
                    "{statement} ... RENAME and SET are not supported; ALTER ROLE changes \
                     SUPERUSER, LOGIN and PASSWORD"
                )));
            }
            let _ = parse_word(&mut parser, "WITH");
            let attributes = parse_attributes(&mut parser, &statement)?;
            if attributes == RoleAttributes::default() {
                return Err(syntax_in(&statement, "expected a role option"));
            }
            RoleStatement::Alter { name, attributes }
        }
        "DROP" => {
            let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
            let mut names = vec![role_name(&mut parser, &statement)?];
            while parser.consume_token(&Token::Comma) {
                names.push(role_name(&mut parser, &statement)?);
            }
            RoleStatement::Drop { names, if_exists }
        }
        _ => return Err(syntax_in(&statement, "expected CREATE, ALTER or DROP")),
    };
    expect_end(&mut parser, &statement)?;
    Ok(parsed)
}

/// Role options up to the end of the statement.
fn parse_attributes(parser: &mut Parser, statement: &str) -> Result<RoleAttributes> {
    let mut attributes = RoleAttributes::default();
    loop {
        let token = parser.peek_token().token;
        let word = match &token {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_uppercase(),
            _ => return Ok(attributes),
        };
        parser.next_token();
        match word.as_str() {
            "SUPERUSER" => attributes.superuser = Some(true),
            "NOSUPERUSER" => attributes.superuser = Some(false),
            "LOGIN" => attributes.login = Some(true),
            "NOLOGIN" => attributes.login = Some(false),
            // Roles have no members here, so inheriting changes nothing.
            "INHERIT" | "NOINHERIT" => {}
            "ENCRYPTED" | "PASSWORD" => {
                if word == "ENCRYPTED" {
                    expect_words(parser, statement, &["PASSWORD"])?;
                }
                attributes.password = Some(match parser.next_token().token {
                    Token::Word(w) if w.keyword == Keyword::NULL => None,
                    Token::SingleQuotedString(password) => {
                        Some(verifier_for(&password)?.to_string())
                    }
                    other => {
                        return Err(syntax_in(
                            statement,
                            format!("expected a password string or NULL, found {other}"),
                        ));
                    }
                });
            }
            _ => {
                return Err(SluiceError::not_supported(format!(
                    "role option {word} is not supported; roles take SUPERUSER, LOGIN, \
                     PASSWORD and their NO forms"
                )));
            }
        }
    }
}

/// Parses `GRANT ...` or `REVOKE ...`.
pub fn parse_grant(text: &str) -> Result<RoleStatement> {
    let mut parser = parser_for(text)?;
    let grant = parse_word(&mut parser, "GRANT");
    let statement = if grant { "GRANT" } else { "REVOKE" };
    if !grant {
        expect_words(&mut parser, statement, &["REVOKE"])?;
        if parse_word(&mut parser, "GRANT") {
            return Err(SluiceError::not_supported(
                "grant options are not supported (nothing is granted WITH GRANT OPTION)",
            ));
        }
    }
    let privileges = parse_privileges(&mut parser, statement)?;
    if !parse_word(&mut parser, "ON") {
        return Err(SluiceError::not_supported(
            "granting roles to roles is not supported; grant privileges ON relations",
        ));
    }
    let on = if parse_word(&mut parser, "ALL") {
        expect_words(&mut parser, statement, &["TABLES", "IN", "SCHEMA"])?;
        let schema = role_name(&mut parser, statement)?;
        if schema != DEFAULT_SCHEMA {
            return Err(SluiceError::coded(
                "3F000",
                format!("schema \"{schema}\" does not exist"),
            ));
        }
        GrantTarget::AllInPublic
    } else {
        if [
            "SEQUENCE", "DATABASE", "SCHEMA", "FUNCTION", "LANGUAGE", "TYPE",
        ]
        .iter()
        .any(|kind| parse_word(&mut parser, kind))
        {
            return Err(SluiceError::not_supported(
                "privileges are granted on tables, materialized views and sources only",
            ));
        }
        let _ = parse_word(&mut parser, "TABLE");
        let mut relations = vec![parser.parse_object_name(false)?];
        while parser.consume_token(&Token::Comma) {
            relations.push(parser.parse_object_name(false)?);
        }
        GrantTarget::Relations(relations)
    };
    expect_words(&mut parser, statement, &[if grant { "TO" } else { "FROM" }])?;
    let mut grantees = Vec::new();
    loop {
        let name = role_name(&mut parser, statement)?;
        grantees.push(if name == "public" {
            Grantee::Public
        } else {
            Grantee::Role(name)
        });
        if !parser.consume_token(&Token::Comma) {
            break;
        }
    }
    if grant && parse_word(&mut parser, "WITH") {
        return Err(SluiceError::not_supported(
            "WITH GRANT OPTION is not supported: only superusers grant privileges",
        ));
    }
    if !grant && !parse_word(&mut parser, "CASCADE") {
        let _ = parse_word(&mut parser, "RESTRICT");
    }
    expect_end(&mut parser, statement)?;
    Ok(RoleStatement::Grant {
        grant,
        privileges,
        on,
        grantees,
    })
}

fn parse_privileges(parser: &mut Parser, statement: &str) -> Result<Vec<Privilege>> {
    if parse_word(parser, "ALL") {
        let _ = parse_word(parser, "PRIVILEGES");
        return Ok(Privilege::ALL.to_vec());
    }
    let mut privileges = Vec::new();
    loop {
        let word = match parser.next_token().token {
            Token::Word(w) => w.value.to_uppercase(),
            other => {
                return Err(syntax_in(
                    statement,
                    format!("expected a privilege, found {other}"),
                ));
            }
        };
        privileges.push(match word.as_str() {
            "SELECT" => Privilege::Select,
            "INSERT" => Privilege::Insert,
            "UPDATE" => Privilege::Update,
            "DELETE" => Privilege::Delete,
            "TRUNCATE" | "REFERENCES" | "TRIGGER" | "USAGE" | "CREATE" | "CONNECT"
            | "TEMPORARY" | "TEMP" | "EXECUTE" => {
                return Err(SluiceError::not_supported(format!(
                    "privilege {word} is not supported; Sluice grants SELECT, INSERT, \
                     UPDATE and DELETE"
                )));
            }
            // A role name: `GRANT role TO role`.
            _ => {
                return Err(SluiceError::not_supported(
                    "granting roles to roles is not supported; grant privileges ON relations",
                ));
            }
        });
        if matches!(parser.peek_token().token, Token::LParen) {
            return Err(SluiceError::not_supported(
                "column privileges are not supported; grant on the whole relation",
            ));
        }
        if !parser.consume_token(&Token::Comma) {
            return Ok(privileges);
        }
    }
}

/// Runs a role statement for superuser `current_user` (`None`: the built-in one).
pub async fn execute(
    db: &Database,
    statement: &RoleStatement,
    current_user: Option<&str>,
) -> Result<Output> {
    let roles = db.roles();
    match statement {
        RoleStatement::Create {
            name,
            user,
            attributes,
        } => roles.create(name, attributes, *user)?,
        RoleStatement::Alter { name, attributes } => roles.alter(name, attributes)?,
        RoleStatement::Drop { names, if_exists } => {
            if names.iter().any(|name| current_user == Some(name.as_str())) {
                return Err(SluiceError::coded(
                    sqlstate::OBJECT_IN_USE,
                    "current user cannot be dropped",
                ));
            }
            let catalog = db.catalog();
            let relation_name = |id: u64| {
                catalog
                    .relations()
                    .into_iter()
                    .find(|r| r.entry().id == id)
                    .map_or_else(|| id.to_string(), |r| r.entry().name.clone())
            };
            roles.drop_roles(names, *if_exists, relation_name)?;
        }
        RoleStatement::Grant {
            grant,
            privileges,
            on,
            grantees,
        } => {
            let _ddl = db.ddl_guard().await;
            let relations: Vec<Relation> = match on {
                GrantTarget::AllInPublic => db.catalog().relations(),
                GrantTarget::Relations(names) => names
                    .iter()
                    .map(|name| {
                        let name = names::relation_name(name)?;
                        db.catalog()
                            .get(&name)
                            .ok_or(SluiceError::UndefinedTable(name))
                    })
                    .collect::<Result<_>>()?,
            };
            let ids: Vec<u64> = relations.iter().map(|r| r.entry().id).collect();
            roles.change_grants(*grant, privileges, &ids, grantees)?;
        }
    }
    Ok(Output::Done {
        tag: statement.tag(),
        rows: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Ident;

    #[test]
    fn role_statements_parse_as_postgresql_writes_them() {
        let RoleStatement::Create {
            name,
            user,
            attributes,
        } = parse_role_statement("CREATE USER \"Bi\" WITH PASSWORD 'x' NOSUPERUSER").unwrap()
        else {
            panic!("not a CREATE");
        };
        assert_eq!((name.as_str(), user), ("Bi", true));
        assert_eq!(attributes.superuser, Some(false));
        assert!(
            attributes
                .password
                .unwrap()
                .unwrap()
                .starts_with("SCRAM-SHA-256$4096:")
        );

        assert_eq!(
            parse_role_statement("alter role bi password null login").unwrap(),
            RoleStatement::Alter {
                name: "bi".into(),
                attributes: RoleAttributes {
                    login: Some(true),
                    password: Some(None),
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            parse_role_statement("DROP USER IF EXISTS a, B;").unwrap(),
            RoleStatement::Drop {
                names: vec!["a".into(), "b".into()],
                if_exists: true
            }
        );
        for (text, code) in [
            ("CREATE ROLE r CREATEDB", "0A000"),
            ("CREATE ROLE r PASSWORD 5", "42601"),
            ("ALTER ROLE r", "42601"),
            ("ALTER ROLE r RENAME TO s", "0A000"),
            ("CREATE ROLE r PASSWORD ''", "22023"),
            ("CREATE ROLE r LOGIN extra", "0A000"),
        ] {
            let error = parse_role_statement(text).unwrap_err();
            assert_eq!(error.sqlstate(), code, "{text}: {error}");
        }
    }

    #[test]
    fn grants_parse_as_postgresql_writes_them() {
        assert_eq!(
            parse_grant("GRANT SELECT, insert ON TABLE t, public.u TO bi, PUBLIC").unwrap(),
            RoleStatement::Grant {
                grant: true,
                privileges: vec![Privilege::Select, Privilege::Insert],
                on: GrantTarget::Relations(vec![
                    ObjectName::from(vec![Ident::new("t")]),
                    ObjectName::from(vec![Ident::new("public"), Ident::new("u")]),
                ]),
                grantees: vec![Grantee::Role("bi".into()), Grantee::Public],
            }
        );
        assert_eq!(
            parse_grant("REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM bi CASCADE")
                .unwrap(),
            RoleStatement::Grant {
                grant: false,
                privileges: Privilege::ALL.to_vec(),
                on: GrantTarget::AllInPublic,
                grantees: vec![Grantee::Role("bi".into())],
            }
        );
        for (text, code) in [
            ("GRANT admin TO bi", "0A000"),
            ("GRANT SELECT (a) ON t TO bi", "0A000"),
            ("GRANT TRUNCATE ON t TO bi", "0A000"),
            ("GRANT SELECT ON t TO bi WITH GRANT OPTION", "0A000"),
            ("GRANT SELECT ON ALL TABLES IN SCHEMA other TO bi", "3F000"),
            ("GRANT SELECT ON t", "42601"),
        ] {
            let error = parse_grant(text).unwrap_err();
            assert_eq!(error.sqlstate(), code, "{text}: {error}");
        }
    }
}
