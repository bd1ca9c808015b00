//! A backlog read through a watermarked source (issue 12, part 0): TUMBLE views created
//! after a large backlog was produced, in event-time order per partition, over four
//! partitions of uneven sizes (one of them empty), count every event — continuous and
//! `EMIT ON WINDOW CLOSE`, when created and again after a server restart (from the
//! views' checkpoint, without reading the backlog again) — and
//! `late_rows` counts only the events that are late by the watermark rule.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::{Rng, TestServer, connect, sorted_rows, wait_for};
use tokio_postgres::Client;

/// Events in the backlog (each view reads them all, and again after the restart).
const EVENTS: i64 = 1_000_000;
/// Event times cover this many seconds, in order: 100 ten-second windows.
const SECONDS: i64 = 1000;
/// Share of the backlog (in tenths) in partitions 0..4: uneven, the last one empty.
const SHARES: [u64; 4] = [5, 3, 2, 0];
/// `watermark.idle.timeout.ms` of the source, in milliseconds.
const IDLE_MS: u64 = 2000;
/// The two views: a continuous one and an `EMIT ON WINDOW CLOSE` one.
const VIEWS: [(&str, &str); 2] = [("live", ""), ("closed", " EMIT ON WINDOW CLOSE")];

/// An event at `second` seconds after 2024-01-01 00:00:00, for `partition`.
fn event(partition: i32, second: i64) -> (i32, Vec<u8>) {
    let text = format!(
        r#"{{"ts": "2024-01-01T{:02}:{:02}:{:02}Z"}}"#,
        second / 3600,
        second / 60 % 60,
        second % 60
    );
    (partition, text.into_bytes())
}

/// The backlog as (partition, second): event times in order, each event sent to a
/// partition drawn by [`SHARES`], so each partition is in time order and their sizes
/// differ.
fn backlog() -> Vec<(i32, i64)> {
    let mut rng = Rng(0xb4c1);
    (0..EVENTS)
        .map(|i| {
            let mut draw = rng.below(10) as u64;
            let partition = SHARES
                .iter()
                .position(|share| {
                    let inside = draw < *share;
                    draw = draw.saturating_sub(*share);
                    inside
                })
                .unwrap_or(0);
            (partition as i32, i * SECONDS / EVENTS)
        })
        .collect()
}

/// Events per window start (seconds), for events at `seconds`.
fn counts(seconds: impl IntoIterator<Item = i64>) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for second in seconds {
        *out.entry(second / 10 * 10).or_insert(0) += 1;
    }
    out
}

/// A view's rows as window start (seconds) → count; checks each window is 10 s long.
async fn windows(c: &Client, view: &str) -> BTreeMap<i64, i64> {
    let sql = format!(
        "SELECT CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT) - 1704067200,
                CAST(EXTRACT(EPOCH FROM window_end) AS BIGINT) - 1704067200, n FROM {view}"
    );
    sorted_rows(c, &sql)
        .await
        .into_iter()
        .map(|row| {
            let number = |i: usize| row[i].parse::<i64>().expect("a number");
            assert_eq!(number(1) - number(0), 10, "{view}: {row:?}");
            (number(0), number(2))
        })
        .collect()
}

/// The view's watermark in seconds after 2024-01-01 and its late rows.
async fn view_status(c: &Client, view: &str) -> (Option<i64>, i64) {
    let row = c
        .query_one(
            "SELECT CAST(EXTRACT(EPOCH FROM watermark) AS BIGINT) - 1704067200, late_rows
             FROM sluice_catalog.view_status WHERE name = $1",
            &[&view],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Waits until both views' readers are past `total` events (over a restart, the
/// readers go on from the views' checkpoint) and both views have reached watermark
/// `watermark` (seconds), then flushes.
async fn caught_up(c: &Client, total: i64, watermark: i64) {
    for (view, _) in VIEWS {
        let sql = format!(
            "SELECT coalesce(sum(next_offset), 0)::BIGINT FROM sluice_catalog.source_partitions
             WHERE reader = '{view}'"
        );
        let read = wait_for(c, &sql, total, Duration::from_secs(120)).await;
        assert_eq!(read, total, "{view} read everything");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for (view, _) in VIEWS {
        loop {
            let (now, _) = view_status(c, view).await;
            if now == Some(watermark) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{view}: watermark {now:?}, expected {watermark}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    c.batch_execute("FLUSH").await.unwrap();
}

/// Fails listing the windows whose counts differ (there are many windows).
fn assert_same(got: &BTreeMap<i64, i64>, want: &BTreeMap<i64, i64>, view: &str) {
    let wrong: Vec<_> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|start| got.get(start) != want.get(start))
        .map(|start| (start, got.get(start), want.get(start)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{view}: {} windows wrong, (start, got, want): {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// Both views equal `expected` (the closed one: the windows that ended by the
/// watermark) and have counted `late` late rows.
async fn check(c: &Client, expected: &BTreeMap<i64, i64>, watermark: i64, late: i64) {
    let closed: BTreeMap<i64, i64> = expected
        .iter()
        .filter(|(start, _)| *start + 10 <= watermark)
        .map(|(start, n)| (*start, *n))
        .collect();
    assert_same(&windows(c, "live").await, expected, "live");
    assert_same(&windows(c, "closed").await, &closed, "closed");
    for (view, _) in VIEWS {
        assert_eq!(
            view_status(c, view).await,
            (Some(watermark), late),
            "{view}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_created_over_a_backlog_count_every_on_time_event() {
    let broker = Broker::start();
    broker.create_topic("ev", 4);
    let produced = backlog();
    let messages: Vec<_> = produced.iter().map(|(p, s)| event(*p, *s)).collect();
    let started = Instant::now();
    broker.produce("ev", &messages);
    drop(messages);
    eprintln!("produced {EVENTS} events in {:?}", started.elapsed());
    let mut expected = counts(produced.iter().map(|(_, s)| *s));
    assert_eq!(expected.len() as i64, SECONDS / 10);
    // Every partition but the empty one ends in the last second: the watermark settles
    // at that second minus the declared 1 s.
    let last = |p: i32| {
        produced
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, s)| *s)
            .max()
    };
    assert_eq!(last(3), None, "partition 3 starts empty");
    let settled = (0..3).map(|p| last(p).unwrap()).min().unwrap() - 1;
    assert_eq!(settled, SECONDS - 2);

    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE ev (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
         WITH (connector = 'kafka', topic = 'ev', properties.bootstrap.server = '{}',
               scan.startup.mode = 'earliest', watermark.idle.timeout.ms = {IDLE_MS})
         FORMAT PLAIN ENCODE JSON",
        broker.address()
    ))
    .await
    .unwrap();
    let started = Instant::now();
    for (view, emit) in VIEWS {
        c.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW {view} AS
               SELECT window_start, window_end, count(*) AS n
               FROM TUMBLE(ev, ts, INTERVAL '10' SECOND)
               GROUP BY window_start, window_end{emit}"
        ))
        .await
        .unwrap();
    }
    caught_up(&c, EVENTS, settled).await;
    eprintln!("views read the backlog in {:?}", started.elapsed());
    check(&c, &expected, settled, 0).await;
    let caught_up_partitions = wait_for(
        &c,
        "SELECT count(*) FROM sluice_catalog.source_partitions WHERE lag = 0",
        8,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        caught_up_partitions, 8,
        "4 partitions, 2 readers, nothing unread"
    );

    // After a restart the views go on from a checkpoint taken once they had read
    // everything: the backlog is not read again.
    let checkpoints = "SELECT checkpoints_taken FROM sluice_catalog.checkpoint_status";
    let taken = c
        .query_one(checkpoints, &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    wait_for(&c, checkpoints, taken + 2, Duration::from_secs(30)).await;
    drop(c);
    let dir = server.stop();
    let c = connect(common::restart(dir.path()).await).await;
    let started = Instant::now();
    caught_up(&c, EVENTS, settled).await;
    eprintln!("after the restart, in {:?}", started.elapsed());
    check(&c, &expected, settled, 0).await;
    let reread = sorted_rows(
        &c,
        "SELECT sum(rows_read) FROM sluice_catalog.source_status",
    )
    .await;
    assert_eq!(reread, vec![vec!["0".to_string()]], "nothing read again");

    // Truly late events: their windows closed long ago. They are counted as late and
    // change no window; the partitions they revive are behind, and the watermark does
    // not move back.
    let late = [event(1, 5), event(2, 5), event(0, 15)];
    broker.produce("ev", &late);
    caught_up(&c, EVENTS + 3, settled).await;
    check(&c, &expected, settled, 3).await;

    // Once partitions 1 and 2 are idle again, an event far ahead on partition 0
    // closes every window of the backlog.
    tokio::time::sleep(Duration::from_millis(IDLE_MS + 500)).await;
    let ahead = SECONDS * 2;
    broker.produce("ev", &[event(0, ahead)]);
    caught_up(&c, EVENTS + 4, ahead - 1).await;
    assert_same(&windows(&c, "closed").await, &expected, "closed");
    expected.insert(ahead, 1);
    assert_same(&windows(&c, "live").await, &expected, "live");
    for (view, _) in VIEWS {
        assert_eq!(view_status(&c, view).await.1, 3, "{view}");
    }
    drop(dir);
}

/// Back-pressure: a generator that could run far ahead of its views never has more
/// than the bound (65,536 rows, plus the batch being sent) delivered and not yet
/// processed, whether the view is slow (many groups, distinct values) or fast; and
/// both views end with every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_view_holds_its_reader_back_within_the_bound() {
    const BIDS: i64 = 1_000_000;
    const BOUND: i64 = 65_536 + 4_096;
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR) \
         WITH (connector = 'nexmark', nexmark.table.type = 'bid', \
               nexmark.event.num = {BIDS}, nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW slow AS SELECT auction, count(DISTINCT bidder) AS bidders, \
             count(DISTINCT price) AS prices, count(*) AS n FROM bid GROUP BY auction;
         CREATE MATERIALIZED VIEW fast AS SELECT count(*) AS n FROM bid WHERE price < 0;"
    ))
    .await
    .unwrap();
    let mut largest = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let row = c
            .query_one(
                "SELECT max(backlog_rows), count(*) FILTER (WHERE state <> 'finished') \
                 FROM sluice_catalog.source_status",
                &[],
            )
            .await
            .unwrap();
        largest = largest.max(row.get::<_, i64>(0));
        if row.get::<_, i64>(1) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the readers did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("largest backlog: {largest} rows");
    assert!(
        largest <= BOUND,
        "a reader ran {largest} rows ahead of its view"
    );
    c.batch_execute("FLUSH").await.unwrap();
    let counted = wait_for(
        &c,
        "SELECT sum(n)::bigint FROM slow",
        BIDS,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(counted, BIDS);
    let backlog = wait_for(
        &c,
        "SELECT sum(backlog_rows)::bigint FROM sluice_catalog.source_status",
        0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        backlog, 0,
        "every credit is returned once the rows are processed"
    );
}
