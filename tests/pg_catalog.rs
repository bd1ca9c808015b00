//! `pg_catalog` for Sluice's objects, compared with PostgreSQL 15 on the same schema
//! (issue 15): psql's `\d`, `\dt`, `\dm`, `\di` and `\d table` (defaults included),
//! and the catalog rows drivers read — `pg_class` kinds, `pg_attribute` types with their typmods,
//! primary keys in `pg_constraint` and `pg_index`, defaults in `pg_attrdef`,
//! `pg_matviews`, `pg_tables`, `pg_get_indexdef`, `pg_get_constraintdef`,
//! `pg_table_is_visible` — `information_schema`, RowDescriptions, and OIDs that survive
//! a restart.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::postgres::Postgres;
use common::wire::{ColumnDescription, Wire, row_description};
use common::{TestServer, assert_same_rows, connect, psql, sorted_rows, sqlstate};

/// The same objects in both databases. Sluice's view columns have the types of
/// their values (a `varchar(n)` grouped in a view is `text` there), so the view
/// reads `text` columns.
const SCHEMA: &str = "
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, code VARCHAR(12),
    amount NUMERIC(10,2), total NUMERIC, scale5 NUMERIC(5), placed TIMESTAMPTZ,
    day DATE, ratio REAL, tags TEXT[], flags BOOLEAN, qty INT DEFAULT 1,
    note TEXT DEFAULT 'none', label VARCHAR(8) DEFAULT 'new', since DATE DEFAULT '2024-01-01');
CREATE TABLE lines (order_id BIGINT, line INT, sku TEXT, PRIMARY KEY (order_id, line));
CREATE TABLE plain (a SMALLINT, b DOUBLE PRECISION, c BYTEA, d INTERVAL, e TIMESTAMP);
CREATE MATERIALIZED VIEW spend AS SELECT customer, count(*) AS n FROM orders GROUP BY customer;
";

/// `psql` against PostgreSQL as `postgres` (no psqlrc).
fn postgres_psql(port: u16, args: &[&str]) -> String {
    let output = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "PostgreSQL: {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn sluice_psql(addr: SocketAddr, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        psql(addr, &refs)
    })
    .await
    .unwrap();
    assert!(ok, "Sluice: {err}");
    out
}

async fn both() -> (TestServer, Postgres) {
    let sluice = TestServer::start().await;
    sluice.client().await.batch_execute(SCHEMA).await.unwrap();
    let postgres = Postgres::start();
    postgres.client().await.batch_execute(SCHEMA).await.unwrap();
    (sluice, postgres)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describes_relations_as_postgres_does() {
    let (sluice, postgres) = both().await;
    for command in [
        "\\d",
        "\\dt",
        "\\dm",
        "\\di",
        "\\d orders",
        "\\d lines",
        "\\d plain",
        "\\d spend",
    ] {
        assert_eq!(
            sluice_psql(sluice.addr, &["-c", command]).await,
            postgres_psql(postgres.port, &["-c", command]),
            "{command}"
        );
    }
}

/// Catalog queries as drivers write them; each answers the same in both.
const QUERIES: &[&str] = &[
    "SELECT c.relname, c.relkind, c.relnatts, c.relhasindex, c.relam <> 0 AS stored,
            c.relpersistence, c.relispopulated
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public'",
    "SELECT c.relname, a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
            a.atttypmod, a.attnotnull, a.atthasdef, a.attlen, a.attbyval, a.attalign,
            a.attstorage, a.attndims, a.attisdropped, a.attcollation
     FROM pg_catalog.pg_attribute a
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND a.attnum > 0",
    "SELECT con.conname, con.contype, c.relname, con.conkey, con.condeferrable,
            con.convalidated, i.relname AS index
     FROM pg_catalog.pg_constraint con
     JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
     JOIN pg_catalog.pg_class i ON i.oid = con.conindid
     WHERE con.connamespace = 'public'::regnamespace",
    "SELECT i.relname, t.relname, x.indisprimary, x.indisunique, x.indnatts, x.indnkeyatts,
            x.indisvalid, pg_catalog.pg_get_indexdef(x.indexrelid),
            pg_catalog.pg_get_indexdef(x.indexrelid, 2, true)
     FROM pg_catalog.pg_index x
     JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
     WHERE t.relnamespace = 'public'::regnamespace",
    "SELECT con.conname, pg_catalog.pg_get_constraintdef(con.oid, true)
     FROM pg_catalog.pg_constraint con WHERE con.contype = 'p'
       AND con.connamespace = 'public'::regnamespace",
    "SELECT c.relname, a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
     FROM pg_catalog.pg_attrdef d
     JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
     JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum",
    "SELECT schemaname, matviewname, matviewowner, ispopulated FROM pg_catalog.pg_matviews",
    "SELECT schemaname, tablename, hasindexes FROM pg_catalog.pg_tables
     WHERE schemaname = 'public'",
    "SELECT count(*) FROM pg_catalog.pg_views WHERE schemaname = 'public'",
    "SELECT c.relname, pg_catalog.pg_table_is_visible(c.oid) FROM pg_catalog.pg_class c
     WHERE c.relname IN ('orders', 'spend', 'lines_pkey', 'pg_class', 'pg_type')",
    "SELECT nspname FROM pg_catalog.pg_namespace
     WHERE nspname IN ('public', 'pg_catalog', 'information_schema')",
    "SELECT pg_catalog.pg_get_userbyid(10), pg_catalog.pg_encoding_to_char(6)",
    "SELECT n, pg_catalog.pg_encoding_to_char(n) FROM generate_series(-1, 43) AS s(n)",
    "SELECT c.relname, 'orders'::regclass = c.oid, 'public.lines'::regclass = c.oid
     FROM pg_catalog.pg_class c WHERE c.relname IN ('orders', 'lines')",
];

/// `information_schema` as drivers and BI tools read it (Grafana, SQLAlchemy's
/// fallbacks, ODBC); as in PostgreSQL, the materialized view is not listed.
const INFORMATION_SCHEMA: &[&str] = &[
    "SELECT table_schema, table_name, table_type, is_insertable_into, is_typed
     FROM information_schema.tables WHERE table_schema = 'public'",
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable,
            data_type, character_maximum_length, character_octet_length,
            numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision,
            interval_type, collation_name, udt_schema, udt_name, dtd_identifier,
            is_self_referencing, is_identity, identity_cycle, is_generated, is_updatable
     FROM information_schema.columns WHERE table_schema = 'public'",
    "SELECT constraint_schema, constraint_name, table_name, constraint_type, is_deferrable,
            initially_deferred, enforced, nulls_distinct
     FROM information_schema.table_constraints
     WHERE table_schema = 'public' AND constraint_type <> 'CHECK'",
    "SELECT table_name, count(*) FROM information_schema.table_constraints
     WHERE table_schema = 'public' AND constraint_type = 'CHECK' GROUP BY table_name",
    "SELECT constraint_name, table_name, column_name, ordinal_position,
            position_in_unique_constraint
     FROM information_schema.key_column_usage WHERE table_schema = 'public'",
    "SELECT schema_name, schema_owner FROM information_schema.schemata
     WHERE schema_name IN ('public', 'pg_catalog', 'information_schema')",
    "SELECT count(*) FROM information_schema.views WHERE table_schema = 'public'",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn information_schema_equals_postgres() {
    let (sluice, postgres) = both().await;
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    assert_same_rows(&ours, &theirs, INFORMATION_SCHEMA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_rows_equal_postgres() {
    let (sluice, postgres) = both().await;
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    assert_same_rows(&ours, &theirs, QUERIES).await;
    // pg_index.indkey: the key's column numbers (an int2vector in PostgreSQL, whose
    // text form is "1 2"; an int2[] here).
    let keys = sorted_rows(
        &ours,
        "SELECT c.relname, x.indkey FROM pg_catalog.pg_index x
         JOIN pg_catalog.pg_class c ON c.oid = x.indrelid",
    )
    .await;
    assert_eq!(keys, [["lines", "{1,2}"], ["orders", "{1}"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_show_their_query_and_oids_survive_a_restart() {
    let sluice = TestServer::start().await;
    let client = sluice.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    let oids = "SELECT c.relname, c.oid FROM pg_catalog.pg_class c
                WHERE c.relnamespace = 'public'::regnamespace";
    let before = sorted_rows(&client, oids).await;
    let definitions = sorted_rows(
        &client,
        "SELECT pg_catalog.pg_get_viewdef(c.oid), pg_catalog.pg_get_viewdef('spend'),
                m.definition
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_matviews m ON m.matviewname = c.relname",
    )
    .await;
    let query = " SELECT customer, count(*) AS n FROM orders GROUP BY customer;";
    assert_eq!(definitions, [[query, query, query]]);
    drop(client);
    let dir = sluice.stop();
    let client = connect(common::restart(dir.path()).await).await;
    assert_eq!(sorted_rows(&client, oids).await, before);
    // A relation dropped and created again under its name is another object.
    client
        .batch_execute("DROP MATERIALIZED VIEW spend; CREATE TABLE spend (x INT)")
        .await
        .unwrap();
    let after = sorted_rows(&client, oids).await;
    let oid_of =
        |rows: &[Vec<String>], name: &str| rows.iter().find(|r| r[0] == name).map(|r| r[1].clone());
    assert_ne!(oid_of(&after, "spend"), oid_of(&before, "spend"));
    assert_eq!(oid_of(&after, "orders"), oid_of(&before, "orders"));
}

/// RowDescription: a column read straight from a table or view names the relation
/// (by OID) and its column number, with its type's length and modifier, as
/// PostgreSQL's does; an expression names none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_descriptions_name_tables_and_columns_as_postgres_does() {
    let (sluice, postgres) = both().await;
    let postgres_addr: SocketAddr = format!("127.0.0.1:{}", postgres.port).parse().unwrap();
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    for query in [
        "SELECT id, customer, code, amount, total, placed, tags, upper(customer) AS shout, 'x' AS lit \
         FROM orders",
        "SELECT o.amount, l.line, l.sku FROM orders o JOIN lines l ON l.order_id = o.id \
         WHERE l.line > 1 ORDER BY l.sku LIMIT 5",
        "SELECT n, customer FROM spend",
        "SELECT x.a FROM (SELECT a, b FROM plain) AS x",
        // A cast of a catalog column has the type cast to (`oid` and `name` columns
        // cast to text are text, not `oid` holding text).
        "SELECT c.oid::text, c.relname::text, c.relkind::text, c.oid::bigint AS big, \
         t.typreceive::text AS receive FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_type t ON t.oid = c.reltype WHERE c.relname = 'orders'",
    ] {
        let mine = describe(sluice.addr, "sluice", "sluice", query).await;
        let expected = describe(postgres_addr, "postgres", "postgres", query).await;
        // The OIDs differ between the servers: compare the relations' names.
        assert_eq!(
            with_relation_names(&ours, mine).await,
            with_relation_names(&theirs, expected).await,
            "{query}"
        );
    }
}

/// The RowDescription `query` gets from the server at `addr`.
async fn describe(
    addr: SocketAddr,
    user: &str,
    database: &str,
    query: &str,
) -> Vec<ColumnDescription> {
    let mut wire = Wire::connect_as(addr, user, database).await;
    let mut body = query.as_bytes().to_vec();
    body.push(0);
    wire.send(b'Q', &body).await;
    row_description(&wire.until_ready().await)
}

/// Each column with the name of its relation in place of the relation's OID.
async fn with_relation_names(
    client: &tokio_postgres::Client,
    columns: Vec<ColumnDescription>,
) -> Vec<(String, ColumnDescription)> {
    let mut out = Vec::new();
    for column in columns {
        let relation = if column.table_oid == 0 {
            String::new()
        } else {
            let sql = format!(
                "SELECT relname FROM pg_catalog.pg_class WHERE oid = {}",
                column.table_oid
            );
            sorted_rows(client, &sql).await.concat().concat()
        };
        out.push((
            relation,
            ColumnDescription {
                table_oid: 0,
                ..column
            },
        ));
    }
    out
}

/// `regnamespace` and `regtype` name the schemas and types of catalog rows as
/// PostgreSQL does (`relnamespace::regnamespace`, `atttypid::regtype`, `format_type`'s
/// names for every built-in type), in results, cast to text and with `||`, and the
/// columns are typed `regnamespace` and `regtype`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regnamespace_and_regtype_name_schemas_and_types_as_postgres_does() {
    let (sluice, postgres) = both().await;
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    assert_same_rows(
        &ours,
        &theirs,
        &[
            "SELECT c.relname, c.relnamespace::regnamespace, c.relnamespace::regnamespace::text,
                    'n:' || c.relnamespace::regnamespace, c.relnamespace::regnamespace = c.relnamespace
             FROM pg_catalog.pg_class c
             WHERE c.relname IN ('orders', 'lines_pkey', 'spend', 'pg_class', 'tables')",
            "SELECT n.nspname, n.oid::regnamespace::text = n.nspname FROM pg_catalog.pg_namespace n
             WHERE n.nspname IN ('pg_catalog', 'public', 'information_schema')",
            "SELECT c.relname, a.attname, a.atttypid::regtype, a.atttypid::regtype::text,
                    't:' || a.atttypid::regtype
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             WHERE c.relname IN ('orders', 'lines', 'plain') AND a.attnum > 0",
            "SELECT a.attname FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = 'orders'::regclass AND a.atttypid = 'numeric'::regtype",
            // Every built-in type (OIDs below 10000 are the same in every PostgreSQL 15).
            "SELECT t.typname, t.oid::regtype, t.typnamespace::regnamespace
             FROM pg_catalog.pg_type t WHERE t.oid < 10000",
            // An index has no row type in PostgreSQL either.
            "SELECT c.relname, c.reltype::regtype FROM pg_catalog.pg_class c
             WHERE c.relname = 'lines_pkey'",
        ],
    )
    .await;
    // The columns' types are regnamespace and regtype; their text is the name.
    let query = "SELECT 'pg_catalog'::regnamespace, 'int4'::regtype";
    let statement = ours.prepare(query).await.unwrap();
    let types: Vec<&str> = statement
        .columns()
        .iter()
        .map(|c| c.type_().name())
        .collect();
    assert_eq!(types, ["regnamespace", "regtype"]);
    let postgres_addr: SocketAddr = format!("127.0.0.1:{}", postgres.port).parse().unwrap();
    assert_eq!(
        describe(sluice.addr, "sluice", "sluice", query).await,
        describe(postgres_addr, "postgres", "postgres", query).await
    );
    // In binary (the OID), it is refused rather than sent as the name.
    let refused = ours.query(&statement, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "0A000");
}

/// Session and description functions drivers call, answered as PostgreSQL answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_and_description_functions_answer_as_postgres() {
    let (sluice, postgres) = both().await;
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    let query = "SELECT current_setting('server_encoding'), current_setting('DateStyle'),
        current_setting('IntervalStyle'), current_setting('standard_conforming_strings'),
        current_setting('application_name'), current_setting('no.such', true) IS NULL,
        obj_description(c.oid, 'pg_class') IS NULL, col_description(c.oid, 1) IS NULL,
        shobj_description(10, 'pg_authid') IS NULL
        FROM pg_catalog.pg_class c WHERE c.relname = 'orders'";
    for c in [&ours, &theirs] {
        c.batch_execute("SET application_name = 'report'")
            .await
            .unwrap();
    }
    assert_same_rows(&ours, &theirs, &[query]).await;
    for c in [&ours, &theirs] {
        let error = c
            .query("SELECT current_setting('no_such_setting')", &[])
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&error), "42704");
    }
    // A prepared statement reads the setting when it runs, not when it was prepared.
    for c in [&ours, &theirs] {
        let statement = c
            .prepare("SELECT current_setting('application_name')")
            .await
            .unwrap();
        let before: String = c.query_one(&statement, &[]).await.unwrap().get(0);
        c.batch_execute("SET application_name = 'later'")
            .await
            .unwrap();
        let after: String = c.query_one(&statement, &[]).await.unwrap().get(0);
        assert_eq!((before.as_str(), after.as_str()), ("report", "later"));
    }
    let refused = ours
        .query("SELECT set_config('application_name', 'x', false)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&refused), "0A000");
}

/// `regclass` reads and prints relations by name as PostgreSQL does: in a result, cast
/// to text (as SQLAlchemy's column reflection casts `attrelid::regclass::text`), with
/// `||`, qualified off the search path, quoted where an identifier must be; and a
/// name that is no relation fails with PostgreSQL's SQLSTATE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regclass_names_relations_as_postgres_does() {
    let (sluice, postgres) = both().await;
    let (ours, theirs) = (sluice.client().await, postgres.client().await);
    for c in [&ours, &theirs] {
        c.batch_execute("CREATE TABLE \"user\" (id BIGINT); CREATE TABLE \"My T\" (id BIGINT)")
            .await
            .unwrap();
    }
    assert_same_rows(
        &ours,
        &theirs,
        &[
            "SELECT c.relname, c.oid::regclass, c.oid::regclass::text, 'r:' || c.oid::regclass,
                    c.oid::regclass = c.oid
             FROM pg_catalog.pg_class c
             WHERE c.relname IN ('orders', 'lines_pkey', 'spend', 'user', 'My T', 'pg_class',
                                 'tables', 'pg_type')",
            "SELECT 'orders'::regclass::text, 'public.orders'::regclass::text,
                    '\"user\"'::regclass::text, 'public.\"My T\"'::regclass::text,
                    'pg_catalog.pg_class'::regclass::text, 'ORDERS'::regclass::text,
                    'lines_pkey'::regclass = c.oid
             FROM pg_catalog.pg_class c WHERE c.relname = 'lines_pkey'",
            "SELECT a.attname, pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'orders'::regclass AND a.attnum > 0",
            "SELECT 99999::regclass::text, 99999::regclass",
        ],
    )
    .await;
    for (statement, code) in [
        ("SELECT 'nope'::regclass", "42P01"),
        ("SELECT 'public.nope'::regclass", "42P01"),
        ("SELECT 'nosuch.orders'::regclass", "3F000"),
    ] {
        for c in [&ours, &theirs] {
            let error = c.simple_query(statement).await.unwrap_err();
            assert_eq!(sqlstate(&error), code, "{statement}");
        }
    }
    // The column's type is regclass; its text is the name.
    let statement = ours.prepare("SELECT 'orders'::regclass").await.unwrap();
    assert_eq!(statement.columns()[0].type_().name(), "regclass");
    let rows = ours
        .simple_query("SELECT 'orders'::regclass")
        .await
        .unwrap();
    let tokio_postgres::SimpleQueryMessage::Row(row) = &rows[1] else {
        panic!("no row: {rows:?}");
    };
    assert_eq!(row.get(0), Some("orders"));
    // In binary (the OID), it is refused rather than sent as the name.
    let refused = ours.query(&statement, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&refused), "0A000");
}
