//! Flood control: token buckets per client address, per client network (IPv4 /24, IPv6 /56)
//! and per token subject, with bounded memory.
//!
//! Each kind holds at most `max_tracked` buckets. A new key that does not fit evicts one of the
//! oldest buckets if it is idle (refilled to its burst, so forgetting it changes nothing);
//! otherwise it shares the kind's single *overflow* bucket. A flood of distinct addresses thus
//! costs a fixed amount of memory and meets 429s in the overflow bucket (and in its network's
//! bucket), while clients that already hold a bucket keep theirs.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::client::network_of;
use crate::config::{FloodConfig, Rate};

/// Oldest buckets examined for an idle one before a new key goes to the overflow bucket.
const EVICTION_PROBES: usize = 8;

/// Which bucket refused a request (the decision log's reason code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Client,
    Network,
    Subject,
}

impl Limited {
    pub fn code(self) -> &'static str {
        match self {
            Limited::Client => "rate-limited-client",
            Limited::Network => "rate-limited-network",
            Limited::Subject => "rate-limited-subject",
        }
    }
}

/// A refusal: which bucket, and whole seconds until it holds a token again (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub by: Limited,
    pub retry_after: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last_micros: i64,
}

impl Bucket {
    fn full(rate: Rate, now: i64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            last_micros: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: i64) {
        let elapsed = now.saturating_sub(self.last_micros).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed * rate.rate).min(rate.burst);
        self.last_micros = self.last_micros.max(now);
    }

    /// Takes one token, or says how many whole seconds until one is there.
    fn take(&mut self, rate: Rate, now: i64) -> Result<(), u64> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The buckets of one kind.
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    order: VecDeque<K>,
    max: usize,
    rate: Rate,
    overflow: Bucket,
    overflow_rate: Rate,
    overflow_uses: u64,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(max: usize, rate: Rate, overflow_rate: Rate) -> Self {
        Buckets {
            map: HashMap::new(),
            order: VecDeque::new(),
            max,
            rate,
            overflow: Bucket::full(overflow_rate, 0),
            overflow_rate,
            overflow_uses: 0,
        }
    }

    fn take(&mut self, key: &K, now: i64) -> Result<(), u64> {
        if let Some(b) = self.map.get_mut(key) {
            return b.take(self.rate, now);
        }
        if self.map.len() >= self.max && !self.evict_idle(now) {
            self.overflow_uses += 1;
            return self.overflow.take(self.overflow_rate, now);
        }
        let mut b = Bucket::full(self.rate, now);
        let r = b.take(self.rate, now);
        self.map.insert(key.clone(), b);
        self.order.push_back(key.clone());
        r
    }

    /// Drops one idle bucket among the oldest; false when none of them is idle.
    fn evict_idle(&mut self, now: i64) -> bool {
        for _ in 0..EVICTION_PROBES.min(self.order.len()) {
            let Some(k) = self.order.pop_front() else {
                return false;
            };
            let idle = self.map.get_mut(&k).is_none_or(|b| {
                b.refill(self.rate, now);
                b.tokens >= self.rate.burst
            });
            if idle {
                self.map.remove(&k);
                return true;
            }
            self.order.push_back(k);
        }
        false
    }
}

/// Counters for `/.keywarden/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloodStats {
    pub tracked_clients: usize,
    pub tracked_networks: usize,
    pub tracked_subjects: usize,
    pub overflow_uses: u64,
}

/// The three kinds of buckets.
pub struct FloodControl {
    enabled: bool,
    clients: Mutex<Buckets<IpAddr>>,
    networks: Mutex<Buckets<IpAddr>>,
    subjects: Mutex<Buckets<String>>,
}

impl FloodControl {
    pub fn new(cfg: &FloodConfig) -> FloodControl {
        FloodControl {
            enabled: cfg.enabled,
            clients: Mutex::new(Buckets::new(cfg.max_tracked, cfg.per_client, cfg.overflow)),
            networks: Mutex::new(Buckets::new(cfg.max_tracked, cfg.per_network, cfg.overflow)),
            subjects: Mutex::new(Buckets::new(cfg.max_tracked, cfg.per_subject, cfg.overflow)),
        }
    }

    /// One request from `client` at `now_micros`: its address bucket, then its network's.
    pub fn admit_client(&self, client: IpAddr, now_micros: i64) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        take(&self.clients, &client, now_micros, Limited::Client)?;
        take(
            &self.networks,
            &network_of(client),
            now_micros,
            Limited::Network,
        )
    }

    /// One request with a valid token for `subject` (issuer block and `sub`/`oid`).
    pub fn admit_subject(&self, subject: &str, now_micros: i64) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let mut s = lock(&self.subjects);
        // Look up by &str first: a subject that holds a bucket costs no allocation.
        let rate = s.rate;
        if let Some(b) = s.map.get_mut(subject) {
            return b.take(rate, now_micros).map_err(|retry_after| Refusal {
                by: Limited::Subject,
                retry_after,
            });
        }
        s.take(&subject.to_owned(), now_micros)
            .map_err(|retry_after| Refusal {
                by: Limited::Subject,
                retry_after,
            })
    }

    pub fn stats(&self) -> FloodStats {
        let (c, n, s) = (
            lock(&self.clients),
            lock(&self.networks),
            lock(&self.subjects),
        );
        FloodStats {
            tracked_clients: c.map.len(),
            tracked_networks: n.map.len(),
            tracked_subjects: s.map.len(),
            overflow_uses: c.overflow_uses + n.overflow_uses + s.overflow_uses,
        }
    }
}

fn take<K: Hash + Eq + Clone>(
    m: &Mutex<Buckets<K>>,
    key: &K,
    now: i64,
    by: Limited,
) -> Result<(), Refusal> {
    lock(m)
        .take(key, now)
        .map_err(|retry_after| Refusal { by, retry_after })
}

/// A poisoned lock only means another thread panicked mid-update of counters; the buckets
/// stay usable (at worst one bucket is a token off).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: usize) -> FloodConfig {
        FloodConfig {
            max_tracked: max,
            per_client: Rate {
                rate: 10.0,
                burst: 5.0,
            },
            per_network: Rate {
                rate: 1000.0,
                burst: 1000.0,
            },
            overflow: Rate {
                rate: 1.0,
                burst: 3.0,
            },
            ..FloodConfig::default()
        }
    }

    fn ip(i: u32) -> IpAddr {
        IpAddr::V4(i.into())
    }

    #[test]
    fn a_client_meets_its_burst_then_refills() {
        let f = FloodControl::new(&cfg(10));
        let a = ip(0x0a00_0001);
        for _ in 0..5 {
            f.admit_client(a, 0).unwrap();
        }
        let r = f.admit_client(a, 0).unwrap_err();
        assert_eq!((r.by, r.retry_after), (Limited::Client, 1));
        f.admit_client(a, 100_000).unwrap();
        assert!(f.admit_client(a, 100_000).is_err());
    }

    #[test]
    fn distinct_addresses_beyond_capacity_share_the_overflow_bucket() {
        let f = FloodControl::new(&cfg(4));
        let legit = ip(0x0b00_0001);
        f.admit_client(legit, 0).unwrap();
        let mut refused = 0;
        for i in 0..1000u32 {
            if f.admit_client(ip(0x0c00_0000 + i * 256), 0).is_err() {
                refused += 1;
            }
        }
        let s = f.stats();
        assert!(s.tracked_clients <= 4 && s.tracked_networks <= 4, "{s:?}");
        assert!(refused >= 990, "{refused}");
        assert!(
            f.admit_client(legit, 0).is_ok(),
            "an established client keeps its bucket"
        );
    }

    #[test]
    fn idle_buckets_are_evicted_for_newcomers() {
        let f = FloodControl::new(&cfg(2));
        f.admit_client(ip(1), 0).unwrap();
        f.admit_client(ip(2), 0).unwrap();
        // A second later both are full again (idle): a newcomer gets its own bucket.
        for _ in 0..5 {
            f.admit_client(ip(3), 1_000_000).unwrap();
        }
        assert_eq!(f.stats().tracked_clients, 2);
        assert_eq!(f.stats().overflow_uses, 0);
    }

    #[test]
    fn subjects_have_their_own_buckets_and_disabled_admits_all() {
        let f = FloodControl::new(&FloodConfig {
            per_subject: Rate {
                rate: 1.0,
                burst: 2.0,
            },
            ..cfg(10)
        });
        f.admit_subject("i/alice", 0).unwrap();
        f.admit_subject("i/alice", 0).unwrap();
        assert_eq!(
            f.admit_subject("i/alice", 0).unwrap_err().by,
            Limited::Subject
        );
        f.admit_subject("i/bob", 0).unwrap();
        let off = FloodControl::new(&FloodConfig {
            enabled: false,
            ..cfg(1)
        });
        for _ in 0..100 {
            off.admit_client(ip(1), 0).unwrap();
            off.admit_subject("s", 0).unwrap();
        }
    }
}
