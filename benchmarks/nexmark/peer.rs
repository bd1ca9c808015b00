//! The peer a user would pick instead: PostgreSQL 15 with a materialized view that is
//! recomputed by `REFRESH MATERIALIZED VIEW`, against a Sluice view over Kafka, both
//! holding the same aggregate (Nexmark q7's aggregate part: per 10-second window the
//! top price and the number of bids) over the same bids arriving in chunks of 1%.
//!
//! For each chunk, in turn on each system (interleaved, so both see the same machine
//! conditions):
//! - PostgreSQL: `COPY` the chunk into the table, `REFRESH MATERIALIZED VIEW`, read the
//!   bid count from the view;
//! - Sluice: produce the chunk to the Kafka topic and poll the view's bid count until
//!   it includes the chunk; the producer's acknowledgements are awaited afterwards
//!   (tansu takes ≈100 ms to acknowledge, which is not the view's freshness — the
//!   raw consumer below does not wait for them either).
//!
//! The time to a fresh result is measured from the chunk's first byte leaving the
//! client to the reply that shows it; both final views are checked to agree. A raw
//! `rdkafka` consumer of the same topic gives the Kafka transport's share: the time
//! from the start of a chunk's production until it has received the whole chunk.

use std::time::{Duration, Instant};

use futures::SinkExt;
use nexmark::event::Bid;
use rdkafka::Offset;
use rdkafka::producer::Producer;
use tokio_postgres::Client;

use crate::events::{self, Message};

/// Times to a fresh result after each chunk.
pub struct Peer {
    pub chunk_rows: usize,
    pub postgres: Vec<Duration>,
    pub sluice: Vec<Duration>,
    /// The raw consumer: time until it had received each chunk.
    pub kafka: Vec<Duration>,
    pub windows: i64,
}

const AGGREGATE_SLUICE: &str = "SELECT window_start, max(price) AS maxprice, count(*) AS bids \
     FROM TUMBLE(peer_bid, date_time, INTERVAL '10' SECOND) GROUP BY window_start";
const AGGREGATE_POSTGRES: &str = "SELECT date_bin('10 seconds', date_time, \
     TIMESTAMP '2024-01-01 00:00:00') AS window_start, max(price) AS maxprice, count(*) AS bids \
     FROM bid GROUP BY 1";
const BIDS: &str = "SELECT CAST(coalesce(sum(bids), 0) AS BIGINT) FROM peer_q7";

/// A bid as a CSV line for `COPY`.
fn csv(b: &Bid) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let time = chrono::DateTime::from_timestamp_millis(b.date_time as i64)
        .expect("bid time")
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.3f");
    format!(
        "{},{},{},{},{},{time},{}\n",
        b.auction,
        b.bidder,
        b.price,
        quote(&b.channel),
        quote(&b.url),
        quote(&b.extra)
    )
}

async fn scalar(client: &Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// Runs both sides over `bids` in `chunks` chunks.
pub async fn run(
    sluice: &Client,
    postgres: &Client,
    broker: &str,
    bids: &[Bid],
    chunks: usize,
) -> Peer {
    postgres
        .batch_execute(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, \
             url TEXT, date_time TIMESTAMP, extra TEXT)",
        )
        .await
        .expect("PostgreSQL table");
    postgres
        .batch_execute(&format!(
            "CREATE MATERIALIZED VIEW peer_q7 AS {AGGREGATE_POSTGRES}"
        ))
        .await
        .expect("PostgreSQL view");
    sluice
        .batch_execute(&format!(
            "{}; CREATE MATERIALIZED VIEW peer_q7 AS {AGGREGATE_SLUICE}",
            events::create_source(
                "peer_bid",
                events::BID_COLUMNS,
                "peer_bid",
                broker,
                Some(events::LATENCY_FETCH_WAIT_MS)
            )
        ))
        .await
        .expect("Sluice source and view");
    let producer = events::producer(broker, 1);

    let chunk_rows = bids.len().div_ceil(chunks);
    let mut result = Peer {
        chunk_rows,
        postgres: Vec::new(),
        sluice: Vec::new(),
        kafka: Vec::new(),
        windows: 0,
    };
    // The raw consumer notes when its count of messages reaches each chunk's end.
    let ends: Vec<usize> = (1..=bids.len().div_ceil(chunk_rows))
        .map(|k| (k * chunk_rows).min(bids.len()))
        .collect();
    let raw = {
        let (broker, ends) = (broker.to_string(), ends.clone());
        std::thread::spawn(move || {
            let consumer = crate::limits::consumer(
                &broker,
                "peer_bid",
                Offset::Beginning,
                Some(events::LATENCY_FETCH_WAIT_MS),
            );
            let mut reached = Vec::with_capacity(ends.len());
            let mut seen = 0;
            let started = Instant::now();
            while reached.len() < ends.len() && started.elapsed() < Duration::from_secs(600) {
                if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                    m.expect("raw consumer");
                    seen += 1;
                    if seen == ends[reached.len()] {
                        reached.push(Instant::now());
                    }
                }
            }
            reached
        })
    };
    let mut starts = Vec::new();
    let mut total = 0i64;
    for chunk in bids.chunks(chunk_rows) {
        total += chunk.len() as i64;
        let text: String = chunk.iter().map(csv).collect();
        let messages: Vec<Message> = events::spread(chunk.iter().map(|b| events::bid_json(b, &[])));

        let started = Instant::now();
        let sink = postgres
            .copy_in("COPY bid FROM STDIN (FORMAT csv)")
            .await
            .expect("COPY");
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(text))
            .await
            .expect("COPY data");
        sink.finish().await.expect("COPY end");
        postgres
            .batch_execute("REFRESH MATERIALIZED VIEW peer_q7")
            .await
            .expect("REFRESH");
        assert_eq!(scalar(postgres, BIDS).await, total, "PostgreSQL view");
        result.postgres.push(started.elapsed());

        let started = Instant::now();
        starts.push(started);
        for (partition, payload) in &messages {
            events::send(&producer, "peer_bid", *partition, payload);
        }
        loop {
            let seen = scalar(sluice, BIDS).await;
            if seen == total {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "Sluice view: {seen} of {total} bids after 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        result.sluice.push(started.elapsed());
        tokio::task::block_in_place(|| {
            producer
                .flush(Duration::from_secs(120))
                .expect("all messages acknowledged")
        });
    }
    let reached = raw.join().expect("raw consumer thread");
    assert_eq!(
        reached.len(),
        starts.len(),
        "the raw consumer saw every chunk"
    );
    result.kafka = reached
        .iter()
        .zip(&starts)
        .map(|(r, s)| r.saturating_duration_since(*s))
        .collect();
    // Both views must hold the same windows.
    let query = "SELECT CAST(count(*) AS BIGINT) FROM peer_q7";
    result.windows = scalar(postgres, query).await;
    assert_eq!(scalar(sluice, query).await, result.windows, "window count");
    let check = "SELECT CAST(sum(maxprice) AS BIGINT) FROM peer_q7";
    assert_eq!(
        scalar(sluice, check).await,
        scalar(postgres, check).await,
        "top prices"
    );
    sluice
        .batch_execute("DROP MATERIALIZED VIEW peer_q7")
        .await
        .expect("drop");
    result
}
