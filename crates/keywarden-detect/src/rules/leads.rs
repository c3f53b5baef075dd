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

use super::finding::{Finding, day_start, is_first_use};
use super::{BaselineNote, Candidate, Known};
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
        s.config
            .allow
            .allows(scan.text(u.ctx.client), scan.text(u.ctx.user))
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
                let finding = Finding::NewPair {
                    app: scan.text(a),
                    client: scan.text(c),
                };
                out.push(Candidate::of_key(&finding, s, Some(note), **k, u));
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
                if known.end.is_some_and(|e| day_start(day) < e.day_start()) {
                    continue;
                }
                if (u.ops as f64) > r.mailbox_volume_anomaly.limit(mean) {
                    let finding = Finding::Volume {
                        client: scan.text(c),
                        day,
                        operations: u.ops,
                        mean,
                    };
                    out.push(Candidate::of_key(&finding, s, Some(note), **k, u));
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
            let finding = Finding::NewMailboxPair {
                app: scan.text(a),
                client: scan.text(c),
                mailbox: scan.text(m),
            };
            out.push(Candidate::of_key(&finding, s, Some(note), **k, u));
        }
    }
    for (client, uses) in first_uses {
        first_seen_leads(scan, s, note, client, uses, &mut out);
    }
    for (identity, reads) in readers {
        if reads.len() < r.cross_mailbox_access.min_mailboxes {
            continue;
        }
        let mailboxes: Vec<&str> = reads
            .iter()
            .filter_map(|(k, _)| match k {
                Key::Reader(_, m) => Some(scan.text(*m)),
                _ => None,
            })
            .collect();
        let finding = Finding::CrossMailbox {
            identity: scan.text(identity),
            mailboxes,
        };
        let first = reads.iter().filter_map(|(_, u)| u.first).min();
        let last = reads.iter().filter_map(|(_, u)| u.last).max();
        let earliest = earliest_ctx(scan, &reads);
        out.push(Candidate {
            rule: finding.rule(),
            title: finding.title(),
            severity: finding.severity(),
            score: finding.score(),
            keys: reads.iter().map(|(k, _)| *k).collect(),
            linked: Vec::new(),
            ctx: earliest,
            first,
            last,
            evidence: finding.evidence(s, Some(note)),
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
    let client = scan.text(client);
    if cfg.rollup_min_users == 0 || uses.len() < cfg.rollup_min_users {
        let finding = Finding::FirstSeen {
            client,
            rollup: None,
        };
        for (k, u) in uses {
            out.push(Candidate::of_key(&finding, s, Some(note), k, u));
        }
        return;
    }
    let finding = Finding::FirstSeen {
        client,
        rollup: Some(uses.len()),
    };
    let earliest = earliest_ctx(scan, &uses);
    out.push(Candidate {
        rule: finding.rule(),
        title: finding.title(),
        severity: finding.severity(),
        score: finding.score(),
        keys: uses.iter().map(|(k, _)| *k).collect(),
        linked: Vec::new(),
        // A tenant-level lead names no single user or mailbox.
        ctx: Ctx {
            user: NONE,
            mailbox: NONE,
            ..earliest
        },
        first: uses.iter().filter_map(|(_, u)| u.first).min(),
        last: uses.iter().filter_map(|(_, u)| u.last).max(),
        evidence: finding.evidence(s, Some(note)),
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
    is_first_use(
        known.user_apps.get(&(user, client)).copied(),
        u.first,
        lookback_days,
    )
}
