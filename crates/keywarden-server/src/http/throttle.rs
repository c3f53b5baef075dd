//! Failed-key throttling, one table for both doors an API key can be guessed at: the dashboard's
//! `POST /login` and `Authorization: Bearer` on the API (the guard in [`crate::http::api`]). Failures
//! are counted per client (the TCP peer address, or the `X-Forwarded-For` hop a trusted proxy
//! names, [`crate::http::client`]; an IPv6 client by its /64, which one host usually owns whole), and
//! after [`ThrottleLimits::max_failures`] failures within [`ThrottleLimits::window_seconds`]
//! that client is refused with 429 and `Retry-After` for a backoff that doubles with each
//! lockout (up to [`ThrottleLimits::max_backoff_seconds`]). While locked out even a correct key
//! is refused: otherwise the lockout would not slow a guesser down. A success clears the
//! client's record. The table is bounded ([`ThrottleLimits::max_clients`]): when full, stale
//! records go first, then the least recently seen, and evictions are counted. Time comes from
//! the caller (the injected clock), never from the system.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The TCP peer of a connection, given to handlers as `ConnectInfo<Peer>` by the accept loop
/// ([`crate::http::conn`]), plain or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The throttle's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures within the window that lock a client out.
    pub max_failures: u32,
    /// Seconds over which failures are counted (from the first one).
    pub window_seconds: i64,
    /// Seconds of the first lockout; each further lockout doubles it.
    pub backoff_seconds: i64,
    /// The longest lockout.
    pub max_backoff_seconds: i64,
    /// Clients tracked at once.
    pub max_clients: usize,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            max_failures: 5,
            window_seconds: 300,
            backoff_seconds: 300,
            max_backoff_seconds: 3600,
            max_clients: 10_000,
        }
    }
}

/// What one client has done.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Clock micros of the first failure of the current window.
    window_start: i64,
    failures: u32,
    /// Locked out until these clock micros (0: not locked).
    blocked_until: i64,
    /// Lockouts so far (doubles the backoff).
    lockouts: u32,
    /// Clock micros of the last failure.
    last_seen: i64,
}

/// The answer to "may this client try a key now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Locked out: retry after this many seconds (at least 1).
    Throttled {
        retry_after: u64,
    },
}

/// Failed logins per client, bounded.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    clients: Mutex<HashMap<IpAddr, Record>>,
    evictions: AtomicU64,
}

const MICROS: i64 = 1_000_000;

/// The key a client is counted under: an IPv4 address (also when IPv4-mapped), or the /64
/// network of an IPv6 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn retry_seconds(until: i64, now: i64) -> u64 {
    let micros = until.saturating_sub(now).max(1);
    u64::try_from(micros.saturating_add(MICROS - 1) / MICROS)
        .unwrap_or(1)
        .max(1)
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> LoginThrottle {
        LoginThrottle {
            limits: ThrottleLimits {
                max_failures: limits.max_failures.max(1),
                max_clients: limits.max_clients.max(1),
                ..limits
            },
            clients: Mutex::new(HashMap::new()),
            evictions: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> ThrottleLimits {
        self.limits
    }

    /// Records evicted because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `ip` may try a key at `now` (clock micros).
    pub fn check(&self, ip: IpAddr, now: i64) -> Verdict {
        match self.lock().get(&client_key(ip)) {
            Some(r) if r.blocked_until > now => Verdict::Throttled {
                retry_after: retry_seconds(r.blocked_until, now),
            },
            _ => Verdict::Allowed,
        }
    }

    /// Records a failed login of `ip` at `now`; returns the lockout it caused, if any.
    pub fn fail(&self, ip: IpAddr, now: i64) -> Verdict {
        let key = client_key(ip);
        let window = self.limits.window_seconds.saturating_mul(MICROS);
        let mut map = self.lock();
        if !map.contains_key(&key) && map.len() >= self.limits.max_clients {
            self.make_room(&mut map, now);
        }
        let r = map.entry(key).or_insert(Record {
            window_start: now,
            failures: 0,
            blocked_until: 0,
            lockouts: 0,
            last_seen: now,
        });
        if now.saturating_sub(r.last_seen) > self.forget_after() {
            r.lockouts = 0;
        }
        // A new window once the old one is over or a lockout has ended.
        let window_over = now.saturating_sub(r.window_start) >= window;
        if (window_over || r.blocked_until > 0) && r.blocked_until <= now {
            r.window_start = now;
            r.failures = 0;
            r.blocked_until = 0;
        }
        r.last_seen = now;
        r.failures = r.failures.saturating_add(1);
        if r.failures >= self.limits.max_failures && r.blocked_until <= now {
            let shift = r.lockouts.min(20);
            let backoff = self
                .limits
                .backoff_seconds
                .saturating_mul(1i64 << shift)
                .min(self.limits.max_backoff_seconds)
                .max(1);
            r.lockouts = r.lockouts.saturating_add(1);
            r.blocked_until = now.saturating_add(backoff.saturating_mul(MICROS));
            return Verdict::Throttled {
                retry_after: retry_seconds(r.blocked_until, now),
            };
        }
        Verdict::Allowed
    }

    /// A successful login of `ip`: its record is cleared.
    pub fn succeed(&self, ip: IpAddr) {
        self.lock().remove(&client_key(ip));
    }

    /// Micros after which a quiet client's lockout history is forgotten.
    fn forget_after(&self) -> i64 {
        self.limits
            .max_backoff_seconds
            .saturating_add(self.limits.window_seconds)
            .saturating_mul(MICROS)
    }

    /// Frees one slot: drops records that no longer matter (window over, not locked, history
    /// forgotten); if none, evicts the least recently seen record (counted).
    fn make_room(&self, map: &mut HashMap<IpAddr, Record>, now: i64) {
        let forget = self.forget_after();
        map.retain(|_, r| r.blocked_until > now || now.saturating_sub(r.last_seen) <= forget);
        if map.len() < self.limits.max_clients {
            return;
        }
        let oldest = map.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| *k);
        if let Some(k) = oldest {
            map.remove(&k);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use keywarden_model::Timestamp;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    fn now(c: &ManualClock) -> i64 {
        c.now().0
    }

    #[test]
    fn the_fifth_failure_locks_out_and_the_window_expires() {
        let c = ManualClock::at(Timestamp(1_000 * MICROS));
        let t = LoginThrottle::new(ThrottleLimits::default());
        for _ in 0..4 {
            assert_eq!(t.fail(ip(1), now(&c)), Verdict::Allowed);
            c.advance_seconds(10);
        }
        assert_eq!(t.check(ip(1), now(&c)), Verdict::Allowed);
        assert_eq!(
            t.fail(ip(1), now(&c)),
            Verdict::Throttled { retry_after: 300 }
        );
        assert_eq!(
            t.check(ip(1), now(&c)),
            Verdict::Throttled { retry_after: 300 }
        );
        assert_eq!(t.check(ip(2), now(&c)), Verdict::Allowed, "per client");
        c.advance_seconds(299);
        assert_eq!(
            t.check(ip(1), now(&c)),
            Verdict::Throttled { retry_after: 1 }
        );
        c.advance_seconds(1);
        assert_eq!(t.check(ip(1), now(&c)), Verdict::Allowed, "backoff over");
        // A fresh window: four more failures are allowed, the fifth locks out twice as long.
        for _ in 0..4 {
            assert_eq!(t.fail(ip(1), now(&c)), Verdict::Allowed);
        }
        assert_eq!(
            t.fail(ip(1), now(&c)),
            Verdict::Throttled { retry_after: 600 }
        );
    }

    #[test]
    fn failures_spread_beyond_the_window_never_lock_out() {
        let c = ManualClock::at(Timestamp(0));
        let t = LoginThrottle::new(ThrottleLimits::default());
        for _ in 0..50 {
            assert_eq!(t.fail(ip(1), now(&c)), Verdict::Allowed);
            c.advance_seconds(76);
        }
    }

    #[test]
    fn backoff_is_capped_and_success_clears() {
        let c = ManualClock::at(Timestamp(0));
        let t = LoginThrottle::new(ThrottleLimits {
            max_failures: 1,
            ..ThrottleLimits::default()
        });
        let mut last = 0;
        for _ in 0..8 {
            let Verdict::Throttled { retry_after } = t.fail(ip(1), now(&c)) else {
                panic!("one failure locks out");
            };
            assert!(retry_after >= last && retry_after <= 3600, "{retry_after}");
            last = retry_after;
            c.advance_seconds(retry_after as i64);
        }
        assert_eq!(last, 3600);
        t.succeed(ip(1));
        assert_eq!(
            t.fail(ip(1), now(&c)),
            Verdict::Throttled { retry_after: 300 },
            "success forgets the history"
        );
    }

    #[test]
    fn the_table_is_capped_stale_records_first_then_oldest_counted() {
        let c = ManualClock::at(Timestamp(0));
        let t = LoginThrottle::new(ThrottleLimits {
            max_clients: 3,
            ..ThrottleLimits::default()
        });
        for n in 1..=3 {
            t.fail(ip(n), now(&c));
            c.advance_seconds(1);
        }
        t.fail(ip(4), now(&c));
        assert_eq!((t.tracked(), t.evictions()), (3, 1));
        // ip(1) was the oldest: its count started over.
        for _ in 0..4 {
            assert_eq!(t.fail(ip(1), now(&c)), Verdict::Allowed);
        }
        assert_eq!(t.evictions(), 2);
        // Long after, every record is stale: room is made without evicting.
        c.advance_seconds(10_000);
        t.fail(ip(9), now(&c));
        assert_eq!((t.tracked(), t.evictions()), (1, 2));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), ip(7));
        let t = LoginThrottle::new(ThrottleLimits {
            max_failures: 2,
            ..ThrottleLimits::default()
        });
        t.fail(a, 0);
        assert!(matches!(t.fail(b, 0), Verdict::Throttled { .. }));
        assert_eq!(t.check(other, 0), Verdict::Allowed);
    }
}
