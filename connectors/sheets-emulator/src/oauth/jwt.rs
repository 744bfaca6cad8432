//! RS256 JSON Web Tokens as a service account signs them (RFC 7523), and the
//! PEM private keys of Google's service-account key files.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};

/// The DER body of a PEM block (`-----BEGIN PRIVATE KEY-----`).
pub(crate) fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(|| format!("no `{begin}` line"))? + begin.len();
    let stop = pem[start..].find(&end).ok_or_else(|| format!("no `{end}` line"))? + start;
    let text: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(text).map_err(|e| format!("the PEM body is not base64 ({e})"))
}

/// The RSA public key (DER `RSAPublicKey`) of a PKCS#8 PEM private key.
pub(crate) fn public_key_of(private_key_pem: &str) -> Result<Vec<u8>, String> {
    let der = pem_body(private_key_pem, "PRIVATE KEY")?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("not a PKCS#8 RSA private key ({e})"))?;
    Ok(pair.public_key().as_ref().to_vec())
}

/// A JWT whose signature checked out.
#[derive(Debug)]
pub(crate) struct Verified {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
}

/// Why an assertion was refused, in Google's words.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Malformed(String),
    Signature,
}

/// The header and claims of `jwt`, before the signature is checked (to find the key).
pub(crate) fn peek(jwt: &str) -> Result<Verified, Refused> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused::Malformed("Invalid JWT: the assertion is not three base64url parts".into()));
    };
    let json = |part: &str| -> Result<serde_json::Value, Refused> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| Refused::Malformed("Invalid JWT: a part is not base64url".into()))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| Refused::Malformed("Invalid JWT: a part is not JSON".into()))
    };
    Ok(Verified { header: json(header)?, claims: json(claims)? })
}

/// Checks the RS256 signature of `jwt` against `public_key` (DER `RSAPublicKey`).
pub(crate) fn verify(jwt: &str, public_key: &[u8]) -> Result<Verified, Refused> {
    let verified = peek(jwt)?;
    if verified.header.get("alg").and_then(|a| a.as_str()) != Some("RS256") {
        return Err(Refused::Malformed("Invalid JWT: the algorithm must be RS256".into()));
    }
    let (signed, signature) = jwt.rsplit_once('.').ok_or(Refused::Signature)?;
    let signature =
        URL_SAFE_NO_PAD.decode(signature.trim_end_matches('=')).map_err(|_| Refused::Signature)?;
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| Refused::Signature)?;
    Ok(verified)
}
