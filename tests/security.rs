//! Roles, privileges, passwords and TLS, with PostgreSQL 15 as the oracle: the same
//! schema, roles and grants in both, then the same statements as a read-only role;
//! SCRAM-SHA-256 logins from psql, psycopg 3, pgjdbc, node-postgres and tokio-postgres; TLS with
//! `sslmode=verify-full` against a certificate made here with `openssl`.

mod common;

use std::path::Path;
use std::process::Command;

use common::postgres::Postgres;
use common::{ServerProcess, TestServer, wait_until_ready};
use tokio_postgres::{Client, NoTls};

async fn connect_as(port: u16, user: &str, password: Option<&str>, dbname: &str) -> Client {
    try_connect(port, user, password, dbname)
        .await
        .unwrap_or_else(|e| panic!("connect as {user}: {e:?}"))
}

async fn try_connect(
    port: u16,
    user: &str,
    password: Option<&str>,
    dbname: &str,
) -> Result<Client, tokio_postgres::Error> {
    let mut config = format!("host=127.0.0.1 port={port} user={user} dbname={dbname}");
    if let Some(password) = password {
        config.push_str(&format!(" password={password}"));
    }
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A statement's outcome: its rows as text, or its SQLSTATE and message.
async fn outcome(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, (String, String)> {
    match client.simple_query(sql).await {
        Ok(messages) => Ok(common::text_rows(&messages)),
        Err(e) => Err(e
            .as_db_error()
            .map(|db| (db.code().code().to_string(), db.message().to_string()))
            .unwrap_or_else(|| ("none".into(), e.to_string()))),
    }
}

const SCHEMA: &str = "
    CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
    INSERT INTO t VALUES (1, 'a'), (2, 'b');
    CREATE TABLE hidden (x INT);
    INSERT INTO hidden VALUES (1);
    CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;
    CREATE USER bi PASSWORD 'bi-secret';
    CREATE ROLE nologin PASSWORD 'x';
    GRANT SELECT ON t, mv TO bi;";

/// What a read-only role may and may not do, statement by statement, as in
/// PostgreSQL: same rows, same SQLSTATEs, and the same messages where Sluice words
/// them as PostgreSQL does.
#[tokio::test]
async fn a_read_only_role_is_refused_what_postgresql_refuses() {
    let postgres = Postgres::start();
    let pg_admin = postgres.client().await;
    pg_admin.batch_execute(SCHEMA).await.unwrap();
    // PostgreSQL's materialized views are refreshed by hand; Sluice's are current.
    pg_admin
        .batch_execute("REFRESH MATERIALIZED VIEW mv")
        .await
        .unwrap();
    let server = TestServer::start().await;
    let admin = server.client().await;
    admin.batch_execute(SCHEMA).await.unwrap();
    admin.batch_execute("FLUSH").await.unwrap();

    let pg_bi = connect_as(postgres.port, "bi", None, "postgres").await;
    let bi = connect_as(server.addr.port(), "bi", None, "sluice").await;
    // (statement, whether the message must be PostgreSQL's word for word)
    let cases = [
        ("SELECT * FROM t ORDER BY id", true),
        ("SELECT n FROM mv", true),
        ("SELECT current_user", false),
        ("SHOW is_superuser", true),
        (
            "SELECT count(*) FROM pg_class WHERE relname IN ('t', 'hidden')",
            true,
        ),
        ("SELECT * FROM hidden", true),
        ("SELECT * FROM t WHERE id IN (SELECT x FROM hidden)", true),
        ("SELECT (SELECT max(x) FROM hidden) FROM t", true),
        ("INSERT INTO t VALUES (3, 'c')", true),
        ("UPDATE t SET v = 'z'", true),
        ("DELETE FROM t WHERE id = 1", true),
        ("CREATE TABLE mine (a INT)", true),
        ("CREATE MATERIALIZED VIEW mine AS SELECT 1 AS a", true),
        ("DROP TABLE t", true),
        ("DROP MATERIALIZED VIEW mv", true),
        ("CREATE USER other", true),
        ("DROP ROLE nologin", false),
        ("ALTER USER bi SUPERUSER", false),
        ("GRANT SELECT ON hidden TO bi", false),
    ];
    for (sql, same_message) in cases {
        let expected = outcome(&pg_bi, sql).await;
        let actual = outcome(&bi, sql).await;
        match (&expected, &actual) {
            (Ok(rows), Ok(ours)) => assert_eq!(ours, rows, "{sql}"),
            (Err((code, message)), Err((our_code, our_message))) => {
                assert_eq!(
                    our_code, code,
                    "{sql}: {our_message} / PostgreSQL: {message}"
                );
                if same_message {
                    assert_eq!(our_message, message, "{sql}");
                }
            }
            // PostgreSQL warns and grants nothing when a role without the grant
            // option grants; Sluice refuses.
            (Ok(_), Err((code, _))) if sql.starts_with("GRANT") => assert_eq!(code, "42501"),
            _ => panic!("{sql}: PostgreSQL {expected:?}, Sluice {actual:?}"),
        }
    }
    // Writes that would have needed privileges changed nothing.
    assert_eq!(
        outcome(&admin, "SELECT count(*) FROM t").await.unwrap(),
        vec![vec![Some("2".to_string())]]
    );

    // Grants and revocations apply to a running session at its next statement.
    for c in [&pg_admin, &admin] {
        c.batch_execute("REVOKE SELECT ON t FROM bi; GRANT SELECT ON hidden TO PUBLIC")
            .await
            .unwrap();
    }
    for c in [&pg_bi, &bi] {
        assert_eq!(outcome(c, "SELECT * FROM t").await.unwrap_err().0, "42501");
        assert_eq!(
            outcome(c, "SELECT x FROM hidden").await.unwrap(),
            vec![vec![Some("1".to_string())]]
        );
    }
    // A role holding privileges cannot be dropped until they are revoked; a dropped
    // relation takes its grants with it.
    for c in [&pg_admin, &admin] {
        let refused = c.batch_execute("DROP ROLE bi").await.unwrap_err();
        assert_eq!(common::sqlstate(&refused), "2BP01");
        c.batch_execute("DROP TABLE hidden; REVOKE ALL ON mv FROM bi")
            .await
            .unwrap();
    }
    // The session of a role that is gone keeps no privileges.
    admin
        .batch_execute("GRANT SELECT ON t TO bi")
        .await
        .unwrap();
    admin
        .batch_execute("REVOKE SELECT ON t FROM bi")
        .await
        .unwrap();
    admin.batch_execute("DROP ROLE bi").await.unwrap();
    assert_eq!(
        outcome(&bi, "SELECT * FROM t").await.unwrap_err().0,
        "42501"
    );

    // Role statements' own errors, as in PostgreSQL.
    for sql in [
        "CREATE ROLE nologin",
        "DROP ROLE nobody",
        "ALTER ROLE nobody LOGIN",
        "GRANT SELECT ON nosuch TO nologin",
        "GRANT SELECT ON mv TO nobody",
        "CREATE ROLE pg_mine",
    ] {
        let expected = outcome(&pg_admin, sql).await.unwrap_err();
        let actual = outcome(&admin, sql).await.unwrap_err();
        assert_eq!(
            actual.0, expected.0,
            "{sql}: {actual:?} / PostgreSQL {expected:?}"
        );
    }
    assert_eq!(
        outcome(&admin, "DROP ROLE IF EXISTS nobody").await,
        Ok(Vec::new())
    );
}

/// A role that may not log in, and a trusted name that is no role.
#[tokio::test]
async fn trusted_names_log_in_as_their_role() {
    let server = TestServer::start().await;
    let admin = server.client().await;
    admin
        .batch_execute("CREATE ROLE nologin; CREATE USER reader")
        .await
        .unwrap();
    let refused = try_connect(server.addr.port(), "nologin", None, "sluice")
        .await
        .expect_err("a NOLOGIN role is refused");
    let db = refused.as_db_error().expect("a FATAL error");
    assert_eq!(
        (db.code().code(), db.message()),
        ("28000", "role \"nologin\" is not permitted to log in")
    );
    let reader = connect_as(server.addr.port(), "reader", None, "sluice").await;
    assert_eq!(
        outcome(&reader, "SHOW is_superuser").await.unwrap(),
        vec![vec![Some("off".to_string())]]
    );
    // A name that is no role is the built-in superuser, as before roles existed.
    assert_eq!(
        outcome(&admin, "SHOW is_superuser").await.unwrap(),
        vec![vec![Some("on".to_string())]]
    );
    // ALTER ROLE takes effect at the session's next statement.
    admin
        .batch_execute("ALTER ROLE reader SUPERUSER")
        .await
        .unwrap();
    assert_eq!(
        outcome(&reader, "SHOW is_superuser").await.unwrap(),
        vec![vec![Some("on".to_string())]]
    );
    // The session's own role cannot be dropped.
    assert_eq!(
        outcome(&reader, "DROP ROLE reader").await.unwrap_err().0,
        "55006"
    );
}

fn psql_login(port: u16, conninfo: &str, password: &str) -> (bool, String) {
    let output = Command::new("psql")
        .args([
            "-X",
            "-w",
            "-At",
            "-c",
            "SELECT current_user",
            &format!("port={port} {conninfo}"),
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs");
    let text = if output.status.success() {
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    } else {
        String::from_utf8_lossy(&output.stderr).trim().to_string()
    };
    (output.status.success(), text)
}

fn psycopg_login(port: u16, conninfo: &str, password: &str) -> (bool, String) {
    let python = std::env::var("SLUICE_CLIENT_PYTHON").expect(
        "SLUICE_CLIENT_PYTHON: a Python with psycopg 3 (scripts/test.sh installs it with \
         scripts/install-clients.sh)",
    );
    let script = "import sys, psycopg\n\
        try:\n\
        \x20   with psycopg.connect(sys.argv[1], password=sys.argv[2]) as c:\n\
        \x20       print(c.execute('SELECT current_user').fetchone()[0])\n\
        except psycopg.Error as e:\n\
        \x20   print(e.sqlstate, str(e).rsplit('failed: ', 1)[-1].strip())\n\
        \x20   sys.exit(1)\n";
    let output = Command::new(python)
        .args([
            "-c",
            script,
            &format!("port={port} connect_timeout=10 {conninfo}"),
            password,
        ])
        .output()
        .expect("python runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

/// Logs in with pgjdbc (`tests/clients/Login.java`): the session's user, or the
/// SQLSTATE and message.
fn pgjdbc_login(url: &str, user: &str, password: &str) -> (bool, String) {
    let jar = std::env::var("SLUICE_PGJDBC_JAR").expect(
        "SLUICE_PGJDBC_JAR: pgjdbc's jar (scripts/test.sh installs the Debian package \
         libpostgresql-jdbc-java)",
    );
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/Login.java");
    let output = Command::new("java")
        .arg("-cp")
        .arg(jar)
        .arg(program)
        .args([url, user, password])
        .output()
        .expect("java runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

/// Logs in with node-postgres (`tests/clients/login.js`): the session's user, or the
/// SQLSTATE and message.
fn node_login(port: u16, database: &str, user: &str, password: &str) -> (bool, String) {
    let modules = std::env::var("SLUICE_NODE_MODULES").expect(
        "SLUICE_NODE_MODULES: node-postgres (scripts/test.sh installs it with \
         scripts/install-node-clients.sh)",
    );
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/login.js");
    let output = Command::new("node")
        .arg(program)
        .args(["127.0.0.1", &port.to_string(), database, user, password])
        .env("NODE_PATH", modules)
        .output()
        .expect("node runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

/// What `sluice serve` over `dir` with `args` printed when it refused to start
/// (it must).
fn refused_start(dir: &Path, args: &[&str]) -> String {
    let ready_file = dir.with_extension("ready");
    let log = dir.with_extension("log");
    let file = std::fs::File::create(&log).unwrap();
    let listen: &[&str] = if args.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--log", "warn", "--data-dir"])
        .arg(dir)
        .arg("--ready-file")
        .arg(&ready_file)
        .args(listen)
        .args(args)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let started = wait_until_ready(&mut child, &ready_file, std::time::Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started.is_err(), "sluice serve {args:?} started");
    std::fs::read_to_string(&log).unwrap_or_default()
}

/// SCRAM-SHA-256 from five clients; wrong passwords, unknown roles and roles without
/// a password all fail as in PostgreSQL; a server that would need passwords nobody
/// has does not start.
#[tokio::test]
async fn scram_logins_from_psql_psycopg_pgjdbc_node_and_tokio_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No role has a password: a server asking everyone for one, or one that other
    // machines reach, does not start.
    let refused = refused_start(&data, &["--auth", "scram-sha-256"]);
    assert!(
        refused.contains("no role can log in with a password"),
        "{refused}"
    );
    let refused = refused_start(&data, &["--listen", "0.0.0.0:0"]);
    assert!(
        refused.contains("from other machines must log in"),
        "{refused}"
    );

    {
        let server = ServerProcess::start(&data);
        let admin = common::connect(server.addr).await;
        admin
            .batch_execute(
                "CREATE USER bi PASSWORD 'bi-secret'; CREATE ROLE nologin PASSWORD 'x';
                 CREATE USER nopassword; CREATE USER admin SUPERUSER PASSWORD 'admin-secret';
                 CREATE USER stored PASSWORD 'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';
                 CREATE TABLE t (a INT); GRANT SELECT ON t TO bi",
            )
            .await
            .unwrap();
    }
    let server = ServerProcess::start_with(&data, &["--auth", "scram-sha-256"], None);
    let port = server.addr.port();
    let base = "host=127.0.0.1 dbname=sluice";
    let postgres = Postgres::start();
    postgres
        .client()
        .await
        .batch_execute(
            "CREATE USER bi PASSWORD 'bi-secret'; CREATE ROLE nologin PASSWORD 'x';
             CREATE USER nopassword",
        )
        .await
        .unwrap();
    postgres.require_passwords().await;

    // psql, psycopg 3, pgjdbc and node-postgres log in (or fail) as they do with
    // PostgreSQL.
    let logins = [
        ("bi", "bi-secret"),
        ("bi", "wrong"),
        ("nobody", "x"),
        ("nopassword", "x"),
        ("nologin", "x"),
    ];
    for (user, password) in logins {
        let ours = format!("{base} user={user}");
        let theirs = format!("host=127.0.0.1 dbname=postgres user={user}");
        let (ok, text) = psql_login(port, &ours, password);
        let (pg_ok, pg_text) = psql_login(postgres.port, &theirs, password);
        assert_eq!(ok, pg_ok, "psql as {user}: {text} / PostgreSQL: {pg_text}");
        // The same words after the connection's own part of the message.
        let tail = |t: &str| t.rsplit("failed: ").next().unwrap_or_default().to_string();
        assert_eq!(tail(&text), tail(&pg_text), "psql as {user}");
        assert_eq!(
            psycopg_login(port, &ours, password),
            psycopg_login(postgres.port, &theirs, password),
            "psycopg as {user}"
        );
        assert_eq!(
            pgjdbc_login(
                &format!("jdbc:postgresql://127.0.0.1:{port}/sluice"),
                user,
                password
            ),
            pgjdbc_login(
                &format!("jdbc:postgresql://127.0.0.1:{}/postgres", postgres.port),
                user,
                password
            ),
            "pgjdbc as {user}"
        );
        assert_eq!(
            node_login(port, "sluice", user, password),
            node_login(postgres.port, "postgres", user, password),
            "node-postgres as {user}"
        );
    }
    // A verifier given as is (RFC 7677's example: the password is "pencil").
    assert_eq!(
        psql_login(port, &format!("{base} user=stored"), "pencil"),
        (true, "stored".to_string())
    );

    // tokio-postgres (the Rust driver).
    let bi = connect_as(port, "bi", Some("bi-secret"), "sluice").await;
    assert_eq!(
        outcome(&bi, "SELECT count(*) FROM t").await.unwrap().len(),
        1
    );
    let wrong = try_connect(port, "bi", Some("nope"), "sluice")
        .await
        .err()
        .unwrap();
    assert_eq!(common::sqlstate(&wrong), "28P01");
    let none = try_connect(port, "bi", None, "sluice").await.err().unwrap();
    assert!(format!("{none:?}").contains("password missing"), "{none:?}");
    let admin = connect_as(port, "admin", Some("admin-secret"), "sluice").await;
    // A password changed by ALTER USER counts from the next login.
    admin
        .batch_execute("ALTER USER bi PASSWORD 'new-secret'")
        .await
        .unwrap();
    assert!(
        try_connect(port, "bi", Some("bi-secret"), "sluice")
            .await
            .is_err()
    );
    connect_as(port, "bi", Some("new-secret"), "sluice").await;
    // The open session goes on.
    assert!(outcome(&bi, "SELECT 1").await.is_ok());
}

/// Makes a CA and a certificate for `localhost` / `127.0.0.1` signed by it in `dir`.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Sluice test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
}

/// TLS: `sslmode=verify-full` from psql, psycopg and pgjdbc checks the certificate and the
/// host name; `--tls-required` refuses plain connections; bad files stop the start.
#[tokio::test]
async fn tls_with_verify_full_and_tls_required() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let ca = dir.path().join("ca.pem");
    let data = dir.path().join("data");
    {
        let server = ServerProcess::start(&data);
        common::connect(server.addr)
            .await
            .batch_execute("CREATE USER bi PASSWORD 'bi-secret'")
            .await
            .unwrap();
    }
    let (cert, key, ca) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        ca.to_str().unwrap(),
    );
    let refused = refused_start(&data, &["--tls-cert", ca, "--tls-key", key]);
    assert!(
        refused.contains("does not fit the certificate"),
        "{refused}"
    );

    let server = ServerProcess::start_with(
        &data,
        &[
            "--auth",
            "scram-sha-256",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--tls-required",
        ],
        None,
    );
    let port = server.addr.port();
    let verified =
        format!("host=localhost dbname=sluice user=bi sslmode=verify-full sslrootcert={ca}");
    assert_eq!(
        psql_login(port, &verified, "bi-secret"),
        (true, "bi".into())
    );
    assert_eq!(
        psycopg_login(port, &verified, "bi-secret"),
        (true, "bi".into())
    );
    let jdbc =
        format!("jdbc:postgresql://localhost:{port}/sluice?sslmode=verify-full&sslrootcert={ca}");
    assert_eq!(pgjdbc_login(&jdbc, "bi", "bi-secret"), (true, "bi".into()));
    // verify-full checks the name: the certificate is not for 127.0.0.2.
    let (ok, error) = psql_login(
        port,
        &format!(
            "host=127.0.0.2 hostaddr=127.0.0.1 dbname=sluice user=bi sslmode=verify-full sslrootcert={ca}"
        ),
        "bi-secret",
    );
    assert!(!ok && error.contains("does not match host name"), "{error}");
    let (ok, error) = psql_login(
        port,
        "host=127.0.0.1 dbname=sluice user=bi sslmode=disable",
        "bi-secret",
    );
    assert!(
        !ok && error.contains("accepts only TLS connections"),
        "{error}"
    );
    let (ok, error) = psycopg_login(
        port,
        "host=127.0.0.1 dbname=sluice user=bi sslmode=disable",
        "bi-secret",
    );
    assert!(!ok && error.ends_with("accepts only TLS connections (it was started with --tls-required): connect with sslmode=require"), "{error}");
}

/// `\du`, `pg_roles`, `pg_user` and `has_table_privilege` answer as PostgreSQL's for
/// the same roles and grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_in_the_catalog_as_in_postgresql() {
    let roles = "
        CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
        CREATE TABLE hidden (x INT);
        CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;
        CREATE USER bi PASSWORD 'bi-secret';
        CREATE ROLE reporting;
        CREATE USER admin SUPERUSER PASSWORD 'x';
        GRANT SELECT ON t, mv TO bi;
        GRANT INSERT ON hidden TO PUBLIC;";
    let postgres = Postgres::start();
    let pg_admin = postgres.client().await;
    pg_admin.batch_execute(roles).await.unwrap();
    let server = TestServer::start().await;
    let admin = server.client().await;
    admin.batch_execute(roles).await.unwrap();

    let sluice_port = server.addr.port();
    let pg_port = postgres.port;
    let psql = move |port: u16, user: &str, db: &str, command: &str| {
        let output = Command::new("psql")
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                user,
                "-d",
                db,
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", command])
            .output()
            .expect("psql runs");
        assert!(output.status.success(), "{command}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let du = tokio::task::spawn_blocking(move || {
        (
            psql(sluice_port, "admin", "sluice", "\\du"),
            psql(pg_port, "postgres", "postgres", "\\du"),
        )
    })
    .await
    .unwrap();
    assert_eq!(du.0, du.1, "\\du");

    let queries = [
        "SELECT rolname, rolsuper, rolinherit, rolcanlogin, rolconnlimit, rolpassword,
                rolvaliduntil IS NULL FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1",
        "SELECT usename, usesuper, passwd FROM pg_user ORDER BY 1",
        "SELECT r.rolname FROM pg_roles r JOIN pg_class c ON c.relowner = r.oid
         WHERE c.relname = 't'",
        // aclitem[] in PostgreSQL, its text form here: the same text.
        "SELECT relname, relacl FROM pg_class
         WHERE relname IN ('t', 'hidden', 'mv', 't_pkey') ORDER BY 1",
    ];
    for query in queries {
        assert_eq!(
            outcome(&admin, query).await,
            outcome(&pg_admin, query).await,
            "{query}"
        );
    }
    let privileges = "SELECT has_table_privilege('t', 'SELECT'),
        has_table_privilege('public.t', 'select, insert'),
        has_table_privilege('hidden', 'SELECT'),
        has_table_privilege('hidden', 'INSERT'),
        has_table_privilege('mv', 'SELECT'),
        has_table_privilege('t', 'SELECT WITH GRANT OPTION'),
        has_table_privilege('pg_class', 'SELECT'),
        has_table_privilege('pg_catalog.pg_class', 'INSERT'),
        has_table_privilege('information_schema.tables', 'SELECT'),
        has_table_privilege('bi', 't', 'UPDATE'),
        has_table_privilege('admin', 'hidden', 'DELETE'),
        has_any_column_privilege('t', 'SELECT'),
        has_any_column_privilege('hidden', 'SELECT'),
        has_schema_privilege('public', 'USAGE'),
        has_schema_privilege('public', 'CREATE'),
        has_schema_privilege('pg_catalog', 'usage'),
        has_schema_privilege('bi', 'public', 'CREATE, USAGE'),
        has_database_privilege(current_database(), 'CONNECT'),
        has_database_privilege(current_database(), 'TEMP'),
        has_database_privilege(current_database(), 'CREATE')";
    let bi = connect_as(sluice_port, "bi", None, "sluice").await;
    let pg_bi = connect_as(pg_port, "bi", None, "postgres").await;
    for (ours, theirs) in [(&admin, &pg_admin), (&bi, &pg_bi)] {
        assert_eq!(
            outcome(ours, privileges).await,
            outcome(theirs, privileges).await
        );
    }
}
