//! SQLAlchemy 2's inspector and pandas against Sluice and PostgreSQL 15 holding the
//! same schema (issue 15): `tests/clients/sqlalchemy_inspect.py` records each call's
//! answer (schema, table, view and materialized view names, columns, primary keys,
//! unique constraints, indexes, foreign keys, check constraints, comments, the view's
//! definition, `read_sql` and `read_sql_table`) as JSON, and the two answers must be
//! equal call by call, but for the documented differences below. node-postgres
//! (`tests/clients/pg_metadata.js`: fields and parsed rows) and psycopg2
//! (`tests/clients/psycopg2_describe.py`: `cursor.description` and values) are
//! compared the same way.

mod common;

use std::process::Command;

use common::TestServer;
use common::postgres::BI_SCHEMA;
use common::postgres::Postgres;
use serde_json::Value;

/// Sluice and PostgreSQL 15, each holding [`BI_SCHEMA`].
async fn with_schema() -> (TestServer, Postgres) {
    let sluice = TestServer::start().await;
    sluice
        .client()
        .await
        .batch_execute(BI_SCHEMA)
        .await
        .unwrap();
    let postgres = Postgres::start();
    postgres
        .client()
        .await
        .batch_execute(BI_SCHEMA)
        .await
        .unwrap();
    (sluice, postgres)
}

/// Calls that still fail on Sluice, with the words of the error. Each is checked to
/// fail so: once it works, it must equal PostgreSQL's and leave this list.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn inspect(url: &str) -> serde_json::Map<String, Value> {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect(
        "SLUICE_CLIENT_PYTHON: a Python with SQLAlchemy 2, psycopg2 and pandas \
         (scripts/test.sh installs it with scripts/install-clients.sh)",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/sqlalchemy_inspect.py"
    );
    let output = Command::new(python)
        .args([script, url])
        .output()
        .expect("run the SQLAlchemy script");
    assert!(
        output.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    match serde_json::from_slice(&output.stdout) {
        Ok(Value::Object(answers)) => answers,
        other => panic!("{url}: not a JSON object: {other:?}"),
    }
}

/// `text` with each run of white space one space (PostgreSQL prints a view's query
/// on several indented lines, Sluice as written).
fn collapsed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_inspector_and_pandas_answer_as_with_postgres() {
    let (sluice, postgres) = with_schema().await;

    let ours_url = format!(
        "postgresql+psycopg2://tester@127.0.0.1:{}/sluice",
        sluice.addr.port()
    );
    let theirs_url = format!(
        "postgresql+psycopg2://postgres@127.0.0.1:{}/postgres",
        postgres.port
    );
    let (ours, theirs) =
        tokio::task::spawn_blocking(move || (inspect(&ours_url), inspect(&theirs_url)))
            .await
            .unwrap();

    let mut keys: Vec<&String> = theirs.keys().collect();
    keys.sort();
    assert_eq!(
        ours.keys().collect::<std::collections::BTreeSet<_>>(),
        theirs.keys().collect::<std::collections::BTreeSet<_>>()
    );
    for key in keys {
        let (mut mine, postgres) = (ours[key].clone(), theirs[key].clone());
        assert!(
            postgres.get("error").is_none(),
            "PostgreSQL failed {key}: {postgres}"
        );
        if let Some((_, words)) = KNOWN_FAILURES.iter().find(|(k, _)| k == key) {
            let text = mine.to_string();
            assert!(
                mine.get("error").is_some() && text.contains(words),
                "{key} no longer fails as known ({words}): compare it with PostgreSQL's and \
                 take it off KNOWN_FAILURES.\nSluice: {text}\nPostgreSQL: {postgres}"
            );
            continue;
        }
        match key.as_str() {
            // Sluice's own schema of system relations is a schema more.
            "get_schema_names" => {
                if let Value::Array(names) = &mut mine {
                    names.retain(|n| n != "sluice_catalog");
                }
            }
            "get_view_definition spend" => {
                let (Value::String(a), Value::String(b)) = (&mine, &postgres) else {
                    panic!("{key}: Sluice {mine}, PostgreSQL {postgres}");
                };
                assert_eq!(collapsed(a), collapsed(b), "{key}");
                continue;
            }
            _ => {}
        }
        assert_eq!(mine, postgres, "{key}: Sluice's answer, then PostgreSQL's");
    }
}

/// Runs `program` with `args` (and the environment `env`); its stdout as a JSON
/// object of answers by call.
fn json_answers(
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> serde_json::Map<String, Value> {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    match serde_json::from_slice(&output.stdout) {
        Ok(Value::Object(answers)) => answers,
        other => panic!("{program} {args:?}: not a JSON object: {other:?}"),
    }
}

/// Compares two clients' answers call by call: each call PostgreSQL answers must
/// give Sluice the same answer, but those in `known_failures` (checked to still fail
/// with those words) and `known_differences` (checked to still differ), and with the
/// attributes `masked` names (call, attribute of each of its `fields`, why) left out
/// of both.
fn assert_same_answers(
    ours: &serde_json::Map<String, Value>,
    theirs: &serde_json::Map<String, Value>,
    known_failures: &[(&str, &str)],
    known_differences: &[(&str, &str)],
    masked: &[(&str, &str, &str)],
) {
    assert_eq!(
        ours.keys().collect::<std::collections::BTreeSet<_>>(),
        theirs.keys().collect::<std::collections::BTreeSet<_>>()
    );
    let mut differences = Vec::new();
    for (key, postgres) in theirs {
        let mine = &ours[key];
        assert!(
            postgres.get("error").is_none(),
            "PostgreSQL failed {key}: {postgres}"
        );
        if let Some((_, words)) = known_failures.iter().find(|(k, _)| k == key) {
            let text = mine.to_string();
            assert!(
                mine.get("error").is_some() && text.contains(words),
                "{key} no longer fails as known ({words}): compare it with PostgreSQL's and \
                 take it off the known failures.\nSluice: {text}\nPostgreSQL: {postgres}"
            );
            continue;
        }
        let (mut mine, mut postgres) = (mine.clone(), postgres.clone());
        for (call, attribute, _) in masked.iter().filter(|(call, _, _)| call == key) {
            for answer in [&mut mine, &mut postgres] {
                let Some(Value::Array(fields)) = answer.get_mut("fields") else {
                    panic!("{call}: no fields to mask {attribute} in: {answer}");
                };
                for field in fields.iter_mut().filter_map(Value::as_object_mut) {
                    field.remove(*attribute);
                }
            }
        }
        if known_differences.iter().any(|(k, _)| k == key) {
            assert_ne!(
                mine, postgres,
                "{key} no longer differs: take it off the known differences"
            );
            continue;
        }
        if mine != postgres {
            differences.push(format!(
                "{key}:\nSluice:     {mine}\nPostgreSQL: {postgres}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

/// node-postgres' answers (`tests/clients/pg_metadata.js`) for `port`.
fn node_metadata(port: u16, database: &str, user: &str) -> serde_json::Map<String, Value> {
    let modules = std::env::var("SLUICE_NODE_MODULES").expect(
        "SLUICE_NODE_MODULES: node-postgres (scripts/test.sh installs it with \
         scripts/install-node-clients.sh)",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/pg_metadata.js");
    json_answers(
        "node",
        &[script, "127.0.0.1", &port.to_string(), database, user],
        // pg parses timestamps into the process' time zone.
        &[("NODE_PATH", modules), ("TZ", "UTC".to_string())],
    )
}

/// node-postgres' results for `information_schema.tables` and `columns`, the rows of
/// each relation, aggregates, literals of each type and parameterized queries: the
/// fields as pg describes them (type OID, size, modifier, source table and column)
/// and the rows as its type parsers read them equal PostgreSQL 15's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_postgres_fields_and_parsed_rows_answer_as_with_postgres() {
    let (sluice, postgres) = with_schema().await;
    let (ours_port, theirs_port) = (sluice.addr.port(), postgres.port);
    let (ours, theirs) = tokio::task::spawn_blocking(move || {
        (
            node_metadata(ours_port, "sluice", "tester"),
            node_metadata(theirs_port, "postgres", "postgres"),
        )
    })
    .await
    .unwrap();
    assert_same_answers(&ours, &theirs, &[], EXPRESSION_TYPES, NODE_MASKED);
}

/// Calls whose result types still differ from PostgreSQL's: the types DataFusion
/// gives expressions. Each is checked to still differ.
const EXPRESSION_TYPES: &[(&str, &str)] = &[
    (
        "varchar(3) cast",
        "a cast to varchar(n) is text without a type modifier (DataFusion has no \
         varchar(n)); the value is the same",
    ),
    (
        "numeric(6,2) cast",
        "a cast to numeric(p,s) is described without its type modifier (393222 in \
         PostgreSQL); the value is the same",
    ),
    (
        "numeric cast",
        "a cast to numeric without precision and scale takes DataFusion's scale 10: \
         1.5000000000, where PostgreSQL keeps the literal's 1.50",
    ),
];

/// Field attributes of node-postgres' answers left out, with why.
const NODE_MASKED: &[(&str, &str, &str)] = &[
    ("information_schema.tables", "table", NO_SOURCE),
    ("information_schema.tables", "columnID", NO_SOURCE),
    ("information_schema.tables", "dataTypeModifier", YES_OR_NO),
    ("information_schema.columns", "table", NO_SOURCE),
    ("information_schema.columns", "columnID", NO_SOURCE),
    ("information_schema.columns", "dataTypeModifier", YES_OR_NO),
];

/// Why node-postgres' `tableID` and `columnID` of information_schema's columns differ.
const NO_SOURCE: &str =
    "Sluice names no source relation for information_schema's columns (tableID and columnID 0)";

/// Why a type modifier of information_schema's columns differs.
const YES_OR_NO: &str =
    "is_insertable_into and is_nullable are yes_or_no, varchar(3): Sluice sends no modifier";

/// psycopg2's answers (`tests/clients/psycopg2_describe.py`) for `dsn`.
fn psycopg2_describe(dsn: &str) -> serde_json::Map<String, Value> {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect(
        "SLUICE_CLIENT_PYTHON: a Python with SQLAlchemy 2, psycopg2 and pandas \
         (scripts/test.sh installs it with scripts/install-clients.sh)",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg2_describe.py"
    );
    json_answers(&python, &[script, dsn], &[])
}

/// psycopg2's `cursor.description` (type codes, sizes, precision and scale), the rows
/// as it converts them to Python values, and `rowcount`, for the relations' rows,
/// aggregates, literals of each type, client-side parameters and catalog queries,
/// equal PostgreSQL 15's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg2_description_and_values_answer_as_with_postgres() {
    let (sluice, postgres) = with_schema().await;
    let ours_dsn = format!(
        "host=127.0.0.1 port={} dbname=sluice user=tester",
        sluice.addr.port()
    );
    let theirs_dsn = format!(
        "host=127.0.0.1 port={} dbname=postgres user=postgres",
        postgres.port
    );
    let (ours, theirs) = tokio::task::spawn_blocking(move || {
        (psycopg2_describe(&ours_dsn), psycopg2_describe(&theirs_dsn))
    })
    .await
    .unwrap();
    assert_same_answers(&ours, &theirs, &[], PSYCOPG2_DIFFERENCES, &[]);
}

/// psycopg2 calls whose answers still differ: the expression types above, and
/// `information_schema.columns`, whose `is_nullable` (a yes_or_no, varchar(3)) has
/// `internal_size` 3 from PostgreSQL's type modifier, which Sluice does not send.
const PSYCOPG2_DIFFERENCES: &[(&str, &str)] = &[
    EXPRESSION_TYPES[0],
    EXPRESSION_TYPES[1],
    EXPRESSION_TYPES[2],
    ("information_schema.columns", YES_OR_NO),
];

/// psqlODBC's answers (`tests/clients/odbc_catalog.py`) for `port`.
fn odbc_catalog(port: u16, database: &str, user: &str) -> serde_json::Map<String, Value> {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect(
        "SLUICE_CLIENT_PYTHON: a Python with pyodbc (scripts/test.sh installs it with \
         scripts/install-clients.sh)",
    );
    let driver = std::env::var("SLUICE_PSQLODBC_DRIVER").expect(
        "SLUICE_PSQLODBC_DRIVER: psqlODBC's psqlodbcw.so (scripts/test.sh installs the \
         Debian packages odbc-postgresql and unixodbc)",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/odbc_catalog.py");
    json_answers(
        &python,
        &[script, &driver, &port.to_string(), database, user],
        &[],
    )
}

/// psqlODBC through unixODBC: `SQLTables`, `SQLColumns` and `SQLPrimaryKeys` give the
/// same result sets as against PostgreSQL 15, but for the table OIDs in
/// `SQLColumns` (each server numbers relations its own way: the cells are named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psqlodbc_catalog_functions_answer_as_with_postgres() {
    let (sluice, postgres) = with_schema().await;
    let relation_oids = |client: tokio_postgres::Client| async move {
        let messages = client
            .simple_query(
                "SELECT c.oid, c.relname FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public'",
            )
            .await
            .unwrap();
        messages
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                    r.get(0).unwrap_or_default().to_string(),
                    format!("<{}>", r.get(1).unwrap_or_default()),
                )),
                _ => None,
            })
            .collect::<std::collections::HashMap<String, String>>()
    };
    let ours_oids = relation_oids(sluice.client().await).await;
    let theirs_oids = relation_oids(postgres.client().await).await;
    let (ours_port, theirs_port) = (sluice.addr.port(), postgres.port);
    // The same database name on both: psqlODBC's TABLE_CAT is it (Sluice takes any).
    let (mut ours, mut theirs) = tokio::task::spawn_blocking(move || {
        (
            odbc_catalog(ours_port, "postgres", "tester"),
            odbc_catalog(theirs_port, "postgres", "postgres"),
        )
    })
    .await
    .unwrap();
    for (answers, oids) in [(&mut ours, &ours_oids), (&mut theirs, &theirs_oids)] {
        for answer in answers.values_mut() {
            let Some(Value::Array(rows)) = answer.get_mut("rows") else {
                continue;
            };
            for cell in rows.iter_mut().flat_map(|row| match row {
                Value::Array(cells) => cells.iter_mut(),
                _ => [].iter_mut(),
            }) {
                if let Some(name) = cell.as_str().and_then(|c| oids.get(c)) {
                    *cell = Value::String(name.clone());
                }
            }
        }
    }
    assert_same_answers(&ours, &theirs, ODBC_KNOWN_FAILURES, &[], &[]);
}

/// psqlODBC calls that still fail on Sluice, with words of the error.
const ODBC_KNOWN_FAILURES: &[(&str, &str)] = &[];

/// What `tests/clients/sqlalchemy_orm.py` saw through `url`.
fn orm_session(url: &str) -> Value {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect("SLUICE_CLIENT_PYTHON");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/sqlalchemy_orm.py"
    );
    let output = Command::new(python)
        .args([script, url])
        .output()
        .expect("run the SQLAlchemy ORM script");
    assert!(
        output.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// SQLAlchemy's ORM writes and reads back as with PostgreSQL, through psycopg2 and
/// psycopg 3 (whose type lookups at connection open run inside a savepoint):
/// server defaults come back through INSERT ... RETURNING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlalchemy_orm_sessions_write_as_with_postgres() {
    const TABLE: &str = "CREATE TABLE orm_people (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
                         team TEXT DEFAULT 'none')";
    for driver in ["psycopg2", "psycopg"] {
        let sluice = TestServer::start().await;
        sluice.client().await.batch_execute(TABLE).await.unwrap();
        let postgres = Postgres::start();
        postgres.client().await.batch_execute(TABLE).await.unwrap();
        let ours = format!(
            "postgresql+{driver}://tester@127.0.0.1:{}/sluice",
            sluice.addr.port()
        );
        let theirs = format!(
            "postgresql+{driver}://postgres@127.0.0.1:{}/postgres",
            postgres.port
        );
        let (ours, theirs) =
            tokio::task::spawn_blocking(move || (orm_session(&ours), orm_session(&theirs)))
                .await
                .unwrap();
        assert_eq!(ours, theirs, "{driver}");
        assert_eq!(theirs["defaults after flush"][0][1], "none", "{theirs}");
    }
}
