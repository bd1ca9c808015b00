//! pgjdbc's `DatabaseMetaData` and `ResultSetMetaData` against Sluice and PostgreSQL
//! 15 holding the same schema (issue 15): `tests/clients/Metadata.java` prints each
//! call's result set (`getTables`, `getColumns`, `getPrimaryKeys`, `getIndexInfo`,
//! `getImportedKeys`, `getExportedKeys`, `getTypeInfo`, and the `ResultSetMetaData` of
//! `SELECT *` from a table and a materialized view) as text, and the two must be
//! equal call by call, but for the documented differences below.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::TestServer;
use common::postgres::Postgres;

/// A table with a primary key, `NUMERIC(p,s)`, text and timestamp columns, a NOT NULL
/// column and a DEFAULT, and a materialized view over it.
const SCHEMA: &str = "
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(10,2),
    placed TIMESTAMP, note TEXT DEFAULT 'none');
INSERT INTO orders VALUES (1, 'ann', 10.50, '2024-01-02 03:04:05', 'x');
CREATE MATERIALIZED VIEW spend AS
    SELECT orders.customer, count(*) AS n FROM orders GROUP BY orders.customer;
";

/// `getTypeInfo` rows PostgreSQL has and Sluice not: the array types of the row types
/// PostgreSQL makes for every table and view (Sluice has no row types).
const TYPES_ONLY_IN_POSTGRES: &[&str] = &["_orders", "_spend"];

/// `getTypeInfo` rows Sluice has and PostgreSQL 15 not: the `pg_catalog` crate's
/// `pg_type` comes from a later PostgreSQL, with these system views' row types.
const TYPES_ONLY_IN_SLUICE: &[&str] = &["_pg_stat_checkpointer", "_pg_stat_io", "_pg_wait_events"];

/// `getIndexInfo` columns that are planner statistics (`reltuples`, `relpages` of the
/// index): PostgreSQL's depend on when VACUUM or ANALYZE last ran; Sluice keeps none
/// and answers as PostgreSQL does for a relation never analyzed.
const INDEX_STATISTICS: &[&str] = &["CARDINALITY", "PAGES"];

/// Runs the Java program against `url`; its sections by call.
fn metadata(url: &str, user: &str) -> BTreeMap<String, Vec<String>> {
    let jar = std::env::var("SLUICE_PGJDBC_JAR").expect(
        "SLUICE_PGJDBC_JAR: pgjdbc's jar (scripts/test.sh installs the Debian package \
         libpostgresql-jdbc-java)",
    );
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/Metadata.java");
    let output = Command::new("java")
        .arg("-cp")
        .arg(jar)
        .arg(program)
        .args([url, user, ""])
        .output()
        .expect("java runs");
    assert!(
        output.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(name) = line.strip_prefix("== ") {
            if let Some((name, lines)) = current.take() {
                sections.insert(name, lines);
            }
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    if let Some((name, lines)) = current {
        sections.insert(name, lines);
    }
    sections
}

/// `lines` (a header, then rows) with the cells of `columns` replaced by `*`.
fn masked(lines: &[String], columns: &[&str]) -> Vec<String> {
    let Some(header) = lines.first() else {
        return Vec::new();
    };
    let hidden: Vec<usize> = header
        .split('\t')
        .enumerate()
        .filter(|(_, name)| columns.contains(name))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hidden.len(),
        columns.len(),
        "columns {columns:?} in {header}"
    );
    lines
        .iter()
        .enumerate()
        .map(|(n, line)| {
            if n == 0 {
                return line.clone();
            }
            line.split('\t')
                .enumerate()
                .map(|(i, cell)| if hidden.contains(&i) { "*" } else { cell })
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect()
}

/// `lines` without the rows whose first cell is one of `names`, each checked to be
/// there.
fn without_rows(lines: &[String], names: &[&str]) -> Vec<String> {
    for name in names {
        assert!(
            lines
                .iter()
                .any(|line| line.split('\t').next() == Some(*name)),
            "no row {name} any more: take it off the list of known differences"
        );
    }
    lines
        .iter()
        .filter(|line| !names.contains(&line.split('\t').next().unwrap_or_default()))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_metadata_answers_as_with_postgres() {
    let sluice = TestServer::start().await;
    sluice.client().await.batch_execute(SCHEMA).await.unwrap();
    let postgres = Postgres::start();
    postgres.client().await.batch_execute(SCHEMA).await.unwrap();

    let ours_url = format!("jdbc:postgresql://127.0.0.1:{}/sluice", sluice.addr.port());
    let theirs_url = format!("jdbc:postgresql://127.0.0.1:{}/postgres", postgres.port);
    let (ours, theirs) = tokio::task::spawn_blocking(move || {
        (
            metadata(&ours_url, "tester"),
            metadata(&theirs_url, "postgres"),
        )
    })
    .await
    .unwrap();

    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (call, postgres) in &theirs {
        let mine = &ours[call];
        assert!(
            !postgres.is_empty() && !postgres[0].starts_with("ERROR"),
            "PostgreSQL failed {call}: {postgres:?}"
        );
        let (mine, postgres) = match call.as_str() {
            "getIndexInfo orders" => (
                masked(mine, INDEX_STATISTICS),
                masked(postgres, INDEX_STATISTICS),
            ),
            "getTypeInfo" => (
                without_rows(mine, TYPES_ONLY_IN_SLUICE),
                without_rows(postgres, TYPES_ONLY_IN_POSTGRES),
            ),
            _ => (mine.clone(), postgres.clone()),
        };
        assert_eq!(
            mine.join("\n"),
            postgres.join("\n"),
            "{call}: Sluice's answer, then PostgreSQL's"
        );
    }
}
