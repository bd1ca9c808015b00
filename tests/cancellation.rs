//! Stopping running statements: a client's cancel request (psql's Ctrl-C, a driver's
//! cancel), `pg_cancel_backend` from another session, and `statement_timeout`. Each
//! ends the statement with `57014` and PostgreSQL's message; a stopped write leaves
//! nothing behind; the session goes on.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, sqlstate};
use tokio_postgres::{Client, NoTls};

/// A query that would run for minutes: 10^10 rows counted.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 10000000000)";

/// Runs `sql` (simple protocol), expecting `57014` with `message` within 30 s.
async fn expect_stopped(client: &Client, sql: &str, message: &str) {
    let started = Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(30), client.simple_query(sql))
        .await
        .unwrap_or_else(|_| panic!("{sql} was not stopped within 30 s"))
        .expect_err("the statement was stopped");
    assert_eq!(sqlstate(&error), "57014", "{error:?}");
    let text = error.as_db_error().map(|e| e.message().to_owned());
    assert_eq!(text.as_deref(), Some(message));
    eprintln!("{sql}: stopped after {:?}", started.elapsed());
}

async fn select_1(client: &Client) {
    let one: i64 = client
        .query_one("SELECT CAST(1 AS BIGINT)", &[])
        .await
        .expect("the session goes on")
        .get(0);
    assert_eq!(one, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_running_query() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let cancel = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel
            .cancel_query(NoTls)
            .await
            .expect("cancel request sent");
    });
    expect_stopped(&client, ENDLESS, "canceling statement due to user request").await;
    canceller.await.unwrap();
    select_1(&client).await;

    // Extended protocol too; and a cancel with nothing running changes nothing.
    client
        .cancel_token()
        .cancel_query(NoTls)
        .await
        .expect("cancel request sent");
    // A cancel request is handled on its own connection, after the client has sent
    // it: give it time to arrive before the next statement, which it must not hit.
    tokio::time::sleep(Duration::from_secs(1)).await;
    select_1(&client).await;
    let cancel = client.cancel_token();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = cancel.cancel_query(NoTls).await;
    });
    let error = client.query(ENDLESS, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&error), "57014", "{error:?}");
    select_1(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_cancel_backend_stops_another_sessions_statement() {
    let server = TestServer::start().await;
    let victim = server.client().await;
    let other = server.client().await;
    let victim_pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let other_pid: i32 = other
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(victim_pid, other_pid, "each session has its own pid");

    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent: bool = other
            .query_one(&format!("SELECT pg_cancel_backend({victim_pid})"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(sent);
        let unknown: bool = other
            .query_one("SELECT pg_cancel_backend(1)", &[])
            .await
            .unwrap()
            .get(0);
        assert!(!unknown, "no session has pid 1");
    });
    expect_stopped(&victim, ENDLESS, "canceling statement due to user request").await;
    stopper.await.unwrap();
    select_1(&victim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_stops_statements_and_a_stopped_write_leaves_nothing() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("CREATE TABLE t (id BIGINT); SET statement_timeout = '300ms'")
        .await
        .unwrap();
    let shown = client.simple_query("SHOW statement_timeout").await.unwrap();
    assert!(format!("{shown:?}").contains("300ms"), "{shown:?}");
    expect_stopped(
        &client,
        ENDLESS,
        "canceling statement due to statement timeout",
    )
    .await;
    // An INSERT stopped while computing its rows commits none of them.
    expect_stopped(
        &client,
        "INSERT INTO t SELECT * FROM generate_series(1, 10000000000)",
        "canceling statement due to statement timeout",
    )
    .await;
    // Statements within the limit run as usual.
    client
        .batch_execute("INSERT INTO t VALUES (1), (2)")
        .await
        .unwrap();
    let error = client.query(ENDLESS, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&error), "57014");
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2, "the stopped INSERT left rows behind");
    let invalid = client
        .batch_execute("SET statement_timeout = 'soon'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&invalid), "22023");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_ctrl_c_cancels_the_query() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let child = common::psql_command(addr)
        .args(["-c", ENDLESS])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql runs");
    tokio::time::sleep(Duration::from_secs(2)).await;
    common::interrupt_psql(child).await;
    let client = server.client().await;
    select_1(&client).await;
}
