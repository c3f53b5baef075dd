//! The injected clock: the server never reads the system time except through a [`Clock`], so
//! tests drive time (lag tolerance, retention, pending-token expiry) by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use keywarden_model::Timestamp;

/// A source of "now".
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock: the one place in keywarden that reads the wall clock (clippy's
/// `disallowed-methods` refuses `SystemTime::now` everywhere else; the binary passes this clock,
/// or a time read from it, to every library).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the system clock implementation: every other reader of \"now\" is injected with it"
    )]
    fn now(&self) -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Timestamp(micros)
    }
}

/// A clock set by hand (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(t.0))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    pub fn advance_seconds(&self, s: i64) {
        self.0
            .fetch_add(s.saturating_mul(1_000_000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
