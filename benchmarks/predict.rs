//! `PREDICT` throughput inside a materialized view, next to a raw ONNX Runtime loop
//! over the same batches in the same run.
//!
//! The benchmark starts an in-process Sluice server, loads a table of N rows with 10
//! `real` features, and for each model — `bench_mlp` (10 → 256 → 128 → 1, fp32) and
//! `bench_mlp_int8` (the same, quantized by `onnxruntime.quantization.quantize_dynamic`)
//! — and each pool size (1 and 2 sessions) times
//! `CREATE MATERIALIZED VIEW v AS SELECT id, PREDICT(m, f0, ..., f9) FROM t`, which
//! returns once the view holds every row (its backfill runs the view's dataflow over
//! the table's batches). The same view without `PREDICT` (a sum of the features)
//! gives the dataflow's own cost.
//!
//! Checkpoints run every second (the default) while a view is measured; between two
//! measurements the benchmark waits for the checkpoint that writes the state of the
//! view just measured, so that its writes do not take a core from the next one.
//!
//! The baseline is the loop a user would write by hand with `ort`: the same batches
//! (read from the table by DataFusion), each copied row-major into a tensor and run
//! in chunks of 1024 rows on one session with one intra-op thread.
//!
//! Run with `./scripts/bench.sh --bench predict` (see docs/benchmarks.md); without
//! `--bench` (as `cargo test --all-targets` runs it) it makes a smoke run over 2,000
//! rows. `SLUICE_BENCH_FULL=1`: 1,000,000 rows (default 200,000);
//! `SLUICE_BENCH_ROWS=n` sets the count.

use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float32Type;
use ort::session::Session;
use ort::value::TensorRef;
use tokio_postgres::{Client, NoTls};

const FEATURES: usize = 10;
const CHUNK: usize = 1024;

fn rows_to_run() -> usize {
    if !std::env::args().any(|a| a == "--bench") {
        return 2_000;
    }
    if let Some(n) = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var("SLUICE_BENCH_FULL").is_ok_and(|v| v == "1") {
        1_000_000
    } else {
        200_000
    }
}

/// The generated models' directory (as the tests find it).
fn models_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("SLUICE_TEST_MODELS") {
        return dir.into();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-models.sh");
    let output = std::process::Command::new(script)
        .output()
        .expect("scripts/test-models.sh runs");
    assert!(output.status.success(), "scripts/test-models.sh failed");
    String::from_utf8_lossy(&output.stdout).trim().into()
}

async fn exec(client: &Client, sql: &str) {
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// Waits until a checkpoint that started after this call has completed: the
/// checkpoint writing the state of the view just measured (a million rows of memo and
/// result) must not take a core from the next measurement. Checkpoints stay on (every
/// second, the default) during each measurement, as in a server people run.
async fn checkpoints_settle(client: &Client) {
    let last = || async {
        client
            .query_one(
                "SELECT coalesce(last_checkpoint_id, 0) FROM sluice_catalog.checkpoint_status",
                &[],
            )
            .await
            .expect("checkpoint_status")
            .get::<_, i64>(0)
    };
    // One checkpoint may be under way, not yet listed: wait for the one after it.
    let target = last().await + 2;
    let deadline = Instant::now() + Duration::from_secs(30);
    while last().await < target {
        assert!(Instant::now() < deadline, "no checkpoint completed in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Measured {
    model: &'static str,
    sessions: usize,
    /// `CREATE MATERIALIZED VIEW` until the view holds every row.
    view: Duration,
    /// Time inside `PREDICT` in that view (gathering inputs, the model, building the
    /// result column), from `sluice_catalog.model_stats`.
    predict: Duration,
    raw: Duration,
}

#[tokio::main]
async fn main() {
    let rows = rows_to_run();
    let models = models_dir();
    let tmp = tempfile::tempdir().expect("temporary directory");
    let db = sluice::Database::open(tmp.path())
        .await
        .expect("open database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(sluice::server::serve(listener, db.clone()));
    let url = format!(
        "host=127.0.0.1 port={} user=bench dbname=sluice",
        addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);

    let features: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    let columns: Vec<String> = features.iter().map(|f| format!("{f} REAL")).collect();
    exec(
        &client,
        &format!("CREATE TABLE t (id BIGINT, {})", columns.join(", ")),
    )
    .await;
    let generated: Vec<String> = (0..FEATURES)
        .map(|i| format!("CAST(sin(s.i * {}.0 + {i}) AS REAL)", i + 1))
        .collect();
    let mut low = 1;
    while low <= rows {
        let high = (low + 100_000 - 1).min(rows);
        exec(
            &client,
            &format!(
                "INSERT INTO t SELECT s.i AS id, {} FROM generate_series({low}, {high}) AS s(i)",
                generated.join(", ")
            ),
        )
        .await;
        low = high + 1;
    }
    eprintln!("predict: {rows} rows loaded");

    let started = Instant::now();
    exec(
        &client,
        &format!(
            "CREATE MATERIALIZED VIEW plain AS SELECT id, {} AS y FROM t",
            features.join(" + ")
        ),
    )
    .await;
    let plain = started.elapsed();
    exec(&client, "DROP MATERIALIZED VIEW plain").await;
    checkpoints_settle(&client).await;

    // The same batches the view's backfill reads, for the raw loop.
    let batches: Vec<RecordBatch> = db
        .context()
        .sql(&format!("SELECT {} FROM t", features.join(", ")))
        .await
        .expect("plan the scan")
        .collect()
        .await
        .expect("scan");

    let mut results = Vec::new();
    for model in ["bench_mlp", "bench_mlp_int8"] {
        let file = models.join(format!("{model}.onnx"));
        let raw = raw_ort(&file, &batches);
        for sessions in [1, 2] {
            let name = format!("{model}_{sessions}");
            exec(
                &client,
                &format!(
                    "CREATE MODEL {name} FROM '{}' WITH (sessions = {sessions}, batch_size = {CHUNK})",
                    file.display()
                ),
            )
            .await;
            let started = Instant::now();
            exec(
                &client,
                &format!(
                    "CREATE MATERIALIZED VIEW v AS SELECT id, PREDICT({name}, {}) AS y FROM t",
                    features.join(", ")
                ),
            )
            .await;
            let view = started.elapsed();
            let count: i64 = client
                .query_one("SELECT count(*) FROM v", &[])
                .await
                .expect("count")
                .get(0);
            assert_eq!(count as usize, rows, "the view holds every row");
            let stats = client
                .query_one(
                    "SELECT rows, total_ms FROM sluice_catalog.model_stats WHERE model = $1",
                    &[&name],
                )
                .await
                .expect("model_stats");
            assert_eq!(
                stats.get::<_, i64>(0) as usize,
                rows,
                "PREDICT saw every row"
            );
            let predict = Duration::from_secs_f64(stats.get::<_, f64>(1) / 1000.0);
            exec(
                &client,
                &format!("DROP MATERIALIZED VIEW v; DROP MODEL {name}"),
            )
            .await;
            checkpoints_settle(&client).await;
            results.push(Measured {
                model,
                sessions,
                view,
                predict,
                raw,
            });
        }
    }
    server.abort();
    report(rows, plain, &results);
}

/// The hand-written loop: each batch copied row-major into a tensor, run in chunks of
/// `CHUNK` rows on one session (one intra-op thread).
fn raw_ort(file: &std::path::Path, batches: &[RecordBatch]) -> Duration {
    let environment = sluice::ml::runtime::environment().expect("ONNX Runtime");
    let mut session = Session::builder(environment)
        .expect("builder")
        .with_intra_threads(1)
        .expect("threads")
        .commit_from_file(file)
        .expect("model loads");
    let started = Instant::now();
    let mut checksum = 0.0f64;
    let mut input = Vec::new();
    for batch in batches {
        let columns: Vec<&[f32]> = batch
            .columns()
            .iter()
            .map(|c| c.as_primitive::<Float32Type>().values().as_ref())
            .collect();
        input.clear();
        for row in 0..batch.num_rows() {
            input.extend(columns.iter().map(|c| c[row]));
        }
        for chunk in input.chunks(CHUNK * FEATURES) {
            let shape = vec![(chunk.len() / FEATURES) as i64, FEATURES as i64];
            let tensor = TensorRef::from_array_view((shape, chunk)).expect("tensor");
            let outputs = session.run(ort::inputs![tensor]).expect("run");
            let (_, values) = outputs[0].try_extract_tensor::<f32>().expect("output");
            checksum += f64::from(values[0]);
        }
    }
    let elapsed = started.elapsed();
    assert!(checksum.is_finite());
    elapsed
}

fn per_second(rows: usize, time: Duration) -> f64 {
    rows as f64 / time.as_secs_f64()
}

fn report(rows: usize, plain: Duration, results: &[Measured]) {
    println!("## PREDICT in a materialized view vs a raw ONNX Runtime loop ({rows} rows)\n");
    println!(
        "View without PREDICT (sum of the features): {:.0} rows/s ({:.2} s).\n",
        per_second(rows, plain),
        plain.as_secs_f64()
    );
    println!(
        "| model | sessions | PREDICT rows/s in the view | raw ort rows/s (1 session) | PREDICT / raw | view rows/s end to end | view / raw |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for m in results {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |",
            m.model,
            m.sessions,
            per_second(rows, m.predict),
            per_second(rows, m.raw),
            m.raw.as_secs_f64() / m.predict.as_secs_f64(),
            per_second(rows, m.view),
            m.raw.as_secs_f64() / m.view.as_secs_f64()
        );
    }
    let find = |model: &str, sessions: usize| {
        results
            .iter()
            .find(|m| m.model == model && m.sessions == sessions)
            .map(|m| m.predict.as_secs_f64())
    };
    if let (Some(fp32), Some(int8)) = (find("bench_mlp", 1), find("bench_mlp_int8", 1)) {
        println!(
            "\nint8 / fp32 PREDICT rows/s (1 session): {:.2}",
            fp32 / int8
        );
    }
    for model in ["bench_mlp", "bench_mlp_int8"] {
        if let (Some(one), Some(two)) = (find(model, 1), find(model, 2)) {
            println!(
                "2 sessions / 1 session PREDICT rows/s ({model}): {:.2}",
                one / two
            );
        }
    }
}
