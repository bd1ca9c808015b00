//! End-to-end latency through Sluice: an event produced to Kafka, read by a source,
//! kept by a view, written by a sink (exactly once: one Kafka transaction per
//! checkpoint) and read back by a `read_committed` consumer; and the same event to a
//! `SUBSCRIBE` client. Next to it, in the same run, the raw path: produced to Kafka
//! and read back by a consumer, no Sluice in between.
//!
//! Each event carries the microsecond it was produced at; latency = when it is read
//! back minus that. At each rate (events per second, produced evenly for the run's
//! length) and each checkpoint interval (the sink writes once a checkpoint is
//! complete, so its latency is about half an interval plus the checkpoint and the
//! commit; SUBSCRIBE does not wait for checkpoints):
//!
//! | path | what |
//! |---|---|
//! | raw Kafka | producer → broker → consumer |
//! | sink | producer → source → view → sink → broker → `read_committed` consumer |
//! | SUBSCRIBE | producer → source → view → `SUBSCRIBE` client (tokio-postgres) |
//!
//! Rates 10k and 50k events/s for 20 s each with `SLUICE_BENCH_FULL=1`, 10 s in the
//! suite's quick mode (`./scripts/bench.sh --bench sink_latency`), and a 2-second
//! smoke run at 2k events/s without `--bench` (as `cargo test --all-targets` runs it).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use sluice::Database;
use sluice::database::Options;
use tokio_postgres::SimpleQueryMessage;

// The tests' harness: its broker and client.
#[path = "../tests/common/mod.rs"]
mod common;

use common::kafka::Broker;

const PARTITIONS: i32 = 4;

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// How long readers get to connect and fetch before the first event, so that the
/// figures do not include their start.
const SETTLE: Duration = Duration::from_millis(1500);

/// Produces `rate` events a second for `length` to `topic`, each `{"id", "sent"}`,
/// after [`SETTLE`].
fn produce(broker: &Broker, topic: &str, rate: u64, length: Duration) -> u64 {
    std::thread::sleep(SETTLE);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("linger.ms", "1")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let start = Instant::now();
    let total = rate * length.as_secs();
    for id in 0..total {
        // Evenly spread: event `id` is due at id / rate seconds.
        let due = start + Duration::from_secs_f64(id as f64 / rate as f64);
        while Instant::now() < due {
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(200));
        }
        let payload = format!(r#"{{"id": {id}, "sent": {}}}"#, now_micros());
        let mut record = BaseRecord::<(), str>::to(topic)
            .partition((id % PARTITIONS as u64) as i32)
            .payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    total
}

/// Reads `expected` messages of `topic` and returns each one's latency (µs).
fn consume(broker: &Broker, topic: &str, expected: u64, committed_only: bool) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", format!("latency-{topic}"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .set(
            "isolation.level",
            if committed_only {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut latencies = Vec::with_capacity(expected as usize);
    let deadline = Instant::now() + Duration::from_secs(120);
    while (latencies.len() as u64) < expected && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) {
            let received = now_micros();
            let value: serde_json::Value =
                serde_json::from_slice(message.payload().unwrap_or_default()).expect("json");
            latencies.push(received - value["sent"].as_i64().expect("sent"));
        }
    }
    latencies
}

/// p50, p99 and max, in milliseconds.
fn percentiles(mut latencies: Vec<i64>) -> (f64, f64, f64) {
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    (at(0.5), at(0.99), at(1.0))
}

fn row(path: &str, rate: u64, interval: &str, sent: u64, latencies: Vec<i64>) {
    let received = latencies.len();
    let (p50, p99, max) = percentiles(latencies);
    println!(
        "| {path} | {rate} | {interval} | {sent} | {received} | {p50:.1} | {p99:.1} | {max:.1} |"
    );
}

async fn start_server(dir: &Path, interval: Duration) -> (Arc<Database>, SocketAddr) {
    let db = Database::open_with(
        dir,
        Options {
            checkpoint_interval: Some(interval),
            ..Default::default()
        },
    )
    .await
    .expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn({
        let db = db.clone();
        async move {
            let _ = sluice::server::serve(listener, db).await;
        }
    });
    (db, addr)
}

/// One measurement through Sluice: the sink's and the subscriber's latencies.
async fn through_sluice(broker: &Arc<Broker>, rate: u64, length: Duration, interval: Duration) {
    let run = format!("{rate}_{}", interval.as_millis());
    let (input, output) = (format!("in_{run}"), format!("out_{run}"));
    broker.create_topic(&input, PARTITIONS as u32);
    broker.create_topic(&output, PARTITIONS as u32);
    let dir = tempfile::tempdir().expect("dir");
    let (_db, addr) = start_server(dir.path(), interval).await;
    let client = common::connect(addr).await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE ev (id BIGINT, sent BIGINT) WITH (connector = 'kafka',
               topic = '{input}', properties.bootstrap.server = '{0}',
               scan.startup.mode = 'earliest') FORMAT PLAIN ENCODE JSON;
             CREATE MATERIALIZED VIEW v AS SELECT id, sent FROM ev;
             CREATE SINK s FROM v WITH (connector = 'kafka', topic = '{output}',
               properties.bootstrap.server = '{0}') FORMAT PLAIN ENCODE JSON;",
            broker.address()
        ))
        .await
        .expect("pipeline");
    // The subscriber: every change row's latency as it arrives.
    let subscribed = Arc::new(Mutex::new(Vec::new()));
    let subscriber = common::connect(addr).await;
    let stream = subscriber
        .simple_query_raw("SUBSCRIBE v WITH (snapshot = false)")
        .await
        .expect("subscribe");
    let watching = tokio::spawn({
        let subscribed = subscribed.clone();
        async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(Ok(message)) = stream.next().await {
                // sluice_epoch, sluice_diff, id, sent
                if let SimpleQueryMessage::Row(row) = message
                    && let Some(sent) = row.get(3).and_then(|s| s.parse::<i64>().ok())
                {
                    subscribed.lock().unwrap().push(now_micros() - sent);
                }
            }
        }
    });
    let reader = {
        let broker = broker.clone();
        let expected = rate * length.as_secs();
        std::thread::spawn(move || consume(&broker, &output, expected, true))
    };
    let sent = {
        let broker = broker.clone();
        tokio::task::spawn_blocking(move || produce(&broker, &input, rate, length))
            .await
            .expect("producer")
    };
    let sunk = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("reader");
    let label = format!("{} ms", interval.as_millis());
    row("sink (read_committed)", rate, &label, sent, sunk);
    watching.abort();
    let watched = std::mem::take(&mut *subscribed.lock().unwrap());
    row("SUBSCRIBE", rate, &label, sent, watched);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let full = std::env::var("SLUICE_BENCH_FULL").as_deref() == Ok("1");
    let (rates, length): (Vec<u64>, Duration) = match (bench, full) {
        (true, true) => (vec![10_000, 50_000], Duration::from_secs(20)),
        (true, false) => (vec![10_000, 50_000], Duration::from_secs(10)),
        (false, _) => (vec![2_000], Duration::from_secs(2)),
    };
    println!(
        "\n#### End-to-end latency: Kafka → view → sink → Kafka, and SUBSCRIBE (`sink_latency`)\n"
    );
    println!(
        "Events produced evenly at each rate for {} s over {PARTITIONS} partitions; latency = read \
         back minus produced. The sink writes one Kafka transaction per complete checkpoint \
         (exactly once), so its latency follows the checkpoint interval; SUBSCRIBE does not \
         wait for checkpoints. Raw Kafka: the same events produced and consumed with no \
         Sluice in between (the baseline).\n",
        length.as_secs()
    );
    println!(
        "| path | events/s | checkpoint interval | sent | received | p50 (ms) | p99 (ms) | max (ms) |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    let broker = Arc::new(Broker::start());
    for &rate in &rates {
        let topic = format!("raw_{rate}");
        broker.create_topic(&topic, PARTITIONS as u32);
        let reader = {
            let broker = broker.clone();
            let topic = topic.clone();
            let expected = rate * length.as_secs();
            std::thread::spawn(move || consume(&broker, &topic, expected, false))
        };
        let sent = produce(&broker, &topic, rate, length);
        row("raw Kafka", rate, "-", sent, reader.join().expect("reader"));
        for interval in [Duration::from_secs(1), Duration::from_millis(100)] {
            through_sluice(&broker, rate, length, interval).await;
        }
    }
}
