//! Crash recovery (issue 13, acceptance test 1): a Kafka topic of 4 partitions and
//! table writes feed views with aggregates, an inner and a left join, `TUMBLE`
//! continuous and `EMIT ON WINDOW CLOSE`, a `SESSION` window, `PREDICT`, and views
//! on views. The server (`sluice serve --checkpoint-interval 200ms`) is killed with
//! SIGKILL at random moments while events are produced and the table is written,
//! and in some rounds killed again while it catches up. After each restart and
//! catch-up, every view equals its query run in batch (by Sluice itself, over tables
//! holding exactly the produced events) over the produced data and the committed
//! table rows; the `EMIT ON WINDOW CLOSE` view, watched through `SUBSCRIBE`, emits
//! each window once per server run, never retracts it, and only ever with its final
//! value; every restart starts every view from the last checkpoint (the server log
//! says so) and reads only the events after it.
//!
//! Lateness is made exact, whatever the moment of a kill: on-time events are out of
//! order by less than the watermark delay in every partition (and no partition turns
//! idle), and the late ones are produced only once a checkpoint holds a watermark 20 s
//! past them.
//!
//! 10 rounds of 20,000 events by default (about a minute in the debug build);
//! `SLUICE_CRASH_ROUNDS` sets the number of rounds (100 for the long run),
//! `SLUICE_CRASH_EVENTS` the events per round, `SLUICE_CRASH_SEED` the seed (printed
//! at the start; the kills' timing is not replayed exactly); `SLUICE_CRASH_KEEP=1`
//! keeps the data directory and the server logs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::ml::model_path;
use common::{Rng, ServerProcess, sorted_rows, strip_ansi, text_rows};
use tokio_postgres::{Client, NoTls};

/// The source's watermark is its event time minus this (ms).
const DELAY_MS: i64 = 3000;
/// On-time events are at most this much (ms) behind the newest event produced: less
/// than [`DELAY_MS`], so no on-time event is ever behind the watermark.
const JITTER_MS: i64 = 2000;
/// Late events are at least this far (ms) behind a checkpointed watermark.
const LATE_MS: i64 = 20_000;
/// Keys of the events; the table `dim` holds keys from `0..DIM_KEYS`.
const KEYS: i64 = 50;
const DIM_KEYS: i64 = 60;
const PARTITIONS: usize = 4;

/// Every materialized view: its name, and whether it reads the source `ev` itself
/// (with a reader of its own) rather than other views.
const VIEWS: [(&str, bool); 11] = [
    ("agg", true),
    ("joined", true),
    ("left_joined", true),
    ("tumble_live", true),
    ("tumble_closed", true),
    ("sessions", true),
    ("scored", true),
    ("minutes", false),
    ("closed_per_g", false),
    ("label_counts", false),
    ("per_key", false),
];

const SETUP: &str = "
CREATE TABLE dim (k INT PRIMARY KEY, name TEXT, weight BIGINT);
CREATE TABLE o_ev (id BIGINT, k INT, g INT, v BIGINT, a REAL, b REAL, c REAL, d REAL, ts TIMESTAMP);
CREATE TABLE o_late (id BIGINT, k INT, g INT, v BIGINT, a REAL, b REAL, c REAL, d REAL, ts TIMESTAMP);
";

/// The views, created in this order.
const VIEW_DEFINITIONS: &str = "
CREATE MATERIALIZED VIEW agg AS
  SELECT k, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi FROM ev GROUP BY k;
CREATE MATERIALIZED VIEW joined AS
  SELECT e.k, d.name, count(*) AS n, sum(e.v * d.weight) AS weighted
  FROM ev e JOIN dim d ON e.k = d.k GROUP BY e.k, d.name;
CREATE MATERIALIZED VIEW left_joined AS
  SELECT e.k, d.name, d.weight, count(*) AS n, sum(e.v) AS total
  FROM ev e LEFT JOIN dim d ON e.k = d.k GROUP BY e.k, d.name, d.weight;
CREATE MATERIALIZED VIEW tumble_live AS
  SELECT g, window_start AS ws, window_end AS we, count(*) AS n, sum(v) AS total, max(v) AS top
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY g, window_start, window_end;
CREATE MATERIALIZED VIEW tumble_closed AS
  SELECT g, window_start AS ws, window_end AS we, count(*) AS n, sum(v) AS total, max(v) AS top
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY g, window_start, window_end
  EMIT ON WINDOW CLOSE;
CREATE MATERIALIZED VIEW sessions AS
  SELECT g, window_start, window_end, count(*) AS n, min(v) AS lo
  FROM SESSION(ev, ts, INTERVAL '1' SECOND, g) GROUP BY g, window_start, window_end;
CREATE MATERIALIZED VIEW scored AS
  SELECT id, g, (PREDICT(lr, a, b, c, d)).label AS label FROM ev;
CREATE MATERIALIZED VIEW minutes AS
  SELECT window_start, window_end, CAST(sum(n) AS BIGINT) AS n, max(top) AS top
  FROM TUMBLE(tumble_live, ws, INTERVAL '1' MINUTE) GROUP BY window_start, window_end;
CREATE MATERIALIZED VIEW closed_per_g AS
  SELECT g, count(*) AS windows, CAST(sum(n) AS BIGINT) AS n FROM tumble_closed GROUP BY g;
CREATE MATERIALIZED VIEW label_counts AS
  SELECT label, g, count(*) AS n, sum(id) AS ids FROM scored GROUP BY label, g;
CREATE MATERIALIZED VIEW per_key AS
  SELECT k % 5 AS bucket, count(*) AS keys, CAST(sum(n) AS BIGINT) AS n, max(hi) AS hi
  FROM agg GROUP BY k % 5;
";

/// Every produced event, on time and late.
const ALL_EVENTS: &str = "(SELECT * FROM o_ev UNION ALL SELECT * FROM o_late)";

/// The tumbling windows of the on-time events, as `tumble_live` computes them.
const TUMBLE_ORACLE: &str = "
  SELECT g, window_start AS ws, window_end AS we, count(*) AS n, sum(v) AS total, max(v) AS top
  FROM TUMBLE(o_ev, ts, INTERVAL '10' SECOND) GROUP BY g, window_start, window_end";

/// Each view's rows and the same query in batch over the oracle tables (`{W}`: the
/// watermark as a timestamp literal, for what `EMIT ON WINDOW CLOSE` has emitted).
fn comparisons() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "agg",
            "SELECT k, n, total, lo, hi FROM agg".into(),
            format!("SELECT k, count(*), sum(v), min(v), max(v) FROM {ALL_EVENTS} e GROUP BY k"),
        ),
        (
            "joined",
            "SELECT k, name, n, weighted FROM joined".into(),
            format!(
                "SELECT e.k, d.name, count(*), sum(e.v * d.weight)
                 FROM {ALL_EVENTS} e JOIN dim d ON e.k = d.k GROUP BY e.k, d.name"
            ),
        ),
        (
            "left_joined",
            "SELECT k, name, weight, n, total FROM left_joined".into(),
            format!(
                "SELECT e.k, d.name, d.weight, count(*), sum(e.v)
                 FROM {ALL_EVENTS} e LEFT JOIN dim d ON e.k = d.k GROUP BY e.k, d.name, d.weight"
            ),
        ),
        (
            "tumble_live",
            "SELECT g, ws, we, n, total, top FROM tumble_live".into(),
            TUMBLE_ORACLE.into(),
        ),
        (
            "tumble_closed",
            "SELECT g, ws, we, n, total, top FROM tumble_closed".into(),
            format!("SELECT * FROM ({TUMBLE_ORACLE}) x WHERE we <= {{W}}"),
        ),
        (
            "sessions",
            "SELECT g, window_start, window_end, n, lo FROM sessions".into(),
            "SELECT g, window_start, window_end, count(*), min(v)
             FROM SESSION(o_ev, ts, INTERVAL '1' SECOND, g) GROUP BY g, window_start, window_end"
                .into(),
        ),
        (
            // Every row once, with its prediction: counted per label and group.
            "scored",
            "SELECT label, g, count(*), count(DISTINCT id), sum(id) FROM scored GROUP BY label, g"
                .into(),
            format!(
                "SELECT label, g, count(*), count(DISTINCT id), sum(id)
                 FROM (SELECT (PREDICT(lr, a, b, c, d)).label AS label, g, id FROM {ALL_EVENTS} e) x
                 GROUP BY label, g"
            ),
        ),
        (
            "minutes",
            "SELECT window_start, window_end, n, top FROM minutes".into(),
            "SELECT window_start, window_end, count(*), max(v)
             FROM TUMBLE(o_ev, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end"
                .into(),
        ),
        (
            "closed_per_g",
            "SELECT g, windows, n FROM closed_per_g".into(),
            format!(
                "SELECT g, count(*), sum(n) FROM ({TUMBLE_ORACLE}) x WHERE we <= {{W}} GROUP BY g"
            ),
        ),
        (
            "label_counts",
            "SELECT label, g, n, ids FROM label_counts".into(),
            format!(
                "SELECT label, g, count(*), sum(id)
                 FROM (SELECT (PREDICT(lr, a, b, c, d)).label AS label, g, id FROM {ALL_EVENTS} e) x
                 GROUP BY label, g"
            ),
        ),
        (
            "per_key",
            "SELECT bucket, keys, n, hi FROM per_key".into(),
            format!(
                "SELECT k % 5, count(*), sum(n), max(hi)
                 FROM (SELECT k, count(*) AS n, max(v) AS hi FROM {ALL_EVENTS} e GROUP BY k) x
                 GROUP BY k % 5"
            ),
        ),
    ]
}

/// One produced event.
#[derive(Debug, Clone)]
struct Event {
    id: i64,
    k: i64,
    g: i64,
    v: i64,
    /// The model's features, in quarters (exact as REAL).
    features: [i64; 4],
    /// Milliseconds after 2024-01-01 00:00:00.
    ts: i64,
    partition: i32,
    late: bool,
}

/// `2024-01-DD HH:MM:SS.mmm` for `ms` after 2024-01-01 00:00:00, with `sep` between
/// date and time.
fn timestamp(ms: i64, sep: char) -> String {
    let s = ms / 1000;
    format!(
        "2024-01-{:02}{sep}{:02}:{:02}:{:02}.{:03}",
        1 + s / 86_400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// A timestamp literal.
fn timestamp_sql(ms: i64) -> String {
    format!("TIMESTAMP '{}'", timestamp(ms, ' '))
}

fn feature(quarters: i64) -> String {
    format!("{}", quarters as f64 / 4.0 - 3.0)
}

impl Event {
    fn json(&self) -> Vec<u8> {
        let f = self.features.map(feature);
        format!(
            r#"{{"id": {}, "k": {}, "g": {}, "v": {}, "a": {}, "b": {}, "c": {}, "d": {}, "ts": "{}Z"}}"#,
            self.id,
            self.k,
            self.g,
            self.v,
            f[0],
            f[1],
            f[2],
            f[3],
            timestamp(self.ts, 'T')
        )
        .into_bytes()
    }

    fn values(&self) -> String {
        let f = self.features.map(feature);
        format!(
            "({}, {}, {}, {}, {}, {}, {}, {}, {})",
            self.id,
            self.k,
            self.g,
            self.v,
            f[0],
            f[1],
            f[2],
            f[3],
            timestamp_sql(self.ts)
        )
    }
}

/// The event stream: a clock that only moves forward; on-time events up to
/// [`JITTER_MS`] behind it.
#[derive(Default)]
struct Stream {
    clock: i64,
    next_id: i64,
    /// Messages per partition so far (the next offset).
    produced: [i64; PARTITIONS],
    /// The largest event time per partition.
    max_ts: [Option<i64>; PARTITIONS],
    late: i64,
}

impl Stream {
    /// `n` on-time events and, when `late_below` is given, a few events behind it.
    fn chunk(&mut self, rng: &mut Rng, n: usize, late_below: Option<i64>) -> Vec<Event> {
        let mut events = Vec::with_capacity(n + 4);
        for _ in 0..n {
            self.clock += rng.below(20);
            if rng.one_in(300) {
                // A pause: sessions end.
                self.clock += 1500 + rng.below(2500);
            }
            let ts = (self.clock - rng.below(JITTER_MS as u64)).max(0);
            events.push(self.event(rng, ts, false));
        }
        if let Some(below) = late_below {
            for _ in 0..=rng.below(4) {
                let ts = (below - rng.below(30_000)).max(0);
                let event = self.event(rng, ts, true);
                let at = rng.below(events.len() as u64 + 1) as usize;
                events.insert(at, event);
            }
        }
        for e in &events {
            let p = e.partition as usize;
            self.produced[p] += 1;
            self.max_ts[p] = self.max_ts[p].max(Some(e.ts));
            self.late += i64::from(e.late);
        }
        events
    }

    fn event(&mut self, rng: &mut Rng, ts: i64, late: bool) -> Event {
        self.next_id += 1;
        Event {
            id: self.next_id,
            k: rng.below(KEYS as u64),
            g: rng.below(4),
            v: rng.below(2001) - 1000,
            features: [0; 4].map(|_| rng.below(25)),
            ts,
            partition: rng.below(PARTITIONS as u64) as i32,
            late,
        }
    }

    /// The source's watermark once every event is read: the smallest partition
    /// maximum minus the delay.
    fn watermark(&self) -> i64 {
        self.max_ts
            .iter()
            .map(|m| m.expect("every partition has events"))
            .min()
            .unwrap()
            - DELAY_MS
    }
}

/// The table `dim` as the test wrote it: key → (name, weight).
type Dim = BTreeMap<i64, (String, i64)>;

/// A table write whose acknowledgement the kill cut off: the key, and its row
/// before and after.
type Uncertain = (i64, Option<(String, i64)>, Option<(String, i64)>);

/// A row of `tumble_closed` a subscription received: the server run, the diff, and
/// `g, ws, we, n, total, top`.
type Emitted = (usize, i64, Vec<String>);

async fn try_connect(addr: std::net::SocketAddr) -> Option<Client> {
    let url = format!(
        "host={} port={} user=tester dbname=sluice connect_timeout=5",
        addr.ip(),
        addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(client)
}

async fn connect(addr: std::net::SocketAddr) -> Client {
    try_connect(addr).await.expect("connect to sluice")
}

/// Writes `dim` (inserts, updates, deletes of random keys) until the server goes
/// away, or `ops` writes are done; returns the table as committed and the write in
/// flight when the server went away.
async fn write_dim(
    addr: std::net::SocketAddr,
    mut dim: Dim,
    seed: u64,
    ops: usize,
    version: i64,
) -> (Dim, Option<Uncertain>) {
    let mut rng = Rng(seed);
    let Some(c) = try_connect(addr).await else {
        return (dim, None);
    };
    for op in 0..ops {
        let k = rng.below(DIM_KEYS as u64);
        let before = dim.get(&k).cloned();
        let (sql, after) = match &before {
            None => {
                let row = (format!("d{k}v{version}_{op}"), 1 + rng.below(9));
                let sql = format!("INSERT INTO dim VALUES ({k}, '{}', {})", row.0, row.1);
                (sql, Some(row))
            }
            Some(_) if rng.one_in(2) => {
                let row = (format!("d{k}v{version}_{op}"), 1 + rng.below(9));
                let sql = format!(
                    "UPDATE dim SET name = '{}', weight = {} WHERE k = {k}",
                    row.0, row.1
                );
                (sql, Some(row))
            }
            Some(_) => (format!("DELETE FROM dim WHERE k = {k}"), None),
        };
        match c.batch_execute(&sql).await {
            Ok(()) => match after {
                Some(row) => {
                    dim.insert(k, row);
                }
                None => {
                    dim.remove(&k);
                }
            },
            Err(e) => {
                assert!(e.code().is_none(), "{sql}: {e}");
                return (dim, Some((k, before, after)));
            }
        }
        tokio::time::sleep(Duration::from_millis(5 + rng.below(25) as u64)).await;
    }
    (dim, None)
}

/// Watches `tumble_closed` through a cursor until the server goes away, recording
/// every row received under server run `run`.
async fn watch_closed(addr: std::net::SocketAddr, run: usize, seen: Arc<Mutex<Vec<Emitted>>>) {
    let Some(c) = try_connect(addr).await else {
        return;
    };
    if c.batch_execute("DECLARE w CURSOR FOR SUBSCRIBE tumble_closed")
        .await
        .is_err()
    {
        return;
    }
    while let Ok(messages) = c.simple_query("FETCH ALL w WITH (timeout = '1s')").await {
        let mut seen = seen.lock().unwrap();
        for row in text_rows(&messages) {
            let row: Vec<String> = row
                .into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect();
            let diff: i64 = row[1].parse().expect("sluice_diff");
            seen.push((run, diff, row[2..].to_vec()));
        }
    }
}

/// The server under test, its data directory and the logs of every start.
struct Harness {
    data_dir: PathBuf,
    logs: PathBuf,
    starts: usize,
    seen: Arc<Mutex<Vec<Emitted>>>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Harness {
    fn log_path(&self, start: usize) -> PathBuf {
        self.logs.join(format!("start-{start}.log"))
    }

    /// Starts the server (server run `self.starts`, counted from 0) and a watcher
    /// of `tumble_closed` when `watch`.
    fn start(&mut self, watch: bool) -> ServerProcess {
        let log = self.log_path(self.starts);
        let server = tokio::task::block_in_place(|| {
            ServerProcess::start_with(
                &self.data_dir,
                &[
                    "--checkpoint-interval",
                    "200ms",
                    "--log",
                    "warn,sluice::sql::ddl=info",
                ],
                Some(&log),
            )
        });
        if let Some(old) = self.watcher.take() {
            old.abort();
        }
        if watch {
            self.watcher = Some(tokio::spawn(watch_closed(
                server.addr,
                self.starts,
                self.seen.clone(),
            )));
        }
        self.starts += 1;
        server
    }

    /// Checks the log of start `start` (a restart): every view started from the
    /// last checkpoint, none was rebuilt, nothing failed.
    fn check_restart_log(&self, start: usize) {
        let path = self.log_path(start);
        let log = strip_ansi(&std::fs::read_to_string(&path).expect("server log"));
        let restored: BTreeSet<&str> = log
            .lines()
            .filter(|l| l.contains("materialized view started from the last checkpoint"))
            .filter_map(|l| l.split("view=").nth(1))
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        let bad: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("rebuilt") || l.contains("ERROR") || l.contains("panicked"))
            .collect();
        assert!(
            bad.is_empty(),
            "start {start} ({}): {bad:#?}",
            path.display()
        );
        for (view, _) in VIEWS {
            assert!(
                restored.contains(view),
                "start {start}: {view} did not start from the last checkpoint; log:\n{log}"
            );
        }
    }
}

async fn one_i64(c: &Client, sql: &str) -> Option<i64> {
    let messages = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    text_rows(&messages)
        .first()
        .and_then(|row| row[0].as_deref().map(|v| v.parse().expect("a number")))
}

/// Waits until a checkpoint that started after this call is complete, so it holds
/// every view's state as of now (watermarks included).
async fn await_fresh_checkpoint(c: &Client) {
    let sql = "SELECT last_checkpoint_id FROM sluice_catalog.checkpoint_status";
    let now = one_i64(c, sql).await.unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    // The checkpoint in progress may have started before: the one after it did not.
    while one_i64(c, sql).await.unwrap_or(0) < now + 2 {
        assert!(
            Instant::now() < deadline,
            "no checkpoint after {now} in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every view's reader has read every produced message.
async fn await_readers(c: &Client, stream: &Stream) {
    let deadline = Instant::now() + Duration::from_secs(180);
    let want: BTreeSet<(String, String, String)> = VIEWS
        .iter()
        .filter(|(_, reads_ev)| *reads_ev)
        .flat_map(|(view, _)| {
            (0..PARTITIONS).map(move |p| {
                (
                    view.to_string(),
                    p.to_string(),
                    stream.produced[p].to_string(),
                )
            })
        })
        .collect();
    loop {
        let messages = c
            .simple_query(
                "SELECT reader, partition_id, next_offset FROM sluice_catalog.source_partitions
                 WHERE source = 'ev'",
            )
            .await
            .unwrap();
        let got: BTreeSet<(String, String, String)> = text_rows(&messages)
            .into_iter()
            .map(|r| {
                let v = |i: usize| r[i].clone().unwrap_or_else(|| "NULL".into());
                (v(0), v(1), v(2))
            })
            .collect();
        if want.is_subset(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "readers did not catch up in 180 s: want {want:?}, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every view reading the source has watermark `watermark` (the joins
/// read a table too: none).
async fn await_watermarks(c: &Client, watermark: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = timestamp(watermark, ' ')
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string();
    loop {
        let messages = c
            .simple_query("SELECT name, watermark FROM sluice_catalog.view_status")
            .await
            .unwrap();
        let got: BTreeMap<String, Option<String>> = text_rows(&messages)
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone()))
            .collect();
        let wrong: Vec<_> = VIEWS
            .iter()
            .filter(|(view, _)| {
                let expected = match *view {
                    "joined" | "left_joined" => None,
                    _ => Some(want.as_str()),
                };
                got.get(*view).map(|w| w.as_deref()) != Some(expected)
            })
            .map(|(view, _)| (*view, got.get(*view)))
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "view watermarks, expected {want}: {wrong:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Rows in `a` and not in `b` (multisets of sorted rows), at most 10.
fn missing(a: &[Vec<String>], b: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut counts: BTreeMap<&Vec<String>, i64> = BTreeMap::new();
    for row in b {
        *counts.entry(row).or_default() += 1;
    }
    let mut out = Vec::new();
    for row in a {
        let n = counts.entry(row).or_default();
        if *n > 0 {
            *n -= 1;
        } else if out.len() < 10 {
            out.push(row.clone());
        }
    }
    out
}

/// Waits (a view on a view may still be applying what its input emitted) until the
/// view's rows equal the oracle's, failing with the differences after 20 s.
async fn compare(c: &Client, view: &str, view_sql: &str, oracle_sql: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let want = sorted_rows(c, oracle_sql).await;
    loop {
        let got = sorted_rows(c, view_sql).await;
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{view}: {} rows, oracle {}; in the view only: {:?}; in the oracle only: {:?}",
                got.len(),
                want.len(),
                missing(&got, &want),
                missing(&want, &got)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `tumble_closed` rows a subscription received: never retracted, each window
/// once per server run, each with the window's final value (`oracle`: every closed
/// window's row); the current run's rows add up to the view (`view_rows`).
async fn check_emitted(
    seen: &Arc<Mutex<Vec<Emitted>>>,
    run: usize,
    oracle: &[Vec<String>],
    view_rows: &[Vec<String>],
) {
    let finals: BTreeMap<(&str, &str), &Vec<String>> = oracle
        .iter()
        .map(|row| ((row[0].as_str(), row[1].as_str()), row))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = seen.lock().unwrap().clone();
        let mut per_run: BTreeMap<(usize, Vec<String>), usize> = BTreeMap::new();
        let mut current = Vec::new();
        for (r, diff, row) in &rows {
            assert_eq!(
                *diff, 1,
                "run {r}: EMIT ON WINDOW CLOSE row retracted: {row:?}"
            );
            let window = vec![row[0].clone(), row[1].clone()];
            let times = per_run.entry((*r, window)).or_default();
            *times += 1;
            assert_eq!(*times, 1, "run {r}: window emitted twice: {row:?}");
            let fin = finals.get(&(row[0].as_str(), row[1].as_str()));
            assert_eq!(
                fin.copied(),
                Some(row),
                "run {r}: emitted row differs from the window's final value"
            );
            if *r == run {
                current.push(row.clone());
            }
        }
        current.sort();
        if current == view_rows {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the subscription's rows ({}) do not add up to tumble_closed ({}): only received {:?}, only in the view {:?}",
            current.len(),
            view_rows.len(),
            missing(&current, view_rows),
            missing(view_rows, &current)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `dim` as the server has it, as the test's map.
async fn read_dim(c: &Client) -> Dim {
    sorted_rows(c, "SELECT k, name, weight FROM dim")
        .await
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), (r[1].clone(), r[2].parse().unwrap())))
        .collect()
}

/// After a restart: the table holds every acknowledged write (and the one in flight
/// whole or not at all); once every reader has read everything (the events of the
/// round then go into the oracle tables), every view equals its oracle.
async fn verify(
    c: &Client,
    harness: &Harness,
    stream: &Stream,
    events: &[Event],
    dim: &mut Dim,
    uncertain: Option<Uncertain>,
    restarted_at: Instant,
) {
    let committed = read_dim(c).await;
    if let Some((k, before, after)) = uncertain {
        let now = committed.get(&k).cloned();
        assert!(
            now == before || now == after,
            "dim key {k}: {now:?}, expected {before:?} or {after:?}"
        );
        match now {
            Some(row) => dim.insert(k, row),
            None => dim.remove(&k),
        };
    }
    assert_eq!(&committed, dim, "dim holds exactly the acknowledged writes");

    await_readers(c, stream).await;
    let caught_up = restarted_at.elapsed();

    // The oracle: the round's events, on time and late.
    for late in [false, true] {
        let table = if late { "o_late" } else { "o_ev" };
        let rows: Vec<String> = events
            .iter()
            .filter(|e| e.late == late)
            .map(Event::values)
            .collect();
        for part in rows.chunks(1000) {
            c.batch_execute(&format!("INSERT INTO {table} VALUES {}", part.join(", ")))
                .await
                .unwrap();
        }
    }

    // Restored readers went on from their checkpointed offsets: since the restart
    // they read at most this round's events (a fresh checkpoint followed the last
    // round's), not the topic again.
    let mut reread = Vec::new();
    for (view, reads_ev) in VIEWS {
        if reads_ev {
            let read = one_i64(
                c,
                &format!(
                    "SELECT rows_read FROM sluice_catalog.source_status WHERE reader = '{view}'"
                ),
            )
            .await
            .expect("a reader per view");
            assert!(
                read <= events.len() as i64,
                "{view} read {read} rows since the restart; the round produced {}",
                events.len()
            );
            reread.push(read);
        }
    }
    c.batch_execute("FLUSH").await.unwrap();
    let watermark = stream.watermark();
    await_watermarks(c, watermark).await;
    c.batch_execute("FLUSH").await.unwrap();

    let w = timestamp_sql(watermark);
    for (view, view_sql, oracle_sql) in comparisons() {
        compare(c, view, &view_sql, &oracle_sql.replace("{W}", &w)).await;
    }

    // Late events: dropped by the windowed views (once each), counted nowhere else.
    let late_rows: BTreeMap<String, i64> =
        sorted_rows(c, "SELECT name, late_rows FROM sluice_catalog.view_status")
            .await
            .into_iter()
            .map(|r| (r[0].clone(), r[1].parse().unwrap()))
            .collect();
    for (view, _) in VIEWS {
        let want = match view {
            "tumble_live" | "tumble_closed" | "sessions" => stream.late,
            _ => 0,
        };
        assert_eq!(late_rows.get(view), Some(&want), "{view}: late_rows");
    }

    let closed_oracle = sorted_rows(
        c,
        &format!("SELECT * FROM ({TUMBLE_ORACLE}) x WHERE we <= {w}"),
    )
    .await;
    let view_rows = sorted_rows(c, "SELECT g, ws, we, n, total, top FROM tumble_closed").await;
    check_emitted(
        &harness.seen,
        harness.starts - 1,
        &closed_oracle,
        &view_rows,
    )
    .await;

    let status = sorted_rows(
        c,
        "SELECT failures, coalesce(last_error, '') FROM sluice_catalog.checkpoint_status",
    )
    .await;
    assert_eq!(status, vec![vec!["0".to_string(), String::new()]]);
    let checkpointed: Vec<String> = sorted_rows(
        c,
        "SELECT DISTINCT view_name FROM sluice_catalog.checkpoints",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let mut every_view: Vec<String> = VIEWS.iter().map(|(v, _)| v.to_string()).collect();
    every_view.sort();
    assert_eq!(
        checkpointed, every_view,
        "the last checkpoint holds every view"
    );
    let emitted = harness.seen.lock().unwrap().len();
    eprintln!(
        "  caught up {caught_up:?} after the restart, reading {}..{} events per view; \
         verified {:?} after it; {emitted} rows emitted by tumble_closed so far",
        reread.iter().min().unwrap(),
        reread.iter().max().unwrap(),
        restarted_at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_recover_from_kill9_and_equal_the_batch_oracle() {
    let rounds = common::env_number("SLUICE_CRASH_ROUNDS", 10);
    let per_round = common::env_number("SLUICE_CRASH_EVENTS", 20_000) as usize;
    let seed = common::env_number(
        "SLUICE_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            % 1_000_000_007,
    )
    .max(1);
    eprintln!("crash recovery: {rounds} rounds of {per_round} events, SLUICE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let broker = Arc::new(Broker::start());
    broker.create_topic("ev", PARTITIONS as u32);
    // SLUICE_CRASH_KEEP=1 keeps the data directory and the server logs.
    let dir = tempfile::tempdir().unwrap();
    let (_cleanup, root) = if std::env::var_os("SLUICE_CRASH_KEEP").is_some() {
        (None, dir.keep())
    } else {
        let root = dir.path().to_path_buf();
        (Some(dir), root)
    };
    eprintln!("data directory and server logs: {}", root.display());
    let mut harness = Harness {
        data_dir: root.join("data"),
        logs: root.clone(),
        starts: 0,
        seen: Arc::new(Mutex::new(Vec::new())),
        watcher: None,
    };
    let mut server = harness.start(false);
    let c = connect(server.addr).await;
    c.batch_execute(SETUP).await.unwrap();
    let mut dim = Dim::new();
    for k in 0..40 {
        dim.insert(k, (format!("d{k}"), k % 7 + 1));
    }
    let rows: Vec<String> = dim
        .iter()
        .map(|(k, (name, weight))| format!("({k}, '{name}', {weight})"))
        .collect();
    c.batch_execute(&format!("INSERT INTO dim VALUES {}", rows.join(", ")))
        .await
        .unwrap();
    c.batch_execute(&format!(
        "CREATE MODEL lr FROM '{}';
         CREATE SOURCE ev (id BIGINT, k INT, g INT, v BIGINT, a REAL, b REAL, c REAL, d REAL,
                           ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
           WITH (connector = 'kafka', topic = 'ev', properties.bootstrap.server = '{}',
                 scan.startup.mode = 'earliest', watermark.idle.timeout.ms = 3600000)
           FORMAT PLAIN ENCODE JSON;
         {VIEW_DEFINITIONS}",
        model_path("logreg"),
        broker.address()
    ))
    .await
    .unwrap();
    // The first kill finds the views in a checkpoint.
    await_fresh_checkpoint(&c).await;
    drop(c);
    harness.watcher = Some(tokio::spawn(watch_closed(
        server.addr,
        0,
        harness.seen.clone(),
    )));

    let mut stream = Stream::default();
    // The watermark a complete checkpoint holds (ms), once past LATE_MS.
    let mut checkpointed: Option<i64> = None;
    let mut labels = BTreeSet::new();
    for round in 1..=rounds {
        let round_started = Instant::now();
        let late_below = checkpointed.filter(|w| *w >= LATE_MS).map(|w| w - LATE_MS);
        let events = stream.chunk(&mut rng, per_round, late_below);
        let messages: Vec<(i32, Vec<u8>)> =
            events.iter().map(|e| (e.partition, e.json())).collect();
        let producer = tokio::task::spawn_blocking({
            let broker = broker.clone();
            move || {
                // Over about a second and a half, so that most kills land while the
                // readers are reading.
                for piece in messages.chunks(messages.len().div_ceil(8)) {
                    broker.produce("ev", piece);
                    std::thread::sleep(Duration::from_millis(150));
                }
            }
        });
        let writer = tokio::spawn(write_dim(
            server.addr,
            dim.clone(),
            rng.next(),
            200,
            round as i64,
        ));
        let kill_after = Duration::from_millis(rng.below(2000) as u64);
        tokio::time::sleep(kill_after).await;
        server.kill9();
        let (written, uncertain) = writer.await.unwrap();
        dim = written;

        let first_restart = harness.starts;
        let mut restarted_at = Instant::now();
        server = harness.start(true);
        let killed_again = rng.one_in(3);
        if killed_again {
            // Again while it catches up.
            tokio::time::sleep(Duration::from_millis(rng.below(600) as u64)).await;
            server.kill9();
            restarted_at = Instant::now();
            server = harness.start(true);
        }
        producer.await.unwrap();
        for start in first_restart..harness.starts {
            harness.check_restart_log(start);
        }
        eprintln!(
            "round {round}: {} events ({} late), killed after {kill_after:?}{}",
            events.len(),
            events.iter().filter(|e| e.late).count(),
            if killed_again {
                ", and again while catching up"
            } else {
                ""
            }
        );
        let c = connect(server.addr).await;
        verify(
            &c,
            &harness,
            &stream,
            &events,
            &mut dim,
            uncertain,
            restarted_at,
        )
        .await;
        for row in sorted_rows(&c, "SELECT DISTINCT label FROM label_counts").await {
            labels.insert(row[0].clone());
        }
        await_fresh_checkpoint(&c).await;
        checkpointed = Some(stream.watermark());
        eprintln!("  round took {:?}", round_started.elapsed());
    }
    assert!(
        labels.len() > 1,
        "the model predicts several labels: {labels:?}"
    );
    if let Some(watcher) = harness.watcher.take() {
        watcher.abort();
    }
    eprintln!(
        "crash recovery: {rounds} rounds, {} events, {} late, {} server starts in {:?}",
        stream.next_id,
        stream.late,
        harness.starts,
        started.elapsed()
    );
}
