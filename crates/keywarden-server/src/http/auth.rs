//! API-key authentication: keys are read one per line, kept only as SHA-256 digests, and a
//! presented key is compared against every digest in constant time (no early exit on a match).
//! Who acted is recorded in the audit trail as a non-secret [`key_id`] (`key:` and the first 12
//! hex digits of the key's SHA-256 digest) or, for a `[auth]` JWT, its `sub` ([`jwt_actor`]);
//! never the key or the token itself.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

use crate::error::ServerError;

/// Who an authenticated request acts as (`key:…` or `jwt:…`), put in the request by the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// The accepted API keys, hashed.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

/// Keys shorter than this are refused: they are guessable.
pub const MIN_KEY_LEN: usize = 16;

impl ApiKeys {
    /// Parses a key file: one key per line, blank lines and `#` comments ignored.
    pub fn parse(text: &str) -> Result<ApiKeys, ServerError> {
        let mut digests = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let key = line.trim();
            if key.is_empty() || key.starts_with('#') {
                continue;
            }
            if key.len() < MIN_KEY_LEN {
                return Err(ServerError::WeakKey {
                    line: i + 1,
                    min: MIN_KEY_LEN,
                });
            }
            digests.push(hash(key));
        }
        if digests.is_empty() {
            return Err(ServerError::NoKeys);
        }
        Ok(ApiKeys { digests })
    }

    /// Whether `presented` is one of the keys.
    pub fn check(&self, presented: &str) -> bool {
        let d = hash(presented);
        let mut ok = false;
        for k in &self.digests {
            ok |= verify_slices_are_equal(k, &d).is_ok();
        }
        ok
    }

    /// The key of an `Authorization: Bearer KEY` header value.
    pub fn check_header(&self, value: Option<&str>) -> bool {
        self.identify_header(value).is_some()
    }

    /// The audit id (`key:` + 12 hex digits of its digest) of `presented` if it is one of the
    /// keys. Every digest is compared (constant time, no early exit).
    pub fn identify(&self, presented: &str) -> Option<String> {
        let d = hash(presented);
        let mut found: Option<&[u8; 32]> = None;
        for k in &self.digests {
            if verify_slices_are_equal(k, &d).is_ok() {
                found = Some(k);
            }
        }
        found.map(key_id)
    }

    /// [`ApiKeys::identify`] for an `Authorization: Bearer KEY` header value.
    pub fn identify_header(&self, value: Option<&str>) -> Option<String> {
        value
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|k| self.identify(k.trim()))
    }
}

/// Hex digits of the digest kept in a key id: 48 bits, enough to tell an operator's keys apart,
/// far too few to help guess a key of at least [`MIN_KEY_LEN`] characters.
pub const KEY_ID_HEX: usize = 12;

/// The non-secret id of a key by its SHA-256 digest: `key:` and its first 12 hex digits.
pub fn key_id(digest: &[u8; 32]) -> String {
    let mut out = String::from("key:");
    for b in digest.iter().take(KEY_ID_HEX / 2) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The most characters of a JWT subject kept in an actor.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// The audit actor of a validated JWT: `jwt:` and its `sub` (control characters replaced,
/// at most [`MAX_SUBJECT_CHARS`]), or `jwt:<issuer id>` when the token has no subject. The
/// value comes from the token's issuer, not from the server: pages escape it when shown.
pub fn jwt_actor(sub: Option<&str>, issuer_id: &str) -> String {
    let who = match sub {
        Some(s) if !s.trim().is_empty() => s,
        _ => issuer_id,
    };
    let clean: String = who
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    format!("jwt:{clean}")
}

fn hash(key: &str) -> [u8; 32] {
    let d = digest(&SHA256, key.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_weak_or_missing_keys_refused() {
        let k =
            ApiKeys::parse("# analysts\nkey-aaaaaaaaaaaaaaaa\n\nkey-bbbbbbbbbbbbbbbb\n").unwrap();
        assert!(k.check("key-aaaaaaaaaaaaaaaa"));
        assert!(k.check("key-bbbbbbbbbbbbbbbb"));
        assert!(!k.check("key-cccccccccccccccc"));
        assert!(k.check_header(Some("Bearer key-aaaaaaaaaaaaaaaa")));
        assert!(!k.check_header(Some("Basic key-aaaaaaaaaaaaaaaa")));
        assert!(!k.check_header(None));
        assert!(matches!(
            ApiKeys::parse("short\n"),
            Err(ServerError::WeakKey { line: 1, .. })
        ));
        assert!(matches!(
            ApiKeys::parse("# none\n"),
            Err(ServerError::NoKeys)
        ));
        assert!(!format!("{k:?}").contains("key-"));
    }

    #[test]
    fn key_ids_are_stable_short_and_not_the_key() {
        let k = ApiKeys::parse("key-aaaaaaaaaaaaaaaa\nkey-bbbbbbbbbbbbbbbb\n").unwrap();
        let a = k.identify("key-aaaaaaaaaaaaaaaa").unwrap();
        let b = k.identify("key-bbbbbbbbbbbbbbbb").unwrap();
        assert_ne!(a, b);
        assert_eq!(a, key_id(&hash("key-aaaaaaaaaaaaaaaa")));
        assert!(a.starts_with("key:") && a.len() == 4 + KEY_ID_HEX, "{a}");
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!a.contains("aaaa"));
        assert_eq!(k.identify("key-cccccccccccccccc"), None);
        assert_eq!(
            k.identify_header(Some("Bearer key-bbbbbbbbbbbbbbbb")),
            Some(b)
        );
        assert_eq!(k.identify_header(Some("key-bbbbbbbbbbbbbbbb")), None);
    }

    #[test]
    fn jwt_actors_carry_the_subject_without_control_characters() {
        assert_eq!(
            jwt_actor(Some("alice@example.com"), "soc"),
            "jwt:alice@example.com"
        );
        assert_eq!(jwt_actor(None, "soc"), "jwt:soc");
        assert_eq!(jwt_actor(Some("  "), "soc"), "jwt:soc");
        let hostile = jwt_actor(Some("a\x1b[31m\n<b>"), "soc");
        assert!(!hostile.chars().any(char::is_control), "{hostile:?}");
        assert!(hostile.contains("<b>"), "escaping is the renderer's job");
        let long = "x".repeat(1000);
        assert_eq!(jwt_actor(Some(&long), "soc").len(), 4 + MAX_SUBJECT_CHARS);
    }
}
