//! The verdict cache: accepted tokens by the SHA-256 of their bytes, each until the earliest of
//! its `exp` (plus the policy's leeway, exactly when the validator would start refusing it), its
//! signing key's `not_after`, and `max_age_seconds` after it was verified (so a key removed from
//! the JWKS stops being honoured within that age). Bounded: at most `max_entries`; expired
//! entries go first, then the oldest. Rejections are never cached: a token refused for a reason
//! that can change (`unknown-kid` before a key rotation) is checked again.
//!
//! Keying by a hash means the cache never holds a token, and a hit needs the exact same bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;

use crate::identity::Verified;

/// SHA-256 of a token.
pub type TokenHash = [u8; 32];

pub fn token_hash(token: &str) -> TokenHash {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

struct Entry {
    verified: Arc<Verified>,
    /// Unix seconds from which the verdict is no longer used.
    until: i64,
}

struct Inner {
    map: HashMap<TokenHash, Entry>,
    order: VecDeque<TokenHash>,
}

/// Hit and miss counters for `/.keywarden/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

pub struct VerdictCache {
    max_entries: usize,
    max_age: i64,
    inner: Mutex<Inner>,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl VerdictCache {
    pub fn new(max_entries: usize, max_age_seconds: i64) -> VerdictCache {
        VerdictCache {
            max_entries,
            max_age: max_age_seconds,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// The cached verified token for `hash` if its verdict still holds at `now` (unix seconds).
    pub fn get(&self, hash: &TokenHash, now: i64) -> Option<Arc<Verified>> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.max_entries == 0 {
            return None;
        }
        let mut g = lock(&self.inner);
        let hit = match g.map.get(hash) {
            Some(e) if now < e.until => Some(e.verified.clone()),
            Some(_) => {
                g.map.remove(hash);
                None
            }
            None => None,
        };
        drop(g);
        match &hit {
            Some(_) => self.hits.fetch_add(1, Relaxed),
            None => self.misses.fetch_add(1, Relaxed),
        };
        hit
    }

    /// Remembers an accepted token. `valid_until` is when the validator would refuse it
    /// (`exp + leeway`, capped by the key's `not_after`); the entry also ends `max_age` after `now`.
    pub fn put(&self, hash: TokenHash, verified: Arc<Verified>, valid_until: i64, now: i64) {
        if self.max_entries == 0 {
            return;
        }
        let until = valid_until.min(now.saturating_add(self.max_age));
        if until <= now {
            return;
        }
        let mut g = lock(&self.inner);
        if g.map.len() >= self.max_entries {
            // Drop expired or already-removed entries first, then the oldest.
            while g.map.len() >= self.max_entries {
                let Some(old) = g.order.pop_front() else {
                    break;
                };
                g.map.remove(&old);
            }
        }
        if g.map.insert(hash, Entry { verified, until }).is_none() {
            g.order.push_back(hash);
        }
        // `order` may hold hashes whose entries expired and were removed by `get`; keep it
        // from growing beyond twice the bound.
        if g.order.len() > self.max_entries.saturating_mul(2) {
            let Inner { map, order } = &mut *g;
            order.retain(|h| map.contains_key(h));
        }
    }

    pub fn stats(&self) -> CacheStats {
        use std::sync::atomic::Ordering::Relaxed;
        CacheStats {
            entries: lock(&self.inner).map.len(),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::identity::Identity;

    fn id(sub: &str) -> Arc<Verified> {
        let identity = Identity {
            issuer_id: "i".into(),
            kid: "k".into(),
            alg: "ES256",
            iss: "https://i".into(),
            tid: None,
            aud: vec!["a".into()],
            sub: Some(sub.into()),
            oid: None,
            appid: None,
            uti: None,
            upn: None,
            scp: vec![],
            roles: vec![],
            exp: 0,
        };
        Verified::new(
            identity,
            &crate::identity::HeaderNames::new(&crate::config::IdentityHeaders::default()).unwrap(),
        )
    }

    #[test]
    fn entries_expire_at_the_earliest_bound() {
        let c = VerdictCache::new(10, 300);
        let h = token_hash("t1");
        c.put(h, id("a"), 1_000, 900);
        assert!(c.get(&h, 999).is_some());
        assert!(c.get(&h, 1_000).is_none(), "until exp+leeway");
        c.put(h, id("a"), 10_000, 900);
        assert!(c.get(&h, 1_199).is_some());
        assert!(c.get(&h, 1_200).is_none(), "max age");
        c.put(h, id("a"), 900, 900);
        assert!(c.get(&h, 900).is_none(), "already expired: not stored");
        assert_eq!(c.stats().hits, 2);
    }

    #[test]
    fn bounded_by_evicting_the_oldest() {
        let c = VerdictCache::new(3, 300);
        for i in 0..100 {
            c.put(token_hash(&format!("t{i}")), id("a"), 10_000, 0);
        }
        assert_eq!(c.stats().entries, 3);
        assert!(c.get(&token_hash("t99"), 1).is_some());
        assert!(c.get(&token_hash("t0"), 1).is_none());
        let off = VerdictCache::new(0, 300);
        off.put(token_hash("x"), id("a"), 10_000, 0);
        assert!(off.get(&token_hash("x"), 1).is_none());
        assert_ne!(token_hash("a"), token_hash("b"));
    }
}
