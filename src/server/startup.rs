//! Connection start-up: protocol negotiation, authentication, and the parameters
//! drivers check (`server_version`, `client_encoding`, `DateStyle`, ...).
//!
//! Authentication is `trust` (any user, no password), as for a local PostgreSQL
//! on loopback. Password methods plug in here: pgwire's cleartext/MD5/SCRAM
//! handlers implement the same `StartupHandler` trait.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};

use crate::sql::backends::Backends;
use crate::sql::settings;

/// Start-up handler for `trust` authentication.
#[derive(Debug)]
pub struct TrustStartup {
    backends: Arc<Backends>,
}

impl TrustStartup {
    /// Start-up for sessions registered in `backends`.
    pub fn new(backends: Arc<Backends>) -> Self {
        TrustStartup { backends }
    }
}

struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut params = settings::startup_parameters();
        if let Some(app) = client.metadata().get("application_name") {
            params.insert("application_name".into(), app.clone());
        }
        if let Some(user) = client.metadata().get("user") {
            params.insert("session_authorization".into(), user.clone());
        }
        Some(params)
    }
}

#[async_trait]
impl StartupHandler for TrustStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            // The session's formatting follows our settings, whatever the client sent.
            let metadata = client.metadata_mut();
            metadata.insert("datestyle".into(), "ISO, MDY".into());
            metadata.insert("intervalstyle".into(), "postgres".into());
            // The connection registered the session with a 32-byte key; protocol 3.0
            // keys are 4 bytes, so such a client gets (and must present) the first 4.
            let (pid, key) = client.pid_and_secret_key();
            if client.protocol_version() == ProtocolVersion::PROTOCOL3_0
                && let SecretKey::Bytes(bytes) = &key
                && let Some(first) = bytes.first_chunk::<4>()
            {
                let short = i32::from_be_bytes(*first);
                self.backends.set_secret(pid, first.to_vec());
                client.set_pid_and_secret_key(pid, SecretKey::I32(short));
            }
            finish_authentication(client, &Parameters).await?;
            client.flush().await?;
        }
        Ok(())
    }
}
