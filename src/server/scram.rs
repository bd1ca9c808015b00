//! The server side of a SCRAM-SHA-256 exchange (RFC 5802 and 7677, as PostgreSQL
//! runs it): the client's first message, the server's challenge, the client's proof
//! and the server's signature. The messages only; start-up ([`super::startup`])
//! carries them in SASL authentication messages.
//!
//! Like PostgreSQL, the user name inside the SCRAM messages is ignored (the start-up
//! packet's counts), channel binding is not offered (`n` and `y` flags only), and a
//! role that does not exist or has no password goes through the same exchange with a
//! verifier nothing matches, failing only at the proof.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::catalog::password::Verifier;

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// A malformed or unexpected message (`08P01`).
    Protocol(String),
    /// The proof did not match (`28P01`).
    WrongPassword,
}

/// An exchange after the server's challenge, waiting for the client's proof.
#[derive(Debug)]
pub struct Challenge {
    verifier: Verifier,
    /// `n,,` or `y,,`: what the client's `c=` attribute must encode.
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

fn protocol(message: &str) -> ScramError {
    ScramError::Protocol(message.to_string())
}

/// Reads the client's first message and returns the challenge to send
/// (`server-first-message`) with the exchange's state. `verifier` is the role's
/// (or [`Verifier::impossible`]); `server_nonce` fresh random bytes.
pub fn challenge(
    client_first: &[u8],
    verifier: Verifier,
    server_nonce: &[u8],
) -> Result<(String, Challenge), ScramError> {
    let text = std::str::from_utf8(client_first)
        .map_err(|_| protocol("malformed SCRAM message: not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(protocol("malformed SCRAM message: no GS2 header"));
    };
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => {
            return Err(protocol(
                "channel binding is not supported: connect with channel_binding=disable or prefer",
            ));
        }
        _ => {
            return Err(protocol(
                "malformed SCRAM message: unexpected channel binding flag",
            ));
        }
    }
    if !authzid.is_empty() {
        return Err(protocol(
            "client uses authorization identity, but it is not supported",
        ));
    }
    if bare.starts_with("m=") {
        return Err(protocol("client requires an unsupported SCRAM extension"));
    }
    let client_nonce = bare
        .split(',')
        .find_map(|attribute| attribute.strip_prefix("r="))
        .filter(|nonce| {
            !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_graphic() && b != b',')
        })
        .ok_or_else(|| protocol("malformed SCRAM message: no client nonce"))?;
    let nonce = format!("{client_nonce}{}", STANDARD.encode(server_nonce));
    let server_first = format!(
        "r={nonce},s={},i={}",
        STANDARD.encode(&verifier.salt),
        verifier.iterations
    );
    Ok((
        server_first.clone(),
        Challenge {
            verifier,
            gs2_header: format!("{flag},{authzid},"),
            client_first_bare: bare.to_string(),
            server_first,
            nonce,
        },
    ))
}

impl Challenge {
    /// Checks the client's final message; returns the server's final message
    /// (`v=<signature>`) when the proof matches.
    pub fn verify(&self, client_final: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(client_final)
            .map_err(|_| protocol("malformed SCRAM message: not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| protocol("malformed SCRAM message: no proof"))?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or_else(|| protocol("malformed SCRAM message: no channel binding"))?;
        if STANDARD.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(protocol("SCRAM channel binding check failed"));
        }
        let nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| protocol("malformed SCRAM message: no nonce"))?;
        if nonce != self.nonce {
            return Err(protocol("SCRAM nonce mismatch"));
        }
        let proof = STANDARD
            .decode(proof)
            .map_err(|_| protocol("malformed SCRAM message: proof is not base64"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        if !self.verifier.accepts(auth_message.as_bytes(), &proof) {
            return Err(ScramError::WrongPassword);
        }
        Ok(format!(
            "v={}",
            STANDARD.encode(self.verifier.server_signature(auth_message.as_bytes()))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::{digest, hmac, pbkdf2};

    /// A client computing its proof as libpq does.
    fn client_final(password: &str, server_first: &str, client_first_bare: &str) -> String {
        let mut fields = server_first.split(',');
        let nonce = fields.next().unwrap().strip_prefix("r=").unwrap();
        let salt = STANDARD
            .decode(fields.next().unwrap().strip_prefix("s=").unwrap())
            .unwrap();
        let iterations: u32 = fields.next().unwrap()[2..].parse().unwrap();
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(iterations).unwrap(),
            &salt,
            password.as_bytes(),
            &mut salted,
        );
        let key = |k: &[u8], m: &[u8]| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k), m);
        let client_key = key(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = key(stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    fn exchange(stored: &str, typed: &str) -> Result<String, ScramError> {
        let verifier = Verifier::parse(
            &crate::catalog::password::verifier_for(stored)
                .unwrap()
                .to_string(),
        )
        .unwrap();
        let bare = "n=,r=clientnonce123";
        let (server_first, challenge) =
            challenge(format!("n,,{bare}").as_bytes(), verifier, b"server").unwrap();
        assert!(server_first.starts_with("r=clientnonce123"));
        challenge.verify(client_final(typed, &server_first, bare).as_bytes())
    }

    #[test]
    fn the_right_password_passes_and_a_wrong_one_does_not() {
        assert!(exchange("secret", "secret").unwrap().starts_with("v="));
        assert_eq!(exchange("secret", "Secret"), Err(ScramError::WrongPassword));
    }

    #[test]
    fn malformed_messages_are_protocol_errors() {
        let verifier = Verifier::impossible(b"x");
        for first in [
            "",
            "n,",
            "p=tls-server-end-point,,n=,r=a",
            "n,a,n=,r=x",
            "n,,n=,r=",
        ] {
            assert!(
                matches!(
                    challenge(first.as_bytes(), verifier.clone(), b"s"),
                    Err(ScramError::Protocol(_))
                ),
                "{first}"
            );
        }
        let (_, challenge) = challenge(b"n,,n=,r=abc", verifier, b"s").unwrap();
        for last in [
            "c=biws,r=abc",
            "c=eSws,r=abcczE=,p=AAAA",
            "c=biws,r=other,p=AAAA",
        ] {
            assert!(
                matches!(
                    challenge.verify(last.as_bytes()),
                    Err(ScramError::Protocol(_))
                ),
                "{last}"
            );
        }
    }
}
