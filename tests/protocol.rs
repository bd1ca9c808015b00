//! Extended-protocol behaviour, session statements and SQLSTATE codes.

mod common;

use common::{TestServer, sqlstate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_insert_update_delete_select() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, qty INT DEFAULT 1)",
        )
        .await
        .unwrap();
    let inserted = client
        .execute(
            "INSERT INTO items (id, name) VALUES (1, 'apple'), (2, 'pear'), (3, 'fig')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 3);
    let updated = client
        .execute(
            "UPDATE items SET qty = qty + 10, name = upper(name) WHERE id >= $1",
            &[&2i64],
        )
        .await
        .unwrap();
    assert_eq!(updated, 2);
    let deleted = client
        .execute("DELETE FROM items WHERE name = 'FIG'", &[])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let rows = client
        .query("SELECT id, name, qty FROM items ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, String, i32)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, vec![(1, "apple".into(), 1), (2, "PEAR".into(), 11)]);

    // INSERT ... SELECT from the same table sees the table before the insert.
    let copied = client
        .execute(
            "INSERT INTO items SELECT id + 100, name, qty FROM items",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(copied, 2);
    let count: i64 = client
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_run_many_times_with_named_and_unnamed_forms() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v DOUBLE PRECISION)")
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO kv VALUES ($1, $2)")
        .await
        .unwrap();
    assert_eq!(
        insert.params(),
        &[postgres_types::Type::TEXT, postgres_types::Type::FLOAT8]
    );
    for i in 0..20 {
        client
            .execute(&insert, &[&format!("k{i}"), &(i as f64 / 2.0)])
            .await
            .unwrap();
    }
    let select = client
        .prepare("SELECT v FROM kv WHERE k = $1")
        .await
        .unwrap();
    for i in [0, 7, 19] {
        let v: f64 = client
            .query_one(&select, &[&format!("k{i}")])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, i as f64 / 2.0);
    }
    // A parameter cast where it stands takes the cast's type, as in PostgreSQL, so
    // drivers send it as such.
    let cast = client
        .prepare("SELECT $1::bigint + 1, abs(CAST($2 AS int)), $3::text || 'x'")
        .await
        .unwrap();
    assert_eq!(
        cast.params(),
        &[
            postgres_types::Type::INT8,
            postgres_types::Type::INT4,
            postgres_types::Type::TEXT
        ]
    );
    let row = client
        .query_one(&cast, &[&41i64, &-7i32, &"a"])
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i32>(1),
            row.get::<_, String>(2)
        ),
        (42, 7, "ax".to_string())
    );
    // A typed prepare (the client chooses the parameter type).
    let typed = client
        .prepare_typed(
            "SELECT count(*) FROM kv WHERE v > $1",
            &[postgres_types::Type::FLOAT8],
        )
        .await
        .unwrap();
    let n: i64 = client.query_one(&typed, &[&5.0f64]).await.unwrap().get(0);
    assert_eq!(n, 9);
    // Portals fetched in pieces (max_rows) through a transaction-scoped cursor.
    let rows = client
        .query("SELECT k FROM kv ORDER BY k", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_an_extended_batch_leaves_the_connection_usable() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("CREATE TABLE t (a INT)")
        .await
        .unwrap();
    // Fails at Parse (unknown column), at Execute (bad cast), and at Bind-time typing.
    let err = client.query("SELECT nope FROM t", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42703");
    let err = client
        .query("SELECT CAST('abc' AS INT)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22P02");
    let err = client
        .execute("INSERT INTO t VALUES ($1)", &[&"not a number"])
        .await
        .unwrap_err();
    assert!(!sqlstate(&err).is_empty());
    // After Sync the connection answers again.
    client
        .execute("INSERT INTO t VALUES ($1)", &[&5i32])
        .await
        .unwrap();
    let a: i32 = client
        .query_one("SELECT a FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(a, 5);

    // Pipelined: the failing statement does not poison the ones after its Sync.
    let good = client.prepare("SELECT a + 1 FROM t").await.unwrap();
    let (bad, ok) = tokio::join!(
        client.query("SELECT 1 / 0", &[]),
        client.query_one(&good, &[])
    );
    assert_eq!(sqlstate(&bad.unwrap_err()), "22012");
    // `a` is an INT and 1 an INTEGER literal, so a + 1 is an INT, as in PostgreSQL.
    assert_eq!(ok.unwrap().get::<_, i32>(0), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_postgres_sqlstates_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL)")
        .await
        .unwrap();
    client
        .batch_execute("INSERT INTO t VALUES (1, 'one')")
        .await
        .unwrap();
    let cases = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM missing", "42P01"),
        ("SELECT missing FROM t", "42703"),
        ("SELECT 'abc'::int", "22P02"),
        ("SELECT 1 / 0", "22012"),
        ("SELECT true + 1", "42883"),
        ("SELECT no_such_function(1)", "42883"),
        ("INSERT INTO t VALUES (1, 'again')", "23505"),
        ("INSERT INTO t VALUES (2, NULL)", "23502"),
        ("CREATE TABLE t (x INT)", "42P07"),
        ("DROP TABLE missing", "42P01"),
        ("CREATE TABLE u (x UUID)", "0A000"),
        ("SHOW no_such_setting", "42704"),
        ("GRANT SELECT ON t TO someone", "42704"),
        ("BEGIN; ROLLBACK TO SAVEPOINT before_insert", "3B001"),
        ("INSERT INTO t (id, name) VALUES (3)", "42601"),
    ];
    for (sql, code) in cases {
        let err = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
    }
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "failed statements changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_statements_and_version() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let version: String = client
        .query_one("SELECT version()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("PostgreSQL 15."), "{version}");
    assert!(version.contains("Sluice"), "{version}");
    let rows = client.simple_query("SHOW server_version").await.unwrap();
    let shown = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(shown.as_deref(), Some("15.6"));
    client
        .batch_execute("SET application_name = 'sluice-test'")
        .await
        .unwrap();
    let app: String = client
        .query_one("SHOW application_name", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(app, "sluice-test");
    let iso: String = client
        .query_one("SHOW TRANSACTION ISOLATION LEVEL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(iso, "read committed");
    client
        .batch_execute("BEGIN; CREATE TABLE t (a INT); COMMIT; ROLLBACK")
        .await
        .unwrap();
    let mut client = client;
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let tables = client.query("SHOW TABLES", &[]).await.unwrap();
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].get::<_, &str>(0), "t");
    let columns = client.query("SHOW COLUMNS FROM t", &[]).await.unwrap();
    assert_eq!(columns[0].get::<_, &str>("type"), "integer");
    let described = client.query("DESCRIBE t", &[]).await.unwrap();
    assert_eq!(described.len(), 1);
    let explain = client
        .query("EXPLAIN SELECT a FROM t WHERE a > 0", &[])
        .await
        .unwrap();
    assert!(!explain.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_dropped_connections_do_not_affect_other_clients() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("CREATE TABLE t (a INT)")
        .await
        .unwrap();
    for _ in 0..5 {
        let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        raw.write_all(b"\x00\x00\x00\x08garbage-bytes-that-are-not-postgres")
            .await
            .unwrap();
        drop(raw);
        let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        raw.write_all(&[0, 0, 0, 40, 0, 3, 0, 0]).await.unwrap();
        drop(raw);
    }
    // A client that disconnects in the middle of a query.
    let quitter = server.client().await;
    let pending = tokio::spawn(async move {
        let _ = quitter
            .query("SELECT count(*) FROM generate_series(1, 3000000)", &[])
            .await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    pending.abort();
    client
        .execute("INSERT INTO t VALUES (1)", &[])
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
