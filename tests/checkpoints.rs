//! Server checkpoints and recovery (issue 13): views go on from the last complete
//! checkpoint after a stop or a kill -9 — tables replay only their log after it,
//! Kafka readers resume at the saved offsets, generators after their rows — and
//! nothing is lost or counted twice; damaged checkpoints stop the start naming the
//! file; a failing checkpoint leaves the previous one in force while the server goes
//! on; `sluice_catalog.checkpoints` and `checkpoint_status` show how it goes.
//!
//! Most tests run the real binary (`sluice serve --checkpoint-interval ...`) with its
//! log captured, to kill it with SIGKILL and to read what it says at start.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::kafka::Broker;
use common::{InProcess, Rng, connect, sorted_rows, wait_for};
use tokio_postgres::Client;

/// The log line of a view restored from the checkpoint.
const STARTED_FROM: &str = "materialized view started from the last checkpoint";
/// The log line of a view rebuilt from its inputs (followed by why).
const REBUILT: &str = "materialized view rebuilt";

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

/// A `sluice serve` process whose log (stdout and stderr, `--log info`) goes to a
/// file beside its data directory.
struct Server {
    addr: SocketAddr,
    log: PathBuf,
    child: Child,
}

/// A start that failed: the exit status and what the process printed.
#[derive(Debug)]
struct FailedStart {
    code: Option<i32>,
    output: String,
}

/// Starts `sluice serve` over `data_dir` with `extra` arguments; returns the server
/// once it accepts connections, or how it ended when it exits first.
fn try_start(data_dir: &Path, extra: &[&str]) -> Result<Server, FailedStart> {
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTS.fetch_add(1, Ordering::Relaxed);
    let log = data_dir.with_file_name(format!(
        "{}-{n}.log",
        data_dir.file_name().unwrap().to_string_lossy()
    ));
    let file = std::fs::File::create(&log).expect("log file");
    let (mut command, ready_file) = common::serve_command(data_dir);
    let mut child = command
        .args(["--log", "info"])
        .args(extra)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start sluice");
    match common::wait_until_ready(&mut child, &ready_file, Duration::from_secs(60)) {
        Ok(addr) => Ok(Server { addr, log, child }),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().expect("wait for sluice");
            Err(FailedStart {
                code: status.code(),
                output: read_log(&log),
            })
        }
    }
}

impl Server {
    /// Starts the server; panics with its output when it does not start.
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
        try_start(data_dir, extra).unwrap_or_else(|failed| {
            panic!("sluice did not start: {failed:?}");
        })
    }

    async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// What the server logged so far (colours removed).
    fn log(&self) -> String {
        read_log(&self.log)
    }

    /// The log lines saying `message` about view `view`.
    fn says_about(&self, view: &str, message: &str) -> Vec<String> {
        let field = format!("view={view}");
        self.log()
            .lines()
            .filter(|line| {
                line.contains(message) && line.split_whitespace().any(|word| word == field)
            })
            .map(str::to_string)
            .collect()
    }

    /// Asserts that view `view` started from the last checkpoint.
    fn assert_restored(&self, view: &str) {
        assert!(
            !self.says_about(view, STARTED_FROM).is_empty(),
            "{view} did not start from the checkpoint; the log:\n{}",
            self.log()
        );
        assert!(self.says_about(view, REBUILT).is_empty(), "{}", self.log());
    }

    /// SIGKILL: no shutdown code runs.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    common::strip_ansi(&String::from_utf8_lossy(
        &std::fs::read(path).unwrap_or_default(),
    ))
}

/// A scratch directory with `data` (the data directory) inside it; logs go beside.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    (root, data)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------

async fn int(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// Puts a directory where the manifest's temporary file goes, so that writing the
/// next manifest fails. A checkpoint under way may hold the file for a moment: wait
/// for it to be renamed away.
async fn block_manifest(tmp: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match std::fs::create_dir(tmp) {
            Ok(()) => return,
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => panic!("{}: {e}", tmp.display()),
        }
    }
}

/// `checkpoint_status` as (interval_ms, last_checkpoint_id, failures, last_error).
async fn status(c: &Client) -> (i64, Option<i64>, i64, Option<String>) {
    let row = c
        .query_one(
            "SELECT interval_ms, last_checkpoint_id, failures, last_error
             FROM sluice_catalog.checkpoint_status",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// `checkpoint_status`'s checkpoints taken and bytes written since the start.
async fn totals(c: &Client) -> (i64, i64) {
    let row = c
        .query_one(
            "SELECT checkpoints_taken, bytes_written FROM sluice_catalog.checkpoint_status",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Waits for a checkpoint with an id above `after` and returns its id.
async fn next_checkpoint(c: &Client, after: Option<i64>) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, id, _, error) = status(c).await;
        if let Some(id) = id
            && Some(id) > after
        {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint after {after:?} (last error: {error:?})"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One row of `sluice_catalog.checkpoints`.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    view: String,
    id: i64,
    epoch: i64,
    bytes_written: i64,
    source_offsets: Option<String>,
}

async fn listed(c: &Client) -> Vec<Listed> {
    let rows = c
        .query(
            "SELECT view_name, checkpoint_id, epoch, bytes_written, source_offsets
             FROM sluice_catalog.checkpoints ORDER BY view_name",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| Listed {
            view: r.get(0),
            id: r.get(1),
            epoch: r.get(2),
            bytes_written: r.get(3),
            source_offsets: r.get(4),
        })
        .collect()
}

/// Waits until the last checkpoint lists `view` and `ready` holds for its row;
/// returns the row.
async fn wait_listed(c: &Client, view: &str, ready: impl Fn(&Listed) -> bool) -> Listed {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = listed(c).await;
        if let Some(row) = rows.iter().find(|r| r.view == view && ready(r)) {
            return row.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{view} not checkpointed as expected; listed: {rows:?}, status {:?}",
            status(c).await
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts that every view in `views` holds what `queries` compute over the tables.
async fn assert_views_match(c: &Client, views: &[(&str, &str)]) {
    c.batch_execute("FLUSH").await.unwrap();
    for (view, query) in views {
        let got = sorted_rows(c, &format!("SELECT * FROM {view}")).await;
        let want = sorted_rows(c, query).await;
        assert_eq!(got, want, "view {view} differs from {query}");
    }
}

// ---------------------------------------------------------------------------------
// 1. Damaged checkpoints (acceptance 5)
// ---------------------------------------------------------------------------------

const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// The JSON inside a manifest file.
fn manifest_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    serde_json::from_slice(&bytes[HEADER_LEN..]).expect("manifest JSON")
}

/// The run files the manifest in `checkpoints` names, for view directory names
/// starting with anything.
fn named_runs(checkpoints: &Path) -> Vec<PathBuf> {
    let manifest = manifest_json(&checkpoints.join("MANIFEST"));
    let mut runs = Vec::new();
    for (dir, entry) in manifest["views"].as_object().unwrap() {
        for (spine, ids) in entry["checkpoint"]["state"]["spines"].as_object().unwrap() {
            for id in ids.as_array().unwrap() {
                let id = id.as_u64().unwrap();
                runs.push(
                    checkpoints
                        .join("views")
                        .join(dir)
                        .join(spine)
                        .join(format!("{id:016x}.run")),
                );
            }
        }
    }
    runs
}

/// A start over `data_dir` that must fail: exits non-zero saying `expected`.
fn assert_refused(data_dir: &Path, expected: &str) {
    match try_start(data_dir, &["--checkpoint-interval", "200ms"]) {
        Ok(server) => panic!(
            "the server started over a damaged checkpoint; its log:\n{}",
            server.log()
        ),
        Err(failed) => {
            assert_ne!(failed.code, Some(0), "{failed:?}");
            assert!(failed.code.is_some(), "killed by a signal: {failed:?}");
            assert!(
                failed.output.contains(expected),
                "expected {expected:?} in the output:\n{}",
                failed.output
            );
        }
    }
}

/// The same start in-process: `Database::open_with` returns the error.
async fn open_error(data_dir: &Path) -> sluice::SluiceError {
    let options = sluice::database::Options {
        checkpoint_interval: Some(Duration::ZERO),
        // The view's workers as the server had them: the same plan, so its
        // checkpoint is read.
        ..common::options()
    };
    match sluice::Database::open_with(data_dir, options).await {
        Ok(_) => panic!("Database::open_with accepted a damaged checkpoint"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_checkpoints_stop_the_start_naming_the_file() {
    let (root, data) = scratch();
    let server = Server::start(&data, &["--checkpoint-interval", "200ms"]);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, g INT, x BIGINT);
         INSERT INTO t SELECT i, i % 5, i * 7 FROM generate_series(1, 300) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT g, count(*) AS n, sum(x) AS s FROM t GROUP BY g;
         CREATE MATERIALIZED VIEW w AS SELECT sum(n) AS n, sum(s) AS s FROM v;",
    )
    .await
    .unwrap();
    wait_listed(&c, "w", |_| true).await;
    c.batch_execute("UPDATE t SET x = x + 1 WHERE k % 3 = 0; DELETE FROM t WHERE k > 290; FLUSH")
        .await
        .unwrap();
    let id = next_checkpoint(&c, None).await;
    next_checkpoint(&c, Some(id)).await;
    let expected = sorted_rows(&c, "SELECT * FROM v").await;
    drop(c);
    server.kill9();

    let pristine = root.path().join("pristine");
    copy_dir(&data, &pristine);
    let case = |name: &str| {
        let dir = root.path().join(name);
        copy_dir(&pristine, &dir);
        dir
    };
    let manifest_of = |dir: &Path| dir.join("checkpoints").join("MANIFEST");
    let good = std::fs::read(manifest_of(&pristine)).unwrap();

    // (a) The manifest cut short.
    let dir = case("truncated");
    std::fs::write(manifest_of(&dir), &good[..good.len() / 2]).unwrap();
    let path = manifest_of(&dir).display().to_string();
    assert_refused(
        &dir,
        &format!(
            "data corruption in {path}: {} payload bytes where the header says {}",
            good.len() / 2 - HEADER_LEN,
            good.len() - HEADER_LEN
        ),
    );
    match open_error(&dir).await {
        sluice::SluiceError::Corrupt { path: p, reason } => {
            assert_eq!(p, path);
            assert!(reason.contains("payload bytes"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // An empty manifest (a file system that lost its contents).
    std::fs::write(manifest_of(&dir), b"").unwrap();
    assert_refused(
        &dir,
        &format!("data corruption in {path}: not a Sluice checkpoint file"),
    );

    // (b) One byte flipped in a run file the manifest names: never a wrong view.
    let dir = case("flipped");
    let runs = named_runs(&dir.join("checkpoints"));
    assert!(!runs.is_empty());
    let run = runs
        .iter()
        .find(|r| r.to_string_lossy().contains("result"))
        .unwrap_or(&runs[0]);
    let mut bytes = std::fs::read(run).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(run, &bytes).unwrap();
    assert_refused(
        &dir,
        &format!("data corruption in {}: checksum mismatch", run.display()),
    );
    let e = open_error(&dir).await;
    assert!(
        e.to_string().contains(&run.display().to_string()),
        "the error names the run file: {e}"
    );

    // (c) A manifest of an unknown format version (the CRC covers the payload only:
    // the version check must refuse it by itself).
    let dir = case("version");
    let mut future = good.clone();
    future[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(manifest_of(&dir), &future).unwrap();
    let path = manifest_of(&dir).display().to_string();
    assert_refused(
        &dir,
        &format!(
            "data corruption in {path}: checkpoint format version 7, but this build reads version 1"
        ),
    );
    match open_error(&dir).await {
        sluice::SluiceError::Corrupt { path: p, reason } => {
            assert_eq!(p, path);
            assert!(reason.contains("version 7"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A run file of an unknown version too.
    let dir = case("run-version");
    let runs = named_runs(&dir.join("checkpoints"));
    let mut bytes = std::fs::read(&runs[0]).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&runs[0], &bytes).unwrap();
    assert_refused(
        &dir,
        &format!(
            "data corruption in {}: checkpoint format version 2",
            runs[0].display()
        ),
    );

    // A crash while writing the next manifest: a half-written MANIFEST.tmp beside
    // the good one. The previous checkpoint is in force and the server starts.
    let dir = case("torn-tmp");
    std::fs::write(
        dir.join("checkpoints").join("MANIFEST.tmp"),
        &good[..good.len() / 3],
    )
    .unwrap();
    let id_before = manifest_json(&manifest_of(&dir))["id"].as_i64().unwrap();
    let server = Server::start(&dir, &["--checkpoint-interval", "200ms"]);
    server.assert_restored("v");
    server.assert_restored("w");
    let c = server.client().await;
    let (_, last, _, _) = status(&c).await;
    assert!(last >= Some(id_before), "{last:?} < {id_before}");
    c.batch_execute("FLUSH").await.unwrap();
    assert_eq!(sorted_rows(&c, "SELECT * FROM v").await, expected);
    assert_views_match(
        &c,
        &[
            ("v", "SELECT g, count(*), sum(x) FROM t GROUP BY g"),
            ("w", "SELECT count(*), sum(x) FROM t"),
        ],
    )
    .await;
    // And it checkpoints again, over the torn file (a MANIFEST.tmp there now is the
    // next checkpoint's, being written, never the torn one).
    next_checkpoint(&c, Some(id_before)).await;
    let torn = &good[..good.len() / 3];
    let tmp = std::fs::read(dir.join("checkpoints").join("MANIFEST.tmp")).unwrap_or_default();
    assert_ne!(tmp, torn, "the torn MANIFEST.tmp is still there");
}

/// A run file the manifest names is missing (deleted by hand, lost by the file
/// system): the start fails naming it, as `Spine::restore` documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_run_file_stops_the_start_naming_it() {
    let (_root, data) = scratch();
    let server = Server::start(&data, &["--checkpoint-interval", "100ms"]);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 100) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT k % 10 AS g, sum(x) AS s FROM t GROUP BY k % 10;",
    )
    .await
    .unwrap();
    wait_listed(&c, "v", |_| true).await;
    drop(c);
    server.kill9();
    let runs = named_runs(&data.join("checkpoints"));
    std::fs::remove_file(&runs[0]).unwrap();
    assert_refused(&data, &runs[0].display().to_string());
}

/// A crash after the views wrote a checkpoint's runs but before its manifest was
/// renamed into place (here: the manifest cannot be written for a while, then
/// kill -9). The next start goes on from the previous checkpoint, and checkpoints
/// work again, though the runs of the unfinished one are still on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_go_on_after_a_crash_left_an_unfinished_checkpoints_runs() {
    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "100ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 100) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT k % 10 AS g, count(*) AS n, sum(x) AS s FROM t GROUP BY k % 10;",
    )
    .await
    .unwrap();
    let good = wait_listed(&c, "v", |_| true).await.id;
    let blocker = data.join("checkpoints").join("MANIFEST.tmp");
    block_manifest(&blocker).await;
    c.batch_execute(
        "INSERT INTO t SELECT i AS k, i AS x FROM generate_series(101, 200) AS s(i); FLUSH",
    )
    .await
    .unwrap();
    // Checkpoints after the insert fail once their runs are written.
    let (_, _, failures, _) = status(&c).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&c).await.2 < failures + 2 {
        assert!(Instant::now() < deadline, "checkpoints did not fail");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(c);
    server.kill9();
    std::fs::remove_dir(&blocker).unwrap();

    let server = Server::start(&data, &interval);
    server.assert_restored("v");
    let c = server.client().await;
    assert_eq!(status(&c).await.1, Some(good));
    let query = "SELECT k % 10, count(*), sum(x) FROM t GROUP BY k % 10";
    assert_views_match(&c, &[("v", query)]).await;
    c.batch_execute(
        "INSERT INTO t SELECT i AS k, i AS x FROM generate_series(201, 300) AS s(i); FLUSH",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, last, failures, error) = status(&c).await;
        if last > Some(good) {
            assert_eq!((failures, error), (0, None));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint after the restart: {failures} failures, last error {error:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(c);
    server.kill9();
    let server = Server::start(&data, &interval);
    server.assert_restored("v");
    let c = server.client().await;
    assert_views_match(&c, &[("v", query)]).await;
}

// ---------------------------------------------------------------------------------
// 2 and 5. Kafka, scan.startup.mode = 'latest'; sluice_catalog.checkpoints
// ---------------------------------------------------------------------------------

/// JSON orders `ids`, each on partition `id % 2`, amount = id.
fn orders(ids: std::ops::RangeInclusive<i64>) -> Vec<(i32, Vec<u8>)> {
    ids.map(|id| {
        (
            (id % 2) as i32,
            format!(r#"{{"id": {id}, "amount": {id}}}"#).into_bytes(),
        )
    })
    .collect()
}

/// Each message from before the view has this amount.
const OLD_AMOUNT: i64 = 1_000_000;

/// Waits until the view `totals` has counted orders 1..=n besides the `old` messages
/// from before the view it read, and checks that their sum is that (no message
/// counted twice).
async fn counted(c: &Client, old: i64, n: i64) {
    let got = wait_for(c, "SELECT n FROM totals", old + n, Duration::from_secs(60)).await;
    // Nothing more arrives late (nothing replayed twice).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = sorted_rows(c, "SELECT n, total FROM totals").await;
    let total = match old + n {
        0 => "NULL".to_string(),
        _ => (old * OLD_AMOUNT + n * (n + 1) / 2).to_string(),
    };
    let want = vec![vec![(old + n).to_string(), total]];
    if got != old + n || rows != want {
        let parts = sorted_rows(c, "SELECT * FROM sluice_catalog.source_partitions").await;
        panic!(
            "orders 1..={n} and {old} old ones: expected {want:?}, counted {rows:?}; partitions {parts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latest_kafka_view_goes_on_from_its_checkpointed_offsets() {
    let broker = Broker::start();
    broker.create_topic("orders", 2);
    // Before the view: a `latest` reader never reads these.
    let old: Vec<(i32, Vec<u8>)> = (0..10)
        .map(|i| {
            let text = format!(r#"{{"id": -1, "amount": {OLD_AMOUNT}}}"#);
            (i % 2, text.into_bytes())
        })
        .collect();
    broker.produce("orders", &old);

    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "200ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE orders (id BIGINT, amount BIGINT)
         WITH (connector = 'kafka', topic = 'orders',
               properties.bootstrap.server = '{}', scan.startup.mode = 'latest')
         FORMAT PLAIN ENCODE JSON;
         CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(amount) AS total FROM orders;",
        broker.address()
    ))
    .await
    .unwrap();
    // The reader is assigned at the end of both partitions.
    let assigned = "SELECT count(*) FROM sluice_catalog.source_partitions
                    WHERE reader = 'totals' AND next_offset = 5";
    assert_eq!(wait_for(&c, assigned, 2, Duration::from_secs(30)).await, 2);
    // Before any new message, the checkpoint holds the `latest` position. (The test
    // broker, tansu, answers ListOffsets(latest) with the base offset of the last
    // record batch, so there the reader starts inside the old messages; Kafka
    // answers the end, and a latest reader reads none of them.)
    wait_listed(&c, "totals", |r| {
        r.source_offsets.as_deref() == Some("orders 0=5,1=5")
    })
    .await;
    let old = int(&c, "SELECT n FROM totals").await;
    assert!((0..10).contains(&old), "{old} old messages read");
    counted(&c, old, 0).await;

    broker.produce("orders", &orders(1..=200));
    counted(&c, old, 200).await;
    // 5. Once caught up, the checkpoint names the produced counts per partition.
    let first = wait_listed(&c, "totals", |r| {
        r.source_offsets.as_deref() == Some("orders 0=105,1=105")
    })
    .await;
    let (interval_ms, last, failures, error) = status(&c).await;
    assert_eq!((interval_ms, failures, error), (200, 0, None));
    // The last checkpoint is that one, or one taken since (every 200 ms).
    assert!(
        last.is_some_and(|id| id >= first.id),
        "{last:?} after {first:?}"
    );
    let later = next_checkpoint(&c, Some(first.id)).await;
    let again = wait_listed(&c, "totals", |r| r.id >= later).await;
    assert!(again.epoch >= first.epoch, "{first:?} then {again:?}");
    assert_eq!(again.source_offsets, first.source_offsets);
    drop(c);

    // kill -9 with everything checkpointed; messages arrive while it is down.
    server.kill9();
    broker.produce("orders", &orders(201..=300));
    let server = Server::start(&data, &interval);
    server.assert_restored("totals");
    let c = server.client().await;
    counted(&c, old, 300).await;
    wait_listed(&c, "totals", |r| {
        r.source_offsets.as_deref() == Some("orders 0=155,1=155")
    })
    .await;

    // kill -9 right after more messages were counted (perhaps before a checkpoint
    // has them); more arrive while it is down.
    broker.produce("orders", &orders(301..=350));
    counted(&c, old, 350).await;
    drop(c);
    server.kill9();
    broker.produce("orders", &orders(351..=400));
    let server = Server::start(&data, &interval);
    server.assert_restored("totals");
    let c = server.client().await;
    counted(&c, old, 400).await;
    let caught_up = wait_listed(&c, "totals", |r| {
        r.source_offsets.as_deref() == Some("orders 0=205,1=205")
    })
    .await;
    assert!(caught_up.id > again.id);
}

// ---------------------------------------------------------------------------------
// 3. Generators resume
// ---------------------------------------------------------------------------------

const GENERATED: &str =
    "SELECT count(*) AS n, max(id) AS hi, sum(id)::BIGINT AS ids, sum(v)::BIGINT AS vs,
                                count(DISTINCT name) AS names FROM gen";
const BIDS: &str = "SELECT count(*) AS n, sum(price)::BIGINT AS prices, max(auction) AS auction,
                           max(date_time) AS latest, count(DISTINCT channel) AS channels FROM bid";

/// Checks the datagen view's sequence: ids START.. with no gap and no repeat.
async fn sequence_intact(c: &Client) -> i64 {
    const START: i64 = 1000;
    let row = c.query_one("SELECT n, hi, ids FROM g", &[]).await.unwrap();
    let (n, hi, ids): (i64, Option<i64>, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    if n > 0 {
        assert_eq!(hi, Some(START + n - 1), "{n} rows");
        assert_eq!(ids, Some(n * START + n * (n - 1) / 2), "{n} rows");
    }
    n
}

/// The rows a generator view's checkpoint says its reader delivered.
fn generated(row: &Listed, source: &str) -> i64 {
    let offsets = row.source_offsets.as_deref().unwrap_or_default();
    let rest = offsets
        .strip_prefix(&format!("{source} 0="))
        .unwrap_or_else(|| panic!("{row:?}"));
    rest.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generators_resume_after_kill9_without_losing_or_repeating_rows() {
    const ROWS: i64 = 12_000;
    const EVENTS: i64 = 12_000;
    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "200ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE SOURCE gen (id BIGINT, v BIGINT, name VARCHAR)
         WITH (connector = 'datagen', datagen.rows.per.second = 4000, datagen.rows.total = {ROWS},
               fields.id.kind = 'sequence', fields.id.start = 1000,
               fields.v.min = 0, fields.v.max = 1000000, fields.name.length = 3, datagen.seed = 11);
         CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                            url VARCHAR, date_time TIMESTAMP, extra VARCHAR)
         WITH (connector = 'nexmark', nexmark.table.type = 'bid', nexmark.event.num = {EVENTS},
               nexmark.events.per.second = 4000);
         CREATE MATERIALIZED VIEW g AS {GENERATED};
         CREATE MATERIALIZED VIEW b AS {BIDS};"
    ))
    .await
    .unwrap();
    // Every checkpoint from the first that lists b (created last) holds both views.
    wait_listed(&c, "b", |_| true).await;
    let mut server = server;
    let mut c = c;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let n = sequence_intact(&c).await;
        assert!(
            n < ROWS,
            "round {round}: the generator finished too early to test"
        );
        let saved = wait_listed(&c, "g", |r| generated(r, "gen") > 0).await;
        let saved = generated(&saved, "gen");
        drop(c);
        server.kill9();
        server = Server::start(&data, &interval);
        server.assert_restored("g");
        server.assert_restored("b");
        c = server.client().await;
        // It went on from the checkpoint, not from the first row.
        let n = sequence_intact(&c).await;
        assert!(
            n >= saved,
            "round {round}: {n} rows after the restart, {saved} saved"
        );
    }
    let n = wait_for(&c, "SELECT n FROM g", ROWS, Duration::from_secs(60)).await;
    assert_eq!(n, ROWS);
    assert_eq!(sequence_intact(&c).await, ROWS);
    // Every generated value is what a fresh reader generates: the random columns and
    // the nexmark events resumed exactly where they stopped.
    c.batch_execute(&format!(
        "CREATE MATERIALIZED VIEW g_fresh AS {GENERATED};
         CREATE MATERIALIZED VIEW b_fresh AS {BIDS};"
    ))
    .await
    .unwrap();
    // A reader's state says `finished` once it has sent its last rows, which the
    // view may not have worked off yet: wait for the views' counts too.
    let fresh = wait_for(&c, "SELECT n FROM g_fresh", ROWS, Duration::from_secs(60)).await;
    assert_eq!(fresh, ROWS);
    for view in ["b", "b_fresh"] {
        let sql = format!("SELECT n FROM {view}");
        assert_eq!(
            wait_for(&c, &sql, EVENTS, Duration::from_secs(60)).await,
            EVENTS
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let finished = int(
            &c,
            "SELECT count(*) FROM sluice_catalog.source_status
             WHERE source = 'bid' AND state = 'finished'",
        )
        .await;
        if finished == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "nexmark readers did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        sorted_rows(&c, "SELECT * FROM g").await,
        sorted_rows(&c, "SELECT * FROM g_fresh").await
    );
    assert_eq!(
        sorted_rows(&c, "SELECT * FROM b").await,
        sorted_rows(&c, "SELECT * FROM b_fresh").await
    );
}

// ---------------------------------------------------------------------------------
// 4 and 5. Tables replay only their log after the checkpoint
// ---------------------------------------------------------------------------------

const TABLE_VIEWS: [(&str, &str); 4] = [
    ("by_g", "SELECT g, count(*), sum(x) FROM t GROUP BY g"),
    ("big", "SELECT k, x FROM t WHERE x > 500"),
    (
        "named",
        "SELECT t.k, t.x, d.name FROM t JOIN d ON t.g = d.g",
    ),
    (
        "total",
        "SELECT count(*), sum(n), sum(s) FROM (SELECT g, count(*) AS n, sum(x) AS s FROM t GROUP BY g) AS q",
    ),
];

const TABLE_DDL: &str = "
    CREATE TABLE t (k INT PRIMARY KEY, g INT, x BIGINT, pad TEXT);
    CREATE TABLE d (g INT PRIMARY KEY, name TEXT);
    INSERT INTO d SELECT i, 'group ' || CAST(i AS TEXT) FROM generate_series(0, 9) AS s(i);
    CREATE MATERIALIZED VIEW by_g AS SELECT g, count(*) AS n, sum(x) AS s FROM t GROUP BY g;
    CREATE MATERIALIZED VIEW big AS SELECT k, x FROM t WHERE x > 500;
    CREATE MATERIALIZED VIEW named AS SELECT t.k, t.x, d.name FROM t JOIN d ON t.g = d.g;
    CREATE MATERIALIZED VIEW total AS SELECT count(*) AS groups, sum(n) AS n, sum(s) AS s FROM by_g;";

/// Random writes to `t` (fresh keys from `lo` up) and now and then `d`, until
/// `stop` or the server goes away.
async fn writer(addr: SocketAddr, lo: i64, seed: u64, stop: Arc<AtomicBool>) {
    let c = connect(addr).await;
    let mut rng = Rng(seed);
    let mut next = lo;
    while !stop.load(Ordering::Relaxed) {
        let k = lo + rng.below((next - lo + 1) as u64);
        let sql = match rng.below(10) {
            0..=4 => {
                next += 1;
                format!(
                    "INSERT INTO t VALUES ({}, {}, {}, 'p')",
                    next - 1,
                    rng.below(12),
                    rng.below(1000)
                )
            }
            5..=6 => format!(
                "UPDATE t SET x = {}, g = {} WHERE k = {k}",
                rng.below(1000),
                rng.below(12)
            ),
            7 => format!("DELETE FROM t WHERE k >= {k} AND k < {}", k + 5),
            8 => {
                next += 20;
                format!(
                    "INSERT INTO t SELECT i, i % 10, i % 997, 'q' FROM generate_series({}, {}) AS s(i)",
                    next - 20,
                    next - 1
                )
            }
            _ => format!(
                "UPDATE d SET name = 'renamed {}' WHERE g = {}",
                rng.below(100),
                rng.below(10)
            ),
        };
        if let Err(e) = c.batch_execute(&sql).await {
            // The server was killed, or the statement failed.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if c.is_closed() || stop.load(Ordering::Relaxed) {
                return;
            }
            panic!("{sql}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_over_tables_survive_kill9_during_writes_and_checkpoints() {
    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "100ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    // With no view yet, checkpoints are taken (of nothing) without failing.
    let empty = next_checkpoint(&c, None).await;
    let empty = next_checkpoint(&c, Some(empty)).await;
    assert_eq!(status(&c).await.2, 0, "{:?}", status(&c).await);
    assert!(listed(&c).await.is_empty());
    c.batch_execute(TABLE_DDL).await.unwrap();
    let mut server = server;
    let mut c = c;
    // The checkpoint after the views' creation is the first to list them.
    let mut seen_id = Some(wait_listed(&c, "total", |r| r.id > empty).await.id);
    for round in 0..2u64 {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let seed = 0x5eed + round * 10 + w;
                tokio::spawn(writer(
                    server.addr,
                    (round * 2 + w) as i64 * 100_000,
                    seed,
                    stop.clone(),
                ))
            })
            .collect();
        // 5. Every view is in each checkpoint, the ids grow, and the views write
        // their new state.
        let mut bytes = std::collections::BTreeMap::new();
        let mut last = seen_id;
        for _ in 0..4 {
            let id = next_checkpoint(&c, last).await;
            let rows = listed(&c).await;
            let names: Vec<&str> = rows.iter().map(|r| r.view.as_str()).collect();
            assert_eq!(names, ["big", "by_g", "named", "total"], "{rows:?}");
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            assert!(ids.iter().all(|i| *i == ids[0] && *i >= id), "{rows:?}");
            for row in &rows {
                assert_eq!(row.source_offsets, None);
                assert!(row.bytes_written >= 0);
                *bytes.entry(row.view.clone()).or_insert(0) += row.bytes_written;
            }
            last = Some(ids[0]);
        }
        assert!(
            bytes.values().all(|b| *b > 0),
            "bytes written per view over four checkpoints: {bytes:?}"
        );
        let (interval_ms, _, failures, error) = status(&c).await;
        assert_eq!((interval_ms, failures, error), (100, 0, None));
        seen_id = last;
        // Writes after the last checkpoint, then kill -9 while they go on.
        tokio::time::sleep(Duration::from_millis(150)).await;
        drop(c);
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.expect("writer");
        }
        server = Server::start(&data, &interval);
        for (view, _) in TABLE_VIEWS {
            server.assert_restored(view);
        }
        c = server.client().await;
        assert_views_match(&c, &TABLE_VIEWS).await;
        let (_, recovered, _, _) = status(&c).await;
        assert!(recovered >= seen_id, "{recovered:?} < {seen_id:?}");
    }
    // Writes after the restart reach the restored views.
    c.batch_execute("DELETE FROM t WHERE k % 2 = 0; UPDATE d SET name = 'last'")
        .await
        .unwrap();
    assert_views_match(&c, &TABLE_VIEWS).await;
}

/// What the in-process servers of this test binary logged (installed once; the
/// in-process tests use view names of their own).
fn in_process_log() -> String {
    static LOG: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        log
    });
    String::from_utf8_lossy(&log.lock().unwrap()).into_owned()
}

struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many times the in-process servers logged `message` about view `view`.
fn in_process_says(view: &str, message: &str) -> usize {
    let field = format!("view={view}");
    in_process_log()
        .lines()
        .filter(|line| line.contains(message) && line.split_whitespace().any(|w| w == field))
        .count()
}

async fn open_in_process(data: &Path) -> InProcess {
    in_process_log();
    InProcess::open(data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_replay_their_log_after_the_checkpoint_through_compactions() {
    let (_root, data) = scratch();
    let server = open_in_process(&data).await;
    let c = connect(server.addr).await;
    c.batch_execute(TABLE_DDL).await.unwrap();
    c.batch_execute(
        "INSERT INTO t SELECT i, i % 10, i % 1000, 'x' FROM generate_series(1, 2000) AS s(i); FLUSH",
    )
    .await
    .unwrap();
    let id = server.checkpoint().await.unwrap();
    // More than the log's compaction threshold (16 MiB) after the checkpoint: the
    // table folds its log into a snapshot, keeping the changes after the checkpoint.
    c.batch_execute(
        "INSERT INTO t SELECT i, i % 12, i % 1000, repeat('p', 1000)
         FROM generate_series(10001, 28000) AS s(i);
         UPDATE t SET x = x + 1000 WHERE k % 7 = 0;
         DELETE FROM t WHERE k % 11 = 0;
         UPDATE d SET name = 'changed' WHERE g < 3;",
    )
    .await
    .unwrap();
    let compacted = |data: &Path| -> Vec<(u64, u64)> {
        // Per table that has a snapshot: its size and the log's.
        std::fs::read_dir(data.join("tables"))
            .unwrap()
            .filter_map(|e| {
                let dir = e.unwrap().path();
                let snapshot = std::fs::metadata(dir.join("snapshot.arrow")).ok()?;
                let log = std::fs::metadata(dir.join("wal.log")).map_or(0, |m| m.len());
                Some((snapshot.len(), log))
            })
            .collect()
    };
    // The log was folded into a snapshot, and kept the changes after the checkpoint.
    let sizes = compacted(&data);
    assert!(
        matches!(sizes[..], [(snapshot, log)] if snapshot > 10 << 20 && log > 10 << 20),
        "{sizes:?}"
    );
    drop(c);
    server.crash();

    let server = open_in_process(&data).await;
    let c = connect(server.addr).await;
    let (interval_ms, last, failures, _) = status(&c).await;
    assert_eq!((interval_ms, last, failures), (0, Some(id as i64), 0));
    // Every view started from the checkpoint: the table's log still held every
    // change after it, through the compaction.
    for (view, _) in TABLE_VIEWS {
        assert_eq!(
            in_process_says(view, STARTED_FROM),
            1,
            "{view}: {}",
            in_process_log()
        );
        assert_eq!(in_process_says(view, REBUILT), 0, "{view}");
    }
    assert_views_match(&c, &TABLE_VIEWS).await;
    // A second checkpoint, another compaction after it, a crash.
    let id = server.checkpoint().await.unwrap();
    c.batch_execute(
        "INSERT INTO t SELECT i, i % 12, i % 1000, repeat('r', 1000)
         FROM generate_series(30001, 48000) AS s(i);
         DELETE FROM t WHERE k % 5 = 0;",
    )
    .await
    .unwrap();
    drop(c);
    server.crash();
    let server = open_in_process(&data).await;
    let c = connect(server.addr).await;
    assert_eq!(status(&c).await.1, Some(id as i64));
    for (view, _) in TABLE_VIEWS {
        assert_eq!(in_process_says(view, STARTED_FROM), 2, "{view}");
        assert_eq!(in_process_says(view, REBUILT), 0, "{view}");
    }
    assert_views_match(&c, &TABLE_VIEWS).await;
    drop(c);
    server.crash();
}

// ---------------------------------------------------------------------------------
// 6. A failing checkpoint keeps the server serving
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_manifest_write_keeps_the_server_serving_and_the_last_checkpoint() {
    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "100ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 100) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n, sum(x) AS s FROM t;",
    )
    .await
    .unwrap();
    let good = wait_listed(&c, "v", |_| true).await.id;
    let checkpoints = data.join("checkpoints");
    // The manifest's temporary file cannot be created: a directory is in the way.
    let blocker = checkpoints.join("MANIFEST.tmp");
    block_manifest(&blocker).await;
    let manifest = std::fs::read(checkpoints.join("MANIFEST")).unwrap();
    let (_, _, failures, _) = status(&c).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (last, error) = loop {
        let (_, last, now, error) = status(&c).await;
        if now >= failures + 3 {
            break (last, error);
        }
        assert!(Instant::now() < deadline, "checkpoints did not fail");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let error = error.expect("last_error says why");
    assert!(error.contains("Is a directory"), "{error}");
    // It names the manifest (written through MANIFEST.tmp).
    let manifest_path = checkpoints.join("MANIFEST").display().to_string();
    assert!(error.contains(&manifest_path), "{error}");
    // Writes and queries go on; the last complete checkpoint stays the one on disk.
    c.batch_execute(
        "INSERT INTO t SELECT i AS k, i AS x FROM generate_series(101, 150) AS s(i); FLUSH",
    )
    .await
    .unwrap();
    assert_views_match(&c, &[("v", "SELECT count(*), sum(x) FROM t")]).await;
    assert_eq!(int(&c, "SELECT n FROM v").await, 150);
    assert_eq!(
        std::fs::read(checkpoints.join("MANIFEST")).unwrap(),
        manifest
    );
    assert!(last >= Some(good));
    assert_eq!(status(&c).await.1, last, "no checkpoint while failing");

    // Repaired: checkpoints succeed again, the error is cleared, failures stop.
    std::fs::remove_dir(&blocker).unwrap();
    let repaired = next_checkpoint(&c, last).await;
    next_checkpoint(&c, Some(repaired)).await;
    let (_, _, failed, error) = status(&c).await;
    assert_eq!(error, None);
    let later = next_checkpoint(&c, Some(repaired + 1)).await;
    let (_, _, still, _) = status(&c).await;
    assert_eq!(
        still, failed,
        "failures stopped growing (checkpoint {later})"
    );
    assert_ne!(
        std::fs::read(checkpoints.join("MANIFEST")).unwrap(),
        manifest
    );
    // The checkpoint taken after the repair restores.
    c.batch_execute("DELETE FROM t WHERE k % 4 = 0")
        .await
        .unwrap();
    drop(c);
    server.kill9();
    let server = Server::start(&data, &interval);
    server.assert_restored("v");
    let c = server.client().await;
    assert_views_match(&c, &[("v", "SELECT count(*), sum(x) FROM t")]).await;
    assert_eq!(int(&c, "SELECT n FROM v").await, 150 - 37);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_write_keeps_the_last_checkpoint() {
    const QUERY: &str = "SELECT k % 10, count(*), sum(x) FROM t GROUP BY k % 10";
    let (_root, data) = scratch();
    let server = open_in_process(&data).await;
    let c = connect(server.addr).await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 100) AS s(i);
         CREATE MATERIALIZED VIEW by_ten AS
           SELECT k % 10 AS g, count(*) AS n, sum(x) AS s FROM t GROUP BY k % 10;
         FLUSH",
    )
    .await
    .unwrap();
    let first = server.checkpoint().await.unwrap();
    let (taken, bytes) = totals(&c).await;
    assert_eq!(taken, 1);
    assert!(bytes > 0);
    let checkpoints = data.join("checkpoints");
    let manifest = std::fs::read(checkpoints.join("MANIFEST")).unwrap();
    // The views' directory is a regular file now: no run can be written.
    let views = checkpoints.join("views");
    let aside = checkpoints.join("views.aside");
    std::fs::rename(&views, &aside).unwrap();
    std::fs::write(&views, b"in the way").unwrap();
    c.batch_execute(
        "INSERT INTO t SELECT i AS k, i AS x FROM generate_series(101, 200) AS s(i); FLUSH",
    )
    .await
    .unwrap();
    assert!(server.checkpoint().await.is_err());
    assert!(server.checkpoint().await.is_err());
    let (_, last, failures, error) = status(&c).await;
    assert_eq!((last, failures), (Some(first as i64), 2));
    let failure = error.expect("last_error says why");
    assert_eq!(totals(&c).await, (taken, bytes));
    assert_eq!(
        std::fs::read(checkpoints.join("MANIFEST")).unwrap(),
        manifest
    );
    assert_views_match(&c, &[("by_ten", QUERY)]).await;
    // Repaired.
    std::fs::remove_file(&views).unwrap();
    std::fs::rename(&aside, &views).unwrap();
    let second = server.checkpoint().await.unwrap();
    assert!(second > first);
    let (_, last, failures, error) = status(&c).await;
    assert_eq!((last, failures, error), (Some(second as i64), 2, None));
    let (taken, more) = totals(&c).await;
    assert_eq!(taken, 2);
    assert!(more > bytes, "{more} bytes after {bytes}");
    c.batch_execute("UPDATE t SET x = 0 WHERE k > 150")
        .await
        .unwrap();
    drop(c);
    server.crash();
    let server = open_in_process(&data).await;
    let c = connect(server.addr).await;
    assert_eq!(status(&c).await.1, Some(second as i64));
    assert_eq!(in_process_says("by_ten", STARTED_FROM), 1);
    assert_views_match(&c, &[("by_ten", QUERY)]).await;
    drop(c);
    server.crash();
    // The error named what could not be written (checked last: the rest holds
    // either way).
    assert!(
        failure.contains(&views.display().to_string()),
        "last_error names the path: {failure}"
    );
}

// ---------------------------------------------------------------------------------
// 7. Checkpoints off; a view dropped and re-created starts fresh
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_interval_zero_takes_no_checkpoints() {
    let (_root, data) = scratch();
    let off = ["--checkpoint-interval", "0"];
    let server = Server::start(&data, &off);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 50) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n, sum(x) AS s FROM t;",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status(&c).await, (0, None, 0, None));
    assert_eq!(totals(&c).await, (0, 0));
    assert!(listed(&c).await.is_empty());
    assert!(!data.join("checkpoints").join("MANIFEST").exists());
    c.batch_execute("DELETE FROM t WHERE k > 40").await.unwrap();
    drop(c);
    server.kill9();
    let server = Server::start(&data, &off);
    assert!(server.says_about("v", STARTED_FROM).is_empty());
    let c = server.client().await;
    assert_views_match(&c, &[("v", "SELECT count(*), sum(x) FROM t")]).await;
    assert_eq!(int(&c, "SELECT n FROM v").await, 40);
    assert_eq!(status(&c).await, (0, None, 0, None));
}

async fn show_interval(c: &Client) -> String {
    let rows = c.simple_query("SHOW checkpoint_interval").await.unwrap();
    let shown = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    });
    shown.unwrap_or_else(|| panic!("SHOW checkpoint_interval answered {rows:?}"))
}

async fn refused(c: &Client, sql: &str) -> String {
    let e = c.batch_execute(sql).await.expect_err(sql);
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

/// A view restored from a checkpoint has applied its table's changes after the
/// checkpoint before the first query after the start (no FLUSH): 400,000 rows
/// committed after the last checkpoint are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_view_holds_every_committed_row_from_the_first_query() {
    let (_root, data) = scratch();
    let server = Server::start(&data, &["--checkpoint-interval", "100ms"]);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k BIGINT, x BIGINT);
         CREATE MATERIALIZED VIEW v AS SELECT k % 1000 AS g, count(*) AS n, sum(x) AS s
           FROM t GROUP BY k % 1000;",
    )
    .await
    .unwrap();
    next_checkpoint(&c, None).await;
    // No checkpoint from here on: the restart must replay every commit below.
    c.batch_execute("ALTER SYSTEM SET checkpoint_interval = 0")
        .await
        .unwrap();
    for chunk in 0..20 {
        c.batch_execute(&format!(
            "INSERT INTO t SELECT i AS k, i AS x FROM generate_series({}, {}) AS s(i)",
            chunk * 20_000,
            chunk * 20_000 + 19_999
        ))
        .await
        .unwrap();
    }
    drop(c);
    server.kill9();
    let server = Server::start(&data, &[]);
    server.assert_restored("v");
    let c = server.client().await;
    assert_eq!(int(&c, "SELECT sum(n)::BIGINT FROM v").await, 400_000);
    assert_eq!(
        int(&c, "SELECT sum(s)::BIGINT FROM v").await,
        399_999 * 400_000 / 2
    );
}

/// `ALTER SYSTEM SET checkpoint_interval` takes effect at once (checkpoints start,
/// stop, change pace) and is kept for later starts; a start-up flag wins over it for
/// that start; `RESET` goes back to the flag's value or the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_system_changes_the_interval_at_once_and_keeps_it() {
    let (_root, data) = scratch();
    let server = Server::start(&data, &["--checkpoint-interval", "0"]);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 50) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n, sum(x) AS s FROM t;",
    )
    .await
    .unwrap();
    assert_eq!(show_interval(&c).await, "0");
    assert_eq!(status(&c).await.0, 0);

    c.batch_execute("ALTER SYSTEM SET checkpoint_interval = '150ms'")
        .await
        .unwrap();
    assert_eq!(show_interval(&c).await, "150ms");
    assert_eq!(status(&c).await.0, 150);
    let first = next_checkpoint(&c, None).await;
    next_checkpoint(&c, Some(first)).await;

    // Off again: no checkpoint after the one that may be under way.
    c.batch_execute("ALTER SYSTEM SET checkpoint_interval TO 0")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (taken, _) = totals(&c).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        totals(&c).await.0,
        taken,
        "checkpoints went on after the interval was set to 0"
    );

    // Bad values and names are refused; the setting stays.
    for (sql, code) in [
        ("ALTER SYSTEM SET checkpoint_interval = 'often'", "22023"),
        ("ALTER SYSTEM SET checkpoint_interval = '-1s'", "22023"),
        ("ALTER SYSTEM SET statement_timeout = '1s'", "0A000"),
        ("ALTER SYSTEM SET no_such_setting = 1", "42704"),
        ("ALTER SYSTEM checkpoint_interval = 1", "42601"),
    ] {
        assert_eq!(refused(&c, sql).await, code, "{sql}");
    }
    assert_eq!(show_interval(&c).await, "0");

    // Kept across a restart without the flag; a flag wins for its start; RESET goes
    // back to the flag's value.
    c.batch_execute("ALTER SYSTEM SET checkpoint_interval = '2s'")
        .await
        .unwrap();
    drop(c);
    drop(server);
    let server = Server::start(&data, &[]);
    let c = server.client().await;
    assert_eq!(show_interval(&c).await, "2s");
    drop(c);
    drop(server);
    let server = Server::start(&data, &["--checkpoint-interval", "300ms"]);
    let c = server.client().await;
    assert_eq!(show_interval(&c).await, "300ms");
    c.batch_execute("ALTER SYSTEM SET checkpoint_interval = 500")
        .await
        .unwrap();
    assert_eq!(
        show_interval(&c).await,
        "500ms",
        "a bare number is milliseconds"
    );
    c.batch_execute("ALTER SYSTEM RESET checkpoint_interval")
        .await
        .unwrap();
    assert_eq!(show_interval(&c).await, "300ms");
    drop(c);
    drop(server);
    let server = Server::start(&data, &[]);
    let c = server.client().await;
    assert_eq!(show_interval(&c).await, "1s", "reset: the default");
    assert_views_match(&c, &[("v", "SELECT count(*), sum(x) FROM t")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_dropped_and_recreated_under_its_name_starts_fresh() {
    let (_root, data) = scratch();
    let interval = ["--checkpoint-interval", "100ms"];
    let server = Server::start(&data, &interval);
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, x BIGINT);
         INSERT INTO t SELECT i AS k, i AS x FROM generate_series(1, 10) AS s(i);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM t;
         CREATE MATERIALIZED VIEW kept AS SELECT sum(x) AS s FROM t;",
    )
    .await
    .unwrap();
    // kept, created after v, is in a checkpoint that holds both (one taken between the
    // two CREATEs holds only v).
    wait_listed(&c, "kept", |_| true).await;
    let checkpoints = data.join("checkpoints");
    let old_dirs: Vec<String> = std::fs::read_dir(checkpoints.join("views"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // No checkpoint from here on: the last one holds the old v.
    block_manifest(&checkpoints.join("MANIFEST.tmp")).await;
    let (_, _, failures, _) = status(&c).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&c).await.2 == failures {
        assert!(Instant::now() < deadline, "checkpoints did not fail");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    c.batch_execute(
        "DROP MATERIALIZED VIEW v;
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM t WHERE x > 5;
         INSERT INTO t VALUES (11, 11);",
    )
    .await
    .unwrap();
    drop(c);
    server.kill9();
    std::fs::remove_dir(checkpoints.join("MANIFEST.tmp")).unwrap();

    let server = Server::start(&data, &interval);
    assert!(
        !server
            .says_about(
                "v",
                "materialized view rebuilt: it is not in the last checkpoint"
            )
            .is_empty(),
        "{}",
        server.log()
    );
    server.assert_restored("kept");
    let c = server.client().await;
    assert_views_match(
        &c,
        &[
            ("v", "SELECT count(*) FROM t WHERE x > 5"),
            ("kept", "SELECT sum(x) FROM t"),
        ],
    )
    .await;
    assert_eq!(int(&c, "SELECT n FROM v").await, 6);
    // The next checkpoint has the new v; the old one's runs are deleted.
    let id = next_checkpoint(&c, None).await;
    next_checkpoint(&c, Some(id)).await;
    assert_eq!(listed(&c).await.len(), 2);
    let dirs: Vec<String> = std::fs::read_dir(checkpoints.join("views"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert_eq!(
        dirs.iter().filter(|d| old_dirs.contains(d)).count(),
        1,
        "only kept's directory remains: {dirs:?} (before: {old_dirs:?})"
    );
}

/// A view restarted on another number of workers (`--view-workers`) does not read its
/// checkpoint, whose state is cut by the old count: it is rebuilt from its inputs,
/// saying so, and equals its query; a view that names its workers is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_restarted_on_another_worker_count_are_rebuilt() {
    let views = [
        (
            "rescaled_by_g",
            "SELECT g, count(*), sum(x) FROM t GROUP BY g",
        ),
        (
            "rescaled_named",
            "SELECT t.k, t.x, d.name FROM t JOIN d ON t.g = d.g",
        ),
    ];
    let (_root, data) = scratch();
    in_process_log();
    let server = InProcess::open_with(&data, 3).await;
    let c = connect(server.addr).await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, g INT, x BIGINT);
         CREATE TABLE d (g INT PRIMARY KEY, name TEXT);
         INSERT INTO d SELECT i, 'group ' || CAST(i AS TEXT) FROM generate_series(0, 9) AS s(i);
         INSERT INTO t SELECT i, i % 10, i * 7 FROM generate_series(1, 3000) AS s(i);
         CREATE MATERIALIZED VIEW rescaled_by_g AS SELECT g, count(*), sum(x) FROM t GROUP BY g;
         CREATE MATERIALIZED VIEW rescaled_named AS
             SELECT t.k, t.x, d.name FROM t JOIN d ON t.g = d.g;
         CREATE MATERIALIZED VIEW rescaled_pinned WITH (workers = 2) AS
             SELECT g, max(x) FROM t GROUP BY g;
         FLUSH",
    )
    .await
    .unwrap();
    server.checkpoint().await.unwrap();
    c.batch_execute(
        "UPDATE t SET x = x + 1 WHERE k % 3 = 0; DELETE FROM t WHERE k % 7 = 0;
         UPDATE d SET name = 'renamed' WHERE g = 4;",
    )
    .await
    .unwrap();
    drop(c);
    server.crash();

    let server = InProcess::open_with(&data, 2).await;
    let c = connect(server.addr).await;
    for (view, _) in views {
        assert_eq!(
            in_process_says(view, REBUILT),
            1,
            "{view}: {}",
            in_process_log()
        );
        assert_eq!(in_process_says(view, STARTED_FROM), 0, "{view}");
    }
    assert_eq!(in_process_says("rescaled_pinned", STARTED_FROM), 1);
    assert_views_match(&c, &views).await;
    assert_views_match(
        &c,
        &[("rescaled_pinned", "SELECT g, max(x) FROM t GROUP BY g")],
    )
    .await;
}
