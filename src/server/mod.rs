//! The Postgres wire protocol edge.
//!
//! ```text
//!  TcpListener ──accept──▶ one tokio task per connection ──▶ connection::serve_connection
//!                                 frames::FrameGuard (well-formed messages only) │
//!               startup::TrustStartup (parameters, auth) ◀───────────────────────┤
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
pub mod row_limit;
pub mod startup;
pub mod statement_pool;
pub mod subscribe;
pub mod text_format;

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
use startup::TrustStartup;
use statement_pool::StatementPool;

/// Hands out the per-server protocol handlers (all connections share them).
#[derive(Debug)]
pub struct Handlers {
    handler: Arc<SluiceHandler>,
    startup: Arc<TrustStartup>,
    cancel: Arc<CancelRequests>,
    backends: Arc<Backends>,
}

impl Handlers {
    /// Handlers serving `db`, running statements on a new statement pool.
    pub fn new(db: Arc<Database>) -> std::io::Result<Self> {
        let pool = Arc::new(StatementPool::new(statement_pool::default_workers())?);
        let backends = db.backends().clone();
        Ok(Handlers {
            handler: Arc::new(SluiceHandler::new(db, pool)),
            startup: Arc::new(TrustStartup::new(backends.clone())),
            cancel: Arc::new(CancelRequests {
                backends: backends.clone(),
            }),
            backends,
        })
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
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// Accepts connections on `listener` forever, serving each on its own task.
pub async fn serve(listener: TcpListener, db: Arc<Database>) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers::new(db)?);
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
