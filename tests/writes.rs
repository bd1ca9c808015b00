//! `INSERT/UPDATE/DELETE … RETURNING` and `INSERT … ON CONFLICT` against PostgreSQL
//! 15: seeded streams of writes with RETURNING lists and upserts run on both, each
//! answer (rows, column names and types, command tags as psql prints them, errors)
//! and the table after it equal.

mod common;

use common::postgres::Postgres;
use common::{Rng, TestServer, sorted_rows, sqlstate};
use tokio_postgres::{Client, SimpleQueryMessage};

const SCHEMA: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
                      qty INT DEFAULT 1, price NUMERIC(10,2), added TIMESTAMP)";

/// The rows a statement returns (sorted: an UPDATE's order is its scan's) and its
/// row count, or its SQLSTATE.
async fn answer(client: &Client, sql: &str) -> Result<(Vec<Vec<String>>, u64), String> {
    let messages = client.simple_query(sql).await.map_err(|e| sqlstate(&e))?;
    let mut rows: Vec<Vec<String>> = common::text_rows(&messages)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    rows.sort();
    let count = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .unwrap_or_default();
    Ok((rows, count))
}

fn random_write(rng: &mut Rng, next_id: &mut i64) -> String {
    let k = rng.below(5);
    match rng.below(9) {
        0 | 1 => {
            let values: Vec<String> = (0..1 + rng.below(4))
                .map(|_| {
                    *next_id += 1;
                    let price = match rng.below(3) {
                        0 => "NULL".to_string(),
                        _ => format!("{}.{:02}", rng.below(500), rng.below(100)),
                    };
                    format!("({next_id}, 'n{}', {price})", rng.below(7))
                })
                .collect();
            format!(
                "INSERT INTO items (id, name, price) VALUES {} RETURNING *",
                values.join(", ")
            )
        }
        2 => {
            *next_id += 1;
            format!(
                "INSERT INTO items AS i (id, name, qty, added) VALUES ({next_id}, 'x', {k}, \
                 '2024-01-0{} 12:30') RETURNING i.id, qty * 2 AS twice, upper(i.name), added, \
                 qty > 2, price IS NULL",
                k + 1
            )
        }
        3 => format!(
            "UPDATE items SET qty = qty + 1 WHERE id % 3 = {} RETURNING id, qty, price",
            k % 3
        ),
        4 => format!(
            "UPDATE items AS x SET price = coalesce(price, 0) + 1.5 WHERE x.qty > {k} \
             RETURNING x.*, 'k' || x.id AS label"
        ),
        5 => format!(
            "DELETE FROM items WHERE id % 5 = {k} AND id < {} RETURNING id, name",
            *next_id - 3
        ),
        6 => format!(
            "DELETE FROM items AS d WHERE d.qty = {k} RETURNING *, \
             (SELECT count(*) FROM items) AS counted_before"
        ),
        // An alias without RETURNING, read in a correlated subquery over the same table.
        7 => format!(
            "DELETE FROM items AS d WHERE d.id % 4 = {} AND EXISTS \
             (SELECT 1 FROM items WHERE items.qty > d.qty)",
            k % 4
        ),
        _ => format!(
            "UPDATE items SET name = name || '!' WHERE id = {} RETURNING name, length(name)",
            1 + rng.below(*next_id as u64 + 1)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_return_what_postgres_returns() {
    let sluice = TestServer::start().await;
    let postgres = Postgres::start();
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    ours.batch_execute(SCHEMA).await.unwrap();
    theirs.batch_execute(SCHEMA).await.unwrap();
    let mut rng = Rng(0x5eed_0e70);
    let mut next_id = 0;
    let mut returned = 0;
    for step in 0..120 {
        let sql = random_write(&mut rng, &mut next_id);
        let expected = answer(&theirs, &sql).await;
        assert_eq!(answer(&ours, &sql).await, expected, "step {step}: {sql}");
        returned += expected.map_or(0, |(rows, _)| rows.len());
        let table = "SELECT * FROM items";
        assert_eq!(
            sorted_rows(&ours, table).await,
            sorted_rows(&theirs, table).await,
            "after step {step}: {sql}"
        );
    }
    assert!(returned > 100, "the stream returned only {returned} rows");

    // Errors leave the table as it was: in a RETURNING list, and in the write.
    let taken: i64 = theirs
        .query_one("SELECT min(id) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    for sql in [
        "INSERT INTO items (id, name) VALUES (1000, 'a') RETURNING 1 / (qty - 1)".to_string(),
        "INSERT INTO items (id, name) VALUES (1001, 'a') RETURNING nope".to_string(),
        format!("INSERT INTO items (id, name) VALUES ({taken}, 'again') RETURNING id"),
        "INSERT INTO items (id, name) VALUES (1002, NULL) RETURNING id".to_string(),
        "UPDATE items SET qty = 0 RETURNING 10 / qty".to_string(),
    ] {
        let expected = answer(&theirs, &sql).await;
        assert!(expected.is_err(), "{sql} fails in PostgreSQL");
        assert_eq!(answer(&ours, &sql).await, expected, "{sql}");
    }
    let table = "SELECT * FROM items";
    assert_eq!(
        sorted_rows(&ours, table).await,
        sorted_rows(&theirs, table).await
    );

    // The extended protocol: parameters in the write and in the list, and the
    // columns described before execution.
    let sql = "INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) \
               RETURNING id, name || $2 AS twice, qty + $3 AS more, price";
    for client in [&ours, &theirs] {
        let statement = client.prepare(sql).await.unwrap();
        let columns: Vec<(String, String)> = statement
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().name().to_string()))
            .collect();
        assert_eq!(
            columns,
            [
                ("id", "int8"),
                ("twice", "text"),
                ("more", "int4"),
                ("price", "numeric")
            ]
            .map(|(n, t)| (n.to_string(), t.to_string())),
            "{sql}"
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&5000i64, &"p", &7i32];
        let rows = client.query(&statement, &params).await.unwrap();
        assert_eq!(rows.len(), 1);
        let (id, twice, more): (i64, String, i32) =
            (rows[0].get(0), rows[0].get(1), rows[0].get(2));
        assert_eq!((id, twice.as_str(), more), (5000, "pp", 14));
    }

    // psql prints the rows and the write's own tag, as PostgreSQL.
    let script = "UPDATE items SET qty = 3 WHERE id = 5000 RETURNING id, qty; \
                  DELETE FROM items WHERE id = 5000 RETURNING name; \
                  INSERT INTO items (id, name) VALUES (5001, 'z'), (5002, 'y') RETURNING id;";
    let (ok, ours_out, stderr) = common::psql(sluice.addr, &["-X", "-c", script]);
    assert!(ok, "{stderr}");
    let theirs_out = std::process::Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
        .args(["-p", &postgres.port.to_string(), "-c", script])
        .output()
        .unwrap();
    assert_eq!(ours_out, String::from_utf8_lossy(&theirs_out.stdout));
    assert!(ours_out.contains("INSERT 0 2"), "{ours_out}");

    // Sluice returns the rows of one table's write: a RETURNING that would read
    // another table's rows is refused, never answered wrongly.
    ours.batch_execute("CREATE TABLE other (id BIGINT, v INT)")
        .await
        .unwrap();
    for sql in [
        "UPDATE items SET qty = other.v FROM other WHERE other.id = items.id RETURNING items.id",
        "DELETE FROM items USING other WHERE other.id = items.id RETURNING items.id",
    ] {
        let err = ours.simple_query(sql).await.unwrap_err();
        assert_eq!(sqlstate(&err), "0A000", "{sql}: {err:?}");
    }
}

fn random_upsert(rng: &mut Rng) -> String {
    let returning = match rng.below(3) {
        0 => "",
        1 => " RETURNING *",
        _ => " RETURNING id, qty, i.price * 2 AS doubled",
    };
    let (action, conditional) = match rng.below(6) {
        0 => (" ON CONFLICT DO NOTHING".to_string(), false),
        1 => (" ON CONFLICT (id) DO NOTHING".to_string(), false),
        2 => (
            " ON CONFLICT ON CONSTRAINT items_pkey DO NOTHING".to_string(),
            false,
        ),
        3 => (
            " ON CONFLICT (id) DO UPDATE SET qty = i.qty + excluded.qty, name = excluded.name"
                .to_string(),
            false,
        ),
        4 => (
            format!(
                " ON CONFLICT (id) DO UPDATE SET price = excluded.price, qty = i.qty * 2 \
                 WHERE i.qty < {}",
                rng.below(6)
            ),
            true,
        ),
        _ => (
            " ON CONFLICT (id) DO UPDATE SET name = i.name || '+' WHERE excluded.qty > i.qty"
                .to_string(),
            true,
        ),
    };
    // Keys from a small range, so that most rows conflict; within one statement a
    // key may repeat (DO NOTHING skips the later row; DO UPDATE fails with 21000),
    // but not under a WHERE (refused with 0A000, tested apart).
    let mut ids = Vec::new();
    let values: Vec<String> = (0..1 + rng.below(4))
        .map(|_| {
            let mut id = 1 + rng.below(30);
            while conditional && ids.contains(&id) {
                id = 1 + rng.below(30);
            }
            ids.push(id);
            format!(
                "({id}, 'u{}', {}, {}.25)",
                rng.below(5),
                rng.below(6),
                rng.below(90)
            )
        })
        .collect();
    let insert = format!(
        "INSERT INTO items AS i (id, name, qty, price) VALUES {}",
        values.join(", ")
    );
    format!("{insert}{action}{returning}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_answer_as_postgres() {
    let sluice = TestServer::start().await;
    let postgres = Postgres::start();
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    ours.batch_execute(SCHEMA).await.unwrap();
    theirs.batch_execute(SCHEMA).await.unwrap();
    let mut rng = Rng(0x5eed_0c0f);
    let (mut updated, mut failed) = (0, 0);
    for step in 0..150 {
        let sql = if rng.below(6) == 0 {
            format!(
                "DELETE FROM items WHERE id % 7 = {} RETURNING id",
                rng.below(7)
            )
        } else {
            random_upsert(&mut rng)
        };
        let expected = answer(&theirs, &sql).await;
        assert_eq!(answer(&ours, &sql).await, expected, "step {step}: {sql}");
        match &expected {
            Ok(_) if sql.contains("DO UPDATE") => updated += 1,
            Err(_) => failed += 1,
            Ok(_) => {}
        }
        let table = "SELECT * FROM items";
        assert_eq!(
            sorted_rows(&ours, table).await,
            sorted_rows(&theirs, table).await,
            "after step {step}: {sql}"
        );
    }
    assert!(
        updated > 20 && failed > 0,
        "{updated} updates, {failed} failures"
    );

    // Targets that are not the primary key, and assignments PostgreSQL refuses.
    for sql in [
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT (name) DO NOTHING",
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT ON CONSTRAINT nope DO NOTHING",
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT DO UPDATE SET qty = 1",
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET nope = 1",
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET qty = 'x'",
        // A bare name could be the stored row's or the proposed one's.
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET qty = qty",
        "INSERT INTO items (id, name) VALUES (1, 'a') ON CONFLICT (id) \
         DO UPDATE SET qty = 2147483647 + excluded.id",
    ] {
        let expected = answer(&theirs, sql).await;
        assert!(expected.is_err(), "{sql} fails in PostgreSQL");
        assert_eq!(answer(&ours, sql).await, expected, "{sql}");
    }
    // A stored key proposed twice under a WHERE: whether the first row updated it
    // depends on the rows' order, which Sluice does not follow: refused.
    let taken: i64 = theirs
        .query_one("SELECT min(id) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    let sql = format!(
        "INSERT INTO items AS i (id, name) VALUES ({taken}, 'a'), ({taken}, 'b') \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE i.qty > 0"
    );
    assert_eq!(answer(&ours, &sql).await, Err("0A000".to_string()), "{sql}");
    // A table without a primary key has nothing to conflict with.
    let plain = "CREATE TABLE plain (a INT, b TEXT)";
    ours.batch_execute(plain).await.unwrap();
    theirs.batch_execute(plain).await.unwrap();
    for sql in [
        "INSERT INTO plain VALUES (1, 'x'), (1, 'x') ON CONFLICT DO NOTHING RETURNING a",
        "INSERT INTO plain VALUES (1, 'x') ON CONFLICT (a) DO NOTHING",
    ] {
        assert_eq!(
            answer(&ours, sql).await,
            answer(&theirs, sql).await,
            "{sql}"
        );
    }
}
