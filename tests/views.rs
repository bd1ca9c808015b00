//! Materialized views over the wire: maintenance under inserts, updates and deletes,
//! views on views, backfill, restart, errors, refusals — and the oracle test: after
//! random change streams, every view equals its query run in batch by DataFusion.

mod common;

use common::{Rng, TestServer, connect, same_sorted_rows, sorted_rows as rows, sqlstate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_follow_inserts_updates_and_deletes() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (k INT PRIMARY KEY, g INT, v BIGINT, s TEXT);
         INSERT INTO t VALUES (1, 1, 10, 'a'), (2, 1, 20, 'b'), (3, 2, 5, NULL);
         CREATE MATERIALIZED VIEW by_g AS
           SELECT g, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi,
                  count(DISTINCT s) AS names
           FROM t GROUP BY g;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM by_g").await,
        vec![
            vec!["1", "2", "30", "10", "20", "2"],
            vec!["2", "1", "5", "5", "5", "0"]
        ]
    );
    c.batch_execute(
        "UPDATE t SET v = 1 WHERE k = 2;
         DELETE FROM t WHERE k = 3;
         INSERT INTO t VALUES (4, 3, 7, 'c');
         FLUSH;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM by_g").await,
        vec![
            vec!["1", "2", "11", "1", "10", "2"],
            vec!["3", "1", "7", "7", "7", "1"]
        ]
    );
    // Point lookups on the leading column read the arrangement directly.
    assert_eq!(
        rows(&c, "SELECT n FROM by_g WHERE g = 3").await,
        vec![vec!["1"]]
    );
    // A view can be queried like any table, joined with tables and other views.
    assert_eq!(
        rows(
            &c,
            "SELECT t.k, b.total FROM t JOIN by_g b ON t.g = b.g WHERE t.k = 4"
        )
        .await,
        vec![vec!["4", "7"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_on_views_three_deep_stay_correct_under_deletes() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE e (id INT PRIMARY KEY, user_id INT, amount BIGINT);
         CREATE MATERIALIZED VIEW per_user AS SELECT user_id, sum(amount) AS total FROM e GROUP BY user_id;
         CREATE MATERIALIZED VIEW big_users AS SELECT user_id, total FROM per_user WHERE total >= 100;
         CREATE MATERIALIZED VIEW summary AS SELECT count(*) AS users, sum(total) AS volume FROM big_users;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM summary").await,
        vec![vec!["0", "NULL"]]
    );
    for i in 0..60 {
        c.execute(
            "INSERT INTO e VALUES ($1, $2, $3)",
            &[&i, &(i % 6), &(i64::from(i) * 3)],
        )
        .await
        .unwrap();
    }
    c.batch_execute(
        "DELETE FROM e WHERE id % 4 = 0; UPDATE e SET amount = amount * 2 WHERE user_id = 1; FLUSH",
    )
    .await
    .unwrap();
    let batch_summary = "SELECT count(*), sum(total) FROM (SELECT user_id, total FROM \
        (SELECT user_id, sum(amount) AS total FROM e GROUP BY user_id) WHERE total >= 100)";
    assert_eq!(
        rows(&c, "SELECT * FROM summary").await,
        rows(&c, batch_summary).await
    );
    c.batch_execute("DELETE FROM e WHERE user_id <> 1; FLUSH")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM summary").await,
        rows(&c, batch_summary).await
    );
    assert_eq!(rows(&c, "SELECT users FROM summary").await, vec![vec!["1"]]);

    // Dependencies are enforced, CASCADE drops the chain deepest first.
    let err = c
        .batch_execute("DROP MATERIALIZED VIEW per_user")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01");
    let err = c.batch_execute("DROP TABLE e").await.unwrap_err();
    assert_eq!(sqlstate(&err), "2BP01");
    c.batch_execute("DROP TABLE e CASCADE").await.unwrap();
    assert!(rows(&c, "SHOW MATERIALIZED VIEWS").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_restart_and_show() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute("CREATE TABLE t (a INT, b TEXT)")
        .await
        .unwrap();
    for i in 0..500 {
        c.execute(
            "INSERT INTO t VALUES ($1, $2)",
            &[&(i % 7), &format!("x{}", i % 3)],
        )
        .await
        .unwrap();
    }
    // Created over existing data: backfilled, then maintained, no gap or double count.
    let writer = {
        let addr = server.addr;
        tokio::spawn(async move {
            let w = connect(addr).await;
            for i in 0..200 {
                w.execute("INSERT INTO t VALUES ($1, 'late')", &[&i])
                    .await
                    .unwrap();
            }
        })
    };
    c.batch_execute(
        "CREATE MATERIALIZED VIEW counts AS SELECT a, b, count(*) AS n FROM t GROUP BY a, b",
    )
    .await
    .unwrap();
    writer.await.unwrap();
    c.batch_execute("FLUSH").await.unwrap();
    let batch = "SELECT a, b, count(*) AS n FROM t GROUP BY a, b";
    assert_eq!(
        rows(&c, "SELECT * FROM counts").await,
        rows(&c, batch).await
    );
    assert_eq!(
        rows(&c, "SHOW MATERIALIZED VIEWS").await,
        vec![vec!["counts"]]
    );
    let plan = rows(
        &c,
        "EXPLAIN CREATE MATERIALIZED VIEW x AS SELECT a, count(*) FROM t GROUP BY a",
    )
    .await;
    assert!(plan.iter().any(|r| r[0].contains("Aggregate")), "{plan:?}");

    // After a restart the view is rebuilt from the durable tables.
    let expected = rows(&c, batch).await;
    drop(c);
    let dir = server.stop();
    let c = connect(common::restart(dir.path()).await).await;
    assert_eq!(rows(&c, "SELECT * FROM counts").await, expected);
    c.batch_execute("INSERT INTO t VALUES (100, 'new'); FLUSH")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT n FROM counts WHERE a = 100 AND b = 'new'").await,
        vec![vec!["1"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_errors_follow_the_row_and_refusals_say_why() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (a BIGINT);
         CREATE MATERIALIZED VIEW q AS SELECT 100 / a AS r FROM t;
         INSERT INTO t VALUES (4), (0);
         FLUSH;",
    )
    .await
    .unwrap();
    let err = c.simple_query("SELECT * FROM q").await.unwrap_err();
    assert_eq!(sqlstate(&err), "22012");
    // A view reading q misses the failed row too, and says so.
    c.batch_execute("CREATE MATERIALIZED VIEW q_n AS SELECT count(*) AS n FROM q")
        .await
        .unwrap();
    let err = c.simple_query("SELECT * FROM q_n").await.unwrap_err();
    assert_eq!(sqlstate(&err), "22012");
    c.batch_execute("DELETE FROM t WHERE a = 0; FLUSH")
        .await
        .unwrap();
    assert_eq!(rows(&c, "SELECT * FROM q").await, vec![vec!["25"]]);
    assert_eq!(rows(&c, "SELECT * FROM q_n").await, vec![vec!["1"]]);

    let refused = [
        "CREATE MATERIALIZED VIEW x AS SELECT now()",
        "CREATE MATERIALIZED VIEW x AS SELECT random() FROM t",
        "CREATE MATERIALIZED VIEW x AS SELECT a FROM t LIMIT 3",
        "CREATE MATERIALIZED VIEW x AS SELECT median(a) FROM t",
        // A float variance cannot be kept exactly under deletions: cast to NUMERIC.
        "CREATE MATERIALIZED VIEW x AS SELECT stddev(a::float8 / 3) FROM t",
    ];
    for sql in refused {
        let err = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "0A000", "{sql}");
    }
    let err = c
        .batch_execute("INSERT INTO q VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42809");
}

/// A result out of an integer type's range is a row error, as a division by zero is,
/// taken back when the row goes; sums of bigints are numerics and go on past the range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_overflow_is_a_row_error_until_the_row_goes() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE t (g INT, a BIGINT);
         CREATE MATERIALIZED VIEW doubled AS SELECT g, a * 2 AS d FROM t;
         CREATE MATERIALIZED VIEW totals AS SELECT g, sum(a) AS s FROM t GROUP BY g;
         CREATE MATERIALIZED VIEW running AS
             SELECT g, a, sum(a) OVER (PARTITION BY g ORDER BY a) AS s FROM t;
         INSERT INTO t VALUES (1, 10), (1, 20), (2, 9223372036854775807);
         FLUSH;",
    )
    .await
    .unwrap();
    let error = c.simple_query("SELECT * FROM doubled").await.unwrap_err();
    assert_eq!(sqlstate(&error), "22003");
    assert_eq!(
        error.as_db_error().map(|e| e.message()),
        Some("bigint out of range")
    );
    assert_eq!(
        rows(&c, "SELECT * FROM totals").await,
        vec![vec!["1", "30"], vec!["2", "9223372036854775807"]]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM running").await,
        vec![
            vec!["1", "10", "10"],
            vec!["1", "20", "30"],
            vec!["2", "9223372036854775807", "9223372036854775807"]
        ]
    );
    c.batch_execute("INSERT INTO t VALUES (2, 1); FLUSH")
        .await
        .unwrap();
    // A sum of bigints is a numeric, as in PostgreSQL: it goes on past bigint's range,
    // in the views and in the batch query over the same rows.
    assert_eq!(
        rows(&c, "SELECT * FROM totals").await,
        vec![vec!["1", "30"], vec!["2", "9223372036854775808"]]
    );
    assert_eq!(
        rows(&c, "SELECT g, sum(a) FROM t GROUP BY g").await,
        rows(&c, "SELECT * FROM totals").await
    );
    assert_eq!(
        rows(&c, "SELECT * FROM running").await,
        vec![
            vec!["1", "10", "10"],
            vec!["1", "20", "30"],
            vec!["2", "1", "1"],
            vec!["2", "9223372036854775807", "9223372036854775808"]
        ]
    );
    c.batch_execute("DELETE FROM t WHERE a > 100; FLUSH")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM doubled").await,
        vec![vec!["1", "20"], vec!["1", "40"], vec!["2", "2"]]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM totals").await,
        vec![vec!["1", "30"], vec!["2", "1"]]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM running").await,
        vec![
            vec!["1", "10", "10"],
            vec!["1", "20", "30"],
            vec!["2", "1", "1"]
        ]
    );
}

/// A random condition on columns named `{q}k`, `{q}v`, ... (`q` qualifies them).
fn random_predicate_on(rng: &mut Rng, q: &str) -> String {
    let atoms = [
        format!("{q}v > {}", rng.below(50)),
        format!("{q}s IS NULL"),
        format!("{q}k % 3 = {}", rng.below(3)),
        format!("{q}g IN (1, {})", rng.below(4)),
        format!("{q}f < {}.5", rng.below(20)),
        format!("{q}s LIKE 'a%'"),
    ];
    let a = &atoms[rng.below(atoms.len() as u64) as usize];
    let b = &atoms[rng.below(atoms.len() as u64) as usize];
    match rng.below(3) {
        0 => a.clone(),
        1 => format!("({a}) AND ({b})"),
        _ => format!("({a}) OR NOT ({b})"),
    }
}

fn random_predicate(rng: &mut Rng) -> String {
    random_predicate_on(rng, "")
}

/// A view query from the grammar covering every operator: filter, project,
/// group-by with every aggregate, HAVING, global aggregates, DISTINCT, UNION ALL,
/// inner joins (with a residual condition, and under an aggregate).
fn random_view(rng: &mut Rng, table: &str) -> String {
    let pred = random_predicate(rng);
    match rng.below(32) {
        0 => format!("SELECT k, v * 2 AS v2, upper(s) AS s, f FROM {table} WHERE {pred}"),
        1 => format!(
            "SELECT g, count(*) AS n, count(v) AS nv, count(DISTINCT s) AS ds, sum(v) AS sv, \
             avg(v) AS av, min(v) AS lo, max(s) AS hs, sum(f) AS sf, avg(f) AS af, \
             bool_and(f < 15) AS lows, bool_or(s LIKE 'a%') AS some_a, \
             stddev(v) AS sd, var_pop(v) AS vp \
             FROM {table} WHERE {pred} GROUP BY g"
        ),
        2 => format!(
            "SELECT g, s IS NULL AS no_s, count(*) AS n, max(f) AS mf, min(s) AS ms FROM {table} \
             GROUP BY g, s IS NULL HAVING count(*) > {}",
            rng.below(3)
        ),
        3 => format!(
            "SELECT count(*) AS n, sum(v) AS sv, min(f) AS lo, max(v) AS hi, \
             bool_and(v > 10) AS all_big, bool_or(s IS NULL) AS some_null, \
             var_samp(v) AS vs, stddev_pop(v) AS sp FROM {table} WHERE {pred}"
        ),
        4 => format!("SELECT DISTINCT g, s FROM {table} WHERE {pred}"),
        5 => format!(
            "SELECT k, v FROM {table} WHERE {pred} UNION ALL SELECT k, v FROM t2 WHERE v % 2 = 0"
        ),
        6 => format!(
            "SELECT a.k, a.v, b.k AS bk, b.s AS bs FROM {table} a JOIN t2 b \
             ON a.g = b.g AND a.v < b.v WHERE {}",
            random_predicate_on(rng, "a.")
        ),
        7 => format!(
            "SELECT a.g, count(*) AS n, sum(b.v) AS sv, max(a.s) AS ms \
             FROM {table} a JOIN t2 b ON a.g = b.g GROUP BY a.g"
        ),
        // Semi and anti joins: IN and EXISTS subqueries, with and without a residual
        // condition, and over the view's own table.
        8 => format!(
            "SELECT k, g, v FROM {table} WHERE g IN (SELECT g FROM t2 WHERE v > {}) AND ({pred})",
            rng.below(50)
        ),
        9 => format!(
            "SELECT a.k, a.s FROM {table} a \
             WHERE EXISTS (SELECT 1 FROM t2 b WHERE b.g = a.g AND b.v > a.v)"
        ),
        10 => format!(
            "SELECT a.g, count(*) AS n, sum(a.v) AS sv FROM {table} a \
             WHERE NOT EXISTS (SELECT 1 FROM t2 b WHERE b.g = a.g AND b.s = a.s) GROUP BY a.g"
        ),
        11 => format!(
            "SELECT k, v FROM {table} a WHERE NOT EXISTS \
             (SELECT 1 FROM {table} b WHERE b.g = a.g AND b.v > a.v)"
        ),
        // Left joins: every left row, matched or beside NULLs.
        13 => format!(
            "SELECT a.k, a.v, b.k AS bk, b.s AS bs FROM {table} a LEFT JOIN t2 b \
             ON a.g = b.g AND a.v < b.v WHERE {}",
            random_predicate_on(rng, "a.")
        ),
        14 => format!(
            "SELECT a.g, count(*) AS n, count(b.k) AS matched, max(b.v) AS top \
             FROM {table} a LEFT JOIN t2 b ON a.g = b.g AND b.s IS NOT NULL GROUP BY a.g"
        ),
        15 => format!(
            "SELECT b.k AS bk, b.v AS bv, a.k, a.s FROM {table} a RIGHT JOIN t2 b \
             ON a.g = b.g AND a.v < b.v"
        ),
        // Full joins: pairs, and unmatched rows of both sides beside NULLs.
        16 => format!(
            "SELECT a.k, a.v, b.k AS bk, b.s AS bs FROM {table} a FULL JOIN t2 b \
             ON a.g = b.g AND a.v < b.v"
        ),
        // NOT IN: empty while the subquery holds a NULL, everything while it is empty.
        17 => format!(
            "SELECT k, g FROM {table} WHERE v NOT IN (SELECT v FROM t2 WHERE g = {})",
            rng.below(5)
        ),
        // Set operations, rows compared as DISTINCT compares them.
        18 => format!("SELECT g, s FROM {table} WHERE {pred} INTERSECT ALL SELECT g, s FROM t2"),
        19 => format!("SELECT g, v % 3 AS r FROM {table} EXCEPT ALL SELECT g, v % 3 FROM t2"),
        20 => format!(
            "SELECT s FROM {table} EXCEPT SELECT s FROM t2 WHERE v > {}",
            rng.below(50)
        ),
        // Top-N: row numbers over a unique order, ranks with ties, ORDER BY LIMIT.
        21 => format!(
            "SELECT k, g, v, rn FROM (SELECT k, g, v, row_number() OVER \
             (PARTITION BY g ORDER BY v DESC, k) AS rn FROM {table} WHERE {pred}) x \
             WHERE rn <= {}",
            1 + rng.below(3)
        ),
        22 => format!(
            "SELECT k, s, r FROM (SELECT k, s, rank() OVER (PARTITION BY s ORDER BY g) AS r \
             FROM {table}) x WHERE r <= 2"
        ),
        23 => format!(
            "SELECT g, count(*) AS n FROM {table} GROUP BY g ORDER BY n DESC, g LIMIT 2 OFFSET {}",
            rng.below(2)
        ),
        24 => format!(
            "SELECT k, v, d FROM (SELECT k, v, dense_rank() OVER (ORDER BY v % 7) AS d \
             FROM {table}) x WHERE d <= 2"
        ),
        // Window functions (OVER): running and moving aggregates, LAG/LEAD, ranks.
        25 => format!(
            "SELECT k, g, v, sum(v) OVER (PARTITION BY g ORDER BY k) AS running, \
             avg(f) OVER (PARTITION BY g ORDER BY k ROWS BETWEEN {} PRECEDING AND CURRENT ROW) \
             AS moving FROM {table} WHERE {pred}",
            rng.below(3)
        ),
        26 => format!(
            "SELECT k, lag(v) OVER (PARTITION BY g ORDER BY k) AS prev, \
             lead(s, {}, 'none') OVER (PARTITION BY g ORDER BY k) AS nxt, \
             row_number() OVER (PARTITION BY g ORDER BY k) AS rn FROM {table}",
            1 + rng.below(2)
        ),
        27 => format!(
            "SELECT k, rank() OVER (PARTITION BY g ORDER BY v) AS r, \
             max(v) OVER (PARTITION BY s) AS top, count(*) OVER () AS n FROM {table} WHERE {pred}"
        ),
        // Listing aggregates: tied rows (and rows without ORDER BY) are ordered by
        // the arguments, as DataFusion's batch run would not: order by the unique k.
        28 => format!(
            "SELECT g, string_agg(s, '/' ORDER BY k DESC) AS names, \
             array_agg(v ORDER BY k) AS vs, first_value(s ORDER BY k) AS first_s, \
             last_value(v ORDER BY k) AS last_v FROM {table} WHERE {pred} GROUP BY g"
        ),
        29 => format!("SELECT DISTINCT ON (s) s, k, v FROM {table} ORDER BY s, v DESC, k"),
        // An uncorrelated scalar subquery: a cross join with its one row.
        30 => format!(
            "SELECT k, v, v - (SELECT max(v) FROM t2) AS gap FROM {table} \
             WHERE v > (SELECT avg(v) FROM t2 WHERE {pred}) OR s IS NULL"
        ),
        31 => format!(
            "SELECT g, s, count(*) AS n, sum(v) AS sv, GROUPING(g) AS gg FROM {table} \
             WHERE {pred} GROUP BY ROLLUP (g, s)"
        ),
        // Under OR a subquery becomes a mark join (every row, marked).
        _ => format!(
            "SELECT a.k, a.g FROM {table} a WHERE a.v < {} \
             OR EXISTS (SELECT 1 FROM t2 b WHERE b.g = a.g AND b.v > a.v) \
             OR a.g IN (SELECT g FROM t2 WHERE s IS NULL)",
            rng.below(20)
        ),
    }
}

fn random_rows(rng: &mut Rng, next_k: &mut i64, n: u64) -> String {
    let mut values = Vec::new();
    for _ in 0..n {
        *next_k += 1;
        let v = if rng.below(8) == 0 {
            "NULL".to_string()
        } else {
            rng.below(60).to_string()
        };
        let s = match rng.below(5) {
            0 => "NULL".to_string(),
            i => format!(
                "'{}{}'",
                ["a", "b", "ab", "c"][i as usize - 1],
                rng.below(3)
            ),
        };
        let f = if rng.below(10) == 0 {
            "NULL".to_string()
        } else {
            format!("{}.25", rng.below(30))
        };
        values.push(format!("({next_k}, {}, {v}, {s}, {f})", rng.below(5)));
    }
    values.join(", ")
}

async fn run_oracle(seed: u64, steps: usize) {
    let server = TestServer::start().await;
    let c = server.client().await;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut next_k = 0i64;
    c.batch_execute(
        "CREATE TABLE t1 (k BIGINT, g INT, v BIGINT, s TEXT, f DOUBLE PRECISION);
         CREATE TABLE t2 (k BIGINT, g INT, v BIGINT, s TEXT, f DOUBLE PRECISION);",
    )
    .await
    .unwrap();
    let mut views: Vec<(String, String)> = Vec::new();
    for step in 0..steps {
        // Create views at different points, so some backfill and some start empty.
        if step % 10 == 0 && views.len() < 8 {
            let query = random_view(&mut rng, "t1");
            let name = format!("v{}", views.len());
            c.batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {query}"))
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {query}: {e:?}"));
            views.push((name.clone(), query.clone()));
            // A view on that view, to cover views over views.
            let on_view = format!("SELECT count(*) AS rows_in_{name} FROM {name}");
            c.batch_execute(&format!("CREATE MATERIALIZED VIEW {name}_n AS {on_view}"))
                .await
                .unwrap();
            views.push((
                format!("{name}_n"),
                format!("SELECT count(*) FROM ({query})"),
            ));
        }
        let table = rng.pick(&["t1", "t1", "t2"]);
        let statement = match rng.below(6) {
            0..=2 => {
                let n = 1 + rng.below(12) as u64;
                format!(
                    "INSERT INTO {table} VALUES {}",
                    random_rows(&mut rng, &mut next_k, n)
                )
            }
            3 => format!(
                "UPDATE {table} SET v = v + 1, s = 'u' WHERE k % 7 = {}",
                rng.below(7)
            ),
            4 => format!(
                "DELETE FROM {table} WHERE k % 5 = {} AND v > {}",
                rng.below(5),
                rng.below(40)
            ),
            _ => format!("DELETE FROM {table} WHERE {}", random_predicate(&mut rng)),
        };
        c.batch_execute(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
        if step % 3 == 2 || step + 1 == steps {
            c.batch_execute("FLUSH").await.unwrap();
            for (name, query) in &views {
                let incremental = rows(&c, &format!("SELECT * FROM {name}")).await;
                let batch = rows(&c, query).await;
                assert!(
                    same_sorted_rows(&incremental, &batch),
                    "seed {seed}, step {step}: view {name} = {query} differs from batch after \
                     {statement}:\n{incremental:?}\n{batch:?}"
                );
            }
        }
    }
}

/// The oracle: random tables and change streams, random views; after every FLUSH each
/// view equals its query computed in batch over the current tables. Set
/// SLUICE_ORACLE_CASES for a longer run (CI runs a handful of seeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_views_equal_batch_recomputation() {
    let cases: u64 = std::env::var("SLUICE_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let steps = std::env::var("SLUICE_ORACLE_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for seed in 1..=cases {
        run_oracle(seed, steps).await;
    }
}

/// `IN`, `EXISTS`, `NOT EXISTS` and `NOT IN` subqueries in views (semi and anti
/// joins) follow changes on both sides; a correlated `NOT IN` is refused with a hint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subquery_joins_follow_both_sides() {
    let server = TestServer::start().await;
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE bids (id BIGINT PRIMARY KEY, auction BIGINT, price BIGINT);
         CREATE TABLE auctions (id BIGINT PRIMARY KEY, seller TEXT);
         INSERT INTO bids VALUES (1, 10, 100), (2, 10, 250), (3, 11, 40);
         INSERT INTO auctions VALUES (10, 'ada'), (11, 'grace');
         CREATE MATERIALIZED VIEW big AS SELECT seller FROM auctions a
           WHERE EXISTS (SELECT 1 FROM bids b WHERE b.auction = a.id AND b.price > 200);
         CREATE MATERIALIZED VIEW idle AS SELECT id FROM auctions a
           WHERE NOT EXISTS (SELECT 1 FROM bids b WHERE b.auction = a.id);
         CREATE MATERIALIZED VIEW known AS SELECT id FROM bids
           WHERE auction IN (SELECT id FROM auctions);
         CREATE MATERIALIZED VIEW unknown AS SELECT id FROM bids
           WHERE auction NOT IN (SELECT id FROM auctions);
         -- Only bids' columns, auctions unique on id: DataFusion plans a right semi join.
         CREATE MATERIALIZED VIEW prices AS SELECT b.price FROM auctions a JOIN bids b
           ON b.auction = a.id;
         INSERT INTO auctions VALUES (12, 'edsger');
         INSERT INTO bids VALUES (4, 11, 300), (5, 99, 10);
         FLUSH;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM big").await,
        vec![vec!["ada"], vec!["grace"]]
    );
    assert_eq!(rows(&c, "SELECT * FROM idle").await, vec![vec!["12"]]);
    assert_eq!(
        rows(&c, "SELECT * FROM known").await,
        vec![vec!["1"], vec!["2"], vec!["3"], vec!["4"]]
    );
    assert_eq!(rows(&c, "SELECT * FROM unknown").await, vec![vec!["5"]]);
    assert_eq!(
        rows(&c, "SELECT * FROM prices").await,
        vec![vec!["100"], vec!["250"], vec!["300"], vec!["40"]]
    );
    // The last big bid of an auction leaves; its auction leaves `big`. Deleting an
    // auction takes its bids out of `known`; a bid for auction 12 takes it out of `idle`.
    c.batch_execute(
        "DELETE FROM bids WHERE id = 2;
         DELETE FROM auctions WHERE id = 11;
         INSERT INTO bids VALUES (6, 12, 1);
         FLUSH;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM big").await,
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        rows(&c, "SELECT * FROM idle").await,
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        rows(&c, "SELECT * FROM known").await,
        vec![vec!["1"], vec!["6"]]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM unknown").await,
        vec![vec!["3"], vec!["4"], vec!["5"]]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM prices").await,
        vec![vec!["1"], vec!["100"]]
    );
    let err = c
        .batch_execute(
            "CREATE MATERIALIZED VIEW x AS SELECT id FROM bids b \
             WHERE auction NOT IN (SELECT id FROM auctions a WHERE a.seller = b.id::text)",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "0A000");
    assert!(format!("{err:?}").contains("NOT EXISTS"), "{err:?}");
}

/// A temporal join (`FOR SYSTEM_TIME AS OF PROCTIME()`) joins each appended row with
/// the table as it was when the row came, and never changes a joined row: after
/// random rounds of table inserts, updates and deletes, each followed by new rows on
/// the stream side, the views equal what PostgreSQL joined at each round (the new rows
/// with its table as it was then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_joins_join_each_row_with_the_table_as_it_was() {
    let both = common::Both::start("").await;
    let (ours, theirs) = (&both.ours, &both.theirs);
    ours.batch_execute(
        "CREATE TABLE dim (k INT PRIMARY KEY, name TEXT, rate INT);
         CREATE TABLE orders (id INT, k INT, qty INT) APPEND ONLY;
         CREATE MATERIALIZED VIEW costed AS
           SELECT o.id, o.k, o.qty, d.name, d.rate * o.qty AS cost
           FROM orders o JOIN dim FOR SYSTEM_TIME AS OF PROCTIME() d
             ON o.k = d.k AND d.rate > 1;
         CREATE MATERIALIZED VIEW named AS
           SELECT o.id, d.name FROM orders o
           LEFT JOIN dim FOR SYSTEM_TIME AS OF PROCTIME() AS d ON o.k = d.k;
         CREATE MATERIALIZED VIEW per_name AS
           SELECT name, count(*) AS n FROM named GROUP BY name;",
    )
    .await
    .unwrap();
    theirs
        .batch_execute(
            "CREATE TABLE dim (k INT PRIMARY KEY, name TEXT, rate INT);
             CREATE TABLE orders (id INT, k INT, qty INT);
             CREATE TABLE costed (id INT, k INT, qty INT, name TEXT, cost INT);
             CREATE TABLE named (id INT, name TEXT);",
        )
        .await
        .unwrap();
    let mut rng = Rng(0x7e4d_9a11);
    let (mut next_id, mut present) = (0, [false; 8]);
    for round in 0..60 {
        let k = rng.below(8) as usize;
        let (name, rate) = (rng.below(5), rng.below(4));
        let change = match (present[k], rng.below(3)) {
            (false, _) => format!("INSERT INTO dim VALUES ({k}, 'n{name}', {rate})"),
            (true, 0) => format!("DELETE FROM dim WHERE k = {k}"),
            (true, _) => format!("UPDATE dim SET name = 'n{name}', rate = {rate} WHERE k = {k}"),
        };
        present[k] = !change.starts_with("DELETE");
        for side in [ours, theirs] {
            side.batch_execute(&change).await.unwrap();
        }
        let values: Vec<String> = (0..1 + rng.below(4))
            .map(|_| {
                next_id += 1;
                let k = if rng.below(6) == 0 {
                    "CAST(NULL AS INT)".to_string()
                } else {
                    rng.below(9).to_string()
                };
                format!("({next_id}, {k}, {})", 1 + rng.below(5))
            })
            .collect();
        let insert = format!("INSERT INTO orders VALUES {}", values.join(", "));
        ours.batch_execute(&insert).await.unwrap();
        theirs
            .batch_execute(&format!(
                "CREATE TEMP TABLE new_orders AS SELECT * FROM (VALUES {}) AS v(id, k, qty);
                 INSERT INTO orders SELECT * FROM new_orders;
                 INSERT INTO costed SELECT o.id, o.k, o.qty, d.name, d.rate * o.qty
                   FROM new_orders o JOIN dim d ON o.k = d.k AND d.rate > 1;
                 INSERT INTO named SELECT o.id, d.name FROM new_orders o
                   LEFT JOIN dim d ON o.k = d.k;
                 DROP TABLE new_orders;",
                values.join(", ")
            ))
            .await
            .unwrap();
        if round % 20 == 19 {
            ours.batch_execute("FLUSH").await.unwrap();
            for (view, oracle) in [
                ("costed", "SELECT * FROM costed"),
                ("named", "SELECT * FROM named"),
                (
                    "per_name",
                    "SELECT name, count(*) AS n FROM named GROUP BY name",
                ),
            ] {
                let expected = rows(theirs, oracle).await;
                assert!(!expected.is_empty(), "{view} has rows to compare");
                assert_eq!(
                    rows(ours, &format!("SELECT * FROM {view}")).await,
                    expected,
                    "{view} after round {round}"
                );
            }
        }
    }
    // Only the stream side may append: the table that updates cannot be it.
    let error = ours
        .batch_execute(
            "CREATE MATERIALIZED VIEW wrong AS SELECT d.k FROM dim d
             JOIN orders FOR SYSTEM_TIME AS OF PROCTIME() o ON o.k = d.k",
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error), "0A000", "{error:?}");
}
