//! A throwaway PostgreSQL 15 server, for tests that use PostgreSQL as an oracle.
//!
//! `initdb` into a temporary directory (C locale, UTF8, trust authentication), then
//! `pg_ctl start` on a free loopback port with `fsync=off` and no Unix socket; `Drop`
//! stops it (`-m immediate`) and removes the directory. PostgreSQL refuses to run as
//! root, so as root every server command runs as the `postgres` user (`runuser`).
//! The server binaries come from the Debian package `postgresql-15`
//! (`scripts/test.sh` installs it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tokio_postgres::{Client, NoTls};

/// Where Debian's `postgresql-15` puts the server binaries (not on `PATH`).
pub const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL server, stopped on drop.
pub struct Postgres {
    /// The loopback port it listens on.
    pub port: u16,
    data: PathBuf,
    as_root: bool,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Initializes a fresh cluster and starts it. Panics with what to install when the
    /// server binaries are missing.
    pub fn start() -> Postgres {
        for tool in ["initdb", "pg_ctl", "postgres"] {
            let path = Path::new(BIN_DIR).join(tool);
            assert!(
                path.is_file(),
                "PostgreSQL 15 server binary {} is missing: install the Debian package \
                 postgresql-15 (scripts/test.sh does: apt-get install postgresql-15)",
                path.display()
            );
        }
        let as_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let dir = tempfile::Builder::new()
            .prefix("sluice-pg-")
            .tempdir()
            .expect("temp dir");
        if as_root {
            let output = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .output()
                .expect("run chown");
            check(
                &output,
                "chown the PostgreSQL directory to the postgres user",
            );
        }
        let data = dir.path().join("data");
        let server = Postgres {
            port: 0,
            data,
            as_root,
            dir,
        };
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(&server.data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .expect("run initdb");
        check(&output, "initdb");
        server.start_on_free_port()
    }

    fn start_on_free_port(mut self) -> Postgres {
        let log = self.dir.path().join("server.log");
        // A free port can be taken between probing and binding: try a few.
        for _ in 0..5 {
            let port = super::free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            );
            let output = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .expect("run pg_ctl start");
            if output.status.success() {
                self.port = port;
                return self;
            }
        }
        panic!(
            "PostgreSQL did not start; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A connected client (user and database `postgres`).
    pub async fn client(&self) -> Client {
        let url = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        );
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("connect to PostgreSQL");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Makes every role but `postgres` log in with a password (SCRAM-SHA-256), as a
    /// server's `pg_hba.conf` would say; in force at once.
    pub async fn require_passwords(&self) {
        std::fs::write(
            self.data.join("pg_hba.conf"),
            "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("write pg_hba.conf");
        self.client()
            .await
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .expect("reload PostgreSQL's configuration");
    }

    /// A server command, run as the `postgres` user when we are root.
    fn command(&self, tool: &str) -> Command {
        let path = Path::new(BIN_DIR).join(tool);
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user may not be allowed into the test's working directory.
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The schema the client and BI tool tests (`tests/bi_clients.rs`,
/// `tests/bi_metadata.rs`) create in Sluice and PostgreSQL alike: a table with a
/// primary key, a NOT NULL column, DEFAULT columns and an array column, a second table
/// with a key of two columns, rows, and a materialized view (Sluice has no plain
/// views). The view's query is written as PostgreSQL prints it back (qualified
/// columns), as Sluice prints the query as written.
pub const BI_SCHEMA: &str = "
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, code VARCHAR(12),
    amount NUMERIC(10,2), placed TIMESTAMPTZ, day DATE, ratio DOUBLE PRECISION,
    qty INT DEFAULT 1, note TEXT DEFAULT 'none', tags TEXT[], paid BOOLEAN);
CREATE TABLE lines (order_id BIGINT, line INT, sku TEXT, PRIMARY KEY (order_id, line));
INSERT INTO orders VALUES (1, 'ann', 'A1', 10.50, '2024-01-02 03:04:05+00', '2024-01-02',
    0.5, 2, 'x', ARRAY['a','b'], true);
INSERT INTO orders (id, customer) VALUES (2, 'bob');
INSERT INTO lines VALUES (1, 1, 's1'), (1, 2, 's2');
CREATE MATERIALIZED VIEW spend AS
    SELECT orders.customer, count(*) AS n FROM orders GROUP BY orders.customer;
";
