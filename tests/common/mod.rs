//! Shared test harness: a Sluice server on a free loopback port with its own data
//! directory, and clients for it (tokio-postgres, psql); [`postgres`]: a throwaway
//! PostgreSQL server, for tests that use it as an oracle.
#![allow(dead_code)]

pub mod kafka;
pub mod ml;
pub mod nexmark;
pub mod postgres;
pub mod wire;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A server running inside the test process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server over a fresh data directory.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (addr, task) = serve(dir.path()).await;
        TestServer { addr, dir, task }
    }

    /// A connected tokio-postgres client.
    pub async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// Stops the server task (connections end with it).
    pub fn stop(self) -> tempfile::TempDir {
        self.task.abort();
        self.dir
    }
}

/// Sluice (in-process) and a PostgreSQL oracle, each with a client, started with the
/// same schema: what the tests comparing the two begin with.
pub struct Both {
    /// Sluice's client.
    pub ours: Client,
    /// PostgreSQL's client.
    pub theirs: Client,
    _sluice: TestServer,
    _postgres: postgres::Postgres,
}

impl Both {
    /// Starts both servers and runs `schema` (statements; none when blank) on each.
    pub async fn start(schema: &str) -> Both {
        let sluice = TestServer::start().await;
        let postgres = postgres::Postgres::start();
        let both = Both {
            ours: sluice.client().await,
            theirs: postgres.client().await,
            _sluice: sluice,
            _postgres: postgres,
        };
        if !schema.trim().is_empty() {
            both.ours
                .batch_execute(schema)
                .await
                .unwrap_or_else(|e| panic!("Sluice refused the schema: {e:?}"));
            both.theirs
                .batch_execute(schema)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL refused the schema: {e:?}"));
        }
        both
    }
}

/// How many workers the tests' views run on: `SLUICE_TEST_VIEW_WORKERS`, else 4, so
/// that every test's views exchange rows between workers (the suite also runs views
/// with `WITH (workers = 1)` and compares them).
pub fn test_view_workers() -> usize {
    std::env::var("SLUICE_TEST_VIEW_WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4)
}

/// The options of the tests' servers: views on [`test_view_workers`] workers.
pub fn options() -> sluice::database::Options {
    sluice::database::Options {
        view_workers: Some(test_view_workers()),
        ..Default::default()
    }
}

/// An in-process server whose checkpoints the test takes (interval 0), so that what
/// comes after the last one is exactly known; [`InProcess::crash`] stops it as a crash
/// would.
pub struct InProcess {
    pub db: std::sync::Arc<sluice::Database>,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl InProcess {
    /// Opens the database in `data` (waiting for a previous instance to let go of it)
    /// and serves it.
    pub async fn open(data: &Path) -> InProcess {
        InProcess::open_with(data, test_view_workers()).await
    }

    /// [`InProcess::open`] with views on `workers` workers unless they say.
    pub async fn open_with(data: &Path, workers: usize) -> InProcess {
        let deadline = Instant::now() + Duration::from_secs(20);
        let db = loop {
            let options = sluice::database::Options {
                checkpoint_interval: Some(Duration::ZERO),
                view_workers: Some(workers),
            };
            match sluice::Database::open_with(data, options).await {
                Ok(db) => break db,
                // The previous instance still winds down.
                Err(e) if e.sqlstate() == "55006" && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("open: {e}"),
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn({
            let db = db.clone();
            async move {
                let _ = sluice::server::serve(listener, db).await;
            }
        });
        InProcess { db, addr, task }
    }

    /// Takes a checkpoint; returns its id.
    pub async fn checkpoint(&self) -> sluice::Result<u64> {
        sluice::checkpointer::take(&self.db).await.map(|m| m.id)
    }

    /// Stops serving and lets go of the database (nothing is written at the stop,
    /// as in a crash).
    pub fn crash(self) {
        self.task.abort();
    }
}

/// Serves the database in `data_dir` again after a [`TestServer::stop`], waiting for
/// the previous server's connections to wind down and release the directory.
pub async fn restart(data_dir: &Path) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sluice::Database::open_with(data_dir, options()).await {
            Ok(db) => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let addr = listener.local_addr().expect("addr");
                tokio::spawn(sluice::server::serve(listener, db));
                return addr;
            }
            Err(e) if e.sqlstate() == "55006" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
}

async fn serve(data_dir: &Path) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let db = sluice::Database::open_with(data_dir, options())
        .await
        .expect("open database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = sluice::server::serve(listener, db).await;
    });
    (addr, task)
}

/// Connects tokio-postgres to `addr` and drives the connection in the background.
pub async fn connect(addr: SocketAddr) -> Client {
    let url = format!(
        "host={} port={} user=tester dbname=sluice",
        addr.ip(),
        addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A `psql` command connected to `addr` as user `tester` (no psqlrc), for the caller's
/// further arguments.
pub fn psql_command(addr: SocketAddr) -> Command {
    let mut command = Command::new("psql");
    command
        .args([
            "-X",
            "-h",
            &addr.ip().to_string(),
            "-p",
            &addr.port().to_string(),
            "-d",
            "sluice",
            "-U",
            "tester",
        ])
        .env("PGCONNECT_TIMEOUT", "10");
    command
}

/// Runs `psql` against `addr` with `args` (after the connection flags); returns
/// (exit success, stdout, stderr).
pub fn psql(addr: SocketAddr, args: &[&str]) -> (bool, String, String) {
    let output = psql_command(addr)
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql runs (PostgreSQL client must be installed)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(err: &tokio_postgres::Error) -> String {
    err.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE in {err:?}"))
}

/// A `sluice serve` process (the real binary), for crash tests.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
}

impl ServerProcess {
    /// Starts the binary on a free port over `data_dir` and waits until it accepts.
    pub fn start(data_dir: &Path) -> ServerProcess {
        ServerProcess::start_with(data_dir, &[], None)
    }

    /// Like [`ServerProcess::start`], with `args` added to `sluice serve` (when they
    /// name `--log`, it replaces the default `--log warn`), and, when `log` is given,
    /// the server's output (its log, on stdout, and stderr) written to that file.
    pub fn start_with(data_dir: &Path, args: &[&str], log: Option<&Path>) -> ServerProcess {
        let (mut command, ready_file) = serve_command(data_dir);
        if !args.contains(&"--log") {
            command.args(["--log", "warn"]);
        }
        // The log goes to stdout, errors at start to stderr.
        let (stdout, stderr) = match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("server log file");
                let copy = file.try_clone().expect("server log file");
                (Stdio::from(file), Stdio::from(copy))
            }
            None => (Stdio::null(), Stdio::inherit()),
        };
        let mut child = command
            .args(args)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start sluice");
        let addr = wait_until_ready(&mut child, &ready_file, Duration::from_secs(30))
            .unwrap_or_else(|status| panic!("sluice did not start: {status}"));
        ServerProcess {
            addr,
            data_dir: data_dir.to_path_buf(),
            child,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not crashed or exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sluice serve` over `data_dir` on a port the system picks, and the file where the
/// server will write that port once it accepts connections ([`wait_until_ready`]).
/// (A port probed free beforehand can be taken by another test's server before this
/// one binds it, and probing by connecting can even connect a socket to itself.)
pub fn serve_command(data_dir: &Path) -> (Command, PathBuf) {
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = data_dir.file_name().unwrap_or_default().to_string_lossy();
    let ready_file = data_dir.with_file_name(format!("{name}-ready-{n}"));
    let _ = std::fs::remove_file(&ready_file);
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .env("SLUICE_VIEW_WORKERS", test_view_workers().to_string())
        .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file)
        .arg("--data-dir")
        .arg(data_dir);
    (command, ready_file)
}

/// The address a server started by [`serve_command`] listens on, once it accepts
/// connections; `Err` with its exit status if it ends first (or the status text
/// `"still starting"` after `within`).
pub fn wait_until_ready(
    child: &mut Child,
    ready_file: &Path,
    within: Duration,
) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(ready_file) {
            return Ok(text.trim().parse().expect("an address in the ready file"));
        }
        if let Some(status) = child.try_wait().expect("wait for sluice") {
            return Err(status.to_string());
        }
        if Instant::now() > deadline {
            return Err("still starting".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `text` without terminal colour codes (a server log, should the logger colour).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The number in environment variable `name`, or `default` when it is not set (a
/// value that is not a number fails the test).
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A query's rows as sorted text (NULL as `NULL`), floats rounded so values summed in
/// a different order compare equal.
pub async fn sorted_rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    let mut out: Vec<Vec<String>> = text_rows(&messages)
        .into_iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    v.as_deref()
                        .map_or_else(|| "NULL".to_string(), normalize_number)
                })
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// Asserts that each of `queries` gives the same rows (in any order, compared as
/// [`sorted_rows`]) from `ours` and from `theirs` (PostgreSQL, usually).
pub async fn assert_same_rows(ours: &Client, theirs: &Client, queries: &[&str]) {
    for query in queries {
        assert_eq!(
            sorted_rows(ours, query).await,
            sorted_rows(theirs, query).await,
            "{query}"
        );
    }
}

/// The rows of a simple query's messages, each value's text (`None` for NULL).
pub fn text_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Sends a running psql what Ctrl-C sends it, waits for it to end, and checks that
/// the server cancelled its statement.
pub async fn interrupt_psql(child: std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("psql's waiter")
        .expect("psql ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("canceling statement due to user request"),
        "psql printed: {stderr}"
    );
}

/// Whether two [`sorted_rows`] results are equal, numbers allowed to differ in their
/// last (7th) digit: a float computed in another order may round to a neighbour, or
/// print as an integer (`196`) on one side only.
pub fn same_sorted_rows(a: &[Vec<String>], b: &[Vec<String>]) -> bool {
    let same = |x: &String, y: &String| {
        x == y
            || matches!((x.parse::<f64>(), y.parse::<f64>()), (Ok(x), Ok(y))
                if (x - y).abs() <= 2e-6 * x.abs().max(y.abs()))
    };
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(r, s)| r.len() == s.len() && r.iter().zip(s).all(|(x, y)| same(x, y)))
}

/// `text` as a number compares: whole numbers as integers (a float `96533552` and a
/// numeric `96533552.000000` alike, so that they also sort alike), others to seven
/// digits.
fn normalize_number(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Ok(v) if text.contains('.') || text.contains('e') => {
            if v.abs() < 1e-9 {
                "0".into()
            } else {
                format!("{v:.6e}")
            }
        }
        _ => text.to_string(),
    }
}

/// Polls `sql` (one BIGINT) until it equals `expected` or `timeout` passes; returns
/// the last value read.
pub async fn wait_for(client: &Client, sql: &str, expected: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let value: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
        if value == expected || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A small deterministic generator (xorshift), so failures replay from the seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next raw value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
