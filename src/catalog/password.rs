//! SCRAM-SHA-256 password verifiers, stored as PostgreSQL stores them
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, RFC 5803), and the
//! checks of a SCRAM exchange that need them.
//!
//! The password itself is never kept: the verifier lets the server check a client's
//! proof and prove itself to the client, but not log in as the role (that needs the
//! client key, which only the password gives).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};

use crate::error::{Result, SluiceError, sqlstate};

/// PostgreSQL's default `scram_iterations`.
const ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;
const PREFIX: &str = "SCRAM-SHA-256$";

/// A parsed SCRAM-SHA-256 verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// PBKDF2 iterations the client must hash its password with.
    pub iterations: u32,
    /// The salt, sent to the client.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`: checks the client's proof.
    stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server's final message.
    server_key: Vec<u8>,
}

impl Verifier {
    /// The verifier of `password` with a fresh random salt.
    pub fn from_password(password: &str) -> Result<Verifier> {
        let mut salt = vec![0u8; SALT_LEN];
        getrandom::fill(&mut salt)
            .map_err(|e| SluiceError::Internal(format!("no random salt: {e}")))?;
        Ok(Verifier::with_salt(password, salt, ITERATIONS))
    }

    fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Verifier {
        // As PostgreSQL: SASLprep the password, or use it as is when that fails.
        let prepared = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_string());
        let mut salted = [0u8; KEY_LEN];
        let rounds = std::num::NonZeroU32::new(iterations).unwrap_or(std::num::NonZeroU32::MIN);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            prepared.as_bytes(),
            &mut salted,
        );
        let client_key = sign(&salted, b"Client Key");
        Verifier {
            iterations,
            salt,
            stored_key: digest::digest(&digest::SHA256, &client_key)
                .as_ref()
                .to_vec(),
            server_key: sign(&salted, b"Server Key"),
        }
    }

    /// A verifier no password matches (the mock a missing role authenticates
    /// against, so that a client cannot tell missing roles from wrong passwords).
    pub fn impossible(salt_seed: &[u8]) -> Verifier {
        Verifier {
            iterations: ITERATIONS,
            salt: digest::digest(&digest::SHA256, salt_seed).as_ref()[..SALT_LEN].to_vec(),
            stored_key: vec![0; KEY_LEN],
            server_key: vec![0; KEY_LEN],
        }
    }

    /// Reads a stored verifier; `None` when `text` is not one.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix(PREFIX)?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        let verifier = Verifier {
            iterations: iterations.parse().ok().filter(|i| *i > 0)?,
            salt: STANDARD.decode(salt).ok()?,
            stored_key: STANDARD.decode(stored_key).ok()?,
            server_key: STANDARD.decode(server_key).ok()?,
        };
        (verifier.stored_key.len() == KEY_LEN && verifier.server_key.len() == KEY_LEN)
            .then_some(verifier)
    }

    /// Whether `proof` is the client proof of `auth_message` (RFC 5802 §3).
    pub fn accepts(&self, auth_message: &[u8], proof: &[u8]) -> bool {
        if proof.len() != KEY_LEN {
            return false;
        }
        let signature = sign(&self.stored_key, auth_message);
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        let computed = digest::digest(&digest::SHA256, &client_key);
        // Compared in constant time: no early exit on the first differing byte.
        computed
            .as_ref()
            .iter()
            .zip(&self.stored_key)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }

    /// The server's signature of `auth_message`, proving it knows the verifier.
    pub fn server_signature(&self, auth_message: &[u8]) -> Vec<u8> {
        sign(&self.server_key, auth_message)
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }
}

/// The verifier to store for `PASSWORD '...'`: a SCRAM verifier given as is (as
/// PostgreSQL takes one), else the verifier of the password.
pub fn verifier_for(password: &str) -> Result<Verifier> {
    if let Some(verifier) = Verifier::parse(password) {
        return Ok(verifier);
    }
    if password.starts_with(PREFIX) {
        return Err(SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            "malformed SCRAM-SHA-256 secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>",
        ));
    }
    if password.len() == 35
        && password.starts_with("md5")
        && password[3..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(SluiceError::not_supported(
            "MD5 password hashes are not supported; give the password itself or a \
             SCRAM-SHA-256 secret",
        ));
    }
    if password.is_empty() {
        return Err(SluiceError::coded(
            sqlstate::INVALID_PARAMETER_VALUE,
            "empty passwords are not allowed; use PASSWORD NULL for a role without one",
        ));
    }
    Verifier::from_password(password)
}

fn sign(key: &[u8], message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example: user "user", password "pencil".
    #[test]
    fn the_rfc_example_exchange_verifies() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = Verifier::with_salt("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = STANDARD
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert!(verifier.accepts(auth_message.as_bytes(), &proof));
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(!verifier.accepts(auth_message.as_bytes(), &wrong));
        assert_eq!(
            STANDARD.encode(verifier.server_signature(auth_message.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn verifiers_round_trip_through_their_text() {
        let verifier = Verifier::from_password("secret").unwrap();
        let text = verifier.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"));
        assert_eq!(Verifier::parse(&text), Some(verifier.clone()));
        assert_eq!(verifier_for(&text).unwrap(), verifier);
        assert!(Verifier::parse("SCRAM-SHA-256$4096:abc").is_none());
        assert!(verifier_for("SCRAM-SHA-256$x").is_err());
        assert!(verifier_for("md5d41d8cd98f00b204e9800998ecf8427e").is_err());
        assert!(verifier_for("").is_err());
    }

    #[test]
    fn the_impossible_verifier_accepts_nothing() {
        let verifier = Verifier::impossible(b"nobody");
        assert!(!verifier.accepts(b"anything", &[0; KEY_LEN]));
        assert_eq!(verifier.salt, Verifier::impossible(b"nobody").salt);
    }
}
