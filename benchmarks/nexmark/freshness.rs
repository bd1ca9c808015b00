//! Freshness: how long after an event is sent it is visible in a view.
//!
//! A producer thread sends bids at a fixed rate, each stamped with its send time
//! (`sent`, microseconds since the epoch); Sluice reads the topic into a view keeping
//! the largest stamp seen, and a client polls that view. An event is visible at the
//! first poll reply whose largest stamp is at least its own; its latency is that
//! reply's arrival minus its send time. The baseline, in the same run, is a raw
//! `rdkafka` consumer of the same topic: receive time minus send time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nexmark::event::Bid;
use rdkafka::consumer::Consumer;
use rdkafka::producer::Producer;
use rdkafka::{Message, Offset};
use tokio_postgres::Client;

use crate::events;

pub struct Freshness {
    pub rate: u64,
    pub duration: Duration,
    pub sent: usize,
    /// Send duration actually taken (the achieved rate is `sent / elapsed`).
    pub elapsed: Duration,
    /// Latencies of the raw consumer (baseline) and of the view, one per event.
    pub raw: Vec<Duration>,
    pub view: Vec<Duration>,
    /// Events never seen in the view within the wait after the last send.
    pub not_visible: usize,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros() as i64
}

/// Sends `bids` (cycled) at `rate` per second for `duration`; returns the stamps.
fn produce(broker: &str, topic: &str, bids: &[Bid], rate: u64, duration: Duration) -> Vec<i64> {
    // librdkafka's default linger (5 ms): with 1 ms, tansu fell behind the many small
    // produce requests at 10,000 events/s (its acknowledgements took seconds).
    let producer = events::producer(broker, 5);
    let mut stamps = Vec::with_capacity((rate as f64 * duration.as_secs_f64()) as usize);
    let started = Instant::now();
    let total = (rate as f64 * duration.as_secs_f64()) as usize;
    while stamps.len() < total {
        // Catch up to the schedule, then sleep for a millisecond.
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(total);
        while stamps.len() < due {
            let i = stamps.len();
            let stamp = now_us();
            let payload = events::bid_json(&bids[i % bids.len()], &[("sent", stamp)]);
            events::send(&producer, topic, (i as i32) % events::PARTITIONS, &payload);
            stamps.push(stamp);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("all messages acknowledged");
    stamps
}

/// The raw consumer: latency of each message until `stop`.
fn consume(broker: &str, topic: &str, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let consumer = crate::limits::consumer(
        broker,
        topic,
        Offset::Beginning,
        Some(events::LATENCY_FETCH_WAIT_MS),
    );
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Acquire) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            let received = now_us();
            let payload = m.payload().unwrap_or_default();
            let sent: Option<i64> = std::str::from_utf8(payload)
                .ok()
                .and_then(|text| text.split("\"sent\":").nth(1))
                .and_then(|rest| rest.trim_end_matches('}').split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(sent) = sent {
                latencies.push(Duration::from_micros((received - sent).max(0) as u64));
            }
        }
    }
    drop(consumer.unassign());
    latencies
}

/// One freshness run at `rate` events per second.
pub async fn run(
    client: &Client,
    broker: &str,
    bids: &[Bid],
    rate: u64,
    duration: Duration,
) -> Freshness {
    let topic = format!("fresh_{rate}");
    let columns = format!("{}, sent BIGINT", events::BID_COLUMNS);
    client
        .batch_execute(&format!(
            "{}; CREATE MATERIALIZED VIEW {topic}_latest AS \
             SELECT max(sent) AS latest FROM {topic}",
            events::create_source(
                &topic,
                &columns,
                &topic,
                broker,
                Some(events::LATENCY_FETCH_WAIT_MS)
            )
        ))
        .await
        .expect("freshness source and view");
    let poll = format!("SELECT coalesce(max(latest), 0) FROM {topic}_latest");

    let stop = Arc::new(AtomicBool::new(false));
    let raw = {
        let (broker, topic, stop) = (broker.to_string(), topic.clone(), stop.clone());
        std::thread::spawn(move || consume(&broker, &topic, stop))
    };
    let producer = {
        let (broker, topic, bids) = (broker.to_string(), topic.clone(), bids.to_vec());
        std::thread::spawn(move || {
            let started = Instant::now();
            let stamps = produce(&broker, &topic, &bids, rate, duration);
            (stamps, started.elapsed())
        })
    };
    // (reply arrival, largest stamp visible), polled until the last stamp shows.
    let mut polls: Vec<(i64, i64)> = Vec::new();
    let mut finished: Option<(Vec<i64>, Duration, Instant)> = None;
    let producer = Some(producer);
    let mut producer = producer;
    loop {
        let latest: i64 = client
            .query_one(&poll, &[])
            .await
            .expect("poll the view")
            .get(0);
        polls.push((now_us(), latest));
        if finished.is_none() && producer.as_ref().is_some_and(|p| p.is_finished()) {
            let (stamps, elapsed) = producer
                .take()
                .expect("producer")
                .join()
                .expect("producer thread");
            finished = Some((stamps, elapsed, Instant::now()));
        }
        if let Some((stamps, _, done)) = &finished
            && (stamps.last().is_none_or(|last| latest >= *last)
                || done.elapsed() > Duration::from_secs(30))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Release);
    let raw = raw.join().expect("consumer thread");
    let (stamps, elapsed, _) = finished.expect("producer finished");

    let mut view = Vec::with_capacity(stamps.len());
    let mut not_visible = 0;
    let mut next = 0;
    // Stamps rise in send order; polls' largest stamps never fall: one merge pass.
    for stamp in &stamps {
        while next < polls.len() && polls[next].1 < *stamp {
            next += 1;
        }
        match polls.get(next) {
            Some((at, _)) => view.push(Duration::from_micros((at - stamp).max(0) as u64)),
            None => not_visible += 1,
        }
    }
    client
        .batch_execute(&format!("DROP MATERIALIZED VIEW {topic}_latest"))
        .await
        .expect("drop");
    Freshness {
        rate,
        duration,
        sent: stamps.len(),
        elapsed,
        raw,
        view,
        not_visible,
    }
}
