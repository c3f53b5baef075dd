//! Time, injected: the library never reads the wall clock. The CLI passes a system clock;
//! tests pass a manual one.

use std::time::Duration;

use keywarden_model::Timestamp;

/// Now and waiting. `sleep` may return early only if `now` has moved by the duration.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    fn sleep(&self, d: Duration);
}

/// Microseconds in a duration, saturating.
pub(crate) fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The duration from `now` until `then` (zero when `then` has passed).
pub(crate) fn until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::from_micros(u64::try_from(then.0.saturating_sub(now.0)).unwrap_or(0))
}
