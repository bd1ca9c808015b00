//! The real `psql` client: queries, DML, errors, and catalog commands (\dt, \d).

mod common;

use common::{TestServer, psql};

async fn run_psql(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let addr = server.addr;
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        psql(addr, &refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_queries_and_dml() {
    let server = TestServer::start().await;
    let (ok, out, err) = run_psql(&server, &["-At", "-c", "SELECT 1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");

    let script = "CREATE TABLE fruit (id INT PRIMARY KEY, name TEXT, price NUMERIC(6,2));
INSERT INTO fruit VALUES (1, 'apple', 1.25), (2, 'kiwi', 0.5);
UPDATE fruit SET price = price * 2 WHERE name = 'kiwi';
DELETE FROM fruit WHERE id = 1;
SELECT id, name, price FROM fruit;";
    let (ok, out, err) = run_psql(&server, &["-At", "-c", script]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "CREATE TABLE",
            "INSERT 0 2",
            "UPDATE 1",
            "DELETE 1",
            "2|kiwi|1.00"
        ]
    );

    let (ok, out, err) = run_psql(&server, &["-c", "INSERT INTO fruit VALUES (5, 'fig', 3)"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "INSERT 0 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_reports_errors_with_their_sqlstate() {
    let server = TestServer::start().await;
    let (ok, _, err) = run_psql(
        &server,
        &["-v", "VERBOSITY=verbose", "-c", "SELECT * FROM nowhere"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("42P01"), "{err}");
    // The server still answers.
    let (ok, out, _) = run_psql(&server, &["-At", "-c", "SELECT 2"]).await;
    assert!(ok);
    assert_eq!(out.trim(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_tables() {
    let server = TestServer::start().await;
    let (ok, _, err) = run_psql(
        &server,
        &[
            "-c",
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DOUBLE PRECISION, note TEXT)",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\dt"]).await;
    assert!(ok, "\\dt failed: {err}");
    assert!(out.contains("orders"), "{out}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\d orders"]).await;
    assert!(ok, "\\d orders failed: {err}");
    for expected in ["id", "bigint", "amount", "double precision", "note", "text"] {
        assert!(out.contains(expected), "missing {expected} in:\n{out}");
    }
    let (ok, out, err) = run_psql(&server, &["-c", "\\d"]).await;
    assert!(ok, "\\d failed: {err}");
    assert!(out.contains("orders"), "{out}");
    // A source is a foreign table to clients: \d asks for its columns' options.
    let (ok, _, err) = run_psql(
        &server,
        &[
            "-c",
            "CREATE SOURCE bids (auction BIGINT, date_time TIMESTAMP, p_time TIMESTAMPTZ AS PROCTIME()) \
             WITH (connector = 'nexmark', nexmark.table.type = 'bid')",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\d bids"]).await;
    assert!(ok, "\\d bids failed: {err}");
    for expected in [
        "Foreign table \"public.bids\"",
        "auction",
        "bigint",
        "date_time",
        "timestamp without time zone",
        "p_time",
        "timestamp with time zone",
    ] {
        assert!(out.contains(expected), "missing {expected} in:\n{out}");
    }
}
