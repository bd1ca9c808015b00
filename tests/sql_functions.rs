//! SQL-language functions (`CREATE FUNCTION … LANGUAGE sql`), compared with
//! PostgreSQL 15: the same definitions run on both sides, and calls in queries and
//! materialized views give the same rows; errors carry PostgreSQL's SQLSTATEs; the
//! functions survive a restart.

mod common;

use common::{Both, TestServer, assert_same_rows, connect, sqlstate};
use tokio_postgres::Client;

const SCHEMA: &str = "
    CREATE TABLE t (id INT PRIMARY KEY, a INT, b BIGINT, s VARCHAR, x DOUBLE PRECISION);
    INSERT INTO t VALUES (1, 1, 10, 'abcabc', 1.5), (2, NULL, 20, NULL, NULL),
        (3, -7, NULL, 'ccc', 2.25), (4, 40, 5000000000, '', -0.5), (5, 5, 0, 'xyz', 0);
    CREATE FUNCTION count_char(s varchar, c varchar) RETURNS int
      LANGUAGE sql IMMUTABLE AS $$ SELECT (length(s) - length(replace(s, c, ''))) / length(c) $$;
    CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x + 1;
    CREATE FUNCTION half(v double precision) RETURNS numeric LANGUAGE sql IMMUTABLE
      AS 'SELECT $1 / 2';
    CREATE FUNCTION label(n bigint, s text) RETURNS text LANGUAGE sql IMMUTABLE
      RETURN s || ':' || n;
    CREATE FUNCTION twice(x int) RETURNS bigint LANGUAGE sql IMMUTABLE RETURN add_one(x) * 2;
    CREATE FUNCTION or_zero(x int) RETURNS int LANGUAGE sql IMMUTABLE STRICT RETURN coalesce(x, 0);
    CREATE FUNCTION to_int(v double precision) RETURNS int LANGUAGE sql IMMUTABLE
      RETURN floor(v);
    CREATE FUNCTION noisy(x int) RETURNS int LANGUAGE sql VOLATILE RETURN x;
";

async fn code_of(client: &Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => "ok".to_string(),
        Err(e) => sqlstate(&e),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_equal_postgres() {
    let both = Both::start(SCHEMA).await;
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &[
            "SELECT id, count_char(s, 'c'), count_char(s, 'bc'), add_one(a) FROM t",
            "SELECT id, add_one(add_one(a)) AS two, twice(a), or_zero(a), to_int(x) FROM t",
            "SELECT id, half(x), label(b, s), label(id, 'id') FROM t",
            "SELECT count_char(NULL, 'c'), add_one(NULL), or_zero(NULL), add_one('41')",
            "SELECT id FROM t WHERE add_one(a) > 2 AND count_char(s, 'c') >= 1",
            "SELECT add_one(id) AS k, count(*) FROM t GROUP BY add_one(id)",
            "SELECT add_one(CAST(b AS INT)) FROM t WHERE b < 100",
            "SELECT count_char(s::text, 'c') FROM t",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_equal_postgres_and_follow_changes() {
    let both = Both::start(SCHEMA).await;
    let view = "CREATE MATERIALIZED VIEW v AS SELECT id, add_one(a) AS a1, \
                count_char(s, 'c') AS cs, label(b, s) AS l FROM t WHERE to_int(x) >= 0";
    let grouped = "CREATE MATERIALIZED VIEW g AS SELECT count_char(s, 'c') AS cs, \
                   sum(twice(a)) AS total FROM t GROUP BY 1";
    for client in [&both.ours, &both.theirs] {
        client.batch_execute(view).await.unwrap();
        client.batch_execute(grouped).await.unwrap();
    }
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &["SELECT * FROM v", "SELECT * FROM g"],
    )
    .await;
    let changes = "INSERT INTO t VALUES (6, 6, 6, 'cocoa', 3); \
                   UPDATE t SET s = 'cc' WHERE id = 5; DELETE FROM t WHERE id = 1;";
    both.ours.batch_execute(changes).await.unwrap();
    both.ours.batch_execute("FLUSH").await.unwrap();
    both.theirs.batch_execute(changes).await.unwrap();
    both.theirs
        .batch_execute("REFRESH MATERIALIZED VIEW v; REFRESH MATERIALIZED VIEW g")
        .await
        .unwrap();
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &["SELECT * FROM v", "SELECT * FROM g"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_postgres_codes() {
    let both = Both::start(SCHEMA).await;
    // The same code on both sides.
    for sql in [
        "SELECT add_one(1, 2)",
        "SELECT add_one()",
        "SELECT add_one(2.5)",
        "SELECT add_one(true)",
        "SELECT count_char(1, 'c')",
        "SELECT no_such_function(1)",
        "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x + 2",
        "CREATE FUNCTION bad(x int) RETURNS int LANGUAGE sql AS $$ SELECT nosuch + x $$",
        "DROP FUNCTION nosuch",
        "DROP FUNCTION add_one(text)",
        "DROP FUNCTION IF EXISTS nosuch",
    ] {
        assert_eq!(
            code_of(&both.ours, sql).await,
            code_of(&both.theirs, sql).await,
            "{sql}"
        );
    }
    // What Sluice does not support: 0A000 with what it does.
    for sql in [
        "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT a FROM t $$",
        "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT 1; SELECT 2 $$",
        "CREATE FUNCTION f(x int) RETURNS SETOF int LANGUAGE sql AS $$ SELECT x $$",
        "CREATE FUNCTION f(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x; END $$",
        "CREATE MATERIALIZED VIEW nv AS SELECT noisy(a) FROM t",
        // Recursion, through another function.
        "CREATE OR REPLACE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE \
         RETURN twice(x)",
    ] {
        let err = both.ours.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "0A000", "{sql}: {err:?}");
    }
    // A function a view uses is dropped only with CASCADE, which drops the view.
    both.ours
        .batch_execute("CREATE MATERIALIZED VIEW uses AS SELECT add_one(a) FROM t")
        .await
        .unwrap();
    assert_eq!(
        code_of(&both.ours, "DROP FUNCTION twice, add_one").await,
        "2BP01"
    );
    both.ours
        .batch_execute("DROP FUNCTION twice; DROP FUNCTION add_one(int) CASCADE")
        .await
        .unwrap();
    assert_eq!(code_of(&both.ours, "SELECT * FROM uses").await, "42P01");
    assert_eq!(code_of(&both.ours, "SELECT add_one(1)").await, "42883");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_function_rebuilds_its_views() {
    let both = Both::start(SCHEMA).await;
    both.ours
        .batch_execute("CREATE MATERIALIZED VIEW v AS SELECT id, twice(a) AS t2 FROM t")
        .await
        .unwrap();
    let replace = "CREATE OR REPLACE FUNCTION add_one(x int) RETURNS int LANGUAGE sql \
                   IMMUTABLE RETURN x + 100";
    both.ours.batch_execute(replace).await.unwrap();
    both.theirs.batch_execute(replace).await.unwrap();
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &["SELECT id, twice(a) AS t2 FROM t", "SELECT add_one(1)"],
    )
    .await;
    let rows = common::sorted_rows(&both.ours, "SELECT * FROM v").await;
    let theirs = common::sorted_rows(&both.theirs, "SELECT id, twice(a) AS t2 FROM t").await;
    assert_eq!(rows, theirs);
    // The return type cannot change (PostgreSQL's 42P13).
    let retype = "CREATE OR REPLACE FUNCTION add_one(x int) RETURNS bigint LANGUAGE sql \
                  IMMUTABLE RETURN x";
    assert_eq!(code_of(&both.ours, retype).await, "42P13");
    assert_eq!(code_of(&both.theirs, retype).await, "42P13");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_and_their_views_survive_a_restart() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW v AS SELECT id, count_char(s, 'c') AS cs, twice(a) AS t2 FROM t;
             CREATE FUNCTION triple(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN 3 * x;
             -- Calls a function created after the view that calls add_one.
             CREATE OR REPLACE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE
               RETURN triple(x) + 1000;
             CREATE FUNCTION gone(x int) RETURNS int LANGUAGE sql RETURN x;
             DROP FUNCTION gone;",
        )
        .await
        .unwrap();
    let before = common::sorted_rows(&client, "SELECT * FROM v").await;
    drop(client);
    let dir = server.stop();
    let client = connect(common::restart(dir.path()).await).await;
    assert_eq!(
        common::sorted_rows(&client, "SELECT * FROM v").await,
        before
    );
    assert_eq!(
        common::sorted_rows(&client, "SELECT add_one(1), count_char('cc', 'c')").await,
        vec![vec!["1003".to_string(), "2".to_string()]]
    );
    assert_eq!(code_of(&client, "SELECT gone(1)").await, "42883");
    client
        .batch_execute("INSERT INTO t VALUES (7, 7, 7, 'c', 7); FLUSH")
        .await
        .unwrap();
    assert_eq!(
        common::sorted_rows(&client, "SELECT cs, t2 FROM v WHERE id = 7").await,
        vec![vec!["1".to_string(), "2042".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_are_listed_in_pg_proc() {
    let both = Both::start(SCHEMA).await;
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &[
            "SELECT proname, prolang, provolatile, proisstrict, pronargs, prorettype \
             FROM pg_catalog.pg_proc WHERE pronamespace = 2200",
            // What psql's \df shows.
            "SELECT p.proname, pg_catalog.pg_get_function_result(p.oid), \
             pg_catalog.pg_get_function_arguments(p.oid) FROM pg_catalog.pg_proc p \
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE pg_catalog.pg_function_is_visible(p.oid) AND n.nspname = 'public'",
        ],
    )
    .await;
}
