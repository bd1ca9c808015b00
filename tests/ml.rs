//! Models and PREDICT end to end: each test model through `SELECT PREDICT(...)` and
//! inside materialized views over a table and over Kafka, compared with the outputs
//! Python onnxruntime computed (`scripts/gen_test_models.py`); fixed-batch models;
//! plan-time errors; model swaps under running views; DROP protection; restart.

mod common;

use std::time::Duration;

use common::kafka::Broker;
use common::ml::{
    INT8_BATCH_TOLERANCE, assert_close, assert_within, flat_row, model_path, models_dir,
    real_literal, reference, rows,
};
use common::{TestServer, sqlstate, wait_for};
use tokio_postgres::Client;

/// Rows `0..n` of a model's 4-feature reference input as a table `name(id, a, b, c, d)`.
async fn feature_table(c: &Client, name: &str, model: &str, range: std::ops::Range<usize>) {
    let input = &reference(model)["inputs"];
    let input = input.as_object().unwrap().values().next().unwrap();
    c.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {name} (id INT, a REAL, b REAL, c REAL, d REAL)"
    ))
    .await
    .unwrap();
    insert_features(c, name, input, range).await;
}

async fn insert_features(
    c: &Client,
    table: &str,
    input: &serde_json::Value,
    range: std::ops::Range<usize>,
) {
    if range.is_empty() {
        return;
    }
    let values: Vec<String> = range
        .map(|row| {
            let v: Vec<String> = flat_row(input, row).into_iter().map(real_literal).collect();
            format!("({row}, {})", v.join(", "))
        })
        .collect();
    // FLUSH: views over the table are up to date when this returns.
    c.batch_execute(&format!(
        "INSERT INTO {table} VALUES {}; FLUSH",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// Every test model, each under its own name.
async fn create_every_model(c: &Client) {
    for model in [
        "logreg",
        "forest",
        "mlp",
        "mlp_int8",
        "qnet",
        "cnn",
        "two_inputs",
    ] {
        c.batch_execute(&format!(
            "CREATE MODEL {model} FROM '{}'",
            model_path(model)
        ))
        .await
        .unwrap();
    }
}

/// `(id, output)` rows of a query whose second column is `real` or `real[]`.
async fn float_rows(c: &Client, sql: &str) -> Vec<(i32, Vec<f64>)> {
    let rows = c
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            let id: i32 = r.get(0);
            let value = match r.columns()[1].type_().name() {
                "float4" => vec![f64::from(r.get::<_, f32>(1))],
                "_float4" => r.get::<_, Vec<f32>>(1).into_iter().map(f64::from).collect(),
                other => panic!("unexpected type {other}"),
            };
            (id, value)
        })
        .collect()
}

fn check_against(model: &str, output: &str, got: &[(i32, Vec<f64>)], expected_rows: usize) {
    let want = &reference(model)["outputs"][output];
    assert_eq!(got.len(), expected_rows, "{model}: rows {got:?}");
    for (id, values) in got {
        assert_close(
            values,
            &flat_row(want, *id as usize),
            &format!("{model} row {id}"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_model_matches_python_onnxruntime_in_queries_and_views() {
    let server = TestServer::start().await;
    let c = server.client().await;
    create_every_model(&c).await;
    let n = rows(&reference("qnet")["inputs"]["state"]);

    // Classifiers: label and probabilities, through field access on the struct.
    for model in ["logreg", "forest"] {
        let table = format!("f_{model}");
        feature_table(&c, &table, model, 0..n / 2).await;
        let view = format!("v_{model}");
        c.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW {view} AS SELECT id, (PREDICT({model}, a, b, c, d)).label AS label,
                    (PREDICT({model}, a, b, c, d)).probabilities AS probabilities FROM {table}"
        ))
        .await
        .unwrap();
        feature_table(&c, &table, model, n / 2..n).await;
        let query = format!(
            "SELECT id, (PREDICT({model}, a, b, c, d)).probabilities, (PREDICT({model}, a, b, c, d)).label
             FROM {table} ORDER BY id"
        );
        let from_view = format!("SELECT id, probabilities, label FROM {view} ORDER BY id");
        for sql in [query, from_view] {
            let got = float_rows(&c, &sql).await;
            check_against(model, "probabilities", &got, n);
            let labels: Vec<i64> = c
                .query(&sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(2))
                .collect();
            let want: Vec<i64> = (0..n)
                .map(|i| reference(model)["outputs"]["label"][i].as_i64().unwrap())
                .collect();
            assert_eq!(labels, want, "{model} labels");
        }
    }

    // Regressors (a [batch, 1] output is a scalar), fp32 and int8, and the Q-network
    // (a [batch, 2] output is an array).
    for (model, output) in [
        ("mlp", "variable"),
        ("mlp_int8", "variable"),
        ("qnet", "q_values"),
    ] {
        let table = format!("f_{model}");
        feature_table(&c, &table, model, 0..n).await;
        // An int8 model's results depend on its batch (docs/ml.md): on one worker the
        // view predicts the whole insert in one batch, as the reference did; on more,
        // each worker predicts its share.
        let workers = if model.ends_with("int8") {
            " WITH (workers = 1)"
        } else {
            ""
        };
        c.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW v_{model}{workers} AS SELECT id, PREDICT({model}, a, b, c, d) AS out FROM {table}"
        ))
        .await
        .unwrap();
        for sql in [
            format!("SELECT id, PREDICT({model}, a, b, c, d) FROM {table} ORDER BY id"),
            format!("SELECT id, out FROM v_{model} ORDER BY id"),
        ] {
            check_against(model, output, &float_rows(&c, &sql).await, n);
        }
    }
    let actions: Vec<i64> = c
        .query(
            "SELECT argmax(PREDICT(qnet, a, b, c, d)) FROM f_qnet ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let want: Vec<i64> = (0..n)
        .map(|i| {
            let q = flat_row(&reference("qnet")["outputs"]["q_values"], i);
            i64::from(q[1] > q[0])
        })
        .collect();
    assert_eq!(actions, want, "argmax of the Q-values");

    // The CNN takes one real[] of 192 values per row, reshaped to [3, 8, 8].
    let images = &reference("cnn")["inputs"]["image"];
    c.batch_execute("CREATE TABLE images (id INT, pixels REAL[])")
        .await
        .unwrap();
    c.batch_execute(
        "CREATE MATERIALIZED VIEW scored AS SELECT id, PREDICT(cnn, pixels) AS scores FROM images",
    )
    .await
    .unwrap();
    for row in 0..n {
        let pixels: Vec<f32> = flat_row(images, row)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        c.execute(
            "INSERT INTO images VALUES ($1, $2)",
            &[&(row as i32), &pixels],
        )
        .await
        .unwrap();
    }
    c.batch_execute("FLUSH").await.unwrap();
    for sql in [
        "SELECT id, PREDICT(cnn, pixels) FROM images ORDER BY id",
        "SELECT id, scores FROM scored ORDER BY id",
    ] {
        check_against("cnn", "scores", &float_rows(&c, sql).await, n);
    }
    let err = c
        .query("SELECT PREDICT(cnn, ARRAY[1.0, 2.0])", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22023", "{err:?}");

    // Two inputs in declaration order: `a` (2 values) then `b` (1), as columns or
    // as an array for `a`.
    feature_table(&c, "f_two", "two_inputs", 0..0).await;
    let pair = &reference("two_inputs")["inputs"];
    for row in 0..n {
        let a = flat_row(&pair["a"], row);
        let b = flat_row(&pair["b"], row);
        c.batch_execute(&format!(
            "INSERT INTO f_two VALUES ({row}, {}, {}, {}, 0)",
            real_literal(a[0]),
            real_literal(a[1]),
            real_literal(b[0])
        ))
        .await
        .unwrap();
    }
    for sql in [
        "SELECT id, PREDICT(two_inputs, a, b, c) FROM f_two ORDER BY id",
        "SELECT id, PREDICT(two_inputs, ARRAY[a, b], c) FROM f_two ORDER BY id",
    ] {
        check_against("two_inputs", "y", &float_rows(&c, sql).await, n);
    }

    // Counters.
    let (rows_seen, calls): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT rows, calls FROM sluice_catalog.model_stats WHERE model = 'cnn'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        rows_seen >= 2 * n as i64 && calls >= 2,
        "{rows_seen} rows, {calls} calls"
    );
}

/// `(id, out)` of a view, checked against Python's prediction of each row alone
/// (ids of 100 and more are row `id - 100`, moved by an update) within `tolerance`,
/// and against the table's ids: the view holds exactly one row per table row.
async fn check_view_per_row(
    c: &Client,
    view: &str,
    table: &str,
    model: &str,
    output: &str,
    tolerance: f64,
) {
    let got = float_rows(c, &format!("SELECT id, out FROM {view} ORDER BY id")).await;
    let ids: Vec<i32> = c
        .query(&format!("SELECT id FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let view_ids: Vec<i32> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(view_ids, ids, "{view}: one row per table row");
    let alone = &reference(model)["alone"][output];
    for (id, values) in &got {
        let want = flat_row(alone, (*id % 100) as usize);
        assert_within(
            values,
            &want,
            tolerance,
            &format!("{view} row {id} (alone)"),
        );
    }
}

/// `EXPLAIN CREATE MATERIALIZED VIEW x AS {query}`, one line per operator.
async fn explain(c: &Client, query: &str) -> String {
    c.simple_query(&format!("EXPLAIN CREATE MATERIALIZED VIEW x AS {query}"))
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The views `{view}_positive` (a filter on `mlp_int8`'s prediction), `{view}_kept`
/// (a filter on the prediction a subquery shows) and `{view}_total` (their count and
/// sum) over `table` agree with Python's prediction of each row alone within
/// `tolerance` per row, and `{view}_kept` shows only what its filter kept.
async fn check_filtered_and_summed(c: &Client, table: &str, view: &str, tolerance: f64) {
    let ids = |sql: String| async move {
        c.query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get::<_, i32>(0))
            .collect::<Vec<_>>()
    };
    let rows = ids(format!("SELECT id FROM {table}")).await;
    // A filter on a prediction reads the one the view shows (it is not pushed below
    // the projection to predict a second time, in another batch).
    let kept = ids(format!("SELECT id FROM {view}_kept WHERE p > 0")).await;
    assert_eq!(
        kept.len() as i64,
        c.query_one(&format!("SELECT count(*) FROM {view}_kept"), &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    );
    let positive = ids(format!("SELECT id FROM {view}_positive")).await;
    let alone = |id: i32| {
        flat_row(
            &reference("mlp_int8")["alone"]["variable"],
            (id % 100) as usize,
        )[0]
    };
    for id in &rows {
        let want = alone(*id);
        if want.abs() > tolerance {
            assert_eq!(
                positive.contains(id),
                want > 0.0,
                "{view}_positive: row {id} predicts {want} alone"
            );
        }
    }
    assert!(
        positive.iter().all(|id| rows.contains(id)),
        "{view}_positive: {positive:?} of {rows:?}"
    );
    let total = c
        .query_one(&format!("SELECT n, total FROM {view}_total"), &[])
        .await
        .unwrap();
    assert_eq!(total.get::<_, i64>(0), rows.len() as i64, "{view}_total n");
    let want: f64 = rows.iter().map(|id| alone(*id)).sum();
    // sum(real) is a real, as in PostgreSQL.
    match total.get::<_, Option<f32>>(1).map(f64::from) {
        Some(got) => assert!(
            (got - want).abs() <= tolerance * rows.len() as f64,
            "{view}_total: {got}, Python alone {want}"
        ),
        None => assert!(rows.is_empty(), "{view}_total: NULL sum over {rows:?}"),
    }
}

/// A dynamically quantized model's result for a row depends on its batch, which is
/// why views remember their predictions; then insert/update/delete streams through
/// views over an fp32, an int8 and a tree model stay consistent and per-row correct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_remember_predictions_so_updates_and_deletes_retract_them_exactly() {
    let server = TestServer::start().await;
    let c = server.client().await;
    for model in ["mlp", "mlp_int8", "forest"] {
        c.batch_execute(&format!(
            "CREATE MODEL {model} FROM '{}'",
            model_path(model)
        ))
        .await
        .unwrap();
    }
    let n = rows(&reference("mlp_int8")["inputs"]["X"]);

    // Row 0 predicted alone, then in one batch with rows of extreme values.
    feature_table(&c, "alone", "mlp_int8", 0..1).await;
    feature_table(&c, "crowd", "mlp_int8", 0..1).await;
    c.batch_execute(
        "INSERT INTO crowd VALUES (100, 100, 100, 100, 100), (101, -100, -100, -100, -100)",
    )
    .await
    .unwrap();
    for (model, batch_dependent) in [("mlp_int8", true), ("mlp", false)] {
        let predict = |table: &str| {
            format!("SELECT id, PREDICT({model}, a, b, c, d) FROM {table} ORDER BY id")
        };
        let alone = float_rows(&c, &predict("alone")).await[0].1[0];
        let crowd = float_rows(&c, &predict("crowd")).await[0].1[0];
        let python = flat_row(&reference(model)["alone"]["variable"], 0)[0];
        assert_close(&[alone], &[python], &format!("{model} row 0 alone"));
        if batch_dependent {
            assert!(
                (alone - crowd).abs() > 0.1,
                "{model}: row 0 alone {alone}, next to extreme rows {crowd}"
            );
        } else {
            assert_close(&[crowd], &[alone], &format!("{model} row 0 in a crowd"));
        }
    }

    // A join condition would predict in the join's batches, which nothing remembers.
    let err = c
        .batch_execute(
            "CREATE MATERIALIZED VIEW j AS SELECT x.id FROM alone x JOIN crowd y
             ON PREDICT(mlp_int8, x.a, x.b, x.c, x.d) > y.a",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "0A000", "{err:?}");
    let message = err.as_db_error().map(|e| e.message().to_string());
    assert!(
        message.is_some_and(|m| m.contains("subquery's select list")),
        "{err:?}"
    );

    // The int8 model's prediction for a row moves with its batch (checked above).
    for (model, output, expr, tolerance) in [
        ("mlp", "variable", "PREDICT(mlp, a, b, c, d)", 1e-5),
        (
            "mlp_int8",
            "variable",
            "PREDICT(mlp_int8, a, b, c, d)",
            INT8_BATCH_TOLERANCE,
        ),
        (
            "forest",
            "probabilities",
            "(PREDICT(forest, a, b, c, d)).probabilities",
            1e-5,
        ),
    ] {
        let table = format!("s_{model}");
        let view = format!("v_{model}");
        c.batch_execute(&format!(
            "CREATE TABLE {table} (id INT, a REAL, b REAL, c REAL, d REAL);
             CREATE MATERIALIZED VIEW {view} AS SELECT id, {expr} AS out FROM {table}"
        ))
        .await
        .unwrap();
        let plan = explain(&c, &format!("SELECT id, {expr} AS out FROM {table}")).await;
        assert!(plan.contains("Project (memoized)"), "{plan}");
        if model == "mlp_int8" {
            // The same predictions filtered and summed, by other operators.
            let plans = [
                (
                    "positive",
                    "Filter (memoized)",
                    format!("SELECT id FROM {table} WHERE {expr} > 0"),
                ),
                (
                    "kept",
                    // A real beside an integer is compared as a double precision.
                    "Filter: CAST(p@1 AS Float64) > 0",
                    format!(
                        "SELECT id, p FROM (SELECT id, {expr} AS p FROM {table}) q WHERE p > 0"
                    ),
                ),
                (
                    "total",
                    "Aggregate (memoized)",
                    format!("SELECT count(*) AS n, sum({expr}) AS total FROM {table}"),
                ),
            ];
            for (name, operator, sql) in plans {
                let plan = explain(&c, &sql).await;
                assert!(plan.contains(operator), "{plan}");
                assert_eq!(plan.matches("predict(mlp_int8").count(), 1, "{plan}");
                c.batch_execute(&format!("CREATE MATERIALIZED VIEW {view}_{name} AS {sql}"))
                    .await
                    .unwrap();
            }
        }
        let check = || async {
            check_view_per_row(&c, &view, &table, model, output, tolerance).await;
            if model == "mlp_int8" {
                check_filtered_and_summed(&c, &table, &view, tolerance).await;
            }
        };
        // Inserts: half in one batch, a quarter in another, the rest one by one.
        let features = &reference(model)["inputs"]["X"];
        insert_features(&c, &table, features, 0..n / 2).await;
        insert_features(&c, &table, features, n / 2..3 * n / 4).await;
        for row in 3 * n / 4..n {
            insert_features(&c, &table, features, row..row + 1).await;
        }
        check().await;
        // Deletes spanning those batches: each retraction is predicted in another
        // batch than its insertion was.
        c.batch_execute(&format!("DELETE FROM {table} WHERE id % 3 = 0; FLUSH"))
            .await
            .unwrap();
        check().await;
        // Updates (delete and insert in one change): new ids, the same features.
        c.batch_execute(&format!(
            "UPDATE {table} SET id = id + 100 WHERE id % 3 = 1; FLUSH"
        ))
        .await
        .unwrap();
        check().await;
        // Rows inserted again, and a row twice; then every copy deleted.
        insert_features(&c, &table, features, 0..1).await;
        insert_features(&c, &table, features, 0..4).await;
        check().await;
        c.batch_execute(&format!("DELETE FROM {table} WHERE id < 3; FLUSH"))
            .await
            .unwrap();
        check().await;
        c.batch_execute(&format!("DELETE FROM {table}; FLUSH"))
            .await
            .unwrap();
        check().await;
        let state: i64 = c
            .query_one(
                "SELECT operator_bytes FROM sluice_catalog.view_status WHERE name = $1",
                &[&view],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(state, 0, "{view}: an empty table leaves nothing remembered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_batch_models_pad_and_split_and_nulls_give_null() {
    let server = TestServer::start().await;
    let c = server.client().await;
    // qnet_fixed8 has qnet's weights but takes exactly 8 rows per call.
    c.batch_execute(&format!(
        "CREATE MODEL q8 FROM '{}'; CREATE MODEL q FROM '{}' WITH (batch_size = 3, sessions = 2)",
        model_path("qnet_fixed8"),
        model_path("qnet")
    ))
    .await
    .unwrap();
    let n = rows(&reference("qnet")["inputs"]["state"]);
    // 3 rows (padded to 8), then 13 (8 + 5 padded): never a padded row back.
    feature_table(&c, "s", "qnet", 0..3).await;
    for (model, expected) in [("q8", 3), ("q", 3)] {
        let got = float_rows(
            &c,
            &format!("SELECT id, PREDICT({model}, a, b, c, d) FROM s ORDER BY id"),
        )
        .await;
        check_against("qnet", "q_values", &got, expected);
    }
    // Rows with NULLs between the others: every other row still gets its own result.
    c.batch_execute("CREATE MATERIALIZED VIEW v AS SELECT id, PREDICT(q8, a, b, c, d) AS q FROM s")
        .await
        .unwrap();
    let mut values: Vec<String> = Vec::new();
    let input = &reference("qnet")["inputs"]["state"];
    for row in 3..n {
        let v: Vec<String> = flat_row(input, row).into_iter().map(real_literal).collect();
        values.push(format!("({row}, {})", v.join(", ")));
        if row == 5 {
            values.push("(100, NULL, 1, 1, 1)".into());
        }
        if row == 9 {
            values.push("(101, 1, 1, 1, NULL)".into());
        }
    }
    c.batch_execute(&format!(
        "INSERT INTO s VALUES {}; FLUSH",
        values.join(", ")
    ))
    .await
    .unwrap();
    let got = float_rows(&c, "SELECT id, q FROM v WHERE q IS NOT NULL ORDER BY id").await;
    check_against("qnet", "q_values", &got, n);
    for model in ["q8", "q"] {
        let got = float_rows(
            &c,
            &format!("SELECT id, PREDICT({model}, a, b, c, d) FROM s WHERE id < 100 ORDER BY id"),
        )
        .await;
        check_against("qnet", "q_values", &got, n);
        let nulls: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM s WHERE PREDICT({model}, a, b, c, d) IS NULL"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(nulls, 2, "NULL inputs give NULL predictions");
    }
    let calls: i64 = c
        .query_one(
            "SELECT calls FROM sluice_catalog.model_stats WHERE model = 'q'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        calls >= 6,
        "batch_size 3 splits 16 rows into 6 calls, saw {calls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_arguments_are_refused_when_planned() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!(
        "CREATE MODEL lr FROM '{}'; CREATE TABLE t (a REAL, b REAL, c REAL, d REAL, name TEXT)",
        model_path("logreg")
    ))
    .await
    .unwrap();
    for (sql, code, needle) in [
        (
            "SELECT PREDICT(lr, a, b, c) FROM t",
            "42883",
            "X real[batch, 4]",
        ),
        (
            "SELECT PREDICT(lr, a, b, c, d, a) FROM t",
            "42883",
            "too many",
        ),
        (
            "SELECT PREDICT(lr, a, b, c, name) FROM t",
            "42883",
            "not text",
        ),
        (
            "SELECT PREDICT(nope, a, b, c, d) FROM t",
            "42704",
            "model \"nope\" does not exist",
        ),
        (
            "SELECT PREDICT(a, a, b, c, d) FROM t",
            "42704",
            "does not exist",
        ),
        ("SELECT PREDICT(1, a) FROM t", "42883", "model name first"),
        (
            "CREATE MATERIALIZED VIEW bad AS SELECT PREDICT(lr, a, b) FROM t",
            "42883",
            "X real[batch, 4]",
        ),
        ("SELECT argmax(a) FROM t", "42883", "numeric array"),
    ] {
        let err = c.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
        let message = err
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(message.contains(needle), "{sql}: {message}");
    }
    // A prepared statement is checked at Parse, before any row exists.
    let err = c
        .prepare("SELECT PREDICT(lr, $1::real) FROM t")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42883");
    let ok = c
        .prepare("SELECT (PREDICT(lr, a, b, c, d)).label FROM t WHERE name = $1")
        .await
        .unwrap();
    c.execute("INSERT INTO t VALUES (1, 2, 3, 4, 'x')", &[])
        .await
        .unwrap();
    let label: i64 = c.query_one(&ok, &[&"x"]).await.unwrap().get(0);
    assert!((0..3).contains(&label));
    // Bad model files and options.
    for (sql, code) in [
        (
            "CREATE MODEL m FROM '/nonexistent/model.onnx'".to_string(),
            "58P01",
        ),
        (
            format!(
                "CREATE MODEL m FROM '{}'",
                models_dir().join("references.json").display()
            ),
            "22023",
        ),
        (
            format!(
                "CREATE MODEL m FROM '{}' WITH (batch_size = 0)",
                model_path("qnet")
            ),
            "22023",
        ),
        (
            format!(
                "CREATE MODEL m FROM '{}' WITH (colour = 1)",
                model_path("qnet")
            ),
            "22023",
        ),
        (
            format!("CREATE MODEL lr FROM '{}'", model_path("qnet")),
            "42710",
        ),
    ] {
        let err = c.simple_query(&sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), code, "{sql}: {err:?}");
    }
    // The server is still fine.
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_model_switches_running_views_and_drop_is_refused_while_used() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!("CREATE MODEL q FROM '{}'", model_path("qnet")))
        .await
        .unwrap();
    let n = rows(&reference("qnet")["inputs"]["state"]);
    feature_table(&c, "s", "qnet", 0..n / 2).await;
    c.batch_execute(
        "CREATE MATERIALIZED VIEW actions AS SELECT id, PREDICT(q, a, b, c, d) AS q FROM s;
         CREATE MATERIALIZED VIEW best AS SELECT argmax(q) AS action, count(*) AS n FROM actions GROUP BY 1",
    )
    .await
    .unwrap();
    check_against(
        "qnet",
        "q_values",
        &float_rows(&c, "SELECT id, q FROM actions ORDER BY id").await,
        n / 2,
    );

    // A new version with the same interface: the views switch to it as a whole.
    c.batch_execute(&format!(
        "CREATE OR REPLACE MODEL q FROM '{}'",
        model_path("qnet_v2")
    ))
    .await
    .unwrap();
    let version: i64 = c
        .query_one(
            "SELECT version FROM sluice_catalog.models WHERE name = 'q'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 2);
    check_against(
        "qnet_v2",
        "q_values",
        &float_rows(&c, "SELECT id, q FROM actions ORDER BY id").await,
        n / 2,
    );
    // Rows from before the swap retract cleanly; new rows use version 2.
    c.batch_execute("DELETE FROM s WHERE id < 3").await.unwrap();
    feature_table(&c, "s", "qnet", n / 2..n).await;
    let got = float_rows(&c, "SELECT id, q FROM actions ORDER BY id").await;
    check_against("qnet_v2", "q_values", &got, n - 3);
    let total: i64 = c
        .query_one("SELECT sum(n)::BIGINT FROM best", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        total,
        (n - 3) as i64,
        "the view on the view follows the switch"
    );
    let want_best: i64 = (3..n)
        .filter(|i| {
            let q = flat_row(&reference("qnet_v2")["outputs"]["q_values"], *i);
            q[0] >= q[1]
        })
        .count() as i64;
    let best0: i64 = c
        .query_one(
            "SELECT coalesce(sum(n), 0)::BIGINT FROM best WHERE action = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(best0, want_best);

    // A version with another interface is refused while views use the model.
    let err = c
        .simple_query(&format!(
            "CREATE OR REPLACE MODEL q FROM '{}'",
            model_path("logreg")
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01", "{err:?}");
    let err = c.simple_query("DROP MODEL q").await.unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01", "{err:?}");
    assert!(format!("{err:?}").contains("actions"));
    c.batch_execute("DROP MATERIALIZED VIEW actions CASCADE; DROP MODEL q; DROP MODEL IF EXISTS q")
        .await
        .unwrap();
    let err = c
        .simple_query("SELECT PREDICT(q, 1, 2, 3, 4)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42704");
    let err = c.simple_query("DROP MODEL q").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42704");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_survive_restart_without_their_original_file() {
    let server = TestServer::start().await;
    let c = server.client().await;
    let original = tempfile::tempdir().unwrap();
    let copy = original.path().join("q.onnx");
    std::fs::copy(model_path("qnet"), &copy).unwrap();
    c.batch_execute(&format!("CREATE MODEL q FROM '{}'", copy.display()))
        .await
        .unwrap();
    c.batch_execute(&format!(
        "CREATE OR REPLACE MODEL q FROM '{}'",
        copy.display()
    ))
    .await
    .unwrap();
    let n = rows(&reference("qnet")["inputs"]["state"]);
    feature_table(&c, "s", "qnet", 0..n).await;
    c.batch_execute("CREATE MATERIALIZED VIEW v AS SELECT id, PREDICT(q, a, b, c, d) AS q FROM s")
        .await
        .unwrap();
    let checksum: String = c
        .query_one("SELECT checksum FROM sluice_catalog.models", &[])
        .await
        .unwrap()
        .get(0);
    drop(original);
    drop(c);
    let dir = server.stop();
    let addr = common::restart(dir.path()).await;
    let c = common::connect(addr).await;
    let row = c
        .query_one(
            "SELECT name, version, checksum FROM sluice_catalog.models",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "q");
    assert_eq!(row.get::<_, i64>(1), 2);
    assert_eq!(row.get::<_, String>(2), checksum);
    check_against(
        "qnet",
        "q_values",
        &float_rows(&c, "SELECT id, q FROM v ORDER BY id").await,
        n,
    );
    assert_eq!(common::sorted_rows(&c, "DESCRIBE MODEL q").await.len(), 2);
    let listing = c.simple_query("SHOW MODELS").await.unwrap();
    assert!(
        listing.iter().any(
            |m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("q"))
        )
    );
}

/// Every test model inside views over one Kafka source: the 4-feature models read
/// `a, b, c, d` (every 4-feature reference uses the same inputs), the CNN an array
/// field of 192 values, `two_inputs` the first three features.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_inside_views_over_a_kafka_source() {
    let broker = Broker::start();
    broker.create_topic("states", 2);
    let features = reference("logreg")["inputs"]["X"].clone();
    let images = reference("cnn")["inputs"]["image"].clone();
    let n = rows(&features);
    for model in ["forest", "mlp", "mlp_int8"] {
        assert_eq!(
            reference(model)["inputs"]["X"],
            features,
            "{model} shares the inputs"
        );
    }
    assert_eq!(reference("qnet")["inputs"]["state"], features);
    let mut messages = Vec::new();
    for row in 0..n {
        let v: Vec<String> = flat_row(&features, row)
            .into_iter()
            .map(real_literal)
            .collect();
        let pixels: Vec<String> = flat_row(&images, row)
            .into_iter()
            .map(real_literal)
            .collect();
        let json = format!(
            "{{\"id\": {row}, \"a\": {}, \"b\": {}, \"c\": {}, \"d\": {}, \"pixels\": [{}]}}",
            v[0],
            v[1],
            v[2],
            v[3],
            pixels.join(", ")
        );
        messages.push(((row % 2) as i32, json.into_bytes()));
    }
    // A message the models cannot score (features missing) gives NULL predictions.
    messages.push((0, b"{\"id\": 99, \"a\": 1.0}".to_vec()));
    broker.produce("states", &messages);

    let server = TestServer::start().await;
    let c = server.client().await;
    create_every_model(&c).await;
    c.batch_execute(&format!(
        "CREATE SOURCE states (id INT, a REAL, b REAL, c REAL, d REAL, pixels REAL[])
         WITH (connector = 'kafka', topic = 'states',
               properties.bootstrap.server = '{}', scan.startup.mode = 'earliest')
         FORMAT PLAIN ENCODE JSON",
        broker.address()
    ))
    .await
    .unwrap();
    // A source never retracts a row: its views remember no prediction.
    let plan = explain(
        &c,
        "SELECT id, PREDICT(mlp_int8, a, b, c, d) AS out FROM states",
    )
    .await;
    assert!(
        plan.contains("predict(") && !plan.contains("memoized"),
        "{plan}"
    );
    let views = [
        (
            "logreg",
            "probabilities",
            "(PREDICT(logreg, a, b, c, d)).probabilities",
        ),
        (
            "forest",
            "probabilities",
            "(PREDICT(forest, a, b, c, d)).probabilities",
        ),
        ("mlp", "variable", "PREDICT(mlp, a, b, c, d)"),
        ("mlp_int8", "variable", "PREDICT(mlp_int8, a, b, c, d)"),
        ("qnet", "q_values", "PREDICT(qnet, a, b, c, d)"),
        ("cnn", "scores", "PREDICT(cnn, pixels)"),
        ("two_inputs", "y", "PREDICT(two_inputs, a, b, c)"),
    ];
    for (model, _, expr) in views {
        c.batch_execute(&format!(
            "CREATE MATERIALIZED VIEW scored_{model} AS SELECT id, {expr} AS out FROM states"
        ))
        .await
        .unwrap();
    }
    for (model, output, _) in views {
        let view = format!("scored_{model}");
        let seen = wait_for(
            &c,
            &format!("SELECT count(*) FROM {view}"),
            n as i64 + 1,
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(seen, n as i64 + 1, "{view}");
        let got = float_rows(
            &c,
            &format!("SELECT id, out FROM {view} WHERE id < 99 ORDER BY id"),
        )
        .await;
        if model == "mlp_int8" {
            // Dynamic int8 quantization scales a batch by its own range, and how the
            // reader batches Kafka messages varies from run to run: a prediction
            // stays within the tolerance of the table tests, not bit-exact.
            let want = &reference(model)["outputs"][output];
            assert_eq!(got.len(), n, "{view}: rows {got:?}");
            for (id, values) in &got {
                let expected = flat_row(want, *id as usize);
                assert_within(
                    values,
                    &expected,
                    INT8_BATCH_TOLERANCE,
                    &format!("{view} row {id}"),
                );
            }
        } else {
            check_against(model, output, &got, n);
        }
        let nulls: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM {view} WHERE id = 99 AND out IS NULL"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(nulls, 1, "{view}: missing inputs give NULL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_show_and_array_functions() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(&format!("CREATE MODEL lr FROM '{}'", model_path("logreg")))
        .await
        .unwrap();
    let rows = common::sorted_rows(&c, "DESCRIBE MODEL lr").await;
    let summary: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r[..5].iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        summary,
        vec![
            vec!["input", "1", "X", "real", "[batch, 4]"],
            vec!["output", "1", "label", "bigint", "[batch]"],
            vec!["output", "2", "probabilities", "real", "[batch, 3]"],
        ]
    );
    assert!(
        rows.iter().all(|r| r[5] == "1" && r[6].len() == 64),
        "{rows:?}"
    );
    let shown = common::sorted_rows(&c, "SHOW MODELS").await;
    assert_eq!(shown[0][0..2], ["lr".to_string(), "1".to_string()]);
    let err = c.simple_query("DESCRIBE MODEL nope").await.unwrap_err();
    assert_eq!(sqlstate(&err), "42704");

    let row = c
        .query_one(
            "SELECT argmax(ARRAY[1.0, 3.0, 3.0, 2.0]), argmax(ARRAY[]::real[]), argmax(NULL::real[]),
                    softmax(ARRAY[1.0, 2.0, 3.0])",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), Some(1));
    assert_eq!(row.get::<_, Option<i64>>(1), None);
    assert_eq!(row.get::<_, Option<i64>>(2), None);
    let soft: Vec<f64> = row.get(3);
    let e: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).collect();
    let sum: f64 = e.iter().sum();
    assert_close(
        &soft,
        &e.iter().map(|v| v / sum).collect::<Vec<_>>(),
        "softmax",
    );
}

#[test]
fn a_missing_onnx_runtime_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (mut command, ready_file) = common::serve_command(&dir.path().join("data"));
    let mut child = command
        .env("SLUICE_ONNXRUNTIME", dir.path().join("missing.so"))
        .env("SLUICE_CACHE", dir.path())
        .env_remove("ORT_DYLIB_PATH")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = common::wait_until_ready(&mut child, &ready_file, Duration::from_secs(30))
        .unwrap_or_else(|status| panic!("sluice did not start: {status}"));
    let sql = format!("CREATE MODEL q FROM '{}'", model_path("qnet"));
    let (ok, _, err) = common::psql(addr, &["-c", &sql, "-c", "SELECT 1 AS alive"]);
    assert!(!ok);
    assert!(err.contains("ONNX Runtime is not installed"), "{err}");
    assert!(err.contains("scripts/install-ml.sh"), "{err}");
    let (ok, out, _) = common::psql(addr, &["-c", "SELECT 1 AS alive"]);
    assert!(ok && out.contains('1'), "the server keeps running");
    let _ = child.kill();
    let _ = child.wait();
}
