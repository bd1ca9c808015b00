//! Windows over watermarked Kafka sources, end to end: for TUMBLE, HOP and CUMULATE,
//! continuous and `EMIT ON WINDOW CLOSE` views over a random out-of-order stream equal
//! an independent computation over the events that were on time; `EMIT ON WINDOW
//! CLOSE` views never show an open window and never change a row once shown; windows
//! close through a view on a view; the Nexmark q5/q7/q8 aggregates over Kafka equal
//! the same views over the generator.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::kafka::Broker;
use common::{Rng, TestServer, sorted_rows as rows, wait_for};
use tokio_postgres::Client;

/// Seconds since 2024-01-01 00:00:00 as a SQL timestamp literal.
fn stamp(second: i64) -> String {
    format!(
        "TIMESTAMP '2024-01-01 {:02}:{:02}:{:02}'",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

/// Seconds since 2024-01-01 00:00:00 as that timestamp in JSON.
fn event(key: i64, second: i64) -> (i32, Vec<u8>) {
    let text = format!(
        r#"{{"k": {key}, "ts": "2024-01-01T{:02}:{:02}:{:02}Z"}}"#,
        second / 3600,
        second / 60 % 60,
        second % 60
    );
    (0, text.into_bytes())
}

/// The windows `[start, end)` (in seconds) an event at `t` falls in.
fn windows(kind: &str, t: i64) -> Vec<(i64, i64)> {
    match kind {
        // TUMBLE 10 s.
        "tumble" => vec![(t / 10 * 10, t / 10 * 10 + 10)],
        // HOP: slide 5 s, size 10 s.
        "hop" => (0..2)
            .map(|k| t / 5 * 5 - k * 5)
            .map(|s| (s, s + 10))
            .collect(),
        // CUMULATE: step 5 s, size 20 s.
        "cumulate" => {
            let base = t / 20 * 20;
            (1..=4)
                .map(|j| (base, base + 5 * j))
                .filter(|(_, end)| *end > t)
                .collect()
        }
        other => panic!("unknown window kind {other}"),
    }
}

const KINDS: [(&str, &str); 3] = [
    ("tumble", "TUMBLE(events, ts, INTERVAL '10' SECOND)"),
    (
        "hop",
        "HOP(events, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)",
    ),
    (
        "cumulate",
        "CUMULATE(events, ts, INTERVAL '5' SECOND, INTERVAL '20' SECOND)",
    ),
];

/// A window's start in seconds from 2024-01-01 00:00:00.
const EPOCH_START: &str = "CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT) - 1704067200";

const EPOCH: &str = "CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT) - 1704067200, \
                     CAST(EXTRACT(EPOCH FROM window_end) AS BIGINT) - 1704067200";

/// Produces one event and waits until every view's reader has read `total` events,
/// then until every view has processed them.
async fn send(broker: &Broker, c: &Client, views: &[String], message: (i32, Vec<u8>), total: i64) {
    broker.produce("events", &[message]);
    for view in views {
        let sql =
            format!("SELECT rows_read FROM sluice_catalog.source_status WHERE reader = '{view}'");
        assert_eq!(
            wait_for(c, &sql, total, Duration::from_secs(30)).await,
            total,
            "{view}"
        );
    }
    c.batch_execute("FLUSH").await.unwrap();
}

/// A broker with a one-partition topic `events`, a server, and a source `events (k,
/// ts)` over the topic with `WATERMARK FOR ts AS ts - delay` (seconds).
async fn events_source(delay: u32) -> (Broker, TestServer, Client) {
    let broker = Broker::start();
    broker.create_topic("events", 1);
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE events (k INT, ts TIMESTAMP,
                               WATERMARK FOR ts AS ts - INTERVAL '{delay}' SECOND)
           WITH (connector = 'kafka', topic = 'events', properties.bootstrap.server = '{}')
           FORMAT PLAIN ENCODE JSON",
        broker.address()
    ))
    .await
    .unwrap();
    (broker, server, c)
}

async fn view_watermark(c: &Client, view: &str) -> Option<i64> {
    c.query_one(
        &format!(
            "SELECT CAST(EXTRACT(EPOCH FROM watermark) AS BIGINT) - 1704067200
             FROM sluice_catalog.view_status WHERE name = '{view}'"
        ),
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// How a view groups its windows: by both bounds, or by one of them. A group closes
/// when the watermark passes its window's end; grouped by `window_start` alone, when
/// it passes the end of the last window starting there (for CUMULATE, the full
/// `size` window).
const GROUPINGS: [(&str, &str); 3] = [
    ("both", "window_start, window_end"),
    ("start", "window_start"),
    ("end", "window_end"),
];

/// The longest window of each kind (s).
fn longest(kind: &str) -> i64 {
    if kind == "cumulate" { 20 } else { 10 }
}

/// A view's group of window `(start, end)` for key `k`, and when it closes: the
/// watermark (s) at or past which it takes no more rows.
fn group(grouping: &str, kind: &str, k: i64, (start, end): (i64, i64)) -> (Vec<i64>, i64) {
    match grouping {
        "both" => (vec![k, start, end], end),
        "start" => (vec![k, start], start + longest(kind)),
        _ => (vec![k, end], end),
    }
}

/// The view's group columns as seconds after 2024-01-01.
fn group_columns(grouping: &str) -> String {
    let epoch = |c: &str| format!("CAST(EXTRACT(EPOCH FROM {c}) AS BIGINT) - 1704067200");
    match grouping {
        "both" => format!("k, {}, {}", epoch("window_start"), epoch("window_end")),
        "start" => format!("k, {}", epoch("window_start")),
        _ => format!("k, {}", epoch("window_end")),
    }
}

/// The oracle of the issue: a random stream with events up to 12 s out of order and
/// a watermark 5 s behind the largest time seen, through TUMBLE, HOP and CUMULATE
/// views grouped by both window bounds, by `window_start` only and by `window_end`
/// only, continuous and `EMIT ON WINDOW CLOSE`. The planner closes each grouping by
/// the watermark it derives for its columns. An (event, window) pair is on time when
/// its group has not closed as the event arrives; the views equal the counts of the
/// on-time pairs (every group for continuous views, closed ones for EMIT ON WINDOW
/// CLOSE), and count the others as late; a closed group never changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_views_over_an_out_of_order_stream_equal_the_on_time_events() {
    let (broker, _server, c) = events_source(5).await;
    let mut views = Vec::new();
    for (kind, window) in KINDS {
        for (grouping, columns) in GROUPINGS {
            for (mode, emit) in [("live", ""), ("closed", " EMIT ON WINDOW CLOSE")] {
                let name = format!("{kind}_{grouping}_{mode}");
                c.batch_execute(&format!(
                    "CREATE MATERIALIZED VIEW {name} AS
                       SELECT k, {columns}, count(*) AS n FROM {window}
                       GROUP BY k, {columns}{emit}"
                ))
                .await
                .unwrap();
                views.push(name);
            }
        }
    }

    type Groups = BTreeMap<Vec<i64>, (i64, i64)>;
    let mut on_time: BTreeMap<(&str, &str), Groups> = BTreeMap::new();
    let mut late: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut shown: BTreeMap<String, BTreeMap<Vec<String>, String>> = BTreeMap::new();
    let mut rng = Rng(0x51de);
    let mut max_seen: Option<i64> = None;
    let mut clock = 0;
    for id in 0..80 {
        clock += rng.below(4);
        let second = (clock - rng.below(13)).max(0);
        let key = rng.below(2);
        let watermark = max_seen.map(|m| m - 5);
        for (kind, _) in KINDS {
            for (grouping, _) in GROUPINGS {
                for window in windows(kind, second) {
                    let (group, closes) = group(grouping, kind, key, window);
                    if watermark.is_none_or(|w| closes > w) {
                        let entry = on_time.entry((kind, grouping)).or_default();
                        entry.entry(group).or_insert((closes, 0)).1 += 1;
                    } else {
                        *late.entry((kind, grouping)).or_default() += 1;
                    }
                }
            }
        }
        max_seen = Some(max_seen.map_or(second, |m| m.max(second)));
        send(&broker, &c, &views, event(key, second), id + 1).await;

        // EMIT ON WINDOW CLOSE shows only closed groups; in either mode, a closed
        // group's row never changes.
        for (kind, _) in KINDS {
            for (grouping, _) in GROUPINGS {
                for mode in ["live", "closed"] {
                    let view = format!("{kind}_{grouping}_{mode}");
                    let current = view_watermark(&c, &view).await;
                    let query = format!("SELECT {}, n FROM {view}", group_columns(grouping));
                    for row in rows(&c, &query).await {
                        let values: Vec<i64> = row.iter().map(|v| v.parse().unwrap()).collect();
                        let window = match grouping {
                            "both" => (values[1], values[2]),
                            "start" => (values[1], 0),
                            _ => (0, values[1]),
                        };
                        let (_, closes) = group(grouping, kind, values[0], window);
                        let is_closed = current.is_some_and(|w| closes <= w);
                        assert!(
                            is_closed || mode == "live",
                            "{view} shows group {row:?} before the watermark {current:?} closed it"
                        );
                        if !is_closed {
                            continue;
                        }
                        let (group, count) = row.split_at(row.len() - 1);
                        let seen = shown.entry(view.clone()).or_default();
                        let previous = seen.insert(group.to_vec(), count[0].clone());
                        assert!(
                            previous.as_ref().is_none_or(|n| *n == count[0]),
                            "{view} changed a closed group: {row:?} was {previous:?}"
                        );
                    }
                }
            }
        }
    }

    let final_watermark = max_seen.unwrap() - 5;
    for (kind, _) in KINDS {
        for (grouping, _) in GROUPINGS {
            let expected = |closed_only: bool| -> Vec<Vec<String>> {
                let mut out: Vec<Vec<String>> = on_time[&(kind, grouping)]
                    .iter()
                    .filter(|(_, (closes, _))| !closed_only || *closes <= final_watermark)
                    .map(|(group, (_, n))| group.iter().chain([n]).map(i64::to_string).collect())
                    .collect();
                out.sort();
                out
            };
            for (mode, closed_only) in [("live", false), ("closed", true)] {
                let view = format!("{kind}_{grouping}_{mode}");
                let query = format!("SELECT {}, n FROM {view}", group_columns(grouping));
                assert_eq!(rows(&c, &query).await, expected(closed_only), "{view}");
                let counted: i64 = c
                    .query_one(
                        &format!(
                            "SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'"
                        ),
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                let wanted = late.get(&(kind, grouping)).copied().unwrap_or(0);
                assert_eq!(counted, wanted, "{view} late rows");
                assert!(wanted > 0, "{view}: the stream should have late events");
            }
        }
    }
}

/// Interval joins forget rows by the watermark: an inner and a left self-join of an
/// out-of-order stream, pairing each event with the events of the other key up to 3
/// seconds later, equal the same joins of the events that were on time, and count
/// the late ones (once per side of the join that drops them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_joins_over_an_out_of_order_stream_equal_the_on_time_events() {
    let (broker, _server, c) = events_source(5).await;
    let join = |kind: &str| {
        format!(
            "SELECT a.k, CAST(EXTRACT(EPOCH FROM a.ts) AS BIGINT) - 1704067200 AS a,
                    CAST(EXTRACT(EPOCH FROM b.ts) AS BIGINT) - 1704067200 AS b
             FROM events a {kind} JOIN events b
               ON a.k = 1 - b.k AND a.ts BETWEEN b.ts - INTERVAL '3' SECOND AND b.ts"
        )
    };
    c.batch_execute(&format!(
        "CREATE MATERIALIZED VIEW near AS {};
         CREATE MATERIALIZED VIEW near_or_alone AS {};",
        join("INNER"),
        join("LEFT")
    ))
    .await
    .unwrap();
    let plan = rows(
        &c,
        &format!("EXPLAIN CREATE MATERIALIZED VIEW x AS {}", join("INNER")),
    )
    .await;
    let plan = plan.concat().join("\n");
    assert!(
        plan.contains("forgets left rows when ts < ")
            && plan.contains("forgets right rows when ts < "),
        "{plan}"
    );

    let views = ["near".to_string(), "near_or_alone".to_string()];
    let mut rng = Rng(0x1a7e);
    let (mut on_time, mut late) = (Vec::new(), 0);
    let mut max_seen: Option<i64> = None;
    let mut clock = 0;
    for id in 0..80 {
        clock += rng.below(4);
        let second = (clock - rng.below(13)).max(0);
        let key = rng.below(2);
        if max_seen.is_none_or(|m| second >= m - 5) {
            on_time.push((key, second));
        } else {
            late += 1;
        }
        max_seen = Some(max_seen.map_or(second, |m| m.max(second)));
        send(&broker, &c, &views, event(key, second), id + 1).await;
    }

    let mut inner = Vec::new();
    let mut left = Vec::new();
    for &(k, a) in &on_time {
        let partners: Vec<i64> = on_time
            .iter()
            .filter(|(other, b)| *other == 1 - k && b - 3 <= a && a <= *b)
            .map(|(_, b)| *b)
            .collect();
        for b in &partners {
            inner.push(vec![k.to_string(), a.to_string(), b.to_string()]);
        }
        left.extend(
            partners
                .iter()
                .map(|b| b.to_string())
                .chain(partners.is_empty().then(|| "NULL".to_string()))
                .map(|b| vec![k.to_string(), a.to_string(), b]),
        );
    }
    for (view, mut expected) in [("near", inner), ("near_or_alone", left)] {
        expected.sort();
        assert_eq!(
            rows(&c, &format!("SELECT k, a, b FROM {view}")).await,
            expected,
            "{view}"
        );
        let counted = rows(
            &c,
            &format!("SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'"),
        )
        .await;
        assert_eq!(
            counted,
            vec![vec![(2 * late).to_string()]],
            "{view} late rows"
        );
    }
    assert!(late > 0, "the stream should have late events");
}

/// Windows close through views: a view over a watermarked source passes the
/// watermark on, so an EMIT ON WINDOW CLOSE view over it works; a view over a table
/// has none, and EMIT ON WINDOW CLOSE over it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_on_window_close_over_a_view() {
    let (broker, _server, c) = events_source(5).await;
    c.batch_execute(
        "CREATE MATERIALIZED VIEW evens AS SELECT k, ts FROM events WHERE k % 2 = 0;
         CREATE MATERIALIZED VIEW closed AS
           SELECT window_start, window_end, count(*) AS n
           FROM TUMBLE(evens, ts, INTERVAL '10' SECOND)
           GROUP BY window_start, window_end EMIT ON WINDOW CLOSE;
         CREATE TABLE t (ts TIMESTAMP);
         CREATE MATERIALIZED VIEW over_table AS SELECT ts FROM t;",
    )
    .await
    .unwrap();
    let err = c
        .batch_execute(
            "CREATE MATERIALIZED VIEW bad AS SELECT window_end, count(*) AS n
             FROM TUMBLE(over_table, ts, INTERVAL '10' SECOND) GROUP BY window_end
             EMIT ON WINDOW CLOSE",
        )
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err), "0A000");
    assert!(format!("{err:?}").contains("over_table"), "{err:?}");

    let messages: Vec<(i32, Vec<u8>)> = [(0, 1), (1, 2), (2, 4), (4, 12), (0, 13), (6, 30)]
        .iter()
        .map(|(k, s)| event(*k, *s))
        .collect();
    broker.produce("events", &messages);
    let total = "SELECT coalesce(CAST(sum(n) AS BIGINT), 0) FROM closed";
    // The watermark reaches :25: [:00, :10) and [:10, :20) close, [:30, :40) does not.
    assert_eq!(wait_for(&c, total, 4, Duration::from_secs(30)).await, 4);
    let got = rows(&c, &format!("SELECT {EPOCH}, n FROM closed")).await;
    assert_eq!(got, vec![vec!["0", "10", "2"], vec!["10", "20", "2"]]);
    assert_eq!(view_watermark(&c, "closed").await, Some(25));
    assert_eq!(view_watermark(&c, "evens").await, Some(25));

    // Windows on windows: per-minute totals of 10-second windows (the inner bounds
    // renamed, as a relation has one window_start), closed by the watermark the inner
    // view passes on.
    c.batch_execute(
        "CREATE MATERIALIZED VIEW per10 AS
           SELECT window_start AS start10, window_end AS end10, count(*) AS n
           FROM TUMBLE(evens, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW per_minute AS
           SELECT window_start, window_end, CAST(sum(n) AS BIGINT) AS n
           FROM TUMBLE(per10, start10, INTERVAL '1' MINUTE)
           GROUP BY window_start, window_end EMIT ON WINDOW CLOSE;",
    )
    .await
    .unwrap();
    // 1:10 moves the watermark to 1:05: the minute [0:00, 1:00) closes.
    broker.produce("events", &[event(0, 70)]);
    let minutes = "SELECT coalesce(sum(n), 0)::BIGINT FROM per_minute";
    assert_eq!(wait_for(&c, minutes, 5, Duration::from_secs(30)).await, 5);
    assert_eq!(
        rows(&c, &format!("SELECT {EPOCH}, n FROM per_minute")).await,
        vec![vec!["0", "60", "5"]]
    );
}

/// The Nexmark q5 (HOP counts per auction), q7 (TUMBLE max price) and q8 (TUMBLE
/// persons) aggregates over Kafka topics holding the generator's events equal the
/// same views over the generator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_windowed_aggregates_over_kafka() {
    let broker = Broker::start();
    broker.create_topic("bid", 4);
    broker.create_topic("person", 4);
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE gen_bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 5000,
                 nexmark.events.per.second = 0);
         CREATE SOURCE gen_person (id BIGINT, name VARCHAR, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'person', nexmark.event.num = 1000,
                 nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW all_bids AS SELECT * FROM gen_bid;
         CREATE MATERIALIZED VIEW all_persons AS SELECT * FROM gen_person;",
    )
    .await
    .unwrap();
    assert_eq!(
        wait_for(
            &c,
            "SELECT count(*) FROM all_bids",
            5000,
            Duration::from_secs(30)
        )
        .await,
        5000
    );
    assert_eq!(
        wait_for(
            &c,
            "SELECT count(*) FROM all_persons",
            1000,
            Duration::from_secs(30)
        )
        .await,
        1000
    );
    // The generator's events, as JSON messages spread over 4 partitions.
    let to_json = |sql: &str| {
        let sql = sql.to_string();
        let c = &c;
        async move {
            let messages = c.simple_query(&sql).await.unwrap();
            messages
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .enumerate()
                .map(|(i, json)| ((i % 4) as i32, json.into_bytes()))
                .collect::<Vec<_>>()
        }
    };
    let bids = to_json(
        "SELECT '{\"auction\": ' || auction || ', \"bidder\": ' || bidder || ', \"price\": ' || price
                || ', \"date_time\": \"' || CAST(date_time AS VARCHAR) || '\"}' FROM all_bids",
    )
    .await;
    let persons = to_json(
        "SELECT '{\"id\": ' || id || ', \"name\": \"' || name || '\", \"date_time\": \"'
                || CAST(date_time AS VARCHAR) || '\"}' FROM all_persons",
    )
    .await;
    broker.produce("bid", &bids);
    broker.produce("person", &persons);

    let queries = |bid: &str, person: &str| {
        format!(
            "CREATE MATERIALIZED VIEW {bid}_q5 AS
               SELECT auction, window_start, count(*) AS num
               FROM HOP({bid}, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
               GROUP BY auction, window_start;
             CREATE MATERIALIZED VIEW {bid}_q7 AS
               SELECT window_start, max(price) AS maxprice, count(*) AS bids
               FROM TUMBLE({bid}, date_time, INTERVAL '10' SECOND) GROUP BY window_start;
             CREATE MATERIALIZED VIEW {person}_q8 AS
               SELECT id, name, window_start FROM TUMBLE({person}, date_time, INTERVAL '10' SECOND)
               GROUP BY id, name, window_start;"
        )
    };
    c.batch_execute(&format!(
        "CREATE SOURCE kafka_bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
           WITH (connector = 'kafka', topic = 'bid', properties.bootstrap.server = '{address}',
                 scan.startup.mode = 'earliest') FORMAT PLAIN ENCODE JSON;
         CREATE SOURCE kafka_person (id BIGINT, name VARCHAR, date_time TIMESTAMP)
           WITH (connector = 'kafka', topic = 'person', properties.bootstrap.server = '{address}',
                 scan.startup.mode = 'earliest') FORMAT PLAIN ENCODE JSON;
         {}
         {}",
        queries("gen_bid", "gen_person"),
        queries("kafka_bid", "kafka_person"),
        address = broker.address()
    ))
    .await
    .unwrap();
    let total = |view: &str, column: &str| {
        format!("SELECT coalesce(CAST(sum({column}) AS BIGINT), 0) FROM {view}")
    };
    for prefix in ["gen", "kafka"] {
        assert_eq!(
            wait_for(
                &c,
                &total(&format!("{prefix}_bid_q7"), "bids"),
                5000,
                Duration::from_secs(60)
            )
            .await,
            5000
        );
        assert_eq!(
            wait_for(
                &c,
                &total(&format!("{prefix}_bid_q5"), "num"),
                25_000,
                Duration::from_secs(60)
            )
            .await,
            25_000
        );
        assert_eq!(
            wait_for(
                &c,
                &format!("SELECT count(*) FROM {prefix}_person_q8"),
                1000,
                Duration::from_secs(60)
            )
            .await,
            1000
        );
    }
    for (generated, kafka) in [
        ("gen_bid_q5", "kafka_bid_q5"),
        ("gen_bid_q7", "kafka_bid_q7"),
        ("gen_person_q8", "kafka_person_q8"),
    ] {
        let want = rows(&c, &format!("SELECT * FROM {generated}")).await;
        assert!(!want.is_empty());
        assert_eq!(
            rows(&c, &format!("SELECT * FROM {kafka}")).await,
            want,
            "{kafka}"
        );
    }
}

/// Hand-written cases at the boundaries, with a watermark equal to the largest event
/// time (no delay): a window closes when the watermark reaches its end exactly; an
/// event just before that end is then late; an event exactly at the watermark is on
/// time (its window ends later); a late HOP event still counts in its open window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermark_boundaries() {
    let (broker, _server, c) = events_source(0).await;
    c.batch_execute(
        "CREATE MATERIALIZED VIEW tumble_live AS SELECT window_start, window_end, count(*) AS n
           FROM TUMBLE(events, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW tumble_closed AS SELECT window_start, window_end, count(*) AS n
           FROM TUMBLE(events, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end
           EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW hop_live AS SELECT window_start, window_end, count(*) AS n
           FROM HOP(events, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)
           GROUP BY window_start, window_end;",
    )
    .await
    .unwrap();
    let views: Vec<String> = ["tumble_live", "tumble_closed", "hop_live"]
        .iter()
        .map(|v| v.to_string())
        .collect();
    let at = |time: &str| {
        (
            0,
            format!(r#"{{"k": 0, "ts": "2024-01-01T00:00:{time}Z"}}"#).into_bytes(),
        )
    };
    let cases = [
        "05",        // opens [:00, :10)
        "10",        // watermark :10 = the end of [:00, :10): it closes
        "09.999999", // just before the closed window's end: late
        "10",        // exactly at the watermark: on time, in [:10, :20)
        "07",        // HOP: late for [:00, :10), on time for [:05, :15)
    ];
    for (i, time) in cases.iter().enumerate() {
        send(&broker, &c, &views, at(time), i as i64 + 1).await;
    }
    let query = |view: &str| format!("SELECT {EPOCH}, n FROM {view}");
    assert_eq!(
        rows(&c, &query("tumble_live")).await,
        vec![vec!["0", "10", "1"], vec!["10", "20", "2"]]
    );
    assert_eq!(
        rows(&c, &query("tumble_closed")).await,
        vec![vec!["0", "10", "1"]]
    );
    // [:05, :15) takes :05, :10, :09.999999, :10 and :07.
    assert_eq!(
        rows(&c, &query("hop_live")).await,
        vec![
            vec!["0", "10", "1"],
            vec!["10", "20", "2"],
            vec!["5", "15", "5"]
        ]
    );
    for (view, late) in [("tumble_live", 2), ("tumble_closed", 2), ("hop_live", 2)] {
        let counted: i64 = c
            .query_one(
                &format!("SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(counted, late, "{view}");
    }
    assert_eq!(view_watermark(&c, "tumble_live").await, Some(10));
}

/// Watermarks derived through expressions, views and joins close groups whatever
/// the grouping column is called: `date_trunc` of the time column, a window start
/// with RisingWave's offset, a window start renamed by a view and read by an `EMIT ON
/// WINDOW CLOSE` projection over it, and a window start equated by a join. A late
/// event changes none of them and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_derived_through_expressions_views_and_joins() {
    let (broker, _server, c) = events_source(0).await;
    c.batch_execute(
        "CREATE MATERIALIZED VIEW per_minute AS
           SELECT date_trunc('minute', ts) AS m, count(*) AS n FROM events GROUP BY 1
           EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW offset_windows AS
           SELECT window_start, count(*) AS n
           FROM TUMBLE(events, ts, INTERVAL '10' SECOND, INTERVAL '3' SECOND)
           GROUP BY window_start EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW starts AS
           SELECT window_start AS s, count(*) AS n
           FROM TUMBLE(events, ts, INTERVAL '10' SECOND) GROUP BY window_start;
         CREATE MATERIALIZED VIEW starts_closed AS SELECT s, n FROM starts EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW pairs AS
           SELECT a.window_start, count(*) AS n
           FROM TUMBLE(events, ts, INTERVAL '10' SECOND) AS a
           JOIN TUMBLE(events, ts, INTERVAL '10' SECOND) AS b
             ON a.window_start = b.window_start AND a.k = b.k
           GROUP BY a.window_start EMIT ON WINDOW CLOSE;",
    )
    .await
    .unwrap();
    // EXPLAIN shows what closes the view's rows and its groups.
    let plan: Vec<String> = c
        .simple_query(
            "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT window_start, count(*) AS n
             FROM TUMBLE(events, ts, INTERVAL '10' SECOND) GROUP BY window_start
             EMIT ON WINDOW CLOSE",
        )
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(
        plan[0],
        "WindowClose (EMIT ON WINDOW CLOSE): rows close by the watermark of [window_start]"
    );
    assert!(
        plan.iter()
            .any(|l| l.contains("Aggregate") && l.contains("close by the watermark")),
        "{plan:?}"
    );

    // The views with a reader of their own (FLUSH covers starts_closed).
    let views: Vec<String> = ["per_minute", "offset_windows", "starts", "pairs"]
        .iter()
        .map(|v| v.to_string())
        .collect();
    let events = [
        (0, 1),
        (1, 2),
        (0, 4),
        (1, 12),
        (0, 13),
        (0, 30),
        (1, 65),
        (0, 75),
    ];
    for (i, (k, second)) in events.iter().enumerate() {
        send(&broker, &c, &views, event(*k, *second), i as i64 + 1).await;
    }
    let seconds =
        |column: &str| format!("CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT) - 1704067200");
    let expected: [(&str, String, Vec<Vec<&str>>); 4] = [
        // The watermark is 1:15: minute 0:00 is closed, 1:00 is not.
        ("per_minute", seconds("m"), vec![vec!["0", "6"]]),
        // Windows start 3 s after each 10 s; [1:13, 1:23) is open.
        (
            "offset_windows",
            seconds("window_start"),
            vec![
                vec!["-7", "2"],
                vec!["13", "1"],
                vec!["23", "1"],
                vec!["3", "2"],
                vec!["63", "1"],
            ],
        ),
        (
            "starts_closed",
            seconds("s"),
            vec![
                vec!["0", "3"],
                vec!["10", "2"],
                vec!["30", "1"],
                vec!["60", "1"],
            ],
        ),
        // Per window, the pairs of events with the same key.
        (
            "pairs",
            seconds("window_start"),
            vec![
                vec!["0", "5"],
                vec!["10", "2"],
                vec!["30", "1"],
                vec!["60", "1"],
            ],
        ),
    ];
    let check = || async {
        for (view, column, rows_wanted) in &expected {
            let got = rows(&c, &format!("SELECT {column}, n FROM {view}")).await;
            assert_eq!(&got, rows_wanted, "{view}");
        }
    };
    check().await;
    assert_eq!(
        rows(&c, &format!("SELECT {}, n FROM starts", seconds("s"))).await,
        vec![
            vec!["0", "3"],
            vec!["10", "2"],
            vec!["30", "1"],
            vec!["60", "1"],
            vec!["70", "1"]
        ]
    );

    // 0:50 is behind the watermark in every view: nothing changes, and it is counted.
    send(&broker, &c, &views, event(0, 50), events.len() as i64 + 1).await;
    check().await;
    for view in ["per_minute", "offset_windows", "starts"] {
        let late: i64 = c
            .query_one(
                &format!("SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(late, 1, "{view}");
    }
}

/// `CREATE TABLE ... (..., WATERMARK FOR ts AS ...) APPEND ONLY` feeds watermarked
/// views as a source does: over an out-of-order stream of inserts, the table leaves
/// out the rows late for its watermark (the INSERT counts 0), an `EMIT ON WINDOW
/// CLOSE` view shows the closed windows of the rows kept, an interval join of two
/// such tables equals the join of their rows, and the watermark survives a restart.
/// `UPDATE` and `DELETE` are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_only_tables_with_a_watermark_feed_windows_and_joins() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE events (k INT, ts TIMESTAMP,
                              WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) APPEND ONLY;
         CREATE TABLE marks (k INT, ts TIMESTAMP, WATERMARK FOR ts AS ts) APPEND ONLY;
         CREATE MATERIALIZED VIEW closed AS
           SELECT k, window_start, count(*) AS n FROM TUMBLE(events, ts, INTERVAL '10' SECOND)
           GROUP BY k, window_start EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW marked AS
           SELECT e.k, CAST(EXTRACT(EPOCH FROM e.ts) AS BIGINT) - 1704067200 AS e,
                  CAST(EXTRACT(EPOCH FROM m.ts) AS BIGINT) - 1704067200 AS m
           FROM events e JOIN marks m
             ON e.k = m.k AND m.ts BETWEEN e.ts AND e.ts + INTERVAL '2' SECOND;",
    )
    .await
    .unwrap();
    let mut rng = Rng(0xa99e);
    let (mut events, mut marks) = (Vec::new(), Vec::new());
    let (mut events_max, mut marks_max): (Option<i64>, Option<i64>) = (None, None);
    let mut late = 0;
    let mut clock = 0;
    for _ in 0..80 {
        clock += rng.below(3);
        let (k, second) = (rng.below(2), (clock - rng.below(12)).max(0));
        let (table, stored, max, delay) = if rng.below(3) == 0 {
            ("marks", &mut marks, &mut marks_max, 0)
        } else {
            ("events", &mut events, &mut events_max, 5)
        };
        // A row below its table's watermark is late: the table leaves it out.
        let on_time = max.is_none_or(|m| second >= m - delay);
        if on_time {
            stored.push((k, second));
            *max = Some(max.map_or(second, |m| m.max(second)));
        } else {
            late += 1;
        }
        let inserted = c
            .execute(
                &format!("INSERT INTO {table} VALUES ({k}, {})", stamp(second)),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(inserted, u64::from(on_time), "{table} at {second}");
        c.batch_execute("FLUSH").await.unwrap();
    }
    assert!(late > 0, "the stream should have late rows");

    // The join: each event with the marks up to 2 s after it.
    let mut expected: Vec<Vec<String>> = Vec::new();
    for (k, e) in &events {
        for (mk, m) in &marks {
            if k == mk && e <= m && *m <= e + 2 {
                expected.push(vec![k.to_string(), e.to_string(), m.to_string()]);
            }
        }
    }
    expected.sort();
    assert_eq!(rows(&c, "SELECT k, e, m FROM marked").await, expected);

    // The EOWC view shows the windows the events table's watermark closed.
    let closed_by = events_max.unwrap() - 5;
    let mut windows: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for (k, second) in &events {
        *windows.entry((*k, second - second % 10)).or_default() += 1;
    }
    let mut expected: Vec<Vec<String>> = windows
        .iter()
        .filter(|((_, start), _)| start + 10 <= closed_by)
        .map(|((k, start), n)| vec![k.to_string(), start.to_string(), n.to_string()])
        .collect();
    expected.sort();
    assert_eq!(
        rows(&c, &format!("SELECT k, {EPOCH_START}, n FROM closed")).await,
        expected
    );

    // UPDATE and DELETE are refused; a WATERMARK needs APPEND ONLY.
    for statement in [
        "UPDATE events SET k = 3",
        "DELETE FROM events",
        "CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS ts)",
    ] {
        let error = c.batch_execute(statement).await.expect_err(statement);
        assert_eq!(common::sqlstate(&error), "0A000", "{statement}");
    }

    // After a restart the tables' watermarks are what their rows say, and a row late
    // for them is still dropped by the views: window 0 keeps its count.
    let before = view_watermark(&c, "closed").await;
    let shown = rows(&c, "SELECT * FROM closed").await;
    drop(c);
    let dir = server.stop();
    let c = common::connect(common::restart(dir.path()).await).await;
    let inserted = c
        .execute(&format!("INSERT INTO events VALUES (0, {})", stamp(0)), &[])
        .await
        .unwrap();
    assert_eq!(
        inserted, 0,
        "late for the watermark recomputed at the restart"
    );
    c.batch_execute("FLUSH").await.unwrap();
    assert_eq!(view_watermark(&c, "closed").await, before);
    assert_eq!(rows(&c, "SELECT * FROM closed").await, shown);
}

/// Window functions with `EMIT ON WINDOW CLOSE` over an APPEND ONLY table with a
/// watermark, fed one row at a time out of order with late rows, through a checkpoint
/// and a crash: each view shows exactly the rows whose values are final at the
/// table's watermark, with PostgreSQL's values over the rows the table kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_functions_emit_on_window_close_across_a_restart_equal_postgres() {
    const DELAY: i64 = 3;
    let views: [(&str, &str, &str); 4] = [
        (
            "moving",
            "SELECT g, ts, v,
                    sum(v) OVER (PARTITION BY g ORDER BY ts, v ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s,
                    lag(v) OVER (PARTITION BY g ORDER BY ts, v) AS prev,
                    lead(v) OVER (PARTITION BY g ORDER BY ts, v) AS next",
            // Final once the next row of the partition is closed.
            "ts < {B} AND next_ts < {B}",
        ),
        (
            "ranged",
            "SELECT g, ts, v,
                    sum(v) OVER (PARTITION BY g ORDER BY ts RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND INTERVAL '2' SECOND FOLLOWING) AS s,
                    count(*) OVER (PARTITION BY g ORDER BY ts RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND INTERVAL '2' SECOND FOLLOWING) AS n",
            "ts + INTERVAL '2' SECOND < {B}",
        ),
        (
            "ranked",
            "SELECT g, ts, v, rank() OVER (PARTITION BY g ORDER BY ts) AS r,
                    sum(v) OVER (PARTITION BY g ORDER BY ts) AS running",
            "ts < {B}",
        ),
        (
            "windowed",
            "SELECT window_start, n,
                    sum(n) OVER (ORDER BY window_start ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS pair",
            "window_start < date_bin(INTERVAL '4' SECOND, {B}, TIMESTAMP '1970-01-01')",
        ),
    ];
    let from = |view: &str, ours: bool| match (view, ours) {
        ("windowed", true) => "FROM (SELECT window_start, count(*) AS n \
                               FROM TUMBLE(ev, ts, INTERVAL '4' SECOND) GROUP BY window_start) w"
            .to_string(),
        ("windowed", false) => {
            "FROM (SELECT date_bin(INTERVAL '4' SECOND, ts, TIMESTAMP '1970-01-01') \
                                AS window_start, count(*) AS n FROM ev GROUP BY 1) w"
                .to_string()
        }
        _ => "FROM ev".to_string(),
    };
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut server = common::InProcess::open(&data).await;
    let mut ours = common::connect(server.addr).await;
    let postgres = common::postgres::Postgres::start();
    let theirs = postgres.client().await;
    ours.batch_execute(&format!(
        "CREATE TABLE ev (g INT, ts TIMESTAMP, v INT,
                          WATERMARK FOR ts AS ts - INTERVAL '{DELAY}' SECOND) APPEND ONLY"
    ))
    .await
    .unwrap();
    theirs
        .batch_execute("CREATE TABLE ev (g INT, ts TIMESTAMP, v INT)")
        .await
        .unwrap();
    // Functions that read rows still to come, or an order that does not close.
    for refused in [
        "SELECT g, ntile(2) OVER (PARTITION BY g ORDER BY ts) FROM ev",
        "SELECT g, sum(v) OVER (PARTITION BY g ORDER BY ts ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM ev",
        "SELECT g, sum(v) OVER (PARTITION BY g ORDER BY v) FROM ev",
        "SELECT g, sum(v) OVER (PARTITION BY g ORDER BY ts DESC) FROM ev",
        "SELECT g, s, count(*) FROM (SELECT g, sum(v) OVER (PARTITION BY g ORDER BY ts) AS s FROM ev) x GROUP BY g, s",
    ] {
        let error = ours
            .batch_execute(&format!(
                "CREATE MATERIALIZED VIEW r AS {refused} EMIT ON WINDOW CLOSE"
            ))
            .await
            .expect_err(refused);
        assert_eq!(common::sqlstate(&error), "0A000", "{refused}: {error:?}");
    }
    for (name, select, _) in &views {
        ours.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW {name} AS {select} {} EMIT ON WINDOW CLOSE",
            from(name, true)
        ))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let compare = |ours: Client, max: i64| {
        let theirs = &theirs;
        let views = &views;
        async move {
            let bound = stamp(max - DELAY);
            for (name, select, done) in views {
                let select = select.replace(
                    "AS next",
                    "AS next, lead(ts) OVER (PARTITION BY g ORDER BY ts, v) AS next_ts",
                );
                let columns = if *name == "windowed" {
                    "window_start, n, pair"
                } else {
                    "*"
                };
                let oracle = format!(
                    "SELECT {columns} FROM ({select} {}) x WHERE {}",
                    from(name, false),
                    done.replace("{B}", &bound)
                );
                let expected = rows(theirs, &oracle).await;
                let mut expected_columns = expected;
                if *name == "moving" {
                    // Without the finality helper column.
                    expected_columns.iter_mut().for_each(|r| {
                        r.pop();
                    });
                    expected_columns.sort();
                }
                let shown = rows(&ours, &format!("SELECT * FROM {name}")).await;
                assert_eq!(shown, expected_columns, "{name} at {bound}");
                assert!(shown.len() >= 5, "{name} shows only {} rows", shown.len());
            }
            ours
        }
    };
    let mut rng = Rng(0x005e_ed0f_0eed);
    let (mut clock, mut max, mut late) = (0, None::<i64>, 0);
    for step in 0..240 {
        clock += rng.below(3);
        let (g, second, v) = (rng.below(3), (clock - rng.below(7)).max(0), rng.below(10));
        let on_time = max.is_none_or(|m| second >= m - DELAY);
        let row = format!("INSERT INTO ev VALUES ({g}, {}, {v})", stamp(second));
        let inserted = ours.execute(&row, &[]).await.unwrap();
        assert_eq!(inserted, u64::from(on_time), "{row}");
        if on_time {
            theirs.execute(&row, &[]).await.unwrap();
            max = Some(max.map_or(second, |m| m.max(second)));
        } else {
            late += 1;
        }
        ours.batch_execute("FLUSH").await.unwrap();
        if step == 120 {
            ours = compare(ours, max.unwrap()).await;
            server.checkpoint().await.unwrap();
        }
        if step == 150 {
            // A crash: the views start from the checkpoint, the table replays the
            // rows after it.
            drop(ours);
            server.crash();
            server = common::InProcess::open(&data).await;
            ours = common::connect(server.addr).await;
            ours.batch_execute("FLUSH").await.unwrap();
            ours = compare(ours, max.unwrap()).await;
        }
    }
    assert!(late > 10, "the stream should have late rows ({late})");
    compare(ours, max.unwrap()).await;
}
