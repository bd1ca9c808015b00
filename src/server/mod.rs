//! The Postgres wire protocol edge.
//!
//! ```text
//!  TcpListener ──accept──▶ one tokio task per connection ──▶ connection::serve_connection
//!                                 frames::FrameGuard (well-formed messages only) │
//!               startup::TrustStartup (parameters, auth) ◀───────────────────────┤
//!               handler::SluiceHandler (simple + extended) ◀─────────────────────┘
//!                   │                     └─ row_limit (Execute's row limit, in chunks)
//!                   └──▶ sql::prepare/execute
//! ```
//!
//! A connection's failure (garbage bytes, a dropped socket, a panic) ends only that
//! connection's task.

pub mod connection;
pub mod encoding;
pub mod frames;
pub mod handler;
pub mod row_limit;
pub mod startup;

use std::sync::Arc;

use pgwire::api::PgWireServerHandlers;
use pgwire::api::auth::StartupHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use tokio::net::TcpListener;

use crate::database::Database;
use handler::SluiceHandler;
use startup::TrustStartup;

/// Hands out the per-server protocol handlers (all connections share them).
#[derive(Debug)]
pub struct Handlers {
    handler: Arc<SluiceHandler>,
    startup: Arc<TrustStartup>,
}

impl Handlers {
    /// Handlers serving `db`.
    pub fn new(db: Arc<Database>) -> Self {
        Handlers {
            handler: Arc::new(SluiceHandler::new(db)),
            startup: Arc::new(TrustStartup),
        }
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
}

/// Accepts connections on `listener` forever, serving each on its own task.
pub async fn serve(listener: TcpListener, db: Arc<Database>) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers::new(db));
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
