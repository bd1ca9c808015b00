//! Connection start-up: protocol negotiation, authentication, and the parameters
//! drivers check (`server_version`, `client_encoding`, `DateStyle`, ...).
//!
//! ```text
//!  StartupMessage ──▶ TLS required and not in use? ── FATAL 28000
//!        │ trusted (AuthMethod::LocalTrust and a loopback peer)?
//!        ├── yes ──────────────────────────────────────────────┐
//!        └── no: AuthenticationSASL [SCRAM-SHA-256]            │
//!              SASLInitialResponse ──▶ SASLContinue (challenge)│
//!              SASLResponse (proof) ──▶ SASLFinal | FATAL 28P01│
//!                                                              ▼
//!      a role that may not log in ── FATAL 28000;  else AuthenticationOk,
//!      parameters, cancel key, ReadyForQuery; the session's role is recorded
//!      in its metadata (`privileges::SESSION_ROLE`)
//! ```
//!
//! One [`Startup`] serves one connection (it holds that connection's SCRAM exchange);
//! [`Authentication`] is the server's configuration they share.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication as AuthMessage, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};

use super::scram::{self, Challenge, ScramError};
use crate::catalog::password::Verifier;
use crate::catalog::roles::Roles;
use crate::error::sqlstate;
use crate::sql::backends::Backends;
use crate::sql::privileges::SESSION_ROLE;
use crate::sql::settings;

/// How clients prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Clients connecting over loopback are trusted as the user they name (as
    /// PostgreSQL's `trust` for `127.0.0.1`); others log in with a password.
    #[default]
    LocalTrust,
    /// Every client logs in with a password (SCRAM-SHA-256).
    ScramSha256,
}

impl std::str::FromStr for AuthMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "local-trust" => Ok(AuthMethod::LocalTrust),
            "scram-sha-256" | "password" => Ok(AuthMethod::ScramSha256),
            other => Err(format!(
                "unknown authentication method {other:?}: use local-trust or scram-sha-256"
            )),
        }
    }
}

/// The server's authentication settings, shared by every connection.
#[derive(Debug)]
pub struct Authentication {
    /// Who must give a password.
    pub method: AuthMethod,
    /// Refuse clients that did not negotiate TLS.
    pub tls_required: bool,
    /// The roles and their password verifiers.
    pub roles: Arc<Roles>,
    /// Seeds the salts of missing roles' mock exchanges (random per server), so a
    /// client cannot tell a missing role from a wrong password.
    mock_seed: [u8; 16],
}

impl Authentication {
    /// Settings for `method` over `roles`.
    pub fn new(method: AuthMethod, tls_required: bool, roles: Arc<Roles>) -> std::io::Result<Self> {
        let mut mock_seed = [0u8; 16];
        getrandom::fill(&mut mock_seed).map_err(std::io::Error::other)?;
        Ok(Authentication {
            method,
            tls_required,
            roles,
            mock_seed,
        })
    }
}

/// Start-up for one connection.
#[derive(Debug)]
pub struct Startup {
    backends: Arc<Backends>,
    auth: Arc<Authentication>,
    /// The SCRAM exchange in progress, after the challenge was sent.
    exchange: Mutex<Option<Challenge>>,
}

impl Startup {
    /// Start-up for a connection of a session registered in `backends`.
    pub fn new(backends: Arc<Backends>, auth: Arc<Authentication>) -> Self {
        Startup {
            backends,
            auth,
            exchange: Mutex::new(None),
        }
    }
}

fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message.into(),
    )))
}

struct Parameters {
    is_superuser: bool,
}

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut params = settings::startup_parameters();
        if let Some(app) = client.metadata().get("application_name") {
            params.insert("application_name".into(), app.clone());
        }
        if let Some(user) = client.metadata().get("user") {
            params.insert("session_authorization".into(), user.clone());
        }
        let superuser = if self.is_superuser { "on" } else { "off" };
        params.insert("is_superuser".into(), superuser.into());
        Some(params)
    }
}

#[async_trait]
impl StartupHandler for Startup {
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
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                // The session's formatting follows our settings, whatever the client sent.
                let metadata = client.metadata_mut();
                metadata.insert("datestyle".into(), "ISO, MDY".into());
                metadata.insert("intervalstyle".into(), "postgres".into());
                // Never the client's: set below once the user is known.
                metadata.remove(SESSION_ROLE);
                if self.auth.tls_required && !client.is_secure() {
                    return Err(fatal(
                        sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                        "this server accepts only TLS connections (it was started with \
                         --tls-required): connect with sslmode=require",
                    ));
                }
                let user = self.user(client)?;
                let trusted = self.auth.method == AuthMethod::LocalTrust
                    && client.socket_addr().ip().is_loopback();
                if trusted {
                    return self.log_in(client, &user).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(AuthMessage::SASL(
                        vec!["SCRAM-SHA-256".into()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let user = self.user(client)?;
                let pending = self.take_exchange();
                let reply = match pending {
                    None => {
                        let initial = message.into_sasl_initial_response()?;
                        if initial.auth_method != "SCRAM-SHA-256" {
                            return Err(fatal(
                                sqlstate::PROTOCOL_VIOLATION,
                                "client selected an invalid SASL authentication mechanism",
                            ));
                        }
                        let data = initial.data.unwrap_or_default();
                        let mut server_nonce = [0u8; 18];
                        getrandom::fill(&mut server_nonce)
                            .map_err(|e| PgWireError::IoError(std::io::Error::other(e)))?;
                        let verifier = self.verifier(&user);
                        let (server_first, challenge) =
                            scram::challenge(&data, verifier, &server_nonce)
                                .map_err(|e| scram_failure(e, &user))?;
                        self.put_exchange(challenge);
                        AuthMessage::SASLContinue(Bytes::from(server_first))
                    }
                    Some(challenge) => {
                        let response = message.into_sasl_response()?;
                        let server_final = challenge
                            .verify(&response.data)
                            .map_err(|e| scram_failure(e, &user))?;
                        client
                            .feed(PgWireBackendMessage::Authentication(
                                AuthMessage::SASLFinal(Bytes::from(server_final)),
                            ))
                            .await?;
                        return self.log_in(client, &user).await;
                    }
                };
                client
                    .send(PgWireBackendMessage::Authentication(reply))
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn scram_failure(error: ScramError, user: &str) -> PgWireError {
    match error {
        ScramError::Protocol(message) => fatal(sqlstate::PROTOCOL_VIOLATION, message),
        ScramError::WrongPassword => fatal(
            sqlstate::INVALID_PASSWORD,
            format!("password authentication failed for user \"{user}\""),
        ),
    }
}

impl Startup {
    fn user<C: ClientInfo>(&self, client: &C) -> PgWireResult<String> {
        client
            .metadata()
            .get("user")
            .filter(|u| !u.is_empty())
            .cloned()
            .ok_or_else(|| {
                fatal(
                    sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                    "no PostgreSQL user name specified in startup packet",
                )
            })
    }

    fn take_exchange(&self) -> Option<Challenge> {
        self.exchange
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn put_exchange(&self, challenge: Challenge) {
        *self.exchange.lock().unwrap_or_else(|p| p.into_inner()) = Some(challenge);
    }

    /// The verifier `user` logs in against: its own, or one nothing matches.
    fn verifier(&self, user: &str) -> Verifier {
        self.auth
            .roles
            .get(user)
            .and_then(|role| role.verifier())
            .unwrap_or_else(|| {
                Verifier::impossible(&[&self.auth.mock_seed[..], user.as_bytes()].concat())
            })
    }

    /// Ends start-up for `user`, authenticated (or trusted).
    async fn log_in<C>(&self, client: &mut C, user: &str) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // A trusted name that is no role is the built-in superuser.
        let role = self.auth.roles.get(user);
        if role.as_ref().is_some_and(|r| !r.login) {
            return Err(fatal(
                sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("role \"{user}\" is not permitted to log in"),
            ));
        }
        let session_role = if role.is_some() { user } else { "" };
        let (pid, _) = client.pid_and_secret_key();
        self.backends.set_user(pid, user);
        client
            .metadata_mut()
            .insert(SESSION_ROLE.into(), session_role.into());
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
        let parameters = Parameters {
            is_superuser: role.is_none_or(|r| r.superuser),
        };
        finish_authentication(client, &parameters).await?;
        client.flush().await?;
        Ok(())
    }
}
