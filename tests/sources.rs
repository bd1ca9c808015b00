//! Sources end to end: generators (`datagen`, `nexmark`) and Kafka (a real tansu
//! broker on 127.0.0.1), read through materialized views over the wire.

mod common;

use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::{TestServer, sqlstate, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_produces_bounded_counts_and_rates() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE gen (id BIGINT, v DOUBLE PRECISION, name VARCHAR, flag BOOLEAN, at TIMESTAMP)
         WITH (connector = 'datagen', datagen.rows.per.second = 0, datagen.rows.total = 20000,
               fields.id.kind = 'sequence', fields.id.start = 1,
               fields.v.min = 1, fields.v.max = 2, fields.name.length = 5);
         CREATE MATERIALIZED VIEW stats AS
           SELECT count(*) AS n, sum(id)::BIGINT AS ids, min(v) AS lo, max(v) AS hi,
                  min(length(name)) AS shortest, max(length(name)) AS longest
           FROM gen;",
    )
    .await
    .unwrap();
    let n = wait_for(&c, "SELECT n FROM stats", 20_000, Duration::from_secs(30)).await;
    assert_eq!(n, 20_000);
    let row = c
        .query_one("SELECT ids, lo, hi, shortest, longest FROM stats", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 20_000 * 20_001 / 2);
    assert!(row.get::<_, f64>(1) >= 1.0 && row.get::<_, f64>(2) <= 2.0);
    assert_eq!((row.get::<_, i32>(3), row.get::<_, i32>(4)), (5, 5));

    // A paced source: 400 rows per second.
    c.batch_execute(
        "CREATE SOURCE paced (id BIGINT) WITH (connector = 'datagen', datagen.rows.per.second = 400);
         CREATE MATERIALIZED VIEW paced_n AS SELECT count(*) AS n FROM paced;",
    )
    .await
    .unwrap();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n: i64 = c
        .query_one("SELECT n FROM paced_n", &[])
        .await
        .unwrap()
        .get(0);
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert!(
        (250.0..=500.0).contains(&rate),
        "rate {rate:.0} rows/s for a 400 rows/s source"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_is_reproducible_and_bounded() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                            url VARCHAR, date_time TIMESTAMP, extra VARCHAR,
                            WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
         WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 10000,
               nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW a AS SELECT count(*) AS n, sum(price)::BIGINT AS p, max(date_time) AS latest FROM bid;
         CREATE MATERIALIZED VIEW b AS SELECT count(*) AS n, sum(price)::BIGINT AS p FROM bid;",
    )
    .await
    .unwrap();
    assert_eq!(
        wait_for(&c, "SELECT n FROM a", 10_000, Duration::from_secs(30)).await,
        10_000
    );
    assert_eq!(
        wait_for(&c, "SELECT n FROM b", 10_000, Duration::from_secs(30)).await,
        10_000
    );
    let pa: i64 = c.query_one("SELECT p FROM a", &[]).await.unwrap().get(0);
    let pb: i64 = c.query_one("SELECT p FROM b", &[]).await.unwrap().get(0);
    assert_eq!(
        pa, pb,
        "two readers of one nexmark source see the same events"
    );
    // The watermark is the latest event time minus the declared delay.
    let row = c
        .query_one(
            "SELECT s.watermark = a.latest - INTERVAL '4' SECOND FROM sluice_catalog.source_status s, a \
             WHERE s.reader = 'a'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    let state: String = c
        .query_one(
            "SELECT state FROM sluice_catalog.source_status WHERE reader = 'a'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ddl_and_errors() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE s (id BIGINT) WITH (connector = 'datagen', datagen.rows.total = 5);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM s;",
    )
    .await
    .unwrap();
    let sources = c.simple_query("SHOW SOURCES").await.unwrap();
    assert!(
        sources.iter().any(
            |m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("s"))
        )
    );
    let create: String = c
        .query_one("SHOW CREATE SOURCE s", &[])
        .await
        .unwrap()
        .get(1);
    assert!(create.contains("datagen"), "{create}");
    let cases = [
        ("SELECT * FROM s", "0A000"),
        (
            "CREATE SOURCE x (a INT) WITH (connector = 'datagen', datagen.typo = 1)",
            "22023",
        ),
        (
            "CREATE SOURCE x (a INT) WITH (connector = 'pulsar')",
            "0A000",
        ),
        (
            "CREATE SOURCE x (a INT) WITH (connector = 'kafka', topic = 't')",
            "22023",
        ),
        (
            "CREATE SOURCE x (a INT, WATERMARK FOR a AS a) WITH (connector = 'datagen')",
            "42804",
        ),
        (
            "CREATE SOURCE x (a INT) WITH connector = 'datagen'",
            "42601",
        ),
        (
            "CREATE SOURCE x (a INT) WITH (connector = 'kafka', topic = 't', \
             properties.bootstrap.server = '127.0.0.1:1') FORMAT PLAIN ENCODE JSON",
            "08001",
        ),
        ("DROP SOURCE s", "2BP01"),
        ("INSERT INTO s VALUES (1)", "42809"),
    ];
    for (sql, code) in cases {
        let err = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
    }
    c.batch_execute("DROP SOURCE s CASCADE").await.unwrap();
    let left: i64 = c
        .query_one("SELECT count(*) FROM sluice_catalog.relations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

fn json_message(i: i64) -> Vec<u8> {
    format!(
        r#"{{"id": {i}, "name": "n{i}", "amount": {}, "at": "2024-01-01T00:00:{:02}Z", "ignored": true}}"#,
        i % 100,
        i % 60
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_json_and_csv_with_metadata_and_malformed_messages() {
    let broker = Broker::start();
    broker.create_topic("json_events", 4);
    broker.create_topic("csv_events", 4);
    let total = 100_000i64;
    let mut json = Vec::with_capacity(total as usize + 1000);
    let mut csv = Vec::with_capacity(total as usize);
    for i in 0..total {
        let partition = (i % 4) as i32;
        json.push((partition, json_message(i)));
        if i % 100 == 0 {
            // 1000 malformed messages interleaved: bad JSON (cut short, misplaced or
            // missing commas, which arrow's lenient tokenizer alone would accept),
            // wrong types, empty.
            let bad: &[u8] = match (i / 100) % 7 {
                0 => b"{\"id\": ",
                1 => b"{\"id\": \"not a number\"}",
                2 => b"",
                3 => br#"{"id": 1,, "amount": 2}"#,
                4 => br#"{"id": 4 "amount": 5}"#,
                5 => br#"{,"id": 3}"#,
                _ => br#"{"id": 1,}"#,
            };
            json.push((partition, bad.to_vec()));
        }
        csv.push((partition, format!("{i},n{i},{}", i % 100).into_bytes()));
    }
    broker.produce("json_events", &json);
    broker.produce("csv_events", &csv);

    let server = TestServer::start().await;
    let c = server.client().await;
    let bootstrap = broker.address();
    c.batch_execute(&format!(
        "CREATE SOURCE j (id BIGINT NOT NULL, name VARCHAR, amount BIGINT, at TIMESTAMP,
                          WATERMARK FOR at AS at - INTERVAL '5' SECOND)
         INCLUDE partition AS part, offset AS off, timestamp
         WITH (connector = 'kafka', topic = 'json_events',
               properties.bootstrap.server = '{bootstrap}', scan.startup.mode = 'earliest')
         FORMAT PLAIN ENCODE JSON;
         CREATE SOURCE c (id BIGINT, name VARCHAR, amount BIGINT)
         WITH (connector = 'kafka', topic = 'csv_events', properties.bootstrap.server = '{bootstrap}')
         FORMAT PLAIN ENCODE CSV (without_header = 'true');
         CREATE MATERIALIZED VIEW jv AS
           SELECT count(*) AS n, sum(amount)::BIGINT AS total, count(DISTINCT name) AS names,
                  min(part) AS lo_part, max(part) AS hi_part, max(off) AS max_off,
                  count(kafka_timestamp) AS stamped
           FROM j;
         CREATE MATERIALIZED VIEW per_partition AS SELECT part, count(*) AS n FROM j GROUP BY part;
         CREATE MATERIALIZED VIEW cv AS SELECT count(*) AS n, sum(amount)::BIGINT AS total FROM c;"
    ))
    .await
    .unwrap();
    let n = wait_for(&c, "SELECT n FROM jv", total, Duration::from_secs(120)).await;
    assert_eq!(n, total, "every valid JSON message arrives");
    let expected_sum: i64 = (0..total).map(|i| i % 100).sum();
    let row = c
        .query_one(
            "SELECT total, names, lo_part, hi_part, max_off, stamped FROM jv",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), expected_sum);
    assert_eq!(row.get::<_, i64>(1), total);
    assert_eq!((row.get::<_, i32>(2), row.get::<_, i32>(3)), (0, 3));
    // The malformed messages all went to partition 0 (i % 100 == 0 implies i % 4 == 0),
    // which therefore holds total/4 + 1000 messages; its last valid one is last.
    assert_eq!(row.get::<_, i64>(4), total / 4 + 1000 - 1);
    assert_eq!(row.get::<_, i64>(5), total);
    // per_partition has a reader of its own: wait until it has read everything too.
    let read = wait_for(
        &c,
        "SELECT coalesce(CAST(sum(n) AS BIGINT), 0) FROM per_partition",
        total,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(read, total);
    let per_partition = c.query("SELECT n FROM per_partition", &[]).await.unwrap();
    assert!(
        per_partition
            .iter()
            .all(|r| r.get::<_, i64>(0) == total / 4)
    );

    assert_eq!(
        wait_for(&c, "SELECT n FROM cv", total, Duration::from_secs(120)).await,
        total
    );
    let csv_sum: i64 = c
        .query_one("SELECT total FROM cv", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(csv_sum, expected_sum);

    // The malformed messages are counted and listed; the source keeps going.
    let errors = wait_for(
        &c,
        "SELECT errors FROM sluice_catalog.source_status WHERE reader = 'jv'",
        1000,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(errors, 1000);
    let listed: i64 = c
        .query_one(
            "SELECT count(*) FROM sluice_catalog.source_errors WHERE reader = 'jv' AND reason <> ''",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(listed, 100, "the latest 100 errors are kept");
    // Lag per partition reaches zero once everything is read.
    let lag = wait_for(
        &c,
        "SELECT coalesce(sum(lag), -1)::BIGINT FROM sluice_catalog.source_partitions WHERE reader = 'jv'",
        0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(lag, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_watermark_follows_the_rule_across_partitions() {
    let broker = Broker::start();
    broker.create_topic("wm", 2);
    let at =
        |second: u32| format!(r#"{{"k": 1, "at": "2024-01-01T00:00:{second:02}Z"}}"#).into_bytes();
    // Out of order within partitions; partition 1 lags behind partition 0.
    broker.produce(
        "wm",
        &[
            (0, at(30)),
            (0, at(10)),
            (0, at(40)),
            (1, at(20)),
            (1, at(5)),
        ],
    );
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE w (k INT, at TIMESTAMP, WATERMARK FOR at AS at - INTERVAL '3' SECOND)
         WITH (connector = 'kafka', topic = 'wm', properties.bootstrap.server = '{}',
               watermark.idle.timeout.ms = 1500)
         FORMAT PLAIN ENCODE JSON;
         CREATE MATERIALIZED VIEW wv AS SELECT count(*) AS n FROM w;",
        broker.address()
    ))
    .await
    .unwrap();
    assert_eq!(
        wait_for(&c, "SELECT n FROM wv", 5, Duration::from_secs(30)).await,
        5
    );
    // min over partitions of (max event time - 3 s) = min(40, 20) - 3 = 17 s.
    let wm: String = c
        .query_one(
            "SELECT CAST(watermark AS VARCHAR) FROM sluice_catalog.source_status",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(wm.contains("00:00:17"), "{wm}");
    // Once partition 1 has been idle past the timeout, it no longer holds the watermark.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    broker.produce("wm", &[(0, at(50))]);
    assert_eq!(
        wait_for(&c, "SELECT n FROM wv", 6, Duration::from_secs(30)).await,
        6
    );
    let wm: String = c
        .query_one(
            "SELECT CAST(watermark AS VARCHAR) FROM sluice_catalog.source_status",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(wm.contains("00:00:47"), "{wm}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_source_survives_a_broker_restart() {
    let mut broker = Broker::start();
    broker.create_topic("restart", 4);
    let batch = |from: i64, to: i64| -> Vec<(i32, Vec<u8>)> {
        (from..to)
            .map(|i| ((i % 4) as i32, format!(r#"{{"id": {i}}}"#).into_bytes()))
            .collect()
    };
    broker.produce("restart", &batch(0, 5000));
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE r (id BIGINT) WITH (connector = 'kafka', topic = 'restart',
                 properties.bootstrap.server = '{}') FORMAT PLAIN ENCODE JSON;
         CREATE MATERIALIZED VIEW rv AS SELECT count(*) AS n, count(DISTINCT id) AS ids FROM r;",
        broker.address()
    ))
    .await
    .unwrap();
    assert_eq!(
        wait_for(&c, "SELECT n FROM rv", 5000, Duration::from_secs(60)).await,
        5000
    );
    // The broker goes away; its topics live in memory, so they are produced again
    // (same data) after the restart, then new data follows.
    broker.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.restart();
    broker.create_topic("restart", 4);
    // The reader sees the topic come back before any message does.
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.produce("restart", &batch(0, 5000));
    broker.produce("restart", &batch(5000, 8000));
    assert_eq!(
        wait_for(&c, "SELECT n FROM rv", 8000, Duration::from_secs(60)).await,
        8000
    );
    let ids: i64 = c.query_one("SELECT ids FROM rv", &[]).await.unwrap().get(0);
    assert_eq!(
        ids, 8000,
        "resumed at its own offsets: no gap, nothing twice"
    );
}
