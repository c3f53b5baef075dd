//! JWS-only verification: the JOSE and signature rules of the validator without any JWT claim
//! rules, for payloads that are not claim sets (test vectors, detached tooling). The validator
//! never calls this; it applies the same checks in its own order.

use crate::crypto::Alg;
use crate::jose::{Header, b64_decode, split};
use crate::jwks::KeySet;
use crate::reason::{Rejection, evidence};

/// A verified JWS: its header, algorithm and decoded payload bytes.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    pub header: Header,
    pub alg: Alg,
    pub payload: Vec<u8>,
}

/// Verifies a compact JWS against `keys` (exact `kid` match, the key's algorithms only).
pub fn verify_jws(token: &str, keys: &KeySet, max_len: usize) -> Result<VerifiedJws, Rejection> {
    let c = split(token, max_len)?;
    let header = Header::parse(c.header_b64)?;
    let alg = Alg::parse(&header.alg).ok_or_else(|| Rejection::UnsupportedAlg {
        alg: evidence(&header.alg),
    })?;
    let key = keys
        .keys
        .get(&header.kid)
        .ok_or_else(|| Rejection::UnknownKid {
            kid: evidence(&header.kid),
            issuer_id: String::new(),
        })?;
    if !key.key.allows(alg) {
        return Err(Rejection::AlgNotAllowed {
            alg: alg.name().into(),
            kid: evidence(&header.kid),
            issuer_id: String::new(),
        });
    }
    let payload = b64_decode(c.payload_b64, "payload")?;
    let signature = b64_decode(c.signature_b64, "signature")?;
    key.key
        .verify(alg, c.signing_input.as_bytes(), &signature, &header.kid)?;
    Ok(VerifiedJws {
        header,
        alg,
        payload,
    })
}
