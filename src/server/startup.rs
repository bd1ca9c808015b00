//! Connection start-up: protocol negotiation, authentication, and the parameters
//! drivers check (`server_version`, `client_encoding`, `DateStyle`, ...).
//!
//! Authentication is `trust` (any user, no password), as for a local PostgreSQL
//! on loopback. Password methods plug in here: pgwire's cleartext/MD5/SCRAM
//! handlers implement the same `StartupHandler` trait.

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use crate::sql::settings;

/// Start-up handler for `trust` authentication.
#[derive(Debug, Default)]
pub struct TrustStartup;

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
            let (pid, secret) = RandomPidSecretKeyGenerator::default().generate(client);
            client.set_pid_and_secret_key(pid, secret);
            finish_authentication(client, &Parameters).await?;
            client.flush().await?;
        }
        Ok(())
    }
}
