//! Durability: the catalog and every acknowledged write survive restarts and kill -9.

mod common;

use std::time::Duration;

use common::{ServerProcess, TestServer, connect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_and_rows_survive_a_clean_restart() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute(
            "CREATE TABLE a (id INT PRIMARY KEY, v TEXT DEFAULT 'dflt');
             CREATE TABLE b (x DOUBLE PRECISION);
             INSERT INTO a (id) VALUES (1), (2), (3);
             UPDATE a SET v = 'two' WHERE id = 2;
             DELETE FROM a WHERE id = 3;
             INSERT INTO b VALUES (0.5);
             CREATE TABLE gone (z INT);
             DROP TABLE gone;",
        )
        .await
        .unwrap();
    drop(client);
    let dir = server.stop();
    let client = connect(common::restart(dir.path()).await).await;
    let tables = client.query("SHOW TABLES", &[]).await.unwrap();
    let tables: Vec<&str> = tables.iter().map(|r| r.get(0)).collect();
    assert_eq!(tables, vec!["a", "b"]);
    let rows = client
        .query("SELECT id, v FROM a ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, "dflt".to_string()), (2, "two".to_string())]);
    // Defaults and keys are still enforced after the restart.
    client
        .batch_execute("INSERT INTO a (id) VALUES (9)")
        .await
        .unwrap();
    assert!(
        client
            .batch_execute("INSERT INTO a VALUES (1, 'dup')")
            .await
            .is_err()
    );
    let v: String = client
        .query_one("SELECT v FROM a WHERE id = 9", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "dflt");
}

/// Kill -9 while a client streams inserts; after restart exactly the acknowledged
/// rows are present, plus at most the one statement that was in flight (whole or not
/// at all, never half).
#[test]
fn kill9_during_inserts_loses_no_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for round in 0..3 {
        let server = ServerProcess::start(dir.path());
        let addr = server.addr;
        let acked = runtime.block_on(async move {
            let client = connect(addr).await;
            client
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS log (round INT, n INT, payload TEXT, PRIMARY KEY (round, n))",
                )
                .await
                .unwrap();
            let insert = client
                .prepare("INSERT INTO log VALUES ($1, $2, $3), ($1, $2 + 1000000, $3)")
                .await
                .unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel::<Vec<i32>>();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..100_000i32 {
                    let payload = format!("round {round} row {n} {}", "x".repeat(n as usize % 50));
                    match client.execute(&insert, &[&round, &n, &payload]).await {
                        Ok(_) => acked.push(n),
                        Err(_) => break,
                    }
                }
                let _ = tx.send(acked);
            });
            // Let inserts run for a while, then pull the plug from outside.
            tokio::time::sleep(Duration::from_millis(700 + 200 * round as u64)).await;
            server.kill9();
            rx_into(rx).await
        });
        assert!(
            acked.len() > 10,
            "too few inserts before the kill: {}",
            acked.len()
        );

        let server = ServerProcess::start(dir.path());
        let addr = server.addr;
        runtime.block_on(async move {
            let client = connect(addr).await;
            let rows = client
                .query(
                    "SELECT n, payload FROM log WHERE round = $1 ORDER BY n",
                    &[&round],
                )
                .await
                .unwrap();
            let present: Vec<i32> = rows
                .iter()
                .map(|r| r.get(0))
                .filter(|n| *n < 1_000_000)
                .collect();
            let pairs: Vec<i32> = rows
                .iter()
                .map(|r| r.get(0))
                .filter(|n| *n >= 1_000_000)
                .collect();
            // Both rows of a statement are present, or neither.
            assert_eq!(present.len(), pairs.len());
            let expected: Vec<i32> = acked.clone();
            assert!(
                present.len() == expected.len() || present.len() == expected.len() + 1,
                "round {round}: {} rows present, {} acknowledged",
                present.len(),
                expected.len()
            );
            assert_eq!(
                &present[..expected.len()],
                &expected[..],
                "acknowledged rows missing"
            );
            for row in &rows {
                let n: i32 = row.get(0);
                let payload: String = row.get(1);
                let n = n % 1_000_000;
                assert_eq!(
                    payload,
                    format!("round {round} row {n} {}", "x".repeat(n as usize % 50))
                );
            }
        });
        server.kill9();
    }
}

async fn rx_into(rx: tokio::sync::oneshot::Receiver<Vec<i32>>) -> Vec<i32> {
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("inserting task ends after the kill")
        .expect("acked list")
}
