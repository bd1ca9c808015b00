//! One client connection, from the first byte to the last: TLS negotiation (when a
//! certificate is configured), the start-up deadline, the frame guard, and the
//! message loop that hands each message to pgwire's dispatcher.
//!
//! ```text
//!  accept ─▶ negotiate ─▶ FrameGuard(socket) ─▶ loop { next message ─▶ process_message }
//!             └────── start-up must finish within STARTUP_TIMEOUT ──────┘
//! ```
//!
//! This is pgwire's `process_socket` with four additions: a client that has not
//! finished start-up after [`STARTUP_TIMEOUT`] is disconnected (PostgreSQL's
//! `authentication_timeout`), malformed messages are answered with a FATAL error
//! carrying the guard's SQLSTATE before the connection closes, the session is
//! registered (process id and cancel key) for as long as the connection lasts, and a
//! simple query that is a lone `SUBSCRIBE` is streamed by [`super::subscribe`].

use std::io;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use super::Handlers;
use super::frames::{FrameGuard, ProtocolError};
use super::handler::ParsedStatement;
use crate::error::sqlstate;

/// A fresh random cancel key (protocol 3.2's length; 3.0 clients get its first 4
/// bytes).
fn cancel_key() -> io::Result<Vec<u8>> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(io::Error::other)?;
    Ok(key)
}

/// How long a client may take from connecting to finishing start-up.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection until the client leaves, start-up times out, or a
/// malformed message arrives.
pub async fn serve_connection(socket: TcpStream, handlers: &Handlers) -> io::Result<()> {
    let startup_deadline = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_deadline);

    let negotiated = tokio::select! {
        _ = &mut startup_deadline => return Ok(()),
        negotiated = negotiate_tls::<ParsedStatement>(socket, handlers.tls.clone()) => negotiated?,
    };
    // `None`: a direct TLS handshake, and no certificate is configured.
    let Some(negotiated) = negotiated else {
        return Ok(());
    };
    let parts = negotiated.into_parts();
    let mut guarded = FramedParts::new(FrameGuard::new(parts.io, parts.read_buf), parts.codec);
    guarded.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(guarded);
    // The session's process id and cancel key (start-up sends them to the client);
    // unregistered when this function returns.
    let backend = handlers.backends.register(cancel_key()?);
    socket.set_pid_and_secret_key(backend.pid(), SecretKey::Bytes(backend.secret().into()));

    let startup = handlers.startup();
    let simple = handlers.handler.clone();
    let extended = handlers.handler.clone();
    let copy = handlers.copy_handler();
    let cancel = handlers.cancel_handler();

    loop {
        let starting = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let next = if starting {
            tokio::select! {
                _ = &mut startup_deadline => return Ok(()),
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            None => return Ok(()),
            Some(Ok(PgWireFrontendMessage::Terminate(_))) => return Ok(()),
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                // The input can no longer be framed: say why, then hang up.
                let (code, message) = match &e {
                    PgWireError::IoError(io) => match ProtocolError::from_io(io) {
                        Some(refused) => (refused.code, refused.message.clone()),
                        None => return Ok(()),
                    },
                    other => (sqlstate::PROTOCOL_VIOLATION, other.to_string()),
                };
                let fatal = ErrorInfo::new("FATAL".into(), code.into(), message);
                // The client may already be gone; the connection ends either way.
                let _ = socket
                    .send(PgWireBackendMessage::ErrorResponse(fatal.into()))
                    .await;
                return Ok(());
            }
        };
        // A lone SUBSCRIBE streams until it ends: it writes and flushes its own messages.
        if let PgWireFrontendMessage::Query(query) = &message
            && matches!(socket.state(), PgWireConnectionState::ReadyForQuery)
            && crate::sql::subscribe::is_subscribe(&query.query)
        {
            if let Err(e) = super::subscribe::serve(&mut socket, &simple, &query.query).await {
                process_error(&mut socket, e, false).await?;
            }
            continue;
        }
        let extended_message = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        if let Err(e) = process_message(
            message,
            &mut socket,
            startup.clone(),
            simple.clone(),
            extended.clone(),
            copy.clone(),
            cancel.clone(),
        )
        .await
        {
            if starting {
                // A failed start-up (a wrong password, TLS required) ends the
                // connection after its error, as PostgreSQL's does: no ReadyForQuery,
                // no second try on the same connection.
                let info: ErrorInfo = e.into();
                let _ = socket
                    .send(PgWireBackendMessage::ErrorResponse(info.into()))
                    .await;
                return Ok(());
            }
            process_error(&mut socket, e, extended_message).await?;
        }
    }
}
