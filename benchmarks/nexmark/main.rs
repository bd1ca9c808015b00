//! The streaming suite: Nexmark queries over Kafka in Sluice, side by side, in the
//! same run, with the limits of a Kafka source (raw `rdkafka` consumption; the same
//! plus JSON decoding), with PostgreSQL 15 (`COPY` + `REFRESH MATERIALIZED VIEW`) for
//! the freshness of an aggregate, and with a raw consumer for the end-to-end
//! freshness of a view at fixed event rates; and four views reading one source
//! (a shared reader) next to four views reading four sources of the same topic.
//!
//! It starts what it needs on 127.0.0.1: the tansu broker (tests/common/kafka.rs),
//! an in-process Sluice server and a throwaway PostgreSQL 15 (tests/common/postgres.rs).
//! Results go to stdout as Markdown tables, progress to stderr.
//!
//! Run with `./scripts/bench.sh` (see docs/benchmarks.md). Without `--bench` (as
//! `cargo test --all-targets` runs it) it makes a smoke run of seconds over 10,000
//! events. Settings: `SLUICE_BENCH_FULL=1` (5,000,000 events, 60 s per rate; quick:
//! 1,000,000 events, 10 s per rate), `SLUICE_BENCH_EVENTS=n`, `SLUICE_BENCH_FRESHNESS_S=s`,
//! `SLUICE_BENCH_WORKERS=1,2` (the worker counts of the query views; default 1 and the
//! machine's cores).

// The tests' harness: the in-process server, the tansu broker, PostgreSQL.
#[path = "../../tests/common/mod.rs"]
mod common;

mod cpu;
mod events;
mod freshness;
mod limits;
mod peer;
mod queries;
mod report;
mod shared;

use std::time::Duration;

use common::{kafka, postgres};

/// What to run.
pub struct Settings {
    pub mode: &'static str,
    pub events: usize,
    pub rates: Vec<u64>,
    pub freshness: Duration,
    /// Chunks of the peer comparison (100: 1% each).
    pub chunks: usize,
    /// How long a query may make no progress before it is reported as not finishing.
    pub stall: Duration,
    /// The worker counts each query runs with (`SLUICE_BENCH_WORKERS`, default 1 and
    /// the machine's cores).
    pub workers: Vec<usize>,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| panic!("{name}: a number"))
            })
        };
        let mut settings = if !std::env::args().any(|a| a == "--bench") {
            Settings {
                mode: "smoke",
                events: 10_000,
                rates: vec![2_000],
                freshness: Duration::from_secs(1),
                chunks: 10,
                stall: Duration::from_secs(30),
                workers: Vec::new(),
            }
        } else if std::env::var("SLUICE_BENCH_FULL").is_ok_and(|v| v == "1") {
            Settings {
                mode: "full",
                events: 5_000_000,
                rates: vec![10_000, 50_000],
                freshness: Duration::from_secs(60),
                chunks: 100,
                stall: Duration::from_secs(120),
                workers: Vec::new(),
            }
        } else {
            Settings {
                mode: "quick",
                events: 1_000_000,
                rates: vec![10_000, 50_000],
                freshness: Duration::from_secs(10),
                chunks: 100,
                stall: Duration::from_secs(60),
                workers: Vec::new(),
            }
        };
        if let Some(n) = number("SLUICE_BENCH_EVENTS") {
            settings.events = n as usize;
        }
        if let Some(s) = number("SLUICE_BENCH_FRESHNESS_S") {
            settings.freshness = Duration::from_secs(s);
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        settings.workers = match std::env::var("SLUICE_BENCH_WORKERS") {
            Ok(list) => list
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect(),
            Err(_) => vec![1, cores],
        };
        settings.workers.dedup();
        settings
    }
}

fn progress(message: impl std::fmt::Display) {
    eprintln!("nexmark: {message}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let settings = Settings::from_env();
    let started = std::time::Instant::now();
    let events = events::Events::generate(settings.events);
    let broker = kafka::Broker::start();
    let address = broker.address();
    let producer = events::producer(&address, 5);
    let topics: [(&str, &str, Vec<events::Message>); 3] = [
        (
            "bid",
            events::BID_COLUMNS,
            events::spread(events.bids.iter().map(|b| events::bid_json(b, &[]))),
        ),
        (
            "auction",
            events::AUCTION_COLUMNS,
            events::spread(events.auctions.iter().map(events::auction_json)),
        ),
        (
            "person",
            events::PERSON_COLUMNS,
            events::spread(events.persons.iter().map(events::person_json)),
        ),
    ];
    for (topic, _, messages) in &topics {
        broker.create_topic(topic, events::PARTITIONS as u32);
        events::send_all(&producer, topic, messages);
    }
    drop(producer);
    let count = |topic: &str| {
        topics
            .iter()
            .find(|(t, _, _)| *t == topic)
            .map_or(0, |(_, _, m)| m.len() as u64)
    };
    progress(format_args!(
        "{} events loaded ({} bids, {} auctions, {} persons) in {:.1} s",
        settings.events,
        count("bid"),
        count("auction"),
        count("person"),
        started.elapsed().as_secs_f64()
    ));

    // The limits, per topic: (a) consume, (b) consume + decode.
    let mut limits = Vec::new();
    for (topic, columns, messages) in &topics {
        let (address, topic, n) = (address.clone(), topic.to_string(), messages.len());
        let schema = limits::schema(columns);
        let run = tokio::task::spawn_blocking(move || {
            let raw = limits::consume(&address, &topic, n, None);
            let decoded = limits::consume(&address, &topic, n, Some(schema));
            (topic, raw, decoded)
        })
        .await
        .expect("limits");
        progress(format_args!(
            "limits on {}: consume {:.2} s, consume + decode {:.2} s",
            run.0,
            run.1.time.as_secs_f64(),
            run.2.time.as_secs_f64()
        ));
        limits.push(run);
    }

    let server = common::TestServer::start().await;
    let client = server.client().await;
    for (topic, columns, _) in &topics {
        client
            .batch_execute(&events::create_source(
                topic, columns, topic, &address, None,
            ))
            .await
            .expect("create source");
    }
    let mut outcomes = Vec::new();
    for query in queries::QUERIES {
        for &workers in &settings.workers {
            let outcome = queries::run(
                &client,
                query,
                workers,
                count,
                settings.stall,
                settings.stall,
            )
            .await;
            match &outcome {
                queries::Outcome::Done { time, .. } => progress(format_args!(
                    "{} on {workers} worker(s): {:.2} s",
                    query.name,
                    time.as_secs_f64()
                )),
                queries::Outcome::NotRun(why) => {
                    progress(format_args!("{} on {workers} worker(s): {why}", query.name))
                }
            }
            outcomes.push((query, workers, outcome));
        }
    }

    let shared = shared::run(&client, &address, count("bid"), settings.stall).await;
    progress("shared readers done");

    broker.create_topic("peer_bid", events::PARTITIONS as u32);
    let postgres = postgres::Postgres::start();
    let pg = postgres.client().await;
    let peer = peer::run(&client, &pg, &address, &events.bids, settings.chunks).await;
    progress("PostgreSQL peer done");
    drop(pg);
    drop(postgres);

    let mut fresh = Vec::new();
    for rate in &settings.rates {
        broker.create_topic(&format!("fresh_{rate}"), events::PARTITIONS as u32);
        fresh
            .push(freshness::run(&client, &address, &events.bids, *rate, settings.freshness).await);
        progress(format_args!("freshness at {rate}/s done"));
    }

    report::print(&report::Report {
        settings: &settings,
        bids: count("bid"),
        auctions: count("auction"),
        persons: count("person"),
        limits: &limits,
        outcomes: &outcomes,
        shared: &shared,
        peer: &peer,
        freshness: &fresh,
    });
    progress(format_args!(
        "done in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}
