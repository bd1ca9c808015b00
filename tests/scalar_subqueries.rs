//! Scalar subqueries in queries, compared with PostgreSQL 15 (issue 15: metadata
//! queries use them; before, one in a select list silently read NULL): no row gives
//! NULL, one row its value, more than one row fails with `21000`, correlated or not;
//! conditions on the outer row alone and outer columns equal to the subquery's own
//! are handled (psql's `\d` writes both).

mod common;

use common::{Both, TestServer, assert_same_rows, sqlstate};

const SCHEMA: &str = "
CREATE TABLE a (k INT, x INT, flag BOOLEAN, name TEXT);
CREATE TABLE b (k INT, y INT, name TEXT);
INSERT INTO a VALUES (1, 10, true, 'one'), (2, 20, false, 'two'), (3, 30, true, 'three'),
    (4, NULL, NULL, NULL);
INSERT INTO b VALUES (1, 100, 'one'), (2, 200, 'deux'), (2, 201, 'two'), (3, NULL, NULL);
";

/// Queries both answer, with the same rows.
const ANSWERED: &[&str] = &[
    // One row or none per outer row.
    "SELECT a.k, (SELECT b.y FROM b WHERE b.k = a.k AND b.name = a.name) FROM a",
    "SELECT k, (SELECT y FROM b WHERE b.k = a.k AND b.y < 201) AS y FROM a",
    // Aggregates, directly in the select list and inside expressions.
    "SELECT k, (SELECT max(y) FROM b WHERE b.k = a.k) AS top FROM a",
    "SELECT k, (SELECT count(*) FROM b WHERE b.k = a.k) AS n FROM a",
    "SELECT k, x + (SELECT min(y) FROM b WHERE b.k = a.k) AS s FROM a",
    // A condition on the outer row alone (as psql's `\\d` reads defaults).
    "SELECT k, (SELECT b.y FROM b WHERE b.k = a.k AND a.flag AND b.y <> 201) FROM a",
    // An outer column equal to an inner one, used again in another condition.
    "SELECT k, (SELECT b.y FROM b WHERE b.k = a.k AND a.k * 100 = b.y) FROM a",
    "SELECT k, (SELECT b2.y FROM b b1, b b2 WHERE b1.k = a.k AND b2.y = b1.y + 1 \
     AND a.k * 100 < b1.y) FROM a",
    // Uncorrelated, one row; and in WHERE.
    "SELECT k, (SELECT y FROM b WHERE b.k = 1) AS one FROM a",
    "SELECT k FROM a WHERE x * 10 <= (SELECT y FROM b WHERE b.k = a.k AND b.y < 201)",
    "SELECT k FROM a WHERE x < (SELECT avg(x) FROM a)",
    // No row at all.
    "SELECT k, (SELECT y FROM b WHERE b.k = 99) AS none FROM a",
    // ARRAY(subquery): every row's value, in order; {} for none.
    "SELECT k, ARRAY(SELECT y FROM b WHERE b.k = a.k ORDER BY y DESC) AS ys FROM a",
    "SELECT k, ARRAY(SELECT b.name FROM b WHERE b.k = a.k AND b.y > 150 ORDER BY 1) FROM a",
    "SELECT array_to_string(ARRAY(SELECT name FROM b WHERE name IS NOT NULL ORDER BY name), ', ')",
    "SELECT ARRAY(SELECT y FROM b WHERE y > 1000)",
];

/// Queries both refuse: more than one row for some outer row.
const TOO_MANY_ROWS: &[&str] = &[
    "SELECT k, (SELECT y FROM b WHERE b.k = a.k) FROM a",
    "SELECT k, (SELECT y FROM b) FROM a",
    "SELECT (SELECT k FROM b GROUP BY k)",
    "SELECT k FROM a WHERE x < (SELECT y FROM b WHERE b.k = a.k)",
];

/// Queries PostgreSQL answers and Sluice refuses (0A000): a correlated condition that
/// is not an equality, a correlated subquery with LIMIT.
const REFUSED: &[&str] = &[
    "SELECT k, (SELECT max(b.y) FROM b WHERE b.k = a.k AND a.x * 10 < b.y) FROM a",
    "SELECT k, (SELECT y FROM b WHERE b.k = a.k ORDER BY y LIMIT 1) FROM a",
    "SELECT ARRAY(SELECT k FROM b GROUP BY k)",
    "SELECT ARRAY(SELECT DISTINCT k FROM b)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_subqueries_answer_as_postgres() {
    let both = Both::start(SCHEMA).await;
    let (ours, theirs) = (&both.ours, &both.theirs);
    assert_same_rows(ours, theirs, ANSWERED).await;
    for query in TOO_MANY_ROWS {
        let expected = theirs.simple_query(query).await.unwrap_err();
        assert_eq!(sqlstate(&expected), "21000", "PostgreSQL: {query}");
        let error = ours
            .simple_query(query)
            .await
            .expect_err(&format!("Sluice answered {query}"));
        assert_eq!(sqlstate(&error), "21000", "{query}: {error:?}");
        let message = error.as_db_error().map(|e| e.message().to_string());
        assert_eq!(
            message.as_deref(),
            Some("more than one row returned by a subquery used as an expression"),
            "{query}"
        );
    }
    for query in REFUSED {
        theirs.simple_query(query).await.unwrap();
        let error = ours.simple_query(query).await.unwrap_err();
        assert_eq!(sqlstate(&error), "0A000", "{query}: {error:?}");
    }
}

/// A correlated subquery that is not an aggregate cannot be maintained in a view yet:
/// refused with 0A000 and a sentence, never a view of NULLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_refuse_what_they_cannot_maintain() {
    let sluice = TestServer::start().await;
    let client = sluice.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    for view in [
        "CREATE MATERIALIZED VIEW v1 AS SELECT k, (SELECT y FROM b WHERE b.k = a.k) AS y FROM a",
        // Uncorrelated, but it may give no row or several.
        "CREATE MATERIALIZED VIEW v2 AS SELECT k FROM a WHERE x < (SELECT x FROM a LIMIT 1)",
    ] {
        let error = client.batch_execute(view).await.unwrap_err();
        assert_eq!(sqlstate(&error), "0A000", "{view}: {error:?}");
    }
}
