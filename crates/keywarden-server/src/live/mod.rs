//! [`LiveDetector`]: `hunt`'s detections, run incrementally on each committed batch with
//! bounded state and an injected clock: the strong rules of the detection pack (here), its lead
//! rules against a baseline learned live ([`baseline`]), and the Sigma rules of `--rules`
//! ([`sigma`]; matched while the batch is read, see [`observe`]).
//!
//! - `ioc-ip`, `known-bad-key`, `consumer-tenant-token`: the record carries the evidence, so
//!   the alert is raised (or extended) in the batch that brings it. Matching uses the pack's
//!   [`Settings`] (configuration and intelligence) with the same conditions as `hunt`.
//! - `token-never-issued` with lag tolerance: a token used by an access record and not issued
//!   by any sign-in seen is *pending*. It is judged with `hunt`'s coverage model over the
//!   sign-ins seen so far ([`signins`]: categories, hours, resources, declared coverage; the
//!   issuance window from the token's `IssuedAtTime` or first use), and only once every sign-in
//!   stream still delivering has reached past the window's end; an interactive sign-in of the
//!   token's session from the same IP and client app makes it medium, as in `hunt`. A sign-in
//!   that arrives late clears a pending token. Pending tokens never judged expire after
//!   [`LiveLimits::pending_ttl_seconds`] of clock time, counted per unjudged reason.
//! - Verdicts are revised when the evidence arrives late: a sign-in issuing a token already
//!   judged forged withdraws the alert (severity info, `evidence.withdrawn`), an interactive
//!   sign-in of its session downgrades it to medium (`evidence.session_link`); each revision
//!   is handed to the writer ([`LiveDetector::take_revisions`]) for the audit trail, and the
//!   changed alert goes to webhook subscribers like any other.
//!
//! Every live alert (and pending token) keeps the token ids, session ids, client IPs and users
//! of all its records in its evidence ([`links`], capped per alert as `hunt` caps them), so the
//! writer's regrouping with the pack's `assign_incidents` gives `hunt`'s incidents.
//!
//! State is bounded: issued tokens expire by event time and are capped, pending tokens,
//! tracked alerts, learned baseline entries and correlation windows are capped (the oldest go
//! first; evictions are counted). The whole state serialises to JSON (a row of the store's
//! baselines table) with the id of the last event folded in, so a restart replays only the
//! events stored after it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use keywarden_detect::Rule;
use keywarden_detect::Settings;
use keywarden_detect::intern::stable_hash;
use keywarden_model::{Alert, Timestamp};
use keywarden_sigma::SigmaStage;
use keywarden_store::EventRow;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub mod baseline;
pub mod links;
pub mod observe;
pub mod sigma;
mod signins;
mod strong;

use baseline::{LeadHit, LiveBaseline, cap};
use observe::{LiveCollector, Observed, Observer};
use sigma::{CorrelationLimits, LiveSigma};
use signins::SignInsSeen;

/// Caps on the detector's memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveLimits {
    /// Issued token ids remembered.
    pub max_issued: usize,
    /// Unissued tokens waiting for sign-in coverage.
    pub max_pending: usize,
    /// Alerts kept in memory for extension (older ones stay in the store as they are).
    pub max_alerts: usize,
    /// Record ids kept per alert.
    pub max_records_per_alert: usize,
    /// Clock seconds a pending token may wait for coverage before it is dropped unjudged.
    pub pending_ttl_seconds: i64,
    /// A sign-in stream (shape and category of one tenant) silent for this many clock seconds
    /// no longer holds judgements back.
    pub stream_idle_seconds: i64,
    /// Entries per map of the learned baseline (pairs, user apps, readers, daily counts...).
    pub max_baseline_keys: usize,
    /// Sigma correlation groups (correlation × group-by key) held.
    pub max_correlation_groups: usize,
    /// Entries held per Sigma correlation group window.
    pub max_correlation_entries: usize,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            max_issued: 1_000_000,
            max_pending: 100_000,
            max_alerts: 10_000,
            max_records_per_alert: 1_000,
            pending_ttl_seconds: 24 * 3600,
            stream_idle_seconds: 900,
            max_baseline_keys: 200_000,
            max_correlation_groups: 100_000,
            max_correlation_entries: 10_000,
        }
    }
}

/// An unissued token waiting for its verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    tenant: String,
    first: i64,
    last: i64,
    /// Clock time it became pending.
    since: i64,
    user: Option<String>,
    ip: Option<String>,
    app_id: Option<String>,
    client_app_id: Option<String>,
    session_id: Option<String>,
    mailbox: Option<String>,
    records: Vec<String>,
    /// Linking values of all its records ([`links`]), carried into the alert's evidence.
    #[serde(default)]
    links: serde_json::Value,
    /// Earliest `IssuedAtTime` its records carry (microseconds).
    #[serde(default)]
    issued_at: Option<i64>,
    /// Why it could not be judged at the last attempt (an unjudged reason code).
    #[serde(default)]
    why: Option<String>,
}

/// A live verdict revised because its evidence arrived late (for the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub alert_id: String,
    pub action: RevisionAction,
    pub note: String,
}

/// How late evidence revised a live verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevisionAction {
    /// Its issuing sign-in arrived: severity info, the alert closed.
    Withdrawn,
    /// An interactive sign-in of its session arrived: high → medium.
    Downgraded,
}

impl RevisionAction {
    /// The audit trail's action.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionAction::Withdrawn => "withdrawn",
            RevisionAction::Downgraded => "downgraded",
        }
    }

    /// Whether the revision closes the alert.
    pub fn closes(self) -> bool {
        self == RevisionAction::Withdrawn
    }
}

/// What one sign-in stream has delivered: event-time span and the clock time of its last batch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Span {
    first: i64,
    last: i64,
    seen: i64,
}

/// The serialisable state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveState {
    /// Store id of the last event folded in.
    pub last_event: i64,
    /// Issued token id → latest sign-in time.
    issued: HashMap<String, i64>,
    /// Tenant → sign-in stream (`shape/category`) → what it delivered (holds judgements back
    /// while a stream still delivering has not reached past a token's issuance).
    coverage: HashMap<String, HashMap<String, Span>>,
    /// The sign-in evidence `hunt`'s coverage model is built from.
    signins: SignInsSeen,
    /// Interactive session key → live `token-never-issued` alerts of that session, IP and
    /// client app (downgraded when the session's sign-in arrives).
    session_alerts: HashMap<String, Vec<String>>,
    /// Token id → its live `token-never-issued` alert (a sign-in naming the tenant in another
    /// form, or none, still withdraws it).
    token_alerts: HashMap<String, String>,
    /// Revisions not yet handed to the writer.
    revisions: Vec<Revision>,
    /// Pending tokens dropped unjudged after the TTL, per unjudged reason code.
    pub expired_unjudged: BTreeMap<String, u64>,
    /// Token id → pending use.
    pending: HashMap<String, Pending>,
    /// Alert id → alert, for extension by later records.
    alerts: HashMap<String, Alert>,
    /// Counters (exported as metrics).
    pub evicted_pending: u64,
    pub expired_pending: u64,
    pub evicted_issued: u64,
    pub evicted_alerts: u64,
    /// The lead rules' learned baseline and running counts.
    pub baseline: LiveBaseline,
    /// Sigma correlation windows (rsigma's snapshot), written when the state is saved.
    correlation: Option<serde_json::Value>,
    /// Replayed rows whose raw record could no longer be read (strong rules only).
    pub unreadable_replay: u64,
    /// Saved correlation windows that could not be restored (they restarted empty).
    pub correlation_lost: u64,
    /// Lead findings whose alert had been evicted from memory when hit again (not re-raised).
    pub lead_hits_dropped: u64,
}

/// The incremental detector.
pub struct LiveDetector {
    settings: Arc<Settings>,
    limits: LiveLimits,
    state: LiveState,
    sigma: Option<LiveSigma>,
}

/// Key for the tenant of an event without one.
const NO_TENANT: &str = "";

/// Evidence key set when an alert's record ids reached `max_records_per_alert`.
const TRUNCATED_AT: &str = "record_ids_truncated_at";

impl LiveDetector {
    pub fn new(settings: Settings, limits: LiveLimits, state: LiveState) -> LiveDetector {
        LiveDetector {
            settings: Arc::new(settings),
            limits,
            state,
            sigma: None,
        }
    }

    /// Adds Sigma rules (detections matched per event, correlations incrementally).
    pub fn with_sigma(mut self, stage: SigmaStage) -> LiveDetector {
        let limits = CorrelationLimits {
            max_groups: self.limits.max_correlation_groups,
            max_group_entries: self.limits.max_correlation_entries,
        };
        self.sigma = Some(LiveSigma::new(stage, limits));
        self.import_correlation();
        self
    }

    /// Replaces the state (restored from the store), keeping settings, limits and rules.
    pub fn set_state(&mut self, state: LiveState) {
        self.state = state;
        self.import_correlation();
    }

    fn import_correlation(&mut self) {
        if let (Some(sigma), Some(saved)) = (self.sigma.as_mut(), self.state.correlation.take())
            && !sigma.import(saved)
        {
            self.state.correlation_lost += 1;
        }
    }

    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// The state as JSON for the store, with the current correlation windows.
    pub fn save_json(&mut self) -> Result<String, serde_json::Error> {
        self.state.correlation = self.sigma.as_ref().and_then(LiveSigma::export);
        let text = serde_json::to_string(&self.state);
        self.state.correlation = None;
        text
    }

    /// The Sigma rules, if any.
    pub fn sigma(&self) -> Option<&LiveSigma> {
        self.sigma.as_ref()
    }

    /// An observer for events read outside an ingest run.
    pub fn observer(&self) -> Observer {
        let stage = self.sigma.as_ref().map(|s| s.stage().clone());
        Observer::new(self.settings.clone(), stage)
    }

    /// The ingest processor for one batch: store rows plus what the live rules observe.
    pub fn collector(&self) -> LiveCollector {
        LiveCollector::new(self.observer())
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn limits(&self) -> LiveLimits {
        self.limits
    }

    /// Pending tokens (waiting for coverage).
    pub fn pending(&self) -> usize {
        self.state.pending.len()
    }

    /// The verdicts revised since the last call (late sign-ins), for the audit trail.
    pub fn take_revisions(&mut self) -> Vec<Revision> {
        std::mem::take(&mut self.state.revisions)
    }

    /// Folds a batch of stored events in (ids ascending) and returns the alerts raised or
    /// extended by it. The rows are re-read for the lead and Sigma rules (restart replay); the
    /// ingest path hands its observations to [`LiveDetector::process_observed`] instead.
    pub fn process(&mut self, rows: &[(i64, EventRow)], now: Timestamp) -> Vec<Alert> {
        let mut observer = self.observer();
        let mut observed = Vec::with_capacity(rows.len());
        for (id, row) in rows {
            if *id <= self.state.last_event {
                observed.push(Observed::default());
                continue;
            }
            observed.push(observer.observe_row(row).unwrap_or_else(|| {
                self.state.unreadable_replay += 1;
                Observed::default()
            }));
        }
        self.process_observed(rows, observed, now)
    }

    /// Folds a batch in with what was observed of each row while it was read (`observed[i]`
    /// belongs to `rows[i]`; missing observations count as none).
    pub fn process_observed(
        &mut self,
        rows: &[(i64, EventRow)],
        observed: Vec<Observed>,
        now: Timestamp,
    ) -> Vec<Alert> {
        let mut changed: BTreeMap<String, ()> = BTreeMap::new();
        let mut sigma_alerts = Vec::new();
        let mut contributions = Vec::new();
        let mut observed = observed.into_iter();
        for (id, row) in rows {
            let obs = observed.next().unwrap_or_default();
            if *id <= self.state.last_event {
                continue;
            }
            self.state.last_event = *id;
            self.fold(row, &obs, now, &mut changed);
            let hits = self.state.baseline.fold(row, &obs, &self.settings);
            for hit in hits {
                self.lead(hit, row, &mut changed);
            }
            sigma_alerts.extend(obs.sigma);
            contributions.extend(obs.contribution);
        }
        if let Some(sigma) = self.sigma.as_mut() {
            sigma_alerts.extend(sigma.correlate(contributions, now.unix_seconds()));
        }
        self.judge_pending(now, &mut changed);
        self.bound();
        let mut out: Vec<Alert> = changed
            .keys()
            .filter_map(|id| self.state.alerts.get(id).cloned())
            .collect();
        out.extend(sigma_alerts);
        out
    }

    /// Raises or extends the alert of a lead finding (a finding whose alert was evicted from
    /// memory is not raised again).
    fn lead(&mut self, hit: LeadHit, row: &EventRow, changed: &mut BTreeMap<String, ()>) {
        let known = self.state.alerts.get_mut(&hit.id);
        match known {
            Some(a) => {
                a.title = hit.title;
                let mut evidence = hit.evidence;
                links::carry(&a.evidence, &mut evidence);
                if let (Some(cap), Some(obj)) = (
                    a.evidence.get(TRUNCATED_AT).cloned(),
                    evidence.as_object_mut(),
                ) {
                    obj.insert(TRUNCATED_AT.into(), cap);
                }
                a.evidence = evidence;
            }
            None if hit.new => {
                let mut a = Alert::new(hit.rule.id(), hit.title, hit.severity);
                a.id = hit.id.clone();
                a.score = hit.score;
                a.attack = attack(hit.rule);
                fill(&mut a, row);
                a.evidence = hit.evidence;
                a.record_ids = hit.earlier;
                a.record_ids.truncate(self.limits.max_records_per_alert);
                self.state.alerts.insert(hit.id.clone(), a);
            }
            None => {
                self.state.lead_hits_dropped += 1;
                return;
            }
        }
        self.extend(&hit.id, row, changed);
    }

    /// Judges pending tokens without new events (called periodically: streams go idle, pending
    /// tokens expire).
    pub fn tick(&mut self, now: Timestamp) -> Vec<Alert> {
        self.process(&[], now)
    }

    pub(super) fn extend(&mut self, id: &str, row: &EventRow, changed: &mut BTreeMap<String, ()>) {
        let limit = self.limits.max_records_per_alert;
        // `evidence.revision` marks the change that revised the alert (webhooks pass it to
        // every subscriber who took the alert); a later extension is an ordinary change.
        let revised_now = self.state.revisions.iter().any(|r| r.alert_id == id);
        let Some(a) = self.state.alerts.get_mut(id) else {
            return;
        };
        if !revised_now && let Some(obj) = a.evidence.as_object_mut() {
            obj.remove("revision");
        }
        if let Some(t) = row.time.map(Timestamp) {
            a.time_first = Some(a.time_first.map_or(t, |f| f.min(t)));
            a.time_last = Some(a.time_last.map_or(t, |l| l.max(t)));
        }
        if a.record_ids.len() < limit {
            a.record_ids.push(row.record_ref.clone());
        } else if let Some(obj) = a.evidence.as_object_mut() {
            obj.insert(TRUNCATED_AT.into(), json!(limit));
        }
        // Past the record-id cap too: linking does not depend on it.
        links::add_row(&mut a.evidence, row);
        changed.insert(id.to_string(), ());
    }

    /// Enforces the caps: the oldest entries go first.
    fn bound(&mut self) {
        let s = &mut self.state;
        let (issued, pending, alerts) = (
            self.limits.max_issued,
            self.limits.max_pending,
            self.limits.max_alerts,
        );
        s.evicted_issued += cap(&mut s.issued, issued, issued, |t| *t);
        s.evicted_pending += cap(&mut s.pending, pending, pending, |p| p.since);
        s.evicted_alerts += cap(&mut s.alerts, alerts, alerts, |a| {
            a.time_last.map_or(i64::MIN, |t| t.0)
        });
        s.baseline.bound(self.limits.max_baseline_keys);
        s.signins.bound(self.limits.max_baseline_keys);
        if s.session_alerts.len() > self.limits.max_alerts {
            let alerts = &s.alerts;
            s.session_alerts
                .retain(|_, ids| ids.iter().any(|id| alerts.contains_key(id)));
        }
        if s.token_alerts.len() > self.limits.max_alerts {
            let alerts = &s.alerts;
            s.token_alerts.retain(|_, id| alerts.contains_key(id));
        }
    }

    /// Makes stored alerts extendable again after a restart.
    pub fn adopt(&mut self, alerts: Vec<Alert>) {
        for a in alerts {
            if a.id.starts_with("live-") {
                self.state.alerts.entry(a.id.clone()).or_insert(a);
            }
        }
        self.bound();
    }
}

/// The stable id of the live alert for (rule, key).
pub fn alert_id(rule: Rule, key: &[&str]) -> String {
    let mut parts = vec![rule.id()];
    parts.extend_from_slice(key);
    format!("live-{:016x}", stable_hash(&parts))
}

/// The entity fields of an alert from its first record.
fn fill(a: &mut Alert, row: &EventRow) {
    a.tenant = row.tenant.clone();
    a.user = row.user.clone();
    a.mailbox = row.mailbox.clone();
    a.client_ip = row.client_ip.clone();
    a.app_id = row.app_id.clone();
    a.client_app_id = row.client_app_id.clone();
    a.session_id = row.session_id.clone();
    a.token_id = row.token_id.clone();
}

fn attack(rule: Rule) -> Vec<String> {
    rule.attack().iter().map(|s| s.to_string()).collect()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests;
