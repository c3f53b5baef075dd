//! The rules: from merged aggregates to candidate alerts.
//!
//! [`plan`] decides the baseline period, asks each rule for its candidates (a rule id, the keys
//! whose records it covers, a severity and evidence), and indexes the keys for the collection
//! pass. Strong rules ([`strong`]) judge tokens and single records and may be `high`; lead
//! rules ([`leads`]) judge novelty against the baseline and are at most `medium`.

pub(crate) mod adfs;
pub(crate) mod finding;
pub(crate) mod leads;
pub(crate) mod strong;
pub(crate) mod takeover;

use std::collections::BTreeSet;

use keywarden_model::{Severity, Timestamp, time::MICROS_PER_DAY};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::baseline::Baseline;
use crate::config::Settings;
use crate::coverage::CoverageSummary;
use crate::intern::Sym;
use crate::keys::{Flag, Key};
use crate::scan::{Ctx, Scan};

/// The built-in rules, with their stable ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Rule {
    TokenNeverIssued,
    TokenBeyondLifetime,
    UnexpectedMailboxApp,
    FirstSeenClientApp,
    ConsumerTenantToken,
    KnownBadKey,
    IocIp,
    MailboxVolumeAnomaly,
    CrossMailboxAccess,
    AppTakeover,
    AppCredentialAdded,
    AppMailPermission,
    AppAdminConsent,
    FederationChanged,
    AdfsKeyTheft,
}

impl Rule {
    pub const ALL: [Rule; 15] = [
        Rule::TokenNeverIssued,
        Rule::TokenBeyondLifetime,
        Rule::UnexpectedMailboxApp,
        Rule::FirstSeenClientApp,
        Rule::ConsumerTenantToken,
        Rule::KnownBadKey,
        Rule::IocIp,
        Rule::MailboxVolumeAnomaly,
        Rule::CrossMailboxAccess,
        Rule::AppTakeover,
        Rule::AppCredentialAdded,
        Rule::AppMailPermission,
        Rule::AppAdminConsent,
        Rule::FederationChanged,
        Rule::AdfsKeyTheft,
    ];

    /// The stable id used in `alerts.jsonl`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::TokenNeverIssued => "token-never-issued",
            Rule::TokenBeyondLifetime => "token-beyond-lifetime",
            Rule::UnexpectedMailboxApp => "unexpected-mailbox-app",
            Rule::FirstSeenClientApp => "first-seen-client-app",
            Rule::ConsumerTenantToken => "consumer-tenant-token",
            Rule::KnownBadKey => "known-bad-key",
            Rule::IocIp => "ioc-ip",
            Rule::MailboxVolumeAnomaly => "mailbox-volume-anomaly",
            Rule::CrossMailboxAccess => "cross-mailbox-access",
            Rule::AppTakeover => "app-takeover",
            Rule::AppCredentialAdded => "app-credential-added",
            Rule::AppMailPermission => "app-mail-permission",
            Rule::AppAdminConsent => "app-admin-consent",
            Rule::FederationChanged => "federation-changed",
            Rule::AdfsKeyTheft => "adfs-key-theft",
        }
    }

    /// ATT&CK techniques.
    pub fn attack(self) -> &'static [&'static str] {
        match self {
            Rule::TokenNeverIssued | Rule::TokenBeyondLifetime | Rule::ConsumerTenantToken => {
                &["T1606", "T1550.001", "T1114.002"]
            }
            Rule::KnownBadKey => &["T1552.004", "T1606", "T1550.001"],
            Rule::IocIp => &["T1090", "T1114.002"],
            Rule::UnexpectedMailboxApp | Rule::FirstSeenClientApp => &["T1550.001", "T1114.002"],
            Rule::MailboxVolumeAnomaly | Rule::CrossMailboxAccess => &["T1114.002"],
            Rule::AppTakeover => &["T1098.001", "T1098.003", "T1528", "T1114.002"],
            Rule::AppCredentialAdded => &["T1098.001"],
            Rule::AppMailPermission | Rule::AppAdminConsent => &["T1098.003", "T1528"],
            Rule::FederationChanged => &["T1484.002", "T1606.002"],
            Rule::AdfsKeyTheft => &["T1552.004", "T1003.006", "T1606.002"],
        }
    }

    /// Strong rules carry evidence of forgery or of a known actor; leads only novelty.
    pub fn is_strong(self) -> bool {
        matches!(
            self,
            Rule::TokenNeverIssued
                | Rule::TokenBeyondLifetime
                | Rule::ConsumerTenantToken
                | Rule::KnownBadKey
                | Rule::IocIp
                | Rule::AppTakeover
        )
    }

    pub(crate) fn of_flag(f: Flag) -> Rule {
        match f {
            Flag::ConsumerTenant => Rule::ConsumerTenantToken,
            Flag::BadKey => Rule::KnownBadKey,
            Flag::IocIp => Rule::IocIp,
        }
    }
}

/// An alert before its records are collected.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub rule: Rule,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    /// The records of these keys are the alert's records; they name it (its id is theirs).
    pub keys: Vec<Key>,
    /// Keys whose records join the alert without naming it: the other records of the tokens
    /// whose claims earned a `consumer-tenant-token` alert ([`Key::ClaimToken`]).
    pub linked: Vec<Key>,
    pub ctx: Ctx,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub evidence: Map<String, Json>,
    /// Records known at planning time beyond its keys' (directory changes, key theft).
    pub records: Vec<String>,
    /// The acting user when the context has none (the directory change's actor).
    pub user: Option<String>,
}

impl Candidate {
    /// The candidate of a finding over one key's records (a lead's evidence starts with its
    /// baseline `note`).
    pub(crate) fn of_key(
        finding: &finding::Finding<'_>,
        s: &Settings,
        note: Option<&BaselineNote>,
        key: Key,
        u: &crate::scan::Use,
    ) -> Candidate {
        Candidate {
            rule: finding.rule(),
            title: finding.title(),
            severity: finding.severity(),
            score: finding.score(),
            keys: vec![key],
            linked: Vec::new(),
            ctx: u.ctx,
            first: u.first,
            last: u.last,
            evidence: finding.evidence(s, note),
            records: Vec::new(),
            user: None,
        }
    }
}

/// Where the baseline came from, for evidence and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineNote {
    /// `look-back`, `external`, or `none`.
    pub source: &'static str,
    /// Records first used before this time are normal (look-back only).
    pub end: Option<Timestamp>,
    pub reason: String,
}

/// The rules' decisions over one scan.
#[derive(Debug)]
pub struct Plan {
    pub scan: Scan,
    pub baseline: BaselineNote,
    pub candidates: Vec<Candidate>,
    /// Key → candidates covering its records.
    pub wanted: FxHashMap<Key, Vec<u32>>,
    /// Names of the inputs holding candidate records (the collection pass reads only these).
    pub inputs_needed: BTreeSet<String>,
    /// What the sign-in evidence covers, and the tokens left unjudged (for `summary.json`).
    pub coverage: CoverageSummary,
    /// Verdicts of the tokens no sign-in issued.
    pub(crate) verdicts: FxHashMap<Key, strong::Verdict>,
    pub(crate) known: Known,
}

/// Baseline membership over this scan's symbols.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Keys first used before this are in the look-back baseline.
    pub end: Option<Timestamp>,
    /// Keys known from an external baseline.
    pub keys: FxHashSet<Key>,
    /// (user, client) → last use in an external baseline.
    pub user_apps: FxHashMap<(Sym, Sym), Timestamp>,
    /// (tenant, client) → mean daily operations.
    pub daily_ops: FxHashMap<(Sym, Sym), f64>,
}

impl Known {
    /// Whether a key's records were normal before the period under judgement.
    pub(crate) fn contains(&self, key: &Key, scan: &Scan) -> bool {
        if self.keys.contains(key) {
            return true;
        }
        match (self.end, scan.get(key).and_then(|u| u.first)) {
            (Some(end), Some(first)) => first < end,
            _ => false,
        }
    }
}

/// Applies every enabled rule to a scan. `external` replaces the look-back baseline.
pub(crate) fn plan(scan: Scan, settings: &Settings, external: Option<&Baseline>) -> Plan {
    let model = strong::coverage_model(&scan, settings);
    let (never, coverage) = strong::never_issued(&scan, settings, &model);
    let beyond = strong::beyond_lifetime(&scan, settings);
    let (mut known, baseline) = match external {
        Some(b) => (
            known_from(b, &scan),
            BaselineNote {
                source: "external",
                end: None,
                reason: "baseline from --baseline/--state".into(),
            },
        ),
        None => {
            let first_evidence = strong::first_evidence(&scan, &never, &beyond);
            look_back(&scan, settings, first_evidence)
        }
    };
    if external.is_none() {
        add_lookback_daily_ops(&mut known, &scan);
    }
    let mut scan = scan;
    scan.directory.sort();
    let mut candidates = strong::candidates(&scan, settings, &never, &beyond);
    candidates.extend(leads::candidates(&scan, settings, &known, &baseline));
    candidates.extend(takeover::candidates(&scan, settings));
    candidates.extend(adfs::candidates(&scan, settings));
    candidates.sort_by(|a, b| {
        (a.first, a.rule, &a.keys)
            .partial_cmp(&(b.first, b.rule, &b.keys))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut wanted: FxHashMap<Key, Vec<u32>> = FxHashMap::default();
    let mut inputs_needed = BTreeSet::new();
    for (i, c) in candidates.iter().enumerate() {
        for k in c.keys.iter().chain(&c.linked) {
            wanted.entry(*k).or_default().push(i as u32);
            for f in scan.get(k).map(|u| u.files.as_slice()).unwrap_or(&[]) {
                inputs_needed.insert(scan.text(*f).to_string());
            }
        }
    }
    Plan {
        scan,
        baseline,
        candidates,
        wanted,
        inputs_needed,
        coverage,
        verdicts: strong::verdicts(&never),
        known,
    }
}

fn look_back(
    scan: &Scan,
    s: &Settings,
    first_evidence: Option<Timestamp>,
) -> (Known, BaselineNote) {
    let days = s.config.baseline.days;
    let (Some(start), Some(last)) = (scan.first, scan.last) else {
        let note = BaselineNote {
            source: "none",
            end: None,
            reason: "no timed records".into(),
        };
        return (Known::default(), note);
    };
    let full = start.0.saturating_add(days.saturating_mul(MICROS_PER_DAY));
    let (end, reason) = if last.0 >= full {
        match first_evidence {
            Some(e) if e.0 < full => (e, format!("records before the first strong evidence ({e})")),
            _ => (
                Timestamp(full),
                format!("the first {days} days of the input"),
            ),
        }
    } else {
        match first_evidence {
            Some(e) => (e, format!("records before the first strong evidence ({e})")),
            None => (
                start,
                format!("none: the input spans less than {days} days and holds no strong evidence"),
            ),
        }
    };
    let source = if end > start { "look-back" } else { "none" };
    let known = Known {
        end: Some(end),
        ..Known::default()
    };
    (
        known,
        BaselineNote {
            source,
            end: Some(end),
            reason,
        },
    )
}

fn known_from(b: &Baseline, scan: &Scan) -> Known {
    let f = |s: &str| scan.syms.find(s);
    let mut k = Known::default();
    for (t, a, c) in &b.pairs {
        if let (Some(t), Some(a), Some(c)) = (f(t), f(a), f(c)) {
            k.keys.insert(Key::Pair(t, a, c));
        }
    }
    for (t, m, a, c) in &b.mailbox_pairs {
        if let (Some(t), Some(m), Some(a), Some(c)) = (f(t), f(m), f(a), f(c)) {
            k.keys.insert(Key::MailboxPair(t, m, a, c));
        }
    }
    for (i, m) in &b.readers {
        if let (Some(i), Some(m)) = (f(i), f(m)) {
            k.keys.insert(Key::Reader(i, m));
        }
    }
    for (u, ip) in &b.user_ips {
        if let (Some(u), Some(ip)) = (f(u), f(ip)) {
            k.keys.insert(Key::UserIp(u, ip));
        }
    }
    for (u, apps) in &b.user_apps {
        let Some(u) = f(u) else { continue };
        for (c, t) in apps {
            if let Some(c) = f(c) {
                k.user_apps.insert((u, c), *t);
            }
        }
    }
    for (t, apps) in &b.app_daily_ops {
        let Some(t) = f(t) else { continue };
        for (c, m) in apps {
            if let Some(c) = f(c) {
                k.daily_ops.insert((t, c), *m);
            }
        }
    }
    k
}

fn add_lookback_daily_ops(known: &mut Known, scan: &Scan) {
    let (Some(end), Some(start)) = (known.end, scan.first) else {
        return;
    };
    if end <= start {
        return;
    }
    let days = ((end.0 - start.0) as f64 / MICROS_PER_DAY as f64)
        .ceil()
        .max(1.0);
    let end_day = end.day_number();
    let mut sums: FxHashMap<(Sym, Sym), i64> = FxHashMap::default();
    for (k, u) in &scan.uses {
        if let Key::AppDay(t, c, d) = *k
            && d < end_day
        {
            *sums.entry((t, c)).or_default() += u.ops;
        }
    }
    for (k, ops) in sums {
        known.daily_ops.insert(k, ops as f64 / days);
    }
}

impl Plan {
    /// Whether the collection pass must read the input called `name`.
    pub fn needs_input(&self, name: &str) -> bool {
        input_listed(&self.inputs_needed, name)
    }
}

/// Whether an input called `name` (or the archive it is a member of, `outer!inner`) is in
/// a set of input names.
pub(crate) fn input_listed(names: &BTreeSet<String>, name: &str) -> bool {
    names.contains(name)
        || name
            .split_once('!')
            .is_some_and(|(outer, _)| names.contains(outer))
}

/// Keys of every candidate (to keep alerted behaviour out of a saved state).
pub(crate) fn alerted_keys(plan: &Plan) -> BTreeSet<Key> {
    plan.candidates
        .iter()
        .flat_map(|c| c.keys.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_the_contract() {
        let ids: Vec<_> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(
            ids,
            [
                "token-never-issued",
                "token-beyond-lifetime",
                "unexpected-mailbox-app",
                "first-seen-client-app",
                "consumer-tenant-token",
                "known-bad-key",
                "ioc-ip",
                "mailbox-volume-anomaly",
                "cross-mailbox-access",
                "app-takeover",
                "app-credential-added",
                "app-mail-permission",
                "app-admin-consent",
                "federation-changed",
                "adfs-key-theft"
            ]
        );
        assert!(Rule::ALL.iter().all(|r| !r.attack().is_empty()));
        assert_eq!(Rule::ALL.iter().filter(|r| r.is_strong()).count(), 6);
    }
}
