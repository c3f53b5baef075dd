//! Our own JOSE parsing: compact JWS splitting, strict base64url, JSON objects without duplicate
//! members, and typed access to the header and the claims.
//!
//! [`verify_jws`] applies the JOSE and signature rules without any JWT claim rules, for payloads
//! that are not claim sets (test vectors, tooling); the validator applies the same checks in its
//! own order.
//!
//! Nothing here trusts the token: every member is type-checked, unknown header members that
//! would change the meaning of the token (`crit`, `b64`, header-supplied keys) are refused, and
//! JSON text that repeats a member anywhere (in nested objects too) is refused rather than
//! resolved "last one wins" as `serde_json::Value` would.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use crate::crypto::Alg;
pub use crate::json::{Members, parse_members, parse_object};
use crate::jwks::KeySet;
use crate::reason::{Rejection, evidence};

/// Strict base64url: URL alphabet, no padding, no non-canonical trailing bits.
pub const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Longest `kid` accepted, in bytes.
pub const MAX_KID_LEN: usize = 256;

/// Decodes strict base64url; `part` names the token part for the rejection.
pub fn b64_decode(s: &str, part: &'static str) -> Result<Vec<u8>, Rejection> {
    crate::b64::decode_vec(s.as_bytes()).ok_or(Rejection::BadBase64 { part })
}

/// Decodes strict base64url into `buf` when it fits (no allocation), else into `spill`; same
/// rules and rejections as [`b64_decode`].
pub fn b64_decode_buf<'b>(
    s: &str,
    part: &'static str,
    buf: &'b mut [u8],
    spill: &'b mut Vec<u8>,
) -> Result<&'b [u8], Rejection> {
    let bad = || Rejection::BadBase64 { part };
    let len = crate::b64::decoded_len(s.len()).ok_or_else(bad)?;
    match buf.get_mut(..len) {
        Some(out) => crate::b64::decode_exact(s.as_bytes(), out)
            .then_some(&*out)
            .ok_or_else(bad),
        None => {
            *spill = b64_decode(s, part)?;
            Ok(spill)
        }
    }
}

/// Decoded headers up to this many bytes are decoded on the stack.
const HEADER_INLINE: usize = 512;

/// The three parts of a compact JWS, still encoded, plus the signing input.
#[derive(Debug, Clone, Copy)]
pub struct Compact<'a> {
    pub header_b64: &'a str,
    pub payload_b64: &'a str,
    pub signature_b64: &'a str,
    /// `header_b64 '.' payload_b64`: exactly the bytes the signature covers.
    pub signing_input: &'a str,
}

/// Splits a compact JWS after the size cap; refuses the JSON serialisation outright.
pub fn split(token: &str, max_len: usize) -> Result<Compact<'_>, Rejection> {
    if token.len() > max_len {
        return Err(Rejection::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    if token.trim_start().starts_with('{') {
        return Err(Rejection::JsonSerialization);
    }
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (first, second) = (dots.next(), dots.next());
    let parts = 1 + usize::from(first.is_some()) + usize::from(second.is_some()) + dots.count();
    let malformed = Rejection::Malformed { parts };
    let (Some(d1), Some(d2)) = (first, second) else {
        return Err(malformed);
    };
    if parts != 3 || d1 == 0 {
        return Err(malformed);
    }
    // '.' is ASCII, so every cut below is on a character boundary.
    let (Some(h), Some(p), Some(s), Some(signing_input)) = (
        token.get(..d1),
        token.get(d1 + 1..d2),
        token.get(d2 + 1..),
        token.get(..d2),
    ) else {
        return Err(malformed);
    };
    Ok(Compact {
        header_b64: h,
        payload_b64: p,
        signature_b64: s,
        signing_input,
    })
}

/// The protected header, checked for everything that must never be honoured.
#[derive(Debug, Clone)]
pub struct Header {
    pub alg: String,
    pub kid: String,
    pub typ: Option<String>,
    pub cty: Option<String>,
}

/// Header members we read; every other member is only checked for duplicates.
const HEADER_MEMBERS: &[&str] = &[
    "alg", "kid", "typ", "cty", "crit", "b64", "jwk", "jku", "x5u", "x5c",
];

/// Claims the validator reads; the rest are only checked for duplicates.
pub const CLAIM_MEMBERS: &[&str] = &["iss", "tid", "aud", "sub", "exp", "nbf", "iat"];

/// Claims about the token's holder that the validator does not check but keeps for relying
/// parties (`keywarden gateway`'s identity headers and decision log), so that they need not
/// parse the payload a second time: [`crate::VerifiedToken::holder`].
pub const HOLDER_CLAIMS: &[&str] = &[
    "oid",
    "appid",
    "azp",
    "uti",
    "jti",
    "upn",
    "preferred_username",
    "scp",
    "roles",
];

fn opt_str(m: &mut Members, name: &'static str) -> Result<Option<String>, Rejection> {
    match m.take(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Rejection::BadHeader { member: name }),
    }
}

impl Header {
    /// Decodes and checks the header. Order: JSON shape, alg, embedded keys, crit, b64, kid.
    pub fn parse(header_b64: &str) -> Result<Header, Rejection> {
        let (mut buf, mut spill) = ([0u8; HEADER_INLINE], Vec::new());
        let bytes = b64_decode_buf(header_b64, "header", &mut buf, &mut spill)?;
        let mut m = parse_members(bytes, "header", &[HEADER_MEMBERS])?;
        let alg = opt_str(&mut m, "alg")?.ok_or(Rejection::BadHeader { member: "alg" })?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(Rejection::AlgNone);
        }
        for member in ["jwk", "jku", "x5u", "x5c"] {
            if m.contains(member) {
                return Err(Rejection::EmbeddedKey { member });
            }
        }
        if let Some(crit) = m.get("crit") {
            let names = match crit {
                Value::Array(a) => a.iter().map(|v| evidence(&v.to_string())).collect(),
                other => vec![evidence(&other.to_string())],
            };
            return Err(Rejection::Crit { names });
        }
        match m.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => return Err(Rejection::UnencodedPayload),
        }
        let kid = match m.take("kid") {
            None => return Err(Rejection::MissingKid),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(Rejection::BadKid {
                    kid: evidence(&other.to_string()),
                });
            }
        };
        if kid.is_empty() || kid.len() > MAX_KID_LEN || kid.chars().any(char::is_control) {
            return Err(Rejection::BadKid {
                kid: evidence(&kid),
            });
        }
        let typ = opt_str(&mut m, "typ")?;
        let cty = opt_str(&mut m, "cty")?;
        if cty.as_deref().is_some_and(|c| media_type_is(c, "jwt")) {
            return Err(Rejection::NestedJwt);
        }
        Ok(Header { alg, kid, typ, cty })
    }
}

/// Compares media types per RFC 7515 §4.1.9: case-insensitive, `application/` optional.
pub fn media_type_is(value: &str, want: &str) -> bool {
    let v = value.strip_prefix("application/").unwrap_or(value);
    let w = want.strip_prefix("application/").unwrap_or(want);
    v.eq_ignore_ascii_case(w)
}

/// Decodes the payload and reads the claims the validator needs ([`CLAIM_MEMBERS`]) and the
/// holder claims ([`HOLDER_CLAIMS`]), checking the whole object for duplicate members. Returns
/// the decoded payload too. A payload that is not a JSON object
/// (including a nested compact JWT) is refused.
pub fn parse_claims(payload_b64: &str) -> Result<(Members, Vec<u8>), Rejection> {
    let bytes = b64_decode(payload_b64, "payload")?;
    if bytes.first() == Some(&b'e') && bytes.split(|b| *b == b'.').count() == 3 {
        return Err(Rejection::NestedJwt);
    }
    let m = parse_members(&bytes, "payload", &[CLAIM_MEMBERS, HOLDER_CLAIMS])?;
    Ok((m, bytes))
}

/// Reads a NumericDate claim: an integer, or a finite float within the i64 range (floored).
/// Strings, booleans and out-of-range numbers are refused.
pub fn numeric_date(value: Option<&Value>, claim: &'static str) -> Result<Option<i64>, Rejection> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                // 2^63 is exactly representable; anything at or beyond it overflows i64.
                Some(f)
                    if f.is_finite()
                        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
                {
                    Ok(Some(f.floor() as i64))
                }
                _ => Err(Rejection::BadTime { claim }),
            }
        }
        Some(_) => Err(Rejection::BadTime { claim }),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn enc(s: &str) -> String {
        B64.encode(s.as_bytes())
    }

    #[test]
    fn base64_is_strict() {
        assert!(b64_decode("Zm9v", "payload").is_ok());
        assert!(b64_decode("Zm9v==", "payload").is_err());
        assert!(b64_decode("Zm8=", "payload").is_err());
        assert!(b64_decode("Zm8+", "payload").is_err());
        assert!(b64_decode("Zm8", "payload").is_ok());
        assert!(b64_decode("Zm9", "payload").is_err());
        assert!(b64_decode("Zm9v ", "payload").is_err());
        // Non-canonical trailing bits ("AB" vs canonical "AA").
        assert!(b64_decode("AB", "payload").is_err());
    }

    #[test]
    fn header_rules() {
        let h = |s: &str| Header::parse(&enc(s));
        assert_eq!(
            h(r#"{"alg":"none","kid":"a"}"#).unwrap_err().code(),
            "alg-none"
        );
        assert_eq!(
            h(r#"{"alg":"NoNe","kid":"a"}"#).unwrap_err().code(),
            "alg-none"
        );
        assert_eq!(
            h(r#"{"alg":"RS256","kid":"a","jku":"x"}"#)
                .unwrap_err()
                .code(),
            "embedded-key"
        );
        assert_eq!(
            h(r#"{"alg":"RS256","kid":"a","crit":["exp"],"exp":1}"#)
                .unwrap_err()
                .code(),
            "crit-unsupported"
        );
        assert_eq!(
            h(r#"{"alg":"RS256","kid":"a","b64":false}"#)
                .unwrap_err()
                .code(),
            "b64-false"
        );
        assert_eq!(h(r#"{"alg":"RS256"}"#).unwrap_err().code(), "missing-kid");
        assert_eq!(
            h(r#"{"alg":"RS256","kid":5}"#).unwrap_err().code(),
            "bad-kid"
        );
        assert_eq!(
            h(r#"{"alg":"RS256","kid":"a","cty":"JWT"}"#)
                .unwrap_err()
                .code(),
            "nested-jwt"
        );
        assert_eq!(h(r#"{"kid":"a"}"#).unwrap_err().code(), "bad-header");
        assert_eq!(
            h(r#"{"alg":"RS256","kid":"a","typ":7}"#)
                .unwrap_err()
                .code(),
            "bad-header"
        );
        let ok = h(r#"{"alg":"RS256","kid":"a","typ":"JWT","b64":true}"#).unwrap();
        assert_eq!(ok.kid, "a");
    }

    #[test]
    fn split_rules() {
        assert_eq!(split("a.b", 100).unwrap_err().code(), "malformed");
        assert_eq!(split("a.b.c.d", 100).unwrap_err().code(), "malformed");
        assert_eq!(split(".b.c", 100).unwrap_err().code(), "malformed");
        assert_eq!(
            split("{\"payload\":1}", 100).unwrap_err().code(),
            "json-serialization"
        );
        assert_eq!(
            split(&"a".repeat(101), 100).unwrap_err().code(),
            "too-large"
        );
        let c = split("h.p.s", 100).unwrap();
        assert_eq!(c.signing_input, "h.p");
    }

    #[test]
    fn numeric_dates() {
        let m = parse_object(
            br#"{"a":1,"b":"1","c":1.5,"d":1e300,"e":-5,"f":9223372036854775808}"#,
            "payload",
        )
        .unwrap();
        assert_eq!(numeric_date(m.get("a"), "a").unwrap(), Some(1));
        assert_eq!(
            numeric_date(m.get("b"), "b").unwrap_err().code(),
            "bad-time"
        );
        assert_eq!(numeric_date(m.get("c"), "c").unwrap(), Some(1));
        assert_eq!(
            numeric_date(m.get("d"), "d").unwrap_err().code(),
            "bad-time"
        );
        assert_eq!(numeric_date(m.get("e"), "e").unwrap(), Some(-5));
        assert_eq!(
            numeric_date(m.get("f"), "f").unwrap_err().code(),
            "bad-time"
        );
        assert_eq!(numeric_date(m.get("zz"), "zz").unwrap(), None);
    }
}
