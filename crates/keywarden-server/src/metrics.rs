//! Counters for `/metrics` (Prometheus text format) and the ingest answer's bookkeeping. The
//! live detector's own counters (evictions of pending tokens, issued tokens, alerts and
//! baseline entries, expired pending tokens, dropped lead hits, lost correlation windows) live
//! in its saved state; the writer copies them here after each batch and tick
//! ([`Metrics::record_live`]) so they are exported as they are, across restarts.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use keywarden_store::Stats;

use crate::runtime::live::LiveDetector;
use crate::runtime::live::sigma::LiveSigma;

/// Process-wide counters, shared by the API and the pipeline (passed in, never global).
#[derive(Debug, Default)]
pub struct Metrics {
    pub ingest_requests: AtomicU64,
    pub ingest_events: AtomicU64,
    pub ingest_rejected: AtomicU64,
    pub ingest_duplicates: AtomicU64,
    /// Requests refused 422: their `Idempotency-Key` was already used for another body.
    pub ingest_key_reused: AtomicU64,
    /// Files `--watch` refused to read (a symlink, not a regular file, swapped after listing).
    pub watch_refused: AtomicU64,
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
    /// Dashboard logins refused for a wrong key.
    pub login_failures: AtomicU64,
    /// Dashboard logins refused with 429 (client locked out).
    pub login_throttled: AtomicU64,
    /// Clients dropped from the full login-throttle table.
    pub login_clients_evicted: AtomicU64,
    /// `Authorization: Bearer` credentials refused (wrong key or JWT), counted by the throttle.
    pub bearer_failures: AtomicU64,
    /// Bearer requests refused with 429 (client locked out by the failed-key throttle).
    pub bearer_throttled: AtomicU64,
    /// Connections open now (gauge).
    pub connections_open: AtomicU64,
    /// Idle connections closed to make room under the connection cap (or for descriptors).
    pub connections_shed: AtomicU64,
    /// New connections refused because every open one was serving a request.
    pub connections_refused: AtomicU64,
    /// Connections closed by a timeout (TLS handshake, header read, keep-alive idle).
    pub connections_timed_out: AtomicU64,
    /// Request bodies abandoned for stalling or trickling below the minimum rate.
    pub body_timeouts: AtomicU64,
    /// The live detector's counters ([`LiveCounters`]), as of its last batch or tick.
    pub live: LiveCounters,
    /// `[collect]`: poll status and lag per (source, stream).
    pub collect: crate::runtime::collect_source::CollectStatus,
}

/// Copies of the live detector's state counters (totals since the state was first created:
/// they survive restarts with the state).
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub evicted_pending: AtomicU64,
    pub expired_pending: AtomicU64,
    pub evicted_issued: AtomicU64,
    pub evicted_alerts: AtomicU64,
    pub evicted_claims: AtomicU64,
    pub evicted_baseline: AtomicU64,
    pub lead_hits_dropped: AtomicU64,
    pub unreadable_replay: AtomicU64,
    pub correlation_lost: AtomicU64,
    /// Sigma correlation groups held now (gauge).
    pub correlation_groups: AtomicU64,
    /// Events fed again to the Sigma correlations and not counted again.
    pub correlation_repeats: AtomicU64,
    /// Fed events the correlations forgot at their bound while a window could count them.
    pub correlation_seen_forgotten: AtomicU64,
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn set(c: &AtomicU64, v: u64) {
    c.store(v, Ordering::Relaxed);
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Copies the live detector's counters (called by the writer, the detector's only user).
    pub fn record_live(&self, d: &LiveDetector) {
        let s = d.state();
        let l = &self.live;
        set(&l.evicted_pending, s.evicted_pending);
        set(&l.expired_pending, s.expired_pending);
        set(&l.evicted_issued, s.evicted_issued);
        set(&l.evicted_alerts, s.evicted_alerts);
        set(&l.evicted_claims, s.evicted_claims);
        set(&l.evicted_baseline, s.baseline.evicted);
        set(&l.lead_hits_dropped, s.lead_hits_dropped);
        set(&l.unreadable_replay, d.unreadable_replay());
        set(&l.correlation_lost, d.correlation_lost());
        let groups = d.sigma().map_or(0, |g| g.groups() as u64);
        set(&l.correlation_groups, groups);
        let repeats = d.sigma().map_or(0, LiveSigma::repeats);
        set(&l.correlation_repeats, repeats);
        let forgotten = d.sigma().map_or(0, LiveSigma::forgotten);
        set(&l.correlation_seen_forgotten, forgotten);
    }

    /// The rows of the login throttle and the live detector: (name, help, type, value).
    fn hardening_rows(&self) -> Vec<(&'static str, &'static str, &'static str, String)> {
        let l = &self.live;
        let c = |name, help, v: &AtomicU64| (name, help, "counter", get(v).to_string());
        vec![
            c(
                "login_failures_total",
                "Dashboard logins refused for a wrong key.",
                &self.login_failures,
            ),
            c(
                "login_throttled_total",
                "Dashboard logins refused with 429 (too many failures from the client).",
                &self.login_throttled,
            ),
            c(
                "login_throttle_evictions_total",
                "Clients dropped from the full login-throttle table (oldest first).",
                &self.login_clients_evicted,
            ),
            c(
                "bearer_failures_total",
                "Authorization: Bearer credentials refused (wrong API key or JWT).",
                &self.bearer_failures,
            ),
            c(
                "bearer_throttled_total",
                "Bearer requests refused with 429 (too many failed keys from the client).",
                &self.bearer_throttled,
            ),
            (
                "connections_open",
                "Connections open now.",
                "gauge",
                get(&self.connections_open).to_string(),
            ),
            c(
                "connections_shed_total",
                "Idle connections closed to make room under the connection cap.",
                &self.connections_shed,
            ),
            c(
                "connections_refused_total",
                "New connections refused because every open one was serving a request.",
                &self.connections_refused,
            ),
            c(
                "connections_timed_out_total",
                "Connections closed by a timeout (TLS handshake, header read, keep-alive idle).",
                &self.connections_timed_out,
            ),
            c(
                "body_timeouts_total",
                "Request bodies abandoned for stalling or sending below the minimum rate.",
                &self.body_timeouts,
            ),
            c(
                "live_evicted_pending_tokens_total",
                "Pending (unissued) tokens evicted by the cap before judgement.",
                &l.evicted_pending,
            ),
            c(
                "live_expired_pending_tokens_total",
                "Pending tokens dropped unjudged after waiting pending_ttl_hours.",
                &l.expired_pending,
            ),
            c(
                "live_evicted_issued_tokens_total",
                "Issued token ids evicted by the cap.",
                &l.evicted_issued,
            ),
            c(
                "live_evicted_alerts_total",
                "Tracked alerts evicted from memory by the cap (no longer extended).",
                &l.evicted_alerts,
            ),
            c(
                "live_evicted_claimed_tokens_total",
                "Tokens whose claims raised consumer-tenant-token alerts, evicted by the cap (their later records no longer join the alert).",
                &l.evicted_claims,
            ),
            c(
                "live_evicted_baseline_keys_total",
                "Learned baseline entries evicted by max_baseline_keys.",
                &l.evicted_baseline,
            ),
            c(
                "live_lead_hits_dropped_total",
                "Lead findings whose alert had been evicted when hit again (not re-raised).",
                &l.lead_hits_dropped,
            ),
            c(
                "live_unreadable_replay_total",
                "Replayed rows whose raw record could not be read on restart.",
                &l.unreadable_replay,
            ),
            c(
                "live_correlation_lost_total",
                "Saved Sigma correlation windows that could not be restored.",
                &l.correlation_lost,
            ),
            c(
                "live_correlation_repeats_total",
                "Events fed again to the Sigma correlations (same id, same second, same content) and not counted again.",
                &l.correlation_repeats,
            ),
            c(
                "live_correlation_seen_forgotten_total",
                "Events fed to the Sigma correlations and forgotten at the 200000-event bound while a window could still count them (a repeat of one counts again).",
                &l.correlation_seen_forgotten,
            ),
            (
                "live_correlation_groups",
                "Sigma correlation groups held (capped by max_correlation_groups).",
                "gauge",
                get(&l.correlation_groups).to_string(),
            ),
        ]
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
                "ingest_key_reused_total",
                "Requests refused 422: Idempotency-Key already used for another body.",
                "counter",
                get(&self.ingest_key_reused).to_string(),
            ),
            (
                "watch_refused_total",
                "Files --watch refused to read (symlink, not a regular file, or swapped).",
                "counter",
                get(&self.watch_refused).to_string(),
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
        let hardening = self.hardening_rows();
        for (name, help, kind, v) in rows.into_iter().chain(hardening).chain(store) {
            let _ = writeln!(out, "# HELP keywarden_{name} {help}");
            let _ = writeln!(out, "# TYPE keywarden_{name} {kind}");
            let _ = writeln!(out, "keywarden_{name} {v}");
        }
        self.collect.render(&mut out);
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

    #[test]
    fn login_and_live_counters_are_exported_with_help_and_type() {
        let m = Metrics::default();
        Metrics::add(&m.login_failures, 5);
        Metrics::add(&m.login_throttled, 2);
        set(&m.live.evicted_pending, 3);
        set(&m.live.lead_hits_dropped, 4);
        set(&m.live.correlation_groups, 9);
        let text = m.render(None);
        for line in [
            "keywarden_login_failures_total 5\n",
            "keywarden_login_throttled_total 2\n",
            "keywarden_login_throttle_evictions_total 0\n",
            "keywarden_live_evicted_pending_tokens_total 3\n",
            "keywarden_live_lead_hits_dropped_total 4\n",
            "keywarden_live_correlation_groups 9\n",
            "# TYPE keywarden_live_correlation_groups gauge\n",
            "# TYPE keywarden_live_evicted_baseline_keys_total counter\n",
            "# HELP keywarden_live_evicted_alerts_total ",
        ] {
            assert!(text.contains(line), "{line}");
        }
        // Every series has its HELP and TYPE, once.
        let series: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for name in &series {
            assert_eq!(
                text.matches(&format!("# HELP {name} ")).count(),
                1,
                "{name}"
            );
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn live_counters_are_copied_from_the_detector_state() {
        let mut state = crate::runtime::live::LiveState::default();
        state.engine.evicted_pending = 11;
        state.engine.expired_pending = 12;
        state.engine.evicted_issued = 13;
        state.engine.evicted_alerts = 14;
        state.engine.evicted_claims = 18;
        state.engine.baseline.evicted = 15;
        state.engine.lead_hits_dropped = 16;
        state.correlation_lost = 17;
        let settings = keywarden_detect::DetectConfig::default().build().unwrap();
        let d = LiveDetector::new(settings, crate::runtime::live::LiveLimits::default(), state);
        let m = Metrics::default();
        m.record_live(&d);
        let text = m.render(None);
        for line in [
            "keywarden_live_evicted_pending_tokens_total 11\n",
            "keywarden_live_expired_pending_tokens_total 12\n",
            "keywarden_live_evicted_issued_tokens_total 13\n",
            "keywarden_live_evicted_alerts_total 14\n",
            "keywarden_live_evicted_claimed_tokens_total 18\n",
            "keywarden_live_evicted_baseline_keys_total 15\n",
            "keywarden_live_lead_hits_dropped_total 16\n",
            "keywarden_live_correlation_lost_total 17\n",
            "keywarden_live_correlation_groups 0\n",
            "keywarden_live_correlation_seen_forgotten_total 0\n",
        ] {
            assert!(text.contains(line), "{line}");
        }
    }
}
