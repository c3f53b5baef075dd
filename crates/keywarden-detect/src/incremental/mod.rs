//! The incremental driver: the detection pack's rules run on each batch of events as it
//! arrives, with bounded state that can be saved and restored and an injected clock (`serve`'s
//! live detection; `hunt` runs the same rule definitions in batch, `rules/`). The
//! caller hands each event as a [`Record`] with what was [`Observed`] of it while it was read.
//!
//! - `ioc-ip`, `known-bad-key`, `consumer-tenant-token`: the record carries the evidence, so
//!   the alert is raised (or extended) in the batch that brings it. Matching uses the pack's
//!   [`Settings`] (configuration and intelligence) with the same conditions as `hunt`. A
//!   `consumer-tenant-token` alert takes the token's other records too, as `hunt` links them
//!   (the earlier ones from the token's pending use or `token-never-issued` alert).
//! - `token-never-issued` with lag tolerance: a token used by an access record and not issued
//!   by any sign-in seen is *pending*. It is judged with `hunt`'s coverage model over the
//!   sign-ins seen so far (`signins.rs`: categories, hours, resources, declared coverage; the
//!   issuance window from the token's `IssuedAtTime` or first use), and only once every sign-in
//!   stream still delivering has reached past the window's end; an interactive sign-in of the
//!   token's session from the same IP and client app makes it medium, as in `hunt`. While
//!   sign-ins of its possible issuance are still arriving (files of one period out of order),
//!   it waits until none has for [`LiveLimits::stream_idle_seconds`] (at most four such
//!   times after it became judgeable). A sign-in
//!   that arrives late clears a pending token. Pending tokens never judged expire after
//!   [`LiveLimits::pending_ttl_seconds`] of clock time, counted per unjudged reason.
//! - Verdicts are revised when the evidence arrives late: a sign-in issuing a token already
//!   judged forged withdraws the alert (severity info, `evidence.withdrawn`), an interactive
//!   sign-in of its session downgrades it to medium (`evidence.session_link`); each revision
//!   is handed to the caller ([`Engine::take_revisions`]) for the audit trail.
//! - The lead rules run against a baseline learned live (`leads.rs`, [`LiveBaseline`]).
//!
//! Every alert (and pending token) keeps the token ids, session ids, client IPs and users of
//! all its records in its evidence (`links.rs`, capped per alert as `hunt` caps them), so
//! regrouping with the pack's `assign_incidents` gives `hunt`'s incidents.
//!
//! State is bounded: issued tokens expire by event time and are capped, pending tokens,
//! tracked alerts and learned baseline entries are capped (the oldest go first; evictions are
//! counted). The whole state serialises ([`LiveState`]) with the id of the last event folded
//! in, so a restart replays only the events stored after it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use keywarden_model::{Alert, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Settings;
use crate::intern::stable_hash;
use crate::rules::Rule;

mod leads;
mod links;
mod record;
mod signins;
mod strong;

pub use leads::LiveBaseline;
pub use record::{LeadKey, Observed, Record, RuleObserver, role_name};

use leads::{LeadHit, cap};
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
    /// no longer holds judgements back; sign-ins of a token's possible issuance hold its
    /// judgement back until none has arrived for this long (at most four times this long).
    pub stream_idle_seconds: i64,
    /// Entries per map of the learned baseline (pairs, user apps, readers, daily counts...).
    pub max_baseline_keys: usize,
    /// Sigma correlation groups (correlation × group-by key) held (by the caller's Sigma
    /// engine: `serve` configures both with one `[live]` table).
    pub max_correlation_groups: usize,
    /// Entries held per Sigma correlation group window (the caller's Sigma engine).
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
    /// Clock time it was first found judgeable (coverage and streams past its issuance):
    /// bounds its wait for sign-ins still arriving.
    #[serde(default)]
    ready_since: Option<i64>,
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
    /// Tenant and token id ([`claim_key`]) → live `consumer-tenant-token` alerts raised on the
    /// token's own claims: the token's other records join them, as `hunt` links them.
    #[serde(deserialize_with = "claims_any_form")]
    claim_alerts: HashMap<String, Claimed>,
    /// Tokens forgotten from `claim_alerts` by its cap (not by age: a token past its lifetime
    /// cannot be used again).
    pub evicted_claims: u64,
    /// Revisions not yet handed to the caller ([`Engine::take_revisions`]).
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
    /// Lead findings whose alert had been evicted from memory when hit again (not re-raised).
    pub lead_hits_dropped: u64,
}

/// The incremental driver.
pub struct Engine {
    settings: Arc<Settings>,
    limits: LiveLimits,
    state: LiveState,
}

/// Key for the tenant of an event without one.
const NO_TENANT: &str = "";

/// Evidence key set when an alert's record ids reached `max_records_per_alert`.
const TRUNCATED_AT: &str = "record_ids_truncated_at";

impl Engine {
    pub fn new(settings: Arc<Settings>, limits: LiveLimits, state: LiveState) -> Engine {
        Engine {
            settings,
            limits,
            state,
        }
    }

    /// Replaces the state (restored by the caller), keeping settings and limits.
    pub fn set_state(&mut self, state: LiveState) {
        self.state = state;
    }

    pub fn state(&self) -> &LiveState {
        &self.state
    }

    /// The settings, shared with the caller's observers ([`RuleObserver`]).
    pub fn shared_settings(&self) -> &Arc<Settings> {
        &self.settings
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

    /// Folds a batch of events in (ids ascending; events at or before the last one folded in
    /// are skipped) with what was observed of each (`observed[i]` belongs to `records[i]`;
    /// missing observations count as none), judges pending tokens at `now`, and returns the
    /// alerts raised, extended or revised by it.
    pub fn process(
        &mut self,
        records: &[(i64, Record<'_>)],
        observed: Vec<Observed>,
        now: Timestamp,
    ) -> Vec<Alert> {
        let mut changed: BTreeMap<String, ()> = BTreeMap::new();
        let mut observed = observed.into_iter();
        for (id, row) in records {
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
        }
        self.judge_pending(now, &mut changed);
        self.bound(now.0);
        changed
            .keys()
            .filter_map(|id| self.state.alerts.get(id).cloned())
            .collect()
    }

    /// Raises or extends the alert of a lead finding (a finding whose alert was evicted from
    /// memory is not raised again).
    fn lead(&mut self, hit: LeadHit, row: &Record<'_>, changed: &mut BTreeMap<String, ()>) {
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
        // Its evidence was rewritten with the finding's counts, even for a copy.
        changed.insert(hit.id, ());
    }

    pub(super) fn extend(
        &mut self,
        id: &str,
        row: &Record<'_>,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let limit = self.limits.max_records_per_alert;
        // `evidence.revision` marks the change that revised the alert (webhooks pass it to
        // every subscriber who took the alert); a later extension is an ordinary change.
        let revised_now = self.state.revisions.iter().any(|r| r.alert_id == id);
        let Some(a) = self.state.alerts.get_mut(id) else {
            return;
        };
        let span = (a.time_first, a.time_last);
        if let Some(t) = row.time.map(Timestamp) {
            a.time_first = Some(a.time_first.map_or(t, |f| f.min(t)));
            a.time_last = Some(a.time_last.map_or(t, |l| l.max(t)));
        }
        // A copy of a record the alert holds (sent again in a later batch) is not listed
        // again: the ids stay unique, as `hunt`'s are.
        let known = a.record_ids.iter().any(|r| r == row.record_ref);
        let mut grew = false;
        if !known {
            if a.record_ids.len() < limit {
                a.record_ids.push(row.record_ref.to_string());
                grew = true;
            } else if a.evidence.get(TRUNCATED_AT).is_none()
                && let Some(obj) = a.evidence.as_object_mut()
            {
                obj.insert(TRUNCATED_AT.into(), json!(limit));
                grew = true;
            }
        }
        // Past the record-id cap too: linking does not depend on it.
        let linked = links::add_row(&mut a.evidence, row);
        if !grew && !linked && span == (a.time_first, a.time_last) {
            // Nothing changed (a copy, or a record past the cap adding nothing): the alert is
            // not handed out again (webhooks would resend it).
            return;
        }
        if !revised_now && let Some(obj) = a.evidence.as_object_mut() {
            obj.remove("revision");
        }
        changed.insert(id.to_string(), ());
    }

    /// Enforces the caps (the oldest entries go first) at clock time `now`.
    fn bound(&mut self, now: i64) {
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
        // Past the alert cap: a claimed token past its lifetime (from its last record, with
        // the tolerances) cannot be used again, one whose alerts were all evicted links to
        // nothing; the rest is capped, the least recently used first (counted).
        if s.claim_alerts.len() > alerts {
            // The latest event time, but no later than a day past the clock: one record dated
            // in the future must not age every claim out.
            if let Some(latest) = s.signins.latest() {
                let latest = latest.min(now.saturating_add(86_400_000_000));
                let t = &self.settings.config.tolerance;
                let minutes =
                    t.max_token_lifetime_minutes + t.clock_skew_minutes + t.ingestion_lag_minutes;
                let horizon = latest.saturating_sub(minutes.saturating_mul(60_000_000));
                s.claim_alerts.retain(|_, c| c.last >= horizon);
            }
            let held = &s.alerts;
            s.claim_alerts.retain(|_, c| {
                c.alerts.retain(|id| held.contains_key(id));
                !c.alerts.is_empty()
            });
            s.evicted_claims += cap(&mut s.claim_alerts, alerts, alerts, |c| c.last);
        }
    }

    /// Makes stored alerts extendable again after a restart.
    pub fn adopt(&mut self, alerts: Vec<Alert>) {
        for a in alerts {
            if a.id.starts_with("live-") {
                self.state.alerts.entry(a.id.clone()).or_insert(a);
            }
        }
        self.bound(i64::MAX);
    }
}

/// The stable id of the incremental driver's alert for (rule, key) (`live-` and a hash).
pub fn alert_id(rule: Rule, key: &[&str]) -> String {
    let mut parts = vec![rule.id()];
    parts.extend_from_slice(key);
    format!("live-{:016x}", stable_hash(&parts))
}

/// A token whose own claims raised `consumer-tenant-token` alerts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Claimed {
    /// The alerts its records join.
    alerts: Vec<String>,
    /// Event time of its latest record (clock time for a record without one).
    last: i64,
}

/// `claim_alerts` as saved now, or as a list of alert ids per token (the form of the tenth
/// session's first builds; read with no last use, so the first trim past the cap drops it).
fn claims_any_form<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<HashMap<String, Claimed>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Now(Claimed),
        Ids(Vec<String>),
    }
    let raw: HashMap<String, Form> = HashMap::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, f)| {
            let c = match f {
                Form::Now(c) => c,
                Form::Ids(alerts) => Claimed { alerts, last: 0 },
            };
            (k, c)
        })
        .collect())
}

/// The key of a token in a tenant in [`LiveState`]'s `claim_alerts` (`\u{1f}` cannot occur in
/// either: readers keep control characters out of ids).
fn claim_key(tenant: &str, token: &str) -> String {
    format!("{tenant}\u{1f}{token}")
}

/// The entity fields of an alert from its first record.
fn fill(a: &mut Alert, row: &Record<'_>) {
    let own = |v: Option<&str>| v.map(str::to_string);
    a.tenant = own(row.tenant);
    a.user = own(row.user);
    a.mailbox = own(row.mailbox);
    a.client_ip = own(row.client_ip);
    a.app_id = own(row.app_id);
    a.client_app_id = own(row.client_app_id);
    a.session_id = own(row.session_id);
    a.token_id = own(row.token_id);
}

fn attack(rule: Rule) -> Vec<String> {
    rule.attack().iter().map(|s| s.to_string()).collect()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod parity;

impl LiveState {
    /// The alerts held for extension.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }
}
