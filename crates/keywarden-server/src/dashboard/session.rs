//! Browser sessions for the dashboard: a login with an API key creates a session with a random
//! 256-bit id (the `kw_session` cookie: HttpOnly, SameSite=Strict, Secure under TLS) and its
//! own random CSRF token, and carries who logged in (the key's audit id, see
//! [`crate::http::auth::key_id`]) for the audit trail. Sessions live in memory only, expire after a
//! fixed lifetime, are bounded in number, and are removed on logout. Failed logins are
//! throttled per client ([`crate::http::throttle`]).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// The cookie carrying the session id.
pub const COOKIE: &str = "kw_session";

/// The most sessions kept at once (the oldest is dropped beyond it).
pub const MAX_SESSIONS: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hex of 32 random bytes, sent back in every state-changing form.
    pub csrf: String,
    /// Microseconds since the epoch after which the session is gone.
    pub expires: i64,
    /// Who logged in, as recorded in the audit trail (`key:0123456789ab`; never a secret).
    pub actor: String,
}

/// The sessions of every browser, keyed by session id (hex of 32 random bytes).
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Session lifetime in microseconds.
    lifetime: i64,
    /// Add `Secure` to the cookie (the server speaks TLS).
    pub secure_cookie: bool,
    /// Failed logins per client.
    pub throttle: crate::http::throttle::LoginThrottle,
}

impl Sessions {
    pub fn new(lifetime_seconds: i64, secure_cookie: bool) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            lifetime: lifetime_seconds.max(60).saturating_mul(1_000_000),
            secure_cookie,
            throttle: crate::http::throttle::LoginThrottle::new(Default::default()),
        }
    }

    /// Creates a session of `actor` at `now` (micros); returns its id, or `None` if the system
    /// random source failed (no session is better than a guessable one).
    pub fn create(&self, now: i64, actor: &str) -> Option<(String, Session)> {
        let id = random_hex()?;
        let session = Session {
            csrf: random_hex()?,
            expires: now.saturating_add(self.lifetime),
            actor: actor.to_string(),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(id.clone(), session.clone());
        Some((id, session))
    }

    /// The live session of this id at `now`.
    pub fn get(&self, id: &str, now: i64) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie(&self, id: &str) -> String {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            self.lifetime / 1_000_000
        )
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    pub fn clear_cookie(&self) -> String {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
    }
}

/// Whether a submitted CSRF token is the session's (constant time).
pub fn csrf_matches(session: &Session, submitted: &str) -> bool {
    verify_slices_are_equal(session.csrf.as_bytes(), submitted.as_bytes()).is_ok()
}

/// The session id in a `Cookie` header, if any.
pub fn session_id(cookie_header: Option<&str>) -> Option<&str> {
    cookie_header?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_are_removed_and_ids_are_random() {
        let s = Sessions::new(3600, false);
        let (a, sa) = s.create(0, "key:0123456789ab").unwrap();
        let (b, _) = s.create(0, "key:0123456789ab").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(sa.csrf, a);
        assert_eq!(sa.actor, "key:0123456789ab");
        assert_eq!(s.get(&a, 1).as_ref(), Some(&sa));
        assert_eq!(s.get(&a, 3_600_000_000), None, "expired");
        assert!(s.get(&b, 1).is_some());
        s.remove(&b);
        assert_eq!(s.get(&b, 1), None, "logged out");
    }

    #[test]
    fn cookie_is_http_only_strict_and_secure_under_tls() {
        let plain = Sessions::new(3600, false).cookie("ab");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        assert!(Sessions::new(3600, true).cookie("ab").ends_with("; Secure"));
    }

    #[test]
    fn session_id_is_read_from_the_cookie_header_and_validated() {
        let id = "a".repeat(64);
        let header = format!("theme=dark; {COOKIE}={id}; x=y");
        assert_eq!(session_id(Some(&header)), Some(id.as_str()));
        assert_eq!(session_id(Some(&format!("{COOKIE}=<script>"))), None);
        assert_eq!(session_id(None), None);
    }

    #[test]
    fn csrf_is_compared_exactly() {
        let s = Sessions::new(3600, false);
        let (_, sess) = s.create(0, "key:0123456789ab").unwrap();
        assert!(csrf_matches(&sess, &sess.csrf.clone()));
        assert!(!csrf_matches(&sess, ""));
        assert!(!csrf_matches(&sess, &"0".repeat(64)));
    }
}
