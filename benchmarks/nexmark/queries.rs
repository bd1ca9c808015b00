//! The Nexmark queries as Sluice materialized views over the Kafka sources `bid`,
//! `auction` and `person`, and the timing of one view from `CREATE MATERIALIZED VIEW`
//! until it has consumed every event of its sources.
//!
//! Query texts follow RisingWave's Nexmark suite (`e2e_test/streaming/nexmark/`);
//! for q5, q7 and q8 the aggregate parts (as in tests/windows.rs) are run, and the
//! full queries are tried too. A query Sluice refuses is kept in the table with
//! Sluice's own error message.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

/// One query of the table.
pub struct Query {
    pub name: &'static str,
    /// What it exercises.
    pub what: &'static str,
    /// The sources it reads, each once.
    pub sources: &'static [&'static str],
    pub sql: &'static str,
}

pub const QUERIES: &[Query] = &[
    Query {
        name: "q0",
        what: "pass-through",
        sources: &["bid"],
        sql: "SELECT auction, bidder, price, date_time FROM bid",
    },
    Query {
        name: "q1",
        what: "currency conversion",
        sources: &["bid"],
        sql: "SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid",
    },
    Query {
        name: "q2",
        what: "filter",
        sources: &["bid"],
        sql: "SELECT auction, price FROM bid WHERE auction % 123 = 0",
    },
    Query {
        name: "q21",
        what: "string functions (regexp_match, lower, CASE)",
        sources: &["bid"],
        sql: "SELECT auction, bidder, price, channel,
                CASE WHEN lower(channel) = 'apple' THEN '0'
                     WHEN lower(channel) = 'google' THEN '1'
                     WHEN lower(channel) = 'facebook' THEN '2'
                     WHEN lower(channel) = 'baidu' THEN '3'
                     ELSE (regexp_match(url, '(&|^)channel_id=([^&]*)'))[2] END AS channel_id
              FROM bid
              WHERE (regexp_match(url, '(&|^)channel_id=([^&]*)'))[2] IS NOT NULL
                 OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')",
    },
    Query {
        name: "q22",
        what: "string functions (split_part)",
        sources: &["bid"],
        sql: "SELECT auction, bidder, price, channel,
                split_part(url, '/', 4) AS dir1, split_part(url, '/', 5) AS dir2,
                split_part(url, '/', 6) AS dir3
              FROM bid",
    },
    Query {
        name: "q5 (aggregate part)",
        what: "HOP 10 s / 2 s, count per auction",
        sources: &["bid"],
        sql: "SELECT auction, window_start, count(*) AS num
              FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
              GROUP BY auction, window_start",
    },
    Query {
        name: "q7 (aggregate part)",
        what: "TUMBLE 10 s, max price",
        sources: &["bid"],
        sql: "SELECT window_start, max(price) AS maxprice, count(*) AS bids
              FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY window_start",
    },
    Query {
        name: "q8 (aggregate part)",
        what: "TUMBLE 10 s, new persons",
        sources: &["person"],
        sql: "SELECT id, name, window_start FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
              GROUP BY id, name, window_start",
    },
    Query {
        name: "q3",
        what: "inner equi-join auction ⋈ person, filters",
        sources: &["auction", "person"],
        sql: "SELECT P.name, P.city, P.state, A.id
              FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
              WHERE A.category = 10 AND (P.state = 'or' OR P.state = 'id' OR P.state = 'ca')",
    },
    Query {
        name: "q4",
        what: "join bid ⋈ auction (time range), two-level aggregate",
        sources: &["bid", "auction"],
        sql: "SELECT Q.category, avg(Q.final) AS avg
              FROM (SELECT max(B.price) AS final, A.category
                    FROM auction A, bid B
                    WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
                    GROUP BY A.id, A.category) Q
              GROUP BY Q.category",
    },
    Query {
        name: "q7 (full)",
        what: "self-join of bid with its windowed max",
        // One reader: a view reading a source twice reads it once.
        sources: &["bid"],
        sql: "SELECT B.auction, B.price, B.bidder, B.date_time
              FROM bid B
              JOIN (SELECT max(price) AS maxprice, window_end AS date_time
                    FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY window_end) B1
                ON B.price = B1.maxprice
              WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time",
    },
    Query {
        name: "q8 (full)",
        what: "join of windowed person and auction",
        sources: &["person", "auction"],
        sql: "SELECT P.id, P.name, P.starttime
              FROM (SELECT id, name, window_start AS starttime, window_end AS endtime
                    FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
                    GROUP BY id, name, window_start, window_end) P
              JOIN (SELECT seller, window_start AS starttime, window_end AS endtime
                    FROM TUMBLE(auction, date_time, INTERVAL '10' SECOND)
                    GROUP BY seller, window_start, window_end) A
                ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime",
    },
];

/// The result of one query.
pub enum Outcome {
    Done {
        /// Events its readers consumed (every event of its sources, once per reader).
        events: u64,
        time: Duration,
        cpu: f64,
        rows: i64,
    },
    /// Sluice refused the view, or it did not finish: why.
    NotRun(String),
}

async fn count(client: &Client, sql: &str) -> Result<i64, tokio_postgres::Error> {
    client.query_one(sql, &[]).await.map(|r| r.get(0))
}

/// Creates the view on `workers` workers, waits until its readers have delivered every event of their
/// sources (`counts`: events per source) and the
/// view has applied them (`FLUSH`), then drops it. `stall` bounds how long the count
/// may stand still, `limit` how long `FLUSH` may take, before the query is reported as
/// not finishing.
pub async fn run(
    client: &Client,
    query: &Query,
    workers: usize,
    counts: impl Fn(&str) -> u64,
    stall: Duration,
    limit: Duration,
) -> Outcome {
    let view = format!("bench_{}", query.name.split(' ').next().unwrap_or("q"));
    let view = if query.name.contains("full") {
        format!("{view}_full")
    } else {
        view
    };
    let cpu = crate::cpu::seconds();
    let started = Instant::now();
    if let Err(e) = client
        .batch_execute(&format!(
            "CREATE MATERIALIZED VIEW {view} WITH (workers = {workers}) AS {}",
            query.sql
        ))
        .await
    {
        let message = e.as_db_error().map_or_else(
            || e.to_string(),
            |d| format!("{}: {}", d.code().code(), d.message()),
        );
        return Outcome::NotRun(format!("not supported: {message}"));
    }
    let progress = format!(
        "SELECT source, rows_read FROM sluice_catalog.source_status WHERE reader = '{view}'"
    );
    let mut last = (0u64, Instant::now());
    let outcome = loop {
        // Every reader of the view (one per source it reads) has read its whole topic.
        let readers: Vec<(String, i64)> = client
            .query(&progress, &[])
            .await
            .expect("source_status")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let read: u64 = readers.iter().map(|(_, n)| *n as u64).sum();
        let complete = query
            .sources
            .iter()
            .all(|s| readers.iter().any(|(source, _)| source == s))
            && readers
                .iter()
                .all(|(source, n)| *n as u64 >= counts(source.as_str()));
        if complete {
            let events = read;
            // Delivered is not applied: FLUSH waits for the view to apply it all.
            let flush = tokio::time::timeout(limit, client.batch_execute("FLUSH")).await;
            if flush.is_err() {
                break Outcome::NotRun(format!(
                    "did not finish: all {events} events read, not applied within {} s",
                    limit.as_secs()
                ));
            }
            flush.expect("checked").expect("FLUSH");
            let time = started.elapsed();
            let cpu = crate::cpu::seconds() - cpu;
            let rows = count(client, &format!("SELECT count(*) FROM {view}"))
                .await
                .expect("count the view");
            break Outcome::Done {
                events,
                time,
                cpu,
                rows,
            };
        }
        if read > last.0 {
            last = (read, Instant::now());
        } else if last.1.elapsed() > stall {
            break Outcome::NotRun(format!(
                "did not finish: {read} events read, no progress for {} s",
                stall.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    client
        .batch_execute(&format!("DROP MATERIALIZED VIEW {view}"))
        .await
        .expect("drop the view");
    outcome
}
