//! The `sluice` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Sluice: a streaming SQL database that speaks the Postgres wire protocol.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Start the server.
    Serve {
        /// Address to accept Postgres connections on.
        #[arg(long, default_value = "127.0.0.1:6875", env = "SLUICE_LISTEN")]
        listen: SocketAddr,
        /// Directory holding the catalog and table data (created if missing).
        #[arg(long, default_value = "./sluice-data", env = "SLUICE_DATA_DIR")]
        data_dir: PathBuf,
        /// Log filter, e.g. `info` or `sluice=debug` (also read from RUST_LOG).
        #[arg(long, default_value = "info", env = "SLUICE_LOG")]
        log: String,
        /// ONNX Runtime library (libonnxruntime.so.1.31.1) for PREDICT; by default
        /// the one scripts/install-ml.sh installs (see docs/ml.md).
        #[arg(long, env = "SLUICE_ONNXRUNTIME")]
        onnxruntime: Option<PathBuf>,
        /// How often views are checkpointed, e.g. `1s`, `500ms`, `2min`; `0` turns
        /// checkpoints off (views are then rebuilt from their inputs at every start;
        /// see docs/storage.md). Default: what `ALTER SYSTEM SET checkpoint_interval`
        /// last set, else 1s.
        #[arg(long, env = "SLUICE_CHECKPOINT_INTERVAL", value_parser = parse_interval)]
        checkpoint_interval: Option<Duration>,
        /// How many workers each materialized view runs on, unless its `WITH (workers
        /// = n)` says (see docs/views.md). Default: the machine's cores.
        #[arg(long, env = "SLUICE_VIEW_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
        view_workers: Option<u16>,
        /// Once the server accepts connections, write the address it listens on
        /// (`127.0.0.1:43517`) to this file. With `--listen 127.0.0.1:0` the system
        /// picks a free port: scripts and tests read it here instead of guessing one.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Who must log in with a password: `local-trust` trusts clients on this
        /// machine (loopback) as the user they name and asks the others for a
        /// password; `scram-sha-256` asks everyone. Passwords are roles' (CREATE USER
        /// ... PASSWORD); a server that would take clients who cannot log in does not
        /// start. See docs/security.md.
        #[arg(long, default_value = "local-trust", env = "SLUICE_AUTH")]
        auth: sluice::server::startup::AuthMethod,
        /// TLS certificate chain (PEM) offered to clients; needs --tls-key.
        #[arg(long, env = "SLUICE_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "SLUICE_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Refuse clients that do not use TLS (needs --tls-cert).
        #[arg(long, env = "SLUICE_TLS_REQUIRED", requires = "tls_cert")]
        tls_required: bool,
    },
}

/// How clients connect, as the command line says.
struct Connections {
    listen: SocketAddr,
    ready_file: Option<PathBuf>,
    auth: sluice::server::startup::AuthMethod,
    tls: Option<(PathBuf, PathBuf)>,
    tls_required: bool,
}

/// Stack of each runtime thread (reserved address space, touched as deep as used).
const WORKER_STACK_BYTES: usize = 16 << 20;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Serve {
            listen,
            data_dir,
            log,
            onnxruntime,
            checkpoint_interval,
            view_workers,
            ready_file,
            auth,
            tls_cert,
            tls_key,
            tls_required,
        } => {
            if let Some(library) = onnxruntime {
                sluice::ml::runtime::use_library(library);
            }
            let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(log));
            tracing_subscriber::fmt().with_env_filter(filter).init();
            // Planning and executing a statement recurse once per level of nesting; the
            // nesting limits (sql::complexity) are sized for this stack, with room.
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .thread_stack_size(WORKER_STACK_BYTES)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("sluice: cannot start the async runtime: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let options = sluice::database::Options {
                checkpoint_interval,
                view_workers: view_workers.map(usize::from),
            };
            let connections = Connections {
                listen,
                ready_file,
                auth,
                tls: tls_cert.zip(tls_key),
                tls_required,
            };
            match runtime.block_on(serve(connections, data_dir, options)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("sluice: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

/// `1s`, `500ms`, `2min`, `0`.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not an interval like 1s, 500ms or 2min"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "min" => number * 60.0,
        other => return Err(format!("unknown unit '{other}': use ms, s or min")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("'{text}': {e}"))
}

async fn serve(
    connections: Connections,
    data_dir: PathBuf,
    options: sluice::database::Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let Connections {
        listen,
        ready_file,
        auth,
        tls,
        tls_required,
    } = connections;
    let tls = match tls {
        Some((cert, key)) => Some(sluice::server::tls::acceptor(&cert, &key)?),
        None => None,
    };
    let db = sluice::Database::open_with(&data_dir, options).await?;
    check_logins(auth, listen, db.roles().any_password_login())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let listen = listener.local_addr()?;
    if let Some(path) = ready_file {
        write_ready_file(&path, listen)
            .map_err(|e| format!("cannot write the ready file {}: {e}", path.display()))?;
    }
    let security = sluice::server::Security {
        auth,
        tls,
        tls_required,
    };
    tracing::info!(%listen, data_dir = %data_dir.display(), "Sluice is ready: psql -h {} -p {} -d sluice", listen.ip(), listen.port());
    tokio::select! {
        result = sluice::server::serve_with(listener, db, security) => result?,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// Refuses to start a server some of whose clients would need a password when no
/// role can log in with one: on an address other than loopback that would be
/// nobody (or, before passwords existed, everybody, trusted).
fn check_logins(
    auth: sluice::server::startup::AuthMethod,
    listen: SocketAddr,
    any_password: bool,
) -> Result<(), String> {
    use sluice::server::startup::AuthMethod;
    let needs_passwords = auth == AuthMethod::ScramSha256 || !listen.ip().is_loopback();
    if !needs_passwords || any_password {
        return Ok(());
    }
    let why = match auth {
        AuthMethod::ScramSha256 => {
            "--auth scram-sha-256 asks every client for a password".to_string()
        }
        AuthMethod::LocalTrust => {
            format!("clients reaching {listen} from other machines must log in with a password")
        }
    };
    Err(format!(
        "no role can log in with a password, and {why}. Start Sluice on 127.0.0.1 first, \
         create one (CREATE USER admin SUPERUSER PASSWORD '...'), then start it again \
         (see docs/security.md)"
    ))
}

/// Writes `addr` to `path` whole (through a rename), so a reader never sees half.
fn write_ready_file(path: &std::path::Path, addr: SocketAddr) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, format!("{addr}\n"))?;
    std::fs::rename(&partial, path)
}
