//! Fuzzing the server as a hostile client would, against the real binary (a crash
//! ends the process, and the test sees it):
//! - statements: valid ones mutated at random, and generated extremes (deep nesting
//!   of every expression kind, long chains, huge IN lists, huge literals);
//! - the wire: random and truncated messages, absurd lengths and row limits.
//!
//! Throughout, another client asks `SELECT 1` every 50 ms: every answer must come
//! within 100 ms (a heavy statement stalls only its own session), and the server
//! must never crash or hang. Every statement error carries a SQLSTATE; none is an
//! internal error (`XX000`).
//!
//! Deterministic: the cases come from a fixed seed (`SLUICE_FUZZ_SEED` overrides it,
//! `SLUICE_FUZZ_CASES` sets how many statements; the wire gets a third as many).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::ServerProcess;
use common::wire::Wire;
use tokio::io::AsyncWriteExt;
use tokio_postgres::Client;

/// The longest a watchdog `SELECT 1` may take.
const SELECT_1_LIMIT: Duration = Duration::from_millis(100);
/// The longest any fuzzed statement may take to be answered (its session's
/// statement_timeout is 2 s).
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SETUP: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT, x DOUBLE PRECISION, \
                     ts TIMESTAMP, n NUMERIC(12, 2));
     INSERT INTO t VALUES (1, 'a', 1.5, '2024-01-01 00:00:00', 1.25), \
                          (2, 'b', NULL, '2024-01-02 10:00:00', NULL), \
                          (3, NULL, -2.5, NULL, 99.99);
     CREATE MATERIALIZED VIEW counts AS SELECT v, count(*) AS c FROM t GROUP BY v";

/// Valid statements the mutations start from.
const SEEDS: &[&str] = &[
    "SELECT 1 + 2 * 3 - 4 / 2",
    "SELECT upper('abc') || lower('DEF') || initcap('hello world')",
    "SELECT CAST('12' AS INT), '3'::bigint, 2.5::numeric(4, 1)",
    "SELECT ARRAY[1, 2, 3], ARRAY['a', 'b']",
    "SELECT CASE WHEN id > 1 THEN 'big' ELSE 'small' END FROM t",
    "SELECT * FROM t WHERE id IN (1, 2, 3) AND v IS NOT NULL",
    "SELECT v, count(*), sum(x), avg(n) FROM t GROUP BY v ORDER BY v",
    "SELECT abs(-5), round(2.5), sqrt(4.0), power(2, 10), ln(10.0), mod(7, 3)",
    "SELECT substr('hello', 2, 3), position('l' IN 'hello'), length('abc')",
    "SELECT ts + INTERVAL '1 day', date_trunc('hour', ts) FROM t",
    "WITH a AS (SELECT id, v FROM t) SELECT a.id, b.v FROM a JOIN t AS b ON a.id = b.id",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM t AS u WHERE u.id = t.id)",
    "SELECT coalesce(v, 'none'), nullif(id, 2), greatest(1, 2), least(3, 4) FROM t",
    "SELECT id FROM t UNION ALL SELECT id + 10 FROM t",
    "SELECT regexp_replace('abc', 'b+', 'x'), replace('aaa', 'a', 'b'), lpad('x', 5, '-')",
    "SELECT * FROM counts ORDER BY c DESC LIMIT 2",
    "INSERT INTO t VALUES (100, 'fuzz', 0.5, '2024-03-01 00:00:00', 3.5)",
    "UPDATE t SET v = 'changed' WHERE id = 100",
    "DELETE FROM t WHERE id = 100",
    "SHOW statement_timeout",
    "SELECT version(), current_database(), pg_backend_pid() > 0",
    "SELECT count(*) FROM generate_series(1, 1000)",
    "EXPLAIN SELECT * FROM t WHERE id = 1",
    "SELECT to_timestamp(0), extract(year FROM ts), date_part('month', ts) FROM t",
    "SELECT id::text || '-' || coalesce(v, '?') FROM t ORDER BY 1",
];

/// Tokens spliced into statements.
const TOKENS: &[&str] = &[
    "(",
    ")",
    ",",
    "'",
    "\"",
    "SELECT",
    "FROM",
    "NULL",
    "::int",
    "::text",
    "ARRAY[",
    "]",
    "1e309",
    "-",
    "+",
    "*",
    "/",
    "%",
    "||",
    "/*",
    "*/",
    "$1",
    "\\",
    ";",
    "CASE",
    "END",
    "WHEN",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999999999999999999",
    "0.000000000000000000000000001",
    "'2024-13-45'",
    "INTERVAL '1000000 years'",
    "NOT",
    "IN",
    "AND",
    "OR",
    "=",
    "<>",
    ">=",
    "IS",
    "DISTINCT",
    "t",
    "counts",
    "id",
    "v",
    "x",
    "ts",
    "n",
    "E'\\x'",
    "U&'\\0000'",
    "$$",
    "ROW(",
    "::numeric(1000, 2)",
    "::varchar(-1)",
    "[1:2]",
    "LIMIT -1",
    "OFFSET 9223372036854775807",
    "GROUP BY",
    "ORDER BY",
    "WHERE",
    "JOIN",
    "ON",
];

/// A seed statement changed at random.
fn mutate(random: &mut Random) -> String {
    let mut sql: Vec<char> = random.pick(SEEDS).chars().collect();
    for _ in 0..=random.below(4) {
        let at = random.below(sql.len() + 1);
        match random.below(6) {
            0 if !sql.is_empty() => {
                let end = (at + 1 + random.below(8)).min(sql.len());
                sql.drain(at.min(end)..end);
            }
            1 | 2 => {
                let token = format!(" {} ", random.pick(TOKENS));
                sql.splice(at..at, token.chars());
            }
            3 if !sql.is_empty() => {
                let end = (at + 1 + random.below(12)).min(sql.len());
                let piece: Vec<char> = sql[at.min(end)..end].to_vec();
                let times = 1 + random.below(40);
                for _ in 0..times {
                    sql.splice(at..at, piece.iter().copied());
                }
            }
            4 if sql.len() > 1 => {
                let other = random.below(sql.len());
                let at = at.min(sql.len() - 1);
                sql.swap(at, other);
            }
            _ => {
                let c = char::from(32 + random.below(95) as u8);
                sql.insert(at, c);
            }
        }
    }
    sql.into_iter().collect()
}

/// `open` repeated `n` times around `inner`, then `close` repeated `n` times.
fn nest(head: &str, open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{head}{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// Generated extremes: deep nesting of every expression kind, long chains, huge
/// lists and literals.
fn extremes() -> Vec<String> {
    let mut out = Vec::new();
    for n in [100, 999, 1_001, 5_000, 100_000] {
        out.push(nest("SELECT ", "(", "1", ")", n));
        out.push(nest("SELECT ", "abs(", "1", ")", n));
        out.push(nest("SELECT ", "CASE WHEN true THEN ", "1", " END", n));
        out.push(nest("SELECT ", "(SELECT ", "1", ")", n.min(5_000)));
        out.push(nest("SELECT ", "ARRAY[", "1", "]", n.min(5_000)));
        out.push(nest("SELECT ", "ROW(", "1", ")", n.min(5_000)));
        out.push(nest("SELECT ", "- ", "1", "", n));
        out.push(nest("SELECT ", "NOT ", "true", "", n));
        out.push(nest("SELECT 1", "", "", "::bigint", n));
        out.push(nest(
            "SELECT * FROM t WHERE ",
            "id IN (SELECT id FROM t WHERE ",
            "true",
            ")",
            n.min(5_000),
        ));
    }
    for n in [10, 100, 1_000, 2_000, 10_000] {
        for op in [
            " + 1",
            " * 1",
            " AND true",
            " OR false",
            " || 'a'",
            " = 1",
            " < 1",
        ] {
            let head = match op {
                " AND true" | " OR false" => "SELECT true",
                " || 'a'" => "SELECT 'a'",
                _ => "SELECT 1",
            };
            out.push(format!("{head}{}", op.repeat(n)));
        }
    }
    let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    for n in [1_000, 30_000, 100_000] {
        out.push(format!("SELECT 1 IN ({})", list(n)));
        out.push(format!("SELECT * FROM t WHERE id NOT IN ({})", list(n)));
        out.push(format!("SELECT {}", list(n.min(30_000))));
    }
    out.push(format!("SELECT '{}'", "x".repeat(1 << 20)));
    out.push(format!("SELECT length('{}')", "é".repeat(1 << 19)));
    out.push(format!("SELECT {}", "9".repeat(10_000)));
    out.push(format!("SELECT 0.{}", "1".repeat(10_000)));
    out.push(format!("SELECT 1 AS {}", "a".repeat(100_000)));
    out.push(format!("SELECT * FROM {}", "t".repeat(100_000)));
    out.push(format!(
        "SELECT count(*) FROM {} WHERE false",
        (0..100)
            .map(|i| format!("t AS t{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push(nest("SELECT 1 AS x", "", "", " UNION ALL SELECT 1", 2_000));
    out.push("SELECT lpad('x', 2147483647)".into());
    out.push("SELECT repeat('x', 2147483647)".into());
    out.push("SELECT rpad('x', 10000000)".into());
    out.push("SELECT count(*) FROM generate_series(1, 10000000000)".into());
    out
}

/// Asks `SELECT 1` every 50 ms until `stop`; returns the slowest answer and the
/// statement being fuzzed when it came.
async fn watchdog(
    client: Client,
    stop: Arc<AtomicBool>,
    current: Arc<std::sync::Mutex<String>>,
) -> (Duration, String) {
    let mut slowest = (Duration::ZERO, String::new());
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(30), client.simple_query("SELECT 1"))
            .await
            .expect("SELECT 1 answered within 30 s")
            .expect("SELECT 1 succeeds");
        let one = answer.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        });
        assert_eq!(one.as_deref(), Some("1"));
        let took = started.elapsed();
        let during = || current.lock().map(|c| c.clone()).unwrap_or_default();
        if took > SELECT_1_LIMIT {
            eprintln!("SELECT 1 took {took:?} during {}", during());
        }
        if took > slowest.0 {
            slowest = (took, during());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slowest
}

fn short(sql: &str) -> String {
    sql.chars().take(80).collect()
}

/// Sends every statement; returns how many failed, by SQLSTATE class.
async fn fuzz_statements(
    addr: SocketAddr,
    statements: Vec<String>,
    current: &std::sync::Mutex<String>,
) -> Vec<(String, String)> {
    let mut client = common::connect(addr).await;
    client
        .batch_execute("SET statement_timeout = '2s'")
        .await
        .unwrap();
    let mut internal = Vec::new();
    for sql in statements {
        if let Ok(mut c) = current.lock() {
            *c = short(&sql);
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(ANSWER_LIMIT, client.simple_query(&sql))
            .await
            .unwrap_or_else(|_| panic!("no answer within {ANSWER_LIMIT:?} to {}", short(&sql)));
        if started.elapsed() > Duration::from_secs(1) {
            let how = match &outcome {
                Ok(_) => "ok".to_string(),
                Err(e) => e.code().map_or("no code", |c| c.code()).to_string(),
            };
            eprintln!("slow: {:?} ({how}) {}", started.elapsed(), short(&sql));
        }
        match outcome {
            Ok(_) => {}
            Err(e) => match e.code() {
                Some(code) if code.code() == "XX000" => {
                    internal.push((short(&sql), e.to_string()));
                }
                Some(_) => {}
                // A FATAL error ends the connection (only the frame guard sends them).
                None if client.is_closed() => {
                    client = common::connect(addr).await;
                    client
                        .batch_execute("SET statement_timeout = '2s'")
                        .await
                        .unwrap();
                }
                None => panic!("an error without a SQLSTATE for {}: {e:?}", short(&sql)),
            },
        }
    }
    internal
}

/// A random frontend message: a valid kind with a random, truncated or absurd body.
fn wire_message(random: &mut Random) -> Vec<u8> {
    let kinds = b"QPBEDSHCXFdcfp";
    let kind = *random.pick(kinds);
    let valid_bodies: [&[u8]; 6] = [
        b"SELECT 1\0",
        b"\0SELECT $1\0\0\x01\0\0\0\x17",
        b"\0\0\0\0\0\x01\0\0\0\x011\0\0",
        b"\0\0\0\0\x05",
        b"S\0",
        b"P\0",
    ];
    let mut body: Vec<u8> = random.pick(&valid_bodies).to_vec();
    match random.below(5) {
        0 => body.truncate(random.below(body.len() + 1)),
        1 => {
            let at = random.below(body.len());
            body[at] = random.next() as u8;
        }
        2 => body = (0..random.below(64)).map(|_| random.next() as u8).collect(),
        3 => {
            let absurd = *random.pick(&[i32::MAX, i32::MIN, -1, 0x7fff_fff0, 1 << 20]);
            body.extend_from_slice(&absurd.to_be_bytes());
        }
        _ => {}
    }
    let declared = match random.below(6) {
        0 => *random.pick(&[0i32, 3, -1, i32::MAX, i32::MIN, 1 << 30]),
        _ => body.len() as i32 + 4,
    };
    let mut message = vec![kind];
    message.extend_from_slice(&declared.to_be_bytes());
    message.extend_from_slice(&body);
    message
}

/// Sends random messages, each on a fresh connection after start-up (a malformed one
/// ends its connection); the server must answer or hang up, never hang.
async fn fuzz_wire(addr: SocketAddr, random: &mut Random, cases: usize) {
    for case in 0..cases {
        let mut wire = Wire::connect(addr).await;
        let messages: Vec<Vec<u8>> = (0..1 + random.below(3))
            .map(|_| wire_message(random))
            .collect();
        for message in &messages {
            if wire.stream.write_all(message).await.is_err() {
                break;
            }
        }
        let _ = wire.stream.write_all(b"S\0\0\0\x04").await;
        // Read until ReadyForQuery, the connection's end, or a quiet second (a
        // message that declares more bytes than were sent waits for them, as it
        // should): then hang up; the server must still be there for the next case.
        let read = async {
            while let Some((kind, _)) = wire.read().await {
                if kind == b'Z' {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), read).await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_ok(),
            "the server is gone after wire case {case}: {messages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_statements_and_messages_never_crash_hang_or_stall_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path());
    let setup = common::connect(server.addr).await;
    setup.batch_execute(SETUP).await.unwrap();

    let seed = env_number("SLUICE_FUZZ_SEED", 0x5EED_CAFE);
    let cases = env_number("SLUICE_FUZZ_CASES", 3_000) as usize;
    let mut random = Random(seed | 1);
    let mut statements = extremes();
    while statements.len() < cases {
        statements.push(mutate(&mut random));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let current = Arc::new(std::sync::Mutex::new(String::new()));
    let watch = tokio::spawn(watchdog(
        common::connect(server.addr).await,
        stop.clone(),
        current.clone(),
    ));
    let started = Instant::now();
    let internal = fuzz_statements(server.addr, statements, &current).await;
    eprintln!("{cases} statements in {:?}", started.elapsed());
    if let Ok(mut c) = current.lock() {
        *c = "(wire fuzz)".into();
    }
    fuzz_wire(server.addr, &mut random, cases / 3).await;
    stop.store(true, Ordering::Relaxed);
    let (slowest, during) = watch.await.expect("the watchdog ran to the end");
    eprintln!("slowest SELECT 1: {slowest:?}, during {during}");

    assert!(server.is_running(), "the server process ended");
    assert!(
        internal.is_empty(),
        "{} statements failed with XX000:\n{internal:#?}",
        internal.len()
    );
    assert!(
        slowest <= SELECT_1_LIMIT,
        "a SELECT 1 took {slowest:?} while this ran: {during}"
    );
}
