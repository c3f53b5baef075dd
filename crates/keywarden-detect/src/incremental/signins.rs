//! What the sign-in records seen so far cover, kept as `hunt`'s coverage model is fed: sign-ins
//! per tenant, category and hour, per resource, and the interactive sessions (tenant, session,
//! IP, client app) that link a refreshed token to its sign-in. [`SignInsSeen::model`] builds the
//! [`CoverageModel`] that judges a pending token exactly as `hunt` judges it. When each hour's
//! sign-ins arrived ([`SignInsSeen::last_arrival`]) holds a verdict back while they still do.
//!
//! Bounded: hours, arrivals, resources and sessions are capped (the oldest go first); the whole
//! value serialises with the live state.

use std::collections::{BTreeMap, HashMap};

use super::record::Record;
use crate::{CoverageModel, Settings, SignInCategory};
use keywarden_model::Timestamp;
use serde::{Deserialize, Serialize};

use super::NO_TENANT;
use crate::keys::WITHOUT_TOKEN_ID;

const HOUR_MICROS: i64 = 3_600_000_000;

/// Sign-ins of one category in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct HourSeen {
    records: u64,
    first: i64,
    last: i64,
}

/// When the sign-ins of one hour (any category) arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct HourArrival {
    /// Event time of the hour's earliest sign-in.
    first: i64,
    /// Clock time the latest of them arrived.
    arrived: i64,
}

/// The sign-in evidence folded in so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct SignInsSeen {
    /// Tenant → `category-code:hour` → sign-ins (the code with `WITHOUT_TOKEN_ID` set for
    /// sign-ins that log no token identifier).
    hours: HashMap<String, BTreeMap<String, HourSeen>>,
    /// Tenant → hour (since the epoch) → when its sign-ins arrived.
    arrivals: HashMap<String, BTreeMap<i64, HourArrival>>,
    /// Tenant → resource id → sign-ins.
    resources: HashMap<String, BTreeMap<String, u64>>,
    /// Interactive session key ([`session_key`]) → latest sign-in time.
    sessions: HashMap<String, i64>,
    /// User names (UPN, object id; lower-cased) some sign-in named → latest sign-in time.
    users: HashMap<String, i64>,
    /// Users of delegated tokens (lower-cased) → latest use, for the user filter.
    token_users: HashMap<String, i64>,
    /// Earliest and latest event time of every record folded in (declared coverage without
    /// bounds reaches to it, as the input span does in `hunt`).
    span: Option<(i64, i64)>,
    /// Entries dropped by the caps.
    pub(super) evicted: u64,
    /// The model last built, reused while no sign-in, user or eviction changed what it was
    /// built from (a batch of audit records only moves the input span).
    #[serde(skip)]
    cached: Option<CoverageModel>,
    #[serde(skip)]
    stale: bool,
}

/// The key of an interactive session as a token's records name it.
pub(super) fn session_key(tenant: &str, session: &str, ip: &str, client_app: &str) -> String {
    format!("{tenant}\u{1f}{session}\u{1f}{ip}\u{1f}{client_app}")
}

impl SignInsSeen {
    /// The latest event time of any record folded in.
    pub(super) fn latest(&self) -> Option<i64> {
        self.span.map(|(_, b)| b)
    }

    /// Notes the time of any record (the input span).
    pub(super) fn note_time(&mut self, t: i64) {
        self.span = Some(self.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    }

    /// Folds in one sign-in record arriving at clock time `now`; returns its interactive
    /// session key, if it has one.
    pub(super) fn add(&mut self, row: &Record<'_>, now: i64) -> Option<String> {
        self.stale = true;
        let tenant = row.tenant.unwrap_or(NO_TENANT);
        let category = SignInCategory::of_record(row.category);
        if let (Some(c), Some(t)) = (category, row.time) {
            let hour = t.div_euclid(HOUR_MICROS);
            // A sign-in that logs no token identifier covers no issuance (`crate::coverage`).
            let tokenless = row.token_id.is_none_or(|t| t.trim().is_empty());
            let code = c.code() | if tokenless { WITHOUT_TOKEN_ID } else { 0 };
            let h = self
                .hours
                .entry(tenant.to_string())
                .or_default()
                .entry(format!("{code}:{hour}"))
                .or_insert(HourSeen {
                    records: 0,
                    first: t,
                    last: t,
                });
            h.records += 1;
            h.first = h.first.min(t);
            h.last = h.last.max(t);
            if !tokenless {
                let a = self
                    .arrivals
                    .entry(tenant.to_string())
                    .or_default()
                    .entry(hour)
                    .or_insert(HourArrival {
                        first: t,
                        arrived: now,
                    });
                a.first = a.first.min(t);
                a.arrived = a.arrived.max(now);
            }
        }
        if let Some(r) = row.app_id {
            *self
                .resources
                .entry(tenant.to_string())
                .or_default()
                .entry(r.to_string())
                .or_default() += 1;
        }
        if category != Some(SignInCategory::Interactive) {
            return None;
        }
        let (Some(se), Some(ip), Some(c)) = (row.session_id, row.client_ip, row.client_app_id)
        else {
            return None;
        };
        let key = session_key(tenant, se, ip, c);
        let at = row.time.unwrap_or(0);
        let e = self.sessions.entry(key.clone()).or_insert(at);
        *e = (*e).max(at);
        Some(key)
    }

    /// Notes the user names of a sign-in (see `crate::identity::sign_in_user_names`).
    pub(super) fn add_users(&mut self, names: &[Option<String>; 2], at: i64) {
        for n in names.iter().flatten() {
            match self.users.get_mut(n) {
                Some(e) => *e = (*e).max(at),
                None => {
                    self.users.insert(n.clone(), at);
                    self.stale = true;
                }
            }
        }
    }

    /// Notes the user of a delegated token's access record.
    pub(super) fn add_token_user(&mut self, user: &str, at: i64) {
        let u = user.trim().to_ascii_lowercase();
        if u.is_empty() {
            return;
        }
        match self.token_users.get_mut(&u) {
            Some(e) => *e = (*e).max(at),
            None => {
                self.token_users.insert(u, at);
                self.stale = true;
            }
        }
    }

    /// The clock time the latest sign-in of `tenant` (or of no tenant) of the hours from
    /// `start` to `end` arrived (an hour whose sign-ins all come after `end` does not count):
    /// while sign-ins of a token's possible issuance are still arriving (files of one period
    /// out of order, a collector catching up), the one that issued it may be among the next.
    pub(super) fn last_arrival(&self, tenant: &str, start: i64, end: i64) -> Option<i64> {
        let (first, last) = (start.div_euclid(HOUR_MICROS), end.div_euclid(HOUR_MICROS));
        [tenant, NO_TENANT]
            .into_iter()
            .filter_map(|t| self.arrivals.get(t))
            .flat_map(|hours| hours.range(first..=last).map(|(_, a)| a))
            .filter(|a| a.first <= end)
            .map(|a| a.arrived)
            .max()
    }

    /// Whether an interactive sign-in of this session came from this IP and client app.
    pub(super) fn session_linked(&self, key: &str) -> bool {
        self.sessions.contains_key(key)
    }

    /// `hunt`'s coverage model over what was seen, with the declared coverage of `s` (the
    /// same settings every call: a detector's are fixed). Rebuilt only when what it is built
    /// from changed; otherwise the cached model with the input span moved.
    pub(super) fn model(&mut self, s: &Settings) -> &CoverageModel {
        let span = self.span.map(|(a, b)| (Timestamp(a), Timestamp(b)));
        if self.stale || self.cached.is_none() {
            self.cached = Some(self.build_model(s));
            self.stale = false;
        }
        let m = self.cached.get_or_insert_with(CoverageModel::default);
        m.set_input_span(span);
        m
    }

    /// The model [`SignInsSeen::model`] last built (`None` before the first call).
    pub(super) fn cached_model(&self) -> Option<&CoverageModel> {
        self.cached.as_ref()
    }

    fn build_model(&self, s: &Settings) -> CoverageModel {
        let mut m = CoverageModel::from_config(&s.config.coverage);
        for u in self.users.keys() {
            m.add_signin_user(u);
        }
        for u in self.token_users.keys() {
            m.add_token_user(u);
        }
        for (tenant, hours) in &self.hours {
            for (key, h) in hours {
                let Some((code, hour)) = key.split_once(':') else {
                    continue;
                };
                let (Ok(code), Ok(hour)) = (code.parse::<u32>(), hour.parse::<i64>()) else {
                    continue;
                };
                let tokenless = code & WITHOUT_TOKEN_ID != 0;
                match SignInCategory::from_code(code & !WITHOUT_TOKEN_ID) {
                    Some(cat) if tokenless => m.add_without_token_id(tenant, cat, h.records),
                    Some(cat) => m.add_hour(
                        tenant,
                        cat,
                        hour,
                        h.records,
                        Some(Timestamp(h.first)),
                        Some(Timestamp(h.last)),
                    ),
                    None => {}
                }
            }
        }
        for (tenant, resources) in &self.resources {
            for (r, n) in resources {
                m.add_resource(tenant, r, *n);
            }
        }
        for d in &s.declared {
            m.declare(d.clone());
        }
        m.finish(self.span.map(|(a, b)| (Timestamp(a), Timestamp(b))));
        m
    }

    /// Enforces `max` entries per map: the oldest hours and sessions, the least used
    /// resources go first.
    pub(super) fn bound(&mut self, max: usize) {
        let before = self.evicted;
        self.bound_maps(max);
        if self.evicted != before {
            self.stale = true;
        }
    }

    fn bound_maps(&mut self, max: usize) {
        self.evicted += super::leads::cap_nested(&mut self.hours, max, |h| h.last);
        // Not counted: an hour forgotten here only stops holding a verdict back.
        let total: usize = self.arrivals.values().map(BTreeMap::len).sum();
        if total > max {
            let mut all: Vec<(i64, String)> = self
                .arrivals
                .iter()
                .flat_map(|(t, m)| m.keys().map(move |h| (*h, t.clone())))
                .collect();
            all.sort_unstable();
            // Down to 90 %: not a sort of every entry on every batch once at the cap.
            for (h, t) in all.into_iter().take(total - max / 10 * 9) {
                if let Some(m) = self.arrivals.get_mut(&t) {
                    m.remove(&h);
                }
            }
            self.arrivals.retain(|_, m| !m.is_empty());
        }
        self.evicted += super::leads::cap_nested(&mut self.resources, max, |n| *n);
        self.evicted += super::leads::cap(&mut self.sessions, max, max, |t| *t);
        self.evicted += super::leads::cap(&mut self.users, max, max, |t| *t);
        self.evicted += super::leads::cap(&mut self.token_users, max, max, |t| *t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectConfig, TokenKind, TokenWindow, Unjudged};

    fn sign_in(category: &str, minute: i64) -> Record<'_> {
        Record {
            role: "sign-in",
            tenant: Some("t1"),
            category: Some(category),
            app_id: Some("00000002-0000-0ff1-ce00-000000000000"),
            session_id: Some("s1"),
            client_ip: Some("192.0.2.1"),
            client_app_id: Some("c1"),
            token_id: Some("issued"),
            time: Some(1_700_000_000_000_000 + minute * 60_000_000),
            ..Record::default()
        }
    }

    #[test]
    fn judges_a_token_as_hunt_does_only_where_both_user_categories_are_covered() {
        let s = DetectConfig::default().build().unwrap();
        let mut seen = SignInsSeen::default();
        for m in (0..3 * 24 * 60).step_by(20) {
            seen.note_time(sign_in("SignInLogs", m).time.unwrap());
            seen.add(&sign_in("SignInLogs", m), 0);
        }
        let at = |m: i64| Timestamp(1_700_000_000_000_000 + m * 60_000_000);
        let w = TokenWindow {
            tenant: "t1",
            kind: TokenKind::of(Some("alice@contoso.com"), Some("c1")),
            user: Some("alice@contoso.com"),
            resource: Some("00000002-0000-0ff1-ce00-000000000000"),
            issued: (at(24 * 60), at(25 * 60)),
        };
        // Interactive sign-ins only: a user token's issuance is not covered.
        assert_eq!(
            seen.model(&s).judge(&w),
            Err(Unjudged::NoNonInteractiveSignIns)
        );
        for m in (0..3 * 24 * 60).step_by(20) {
            seen.add(&sign_in("NonInteractiveUserSignInLogs", m), 0);
        }
        assert_eq!(seen.model(&s).judge(&w), Ok(()));
        assert!(seen.session_linked(&session_key("t1", "s1", "192.0.2.1", "c1")));
        assert!(!seen.session_linked(&session_key("t1", "s1", "198.51.100.7", "c1")));
    }

    #[test]
    fn bound_drops_the_oldest_hours() {
        let mut seen = SignInsSeen::default();
        for m in (0..10 * 60).step_by(60) {
            seen.add(&sign_in("SignInLogs", m), 0);
        }
        seen.bound(4);
        assert_eq!(seen.hours.values().map(BTreeMap::len).sum::<usize>(), 4);
        assert!(seen.evicted >= 6);
    }
}

#[cfg(test)]
mod arrival_tests {
    use super::*;

    #[test]
    fn last_arrival_counts_the_hours_of_the_range_up_to_its_end_and_unnamed_tenants() {
        let base = 1_700_000_000_000_000 - 1_700_000_000_000_000 % HOUR_MICROS;
        let min = |m: i64| base + m * 60_000_000;
        let sign_in = |tenant: Option<&'static str>, m: i64| Record {
            role: "sign-in",
            tenant,
            category: Some("SignInLogs"),
            token_id: Some("issued"),
            time: Some(min(m)),
            ..Record::default()
        };
        let mut seen = SignInsSeen::default();
        // Hour granularity: an hour counts with its latest arrival when it holds a sign-in
        // up to the range's end, and not at all when all of its sign-ins come after it.
        seen.add(&sign_in(Some("t1"), 10), 100);
        seen.add(&sign_in(Some("t1"), 50), 200);
        seen.add(&sign_in(Some("t1"), 70), 300);
        assert_eq!(seen.last_arrival("t1", min(0), min(5)), None);
        assert_eq!(seen.last_arrival("t1", min(0), min(30)), Some(200));
        assert_eq!(seen.last_arrival("t1", min(0), min(65)), Some(200));
        assert_eq!(seen.last_arrival("t1", min(0), min(70)), Some(300));
        assert_eq!(seen.last_arrival("t1", min(61), min(70)), Some(300));
        assert_eq!(seen.last_arrival("t2", min(0), min(70)), None);
        // A sign-in naming no tenant counts for every tenant.
        seen.add(&sign_in(None, 20), 400);
        assert_eq!(seen.last_arrival("t2", min(0), min(30)), Some(400));
        assert_eq!(seen.last_arrival("t1", min(0), min(30)), Some(400));
    }
}
