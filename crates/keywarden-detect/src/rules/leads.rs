//! Lead rules: novelty against the baseline. Never more than `medium`: a new app whose tokens
//! all trace to sign-ins is a lead for an analyst, not an emergency.
//!
//! - `unexpected-mailbox-app`: `MailItemsAccessed` by an (AppId, ClientAppId) pair unseen for
//!   the tenant (and, for non-first-party apps, per mailbox) in the baseline (CISA/State rule).
//! - `first-seen-client-app`: a user's first non-first-party ClientAppId within the look-back
//!   (Elastic's rule); when many users adopt the same app, one tenant-level lead covers them.
//! - `mailbox-volume-anomaly`: a client app's daily `OperationCount` far above its baseline.
//! - `cross-mailbox-access`: one identity newly reading many mailboxes it does not own.

use std::collections::BTreeMap;

use keywarden_model::{Severity, Timestamp, time::MICROS_PER_DAY};
use serde_json::{Map, json};

use super::{BaselineNote, Candidate, Known, Rule};
use crate::config::Settings;
use crate::intern::{NONE, Sym};
use crate::keys::Key;
use crate::scan::{Ctx, Scan, Use};

pub(crate) fn candidates(
    scan: &Scan,
    s: &Settings,
    known: &Known,
    note: &BaselineNote,
) -> Vec<Candidate> {
    let r = &s.config.rules;
    let allowed = |u: &Use| {
        let cfg = &s.config.allow;
        let client = scan.text(u.ctx.client);
        let user = scan.text(u.ctx.user);
        cfg.client_apps
            .iter()
            .any(|c| c.eq_ignore_ascii_case(client))
            || cfg.users.iter().any(|x| x.eq_ignore_ascii_case(user))
    };
    // Only the kinds the leads judge (tokens and sign-ins, most of the keys, are not), in a
    // fixed order.
    let mut keys: Vec<(&Key, &Use)> = scan
        .uses
        .iter()
        .filter(|(k, _)| {
            matches!(
                k,
                Key::Pair(..)
                    | Key::UserApp(..)
                    | Key::AppDay(..)
                    | Key::Reader(..)
                    | Key::MailboxPair(..)
            )
        })
        .collect();
    keys.sort_unstable_by_key(|(k, _)| **k);
    let mut out = Vec::new();
    let mut new_pairs = rustc_hash::FxHashSet::default();
    let mut readers: BTreeMap<Sym, Vec<(Key, &Use)>> = BTreeMap::new();
    let mut first_uses: BTreeMap<Sym, Vec<(Key, &Use)>> = BTreeMap::new();
    for (k, u) in &keys {
        let fresh = !known.contains(k, scan);
        match **k {
            Key::Pair(t, a, c) if r.unexpected_mailbox_app.enabled && fresh && !allowed(u) => {
                new_pairs.insert((t, a, c));
                let mut ev = base_evidence(note);
                ev.insert("app_id".into(), json!(scan.text(a)));
                ev.insert("client_app_id".into(), json!(scan.text(c)));
                ev.insert("scope".into(), json!("tenant"));
                ev.insert(
                    "first_party".into(),
                    json!(s.intel.is_first_party(scan.text(c))),
                );
                out.push(lead(
                    Rule::UnexpectedMailboxApp,
                    "Mailbox read by an app pair never seen in this tenant",
                    **k,
                    u,
                    ev,
                ));
            }
            Key::UserApp(_, c)
                if r.first_seen_client_app.enabled
                    && !s.intel.is_first_party(scan.text(c))
                    && !allowed(u)
                    && first_seen(k, u, scan, known, r.first_seen_client_app.lookback_days) =>
            {
                first_uses.entry(c).or_default().push((**k, *u));
            }
            Key::AppDay(t, c, day) if r.mailbox_volume_anomaly.enabled && !allowed(u) => {
                let Some(&mean) = known.daily_ops.get(&(t, c)) else {
                    continue;
                };
                let day_start = Timestamp(day.saturating_mul(MICROS_PER_DAY));
                if known.end.is_some_and(|e| day_start < e.day_start()) {
                    continue;
                }
                let v = &r.mailbox_volume_anomaly;
                let limit = (mean * v.factor).max(v.min_operations as f64);
                if (u.ops as f64) > limit {
                    let mut ev = base_evidence(note);
                    ev.insert("client_app_id".into(), json!(scan.text(c)));
                    ev.insert("day".into(), json!(day_start));
                    ev.insert("operations".into(), json!(u.ops));
                    ev.insert("baseline_daily_mean".into(), json!(mean));
                    ev.insert("factor".into(), json!(v.factor));
                    out.push(lead(
                        Rule::MailboxVolumeAnomaly,
                        "Daily mailbox operations of a client app far above its baseline",
                        **k,
                        u,
                        ev,
                    ));
                }
            }
            Key::Reader(identity, _) if r.cross_mailbox_access.enabled && fresh && !allowed(u) => {
                readers.entry(identity).or_default().push((**k, *u));
            }
            _ => {}
        }
    }
    if r.unexpected_mailbox_app.enabled && r.unexpected_mailbox_app.per_mailbox {
        for (k, u) in &keys {
            let Key::MailboxPair(t, m, a, c) = **k else {
                continue;
            };
            if new_pairs.contains(&(t, a, c))
                || c == NONE
                || s.intel.is_first_party(scan.text(c))
                || known.contains(k, scan)
                || allowed(u)
            {
                continue;
            }
            let mut ev = base_evidence(note);
            ev.insert("app_id".into(), json!(scan.text(a)));
            ev.insert("client_app_id".into(), json!(scan.text(c)));
            ev.insert("scope".into(), json!("mailbox"));
            ev.insert("mailbox".into(), json!(scan.text(m)));
            out.push(lead(
                Rule::UnexpectedMailboxApp,
                "Mailbox read by an app pair never seen on this mailbox",
                **k,
                u,
                ev,
            ));
        }
    }
    for (client, uses) in first_uses {
        first_seen_leads(scan, s, note, client, uses, &mut out);
    }
    for (identity, reads) in readers {
        if reads.len() < r.cross_mailbox_access.min_mailboxes {
            continue;
        }
        let mut ev = base_evidence(note);
        ev.insert("identity".into(), json!(scan.text(identity)));
        let mailboxes: Vec<&str> = reads
            .iter()
            .filter_map(|(k, _)| match k {
                Key::Reader(_, m) => Some(scan.text(*m)),
                _ => None,
            })
            .collect();
        ev.insert("mailboxes_not_owned".into(), json!(mailboxes));
        let first = reads.iter().filter_map(|(_, u)| u.first).min();
        let last = reads.iter().filter_map(|(_, u)| u.last).max();
        let earliest = earliest_ctx(scan, &reads);
        out.push(Candidate {
            rule: Rule::CrossMailboxAccess,
            title: format!(
                "One identity newly reading {} mailboxes it does not own",
                reads.len()
            ),
            severity: Severity::Medium,
            score: 0.5,
            keys: reads.iter().map(|(k, _)| *k).collect(),
            ctx: earliest,
            first,
            last,
            evidence: ev,
            records: Vec::new(),
            user: None,
        });
    }
    out
}

/// `first-seen-client-app` leads for one client app: one per user, or one tenant-level lead
/// when at least `rollup_min_users` users first used it (a tenant adopting an app).
fn first_seen_leads(
    scan: &Scan,
    s: &Settings,
    note: &BaselineNote,
    client: Sym,
    uses: Vec<(Key, &Use)>,
    out: &mut Vec<Candidate>,
) {
    let cfg = &s.config.rules.first_seen_client_app;
    let evidence = || {
        let mut ev = base_evidence(note);
        ev.insert("client_app_id".into(), json!(scan.text(client)));
        ev.insert("lookback_days".into(), json!(cfg.lookback_days));
        ev
    };
    if cfg.rollup_min_users == 0 || uses.len() < cfg.rollup_min_users {
        for (k, u) in uses {
            out.push(lead(
                Rule::FirstSeenClientApp,
                "First use of a client app by this user",
                k,
                u,
                evidence(),
            ));
        }
        return;
    }
    let mut ev = evidence();
    ev.insert("scope".into(), json!("tenant"));
    ev.insert("adopting_users".into(), json!(uses.len()));
    let earliest = earliest_ctx(scan, &uses);
    out.push(Candidate {
        rule: Rule::FirstSeenClientApp,
        title: format!("First use of a client app by {} users", uses.len()),
        severity: Severity::Low,
        score: 0.3,
        keys: uses.iter().map(|(k, _)| *k).collect(),
        // A tenant-level lead names no single user or mailbox.
        ctx: Ctx {
            user: NONE,
            mailbox: NONE,
            ..earliest
        },
        first: uses.iter().filter_map(|(_, u)| u.first).min(),
        last: uses.iter().filter_map(|(_, u)| u.last).max(),
        evidence: ev,
        records: Vec::new(),
        user: None,
    });
}

/// The context of the earliest of several keys' records; ties are broken by the context's text
/// (never by symbol numbers, which depend on the order workers saw values), so the result is
/// the same whatever the thread count.
fn earliest_ctx(scan: &Scan, uses: &[(Key, &Use)]) -> Ctx {
    uses.iter()
        .map(|(_, u)| u)
        .min_by(|a, b| {
            let time = |u: &Use| (u.first.is_none(), u.first);
            time(a)
                .cmp(&time(b))
                .then_with(|| a.ctx.cmp_text(&b.ctx, &scan.syms))
        })
        .map(|u| u.ctx)
        .unwrap_or_default()
}

/// Whether a (user, client) key is a first use: not in the look-back baseline, and not used
/// by the user within `lookback_days` before its first use according to an external baseline.
fn first_seen(k: &Key, u: &Use, scan: &Scan, known: &Known, lookback_days: i64) -> bool {
    if known.contains(k, scan) {
        return false;
    }
    let Key::UserApp(user, client) = *k else {
        return false;
    };
    match (known.user_apps.get(&(user, client)), u.first) {
        (Some(last), Some(first)) => {
            first.0.saturating_sub(last.0) > lookback_days.saturating_mul(MICROS_PER_DAY)
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

fn base_evidence(note: &BaselineNote) -> Map<String, serde_json::Value> {
    let mut ev = Map::new();
    ev.insert(
        "baseline".into(),
        json!({"source": note.source, "end": note.end, "reason": note.reason}),
    );
    ev
}

fn lead(
    rule: Rule,
    title: &str,
    key: Key,
    u: &Use,
    evidence: Map<String, serde_json::Value>,
) -> Candidate {
    Candidate {
        rule,
        title: title.into(),
        severity: Severity::Low,
        score: 0.3,
        keys: vec![key],
        ctx: u.ctx,
        first: u.first,
        last: u.last,
        evidence,
        records: Vec::new(),
        user: None,
    }
}
