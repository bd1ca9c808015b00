//! The real `psql` client: queries, DML, errors, and catalog commands (\dt, \d).

mod common;

use common::{TestServer, psql};

async fn run_psql(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let addr = server.addr;
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        psql(addr, &refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_queries_and_dml() {
    let server = TestServer::start().await;
    let (ok, out, err) = run_psql(&server, &["-At", "-c", "SELECT 1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");

    let script = "CREATE TABLE fruit (id INT PRIMARY KEY, name TEXT, price NUMERIC(6,2));
INSERT INTO fruit VALUES (1, 'apple', 1.25), (2, 'kiwi', 0.5);
UPDATE fruit SET price = price * 2 WHERE name = 'kiwi';
DELETE FROM fruit WHERE id = 1;
SELECT id, name, price FROM fruit;";
    let (ok, out, err) = run_psql(&server, &["-At", "-c", script]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "CREATE TABLE",
            "INSERT 0 2",
            "UPDATE 1",
            "DELETE 1",
            "2|kiwi|1.00"
        ]
    );

    let (ok, out, err) = run_psql(&server, &["-c", "INSERT INTO fruit VALUES (5, 'fig', 3)"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "INSERT 0 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_reports_errors_with_their_sqlstate() {
    let server = TestServer::start().await;
    let (ok, _, err) = run_psql(
        &server,
        &["-v", "VERBOSITY=verbose", "-c", "SELECT * FROM nowhere"],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("42P01"), "{err}");
    // The server still answers.
    let (ok, out, _) = run_psql(&server, &["-At", "-c", "SELECT 2"]).await;
    assert!(ok);
    assert_eq!(out.trim(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_tables() {
    let server = TestServer::start().await;
    let (ok, _, err) = run_psql(
        &server,
        &[
            "-c",
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DOUBLE PRECISION, note TEXT)",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\dt"]).await;
    assert!(ok, "\\dt failed: {err}");
    assert!(out.contains("orders"), "{out}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\d orders"]).await;
    assert!(ok, "\\d orders failed: {err}");
    for expected in ["id", "bigint", "amount", "double precision", "note", "text"] {
        assert!(out.contains(expected), "missing {expected} in:\n{out}");
    }
    let (ok, out, err) = run_psql(&server, &["-c", "\\d"]).await;
    assert!(ok, "\\d failed: {err}");
    assert!(out.contains("orders"), "{out}");
    // A source is a foreign table to clients: \d asks for its columns' options.
    let (ok, _, err) = run_psql(
        &server,
        &[
            "-c",
            "CREATE SOURCE bids (auction BIGINT, date_time TIMESTAMP, p_time TIMESTAMPTZ AS PROCTIME()) \
             WITH (connector = 'nexmark', nexmark.table.type = 'bid')",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run_psql(&server, &["-c", "\\d bids"]).await;
    assert!(ok, "\\d bids failed: {err}");
    for expected in [
        "Foreign table \"public.bids\"",
        "auction",
        "bigint",
        "date_time",
        "timestamp without time zone",
        "p_time",
        "timestamp with time zone",
    ] {
        assert!(out.contains(expected), "missing {expected} in:\n{out}");
    }
}

/// The schema both servers hold for the comparison below: a table with a primary key,
/// a NOT NULL column and a DEFAULT, a materialized view, a read-only role with a
/// grant. The view's query is written as PostgreSQL prints it back (qualified
/// columns), as Sluice prints the query as written.
const COMPARED_SCHEMA: &str = "
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(10,2),
    placed TIMESTAMP, note TEXT DEFAULT 'none');
CREATE MATERIALIZED VIEW spend AS
    SELECT orders.customer, count(*) AS n FROM orders GROUP BY orders.customer;
CREATE USER bi;
GRANT SELECT ON orders TO bi;
";

/// psql's catalog commands print the same on Sluice as on PostgreSQL 15 holding the
/// same schema (issue 15). PostgreSQL prints a view's query on indented lines, Sluice
/// as written: the `View definition` lines are compared with white space collapsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_catalog_commands_print_as_with_postgres() {
    let sluice = TestServer::start().await;
    sluice
        .client()
        .await
        .batch_execute(COMPARED_SCHEMA)
        .await
        .unwrap();
    let postgres = common::postgres::Postgres::start();
    postgres
        .client()
        .await
        .batch_execute(COMPARED_SCHEMA)
        .await
        .unwrap();
    let port = postgres.port;
    for command in [
        "\\d",
        "\\dt",
        "\\dm",
        "\\di",
        "\\du",
        "\\dp",
        "\\d orders",
        "\\d+ orders",
        "\\d spend",
        "\\d+ spend",
        "\\df",
        "\\df+",
        "\\dT",
        "\\dD",
        "\\do",
        "\\dc",
        "\\db",
    ] {
        let (ok, ours, err) = run_psql(&sluice, &["-c", command]).await;
        assert!(ok, "{command} on Sluice: {err}");
        let (ok, theirs, err) = postgres_psql(port, &["-c", command]).await;
        assert!(ok, "{command} on PostgreSQL: {err}");
        assert_eq!(
            with_view_definition_collapsed(&ours),
            with_view_definition_collapsed(&theirs),
            "{command}: Sluice printed\n{ours}\nPostgreSQL printed\n{theirs}"
        );
    }
    // `\df+` prints a SQL function's body as PostgreSQL parsed it, which Sluice does
    // not keep: refused, not printed otherwise.
    let (ok, _, err) = run_psql(
        &sluice,
        &[
            "-c",
            "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN x + 1",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, _) = run_psql(&sluice, &["-c", "\\df"]).await;
    assert!(ok && out.contains("add_one"), "{out}");
    let (ok, _, err) = run_psql(&sluice, &["-v", "VERBOSITY=verbose", "-c", "\\df+"]).await;
    assert!(!ok && err.contains("0A000"), "{err}");
}

/// Runs `psql` with `args` against the PostgreSQL listening on `port`.
async fn postgres_psql(port: u16, args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("psql")
            .args(["-X", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
            .args(&args)
            .output()
            .expect("psql runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// psql's commands that print sizes (`\dt+`, `\l+`, ...) and `\l`, `\dn+` print on
/// Sluice as on PostgreSQL 15 holding the same schema, but for what cannot match:
///
/// - `Size`: Sluice's files are not PostgreSQL's (a table is its write-ahead log and
///   snapshot, a primary key index has no file), so the column is masked here and
///   Sluice's sizes are checked against its data directory below;
/// - `\l+`'s `Description`: PostgreSQL's `postgres` database has a comment, Sluice
///   has no `COMMENT ON`;
/// - `\dn+`: PostgreSQL's `public` belongs to `pg_database_owner`, a role Sluice does
///   not have; Sluice's belongs to `postgres`, with the same privileges.
///
/// Outputs are compared unaligned (`-A`), so that a masked value does not change the
/// other columns' widths. `\l` lists only `postgres` on both: PostgreSQL also has
/// `template0` and `template1`, Sluice also `sluice` (its one database's own name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_size_commands_print_as_with_postgres() {
    let sluice = TestServer::start().await;
    let client = sluice.client().await;
    client.batch_execute(COMPARED_SCHEMA).await.unwrap();
    let postgres = common::postgres::Postgres::start();
    postgres
        .client()
        .await
        .batch_execute(COMPARED_SCHEMA)
        .await
        .unwrap();
    for (command, masked) in [
        ("\\dt+", &["Size"][..]),
        ("\\dm+", &["Size"]),
        ("\\di+", &["Size"]),
        ("\\d+", &["Size"]),
        ("\\l postgres", &[]),
        ("\\l+ postgres", &["Size", "Description"]),
        ("\\dn+ public", &[]),
    ] {
        let (ok, ours, err) = run_psql(&sluice, &["-A", "-c", command]).await;
        assert!(ok, "{command} on Sluice: {err}");
        let (ok, theirs, err) = postgres_psql(postgres.port, &["-A", "-c", command]).await;
        assert!(ok, "{command} on PostgreSQL: {err}");
        let theirs = theirs.replace("pg_database_owner", "postgres");
        assert_eq!(
            with_columns_masked(&ours, masked),
            with_columns_masked(&theirs, masked),
            "{command}: Sluice printed\n{ours}\nPostgreSQL printed\n{theirs}"
        );
    }

    // Sluice's sizes are the bytes of its files: a table's directory, growing with
    // its write-ahead log.
    let id: i64 = client
        .query_one(
            "SELECT id FROM sluice_catalog.relations WHERE name = 'orders'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let table_dir = sluice.dir.path().join("tables").join(id.to_string());
    let size = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let before = size("SELECT pg_table_size('orders')").await;
    assert_eq!(before as u64, bytes_under(&table_dir));
    client
        .batch_execute(
            "INSERT INTO orders VALUES (1, 'ann', 9.50, NULL, 'x'), (2, 'bob', 20, NULL, 'y')",
        )
        .await
        .unwrap();
    let after = size("SELECT pg_relation_size('public.orders')").await;
    assert!(after > before, "{after} after inserts, {before} before");
    assert_eq!(after as u64, bytes_under(&table_dir));
    assert_eq!(size("SELECT pg_total_relation_size('orders')").await, after);
    assert_eq!(size("SELECT pg_indexes_size('orders')").await, 0);
    assert_eq!(size("SELECT pg_relation_size('orders_pkey')").await, 0);
    let (ok, out, err) = run_psql(&sluice, &["-A", "-t", "-c", "\\dt+ orders"]).await;
    assert!(ok, "{err}");
    let pretty = client
        .query_one(&format!("SELECT pg_size_pretty({after}::bigint)"), &[])
        .await
        .unwrap()
        .get::<_, String>(0);
    assert!(out.contains(&format!("|{pretty}|")), "{out}");
    // A view's size is its checkpointed state, written within the checkpoint interval.
    let mut view = 0;
    for _ in 0..100 {
        view = size("SELECT pg_relation_size('spend')").await;
        if view > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(view > 0, "the view's checkpointed state has no bytes");
    // The database is the whole data directory (checkpoints write beside the query:
    // compared once the directory holds still).
    let mut sizes = Vec::new();
    for _ in 0..50 {
        let on_disk = bytes_under(sluice.dir.path());
        let database = size("SELECT pg_database_size('sluice')").await as u64;
        if on_disk == database && bytes_under(sluice.dir.path()) == on_disk {
            sizes.clear();
            break;
        }
        sizes.push((on_disk, database));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        sizes.is_empty(),
        "pg_database_size never matched the files: {sizes:?}"
    );
    assert_eq!(
        size("SELECT pg_database_size('postgres')").await,
        size("SELECT pg_database_size('sluice')").await
    );
    for (sql, sqlstate) in [
        ("SELECT pg_relation_size('missing')", "42P01"),
        ("SELECT pg_database_size('template1')", "3D000"),
        ("SELECT pg_relation_size('orders', 'heap')", "22023"),
    ] {
        let err = client.query_one(sql, &[]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some(sqlstate), "{sql}: {err}");
    }
}

/// The bytes of the files under `path`.
fn bytes_under(path: &std::path::Path) -> u64 {
    let Ok(metadata) = std::fs::metadata(path) else {
        return 0;
    };
    if metadata.is_file() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| bytes_under(&e.path())).sum())
        .unwrap_or(0)
}

/// psql's unaligned output (`-A`) with the values of the columns named `masked`
/// replaced by `<masked>`: the header is the first line with a `|`, and each line
/// with as many fields is a row.
fn with_columns_masked(output: &str, masked: &[&str]) -> String {
    let mut columns: Option<Vec<usize>> = None;
    let mut width = 0;
    let mut lines = Vec::new();
    for line in output.lines() {
        let mut fields: Vec<&str> = line.split('|').collect();
        match &columns {
            None if fields.len() > 1 => {
                width = fields.len();
                columns = Some(
                    masked
                        .iter()
                        .map(|name| fields.iter().position(|f| f == name).expect("a column"))
                        .collect(),
                );
            }
            Some(columns) if fields.len() == width => {
                for &c in columns {
                    fields[c] = "<masked>";
                }
            }
            _ => {}
        }
        lines.push(fields.join("|"));
    }
    lines.join("\n")
}

/// psql's output with the lines after `View definition:` (up to the next line that
/// is not indented) joined, each run of white space one space.
fn with_view_definition_collapsed(output: &str) -> String {
    let mut lines = Vec::new();
    let mut definition: Option<Vec<&str>> = None;
    for line in output.lines() {
        if let Some(parts) = definition.as_mut() {
            if line.starts_with(' ') {
                parts.extend(line.split_whitespace());
                continue;
            }
            lines.push(parts.join(" "));
            definition = None;
        }
        lines.push(line.to_string());
        if line == "View definition:" {
            definition = Some(Vec::new());
        }
    }
    if let Some(parts) = definition {
        lines.push(parts.join(" "));
    }
    lines.join("\n")
}

/// `PREPARE`, `EXECUTE` and `DEALLOCATE` answer from psql as on PostgreSQL 15: queries,
/// `VALUES`, `INSERT`, `UPDATE` and `DELETE` with declared and inferred parameter
/// types, values read as the parameter's type (`'2'` as an integer, text as a
/// timestamp), and the errors' SQLSTATEs (a missing statement, a name prepared twice,
/// the wrong number of values, a statement that cannot be prepared). Every statement
/// is its own `-c`, in one session, and psql goes on after an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_answer_as_with_postgres() {
    let script = [
        "CREATE TABLE pt (id INT PRIMARY KEY, name TEXT, at TIMESTAMP, amount NUMERIC(10,2))",
        "INSERT INTO pt VALUES (1, 'a', '2024-01-01 10:00', 1.50), (2, 'b', '2024-01-02', 2.25)",
        "PREPARE by_id(int) AS SELECT id, name FROM pt WHERE id = $1",
        "EXECUTE by_id(1)",
        "EXECUTE by_id('2')",
        "PREPARE since AS SELECT name, amount * 2 FROM pt WHERE at >= $1 ORDER BY id",
        "EXECUTE since('2024-01-01 12:00')",
        "PREPARE ins(int, text, timestamp, numeric) AS INSERT INTO pt VALUES ($1, $2, $3, $4)",
        "EXECUTE ins(3, 'c', '2024-01-03 00:00', 3.333)",
        "EXECUTE ins(4, NULL, NULL, 1 + 1)",
        "SELECT * FROM pt ORDER BY id",
        "PREPARE plus(int) AS SELECT $1 + 1",
        "EXECUTE plus(41)",
        "PREPARE echo AS SELECT $1",
        "EXECUTE echo('x')",
        "PREPARE by_id AS SELECT 1",
        "EXECUTE nope",
        "EXECUTE by_id",
        "EXECUTE by_id(1, 2)",
        "DEALLOCATE by_id",
        "EXECUTE by_id(1)",
        "DEALLOCATE by_id",
        "PREPARE rename(int) AS UPDATE pt SET name = 'z' WHERE id = $1",
        "EXECUTE rename(2)",
        "PREPARE trim_rows AS DELETE FROM pt WHERE id > 2",
        "EXECUTE trim_rows",
        "SELECT * FROM pt ORDER BY id",
        "PREPARE ddl AS CREATE TABLE x (a int)",
        "DEALLOCATE PREPARE ALL",
        "EXECUTE trim_rows",
        "PREPARE \"Mixed\" AS VALUES (1, 'x')",
        "EXECUTE \"Mixed\"",
        "EXECUTE mixed",
        "DISCARD ALL",
        "EXECUTE \"Mixed\"",
        // EXECUTE plans the statement again: it reads the relations as they are now.
        "PREPARE counted AS SELECT count(*) FROM pt",
        "DROP TABLE pt",
        "EXECUTE counted",
        "CREATE TABLE pt (id INT PRIMARY KEY, note TEXT)",
        "INSERT INTO pt VALUES (7, 'new')",
        "EXECUTE counted",
    ];
    let mut args = vec!["-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose"];
    for statement in script {
        args.extend(["-c", statement]);
    }
    let sluice = TestServer::start().await;
    let (_, ours, our_errors) = run_psql(&sluice, &args).await;
    let postgres = common::postgres::Postgres::start();
    let (_, theirs, their_errors) = postgres_psql(postgres.port, &args).await;
    assert_eq!(
        ours, theirs,
        "Sluice printed\n{ours}\nPostgreSQL printed\n{theirs}"
    );
    let codes = |errors: &str| -> Vec<String> {
        errors
            .lines()
            .filter_map(|line| line.strip_prefix("ERROR:  "))
            .map(|rest| rest.chars().take(5).collect())
            .collect()
    };
    assert_eq!(
        codes(&our_errors),
        codes(&their_errors),
        "Sluice:\n{our_errors}\nPostgreSQL:\n{their_errors}"
    );
    assert_eq!(codes(&our_errors).len(), 11, "{our_errors}");

    // Through the extended protocol too, where EXECUTE's columns are described first.
    let client = sluice.client().await;
    client
        .batch_execute("PREPARE names_of(int) AS SELECT note FROM pt WHERE id <= $1 ORDER BY id")
        .await
        .unwrap();
    let rows = client.query("EXECUTE names_of(7)", &[]).await.unwrap();
    let names: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(names, ["new"]);
}
