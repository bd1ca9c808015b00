//! Many clients at once: every acknowledged row is there, no statement fails.

mod common;

use common::TestServer;

const CLIENTS: i64 = 50;
const INSERTS_PER_CLIENT: i64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_insert_and_select_concurrently() {
    let server = TestServer::start().await;
    let setup = server.client().await;
    setup
        .batch_execute("CREATE TABLE events (client BIGINT, seq BIGINT, payload TEXT, PRIMARY KEY (client, seq))")
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let client = common::connect(addr).await;
            let insert = client
                .prepare("INSERT INTO events VALUES ($1, $2, $3)")
                .await?;
            for s in 0..INSERTS_PER_CLIENT {
                client
                    .execute(&insert, &[&c, &s, &format!("c{c}-s{s}")])
                    .await?;
                // Each client sees its own acknowledged writes immediately.
                let mine: i64 = client
                    .query_one("SELECT count(*) FROM events WHERE client = $1", &[&c])
                    .await?
                    .get(0);
                assert_eq!(mine, s + 1);
            }
            Ok::<_, tokio_postgres::Error>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let row = setup
        .query_one(
            "SELECT count(*), count(DISTINCT payload), sum(seq)::BIGINT FROM events",
            &[],
        )
        .await
        .unwrap();
    let (count, distinct, sum): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(count, CLIENTS * INSERTS_PER_CLIENT);
    assert_eq!(distinct, CLIENTS * INSERTS_PER_CLIENT);
    assert_eq!(
        sum,
        CLIENTS * (INSERTS_PER_CLIENT * (INSERTS_PER_CLIENT - 1) / 2)
    );
}
