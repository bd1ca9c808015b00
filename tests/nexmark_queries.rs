//! The Nexmark queries in RisingWave's texts (`e2e_test/streaming/nexmark/`) as
//! materialized views over the `nexmark` generator, compared with PostgreSQL 15 over
//! the same events: every event the generator produced is copied into PostgreSQL, and
//! each view must equal its query there. PostgreSQL has no `TUMBLE`/`HOP`, so its
//! texts spell the windows with `date_bin`; and for queries whose ties PostgreSQL may
//! break any way (`ROW_NUMBER()` over equal prices or times) the columns the ties
//! decide are left out of the comparison.
//!
//! q6 is RisingWave's text with its ties broken explicitly (the winning bid among
//! equal prices, and auctions of a seller closing at the same time), since the
//! average over the last rows depends on which rows those are.
//!
//! q14 calls a user-defined function, `count_char`, which RisingWave defines in
//! JavaScript; here it is the same function as a SQL-language function
//! ([`COUNT_CHAR`]), created on both sides.
//!
//! q13 joins the bids with a side table `FOR SYSTEM_TIME AS OF PROCTIME()` (a temporal
//! join); the table does not change while bids come, so PostgreSQL's plain join is the
//! answer.
//!
//! Not here: q11 (session windows per bidder; tests/windows.rs), q12 (processing time).

mod common;

use common::nexmark::*;
use common::postgres::Postgres;
use common::{TestServer, same_sorted_rows, sorted_rows};
use tokio_postgres::Client;

const BIDS: u64 = 20_000;
const AUCTIONS: u64 = 1_500;
const PERSONS: u64 = 500;

/// `value` as a PostgreSQL literal.
fn literal(value: &Option<String>) -> String {
    match value {
        None => "NULL".into(),
        Some(text) => format!("'{}'", text.replace('\'', "''")),
    }
}

/// Copies the rows of Sluice's view `from` into PostgreSQL's table `to`.
async fn copy_events(ours: &Client, theirs: &Client, from: &str, to: &str) -> usize {
    let messages = ours
        .simple_query(&format!("SELECT * FROM {from}"))
        .await
        .unwrap();
    let rows = common::text_rows(&messages);
    for chunk in rows.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|row| {
                let items: Vec<String> = row.iter().map(literal).collect();
                format!("({})", items.join(", "))
            })
            .collect();
        theirs
            .batch_execute(&format!("INSERT INTO {to} VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    rows.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_views_equal_postgres() {
    let sluice = TestServer::start().await;
    let ours = sluice.client().await;
    let source = |name: &str, columns: &str, events: u64| {
        format!(
            "CREATE SOURCE {name} ({columns}) WITH (connector = 'nexmark', \
             nexmark.table.type = '{name}', nexmark.event.num = {events}, \
             nexmark.events.per.second = 0);
             CREATE MATERIALIZED VIEW all_{name}s AS SELECT * FROM {name};"
        )
    };
    ours.batch_execute(&format!(
        "{COUNT_CHAR}; {SIDE_INPUT}; {}{}{}",
        source("bid", BID, BIDS),
        source("auction", AUCTION, AUCTIONS),
        source("person", PERSON, PERSONS)
    ))
    .await
    .unwrap();
    // Each query on the server's workers (common::test_view_workers) and on one.
    for case in CASES {
        ours.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW {name} AS {sql};
             CREATE MATERIALIZED VIEW {name}_one WITH (workers = 1) AS {sql}",
            name = case.name,
            sql = case.sluice
        ))
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
    }
    wait_until_read(
        &ours,
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(300),
    )
    .await;
    ours.batch_execute("FLUSH").await.unwrap();

    let postgres = Postgres::start();
    let theirs = postgres.client().await;
    theirs
        .batch_execute(&format!(
            "CREATE TABLE bid ({BID}); CREATE TABLE auction ({AUCTION}); \
             CREATE TABLE person ({PERSON}); {COUNT_CHAR}; {SIDE_INPUT};"
        ))
        .await
        .unwrap();
    for (from, to, events) in [
        ("all_bids", "bid", BIDS),
        ("all_auctions", "auction", AUCTIONS),
        ("all_persons", "person", PERSONS),
    ] {
        assert_eq!(copy_events(&ours, &theirs, from, to).await as u64, events);
    }
    for case in CASES {
        let postgres_sql = case
            .postgres
            .unwrap_or(case.sluice)
            .replace("HOP_BID", HOP_BID);
        let theirs_rows = sorted_rows(
            &theirs,
            &format!("SELECT {} FROM ({postgres_sql}) q", case.compared),
        )
        .await;
        let one_worker = sorted_rows(
            &ours,
            &format!("SELECT {} FROM {}_one", case.compared, case.name),
        )
        .await;
        assert!(
            same_sorted_rows(&one_worker, &theirs_rows),
            "{} on one worker: Sluice has {} rows, PostgreSQL {}",
            case.name,
            one_worker.len(),
            theirs_rows.len()
        );
        let ours_rows = sorted_rows(
            &ours,
            &format!("SELECT {} FROM {}", case.compared, case.name),
        )
        .await;
        assert!(
            same_sorted_rows(&ours_rows, &theirs_rows),
            "{}: Sluice has {} rows, PostgreSQL {}; first differing: {:?}",
            case.name,
            ours_rows.len(),
            theirs_rows.len(),
            ours_rows.iter().zip(&theirs_rows).find(|(a, b)| a != b)
        );
        eprintln!("{}: {} rows, as in PostgreSQL", case.name, ours_rows.len());
        assert!(
            !theirs_rows.is_empty() || case.name == "q2",
            "{} has rows to compare",
            case.name
        );
    }
}

/// Seconds since the epoch, now.
fn epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// q12 (RisingWave's text) counts each bidder's bids per 10-second window of
/// processing time (`p_time ... AS PROCTIME()`: when the bids reached the view), which
/// PostgreSQL cannot know; summed over the windows the counts equal PostgreSQL's per
/// bidder over the same events, and every window is one of the test's 10 seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q12_counts_bids_in_processing_time_windows() {
    let sluice = TestServer::start().await;
    let ours = sluice.client().await;
    let started = epoch_seconds();
    ours.batch_execute(&format!(
        "CREATE SOURCE bid ({BID}, p_time TIMESTAMPTZ AS PROCTIME())
           WITH (connector = 'nexmark', nexmark.table.type = 'bid',
                 nexmark.event.num = {BIDS}, nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW all_bids AS
           SELECT auction, bidder, price, channel, url, date_time, extra FROM bid;
         CREATE MATERIALIZED VIEW q12 AS
           SELECT bidder, count(*) as bid_count, window_start, window_end
           FROM TUMBLE(bid, p_time, INTERVAL '10' SECOND)
           GROUP BY bidder, window_start, window_end;"
    ))
    .await
    .unwrap();
    wait_until_read(
        &ours,
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(300),
    )
    .await;
    ours.batch_execute("FLUSH").await.unwrap();
    let finished = epoch_seconds();

    let postgres = Postgres::start();
    let theirs = postgres.client().await;
    theirs
        .batch_execute(&format!("CREATE TABLE bid ({BID})"))
        .await
        .unwrap();
    assert_eq!(
        copy_events(&ours, &theirs, "all_bids", "bid").await as u64,
        BIDS
    );
    let per_bidder = sorted_rows(
        &ours,
        "SELECT bidder, sum(bid_count) FROM q12 GROUP BY bidder",
    )
    .await;
    assert!(per_bidder.len() > 10, "{} bidders", per_bidder.len());
    assert_eq!(
        per_bidder,
        sorted_rows(&theirs, "SELECT bidder, count(*) FROM bid GROUP BY bidder").await
    );
    let windows = sorted_rows(
        &ours,
        "SELECT DISTINCT CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT),
                CAST(EXTRACT(EPOCH FROM window_end) AS BIGINT) FROM q12",
    )
    .await;
    for window in &windows {
        let (start, end): (i64, i64) = (window[0].parse().unwrap(), window[1].parse().unwrap());
        assert!(
            start % 10 == 0 && end == start + 10 && start >= started - 10 && start <= finished,
            "window {start}..{end} for bids read between {started} and {finished}"
        );
    }
    // A processing time has no watermark.
    let error = ours
        .batch_execute(
            "CREATE SOURCE late (t TIMESTAMPTZ AS PROCTIME(), WATERMARK FOR t AS t)
               WITH (connector = 'nexmark', nexmark.table.type = 'bid')",
        )
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&error), "0A000", "{error:?}");
}
