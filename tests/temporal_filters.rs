//! Temporal filters (`now()` compared with the rows' times in a view's `WHERE`)
//! compared with PostgreSQL 15: after random inserts and deletes of rows around the
//! clock, and as the clock moves on, each view equals its query run by PostgreSQL
//! with `now()` at the instant of the view's last tick (a `FLUSH` ticks the clock).
//!
//! Rows' times lie on whole seconds from the start, and every bound is a whole number
//! of seconds, so a view's rows change only on whole seconds: the views are read in
//! the middle of a second and PostgreSQL is asked about the middle of that second.
//! Also: what is refused, and the clock across a restart.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use common::{Both, Rng, TestServer, assert_same_rows, connect, sorted_rows, sqlstate};

const SCHEMA: &str = "CREATE TABLE events (id BIGINT, k INT, ts TIMESTAMPTZ);";

/// Name, and the query: Sluice's view has `now()`, PostgreSQL gets the instant.
const VIEWS: [(&str, &str); 5] = [
    (
        "recent",
        "SELECT id, k FROM events WHERE ts > now() - INTERVAL '2' SECOND AND ts <= now()",
    ),
    (
        "counts",
        "SELECT k, count(*) AS n, max(id) AS top FROM events
         WHERE ts BETWEEN now() - INTERVAL '3' SECOND AND now() + INTERVAL '1' SECOND
         GROUP BY k",
    ),
    ("upcoming", "SELECT id FROM events WHERE now() < ts"),
    (
        "pairs",
        "SELECT e.id AS a, f.id AS b FROM events e JOIN events f ON e.k = f.k AND e.id < f.id
         WHERE e.ts >= now() - INTERVAL '1' SECOND AND f.ts < now() + INTERVAL '2' SECOND",
    ),
    (
        "busy",
        "SELECT k FROM events WHERE ts > now() - INTERVAL '4' SECOND GROUP BY k
         HAVING count(*) > 1",
    ),
];

fn micros_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `micros` since the epoch as a PostgreSQL `timestamptz` literal.
fn literal(micros: i64) -> String {
    let at = DateTime::<Utc>::from_timestamp_micros(micros).expect("a timestamp");
    format!("TIMESTAMPTZ '{}'", at.format("%Y-%m-%d %H:%M:%S%.6f+00"))
}

/// Waits until the clock is 0.3 to 0.6 s into a second; returns the middle of it.
async fn middle_of_a_second() -> i64 {
    loop {
        let now = micros_now();
        let phase = now.rem_euclid(1_000_000);
        if (300_000..600_000).contains(&phase) {
            return now - phase + 500_000;
        }
        let wait = (1_300_000 - phase) % 1_000_000;
        tokio::time::sleep(Duration::from_micros(wait as u64 + 10_000)).await;
    }
}

/// Every view read now equals its query at the middle of this second in PostgreSQL.
async fn compare(both: &Both, context: &str) {
    let instant = middle_of_a_second().await;
    both.ours.batch_execute("FLUSH").await.expect("flush");
    let mut ours = Vec::new();
    for (name, _) in VIEWS {
        ours.push(sorted_rows(&both.ours, &format!("SELECT * FROM {name}")).await);
    }
    let elapsed = micros_now() - instant;
    assert!(
        elapsed < 500_000,
        "{context}: reading the views took until {elapsed} µs past the middle of the second"
    );
    for ((name, query), ours) in VIEWS.iter().zip(ours) {
        let theirs = sorted_rows(&both.theirs, &query.replace("now()", &literal(instant))).await;
        assert_eq!(ours, theirs, "{context}: view {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_over_the_clock_follow_inserts_deletes_and_time() {
    let both = Both::start(SCHEMA).await;
    for (name, query) in VIEWS {
        both.ours
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {query}"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let start = micros_now() / 1_000_000 * 1_000_000;
    let mut rng = Rng(0x7e3f);
    let mut present: Vec<i64> = Vec::new();
    let mut next_id = 0;
    for round in 0..12 {
        let second = (micros_now() - start) / 1_000_000;
        let mut statements = Vec::new();
        for _ in 0..1 + rng.below(5) {
            if rng.below(4) == 0 && !present.is_empty() {
                let id = present.remove(rng.below(present.len() as u64) as usize);
                statements.push(format!("DELETE FROM events WHERE id = {id}"));
            } else {
                let ts = start + (second + rng.below(9) - 4) * 1_000_000;
                let ts = if rng.below(10) == 0 {
                    "NULL".to_string()
                } else {
                    literal(ts)
                };
                statements.push(format!(
                    "INSERT INTO events VALUES ({next_id}, {}, {ts})",
                    rng.below(3)
                ));
                present.push(next_id);
                next_id += 1;
            }
        }
        for statement in &statements {
            both.ours.batch_execute(statement).await.expect(statement);
            both.theirs.batch_execute(statement).await.expect(statement);
        }
        compare(&both, &format!("round {round}")).await;
        // Let the clock move on a second or two: rows enter and leave by themselves.
        tokio::time::sleep(Duration::from_millis(300 + 400 * rng.below(3) as u64)).await;
        compare(&both, &format!("round {round}, later")).await;
    }
    // Once the clock has passed every row, the views that end their rows are empty,
    // and their state holds at most entries cancelled out but not yet merged away.
    tokio::time::sleep(Duration::from_secs(6)).await;
    compare(&both, "at the end").await;
    let held = sorted_rows(
        &both.ours,
        "SELECT operator_bytes < 65536 FROM sluice_catalog.view_status WHERE name = 'recent'",
    )
    .await;
    assert_eq!(held, vec![vec!["t".to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn now_elsewhere_is_refused() {
    let both = Both::start(SCHEMA).await;
    for (view, words) in [
        (
            "SELECT id, now() FROM events",
            "only compared with a time of the row",
        ),
        (
            "SELECT id FROM events WHERE ts > now() - INTERVAL '1' SECOND OR k = 1",
            "joined by AND",
        ),
        (
            "SELECT id FROM events WHERE ts > now() - INTERVAL '1' MONTH",
            "with a fixed interval at most",
        ),
        (
            "SELECT id FROM events WHERE k > extract(epoch from now())",
            "a time of the row",
        ),
        (
            "SELECT e.id FROM events e JOIN events f ON e.ts > now() - (f.ts - e.ts)",
            "now()",
        ),
    ] {
        let error = both
            .ours
            .batch_execute(&format!("CREATE MATERIALIZED VIEW v AS {view}"))
            .await
            .expect_err(view);
        assert_eq!(sqlstate(&error), "0A000", "{view}");
        assert!(
            error.to_string().contains(words) || format!("{error:?}").contains(words),
            "{view}: {error:?}"
        );
    }
    // A query (not a view) reads the clock once, as PostgreSQL.
    assert_same_rows(
        &both.ours,
        &both.theirs,
        &["SELECT count(*) FROM events WHERE ts > now() - INTERVAL '1' HOUR"],
    )
    .await;
}

/// Across a restart, a row shown leaves and a row pending enters when their time
/// comes, whether the view resumes from its checkpoint or recomputes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_goes_on_across_a_restart() {
    let server = TestServer::start().await;
    let client = server.client().await;
    // Row 1 is shown for 2 more seconds, row 2 from 3 seconds on, for 10 seconds.
    client
        .batch_execute(
            "CREATE TABLE events (id BIGINT, k INT, ts TIMESTAMPTZ);
             CREATE MATERIALIZED VIEW recent AS
               SELECT id FROM events WHERE ts > now() - INTERVAL '10' SECOND AND ts <= now();
             INSERT INTO events VALUES (1, 0, now() - INTERVAL '8' SECOND),
                                       (2, 0, now() + INTERVAL '3' SECOND);
             FLUSH;",
        )
        .await
        .unwrap();
    let inserted = std::time::Instant::now();
    let ids = |rows: Vec<Vec<String>>| rows.concat();
    assert_eq!(
        ids(sorted_rows(&client, "SELECT id FROM recent").await),
        vec!["1"]
    );
    // Past the next checkpoint (every second by default).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(client);
    let dir = server.stop();
    let client = connect(common::restart(dir.path()).await).await;
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(inserted.elapsed())).await;
    client.batch_execute("FLUSH").await.unwrap();
    assert_eq!(
        ids(sorted_rows(&client, "SELECT id FROM recent").await),
        vec!["2"]
    );
}
