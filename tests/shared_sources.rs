//! Shared sources (issue 16): one reader per source decodes each message once for
//! every view reading it; a view created later is backfilled by a reader of its own
//! from the source's start (while the running views go on) and then handed to the
//! live reader; after a restart the views share one reader again and nothing is read
//! twice. Checked over a Kafka backlog of 300,000 messages on four uneven partitions
//! (one empty) with 200,000 more produced during the backfill, and over a paced
//! generator.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::{Rng, TestServer, connect, sorted_rows, wait_for};
use tokio_postgres::Client;

/// Share of the messages (in tenths) in partitions 0..4: uneven, the last one empty.
const SHARES: [i64; 4] = [5, 3, 2, 0];

/// Messages `from..to` as (partition, JSON payload): `{"id": i, "amount": i % 1000}`.
fn messages(from: i64, to: i64) -> Vec<(i32, Vec<u8>)> {
    let mut rng = Rng(0x5a4e + from as u64);
    (from..to)
        .map(|i| {
            let mut draw = rng.below(10);
            let partition = SHARES
                .iter()
                .position(|share| {
                    let inside = draw < *share;
                    draw -= share;
                    inside
                })
                .unwrap_or(0);
            let payload = format!(r#"{{"id": {i}, "amount": {}}}"#, i % 1000);
            (partition as i32, payload.into_bytes())
        })
        .collect()
}

/// Per partition: (messages, sum of amounts), as the `per_partition` views give them.
fn expected(produced: &[(i32, Vec<u8>)]) -> Vec<Vec<String>> {
    let mut per: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for (partition, payload) in produced {
        let text = String::from_utf8_lossy(payload);
        let id: i64 = text
            .split(['{', ':', ',', '}'])
            .nth(2)
            .and_then(|v| v.trim().parse().ok())
            .expect("id");
        let entry = per.entry(*partition).or_default();
        entry.0 += 1;
        entry.1 += id % 1000;
    }
    per.iter()
        .map(|(p, (n, total))| vec![p.to_string(), n.to_string(), total.to_string()])
        .collect()
}

async fn per_partition(c: &Client, view: &str) -> Vec<Vec<String>> {
    sorted_rows(c, &format!("SELECT p, n, total FROM {view}")).await
}

/// Waits until view `view` has counted `total` messages.
async fn counted(c: &Client, view: &str, total: i64) {
    let sql = format!("SELECT coalesce(sum(n), 0)::BIGINT FROM {view}");
    let got = wait_for(c, &sql, total, Duration::from_secs(120)).await;
    assert_eq!(got, total, "{view} counted {got} of {total}");
}

/// The source's readers once the backfills are done: (role, views sorted, rows read).
async fn one_reader(c: &Client, views: &str) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let readers = sorted_rows(
            c,
            "SELECT role, views, rows_read FROM sluice_catalog.source_readers",
        )
        .await;
        let mut sorted: Vec<&str> = readers
            .first()
            .map(|r| r[1].split(',').collect())
            .unwrap_or_default();
        sorted.sort_unstable();
        if readers.len() == 1 && sorted.join(",") == views {
            return readers;
        }
        assert!(
            Instant::now() < deadline,
            "still not one reader for {views}: {readers:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn view_sql(name: &str) -> String {
    format!(
        "CREATE MATERIALIZED VIEW {name} AS
           SELECT p, count(*) AS n, sum(amount) AS total FROM orders GROUP BY p"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_share_one_kafka_reader_and_later_views_are_backfilled() {
    const BACKLOG: i64 = 300_000;
    const DURING: i64 = 200_000;
    let broker = Arc::new(Broker::start());
    broker.create_topic("orders", 4);
    let mut produced = messages(0, BACKLOG);
    broker.produce("orders", &produced);

    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE orders (id BIGINT, amount BIGINT) INCLUDE partition AS p
         WITH (connector = 'kafka', topic = 'orders', properties.bootstrap.server = '{}',
               scan.startup.mode = 'earliest')
         FORMAT PLAIN ENCODE JSON",
        broker.address()
    ))
    .await
    .unwrap();
    c.batch_execute(&view_sql("first")).await.unwrap();
    counted(&c, "first", BACKLOG).await;

    // The second view needs the whole topic: a reader of its own backfills it while
    // more messages arrive, which the live reader hands to the first view meanwhile.
    let more = messages(BACKLOG, BACKLOG + DURING);
    produced.extend(more.iter().cloned());
    let producing = {
        let broker = broker.clone();
        tokio::task::spawn_blocking(move || broker.produce("orders", &more))
    };
    c.batch_execute(&view_sql("second")).await.unwrap();
    let backfilling = sorted_rows(
        &c,
        "SELECT role FROM sluice_catalog.source_readers ORDER BY reader_id",
    )
    .await;
    eprintln!("readers right after the second view: {backfilling:?}");
    producing.await.unwrap();
    let total = BACKLOG + DURING;
    counted(&c, "first", total).await;
    counted(&c, "second", total).await;
    let want = expected(&produced);
    assert_eq!(per_partition(&c, "first").await, want);
    assert_eq!(per_partition(&c, "second").await, want);
    // One reader left, which decoded every message once for both views.
    let readers = one_reader(&c, "first,second").await;
    assert_eq!(readers[0][0], "live");
    assert_eq!(readers[0][2], total.to_string());
    let statuses = sorted_rows(
        &c,
        "SELECT reader, state, rows_read FROM sluice_catalog.source_status",
    )
    .await;
    assert_eq!(
        statuses,
        [
            ["first", "running", &total.to_string()],
            ["second", "running", &total.to_string()]
        ]
    );

    // After a restart both views go on from one checkpoint, on one reader that reads
    // nothing again.
    let checkpoints = "SELECT checkpoints_taken FROM sluice_catalog.checkpoint_status";
    let taken: i64 = c.query_one(checkpoints, &[]).await.unwrap().get(0);
    wait_for(&c, checkpoints, taken + 2, Duration::from_secs(30)).await;
    drop(c);
    let dir = server.stop();
    let c = connect(common::restart(dir.path()).await).await;
    let readers = one_reader(&c, "first,second").await;
    assert_eq!(readers[0][2], "0", "nothing read again");
    let last = messages(total, total + 1000);
    broker.produce("orders", &last);
    produced.extend(last);
    let total = total + 1000;
    counted(&c, "first", total).await;
    counted(&c, "second", total).await;
    assert_eq!(one_reader(&c, "first,second").await[0][2], "1000");

    // A view created after the restart is backfilled from the start too.
    c.batch_execute(&view_sql("third")).await.unwrap();
    counted(&c, "third", total).await;
    let want = expected(&produced);
    for view in ["first", "second", "third"] {
        assert_eq!(per_partition(&c, view).await, want, "{view}");
    }
    one_reader(&c, "first,second,third").await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_generator_backfills_later_views_at_full_speed() {
    // 20,000 rows at 5,000 a second: four seconds for the live reader.
    const ROWS: i64 = 20_000;
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE seq (id BIGINT) WITH (connector = 'datagen',
           datagen.rows.per.second = 5000, datagen.rows.total = {ROWS},
           fields.id.kind = 'sequence', fields.id.start = 1);
         CREATE MATERIALIZED VIEW early AS SELECT count(*) AS n, sum(id) AS s FROM seq;"
    ))
    .await
    .unwrap();
    // A second in, the live reader is about a quarter through.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    c.batch_execute("CREATE MATERIALIZED VIEW late AS SELECT count(*) AS n, sum(id) AS s FROM seq")
        .await
        .unwrap();
    // The late view catches up with the live reader at once (the rows it missed are
    // history), then both go on at the source's pace.
    let caught_up = "SELECT count(*) FROM sluice_catalog.source_readers";
    assert_eq!(wait_for(&c, caught_up, 1, Duration::from_secs(2)).await, 1);
    let early: i64 = c
        .query_one("SELECT n FROM early", &[])
        .await
        .unwrap()
        .get(0);
    let late: i64 = c.query_one("SELECT n FROM late", &[]).await.unwrap().get(0);
    eprintln!(
        "one reader {:?} after the late view: early {early}, late {late}",
        started.elapsed()
    );
    assert!(
        early < ROWS && started.elapsed() < Duration::from_secs(2),
        "the backfill took longer than the live reader"
    );
    for view in ["early", "late"] {
        let sql = format!("SELECT coalesce(max(n), 0) FROM {view}");
        assert_eq!(
            wait_for(&c, &sql, ROWS, Duration::from_secs(30)).await,
            ROWS
        );
        let sum: i64 = c
            .query_one(&format!("SELECT s::BIGINT FROM {view}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(sum, ROWS * (ROWS + 1) / 2, "{view}: every row once");
    }
    assert_eq!(
        sorted_rows(
            &c,
            "SELECT role, state, views, rows_read FROM sluice_catalog.source_readers"
        )
        .await,
        [["live", "finished", "early,late", &ROWS.to_string()]]
    );
}
