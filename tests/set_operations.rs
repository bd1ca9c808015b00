//! `INTERSECT` and `EXCEPT`, with and without `ALL`, compared with PostgreSQL 15 — in
//! queries (DataFusion kept every left copy of a matching row for `INTERSECT ALL` and
//! dropped all of them for `EXCEPT ALL`) and in materialized views after changes;
//! and a view whose columns share a name, refused as PostgreSQL refuses it.

mod common;

use common::{Both, assert_same_rows, sqlstate};

const SCHEMA: &str = "
CREATE TABLE l (x INT, y TEXT);
CREATE TABLE r (x INT, y TEXT);
INSERT INTO l VALUES (1, 'a'), (1, 'a'), (1, 'a'), (2, NULL), (2, NULL), (3, 'c'), (NULL, NULL);
INSERT INTO r VALUES (1, 'a'), (2, NULL), (4, 'd'), (NULL, NULL), (NULL, NULL);
";

const QUERIES: &[&str] = &[
    "SELECT x, y FROM l INTERSECT ALL SELECT x, y FROM r",
    "SELECT x, y FROM l EXCEPT ALL SELECT x, y FROM r",
    "SELECT x, y FROM r EXCEPT ALL SELECT x, y FROM l",
    "SELECT x, y FROM l INTERSECT SELECT x, y FROM r",
    "SELECT x, y FROM l EXCEPT SELECT x, y FROM r",
    "SELECT x FROM l INTERSECT ALL SELECT x FROM l",
    "SELECT x FROM l EXCEPT ALL SELECT x FROM r EXCEPT ALL SELECT x FROM r",
    "(SELECT y FROM l EXCEPT ALL SELECT y FROM r) INTERSECT ALL SELECT y FROM l",
    "SELECT x, count(*) FROM (SELECT x, y FROM l EXCEPT ALL SELECT x, y FROM r) d GROUP BY x",
    "WITH both_sides AS (SELECT x FROM l INTERSECT ALL SELECT x FROM r) \
     SELECT count(*) FROM both_sides",
    "SELECT x FROM l WHERE x IN (SELECT x FROM l EXCEPT ALL SELECT x FROM r)",
];

/// Changes after which the views must still equal PostgreSQL's answers.
const CHANGES: &[&str] = &[
    "INSERT INTO r VALUES (1, 'a'), (1, 'a'), (3, 'c')",
    "DELETE FROM l WHERE x = 2",
    "INSERT INTO l VALUES (2, NULL), (4, 'd'), (4, 'd')",
    "UPDATE r SET y = NULL WHERE x = 4",
    "DELETE FROM r WHERE x IS NULL",
    "INSERT INTO r VALUES (NULL, NULL), (2, NULL), (2, NULL)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_operations_answer_as_postgres_in_queries_and_views() {
    let both = Both::start(SCHEMA).await;
    let (ours, theirs) = (&both.ours, &both.theirs);
    assert_same_rows(ours, theirs, QUERIES).await;

    // The same queries as views (PostgreSQL: plain views), after every change.
    let view_queries: Vec<String> = (0..QUERIES.len())
        .map(|i| format!("SELECT * FROM v{i}"))
        .collect();
    for (i, query) in QUERIES.iter().enumerate() {
        ours.batch_execute(&format!("CREATE MATERIALIZED VIEW v{i} AS {query}"))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e:?}"));
        theirs
            .batch_execute(&format!("CREATE VIEW v{i} AS {query}"))
            .await
            .unwrap();
    }
    let view_queries: Vec<&str> = view_queries.iter().map(String::as_str).collect();
    for change in CHANGES {
        ours.batch_execute(&format!("{change}; FLUSH"))
            .await
            .unwrap();
        theirs.batch_execute(change).await.unwrap();
        assert_same_rows(ours, theirs, &view_queries).await;
        assert_same_rows(ours, theirs, QUERIES).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_columns_sharing_a_name_are_refused() {
    let both = Both::start(SCHEMA).await;
    let sql = "CREATE MATERIALIZED VIEW both_x AS SELECT * FROM l JOIN r ON l.x = r.x";
    for client in [&both.ours, &both.theirs] {
        let error = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&error), "42701");
        assert_eq!(
            error.as_db_error().map(|e| e.message()),
            Some("column \"x\" specified more than once")
        );
    }
}
