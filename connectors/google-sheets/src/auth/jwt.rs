//! The JWT a service account signs to get an access token (RFC 7523, RS256).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use sheetbridge_core::{Error, ErrorKind};

use super::{Secret, ServiceAccountKey};
use crate::config::SCOPE;

/// How long an assertion is valid; Google takes at most an hour.
const LIFETIME_SECONDS: i64 = 3600;

/// A service account's parsed key, ready to sign.
pub(crate) struct Signer {
    pub email: String,
    pub key_id: String,
    pair: RsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl Signer {
    /// Parses the PKCS#8 PEM key; the error names the account, never the key.
    pub fn new(key: &ServiceAccountKey) -> Result<Signer, Error> {
        let refuse = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("the private_key of the service account {} {why}", key.client_email),
            )
        };
        let der = pem_body(&key.private_key, "PRIVATE KEY")
            .ok_or_else(|| refuse("is not a PEM `-----BEGIN PRIVATE KEY-----` block"))?;
        let pair =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| refuse(&format!("is not a PKCS#8 RSA key ({e})")))?;
        Ok(Signer {
            email: key.client_email.clone(),
            key_id: key.private_key_id.clone(),
            pair,
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// A signed assertion for the spreadsheets scope, addressed to `token_url`, issued at `now` (Unix seconds).
    pub fn assertion(&self, token_url: &str, now: i64) -> Result<Secret, Error> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if !self.key_id.is_empty() {
            header["kid"] = self.key_id.clone().into();
        }
        let claims = serde_json::json!({
            "iss": self.email,
            "scope": SCOPE,
            "aud": token_url,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair.sign(&RSA_PKCS1_SHA256, &self.rng, signed.as_bytes(), &mut signature).map_err(|_| {
            Error::new(
                ErrorKind::Other,
                format!("cannot sign with the key of the service account {}", self.email),
            )
        })?;
        Ok(Secret::new(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }
}

/// The DER bytes of the PEM block labelled `label`.
fn pem_body(pem: &Secret, label: &str) -> Option<Vec<u8>> {
    let pem = pem.expose();
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    // Keys pasted into environment variables often carry literal `\n`s.
    let text: String = pem[start..stop].replace("\\n", "").chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(text).ok()
}
