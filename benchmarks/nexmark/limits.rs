//! The limits a Kafka source cannot beat, measured on the same topics: (a) raw
//! `rdkafka` consumption into nothing, (b) the same plus decoding the JSON payloads
//! into Arrow batches with Sluice's own decoder (`sluice::connectors::decode`), in
//! batches gathered as Sluice's reader gathers them (up to 8,192 messages, payloads
//! copied out of librdkafka's buffers as Sluice copies them).

use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use sluice::connectors::decode::{Decoder, Encoding};

use crate::events::PARTITIONS;

/// What was measured: wall time and CPU-seconds (process + broker).
#[derive(Clone, Copy)]
pub struct Run {
    pub time: Duration,
    pub cpu: f64,
}

/// A consumer of every partition of `topic` from `from`, configured as Sluice's
/// reader is (no group join, no commits); `fetch_wait_ms` sets `fetch.wait.max.ms`.
pub fn consumer(
    broker: &str,
    topic: &str,
    from: Offset,
    fetch_wait_ms: Option<u32>,
) -> BaseConsumer {
    let mut config = ClientConfig::new();
    if let Some(ms) = fetch_wait_ms {
        config.set("fetch.wait.max.ms", ms.to_string());
    }
    let consumer: BaseConsumer = config
        .set("bootstrap.servers", broker)
        .set("group.id", format!("bench-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("Kafka consumer");
    // As Sluice's reader does: without metadata for the topic, librdkafka starts
    // fetching only after its next metadata refresh (about 0.5 s later).
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, from)
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    consumer
}

/// The Arrow schema Sluice gives a source with `columns` (name TYPE, ...): BIGINT is
/// Int64, VARCHAR Utf8, TIMESTAMP microseconds without a zone.
pub fn schema(columns: &str) -> Schema {
    let fields: Vec<Field> = columns
        .split(',')
        .map(|c| {
            let (name, kind) = c.trim().split_once(' ').expect("name TYPE");
            let t = match kind.trim() {
                "BIGINT" => DataType::Int64,
                "VARCHAR" => DataType::Utf8,
                "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, None),
                other => panic!("type {other} not mapped in the benchmark"),
            };
            Field::new(name, t, true)
        })
        .collect();
    Schema::new(fields)
}

/// Consumes `expected` messages of `topic`; with `decode`, decodes each gathered
/// batch into rows of that schema.
pub fn consume(broker: &str, topic: &str, expected: usize, decode: Option<Schema>) -> Run {
    let decoder = decode.map(|s| Decoder::new(Encoding::Json, s.into()));
    let cpu = crate::cpu::seconds();
    let started = Instant::now();
    let consumer = consumer(broker, topic, Offset::Beginning, None);
    let mut seen = 0usize;
    let mut bytes = 0usize;
    let mut rows = 0usize;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(8192);
    while seen < expected {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{topic}: only {seen} of {expected} messages in 10 minutes"
        );
        batch.clear();
        let mut deadline = Instant::now() + Duration::from_millis(100);
        while batch.len() < 8192 && seen < expected {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match consumer.poll(deadline - now) {
                None => break,
                Some(Ok(m)) => {
                    if batch.is_empty() {
                        deadline = Instant::now() + Duration::from_millis(5);
                    }
                    let payload = m.payload().unwrap_or_default();
                    seen += 1;
                    if decoder.is_some() {
                        batch.push(payload.to_vec());
                    } else {
                        bytes += payload.len();
                    }
                }
                Some(Err(e)) => panic!("{topic}: {e}"),
            }
        }
        if let Some(decoder) = &decoder
            && !batch.is_empty()
        {
            let payloads: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let decoded = decoder.decode(&payloads).expect("decode");
            assert!(decoded.errors.is_empty(), "{topic}: {:?}", decoded.errors);
            rows += decoded.batch.num_rows();
        }
    }
    let run = Run {
        time: started.elapsed(),
        cpu: crate::cpu::seconds() - cpu,
    };
    assert!(
        bytes > 0 || rows == expected,
        "{topic}: decoded {rows} rows"
    );
    run
}
