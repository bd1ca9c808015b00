//! TUMBLE and HOP windows in continuous mode: views over random out-of-order event
//! streams equal a batch computation that assigns windows independently (a join
//! with the list of window starts), and Nexmark-style windowed aggregates run over
//! the generator source.

mod common;

use std::time::Duration;

use common::{Rng, TestServer, sorted_rows as rows, wait_for};

/// Window starts around the events' span every `step` seconds, as a relation `w(s)`.
fn window_starts(step: u32) -> String {
    window_starts_after(0, step)
}

/// Window starts every `step` seconds, `offset` seconds after each multiple of `step`.
fn window_starts_after(offset: u32, step: u32) -> String {
    format!(
        "(SELECT g AS s FROM generate_series(TIMESTAMP '2023-12-31 23:58:00' + \
         INTERVAL '{offset}' SECOND, TIMESTAMP '2024-01-01 00:12:00', INTERVAL '{step}' SECOND) AS g) w"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_views_equal_batch_window_assignment() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE ev (id INT, k INT, v BIGINT, ts TIMESTAMP);
         CREATE MATERIALIZED VIEW tumbling AS
           SELECT window_start, window_end, k, count(*) AS n, max(v) AS mv, sum(v) AS sv
           FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, k;
         CREATE MATERIALIZED VIEW hopping AS
           SELECT window_start, window_end, count(*) AS n, min(v) AS lo
           FROM HOP(ev, ts, INTERVAL '5' SECOND, INTERVAL '15' SECOND) GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW cumulating AS
           SELECT window_start, window_end, count(*) AS n, max(v) AS mv
           FROM CUMULATE(ev, ts, INTERVAL '10' SECOND, INTERVAL '30' SECOND)
           GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW window_on_window AS
           SELECT window_start, max(n) AS busiest FROM tumbling GROUP BY window_start;
         CREATE MATERIALIZED VIEW tumbling_offset AS
           SELECT window_start, count(*) AS n, sum(v) AS sv
           FROM TUMBLE(ev, ts, INTERVAL '10' SECOND, INTERVAL '3' SECOND) GROUP BY window_start;
         CREATE MATERIALIZED VIEW hopping_offset AS
           SELECT window_start, window_end, count(*) AS n
           FROM HOP(ev, ts, INTERVAL '5' SECOND, INTERVAL '15' SECOND, INTERVAL '2' SECOND)
           GROUP BY window_start, window_end;",
    )
    .await
    .unwrap();
    let tumbling_batch = format!(
        "SELECT w.s, w.s + INTERVAL '10' SECOND, k, count(*), max(v), sum(v) FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '10' SECOND \
         WHERE CAST(EXTRACT(EPOCH FROM w.s) AS BIGINT) % 10 = 0 GROUP BY w.s, k",
        window_starts(10)
    );
    let hopping_batch = format!(
        "SELECT w.s, w.s + INTERVAL '15' SECOND, count(*), min(v) FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '15' SECOND GROUP BY w.s",
        window_starts(5)
    );
    // Cumulating windows: starts every 30 s, ends 10, 20 and 30 s after the start.
    let cumulating_batch = format!(
        "SELECT w.s, w.s + e.len, count(*), max(v) FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '30' SECOND \
         JOIN (SELECT INTERVAL '10' SECOND AS len UNION ALL SELECT INTERVAL '20' SECOND \
               UNION ALL SELECT INTERVAL '30' SECOND) e ON ev.ts < w.s + e.len \
         WHERE CAST(EXTRACT(EPOCH FROM w.s) AS BIGINT) % 30 = 0 GROUP BY w.s, e.len",
        window_starts(10)
    );
    // RisingWave's offset: windows start 3 s (2 s) after the multiples of their size.
    let tumbling_offset_batch = format!(
        "SELECT w.s, count(*), sum(v) FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '10' SECOND GROUP BY w.s",
        window_starts_after(3, 10)
    );
    let hopping_offset_batch = format!(
        "SELECT w.s, w.s + INTERVAL '15' SECOND, count(*) FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '15' SECOND GROUP BY w.s",
        window_starts_after(2, 5)
    );
    let nested_batch = format!(
        "SELECT s, max(n) FROM (SELECT w.s AS s, k, count(*) AS n FROM ev JOIN {} \
         ON ev.ts >= w.s AND ev.ts < w.s + INTERVAL '10' SECOND GROUP BY w.s, k) GROUP BY s",
        window_starts(10)
    );

    let mut rng = Rng(0x5eed);
    let mut next_id = 0;
    for step in 0..40 {
        // Events arrive out of order: timestamps anywhere in a 10-minute span, at
        // boundaries (exact multiples of 5 s) one time in four.
        let mut values = Vec::new();
        for _ in 0..(1 + rng.below(15)) {
            next_id += 1;
            let second = rng.below(600);
            let fraction = if rng.below(4) == 0 {
                0
            } else {
                rng.below(1000)
            };
            let second = if rng.below(4) == 0 {
                second - second % 5
            } else {
                second
            };
            values.push(format!(
                "({next_id}, {}, {}, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{second}.{fraction:03} seconds')",
                rng.below(3),
                rng.below(100)
            ));
        }
        c.batch_execute(&format!("INSERT INTO ev VALUES {}", values.join(", ")))
            .await
            .unwrap();
        if step % 4 == 3 {
            c.batch_execute(&format!("DELETE FROM ev WHERE id % 7 = {}", rng.below(7)))
                .await
                .unwrap();
            c.batch_execute(&format!(
                "UPDATE ev SET ts = ts + INTERVAL '7' SECOND WHERE id % 5 = {}",
                rng.below(5)
            ))
            .await
            .unwrap();
        }
        c.batch_execute("FLUSH").await.unwrap();
        assert_eq!(
            rows(&c, "SELECT * FROM tumbling").await,
            rows(&c, &tumbling_batch).await,
            "step {step}"
        );
        assert_eq!(
            rows(&c, "SELECT * FROM hopping").await,
            rows(&c, &hopping_batch).await,
            "step {step}"
        );
        assert_eq!(
            rows(&c, "SELECT * FROM cumulating").await,
            rows(&c, &cumulating_batch).await,
            "step {step}"
        );
        assert_eq!(
            rows(&c, "SELECT * FROM window_on_window").await,
            rows(&c, &nested_batch).await,
            "step {step}"
        );
        assert_eq!(
            rows(&c, "SELECT * FROM tumbling_offset").await,
            rows(&c, &tumbling_offset_batch).await,
            "step {step}"
        );
        assert_eq!(
            rows(&c, "SELECT * FROM hopping_offset").await,
            rows(&c, &hopping_offset_batch).await,
            "step {step}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_boundaries() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE b (ts TIMESTAMP, n INT);
         INSERT INTO b (ts) VALUES (TIMESTAMP '2024-01-01 00:00:10'), (TIMESTAMP '2024-01-01 00:00:09.999999'),
                                   (TIMESTAMP '1969-12-31 23:59:55');",
    )
    .await
    .unwrap();
    // An event exactly at a window's end belongs to the next window (end exclusive).
    assert_eq!(
        rows(&c, "SELECT CAST(ts AS VARCHAR), CAST(window_start AS VARCHAR), CAST(window_end AS VARCHAR) \
                  FROM TUMBLE(b, ts, INTERVAL '10' SECOND)").await,
        vec![
            vec!["1969-12-31 23:59:55", "1969-12-31 23:59:50", "1970-01-01 00:00:00"],
            vec!["2024-01-01 00:00:09.999999", "2024-01-01 00:00:00", "2024-01-01 00:00:10"],
            vec!["2024-01-01 00:00:10", "2024-01-01 00:00:10", "2024-01-01 00:00:20"],
        ]
    );
    // A hop puts every event in size / slide windows, overlapping.
    assert_eq!(
        rows(
            &c,
            "SELECT count(*) FROM HOP(b, ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND)"
        )
        .await,
        vec![vec!["15"]]
    );
    for (sql, code) in [
        (
            "CREATE MATERIALIZED VIEW x AS SELECT * FROM TUMBLE(b, ts, INTERVAL '0' SECOND)",
            "22023",
        ),
        (
            "CREATE MATERIALIZED VIEW x AS SELECT * FROM HOP(b, ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND)",
            "22023",
        ),
    ] {
        let err = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(common::sqlstate(&err), code, "{sql}");
    }
}

/// The aggregate parts of Nexmark q5 (HOP bid counts per auction), q7 (TUMBLE max
/// price) and q8 (TUMBLE new persons) over the generator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_windowed_aggregates() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 5000,
                 nexmark.events.per.second = 0);
         CREATE SOURCE person (id BIGINT, name VARCHAR, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'person', nexmark.event.num = 1000,
                 nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW q5 AS
           SELECT auction, window_start, count(*) AS num
           FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
           GROUP BY auction, window_start;
         CREATE MATERIALIZED VIEW q7 AS
           SELECT window_start, max(price) AS maxprice, count(*) AS bids
           FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND) GROUP BY window_start;
         CREATE MATERIALIZED VIEW q8 AS
           SELECT id, name, window_start FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
           GROUP BY id, name, window_start;",
    )
    .await
    .unwrap();
    assert_eq!(
        wait_for(
            &c,
            "SELECT coalesce(CAST(sum(bids) AS BIGINT), 0) FROM q7",
            5000,
            Duration::from_secs(30)
        )
        .await,
        5000
    );
    // Every bid is in size / slide = 5 hop windows.
    assert_eq!(
        wait_for(
            &c,
            "SELECT coalesce(CAST(sum(num) AS BIGINT), 0) FROM q5",
            25_000,
            Duration::from_secs(30)
        )
        .await,
        25_000
    );
    assert_eq!(
        wait_for(&c, "SELECT count(*) FROM q8", 1000, Duration::from_secs(30)).await,
        1000
    );
    let windows: i64 = c
        .query_one("SELECT count(*) FROM q7", &[])
        .await
        .unwrap()
        .get(0);
    assert!(windows >= 1);
}

/// EMIT ON WINDOW CLOSE over a Kafka source: a window's row appears once the
/// watermark passes its end and never changes; later rows for it are late, dropped
/// and counted, by the continuous view too, and by a view grouped by `window_start`
/// alone; a view per minute closes later. (The example of docs/windows.md.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_on_window_close_holds_windows_until_the_watermark_passes() {
    let broker = common::kafka::Broker::start();
    broker.create_topic("clicks", 1);
    let at = |second: u32| {
        (
            0,
            format!(r#"{{"ts": "2024-01-01T00:00:{second:02}Z"}}"#).into_bytes(),
        )
    };
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE clicks (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
           WITH (connector = 'kafka', topic = 'clicks', properties.bootstrap.server = '{}')
           FORMAT PLAIN ENCODE JSON;
         CREATE MATERIALIZED VIEW closed AS
           SELECT window_start, window_end, count(*) AS n
           FROM TUMBLE(clicks, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end
           EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW live AS
           SELECT window_start, window_end, count(*) AS n
           FROM TUMBLE(clicks, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW per_start AS
           SELECT window_start, count(*) AS n
           FROM TUMBLE(clicks, ts, INTERVAL '10' SECOND) GROUP BY window_start
           EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW per_minute AS
           SELECT date_trunc('minute', ts) AS minute, count(*) AS n FROM clicks GROUP BY 1
           EMIT ON WINDOW CLOSE;",
        broker.address()
    ))
    .await
    .unwrap();
    let closed = "SELECT CAST(window_start AS VARCHAR), n FROM closed";
    let total = |view: &str| format!("SELECT coalesce(CAST(sum(n) AS BIGINT), 0) FROM {view}");

    // Events at :01, :05, :12: the watermark reaches :10, closing [:00, :10).
    broker.produce("clicks", &[at(1), at(5), at(12)]);
    assert_eq!(
        wait_for(&c, &total("live"), 3, Duration::from_secs(30)).await,
        3
    );
    assert_eq!(
        wait_for(&c, &total("closed"), 2, Duration::from_secs(30)).await,
        2
    );
    assert_eq!(
        rows(&c, closed).await,
        vec![vec!["2024-01-01 00:00:00", "2"]]
    );

    // A late event for the closed window: neither view changes (a closed window is
    // final in the continuous view too), and both count the late row. Each view
    // reads the topic itself: every one must have seen the watermark reach :10
    // first, or :03 would arrive with :12 and be on time for it.
    let watermark_of = |view: &str| {
        format!(
            "SELECT coalesce(CAST(EXTRACT(EPOCH FROM watermark) AS BIGINT), 0) - 1704067200
             FROM sluice_catalog.view_status WHERE name = '{view}'"
        )
    };
    for view in ["closed", "live", "per_start", "per_minute"] {
        assert_eq!(
            wait_for(&c, &watermark_of(view), 10, Duration::from_secs(30)).await,
            10,
            "{view}"
        );
    }
    broker.produce("clicks", &[at(3)]);
    let late = |view: &str| {
        format!("SELECT late_rows FROM sluice_catalog.view_status WHERE name = '{view}'")
    };
    // The closed window's state was freed, so the late event makes one new (late) row.
    assert_eq!(
        wait_for(&c, &late("closed"), 1, Duration::from_secs(30)).await,
        1
    );
    assert_eq!(
        wait_for(&c, &late("live"), 1, Duration::from_secs(30)).await,
        1
    );
    c.batch_execute("FLUSH").await.unwrap();
    assert_eq!(
        rows(&c, closed).await,
        vec![vec!["2024-01-01 00:00:00", "2"]]
    );
    assert_eq!(
        rows(&c, "SELECT CAST(window_start AS VARCHAR), n FROM live").await,
        vec![
            vec!["2024-01-01 00:00:00", "2"],
            vec!["2024-01-01 00:00:10", "1"]
        ]
    );

    // :25 moves the watermark to :23, closing [:10, :20) but not [:20, :30).
    broker.produce("clicks", &[at(25)]);
    assert_eq!(
        wait_for(&c, &total("closed"), 3, Duration::from_secs(30)).await,
        3
    );
    assert_eq!(
        rows(&c, closed).await,
        vec![
            vec!["2024-01-01 00:00:00", "2"],
            vec!["2024-01-01 00:00:10", "1"]
        ]
    );
    let watermark: String = c
        .query_one(
            "SELECT CAST(watermark AS VARCHAR) FROM sluice_catalog.view_status WHERE name = 'closed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(watermark, "2024-01-01 00:00:23");
    for view in ["live", "per_start", "per_minute"] {
        assert_eq!(
            wait_for(&c, &watermark_of(view), 23, Duration::from_secs(30)).await,
            23,
            "{view}"
        );
    }
    c.batch_execute("FLUSH").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT CAST(window_start AS VARCHAR), n FROM per_start").await,
        vec![
            vec!["2024-01-01 00:00:00", "2"],
            vec!["2024-01-01 00:00:10", "1"]
        ]
    );
    // The minute 00:00 is still open: :03 was on time for it.
    assert!(rows(&c, "SELECT * FROM per_minute").await.is_empty());
    assert_eq!(
        rows(
            &c,
            "SELECT name, late_rows FROM sluice_catalog.view_status ORDER BY name"
        )
        .await,
        vec![
            vec!["closed", "1"],
            vec!["live", "1"],
            vec!["per_minute", "0"],
            vec!["per_start", "1"]
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_on_window_close_needs_watermarked_sources_and_a_closing_column() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (ts TIMESTAMP);
         CREATE SOURCE g (ts TIMESTAMP, WATERMARK FOR ts AS ts)
           WITH (connector = 'datagen', datagen.rows.total = 1);",
    )
    .await
    .unwrap();
    for sql in [
        "CREATE MATERIALIZED VIEW v AS SELECT window_end, count(*) FROM TUMBLE(t, ts, INTERVAL '1' SECOND) \
         GROUP BY window_end EMIT ON WINDOW CLOSE",
        // A watermarked source, but no column that closes by its watermark among the
        // view's: the second of a minute does not grow with time.
        "CREATE MATERIALIZED VIEW v AS SELECT date_part('second', window_start) AS s, count(*) \
         FROM TUMBLE(g, ts, INTERVAL '1' SECOND) GROUP BY 1 EMIT ON WINDOW CLOSE",
        "CREATE MATERIALIZED VIEW v AS SELECT count(*) FROM g EMIT ON WINDOW CLOSE",
    ] {
        let err = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(common::sqlstate(&err), "0A000", "{sql}");
    }
}

/// Views over a watermarked source forget the state of closed windows, continuous
/// and EMIT ON WINDOW CLOSE alike: over a stream spanning many windows, their
/// operator state stays a small fraction of the same view's over the same events
/// without a watermark (whose windows never close).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_windows_are_freed() {
    let server = TestServer::start().await;
    let c = server.client().await;
    let per_second = |source: &str| {
        format!(
            "SELECT auction, window_start, window_end, count(*) AS n, max(price) AS top
             FROM TUMBLE({source}, date_time, INTERVAL '1' SECOND)
             GROUP BY auction, window_start, window_end"
        )
    };
    c.batch_execute(&format!(
        "CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP,
                            WATERMARK FOR date_time AS date_time)
           WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 100000,
                 nexmark.events.per.second = 0);
         CREATE SOURCE bid_unordered (auction BIGINT, price BIGINT, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 100000,
                 nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW per_second_closed AS {} EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW per_second_live AS {};
         CREATE MATERIALIZED VIEW per_second_unbounded AS {};",
        per_second("bid"),
        per_second("bid"),
        per_second("bid_unordered")
    ))
    .await
    .unwrap();
    let read = |view: &str| {
        format!("SELECT rows_read FROM sluice_catalog.source_status WHERE reader = '{view}'")
    };
    let views = [
        "per_second_closed",
        "per_second_live",
        "per_second_unbounded",
    ];
    for view in views {
        assert_eq!(
            wait_for(&c, &read(view), 100_000, Duration::from_secs(60)).await,
            100_000
        );
    }
    c.batch_execute("FLUSH").await.unwrap();
    let mut bytes = Vec::new();
    for view in views {
        let sql =
            format!("SELECT operator_bytes FROM sluice_catalog.view_status WHERE name = '{view}'");
        bytes.push(c.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0));
    }
    let (closed, live, unbounded) = (bytes[0], bytes[1], bytes[2]);
    assert!(
        closed * 4 < unbounded && live * 4 < unbounded,
        "closed-window state ({closed} and {live} bytes) should be far below the state \
         without a watermark ({unbounded} bytes)"
    );
    // The closed view shows exactly the continuous view's closed windows, and those
    // equal the windows of the view without a watermark (the generator's events are
    // in order: none is late).
    let watermark =
        "(SELECT watermark FROM sluice_catalog.view_status WHERE name = 'per_second_closed')";
    let closed_rows = rows(&c, "SELECT * FROM per_second_closed").await;
    assert_eq!(
        closed_rows,
        rows(
            &c,
            &format!("SELECT * FROM per_second_live WHERE window_end <= {watermark}")
        )
        .await
    );
    assert_eq!(
        closed_rows,
        rows(
            &c,
            &format!("SELECT * FROM per_second_unbounded WHERE window_end <= {watermark}")
        )
        .await
    );
}

/// Flink's `TABLE(f(TABLE t, DESCRIPTOR(ts), ...))` form, positional and named, gives
/// the same rows as RisingWave's form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_form_equals_risingwave_form() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE ev (k INT, v BIGINT, ts TIMESTAMP)")
        .await
        .unwrap();
    let mut rng = Rng(0xf11c);
    let values: Vec<String> = (0..200)
        .map(|_| {
            format!(
                "({}, {}, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{}' MILLISECOND)",
                rng.below(4),
                rng.below(1000),
                rng.below(120_000)
            )
        })
        .collect();
    c.batch_execute(&format!("INSERT INTO ev VALUES {}", values.join(", ")))
        .await
        .unwrap();
    let select = "SELECT window_start, window_end, k, count(*), sum(v) FROM";
    let group = "GROUP BY window_start, window_end, k";
    for (risingwave, flink) in [
        (
            "TUMBLE(ev, ts, INTERVAL '10' SECOND)",
            "TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))",
        ),
        (
            "TUMBLE(ev, ts, INTERVAL '10' SECOND)",
            "TABLE(TUMBLE(DATA => TABLE ev, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' SECOND))",
        ),
        (
            "HOP(ev, ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND)",
            "TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))",
        ),
        (
            "HOP(ev, ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND)",
            "TABLE(HOP(DATA => TABLE ev, TIMECOL => DESCRIPTOR(ts), \
             SIZE => INTERVAL '10' SECOND, SLIDE => INTERVAL '2' SECOND))",
        ),
        (
            "CUMULATE(ev, ts, INTERVAL '5' SECOND, INTERVAL '20' SECOND)",
            "TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND))",
        ),
        (
            "TUMBLE(ev, ts, INTERVAL '10' SECOND, INTERVAL '4' SECOND)",
            "TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '4' SECOND))",
        ),
        (
            "HOP(ev, ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND, INTERVAL '1' SECOND)",
            "TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND, \
             INTERVAL '1' SECOND))",
        ),
    ] {
        let expected = rows(&c, &format!("{select} {risingwave} {group}")).await;
        assert!(!expected.is_empty());
        assert_eq!(
            rows(&c, &format!("{select} {flink} {group}")).await,
            expected,
            "{flink}"
        );
    }
    let err = c
        .batch_execute(
            "SELECT * FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND, \
             INTERVAL '2' SECOND, INTERVAL '1' SECOND))",
        )
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err), "0A000");
}

/// The aggregate parts of the published Flink Nexmark q5 and q7, written in Flink's
/// form, run as views over the generator and equal the same views in RisingWave's form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_nexmark_windowed_aggregates() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP)
           WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = 3000,
                 nexmark.events.per.second = 0);
         CREATE MATERIALIZED VIEW q5_flink AS
           SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
           FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
           GROUP BY auction, window_start, window_end;
         CREATE MATERIALIZED VIEW q5_rw AS
           SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
           FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
           GROUP BY auction, window_start, window_end;
         CREATE MATERIALIZED VIEW q7_flink AS
           SELECT MAX(price) AS maxprice, window_end AS date_time
           FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
           GROUP BY window_start, window_end;
         CREATE MATERIALIZED VIEW q7_rw AS
           SELECT MAX(price) AS maxprice, window_end AS date_time
           FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
           GROUP BY window_start, window_end;",
    )
    .await
    .unwrap();
    for view in ["q5_flink", "q5_rw"] {
        assert_eq!(
            wait_for(
                &c,
                &format!("SELECT coalesce(CAST(sum(num) AS BIGINT), 0) FROM {view}"),
                15_000,
                Duration::from_secs(30)
            )
            .await,
            15_000
        );
    }
    c.batch_execute("FLUSH").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM q5_flink").await,
        rows(&c, "SELECT * FROM q5_rw").await
    );
    let q7 = rows(&c, "SELECT * FROM q7_flink").await;
    assert!(!q7.is_empty());
    assert_eq!(q7, rows(&c, "SELECT * FROM q7_rw").await);
}

/// Sessions of `(id, key, second)` events in plain Rust, independent of Sluice: per
/// key, ordered by time, an event less than `gap` seconds after the previous one
/// continues its session. Returns `id → (start, end)` in epoch seconds.
fn oracle_sessions(
    events: &[(i64, i64, Option<i64>)],
    gap: i64,
    by_key: bool,
) -> std::collections::BTreeMap<i64, Option<(i64, i64)>> {
    const BASE: i64 = 1_704_067_200; // 2024-01-01 00:00:00
    let mut out = std::collections::BTreeMap::new();
    let mut by_partition: std::collections::BTreeMap<i64, Vec<(i64, i64)>> = Default::default();
    for &(id, key, second) in events {
        match second {
            None => {
                out.insert(id, None);
            }
            Some(s) => by_partition
                .entry(if by_key { key } else { 0 })
                .or_default()
                .push((s, id)),
        }
    }
    for (_, mut times) in by_partition {
        times.sort();
        let mut group: Vec<(i64, i64)> = Vec::new();
        for (i, &(t, id)) in times.iter().enumerate() {
            group.push((t, id));
            if i + 1 == times.len() || times[i + 1].0 - t >= gap {
                let (start, end) = (group[0].0, t + gap);
                for (_, id) in group.drain(..) {
                    out.insert(id, Some((BASE + start, BASE + end)));
                }
            }
        }
    }
    out
}

/// SESSION windows in continuous mode: over random out-of-order inserts, deletes and
/// updates, views (per-row assignment, aggregates per session, Flink's form, no key)
/// and plain queries equal sessions computed independently in the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_views_equal_independent_sessions() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE ev (id INT, k INT, v BIGINT, ts TIMESTAMP);
         CREATE MATERIALIZED VIEW assigned AS
           SELECT id, window_start, window_end FROM SESSION(ev, ts, INTERVAL '10' SECOND, k);
         CREATE MATERIALIZED VIEW per_session AS
           SELECT k, window_start, window_end, count(*) AS n, sum(v) AS sv
           FROM SESSION(ev, ts, INTERVAL '10' SECOND, k) GROUP BY k, window_start, window_end;
         CREATE MATERIALIZED VIEW per_session_flink AS
           SELECT k, window_start, window_end, count(*) AS n, sum(v) AS sv
           FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '10' SECOND))
           GROUP BY k, window_start, window_end;
         CREATE MATERIALIZED VIEW global AS
           SELECT id, window_start, window_end FROM SESSION(ev, ts, INTERVAL '4' SECOND);",
    )
    .await
    .unwrap();
    let epoch = |c: &str| format!("CAST(EXTRACT(EPOCH FROM {c}) AS BIGINT)");
    let assigned_sql = |from: &str| {
        format!(
            "SELECT id, {}, {} FROM {from}",
            epoch("window_start"),
            epoch("window_end")
        )
    };
    let per_session_sql = |from: &str| {
        format!(
            "SELECT k, {}, {}, n, sv FROM {from}",
            epoch("window_start"),
            epoch("window_end")
        )
    };
    let per_session_batch = format!(
        "SELECT k, {}, {}, count(*), sum(v) FROM SESSION(ev, ts, INTERVAL '10' SECOND, k) \
         GROUP BY k, window_start, window_end",
        epoch("window_start"),
        epoch("window_end")
    );

    // The test's own copy of the table: (id, k, v, second after 00:00 or NULL).
    let mut model: Vec<(i64, i64, i64, Option<i64>)> = Vec::new();
    let mut rng = Rng(0x5e55);
    let mut next_id = 0;
    for step in 0..30 {
        let mut values = Vec::new();
        for _ in 0..(1 + rng.below(8)) {
            next_id += 1;
            let (k, v) = (rng.below(3), rng.below(100));
            // Whole seconds, so events exactly a gap apart are common.
            let second = (!rng.one_in(20)).then(|| rng.below(200));
            let ts = second.map_or("NULL".to_string(), |s| {
                format!("TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{s}' SECOND")
            });
            values.push(format!("({next_id}, {k}, {v}, {ts})"));
            model.push((next_id, k, v, second));
        }
        c.batch_execute(&format!("INSERT INTO ev VALUES {}", values.join(", ")))
            .await
            .unwrap();
        if step % 3 == 2 {
            let gone = rng.below(7);
            c.batch_execute(&format!("DELETE FROM ev WHERE id % 7 = {gone}"))
                .await
                .unwrap();
            model.retain(|e| e.0 % 7 != gone);
            let moved = rng.below(5);
            c.batch_execute(&format!(
                "UPDATE ev SET ts = ts + INTERVAL '7' SECOND WHERE id % 5 = {moved}"
            ))
            .await
            .unwrap();
            for e in model.iter_mut().filter(|e| e.0 % 5 == moved) {
                e.3 = e.3.map(|s| s + 7);
            }
        }
        c.batch_execute("FLUSH").await.unwrap();

        let events: Vec<(i64, i64, Option<i64>)> = model.iter().map(|e| (e.0, e.1, e.3)).collect();
        let text = |sessions: std::collections::BTreeMap<i64, Option<(i64, i64)>>| {
            let mut out: Vec<Vec<String>> = sessions
                .into_iter()
                .map(|(id, b)| match b {
                    Some((s, e)) => vec![id.to_string(), s.to_string(), e.to_string()],
                    None => vec![id.to_string(), "NULL".into(), "NULL".into()],
                })
                .collect();
            out.sort();
            out
        };
        let keyed = oracle_sessions(&events, 10, true);
        let mut groups: std::collections::BTreeMap<(i64, i64, i64), (i64, i64)> =
            Default::default();
        for e in &model {
            if let Some(Some((s, end))) = keyed.get(&e.0) {
                let g = groups.entry((e.1, *s, *end)).or_default();
                g.0 += 1;
                g.1 += e.2;
            }
        }
        let mut expected_groups: Vec<Vec<String>> = groups
            .into_iter()
            .map(|((k, s, e), (n, sv))| [k, s, e, n, sv].iter().map(i64::to_string).collect())
            .collect();
        // Rows without a time are one NULL session per key.
        let mut null_groups: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
        for e in model.iter().filter(|e| e.3.is_none()) {
            let g = null_groups.entry(e.1).or_default();
            g.0 += 1;
            g.1 += e.2;
        }
        for (k, (n, sv)) in null_groups {
            expected_groups.push(vec![
                k.to_string(),
                "NULL".into(),
                "NULL".into(),
                n.to_string(),
                sv.to_string(),
            ]);
        }
        expected_groups.sort();

        assert_eq!(
            rows(&c, &assigned_sql("assigned")).await,
            text(keyed.clone()),
            "step {step}"
        );
        assert_eq!(
            rows(
                &c,
                &assigned_sql("SESSION(ev, ts, INTERVAL '10' SECOND, k)")
            )
            .await,
            text(keyed),
            "step {step}: plain query"
        );
        assert_eq!(
            rows(&c, &per_session_sql("per_session")).await,
            expected_groups,
            "step {step}"
        );
        assert_eq!(
            rows(&c, &per_session_sql("per_session_flink")).await,
            expected_groups,
            "step {step}"
        );
        assert_eq!(
            rows(&c, &per_session_batch).await,
            expected_groups,
            "step {step}"
        );
        assert_eq!(
            rows(&c, &assigned_sql("global")).await,
            text(oracle_sessions(&events, 4, false)),
            "step {step}"
        );
    }
}

/// Session boundaries: events exactly a gap apart are separate sessions, one less
/// than a gap apart share one, a bridging event merges two, and its delete splits
/// them again; invalid sessions are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_boundaries() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE s (u INT, ts TIMESTAMP);
         CREATE MATERIALIZED VIEW sessions AS
           SELECT u, window_start, window_end, count(*) AS n
           FROM SESSION(s, ts, INTERVAL '10' SECOND, u) GROUP BY u, window_start, window_end;
         INSERT INTO s VALUES (1, TIMESTAMP '2024-01-01 00:00:00'), (1, TIMESTAMP '2024-01-01 00:00:10'),
                              (2, TIMESTAMP '2024-01-01 00:00:00'), (2, TIMESTAMP '2024-01-01 00:00:09.999999'),
                              (1, TIMESTAMP '2024-01-01 00:00:25');
         FLUSH;",
    )
    .await
    .unwrap();
    let sessions =
        "SELECT u, CAST(window_start AS VARCHAR), CAST(window_end AS VARCHAR), n FROM sessions";
    assert_eq!(
        rows(&c, sessions).await,
        vec![
            vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:10", "1"],
            vec!["1", "2024-01-01 00:00:10", "2024-01-01 00:00:20", "1"],
            vec!["1", "2024-01-01 00:00:25", "2024-01-01 00:00:35", "1"],
            vec![
                "2",
                "2024-01-01 00:00:00",
                "2024-01-01 00:00:19.999999",
                "2"
            ],
        ]
    );
    // :17 is within 10 s of :10 and of :25: it bridges those two sessions into one;
    // :00 stays alone, exactly a gap before :10.
    c.batch_execute("INSERT INTO s VALUES (1, TIMESTAMP '2024-01-01 00:00:17'); FLUSH")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, &format!("{sessions} WHERE u = 1")).await,
        vec![
            vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:10", "1"],
            vec!["1", "2024-01-01 00:00:10", "2024-01-01 00:00:35", "3"]
        ]
    );
    c.batch_execute("DELETE FROM s WHERE ts = TIMESTAMP '2024-01-01 00:00:17'; FLUSH")
        .await
        .unwrap();
    assert_eq!(rows(&c, &format!("{sessions} WHERE u = 1")).await.len(), 3);
    for (sql, code) in [
        (
            "SELECT * FROM SESSION(s, ts, INTERVAL '0' SECOND, u)",
            "22023",
        ),
        (
            "SELECT * FROM SESSION(s, ts, INTERVAL '1' MONTH, u)",
            "22023",
        ),
        ("SELECT * FROM SESSION(s, ts)", "42601"),
        (
            "SELECT * FROM SESSION(s, ts, INTERVAL '1' SECOND, u + 1)",
            "42601",
        ),
        ("SELECT * FROM SESSION(s, u, INTERVAL '1' SECOND)", "42804"),
        (
            "CREATE MATERIALIZED VIEW x AS SELECT * FROM SESSION(s, u, INTERVAL '1' SECOND)",
            "42804",
        ),
        (
            "SELECT * FROM TABLE(SESSION(TABLE s PARTITION BY u, DESCRIPTOR(ts)))",
            "42601",
        ),
    ] {
        let err = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(common::sqlstate(&err), code, "{sql}: {err:?}");
    }
}

/// `{"u": user, "ts": ...}` at `second` seconds after 2024-01-01 00:00:00.
fn click(user: i64, second: i64) -> (i32, Vec<u8>) {
    (
        0,
        format!(
            r#"{{"u": {user}, "ts": "2024-01-01T{:02}:{:02}:{:02}Z"}}"#,
            second / 3600,
            second / 60 % 60,
            second % 60
        )
        .into_bytes(),
    )
}

/// A SESSION source (`u`, `ts`, watermark 20 s behind) with an EOWC view and a
/// continuous view of sessions per user (gap 10 s).
async fn session_source(broker: &common::kafka::Broker, c: &tokio_postgres::Client) {
    broker.create_topic("clicks", 1);
    c.batch_execute(&format!(
        "CREATE SOURCE clicks (u INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '20' SECOND)
           WITH (connector = 'kafka', topic = 'clicks', properties.bootstrap.server = '{}')
           FORMAT PLAIN ENCODE JSON;
         CREATE MATERIALIZED VIEW closed AS
           SELECT u, window_start, window_end, count(*) AS n
           FROM SESSION(clicks, ts, INTERVAL '10' SECOND, u) GROUP BY u, window_start, window_end
           EMIT ON WINDOW CLOSE;
         CREATE MATERIALIZED VIEW live AS
           SELECT u, window_start, window_end, count(*) AS n
           FROM SESSION(clicks, ts, INTERVAL '10' SECOND, u) GROUP BY u, window_start, window_end;",
        broker.address()
    ))
    .await
    .unwrap();
}

/// Produces one message and waits until both views' readers have read `total`.
async fn click_and_wait(
    broker: &common::kafka::Broker,
    c: &tokio_postgres::Client,
    message: (i32, Vec<u8>),
    total: i64,
) {
    broker.produce("clicks", &[message]);
    for view in ["closed", "live"] {
        let sql =
            format!("SELECT rows_read FROM sluice_catalog.source_status WHERE reader = '{view}'");
        assert_eq!(
            wait_for(c, &sql, total, Duration::from_secs(30)).await,
            total
        );
    }
    c.batch_execute("FLUSH").await.unwrap();
}

/// Sessions over a watermarked source: an out-of-order event that is still ahead of
/// the watermark (late but allowed) bridges two sessions before they close; an
/// EMIT ON WINDOW CLOSE session appears once the watermark reaches its end; an event
/// behind the watermark is late for the continuous view too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_emit_on_window_close() {
    let broker = common::kafka::Broker::start();
    let server = TestServer::start().await;
    let c = server.client().await;
    session_source(&broker, &c).await;
    let closed =
        "SELECT u, CAST(window_start AS VARCHAR), CAST(window_end AS VARCHAR), n FROM closed";
    let live = "SELECT u, CAST(window_start AS VARCHAR), CAST(window_end AS VARCHAR), n FROM live";
    let late = "SELECT late_rows FROM sluice_catalog.view_status WHERE name = 'closed'";

    click_and_wait(&broker, &c, click(1, 0), 1).await;
    click_and_wait(&broker, &c, click(1, 15), 2).await;
    assert_eq!(rows(&c, live).await.len(), 2, "[:00, :10) and [:15, :25)");
    // :07 arrives after :15 but is ahead of the watermark (-:05): it bridges them.
    click_and_wait(&broker, &c, click(1, 7), 3).await;
    assert_eq!(
        rows(&c, live).await,
        vec![vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:25", "3"]]
    );
    assert!(rows(&c, closed).await.is_empty(), "nothing has closed yet");
    // :45 moves the watermark to :25 = the session's end: it closes.
    click_and_wait(&broker, &c, click(1, 45), 4).await;
    assert_eq!(
        rows(&c, closed).await,
        vec![vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:25", "3"]]
    );
    // :24 is behind the watermark (:25): late for both views, which do not change
    // (the continuous view's closed session is final too).
    click_and_wait(&broker, &c, click(1, 24), 5).await;
    assert_eq!(
        rows(&c, closed).await,
        vec![vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:25", "3"]]
    );
    assert_eq!(wait_for(&c, late, 1, Duration::from_secs(10)).await, 1);
    let live_late = "SELECT late_rows FROM sluice_catalog.view_status WHERE name = 'live'";
    assert_eq!(wait_for(&c, live_late, 1, Duration::from_secs(10)).await, 1);
    assert_eq!(
        rows(&c, live).await,
        vec![
            vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:25", "3"],
            vec!["1", "2024-01-01 00:00:45", "2024-01-01 00:00:55", "1"]
        ]
    );
    // Exactly at the watermark (:25) is on time, and starts a session of its own.
    click_and_wait(&broker, &c, click(2, 25), 6).await;
    click_and_wait(&broker, &c, click(2, 80), 7).await;
    assert_eq!(
        rows(&c, closed).await,
        vec![
            vec!["1", "2024-01-01 00:00:00", "2024-01-01 00:00:25", "3"],
            vec!["1", "2024-01-01 00:00:45", "2024-01-01 00:00:55", "1"],
            vec!["2", "2024-01-01 00:00:25", "2024-01-01 00:00:35", "1"]
        ]
    );
    assert_eq!(wait_for(&c, late, 1, Duration::from_secs(10)).await, 1);
}

/// EMIT ON WINDOW CLOSE sessions over a random out-of-order stream: the view holds
/// exactly the closed sessions of the events that were on time (not behind the
/// watermark when they arrived), computed independently; the others are counted late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_emit_on_window_close_oracle() {
    let broker = common::kafka::Broker::start();
    let server = TestServer::start().await;
    let c = server.client().await;
    session_source(&broker, &c).await;
    let mut rng = Rng(0xe0c5);
    let mut events: Vec<(i64, i64, Option<i64>)> = Vec::new();
    let mut on_time: Vec<(i64, i64, Option<i64>)> = Vec::new();
    let mut max_seen: Option<i64> = None;
    let mut shown: std::collections::BTreeMap<Vec<String>, String> = Default::default();
    let mut clock = 0;
    for id in 0..60 {
        // Time mostly moves forward, with events up to 30 s out of order.
        clock += rng.below(6);
        let second = (clock - rng.below(31)).max(0);
        let user = rng.below(3);
        let watermark = max_seen.map(|m| m - 20);
        if watermark.is_none_or(|w| second >= w) {
            on_time.push((id, user, Some(second)));
        }
        events.push((id, user, Some(second)));
        max_seen = Some(max_seen.map_or(second, |m| m.max(second)));
        click_and_wait(&broker, &c, click(user, second), id + 1).await;
        // Never a session before it closes; never a change to one shown.
        let view_watermark: Option<i64> = c
            .query_one(
                "SELECT CAST(EXTRACT(EPOCH FROM watermark) AS BIGINT)
                 FROM sluice_catalog.view_status WHERE name = 'closed'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let closed = "SELECT u, CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT), \
                      CAST(EXTRACT(EPOCH FROM window_end) AS BIGINT), n FROM closed";
        for row in rows(&c, closed).await {
            let end: i64 = row[2].parse().unwrap();
            assert!(
                view_watermark.is_some_and(|w| end <= w),
                "session {row:?} shown before the watermark {view_watermark:?} passed its end"
            );
            let previous = shown.insert(row[..3].to_vec(), row[3].clone());
            assert!(
                previous.as_ref().is_none_or(|n| *n == row[3]),
                "a shown session changed: {row:?} was {previous:?}"
            );
        }
    }
    let watermark = 1_704_067_200 + max_seen.unwrap_or(0) - 20;
    let per_session = |events: &[(i64, i64, Option<i64>)], closed_only: bool| {
        let users: std::collections::BTreeMap<i64, i64> =
            events.iter().map(|e| (e.0, e.1)).collect();
        let mut groups: std::collections::BTreeMap<(i64, i64, i64), i64> = Default::default();
        for (id, bounds) in oracle_sessions(events, 10, true) {
            if let Some((s, e)) = bounds
                && (!closed_only || e <= watermark)
            {
                *groups.entry((users[&id], s, e)).or_default() += 1;
            }
        }
        let mut out: Vec<Vec<String>> = groups
            .into_iter()
            .map(|((u, s, e), n)| [u, s, e, n].iter().map(i64::to_string).collect())
            .collect();
        out.sort();
        out
    };
    let epochs = "SELECT u, CAST(EXTRACT(EPOCH FROM window_start) AS BIGINT), \
                  CAST(EXTRACT(EPOCH FROM window_end) AS BIGINT), n FROM";
    let closed = rows(&c, &format!("{epochs} closed")).await;
    assert!(!closed.is_empty());
    assert_eq!(closed, per_session(&on_time, true));
    // The continuous view drops the same late events: it holds the on-time events'
    // sessions, open ones included.
    assert_eq!(
        rows(&c, &format!("{epochs} live")).await,
        per_session(&on_time, false)
    );
    let late: i64 = c
        .query_one(
            "SELECT late_rows FROM sluice_catalog.view_status WHERE name = 'closed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(late, (events.len() - on_time.len()) as i64);
    assert!(late > 0, "the stream should have late events");
}
