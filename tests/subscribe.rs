//! `SUBSCRIBE`: over a random stream of inserts, updates and deletes, the snapshot
//! plus the changes a subscriber receives add up to the view after every step, in
//! epoch order; cancel ends a subscription and the session goes on; a subscriber that
//! stops reading is cut off at its bound while the view keeps going; psql streams
//! `COPY (SUBSCRIBE ...) TO STDOUT` line by line until Ctrl-C; subscriptions to a
//! query and to a table; the errors.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wire::{Wire, error_code};
use common::{Rng, TestServer, sorted_rows as rows, sqlstate};
use futures::StreamExt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A received row: epoch, diff, progressed, the view's values.
type Change = (i64, Option<i64>, bool, Vec<Option<String>>);

/// What a subscriber received, and how the stream ended (`None` while it runs, the
/// SQLSTATE or "" for a normal end).
#[derive(Debug, Default)]
struct Received {
    rows: Vec<Change>,
    ended: Option<String>,
}

/// Runs `sql` (a SUBSCRIBE) on `client` in the background.
fn subscribe(client: Arc<Client>, sql: &str) -> Arc<Mutex<Received>> {
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    let sql = sql.to_string();
    tokio::spawn(async move {
        let stream = match client.simple_query_raw(&sql).await {
            Ok(stream) => stream,
            Err(e) => {
                sink.lock().unwrap().ended = Some(sqlstate(&e));
                return;
            }
        };
        futures::pin_mut!(stream);
        while let Some(message) = stream.next().await {
            match message {
                Ok(SimpleQueryMessage::Row(row)) => {
                    let with_progress = row
                        .columns()
                        .get(2)
                        .is_some_and(|c| c.name() == "sluice_progressed");
                    let first_value = if with_progress { 3 } else { 2 };
                    let values: Vec<Option<String>> = (first_value..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect();
                    sink.lock().unwrap().rows.push((
                        row.get(0).unwrap().parse().unwrap(),
                        row.get(1).map(|d| d.parse().unwrap()),
                        with_progress && row.get(2) == Some("t"),
                        values,
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    sink.lock().unwrap().ended = Some(sqlstate(&e));
                    return;
                }
            }
        }
        sink.lock().unwrap().ended = Some(String::new());
    });
    received
}

/// The rows the changes add up to (each repeated by its multiplicity), sorted.
fn replayed(received: &Received) -> Vec<Vec<String>> {
    let mut counts: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for (_, diff, progressed, values) in &received.rows {
        if !progressed {
            let key = values
                .iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect();
            *counts.entry(key).or_default() += diff.unwrap_or(0);
        }
    }
    assert!(
        counts.values().all(|n| *n >= 0),
        "a row went negative: {counts:?}"
    );
    let mut out = Vec::new();
    for (row, n) in counts {
        for _ in 0..n {
            out.push(row.clone());
        }
    }
    out
}

/// Waits until the subscriber's replay equals `view`'s rows.
async fn caught_up(c: &Client, received: &Arc<Mutex<Received>>, view: &str, step: usize) {
    let expected = rows(c, &format!("SELECT * FROM {view}")).await;
    let got = || replayed(&received.lock().unwrap());
    until(
        Duration::from_secs(20),
        || got() == expected,
        || {
            format!(
                "step {step}: the subscription adds up to {:?}, the view holds {expected:?}",
                got()
            )
        },
    )
    .await;
}

/// Polls `done` until it holds; fails with `what()` after `timeout`.
async fn until(timeout: Duration, done: impl Fn() -> bool, what: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{}", what());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_changes_add_up_to_the_view() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (id INT, g INT, v BIGINT);
         INSERT INTO t VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5);
         CREATE MATERIALIZED VIEW per_g AS SELECT g, count(*) AS n, sum(v) AS s FROM t GROUP BY g;",
    )
    .await
    .unwrap();
    let subscriber = Arc::new(server.client().await);
    let received = subscribe(
        subscriber.clone(),
        "SUBSCRIBE TO per_g WITH (progress = true)",
    );
    caught_up(&c, &received, "per_g", 0).await;

    let mut rng = Rng(0x5b5c);
    let mut next_id = 4;
    for step in 1..=30 {
        let statement = match rng.below(4) {
            0 | 1 => {
                let values: Vec<String> = (0..1 + rng.below(4))
                    .map(|_| {
                        next_id += 1;
                        format!("({next_id}, {}, {})", rng.below(4), rng.below(100))
                    })
                    .collect();
                format!("INSERT INTO t VALUES {}", values.join(", "))
            }
            2 => format!("UPDATE t SET v = v + 1 WHERE id % 3 = {}", rng.below(3)),
            _ => format!("DELETE FROM t WHERE id % 5 = {}", rng.below(5)),
        };
        c.batch_execute(&statement).await.unwrap();
        c.batch_execute("FLUSH").await.unwrap();
        caught_up(&c, &received, "per_g", step).await;
    }

    // Epochs never go back, and a progress row comes after the changes it covers.
    {
        let received = received.lock().unwrap();
        let mut last_epoch = 0;
        let mut progressed_to = -1;
        for (epoch, _, progressed, _) in &received.rows {
            assert!(*epoch >= last_epoch, "epoch {epoch} after {last_epoch}");
            last_epoch = *epoch;
            if *progressed {
                progressed_to = *epoch;
            } else {
                assert!(
                    *epoch > progressed_to,
                    "a change at {epoch} after progress {progressed_to}"
                );
            }
        }
        assert!(progressed_to > 0, "progress rows were sent");
    }

    // Cancel ends the subscription; the session goes on.
    subscriber.cancel_token().cancel_query(NoTls).await.unwrap();
    let ended = || received.lock().unwrap().ended.is_some();
    until(Duration::from_secs(10), ended, || {
        "cancel did not end the subscription".into()
    })
    .await;
    assert_eq!(received.lock().unwrap().ended.as_deref(), Some("57014"));
    let one = subscriber.simple_query("SELECT 1").await.unwrap();
    assert_eq!(one.len(), 3, "{one:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_to_queries_and_tables_and_their_errors() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (g INT, v BIGINT);
         INSERT INTO t VALUES (1, 10), (2, 20);
         CREATE MATERIALIZED VIEW doomed AS SELECT g FROM t;",
    )
    .await
    .unwrap();
    // A query, without its snapshot: only what changes after.
    let query = subscribe(
        Arc::new(server.client().await),
        "SUBSCRIBE (SELECT g, max(v) AS top FROM t GROUP BY g) WITH (snapshot = false)",
    );
    // A table, with its rows first.
    let table = subscribe(Arc::new(server.client().await), "SUBSCRIBE t");
    // A view that is dropped: its subscription ends normally.
    let dropped = subscribe(Arc::new(server.client().await), "SUBSCRIBE doomed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.batch_execute("INSERT INTO t VALUES (1, 15), (3, 1); FLUSH")
        .await
        .unwrap();
    let wait = |received: Arc<Mutex<Received>>, rows: usize| async move {
        let enough = || received.lock().unwrap().rows.len() >= rows;
        until(Duration::from_secs(20), enough, || {
            format!("{:?}", received.lock().unwrap())
        })
        .await;
    };
    wait(query.clone(), 3).await;
    let changes: Vec<(Option<i64>, Vec<Option<String>>)> = query
        .lock()
        .unwrap()
        .rows
        .iter()
        .map(|(_, diff, _, values)| (*diff, values.clone()))
        .collect();
    let mut changes = changes;
    changes.sort();
    let row = |g: &str, top: &str| vec![Some(g.to_string()), Some(top.to_string())];
    assert_eq!(
        changes,
        vec![
            (Some(-1), row("1", "10")),
            (Some(1), row("1", "15")),
            (Some(1), row("3", "1"))
        ]
    );
    wait(table.clone(), 4).await;
    assert_eq!(replayed(&table.lock().unwrap()).len(), 4);

    c.batch_execute("DROP MATERIALIZED VIEW doomed")
        .await
        .unwrap();
    let ended = || dropped.lock().unwrap().ended.is_some();
    until(Duration::from_secs(10), ended, || {
        "the dropped view's subscription goes on".into()
    })
    .await;
    assert_eq!(dropped.lock().unwrap().ended.as_deref(), Some(""));

    for (sql, code) in [
        ("SUBSCRIBE nope", "42P01"),
        ("SUBSCRIBE t WITH (snapshot = maybe)", "22023"),
        ("SUBSCRIBE t; SELECT 1", "0A000"),
        ("SELECT 1; SUBSCRIBE t", "0A000"),
    ] {
        let err = c.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}");
    }
    // The extended protocol cannot stream it.
    let err = c.query("SUBSCRIBE t", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "0A000");
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_cut_off() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE wide (id BIGINT, pad TEXT);
         CREATE MATERIALIZED VIEW big AS SELECT id, pad FROM wide;",
    )
    .await
    .unwrap();
    let mut wire = Wire::connect(server.addr).await;
    wire.send(b'Q', b"SUBSCRIBE big WITH (max_buffered_rows = 1000)\0")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // 20 MB of changes the subscriber does not read: more than the sockets hold.
    c.batch_execute(
        "INSERT INTO wide SELECT i, repeat('x', 1000) FROM generate_series(1, 20000) AS i; FLUSH",
    )
    .await
    .unwrap();
    let count: i64 = c
        .query_one("SELECT count(*) FROM big", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 20_000, "the view kept going");
    let messages = wire.until_ready().await;
    let data_rows = messages.iter().filter(|m| m.0 == b'D').count();
    assert_eq!(error_code(&messages).as_deref(), Some("53400"));
    assert!(data_rows < 20_000, "{data_rows} rows arrived");
    // The connection serves the next query.
    wire.send(b'Q', b"SELECT 1\0").await;
    let messages = wire.until_ready().await;
    assert_eq!(messages.iter().filter(|m| m.0 == b'D').count(), 1);
}

/// The next line a reader thread passed on.
async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(20), lines.recv())
        .await
        .expect("psql printed a line")
        .expect("psql runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_streams_copy_subscribe_until_ctrl_c() {
    use std::io::BufRead;
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT, note TEXT);
         INSERT INTO t VALUES (1, 'a\tb');
         CREATE MATERIALIZED VIEW v AS SELECT k, note FROM t;",
    )
    .await
    .unwrap();
    // stdbuf: psql's output is a pipe here, which stdio would buffer.
    let mut command = std::process::Command::new("stdbuf");
    let psql = common::psql_command(server.addr);
    command
        .arg("-oL")
        .arg(psql.get_program())
        .args(psql.get_args())
        .args(["-c", "COPY (SUBSCRIBE v) TO STDOUT"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("stdbuf and psql run");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let first = next_line(&mut lines).await;
    assert!(first.ends_with("\t1\t1\ta\\tb"), "{first}");
    c.batch_execute("INSERT INTO t VALUES (2, NULL)")
        .await
        .unwrap();
    let second = next_line(&mut lines).await;
    assert!(second.ends_with("\t1\t2\t\\N"), "{second}");

    common::interrupt_psql(child).await;
    c.simple_query("SELECT 1").await.unwrap();
}

/// Drivers that cannot stream a query (psycopg, pgjdbc, node pg) declare a cursor
/// for the subscription and FETCH from it, through either protocol: the snapshot,
/// then changes as they come (FETCH waits for the first row, up to its timeout), a
/// count at a time; CLOSE ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_fetch_a_subscription() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT, v TEXT);
         INSERT INTO t VALUES (1, 'a'), (2, 'b');
         CREATE MATERIALIZED VIEW v AS SELECT k, v FROM t;",
    )
    .await
    .unwrap();
    let driver = server.client().await;
    driver
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE v")
        .await
        .unwrap();
    let values = |rows: &[tokio_postgres::Row]| -> Vec<(i64, i32, String)> {
        let mut out: Vec<(i64, i32, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(1),
                    r.get::<_, i32>(2),
                    r.get::<_, String>(3),
                )
            })
            .collect();
        out.sort();
        out
    };
    // The extended protocol: the snapshot, all of it.
    let snapshot = driver
        .query("FETCH ALL c WITH (timeout = '1s')", &[])
        .await
        .unwrap();
    assert_eq!(snapshot[0].columns()[0].name(), "sluice_epoch");
    assert_eq!(
        values(&snapshot),
        vec![(1, 1, "a".into()), (1, 2, "b".into())]
    );
    // The snapshot is as of the INSERT's epoch; later changes come with later ones.
    let snapshot_epoch: i64 = snapshot[0].get(0);
    assert!(snapshot_epoch > 0, "snapshot epoch {snapshot_epoch}");
    // Nothing new: the timeout returns no rows.
    let nothing = driver
        .query("FETCH ALL c WITH (timeout = '100ms')", &[])
        .await
        .unwrap();
    assert!(nothing.is_empty());
    // A FETCH without a timeout waits for the change.
    let waiting = {
        let writer = server.client().await;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            writer
                .batch_execute("UPDATE t SET v = 'z' WHERE k = 1")
                .await
                .unwrap();
        })
    };
    let first = driver.query("FETCH 1 c", &[]).await.unwrap();
    waiting.await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].get::<_, i64>(0) > snapshot_epoch);
    // The update's other row is still there for the next FETCH (simple protocol).
    let rest = driver.simple_query("FETCH ALL FROM c").await.unwrap();
    let rest: Vec<&tokio_postgres::SimpleQueryRow> = rest
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect();
    assert_eq!(rest.len(), 1);
    let mut update: Vec<(String, String)> = [first[0].get::<_, i64>(1).to_string()]
        .into_iter()
        .chain([rest[0].get(1).unwrap().to_string()])
        .zip([
            first[0].get::<_, String>(3),
            rest[0].get(3).unwrap().to_string(),
        ])
        .collect();
    update.sort();
    assert_eq!(
        update,
        vec![("-1".into(), "a".into()), ("1".into(), "z".into())]
    );

    for (sql, code) in [
        ("DECLARE c CURSOR FOR SUBSCRIBE v", "42P03"),
        ("FETCH nope", "34000"),
        ("CLOSE nope", "34000"),
        ("DECLARE d CURSOR FOR SELECT 1", "0A000"),
    ] {
        let err = driver.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}");
    }
    driver.batch_execute("CLOSE c; COMMIT").await.unwrap();
    let err = driver.query("FETCH ALL c", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "34000");
}

/// psycopg 3, which reads whole results, follows a view through a cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_follows_a_view_through_a_cursor() {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect(
        "SLUICE_CLIENT_PYTHON: a Python with psycopg 3 (scripts/test.sh installs it with \
         scripts/install-clients.sh)",
    );
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE orders (id INT, customer TEXT, amount NUMERIC(10,2));
         INSERT INTO orders VALUES (1, 'ada', 12.50), (2, 'bob', 7.00);
         CREATE MATERIALIZED VIEW spend AS
           SELECT customer, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY customer;",
    )
    .await
    .unwrap();
    let script = r#"
import sys, psycopg
dsn = f"host=127.0.0.1 port={sys.argv[1]} dbname=sluice user=tester"
writer = psycopg.connect(dsn, autocommit=True)
with psycopg.connect(dsn) as conn, conn.cursor() as cur:
    cur.execute("DECLARE c CURSOR FOR SUBSCRIBE spend")
    cur.execute("FETCH ALL c WITH (timeout = '2s')")
    print("snapshot", sorted((d, r[0], r[1], str(r[2])) for _, d, *r in cur.fetchall()))
    writer.execute("INSERT INTO orders VALUES (3, 'ada', 30.00)")
    cur.execute("FETCH ALL c")
    changes = [(d, r[0], r[1], str(r[2])) for _, d, *r in cur.fetchall()]
    while len(changes) < 2:
        cur.execute("FETCH ALL c WITH (timeout = '5s')")
        changes += [(d, r[0], r[1], str(r[2])) for _, d, *r in cur.fetchall()]
    print("changes", sorted(changes))
    cur.execute("CLOSE c")
"#;
    let port = server.addr.port().to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", script, &port])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![
            "snapshot [(1, 'ada', 1, '12.50'), (1, 'bob', 1, '7.00')]",
            "changes [(-1, 'ada', 1, '12.50'), (1, 'ada', 2, '42.50')]",
        ]
    );
}

/// The server's resident memory (VmRSS, KiB) after `churn` rows of 1 KB went
/// through view `churn` (inserted, then deleted, 500 at a time), with or without a
/// subscriber that never reads.
async fn memory_after_churn(subscribe: bool, churn: i64) -> i64 {
    let data = tempfile::tempdir().unwrap();
    let server = common::ServerProcess::start(data.path());
    let c = common::connect(server.addr).await;
    c.batch_execute(
        "CREATE TABLE wide (id BIGINT, pad TEXT);
         CREATE MATERIALIZED VIEW churn AS SELECT id, pad FROM wide;",
    )
    .await
    .unwrap();
    let mut wire = Wire::connect(server.addr).await;
    if subscribe {
        wire.send(b'Q', b"SUBSCRIBE churn WITH (max_buffered_rows = 5000)\0")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let step = 500;
    for start in (0..churn).step_by(step as usize) {
        c.batch_execute(&format!(
            "INSERT INTO wide SELECT i, repeat('x', 1000) FROM generate_series({start}, {}) AS i;
             DELETE FROM wide WHERE id >= {start}; FLUSH",
            start + step - 1
        ))
        .await
        .unwrap();
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let field = |name: &str| -> i64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect(name)
    };
    drop(wire);
    field("VmRSS:")
}

/// A subscriber that never reads costs the server at most its bound: measured as
/// the server's resident memory after 1.2 GB of changes with such a subscriber,
/// against the same changes without one. The bound is 5,000 rows of 1 KB; without
/// it, the changes it was sent stay buffered (about 800 MiB more, measured by
/// setting the bound past them), so the margin below is far from both (the
/// allocator's retention varies by up to ~130 MiB from run to run, more when other
/// tests run beside it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_holds_memory_to_its_bound() {
    let churn = 600_000;
    let without = memory_after_churn(false, churn).await;
    let with = memory_after_churn(true, churn).await;
    let grown_mib = (with - without) as f64 / 1024.0;
    eprintln!("resident memory: {without} KiB without a subscriber, {with} KiB with one");
    assert!(
        grown_mib < 300.0,
        "a stuck subscriber cost {grown_mib:.0} MiB of the 1.2 GB of changes it was sent"
    );
}
