//! Counters for `GET /.keywarden/metrics` (Prometheus text format): decisions by status and by
//! reason code, the verdict cache, flood control, and the decision log.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::cache::CacheStats;
use crate::decision_log::LogStats;
use crate::flood::FloodStats;

fn get(v: &AtomicU64) -> u64 {
    v.load(Relaxed)
}

#[derive(Default)]
pub struct Metrics {
    by_reason: Mutex<BTreeMap<(u16, &'static str), u64>>,
    latency_us_total: AtomicU64,
    decisions: AtomicU64,
}

impl Metrics {
    pub fn record(&self, status: u16, reason: &'static str, latency_us: u64) {
        *self
            .by_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((status, reason))
            .or_insert(0) += 1;
        self.latency_us_total.fetch_add(latency_us, Relaxed);
        self.decisions.fetch_add(1, Relaxed);
    }

    /// Decisions so far with this status.
    pub fn count_status(&self, status: u16) -> u64 {
        self.by_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|((s, _), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn render(
        &self,
        cache: CacheStats,
        flood: FloodStats,
        conns: &keywarden_server::Metrics,
        log: LogStats,
    ) -> String {
        let mut out = String::new();
        out.push_str("# TYPE keywarden_gateway_decisions_total counter\n");
        for ((status, reason), n) in self
            .by_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "keywarden_gateway_decisions_total{{status=\"{status}\",reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# TYPE keywarden_gateway_decision_latency_microseconds_total counter\nkeywarden_gateway_decision_latency_microseconds_total {}",
            self.latency_us_total.load(Relaxed)
        );
        let gauges = [
            ("cache_entries", cache.entries as u64),
            ("cache_hits_total", cache.hits),
            ("cache_misses_total", cache.misses),
            ("flood_tracked_clients", flood.tracked_clients as u64),
            ("flood_tracked_networks", flood.tracked_networks as u64),
            ("flood_tracked_subjects", flood.tracked_subjects as u64),
            ("flood_overflow_uses_total", flood.overflow_uses),
            ("decision_log_written_total", log.written),
            ("decision_log_dropped_total", log.dropped),
            ("decision_log_errors_total", log.errors),
            ("connections_open", get(&conns.connections_open)),
            ("connections_shed_total", get(&conns.connections_shed)),
            ("connections_refused_total", get(&conns.connections_refused)),
            (
                "connections_timed_out_total",
                get(&conns.connections_timed_out),
            ),
            ("body_timeouts_total", get(&conns.body_timeouts)),
        ];
        for (name, v) in gauges {
            let _ = writeln!(out, "keywarden_gateway_{name} {v}");
        }
        out
    }
}
