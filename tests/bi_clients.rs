//! SQLAlchemy 2's inspector and pandas against Sluice and PostgreSQL 15 holding the
//! same schema (issue 15): `tests/clients/sqlalchemy_inspect.py` records each call's
//! answer (schema, table, view and materialized view names, columns, primary keys,
//! unique constraints, indexes, foreign keys, check constraints, comments, the view's
//! definition, `read_sql` and `read_sql_table`) as JSON, and the two answers must be
//! equal call by call, but for the documented differences below.

mod common;

use std::process::Command;

use common::TestServer;
use common::postgres::Postgres;
use serde_json::Value;

/// A table with a primary key, a NOT NULL column and DEFAULT columns, a second table
/// with a key of two columns, rows, and a materialized view (Sluice has no plain
/// views). The view's query is written as PostgreSQL prints it back (qualified
/// columns), as Sluice prints the query as written.
const SCHEMA: &str = "
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, code VARCHAR(12),
    amount NUMERIC(10,2), placed TIMESTAMPTZ, day DATE, ratio DOUBLE PRECISION,
    qty INT DEFAULT 1, note TEXT DEFAULT 'none', tags TEXT[]);
CREATE TABLE lines (order_id BIGINT, line INT, sku TEXT, PRIMARY KEY (order_id, line));
INSERT INTO orders VALUES (1, 'ann', 'A1', 10.50, '2024-01-02 03:04:05+00', '2024-01-02',
    0.5, 2, 'x', ARRAY['a','b']);
INSERT INTO orders (id, customer) VALUES (2, 'bob');
INSERT INTO lines VALUES (1, 1, 's1'), (1, 2, 's2');
CREATE MATERIALIZED VIEW spend AS
    SELECT orders.customer, count(*) AS n FROM orders GROUP BY orders.customer;
";

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
    let sluice = TestServer::start().await;
    sluice.client().await.batch_execute(SCHEMA).await.unwrap();
    let postgres = Postgres::start();
    postgres.client().await.batch_execute(SCHEMA).await.unwrap();

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
