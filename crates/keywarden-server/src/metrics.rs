//! Counters for `/metrics` (Prometheus text format) and the ingest answer's bookkeeping.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use keywarden_store::Stats;

/// Process-wide counters, shared by the API and the pipeline (passed in, never global).
#[derive(Debug, Default)]
pub struct Metrics {
    pub ingest_requests: AtomicU64,
    pub ingest_events: AtomicU64,
    pub ingest_rejected: AtomicU64,
    pub ingest_duplicates: AtomicU64,
    pub shed_queue_full: AtomicU64,
    pub shed_busy: AtomicU64,
    pub auth_failures: AtomicU64,
    pub commit_micros_total: AtomicU64,
    pub commits: AtomicU64,
    /// Transactions committing batches (a group commit holds several).
    pub commit_groups: AtomicU64,
    pub alerts_changed: AtomicU64,
    pub queue_depth: AtomicU64,
    pub pending_tokens: AtomicU64,
    pub webhook_sent: AtomicU64,
    pub webhook_failed: AtomicU64,
    pub webhook_dead: AtomicU64,
    pub errors: AtomicU64,
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus exposition text.
    pub fn render(&self, stats: Option<&Stats>) -> String {
        let mut out = String::new();
        let rows: Vec<(&str, &str, &str, String)> = vec![
            (
                "ingest_requests_total",
                "Ingest requests answered 200.",
                "counter",
                get(&self.ingest_requests).to_string(),
            ),
            (
                "ingest_events_total",
                "Events committed.",
                "counter",
                get(&self.ingest_events).to_string(),
            ),
            (
                "ingest_rejected_total",
                "Records rejected.",
                "counter",
                get(&self.ingest_rejected).to_string(),
            ),
            (
                "ingest_duplicate_requests_total",
                "Requests whose idempotency key was already stored.",
                "counter",
                get(&self.ingest_duplicates).to_string(),
            ),
            (
                "shed_queue_full_total",
                "Ingest requests answered 429 (queue full).",
                "counter",
                get(&self.shed_queue_full).to_string(),
            ),
            (
                "shed_busy_total",
                "Ingest requests answered 503 (too many bodies in flight).",
                "counter",
                get(&self.shed_busy).to_string(),
            ),
            (
                "auth_failures_total",
                "Requests answered 401.",
                "counter",
                get(&self.auth_failures).to_string(),
            ),
            (
                "commits_total",
                "Batches committed.",
                "counter",
                get(&self.commits).to_string(),
            ),
            (
                "commit_groups_total",
                "Transactions that committed batches (group commit: several batches each).",
                "counter",
                get(&self.commit_groups).to_string(),
            ),
            (
                "commit_seconds_total",
                "Time the writer spent committing batches and detecting.",
                "counter",
                (get(&self.commit_micros_total) as f64 / 1e6).to_string(),
            ),
            (
                "alert_updates_total",
                "Alerts raised or extended by live detection.",
                "counter",
                get(&self.alerts_changed).to_string(),
            ),
            (
                "queue_depth",
                "Ingest batches waiting for the writer.",
                "gauge",
                get(&self.queue_depth).to_string(),
            ),
            (
                "pending_tokens",
                "Unissued tokens waiting for sign-in coverage.",
                "gauge",
                get(&self.pending_tokens).to_string(),
            ),
            (
                "webhook_sent_total",
                "Webhook deliveries that succeeded.",
                "counter",
                get(&self.webhook_sent).to_string(),
            ),
            (
                "webhook_failed_total",
                "Webhook attempts that failed.",
                "counter",
                get(&self.webhook_failed).to_string(),
            ),
            (
                "webhook_dead_letters_total",
                "Webhook deliveries given up.",
                "counter",
                get(&self.webhook_dead).to_string(),
            ),
            (
                "errors_total",
                "Internal errors (store failures).",
                "counter",
                get(&self.errors).to_string(),
            ),
        ];
        let store: Vec<(&str, &str, &str, String)> = match stats {
            Some(s) => vec![
                (
                    "store_events",
                    "Events in the store.",
                    "gauge",
                    s.events.to_string(),
                ),
                (
                    "store_alerts",
                    "Alerts in the store.",
                    "gauge",
                    s.alerts.to_string(),
                ),
                (
                    "store_rejected",
                    "Rejections in the store.",
                    "gauge",
                    s.rejected.to_string(),
                ),
                (
                    "store_incidents",
                    "Incidents in the store.",
                    "gauge",
                    s.incidents.to_string(),
                ),
                (
                    "store_open_alerts",
                    "Alerts not yet acknowledged or closed.",
                    "gauge",
                    s.open_alerts.to_string(),
                ),
            ],
            None => Vec::new(),
        };
        for (name, help, kind, v) in rows.into_iter().chain(store) {
            let _ = writeln!(out, "# HELP keywarden_{name} {help}");
            let _ = writeln!(out, "# TYPE keywarden_{name} {kind}");
            let _ = writeln!(out, "keywarden_{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::add(&m.ingest_events, 7);
        Metrics::add(&m.commit_micros_total, 1_500_000);
        let text = m.render(None);
        assert!(text.contains("keywarden_ingest_events_total 7\n"));
        assert!(text.contains("keywarden_commit_seconds_total 1.5\n"));
        assert!(text.contains("# TYPE keywarden_queue_depth gauge\n"));
    }
}
