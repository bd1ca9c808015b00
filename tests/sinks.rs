//! Kafka sinks over the real broker (tansu): a `read_committed` consumer rebuilds
//! each sink's topic and the result equals the view (PLAIN, UPSERT by key, DEBEZIUM
//! envelopes replayed strictly, so a change written twice or lost fails the test),
//! after random inserts, updates and deletes; exactly once across kill -9; the
//! broker away and back; the errors at `CREATE SINK`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::{Rng, ServerProcess, TestServer, sqlstate};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use tokio_postgres::Client;

/// One consumed message: key and value text (`None` value: a tombstone).
type Consumed = (Option<String>, Option<String>);

/// A message's transaction: its writer and checkpoint headers.
type Transaction = (String, u64);

/// Every committed message of `topic` (all partitions, from the start), read with
/// `read_committed` until the topic has been quiet for a while.
fn consume(broker: &Broker, topic: &str, partitions: i32) -> Vec<Consumed> {
    consume_transactions(broker, topic, partitions)
        .into_iter()
        .map(|(message, _)| message)
        .collect()
}

/// [`consume`], with each message's transaction.
fn consume_transactions(
    broker: &Broker,
    topic: &str,
    partitions: i32,
) -> Vec<(Consumed, Transaction)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", format!("test-reader-{topic}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut messages = Vec::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(1500) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let text =
                    |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
                let header = |name: &str| {
                    let headers = message.headers().expect("sink messages have headers");
                    let found = headers.iter().find(|h| h.key == name).expect(name);
                    text(found.value).expect(name)
                };
                let transaction = (
                    header("sluice.writer"),
                    header("sluice.checkpoint").parse().expect("checkpoint"),
                );
                messages.push(((text(message.key()), text(message.payload())), transaction));
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
            None => {}
        }
    }
    messages
}

/// A JSON value as the text psql shows for it (a JSON number `8696.0` is the
/// float8 PostgreSQL prints `8696`).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_f64() => n.as_f64().map(|f| f.to_string()),
        other => Some(other.to_string()),
    }
}

/// A row object's values, in column order.
fn row(object: &Value, columns: &[&str]) -> Vec<Option<String>> {
    columns.iter().map(|c| text(&object[*c])).collect()
}

/// The table an UPSERT topic describes: per key, the last value (a tombstone
/// removes the key).
fn rebuild_upsert(messages: &[Consumed], columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut table = BTreeMap::new();
    for (key, value) in messages {
        let key = key.clone().expect("upsert messages have keys");
        match value {
            Some(value) => {
                let value: Value = serde_json::from_str(value).expect("json");
                table.insert(key, row(&value, columns));
            }
            None => {
                table.remove(&key);
            }
        }
    }
    sorted(table.into_values().collect())
}

/// The table a DEBEZIUM topic describes, replayed strictly: a create of a key that
/// exists, or an update or delete whose `before` is not the key's current row,
/// means a change was written twice, lost or reordered.
fn rebuild_debezium(messages: &[Consumed], columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut table: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (i, (key, value)) in messages.iter().enumerate() {
        let key = key.clone().expect("debezium messages have keys");
        let Some(value) = value else {
            assert!(!table.contains_key(&key), "tombstone of live key {key}");
            continue;
        };
        let envelope: Value = serde_json::from_str(value).expect("json");
        let current = table.get(&key);
        let before = (!envelope["before"].is_null()).then(|| row(&envelope["before"], columns));
        let after = (!envelope["after"].is_null()).then(|| row(&envelope["after"], columns));
        match envelope["op"].as_str() {
            Some("c") => assert!(
                current.is_none(),
                "message {i}: create of existing key {key}"
            ),
            Some("u" | "d") => assert_eq!(
                current,
                before.as_ref(),
                "message {i}: {} of key {key} from a row it did not hold",
                envelope["op"]
            ),
            other => panic!("unknown op {other:?}"),
        }
        match after {
            Some(after) => table.insert(key, after),
            None => table.remove(&key),
        };
    }
    sorted(table.into_values().collect())
}

fn sorted(mut rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.sort();
    rows
}

async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = client.simple_query(sql).await.expect(sql);
    sorted(common::text_rows(&messages))
}

/// Waits until the sinks have written everything up to a checkpoint taken after
/// every change so far (a complete checkpoint, then no backlog left).
async fn await_sinks(client: &Client) {
    client.batch_execute("FLUSH").await.expect("flush");
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = checkpoint_id(client).await;
    loop {
        let pending: i64 = client
            .query_one(
                "SELECT count(*) FROM sluice_catalog.sink_status
                 WHERE backlog_rows > 0 OR committed_checkpoint IS NULL
                    OR committed_checkpoint < $1",
                &[&first.unwrap_or(0)],
            )
            .await
            .expect("sink_status")
            .get(0);
        if pending == 0 && checkpoint_id(client).await > first {
            return;
        }
        if Instant::now() > deadline {
            let sinks = rows(client, "SELECT * FROM sluice_catalog.sink_status").await;
            let checkpoints = rows(client, "SELECT * FROM sluice_catalog.checkpoint_status").await;
            panic!("sinks did not catch up: {sinks:?}; checkpoints: {checkpoints:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn checkpoint_id(client: &Client) -> Option<i64> {
    client
        .query_one(
            "SELECT last_checkpoint_id FROM sluice_catalog.checkpoint_status",
            &[],
        )
        .await
        .expect("checkpoint_status")
        .get(0)
}

const GROUP_COLUMNS: [&str; 3] = ["g", "n", "total"];
const ROW_COLUMNS: [&str; 3] = ["id", "g", "v"];

fn sink_sql(name: &str, view: &str, topic: &str, broker: &Broker, rest: &str) -> String {
    format!(
        "CREATE SINK {name} FROM {view} WITH (connector = 'kafka', topic = '{topic}', \
         properties.bootstrap.server = '{}'{rest}",
        broker.address()
    )
}

/// The views and sinks the oracle tests use, over table `t`.
async fn create_pipeline(client: &Client, broker: &Broker) {
    for topic in [
        "groups_upsert",
        "groups_debezium",
        "rows_upsert",
        "rows_debezium",
        "top_debezium",
    ] {
        broker.create_topic(topic, 3);
    }
    client
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, g BIGINT, v BIGINT);
             INSERT INTO t VALUES (0, 0, 0);
             CREATE MATERIALIZED VIEW per_group AS
               SELECT g, count(*) AS n, sum(v) AS total FROM t GROUP BY g;
             CREATE MATERIALIZED VIEW big AS SELECT id, g, v FROM t WHERE v >= 50;",
        )
        .await
        .expect("pipeline");
    for (name, view, topic, key, format) in [
        ("s1", "per_group", "groups_upsert", "g", "UPSERT"),
        ("s2", "per_group", "groups_debezium", "g", "DEBEZIUM"),
        ("s3", "big", "rows_upsert", "id", "UPSERT"),
        ("s4", "big", "rows_debezium", "id", "DEBEZIUM"),
    ] {
        let sql = sink_sql(
            name,
            view,
            topic,
            broker,
            &format!(", primary_key = '{key}') FORMAT {format} ENCODE JSON"),
        );
        client.batch_execute(&sql).await.expect(&sql);
    }
    // A sink of a query: its own view, which keeps no rows.
    let sql = format!(
        "CREATE SINK s5 AS SELECT g, max(v) AS top FROM t GROUP BY g
         WITH (connector = 'kafka', topic = 'top_debezium',
               properties.bootstrap.server = '{}', primary_key = 'g')
         FORMAT DEBEZIUM ENCODE JSON",
        broker.address()
    );
    client.batch_execute(&sql).await.expect(&sql);
}

/// The query sink `s5` writes, computed now.
const TOP_QUERY: &str = "SELECT g, max(v) FROM t GROUP BY g";
const TOP_COLUMNS: [&str; 2] = ["g", "top"];

/// A random statement over `t`: inserts of new ids, updates, deletes.
fn random_change(rng: &mut Rng, next_id: &mut i64) -> String {
    match rng.below(4) {
        0 | 1 => {
            let rows: Vec<String> = (0..1 + rng.below(20))
                .map(|_| {
                    *next_id += 1;
                    format!("({}, {}, {})", next_id, rng.below(6), rng.below(100))
                })
                .collect();
            format!("INSERT INTO t VALUES {}", rows.join(", "))
        }
        2 => format!(
            "UPDATE t SET v = {}, g = {} WHERE id % 7 = {}",
            rng.below(100),
            rng.below(6),
            rng.below(7)
        ),
        _ => format!("DELETE FROM t WHERE id % 11 = {}", rng.below(11)),
    }
}

async fn assert_topics_equal_views(client: &Client, broker: &Broker) {
    let groups = rows(client, "SELECT g, n, total FROM per_group").await;
    let big = rows(client, "SELECT id, g, v FROM big").await;
    let consumed = |topic| consume(broker, topic, 3);
    assert_eq!(
        rebuild_upsert(&consumed("groups_upsert"), &GROUP_COLUMNS),
        groups
    );
    assert_eq!(
        rebuild_debezium(&consumed("groups_debezium"), &GROUP_COLUMNS),
        groups
    );
    assert_eq!(rebuild_upsert(&consumed("rows_upsert"), &ROW_COLUMNS), big);
    assert_eq!(
        rebuild_debezium(&consumed("rows_debezium"), &ROW_COLUMNS),
        big
    );
    let top = rows(client, TOP_QUERY).await;
    assert_eq!(
        rebuild_debezium(&consumed("top_debezium"), &TOP_COLUMNS),
        top
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_rebuilt_from_upsert_and_debezium_sinks_equal_their_views() {
    let broker = Broker::start();
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute("ALTER SYSTEM SET checkpoint_interval = 50")
        .await
        .expect("interval");
    create_pipeline(&client, &broker).await;
    let mut rng = Rng(0x5eed_0001);
    let mut next_id = 0;
    for round in 0..300 {
        client
            .batch_execute(&random_change(&mut rng, &mut next_id))
            .await
            .expect("change");
        if round % 25 == 0 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
    await_sinks(&client).await;
    assert_topics_equal_views(&client, &broker).await;
    let written: i64 = client
        .query_one(
            "SELECT sum(messages_written)::BIGINT FROM sluice_catalog.sink_status",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(written > 300, "only {written} messages written");
    let rejected: i64 = client
        .query_one(
            "SELECT sum(rejected_rows)::BIGINT FROM sluice_catalog.sink_status",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_sink_writes_each_row_of_an_append_only_view_once() {
    let broker = Broker::start();
    broker.create_topic("events", 2);
    broker.create_topic("plain_out", 2);
    broker.create_topic("direct_out", 2);
    let events: Vec<(i32, Vec<u8>)> = (0..5000)
        .map(|i: i32| {
            (
                i % 2,
                format!(r#"{{"id": {i}, "v": {}}}"#, i % 97).into_bytes(),
            )
        })
        .collect();
    broker.produce("events", &events);
    let server = TestServer::start().await;
    let client = server.client().await;
    client
        .batch_execute(&format!(
            "ALTER SYSTEM SET checkpoint_interval = 100;
             CREATE SOURCE ev (id BIGINT, v BIGINT) WITH (connector = 'kafka', topic = 'events',
               properties.bootstrap.server = '{}', scan.startup.mode = 'earliest')
               FORMAT PLAIN ENCODE JSON;
             CREATE MATERIALIZED VIEW odd AS SELECT id, v FROM ev WHERE v % 2 = 1;
             {};
             {}",
            broker.address(),
            sink_sql(
                "plain",
                "odd",
                "plain_out",
                &broker,
                ") FORMAT PLAIN ENCODE JSON"
            ),
            // Straight from the source: its own view keeps no rows.
            sink_sql(
                "direct",
                "ev",
                "direct_out",
                &broker,
                ") FORMAT PLAIN ENCODE JSON"
            )
        ))
        .await
        .expect("pipeline");
    let expected: Vec<i64> = (0..5000).filter(|i| (i % 97) % 2 == 1).collect();
    let count = expected.len() as i64;
    let held = common::wait_for(
        &client,
        "SELECT count(*) FROM odd",
        count,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(held, count);
    await_sinks(&client).await;
    let mut ids: Vec<i64> = consume(&broker, "plain_out", 2)
        .iter()
        .map(|(key, value)| {
            assert!(key.is_none());
            let value: Value = serde_json::from_str(value.as_deref().unwrap()).unwrap();
            assert_eq!(value["v"].as_i64().unwrap() % 2, 1);
            value["id"].as_i64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, expected);
    let mut direct: Vec<i64> = consume(&broker, "direct_out", 2)
        .iter()
        .map(|(_, value)| {
            let value: Value = serde_json::from_str(value.as_deref().unwrap()).unwrap();
            value["id"].as_i64().unwrap()
        })
        .collect();
    direct.sort_unstable();
    assert_eq!(direct, (0..5000).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_sink_errors_and_the_catalog_statements() {
    let broker = Broker::start();
    broker.create_topic("out", 1);
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT);
         INSERT INTO t VALUES (1, 10), (2, 20);
         CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM t;",
    )
    .await
    .unwrap();
    let with = |rest: &str| sink_sql("s", "mv", "out", &broker, rest);
    let unreachable = "CREATE SINK s FROM mv WITH (connector = 'kafka', topic = 'out', \
        primary_key = 'id', properties.bootstrap.server = '127.0.0.1:1') \
        FORMAT UPSERT ENCODE JSON"
        .to_string();
    for (sql, code) in [
        (
            with(", primary_key = 'id') FORMAT PLAIN ENCODE JSON"),
            "0A000",
        ),
        (with(") FORMAT UPSERT ENCODE JSON"), "22023"),
        (
            with(", primary_key = 'nope') FORMAT UPSERT ENCODE JSON"),
            "42703",
        ),
        (
            with(", primary_key = 'id') FORMAT UPSERT ENCODE AVRO"),
            "0A000",
        ),
        (
            with(", primary_key = 'id', colour = 'red') FORMAT UPSERT ENCODE JSON"),
            "22023",
        ),
        (
            sink_sql(
                "s",
                "mv",
                "no_such_topic",
                &broker,
                ", primary_key = 'id') FORMAT UPSERT ENCODE JSON",
            ),
            "08001",
        ),
        (unreachable, "08001"),
        (
            "CREATE SINK s AS SELECT nope FROM t WITH (connector = 'kafka') \
             FORMAT PLAIN ENCODE JSON"
                .to_string(),
            "42703",
        ),
        (
            sink_sql("s", "t", "out", &broker, ") FORMAT PLAIN ENCODE JSON"),
            "0A000",
        ),
        (
            sink_sql("s", "nope", "out", &broker, ") FORMAT PLAIN ENCODE JSON"),
            "42P01",
        ),
        (
            "CREATE SINK s FROM mv WITH (connector = 'kafka')".to_string(),
            "42601",
        ),
        ("DROP SINK nope".to_string(), "42704"),
    ] {
        let err = c.batch_execute(&sql).await.expect_err(&sql);
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
    }
    let create = with(", primary_key = 'id') FORMAT UPSERT ENCODE JSON");
    c.batch_execute(&create).await.unwrap();
    c.batch_execute(&create.replace("CREATE SINK s", "CREATE SINK IF NOT EXISTS s"))
        .await
        .unwrap();
    let err = c.batch_execute(&create).await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P07");
    let err = c.batch_execute("CREATE TABLE s (a INT)").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42P07");
    assert_eq!(
        rows(&c, "SHOW SINKS").await,
        vec![vec![Some("s".to_string())]]
    );
    let shown = rows(&c, "SHOW CREATE SINK s").await;
    assert_eq!(shown[0][1].as_deref(), Some(create.as_str()));
    // The view cannot go while the sink reads it, unless with it.
    let err = c
        .batch_execute("DROP MATERIALIZED VIEW mv")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01");
    let err = c.batch_execute("DROP TABLE t").await.unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01");
    await_sinks(&c).await;
    assert_eq!(
        rebuild_upsert(&consume(&broker, "out", 1), &["id", "v"]),
        rows(&c, "SELECT id, v FROM mv").await
    );
    c.batch_execute("DROP MATERIALIZED VIEW mv CASCADE")
        .await
        .unwrap();
    assert!(rows(&c, "SHOW SINKS").await.is_empty());
    c.batch_execute("DROP SINK IF EXISTS s").await.unwrap();
    // A query's sink holds on to the table and the model it reads.
    let model = common::ml::model_path("mlp");
    c.batch_execute(&format!(
        "CREATE MODEL m FROM '{model}';
         CREATE SINK scored AS SELECT id, PREDICT(m, v, v, v, v) AS p FROM t
         WITH (connector = 'kafka', topic = 'out', properties.bootstrap.server = '{}',
               primary_key = 'id')
         FORMAT UPSERT ENCODE JSON",
        broker.address()
    ))
    .await
    .unwrap();
    for sql in [
        "DROP MODEL m".to_string(),
        format!("CREATE OR REPLACE MODEL m FROM '{model}'"),
        "DROP TABLE t".to_string(),
    ] {
        let err = c.batch_execute(&sql).await.expect_err(&sql);
        assert_eq!(sqlstate(&err), "2BP01", "{sql}: {err:?}");
    }
    c.batch_execute("DROP TABLE t CASCADE; DROP MODEL m")
        .await
        .unwrap();
    assert!(rows(&c, "SHOW SINKS").await.is_empty());
}

/// Per topic, each connection of its sink in order: the writer and the checkpoint
/// Kafka held when it connected (from the servers' logs).
fn sink_connections(
    data: &std::path::Path,
    rounds: u64,
) -> BTreeMap<String, Vec<(String, Option<u64>)>> {
    let mut connects: BTreeMap<String, Vec<(String, Option<u64>)>> = BTreeMap::new();
    for round in 0..=rounds {
        let log = std::fs::read_to_string(data.join(format!("log-{round}"))).expect("log");
        for line in common::strip_ansi(&log).lines() {
            if !line.contains("sink connected to Kafka") {
                continue;
            }
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
                    .expect(name)
            };
            let marker = field("checkpoint");
            let marker = marker
                .strip_prefix("Some(")
                .and_then(|m| m.strip_suffix(')'))
                .map(|m| m.parse().expect("marker"));
            connects
                .entry(field("topic"))
                .or_default()
                .push((field("writer"), marker));
        }
    }
    connects
}

/// The messages of committed transactions only. The test broker (tansu) does not
/// abort the transaction a killed producer left open when its successor calls
/// init_transactions (Apache Kafka does), so `read_committed` shows it: that can
/// only be a writer's last transaction, and it was committed exactly when the next
/// connection found Kafka holding its checkpoint.
fn without_zombies(
    messages: Vec<(Consumed, Transaction)>,
    connects: &[(String, Option<u64>)],
) -> Vec<Consumed> {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, (writer, checkpoint)) in &messages {
        let entry = last.entry(writer.as_str()).or_insert(*checkpoint);
        *entry = (*entry).max(*checkpoint);
    }
    let zombies: Vec<Transaction> = last
        .iter()
        .filter_map(|(writer, checkpoint)| {
            let at = connects
                .iter()
                .position(|(w, _)| w == writer)
                .expect("writer logged");
            let next = connects.get(at + 1)?;
            (next.1 < Some(*checkpoint)).then(|| (writer.to_string(), *checkpoint))
        })
        .collect();
    messages
        .into_iter()
        .filter(|(_, transaction)| !zombies.contains(transaction))
        .map(|(message, _)| message)
        .collect()
}

/// The broker away for `SLUICE_SINK_OUTAGE_SECS` (default 30) while the table
/// changes: the server keeps answering, the sinks retry, and once the broker is back
/// they write everything, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_resume_after_the_broker_is_away_and_lose_nothing() {
    let (broker, mut proxy) = Broker::start_behind_proxy().await;
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("log-0");
    let args = ["--checkpoint-interval", "100ms", "--log", "info"];
    let server = ServerProcess::start_with(data.path(), &args, Some(&log));
    let client = common::connect(server.addr).await;
    create_pipeline(&client, &broker).await;
    let mut rng = Rng(0x5eed_0003);
    let mut next_id = 0;
    for _ in 0..20 {
        client
            .batch_execute(&random_change(&mut rng, &mut next_id))
            .await
            .unwrap();
    }
    await_sinks(&client).await;
    proxy.cut();
    let outage = Duration::from_secs(common::env_number("SLUICE_SINK_OUTAGE_SECS", 30));
    let until = Instant::now() + outage;
    while Instant::now() < until {
        client
            .batch_execute(&random_change(&mut rng, &mut next_id))
            .await
            .unwrap();
        // The views keep up and answer while their sinks wait.
        client.batch_execute("FLUSH").await.unwrap();
        let groups = rows(&client, "SELECT g, n, total FROM per_group").await;
        let oracle = rows(&client, "SELECT g, count(*), sum(v) FROM t GROUP BY g").await;
        assert_eq!(groups, oracle);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A sink caught in the middle of a transaction when the broker went away reports
    // once librdkafka's own timeouts expire: under a loaded machine that has taken
    // longer than the outage, so allow it as long again.
    let waiting = common::wait_for(
        &client,
        "SELECT count(*) FROM sluice_catalog.sink_status
         WHERE retries > 0 AND last_error IS NOT NULL AND backlog_rows > 0",
        5,
        outage,
    )
    .await;
    let status = rows(&client, "SELECT * FROM sluice_catalog.sink_status").await;
    if waiting != 5 {
        eprintln!("{}", std::fs::read_to_string(&log).unwrap());
    }
    assert_eq!(
        waiting, 5,
        "every sink says it is waiting for the broker: {status:?}"
    );
    proxy.restore().await;
    await_sinks(&client).await;
    let connects = sink_connections(data.path(), 0);
    let groups = rows(&client, "SELECT g, n, total FROM per_group").await;
    let big = rows(&client, "SELECT id, g, v FROM big").await;
    for (topic, columns, view) in [
        ("groups", &GROUP_COLUMNS, &groups),
        ("rows", &ROW_COLUMNS, &big),
    ] {
        for format in ["debezium", "upsert"] {
            let topic = format!("{topic}_{format}");
            let messages = consume_transactions(&broker, &topic, 3);
            let committed = without_zombies(messages, &connects[&topic]);
            let rebuilt = match format {
                "debezium" => rebuild_debezium(&committed, columns),
                _ => rebuild_upsert(&committed, columns),
            };
            assert_eq!(&rebuilt, view, "{topic}");
        }
    }
    let top = rows(&client, TOP_QUERY).await;
    let messages = consume_transactions(&broker, "top_debezium", 3);
    let committed = without_zombies(messages, &connects["top_debezium"]);
    assert_eq!(rebuild_debezium(&committed, &TOP_COLUMNS), top);
    drop(server);
}

/// Kill -9 at random moments while the sinks write (`SLUICE_SINK_CRASH_ROUNDS`,
/// default 10): every change is in the topics exactly once (the DEBEZIUM replay is
/// strict) and the rebuilt topics equal the views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_write_every_change_exactly_once_across_kill9() {
    let broker = Broker::start();
    let data = tempfile::tempdir().unwrap().keep();
    eprintln!("data in {}", data.display());
    let args = ["--checkpoint-interval", "100ms", "--log", "info"];
    let log = |round: u64| data.as_path().join(format!("log-{round}"));
    let mut server = ServerProcess::start_with(data.as_path(), &args, Some(&log(0)));
    let mut client = common::connect(server.addr).await;
    create_pipeline(&client, &broker).await;
    let mut rng = Rng(0x5eed_0002);
    let mut next_id = 0;
    let rounds = common::env_number("SLUICE_SINK_CRASH_ROUNDS", 10);
    for round in 0..rounds {
        for _ in 0..5 + rng.below(30) {
            let sql = random_change(&mut rng, &mut next_id);
            client.batch_execute(&sql).await.expect(&sql);
        }
        // Sometimes while a checkpoint or a commit is under way, sometimes not.
        tokio::time::sleep(Duration::from_millis(rng.below(250) as u64)).await;
        server.kill9();
        server = ServerProcess::start_with(data.as_path(), &args, Some(&log(round + 1)));
        client = common::connect(server.addr).await;
    }
    await_sinks(&client).await;
    let connects = sink_connections(&data, rounds);
    let groups = rows(&client, "SELECT g, n, total FROM per_group").await;
    let big = rows(&client, "SELECT id, g, v FROM big").await;
    let committed =
        |topic: &str| without_zombies(consume_transactions(&broker, topic, 3), &connects[topic]);
    for (topic, columns, view) in [
        ("groups", &GROUP_COLUMNS, &groups),
        ("rows", &ROW_COLUMNS, &big),
    ] {
        let debezium = committed(&format!("{topic}_debezium"));
        assert_eq!(
            &rebuild_debezium(&debezium, columns),
            view,
            "{topic}_debezium"
        );
        let upsert = committed(&format!("{topic}_upsert"));
        assert_eq!(&rebuild_upsert(&upsert, columns), view, "{topic}_upsert");
    }
    let top = rows(&client, TOP_QUERY).await;
    assert_eq!(
        rebuild_debezium(&committed("top_debezium"), &TOP_COLUMNS),
        top
    );
    // The table holds every acknowledged change (the oracle for the views).
    let count: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(count > 0);
    drop(server);
}

/// `text` with the documented broker address replaced by the test broker's.
fn at_broker(text: &str, broker: &Broker) -> String {
    text.replace("127.0.0.1:9092", &broker.address())
}

/// Runs `sql` through psql (stopping at the first error).
fn run_psql(addr: std::net::SocketAddr, sql: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), sql).unwrap();
    let path = file.path().display().to_string();
    let (ok, stdout, stderr) = common::psql(addr, &["-f", &path]);
    assert!(ok, "psql failed:\n{stdout}\n{stderr}");
}

/// sql/pipeline.sql, verbatim but for the broker's address and the model's
/// directory: payments from Kafka, windowed, aggregated and scored by the int8 model,
/// to an UPSERT sink that rebuilds to the view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_example_runs_and_its_topic_equals_the_view() {
    let broker = Broker::start();
    broker.create_topic("payments", 2);
    broker.create_topic("account_risk", 2);
    broker.create_topic("closed_windows", 2);
    let mut rng = Rng(0x5eed_0004);
    let mut payments = Vec::new();
    for i in 0..3000i32 {
        let second = i / 10; // five minutes of payments
        payments.push((
            i % 2,
            format!(
                r#"{{"account": {}, "amount": {}.5, "merchant": {}, "ts": "2024-05-01 12:{:02}:{:02}"}}"#,
                rng.below(20),
                rng.below(500),
                rng.below(30),
                second / 60,
                second % 60
            )
            .into_bytes(),
        ));
    }
    // Past the last window's end plus the watermark's 5 s, on both partitions.
    for partition in 0..2 {
        payments.push((
            partition,
            br#"{"account": 0, "amount": 1.5, "merchant": 1, "ts": "2024-05-01 12:30:00"}"#
                .to_vec(),
        ));
    }
    broker.produce("payments", &payments);
    let server = TestServer::start().await;
    let client = server.client().await;
    let script = std::fs::read_to_string("sql/pipeline.sql").unwrap();
    let models = std::path::Path::new(&common::ml::model_path("mlp_int8"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    run_psql(
        server.addr,
        &at_broker(&script, &broker).replace("demo-models", &models),
    );
    // A query's sink that writes each window once, when it closes: PLAIN.
    client
        .batch_execute(&format!(
            "CREATE SINK closed AS
               SELECT account, window_start, count(*) AS payments
               FROM TUMBLE(payments, ts, INTERVAL '1' MINUTE)
               GROUP BY account, window_start EMIT ON WINDOW CLOSE
             WITH (connector = 'kafka', topic = 'closed_windows',
                   properties.bootstrap.server = '{}')
             FORMAT PLAIN ENCODE JSON",
            broker.address()
        ))
        .await
        .expect("EMIT ON WINDOW CLOSE sink");
    // 20 accounts over five one-minute windows.
    let windows = common::wait_for(
        &client,
        "SELECT count(*) FROM account_risk",
        100,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(windows, 100);
    await_sinks(&client).await;
    let columns = ["account", "window_start", "payments", "total", "largest"];
    let view = rows(
        &client,
        "SELECT account, window_start, payments, total, largest FROM account_risk",
    )
    .await;
    let messages = consume(&broker, "account_risk", 2);
    assert_eq!(rebuild_upsert(&messages, &columns), view);
    for (_, value) in &messages {
        let value: Value = serde_json::from_str(value.as_deref().unwrap()).unwrap();
        assert!(value["score"].is_number(), "{value}");
    }
    let closed: Vec<Vec<Option<String>>> = sorted(
        consume(&broker, "closed_windows", 2)
            .iter()
            .map(|(_, value)| {
                let value: Value = serde_json::from_str(value.as_deref().unwrap()).unwrap();
                row(&value, &["account", "window_start", "payments"])
            })
            .collect(),
    );
    let windows = rows(
        &client,
        "SELECT account, window_start, payments FROM account_risk",
    )
    .await;
    assert_eq!(closed, windows, "each closed window written once");
}

/// docs/sinks.md's example, verbatim but for the broker's address: a consumer reads
/// the messages the page shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_example_writes_the_documented_messages() {
    let broker = Broker::start();
    broker.create_topic("spend_by_customer", 1);
    let page = std::fs::read_to_string("docs/sinks.md").unwrap();
    let example = &page[page.find("## Example").expect("example section")..];
    let block = |fence: &str| {
        let start = example.find(fence).expect(fence) + fence.len();
        example[start..][..example[start..].find("```").unwrap()].to_string()
    };
    let server = TestServer::start().await;
    let client = server.client().await;
    run_psql(server.addr, &at_broker(&block("```sql\n"), &broker));
    await_sinks(&client).await;
    let mut shown: Vec<String> = block("```text\n").lines().map(str::to_string).collect();
    let mut read: Vec<String> = consume(&broker, "spend_by_customer", 1)
        .into_iter()
        .map(|(key, value)| {
            format!(
                "{} → {}",
                key.unwrap_or_default(),
                value.unwrap_or_else(|| "null".into())
            )
        })
        .collect();
    // Changes committed together may come in another order than the page's.
    shown.sort();
    read.sort();
    assert_eq!(read, shown);
}
