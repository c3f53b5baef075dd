//! [`LiveBaseline`]: the detection pack's lead rules, incrementally, against a baseline learned
//! live and kept in the driver state (which `serve` saves as a row of its store's baselines table).
//!
//! The first `[detect] baseline.days` days of event time (7 by default, as in `hunt`) after
//! the first mail access only *learn*: app pairs per tenant and per mailbox, each user's client
//! apps with their last use, readers of mailboxes they do not own, and the mail operations per
//! (tenant, client app). After that each mail access is judged with `hunt`'s conditions and
//! thresholds (same keys, from `crate::keys::keys_of`):
//!
//! - `unexpected-mailbox-app`: an (AppId, ClientAppId) pair not learned for the tenant, else
//!   (per mailbox, non-first-party client) not learned for that mailbox;
//! - `first-seen-client-app`: a non-first-party client app the user did not use within the
//!   look-back;
//! - `mailbox-volume-anomaly`: a day's operations of a client app above
//!   `max(mean × factor, min_operations)`, the mean taken over the learning days;
//! - `cross-mailbox-access`: an identity newly reading at least `min_mailboxes` mailboxes it
//!   does not own.
//!
//! Each finding fires once (its alert id is remembered); later records extend it. Leads are
//! `low` (`cross-mailbox-access` `medium`), never `high`. Every map is capped; the entries
//! seen longest ago are evicted first and counted.

use std::collections::{BTreeMap, HashMap};

use super::record::Record;
use crate::rules::BaselineNote;
use crate::rules::finding::{Finding, day_start, is_first_use};
use crate::{Rule, Settings};
use keywarden_model::time::MICROS_PER_DAY;
use keywarden_model::{Severity, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::alert_id;
use super::record::{LeadKey, Observed};

/// One finding of a lead rule on one record.
#[derive(Debug, Clone)]
pub struct LeadHit {
    pub rule: Rule,
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    pub evidence: Json,
    /// First time this finding fires (later hits extend its alert).
    pub new: bool,
    /// Earlier records the finding covers besides this one (the reads that led up to a
    /// `cross-mailbox-access` finding).
    pub earlier: Vec<String>,
}

/// Learned and running state (serialised into the detector state).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveBaseline {
    /// Event time the learning period started (first timed mail access).
    pub start: Option<i64>,
    /// Event time learning ended (`start + baseline.days`), once an event reached it.
    pub learned: Option<i64>,
    pairs: HashMap<String, i64>,
    mailbox_pairs: HashMap<String, i64>,
    /// (user, client) → last use.
    user_apps: HashMap<String, i64>,
    readers: HashMap<String, i64>,
    /// (tenant, client) → operations while learning.
    learn_ops: HashMap<String, i64>,
    /// (tenant, client) → mean daily operations over the learning days.
    daily_mean: HashMap<String, f64>,
    /// (tenant, client, day) → operations that day (after learning).
    day_ops: HashMap<String, (i64, i64)>,
    /// Identity → mailboxes it newly reads (after learning): mailbox, first time, record.
    fresh_readers: HashMap<String, Vec<(String, i64, String)>>,
    /// Alert id → last time it was hit: findings that already fired.
    fired: HashMap<String, i64>,
    /// Entries evicted by the caps.
    pub evicted: u64,
}

/// Joins key parts (unit separator: never in an id, UPN or GUID).
fn key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

impl LiveBaseline {
    /// Whether the learning period is over.
    pub fn judging(&self) -> bool {
        self.learned.is_some()
    }

    /// Entries held across the maps.
    pub fn entries(&self) -> usize {
        self.pairs.len()
            + self.mailbox_pairs.len()
            + self.user_apps.len()
            + self.readers.len()
            + self.learn_ops.len()
            + self.daily_mean.len()
            + self.day_ops.len()
            + self.fresh_readers.len()
            + self.fired.len()
    }

    /// Folds one event in; returns the lead findings it raises or extends.
    pub fn fold(&mut self, row: &Record<'_>, obs: &Observed, s: &Settings) -> Vec<LeadHit> {
        let Some(t) = row.time else {
            return Vec::new();
        };
        if obs.leads.is_empty() {
            return Vec::new();
        }
        let start = *self.start.get_or_insert(t);
        let days = s.config.baseline.days.max(0);
        if self.learned.is_none() && t >= start.saturating_add(days.saturating_mul(MICROS_PER_DAY))
        {
            self.end_learning(
                start.saturating_add(days.saturating_mul(MICROS_PER_DAY)),
                days,
            );
        }
        match self.learned {
            None => {
                self.learn(obs, t);
                Vec::new()
            }
            Some(end) => self.judge(row, obs, t, end, s),
        }
    }

    fn learn(&mut self, obs: &Observed, t: i64) {
        for k in &obs.leads {
            match k {
                LeadKey::Pair(a, b, c) => touch(&mut self.pairs, key(&[a, b, c]), t),
                LeadKey::MailboxPair(a, m, b, c) => {
                    touch(&mut self.mailbox_pairs, key(&[a, m, b, c]), t)
                }
                LeadKey::UserApp(u, c) => touch(&mut self.user_apps, key(&[u, c]), t),
                LeadKey::Reader(i, m) => touch(&mut self.readers, key(&[i, m]), t),
                LeadKey::AppDay(a, c, _) => {
                    let v = self.learn_ops.entry(key(&[a, c])).or_default();
                    *v = v.saturating_add(obs.ops);
                }
            }
        }
    }

    fn end_learning(&mut self, end: i64, days: i64) {
        self.learned = Some(end);
        let days = days.max(1) as f64;
        for (k, ops) in std::mem::take(&mut self.learn_ops) {
            self.daily_mean.insert(k, ops as f64 / days);
        }
    }

    fn judge(
        &mut self,
        row: &Record<'_>,
        obs: &Observed,
        t: i64,
        end: i64,
        s: &Settings,
    ) -> Vec<LeadHit> {
        let r = &s.config.rules;
        let client = row.client_app_id.unwrap_or_default();
        let user = row.user.unwrap_or_default();
        let allowed = s.config.allow.allows(client, user);
        let note = BaselineNote {
            source: "serve learning period",
            end: Some(Timestamp(end)),
            reason: format!(
                "the first {} days of event time seen by serve",
                s.config.baseline.days
            ),
        };
        let mut hits = Vec::new();
        let mut new_pair = false;
        for k in &obs.leads {
            match k {
                LeadKey::Pair(a, b, c) if r.unexpected_mailbox_app.enabled => {
                    let k = key(&[a, b, c]);
                    if let Some(v) = self.pairs.get_mut(&k) {
                        *v = (*v).max(t);
                        continue;
                    }
                    new_pair = true;
                    if allowed {
                        continue;
                    }
                    let finding = Finding::NewPair { app: b, client: c };
                    let id = alert_id(finding.rule(), &[a, b, c]);
                    hits.push(self.hit(&finding, id, s, &note, t));
                }
                LeadKey::UserApp(u, c)
                    if r.first_seen_client_app.enabled
                        && !s.intel.is_first_party(c)
                        && !allowed =>
                {
                    let k = key(&[u, c]);
                    let last = self.user_apps.get(&k).copied();
                    touch(&mut self.user_apps, k, t);
                    let finding = Finding::FirstSeen {
                        client: c,
                        rollup: None,
                    };
                    let id = alert_id(finding.rule(), &[u, c]);
                    let first = is_first_use(
                        last.map(Timestamp),
                        Some(Timestamp(t)),
                        r.first_seen_client_app.lookback_days,
                    );
                    if first || self.fired.contains_key(&id) {
                        hits.push(self.hit(&finding, id, s, &note, t));
                    }
                }
                LeadKey::AppDay(a, c, day) if r.mailbox_volume_anomaly.enabled && !allowed => {
                    let Some(&mean) = self.daily_mean.get(&key(&[a, c])) else {
                        continue;
                    };
                    if day_start(*day) < Timestamp(end).day_start() {
                        continue;
                    }
                    let e = self
                        .day_ops
                        .entry(key(&[a, c, &day.to_string()]))
                        .or_insert((*day, 0));
                    e.1 = e.1.saturating_add(obs.ops);
                    let ops = e.1;
                    if (ops as f64) > r.mailbox_volume_anomaly.limit(mean) {
                        let finding = Finding::Volume {
                            client: c,
                            day: *day,
                            operations: ops,
                            mean,
                        };
                        let id = alert_id(finding.rule(), &[a, c, &day.to_string()]);
                        hits.push(self.hit(&finding, id, s, &note, t));
                    }
                }
                LeadKey::Reader(i, m) if r.cross_mailbox_access.enabled && !allowed => {
                    if let Some(v) = self.readers.get_mut(&key(&[i, m])) {
                        *v = (*v).max(t);
                        continue;
                    }
                    let list = self.fresh_readers.entry(i.clone()).or_default();
                    if !list.iter().any(|(x, _, _)| x == m) {
                        list.push((m.clone(), t, row.record_ref.to_string()));
                    }
                    if list.len() < r.cross_mailbox_access.min_mailboxes {
                        continue;
                    }
                    let earlier: Vec<String> = list
                        .iter()
                        .filter(|(_, _, rec)| *rec != row.record_ref)
                        .map(|(_, _, rec)| rec.clone())
                        .collect();
                    let mailboxes: Vec<String> = list.iter().map(|(x, _, _)| x.clone()).collect();
                    let finding = Finding::CrossMailbox {
                        identity: i,
                        mailboxes: mailboxes.iter().map(String::as_str).collect(),
                    };
                    let id = alert_id(finding.rule(), &[i]);
                    let mut hit = self.hit(&finding, id, s, &note, t);
                    if hit.new {
                        hit.earlier = earlier;
                    }
                    hits.push(hit);
                }
                _ => {}
            }
        }
        if r.unexpected_mailbox_app.enabled && r.unexpected_mailbox_app.per_mailbox && !new_pair {
            for k in &obs.leads {
                let LeadKey::MailboxPair(a, m, b, c) = k else {
                    continue;
                };
                let k = key(&[a, m, b, c]);
                if let Some(v) = self.mailbox_pairs.get_mut(&k) {
                    *v = (*v).max(t);
                    continue;
                }
                if c.is_empty() || s.intel.is_first_party(c) || allowed {
                    continue;
                }
                let finding = Finding::NewMailboxPair {
                    app: b,
                    client: c,
                    mailbox: m,
                };
                let id = alert_id(finding.rule(), &[a, m, b, c]);
                hits.push(self.hit(&finding, id, s, &note, t));
            }
        }
        hits
    }

    fn hit(
        &mut self,
        finding: &Finding<'_>,
        id: String,
        s: &Settings,
        note: &BaselineNote,
        t: i64,
    ) -> LeadHit {
        let new = !self.fired.contains_key(&id);
        touch(&mut self.fired, id.clone(), t);
        LeadHit {
            rule: finding.rule(),
            id,
            title: finding.title(),
            severity: finding.severity(),
            score: finding.score(),
            evidence: Json::Object(finding.evidence(s, Some(note))),
            new,
            earlier: Vec::new(),
        }
    }

    /// Enforces `max` entries per map (evicting down to 90 % of it, oldest first).
    pub fn bound(&mut self, max: usize) {
        let max = max.max(1);
        let keep = max - max / 10;
        self.evicted += cap(&mut self.pairs, max, keep, |v| *v);
        self.evicted += cap(&mut self.mailbox_pairs, max, keep, |v| *v);
        self.evicted += cap(&mut self.user_apps, max, keep, |v| *v);
        self.evicted += cap(&mut self.readers, max, keep, |v| *v);
        self.evicted += cap(&mut self.learn_ops, max, keep, |_| 0);
        self.evicted += cap(&mut self.daily_mean, max, keep, |_| 0);
        self.evicted += cap(&mut self.day_ops, max, keep, |v| v.0);
        self.evicted += cap(&mut self.fired, max, keep, |v| *v);
        self.evicted += cap(&mut self.fresh_readers, max, keep, |v| {
            v.iter().map(|(_, t, _)| *t).max().unwrap_or(0)
        });
        for list in self.fresh_readers.values_mut() {
            if list.len() > max {
                self.evicted += (list.len() - max) as u64;
                list.truncate(max);
            }
        }
    }
}

fn touch(map: &mut HashMap<String, i64>, k: String, t: i64) {
    let v = map.entry(k).or_insert(t);
    *v = (*v).max(t);
}

/// Evicts the entries with the smallest `age` until `keep` remain, when above `max` (ties by
/// key). The one eviction of the live detector's maps.
pub(super) fn cap<V>(
    map: &mut HashMap<String, V>,
    max: usize,
    keep: usize,
    age: impl Fn(&V) -> i64,
) -> u64 {
    if map.len() <= max {
        return 0;
    }
    let excess = map.len() - keep;
    let mut by_age: Vec<(i64, String)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    by_age.sort_unstable();
    for (_, k) in by_age.into_iter().take(excess) {
        map.remove(&k);
    }
    excess as u64
}

/// As [`cap`] for maps of maps (tenant -> key -> value), counted over their inner entries:
/// above `max` the entries with the least `order` (ties by tenant, then key) are removed until
/// `max` remain, and emptied tenants dropped. Returns how many entries were removed.
pub(super) fn cap_nested<V, O: Ord>(
    maps: &mut HashMap<String, BTreeMap<String, V>>,
    max: usize,
    order: impl Fn(&V) -> O,
) -> u64 {
    let total: usize = maps.values().map(BTreeMap::len).sum();
    if total <= max {
        return 0;
    }
    let mut all: Vec<(O, String, String)> = maps
        .iter()
        .flat_map(|(t, m)| m.iter().map(|(k, v)| (order(v), t.clone(), k.clone())))
        .collect();
    all.sort_unstable();
    for (_, t, k) in all.into_iter().take(total - max) {
        if let Some(m) = maps.get_mut(&t) {
            m.remove(&k);
        }
    }
    maps.retain(|_, m| !m.is_empty());
    (total - max) as u64
}
