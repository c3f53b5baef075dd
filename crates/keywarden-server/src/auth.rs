//! API-key authentication: keys are read one per line, kept only as SHA-256 digests, and a
//! presented key is compared against every digest in constant time (no early exit on a match).

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

use crate::error::ServerError;

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
        value
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|k| self.check(k.trim()))
    }
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
}
