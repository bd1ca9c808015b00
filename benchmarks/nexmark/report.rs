//! The suite's Markdown tables: every figure next to the baseline measured in the
//! same run, as a ratio.

use std::time::Duration;

use crate::Settings;
use crate::freshness::Freshness;
use crate::limits::Run;
use crate::peer::Peer;
use crate::queries::{Outcome, Query};
use crate::shared::Setup;

pub struct Report<'a> {
    pub settings: &'a Settings,
    pub bids: u64,
    pub auctions: u64,
    pub persons: u64,
    /// Per topic: (topic, (a) consume, (b) consume + decode).
    pub limits: &'a [(String, Run, Run)],
    /// Per query and worker count.
    pub outcomes: &'a [(&'a Query, usize, Outcome)],
    /// The shared-reader comparison: (label, outcome) per setup, shared first.
    pub shared: &'a [(&'static str, Option<Setup>)],
    pub peer: &'a Peer,
    pub freshness: &'a [Freshness],
}

/// The queries that keep no state (their goal is 0.8 of consume + decode).
const STATELESS: [&str; 5] = ["q0", "q1", "q2", "q21", "q22"];

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rate(events: f64, seconds: f64) -> String {
    format!("{:.0}", events / seconds)
}

/// The `p`-quantile (0..1) of `values` (nearest rank).
fn quantile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn mean(values: &[Duration]) -> Duration {
    values.iter().sum::<Duration>() / values.len().max(1) as u32
}

pub fn print(r: &Report) {
    let s = r.settings;
    println!(
        "## Nexmark from Kafka ({} mode): {} events = {} bids, {} auctions, {} persons, \
         in 4-partition topics\n",
        s.mode, s.events, r.bids, r.auctions, r.persons
    );
    println!(
        "Time: from `CREATE MATERIALIZED VIEW` (readers start at the earliest offset) until \
         every reader has read its whole topic and `FLUSH` returned. Per core: events per \
         CPU-second of the benchmark process (Sluice, client, baselines) and the broker. \
         (a): raw rdkafka consumption; (b): (a) + Sluice's JSON decoder; ratios are \
         events/s ÷ the limit's events/s over the same topics.\n"
    );
    println!(
        "| query | what | workers | events read | time | events/s | events/s per core | vs (a) consume | vs (b) consume + decode | rows in view |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (topic, raw, decoded) in r.limits {
        for (name, run) in [("(a) raw consume", raw), ("(b) consume + decode", decoded)] {
            let n = match topic.as_str() {
                "bid" => r.bids,
                "auction" => r.auctions,
                _ => r.persons,
            } as f64;
            let secs = run.time.as_secs_f64();
            println!(
                "| {name}: {topic} | limit | | {n} | {secs:.2} s | {} | {} | {:.2} | {:.2} | |",
                rate(n, secs),
                rate(n, run.cpu),
                raw.time.as_secs_f64() / secs,
                decoded.time.as_secs_f64() / secs,
            );
        }
    }
    // A query's limit is the limits' time over the topics its readers read.
    let limit = |query: &Query, pick: fn(&(String, Run, Run)) -> Duration| {
        query
            .sources
            .iter()
            .filter_map(|s| r.limits.iter().find(|l| l.0 == *s).map(pick))
            .sum::<Duration>()
    };
    let mut against_goal = Vec::new();
    for (query, workers, outcome) in r.outcomes {
        match outcome {
            Outcome::Done {
                events,
                time,
                cpu,
                rows,
            } => {
                let secs = time.as_secs_f64();
                let a = limit(query, |l| l.1.time).as_secs_f64() / secs;
                let b = limit(query, |l| l.2.time).as_secs_f64() / secs;
                // The goals: stateless views at 0.8 of (b), stateful ones at 0.5.
                let goal = if STATELESS.contains(&query.name) {
                    0.8
                } else {
                    0.5
                };
                against_goal.push((format!("{} on {workers}", query.name), b, goal));
                println!(
                    "| {} | {} | {workers} | {events} | {secs:.2} s | {} | {} | {a:.2} | {b:.2} | {rows} |",
                    query.name,
                    query.what,
                    rate(*events as f64, secs),
                    rate(*events as f64, *cpu),
                );
            }
            Outcome::NotRun(why) => println!(
                "| {} | {} | {workers} | | | | | | | {} |",
                query.name,
                query.what,
                why.replace('|', "\\|").replace('\n', " ")
            ),
        }
    }
    for (kind, goal) in [("Stateless", 0.8), ("Stateful", 0.5)] {
        let runs: Vec<&(String, f64, f64)> =
            against_goal.iter().filter(|(_, _, g)| *g == goal).collect();
        let below: Vec<String> = runs
            .iter()
            .filter(|(_, b, _)| *b < goal)
            .map(|(q, b, _)| format!("{q} ({b:.2})"))
            .collect();
        println!(
            "\n{kind} queries at ≥ {goal} of (b): {} of {}{}.",
            runs.len() - below.len(),
            runs.len(),
            if below.is_empty() {
                String::new()
            } else {
                format!("; below: {}", below.join(", "))
            }
        );
    }

    println!(
        "\n## Shared readers: four views over the `bid` topic ({} bids), one source vs four\n",
        r.bids
    );
    println!(
        "Four views (a count, q2's filter, a count per channel, q7's window maximum) created \
         in one statement, over one source (its reader decodes each message once for all \
         four) and over four sources of the same topic (four readers, each decoding every \
         message: how every view read before readers were shared). Time: until every view \
         was sent every bid and `FLUSH` returned. Readers: the most at once, and at the end \
         (a view created after the shared reader's first batch is backfilled by a reader \
         of its own, then handed over).\n"
    );
    println!("| setup | readers (most / end) | time | bids/s per view | CPU-s | time ÷ shared |");
    println!("|---|---:|---:|---:|---:|---:|");
    let shared_time = r
        .shared
        .first()
        .and_then(|(_, s)| s.as_ref())
        .map(|s| s.time);
    for (label, setup) in r.shared {
        match setup {
            Some(s) => println!(
                "| {label} | {} / {} | {:.2} s | {} | {:.1} | {} |",
                s.readers.0,
                s.readers.1,
                s.time.as_secs_f64(),
                rate(r.bids as f64, s.time.as_secs_f64()),
                s.cpu,
                shared_time.map_or("".into(), |t| format!(
                    "{:.2}",
                    s.time.as_secs_f64() / t.as_secs_f64()
                )),
            ),
            None => println!("| {label} | | did not finish | | | |"),
        }
    }

    let p = r.peer;
    println!(
        "\n## Time to a fresh aggregate: PostgreSQL 15 vs Sluice ({} chunks of {} bids)\n",
        p.postgres.len(),
        p.chunk_rows
    );
    println!(
        "Aggregate: q7's (top price and bid count per 10-second window; {} windows at the end). \
         PostgreSQL: `COPY` the chunk, `REFRESH MATERIALIZED VIEW`, read the view. Sluice: \
         produce the chunk to Kafka and poll the view until it counts it (the producer's acknowledgements are awaited after). \
         Kafka alone: a raw consumer of the same topic, until it has received the chunk. \
         Consumers' `fetch.wait.max.ms`: {} ms (tansu holds a fetch for that long).\n",
        p.windows,
        crate::events::LATENCY_FETCH_WAIT_MS
    );
    println!("| system | p50 | p99 | first chunk | mean of last 10 chunks | total |");
    println!("|---|---:|---:|---:|---:|---:|");
    let last = |v: &[Duration]| mean(&v[v.len().saturating_sub(10)..]);
    for (name, v) in [
        ("PostgreSQL 15: COPY + REFRESH", &p.postgres),
        ("Sluice: Kafka → view", &p.sluice),
        ("Kafka alone: produce → raw consumer", &p.kafka),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} s |",
            ms(quantile(v, 0.5)),
            ms(quantile(v, 0.99)),
            ms(v[0]),
            ms(last(v)),
            v.iter().sum::<Duration>().as_secs_f64()
        );
    }
    let ratio = |f: &dyn Fn(&[Duration]) -> Duration| {
        f(&p.postgres).as_secs_f64() / f(&p.sluice).as_secs_f64()
    };
    println!(
        "| PostgreSQL ÷ Sluice | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        ratio(&|v| quantile(v, 0.5)),
        ratio(&|v| quantile(v, 0.99)),
        ratio(&|v| v[0]),
        ratio(&|v| last(v)),
        ratio(&|v| v.iter().sum())
    );

    println!("\n## Freshness: send → visible in a view (`max(sent)`), at a fixed rate\n");
    println!(
        "Baseline: a raw rdkafka consumer of the same topic in the same run (send → received). \
         The view's time is the arrival of the first poll reply (polled every ~2 ms) showing \
         the event's stamp. Consumers' `fetch.wait.max.ms`: {} ms.\n",
        crate::events::LATENCY_FETCH_WAIT_MS
    );
    println!(
        "| target rate | sent | achieved rate | raw consumer p50 | raw p99 | view p50 | view p99 | view max | view p50 ÷ raw p50 | not visible |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in r.freshness {
        let (raw50, view50) = (quantile(&f.raw, 0.5), quantile(&f.view, 0.5));
        println!(
            "| {}/s for {} s | {} | {}/s | {} | {} | {} | {} | {} | {:.1} | {} |",
            f.rate,
            f.duration.as_secs(),
            f.sent,
            rate(f.sent as f64, f.elapsed.as_secs_f64()),
            ms(raw50),
            ms(quantile(&f.raw, 0.99)),
            ms(view50),
            ms(quantile(&f.view, 0.99)),
            ms(quantile(&f.view, 1.0)),
            view50.as_secs_f64() / raw50.as_secs_f64().max(1e-6),
            f.not_visible
        );
    }
    println!();
}
