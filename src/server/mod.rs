//! The Postgres wire protocol edge.
//!
//! ```text
//!  TcpListener ──accept──▶ one tokio task per connection ──▶ connection::serve_connection
//!                                 tls (SSLRequest answered when configured)      │
//!                                 frames::FrameGuard (well-formed messages only) │
//!               startup::Startup (TLS check, SCRAM, parameters) ◀───────────────┤
//!               handler::SluiceHandler (simple + extended) ◀─────────────────────┤
//!               subscribe (a lone SUBSCRIBE, streamed and flushed per change) ◀──┤
//!                   │                     └─ row_limit (Execute's row limit, in chunks)
//!                   └──▶ statement_pool ──▶ sql::prepare/execute                  │
//!               CancelRequests (a cancel request's own connection) ◀─────────────┘
//! ```
//!
//! A connection's failure (garbage bytes, a dropped socket, a panic) ends only that
//! connection's task. Statements run on the statement pool, never on the threads that
//! serve connections, so a heavy statement stalls only its own session.

pub mod connection;
pub mod encoding;
pub mod frames;
pub mod handler;
pub mod numeric_binary;
pub mod row_limit;
pub mod scram;
pub mod startup;
pub mod statement_pool;
pub mod subscribe;
pub mod tls;

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::PgWireServerHandlers;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::net::TcpListener;

use crate::database::Database;
use crate::sql::backends::Backends;
use handler::SluiceHandler;
use startup::{AuthMethod, Authentication, Startup};
use statement_pool::StatementPool;

/// How clients connect: authentication and TLS.
#[derive(Default)]
pub struct Security {
    /// Who must log in with a password.
    pub auth: AuthMethod,
    /// TLS, when a certificate is configured.
    pub tls: Option<pgwire::tokio::TlsAcceptor>,
    /// Refuse clients that do not use TLS.
    pub tls_required: bool,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("auth", &self.auth)
            .field("tls", &self.tls.is_some())
            .field("tls_required", &self.tls_required)
            .finish()
    }
}

/// Hands out the per-server protocol handlers (all connections share them, except
/// start-up's, which is per connection).
pub struct Handlers {
    handler: Arc<SluiceHandler>,
    auth: Arc<Authentication>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    cancel: Arc<CancelRequests>,
    backends: Arc<Backends>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("auth", &self.auth)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Handlers {
    /// Handlers serving `db` as `security` says, running statements on a new
    /// statement pool.
    pub fn new(db: Arc<Database>, security: Security) -> std::io::Result<Self> {
        let pool = Arc::new(StatementPool::new(statement_pool::default_workers())?);
        let backends = db.backends().clone();
        let auth = Authentication::new(security.auth, security.tls_required, db.roles().clone())?;
        Ok(Handlers {
            handler: Arc::new(SluiceHandler::new(db, pool)),
            auth: Arc::new(auth),
            tls: security.tls,
            cancel: Arc::new(CancelRequests {
                backends: backends.clone(),
            }),
            backends,
        })
    }

    /// Start-up for a new connection.
    fn startup(&self) -> Arc<Startup> {
        Arc::new(Startup::new(self.backends.clone(), self.auth.clone()))
    }
}

/// Answers cancel requests: stops the running statements of the session named by the
/// request, when its secret key matches.
#[derive(Debug)]
pub struct CancelRequests {
    backends: Arc<Backends>,
}

#[async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let secret = secret_bytes(&request.secret_key);
        self.backends.cancel_request(request.pid, &secret);
    }
}

/// A cancel key as bytes (protocol 3.0 sends 4, in network order).
fn secret_bytes(key: &SecretKey) -> Vec<u8> {
    match key {
        SecretKey::I32(key) => key.to_be_bytes().to_vec(),
        SecretKey::Bytes(bytes) => bytes.to_vec(),
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.handler.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.handler.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// Accepts connections on `listener` forever, serving each on its own task, with
/// the default [`Security`] (trust on loopback, no TLS).
pub async fn serve(listener: TcpListener, db: Arc<Database>) -> std::io::Result<()> {
    serve_with(listener, db, Security::default()).await
}

/// [`serve`] with `security`.
pub async fn serve_with(
    listener: TcpListener,
    db: Arc<Database>,
    security: Security,
) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers::new(db, security)?);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: keep serving the others.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let handlers = handlers.clone();
        tokio::spawn(async move {
            if let Err(e) = connection::serve_connection(socket, &handlers).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}
