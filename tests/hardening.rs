//! Hostile and careless clients: statements nested far too deeply, malformed and
//! absurd protocol messages, silent connections. Each must get a SQLSTATE (or be
//! disconnected), and the server must keep answering everyone else.

mod common;

use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::wire::{Wire, command_tag, count, error_code};
use common::{ServerProcess, TestServer, sqlstate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::Client;

async fn answers_select_1(client: &Client) {
    let started = Instant::now();
    let one: i64 = client
        .query_one("SELECT CAST(1 AS BIGINT)", &[])
        .await
        .expect("SELECT 1 after the hostile input")
        .get(0);
    assert_eq!(one, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_nested_too_deeply_are_refused_and_the_server_survives() {
    // The real binary: a stack overflow would abort the whole process.
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let client = common::connect(server.addr).await;
    let chain = |head: &str, term: &str, n: usize| format!("{head}{}", term.repeat(n));
    let mut ctes = String::from("WITH c0 AS (SELECT 1 AS x)");
    for i in 1..1_000 {
        ctes.push_str(&format!(", c{i} AS (SELECT x + 1 AS x FROM c{})", i - 1));
    }
    ctes.push_str(" SELECT x FROM c999");
    let extremes = [
        chain("SELECT 1", " + 1", 2_000),
        chain("SELECT 1", "::bigint", 2_000),
        chain("SELECT true", " AND true", 2_000),
        chain("SELECT false", " OR false", 2_000),
        chain("SELECT 'a'", " || 'a'", 10_000),
        chain(
            "CREATE MATERIALIZED VIEW unions AS SELECT 1 AS x",
            " UNION ALL SELECT 1",
            1_000,
        ),
        format!("SELECT {}1{}", "ARRAY[".repeat(48), "]".repeat(48)),
        format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
        ctes,
    ];
    for sql in &extremes {
        let started = Instant::now();
        let outcome = tokio::time::timeout(Duration::from_secs(60), client.simple_query(sql))
            .await
            .unwrap_or_else(|_| panic!("no answer within a minute to {}", &sql[..60]));
        if let Err(e) = outcome {
            assert_eq!(sqlstate(&e), "54001", "{}: {e}", &sql[..60]);
        }
        eprintln!("{}…: {:?}", &sql[..40], started.elapsed());
        answers_select_1(&client).await;
    }
    // The deepest chains are refused, not answered.
    let refused = client.simple_query(&extremes[0]).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "54001");
    let fresh = common::connect(server.addr).await;
    answers_select_1(&fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_row_limits_follow_postgresql_without_reserving_memory_for_them() {
    let server = TestServer::start().await;
    let mut wire = Wire::connect(server.addr).await;
    let rows = "SELECT * FROM generate_series(1, 20000)";

    // i32::MAX used to reserve 85 GB before the first row.
    let all = wire.run(rows, i32::MAX).await;
    assert_eq!(count(&all, b'D'), 20_000);
    assert_eq!(command_tag(&all).as_deref(), Some("SELECT 20000"));

    // A negative limit means all rows, as in PostgreSQL.
    let negative = wire.run(rows, -1).await;
    assert_eq!(count(&negative, b'D'), 20_000);
    assert_eq!(error_code(&negative), None);

    // A limit above the chunk size still suspends after exactly that many rows.
    wire.send(b'P', &[b"\0", rows.as_bytes(), b"\0\0\0"].concat())
        .await;
    wire.send(b'B', b"\0\0\0\0\0\0\0\0").await;
    wire.execute(12_345).await;
    wire.execute(i32::MAX).await;
    wire.send(b'S', b"").await;
    let paged = wire.until_ready().await;
    assert_eq!(count(&paged, b'D'), 20_000);
    let suspended = paged.iter().position(|m| m.0 == b's').expect("suspended");
    assert_eq!(count(&paged[..suspended], b'D'), 12_345);
    assert_eq!(command_tag(&paged).as_deref(), Some("SELECT 7655"));

    // Statements without rows ignore the limit.
    let ddl = wire.run("CREATE TABLE t (a INT)", i32::MAX).await;
    assert_eq!(command_tag(&ddl).as_deref(), Some("CREATE TABLE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_a_sqlstate_and_only_their_connection_ends() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let fatal_cases: Vec<(&str, u8, Vec<u8>, &str)> = vec![
        (
            "Parse declaring more parameter types than it carries",
            b'P',
            b"\0SELECT $1\0\0\x05\0\0\0\x17".to_vec(),
            "08P01",
        ),
        (
            "Bind with a parameter 0x7fffffff bytes long",
            b'B',
            b"\0\0\0\0\0\x01\x7f\xff\xff\xff\0\0".to_vec(),
            "08P01",
        ),
        (
            "Execute with bytes after the row limit",
            b'E',
            b"\0\0\0\0\x01\xff".to_vec(),
            "08P01",
        ),
        ("an unknown message type", b'z', Vec::new(), "08P01"),
        (
            "a query that is not UTF-8",
            b'Q',
            b"SELECT '\xc3\x28'\0".to_vec(),
            "22021",
        ),
    ];
    for (what, kind, body, code) in fatal_cases {
        let mut wire = Wire::connect(server.addr).await;
        wire.send(kind, &body).await;
        let replies = wire.until_ready().await;
        assert_eq!(
            error_code(&replies).as_deref(),
            Some(code),
            "{what}: {replies:?}"
        );
        assert!(
            wire.read().await.is_none(),
            "{what}: the connection is closed"
        );
        answers_select_1(&client).await;
    }

    // A message declaring a length of 2^31 - 1 is refused when its header arrives.
    let mut wire = Wire::connect(server.addr).await;
    wire.stream
        .write_all(&[b'Q', 0x7f, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    let replies = wire.until_ready().await;
    assert_eq!(error_code(&replies).as_deref(), Some("08P01"));

    // Bind with more parameters than the statement has: an error, the session goes on.
    let mut wire = Wire::connect(server.addr).await;
    wire.send(b'P', b"\0SELECT CAST($1 AS INT)\0\0\0").await;
    wire.send(b'B', b"\0\0\0\0\0\x03\0\0\0\x011\0\0\0\x012\0\0\0\x013\0\0")
        .await;
    wire.execute(0).await;
    wire.send(b'S', b"").await;
    let replies = wire.until_ready().await;
    assert_eq!(
        error_code(&replies).as_deref(),
        Some("08P01"),
        "{replies:?}"
    );
    let after = wire.run("SELECT 1", 0).await;
    assert_eq!(count(&after, b'D'), 1);

    // A topic name far beyond Kafka's limit never reaches librdkafka.
    let topic = "t".repeat(100_000);
    let err = client
        .batch_execute(&format!(
            "CREATE SOURCE s (id BIGINT) WITH (connector = 'kafka', topic = '{topic}', \
             properties.bootstrap.server = '127.0.0.1:9') FORMAT PLAIN ENCODE JSON"
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42622");
    answers_select_1(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_must_be_well_formed_and_finish_in_time() {
    let server = TestServer::start().await;
    let client = server.client().await;
    // Malformed start-up lengths are refused at once.
    for length in [0i32, -1, 3, 1_000_000] {
        let mut wire = Wire::open(server.addr).await;
        let mut packet = length.to_be_bytes().to_vec();
        packet.extend_from_slice(&[0, 3, 0, 0]);
        wire.stream.write_all(&packet).await.unwrap();
        let replies = wire.until_ready().await;
        assert_eq!(error_code(&replies).as_deref(), Some("08P01"), "{length}");
    }
    // Silent and half-started connections are closed after the start-up timeout.
    let started = Instant::now();
    let mut idle = Vec::new();
    for partial in [&b""[..], &[0, 0, 0, 3][..], &[0, 0, 0, 40, 0, 3][..]] {
        let mut wire = Wire::open(server.addr).await;
        wire.stream.write_all(partial).await.unwrap();
        idle.push(tokio::spawn(async move {
            let mut rest = Vec::new();
            wire.stream.read_to_end(&mut rest).await.ok();
        }));
    }
    answers_select_1(&client).await;
    for closed in idle {
        tokio::time::timeout(Duration::from_secs(20), closed)
            .await
            .expect("closed after the start-up timeout")
            .unwrap();
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9), "closed after {waited:?}");
    answers_select_1(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_errors_carry_the_sqlstate_postgresql_gives() {
    let server = TestServer::start().await;
    let sluice = server.client().await;
    let postgres = Postgres::start();
    let oracle = postgres.client().await;
    let cases = [
        "SELECT 'abc' ~ '('",
        "SELECT regexp_replace('abc', '[', 'x')",
        "SELECT abs(CAST(-9223372036854775808 AS BIGINT))",
        "SELECT abs(CAST(-2147483648 AS INT))",
        "SELECT TIMESTAMP '2024-01-01' + INTERVAL '300000 years'",
        "SELECT TIMESTAMP '2024-01-01' - INTERVAL '300000 years'",
        "SELECT 1 / 0",
        "SELECT lpad('x', 2147483647)",
        "SELECT repeat('ab', 1073741823)",
    ];
    let mut mismatches = Vec::new();
    for sql in cases {
        let ours = match sluice.simple_query(sql).await {
            Ok(_) => "ok".to_string(),
            Err(e) => sqlstate(&e),
        };
        let theirs = match oracle.simple_query(sql).await {
            Ok(_) => "ok".to_string(),
            Err(e) => sqlstate(&e),
        };
        if ours != theirs {
            mismatches.push(format!("{sql}: sluice {ours}, postgres {theirs}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
