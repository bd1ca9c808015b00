//! The events every part of the suite reads: Nexmark bids, auctions and persons from
//! the `nexmark` crate (the generator Sluice's `nexmark` connector uses, with the same
//! fixed base time), as JSON objects with the field names of that connector, and a
//! Kafka producer for them.
//!
//! Times are milliseconds since the epoch (a JSON number), which Sluice's JSON decoder
//! reads into `TIMESTAMP` columns.

use std::time::Duration;

use nexmark::EventGenerator;
use nexmark::config::NexmarkConfig;
use nexmark::event::{Auction, Bid, Event, Person};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

/// Partitions of every topic of the suite.
pub const PARTITIONS: i32 = 4;

/// One Kafka message: (partition, JSON payload).
pub type Message = (i32, Vec<u8>);

/// The first `n` Nexmark events, split by kind (in generation order).
#[derive(Default)]
pub struct Events {
    pub bids: Vec<Bid>,
    pub auctions: Vec<Auction>,
    pub persons: Vec<Person>,
}

impl Events {
    pub fn generate(n: usize) -> Events {
        let config = NexmarkConfig {
            base_time: sluice::connectors::nexmark::DEFAULT_BASE_TIME_MS,
            ..NexmarkConfig::default()
        };
        let mut events = Events::default();
        for event in EventGenerator::new(config).take(n) {
            match event {
                Event::Bid(b) => events.bids.push(b),
                Event::Auction(a) => events.auctions.push(a),
                Event::Person(p) => events.persons.push(p),
            }
        }
        events
    }
}

/// A bid as JSON, with `extra_fields` (such as a send stamp) added.
pub fn bid_json(b: &Bid, extra_fields: &[(&str, i64)]) -> Vec<u8> {
    let mut value = json!({
        "auction": b.auction, "bidder": b.bidder, "price": b.price, "channel": b.channel,
        "url": b.url, "date_time": b.date_time, "extra": b.extra,
    });
    for (name, v) in extra_fields {
        value[*name] = json!(v);
    }
    serde_json::to_vec(&value).expect("bid to JSON")
}

pub fn auction_json(a: &Auction) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": a.id, "item_name": a.item_name, "description": a.description,
        "initial_bid": a.initial_bid, "reserve": a.reserve, "date_time": a.date_time,
        "expires": a.expires, "seller": a.seller, "category": a.category, "extra": a.extra,
    }))
    .expect("auction to JSON")
}

pub fn person_json(p: &Person) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": p.id, "name": p.name, "email_address": p.email_address,
        "credit_card": p.credit_card, "city": p.city, "state": p.state,
        "date_time": p.date_time, "extra": p.extra,
    }))
    .expect("person to JSON")
}

/// Payloads spread round-robin over the partitions.
pub fn spread(payloads: impl IntoIterator<Item = Vec<u8>>) -> Vec<Message> {
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| ((i as i32) % PARTITIONS, p))
        .collect()
}

/// The column list of each topic's `CREATE SOURCE`, matching the JSON above.
pub const BID_COLUMNS: &str = "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, \
     url VARCHAR, date_time TIMESTAMP, extra VARCHAR";
pub const AUCTION_COLUMNS: &str = "id BIGINT, item_name VARCHAR, description VARCHAR, \
     initial_bid BIGINT, reserve BIGINT, date_time TIMESTAMP, expires TIMESTAMP, \
     seller BIGINT, category BIGINT, extra VARCHAR";
pub const PERSON_COLUMNS: &str = "id BIGINT, name VARCHAR, email_address VARCHAR, \
     credit_card VARCHAR, city VARCHAR, state VARCHAR, date_time TIMESTAMP, extra VARCHAR";

/// librdkafka's `fetch.wait.max.ms` for the latency measurements (peer, freshness),
/// in Sluice's sources and the raw consumers alike. tansu answers a fetch only when
/// this wait expires, even when messages arrive meanwhile (Apache Kafka answers at
/// once): with librdkafka's default of 500 ms every latency would measure that wait
/// (about 250 ms on average, measured). Throughput runs keep the default.
pub const LATENCY_FETCH_WAIT_MS: u32 = 10;

/// `CREATE SOURCE name (columns) ...` reading `topic` from the start; with
/// `fetch_wait_ms`, librdkafka's `fetch.wait.max.ms` set to it.
pub fn create_source(
    name: &str,
    columns: &str,
    topic: &str,
    broker: &str,
    fetch_wait_ms: Option<u32>,
) -> String {
    let wait = fetch_wait_ms
        .map(|ms| format!(", properties.fetch.wait.max.ms = '{ms}'"))
        .unwrap_or_default();
    format!(
        "CREATE SOURCE {name} ({columns}) WITH (connector = 'kafka', topic = '{topic}', \
         properties.bootstrap.server = '{broker}', scan.startup.mode = 'earliest'{wait}) \
         FORMAT PLAIN ENCODE JSON"
    )
}

/// A producer; `linger_ms` trades batching for latency.
pub fn producer(broker: &str, linger_ms: u32) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", linger_ms.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("Kafka producer")
}

/// Sends one message, waiting while the producer's queue is full.
pub fn send(producer: &BaseProducer, topic: &str, partition: i32, payload: &[u8]) {
    loop {
        let record = BaseRecord::<(), [u8]>::to(topic)
            .partition(partition)
            .payload(payload);
        match producer.send(record) {
            Ok(()) => break,
            Err(_) => {
                producer.poll(Duration::from_millis(1));
            }
        }
    }
    producer.poll(Duration::ZERO);
}

/// Sends `messages` and waits until the broker acknowledged them all.
pub fn send_all(producer: &BaseProducer, topic: &str, messages: &[Message]) {
    for (partition, payload) in messages {
        send(producer, topic, *partition, payload);
    }
    producer
        .flush(Duration::from_secs(120))
        .expect("all messages acknowledged");
}
