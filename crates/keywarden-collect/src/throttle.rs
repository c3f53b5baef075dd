//! Pacing every request to one API of one tenant, whichever worker sends it:
//!
//! - a **Retry-After gate**: once any response says `Retry-After: N`, no request to that API
//!   starts before the instant it names (the gate keeps the latest such instant);
//! - a **budget**: at most `requests` starts in any sliding `per` interval (Management API
//!   2 000/min, Graph reports 5 per 10 s...);
//! - **backoff** for 429 without `Retry-After`, 5xx and transport errors: exponential, capped,
//!   with jitter from a seeded generator (tests inject the seed).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use keywarden_model::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::{Clock, micros, until};
use crate::config::Budget;

struct GateState {
    blocked_until: Timestamp,
    starts: VecDeque<Timestamp>,
}

/// The gate of one (tenant, API).
pub struct ApiGate {
    budget: Budget,
    state: Mutex<GateState>,
}

impl ApiGate {
    pub fn new(budget: Budget) -> ApiGate {
        ApiGate {
            budget,
            state: Mutex::new(GateState {
                blocked_until: Timestamp(i64::MIN),
                starts: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long to wait before a request may start at `now`; `None` means it may start now,
    /// and the start is then counted against the budget.
    pub fn try_start(&self, now: Timestamp) -> Option<Duration> {
        let mut st = self.lock();
        if now < st.blocked_until {
            return Some(until(now, st.blocked_until));
        }
        let per = micros(self.budget.per);
        while st
            .starts
            .front()
            .is_some_and(|t| now.0.saturating_sub(t.0) >= per)
        {
            st.starts.pop_front();
        }
        if st.starts.len() >= self.budget.requests as usize {
            let oldest = st.starts.front().copied().unwrap_or(now);
            return Some(
                until(now, Timestamp(oldest.0.saturating_add(per))).max(Duration::from_micros(1)),
            );
        }
        st.starts.push_back(now);
        None
    }

    /// Waits (on `clock`) until a request may start, then counts it.
    pub fn acquire(&self, clock: &dyn Clock) {
        loop {
            match self.try_start(clock.now()) {
                None => return,
                Some(wait) => clock.sleep(wait),
            }
        }
    }

    /// No request starts before `until_instant` (a `Retry-After`, or a backoff that must hold
    /// every worker).
    pub fn block_until(&self, until_instant: Timestamp) {
        let mut st = self.lock();
        if until_instant > st.blocked_until {
            st.blocked_until = until_instant;
        }
    }
}

/// Exponential backoff with jitter from a seeded generator.
pub struct Backoff {
    base: Duration,
    cap: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The delay before retry number `attempt` (0-based): between half and all of
    /// `min(cap, base * 2^attempt)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let full = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let full_us = micros(full).max(1);
        let jitter = {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rng.random_range(0..=full_us / 2)
        };
        Duration::from_micros(u64::try_from(full_us / 2 + jitter).unwrap_or(0))
    }
}

/// Parses `Retry-After`: delay-seconds (what Graph and the Management API send) or an
/// HTTP-date (RFC 9110 IMF-fixdate), relative to `now`.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let mut hms = parts[4].split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let at = Timestamp::from_civil(year, month, day, h, m, s)?;
    Some(until(now, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    #[test]
    fn graph_budget_allows_five_starts_per_ten_seconds() {
        let gate = ApiGate::new(Budget::GRAPH_REPORTS);
        for i in 0..5 {
            assert_eq!(gate.try_start(t(100 + i)), None);
        }
        // The sixth must wait until the first leaves the 10 s window.
        assert_eq!(gate.try_start(t(105)), Some(Duration::from_secs(5)));
        assert_eq!(gate.try_start(t(110)), None);
        assert!(gate.try_start(t(110)).is_some());
    }

    #[test]
    fn retry_after_blocks_every_worker_of_the_api() {
        let gate = ApiGate::new(Budget::MANAGE);
        gate.block_until(t(50));
        assert_eq!(gate.try_start(t(40)), Some(Duration::from_secs(10)));
        // An earlier instant never shortens the block.
        gate.block_until(t(45));
        assert_eq!(gate.try_start(t(49)), Some(Duration::from_secs(1)));
        assert_eq!(gate.try_start(t(50)), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_reproducibly() {
        let a = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), 7);
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), 7);
        let da: Vec<_> = (0..6).map(|i| a.delay(i)).collect();
        let db: Vec<_> = (0..6).map(|i| b.delay(i)).collect();
        assert_eq!(da, db);
        for (i, d) in da.iter().enumerate() {
            let full = Duration::from_secs((1u64 << i).min(8));
            assert!(*d >= full / 2 && *d <= full, "attempt {i}: {d:?}");
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = Timestamp::parse("1994-11-06T08:49:30Z").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
