//! App takeover: Entra audit changes that hand an application mail access, and the mail
//! that application then reads (Microsoft's Solorigate guidance; Sentinel's "credential added
//! to application" and "Mail.Read permissions granted to application" analytics).
//!
//! - Alone, each change is a lead: `app-credential-added` (low), `app-mail-permission`,
//!   `app-admin-consent`, `federation-changed` (medium).
//! - `app-takeover` (high): a credential, mail permission or consent change, not a routine
//!   rotation, followed within `window_hours` by the same app reading a mailbox it had not read
//!   before. One alert per app covers the changes and the app's mail access from the first
//!   change on, so its exposure is the app's. A federation change by the chain's actor in the
//!   window before it (Golden SAML persistence) joins the alert.
//!
//! "The same app" is decided by the names records give it: changes name an application by
//! object id, app id and display name, Defender mail rows name the acting app by app id and
//! display name; names seen together in one record are one app. A permission grant that
//! names its client only by an id seen nowhere else (Entra logs the client service principal's
//! object id) is attributed to the app its actor changed within the window, when that is one
//! app. A rotation is routine when the same actor added a credential to the same app at least
//! `routine_min_gap_days` earlier.

use std::collections::{BTreeMap, BTreeSet};

use keywarden_model::Timestamp;
use serde_json::{Map, Value as Json, json};

use super::Candidate;
use super::finding::Finding;
use crate::config::Settings;
use crate::directory::{Change, ChangeKind};
use crate::keys::Key;
use crate::scan::{Ctx, Scan, Use};

/// Evidence lists are capped at this many entries (counts are always given).
const LIST_CAP: usize = 50;

pub(crate) fn candidates(scan: &Scan, s: &Settings) -> Vec<Candidate> {
    let cfg = &s.config.rules.app_takeover;
    let changes = &scan.directory.changes;
    if !cfg.enabled || changes.is_empty() {
        return Vec::new();
    }
    let window = cfg.window_hours.saturating_mul(3600);
    let skew = s.config.tolerance.clock_skew_minutes.saturating_mul(60);

    // Mail access per client app id (lower-cased): the (tenant, mailbox, app, client) pairs.
    let mut mail: BTreeMap<String, Vec<(Key, &Use)>> = BTreeMap::new();
    for (k, u) in &scan.uses {
        if let Key::MailboxPair(_, _, _, c) = *k {
            mail.entry(scan.text(c).to_ascii_lowercase())
                .or_default()
                .push((*k, u));
        }
    }
    for pairs in mail.values_mut() {
        pairs.sort_by_key(|(k, _)| *k);
    }

    let apps = Apps::link(scan, changes, &mail, window);
    let routine = routine(changes, &apps, cfg.routine_min_gap_days);

    let mut in_chain = vec![false; changes.len()];
    let mut out = Vec::new();
    for (root, members) in apps.groups(changes.len()) {
        let clients: Vec<&str> = apps
            .names(root)
            .into_iter()
            .filter(|n| mail.contains_key(*n))
            .collect();
        let pairs: Vec<(Key, &Use)> = clients
            .iter()
            .flat_map(|c| mail.get(*c).into_iter().flatten().copied())
            .collect();
        // Changes followed within the window by a mailbox pair first used after them.
        let chain: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| {
                let c = &changes[i];
                c.kind != ChangeKind::FederationChanged && !routine[i]
            })
            .filter(|&i| {
                changes[i].time.is_some_and(|t| {
                    pairs.iter().any(|(_, u)| {
                        u.first.is_some_and(|f| {
                            f.0 >= t.0.saturating_sub(skew * 1_000_000)
                                && f.0 <= t.0.saturating_add(window * 1_000_000)
                        })
                    })
                })
            })
            .collect();
        if chain.is_empty() {
            continue;
        }
        let start = chain.iter().filter_map(|&i| changes[i].time).min();
        let keys: Vec<(Key, &Use)> = pairs
            .iter()
            .filter(|(_, u)| match (start, u.last) {
                (Some(s0), Some(l)) => l.0 >= s0.0.saturating_sub(skew * 1_000_000),
                _ => false,
            })
            .copied()
            .collect();
        // Every change of the app in the chain's span (routine ones excluded) is linked.
        let linked: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| !routine[i] && changes[i].kind != ChangeKind::FederationChanged)
            .filter(|&i| match (start, changes[i].time) {
                (Some(s0), Some(t)) => t >= s0,
                _ => chain.contains(&i),
            })
            .collect();
        // A federation change (Golden SAML persistence) by one of the chain's actors in the
        // window before it belongs to the same intrusion.
        let actors: BTreeSet<&str> = linked
            .iter()
            .filter_map(|&i| changes[i].actor.as_deref())
            .collect();
        let mut linked = linked;
        if let Some(s0) = start {
            for (i, c) in changes.iter().enumerate() {
                let near = c.time.is_some_and(|t| {
                    t <= s0 && t.0 >= s0.0.saturating_sub(window.saturating_mul(1_000_000))
                });
                if c.kind == ChangeKind::FederationChanged
                    && near
                    && c.actor.as_deref().is_some_and(|a| actors.contains(a))
                {
                    linked.push(i);
                }
            }
        }
        linked.sort_unstable();
        linked.dedup();
        for &i in &linked {
            in_chain[i] = true;
        }
        let first_read = keys.iter().filter_map(|(_, u)| u.first).min();
        let earliest = keys
            .iter()
            .min_by_key(|(k, u)| (u.first, *k))
            .map(|(_, u)| u.ctx)
            .unwrap_or_default();
        let mut ev = Map::new();
        ev.insert("app".into(), json!(apps.display(root, changes, &members)));
        ev.insert("app_names".into(), json!(capped(apps.names(root))));
        ev.insert("client_app_ids".into(), json!(capped(clients.clone())));
        ev.insert(
            "changes".into(),
            Json::Array(linked.iter().map(|&i| change_json(&changes[i])).collect()),
        );
        ev.insert("first_change".into(), json!(start));
        ev.insert("first_mail_access_after".into(), json!(first_read));
        ev.insert("window_hours".into(), json!(cfg.window_hours));
        ev.insert(
            "why".into(),
            json!(
                "the app was given credentials or mail permissions, then read a mailbox it \
                 had not read before within the window"
            ),
        );
        let app = apps.display(root, changes, &members);
        let finding = Finding::AppTakeover { app: &app };
        out.push(Candidate {
            rule: finding.rule(),
            title: finding.title(),
            severity: finding.severity(),
            score: finding.score(),
            keys: keys.iter().map(|(k, _)| *k).collect(),
            linked: Vec::new(),
            ctx: Ctx {
                mailbox: if keys.len() == 1 {
                    earliest.mailbox
                } else {
                    crate::intern::NONE
                },
                ..earliest
            },
            first: start,
            last: keys
                .iter()
                .filter_map(|(_, u)| u.last)
                .chain(linked.iter().filter_map(|&i| changes[i].time))
                .max(),
            evidence: ev,
            records: linked.iter().map(|&i| changes[i].record.clone()).collect(),
            user: linked.iter().find_map(|&i| changes[i].actor.clone()),
        });
    }
    for (i, c) in changes.iter().enumerate() {
        if in_chain[i] {
            continue;
        }
        let finding = Finding::AppChange {
            kind: c.kind,
            routine: routine[i],
        };
        let mut ev = Map::new();
        ev.insert("change".into(), change_json(c));
        ev.insert("routine_rotation".into(), json!(routine[i]));
        let root = apps.find_ro(i);
        ev.insert("app_names".into(), json!(capped(apps.names(root))));
        out.push(Candidate {
            rule: finding.rule(),
            title: finding.title(),
            severity: finding.severity(),
            score: finding.score(),
            keys: Vec::new(),
            linked: Vec::new(),
            ctx: Ctx::default(),
            first: c.time,
            last: c.time,
            evidence: ev,
            records: vec![c.record.clone()],
            user: c.actor.clone(),
        });
    }
    out
}

/// A change as evidence.
fn change_json(c: &Change) -> Json {
    json!({
        "kind": c.kind,
        "operation": c.operation,
        "time": c.time,
        "actor": c.actor,
        "app": c.app_name,
        "app_ids": c.app,
        "permissions": c.permissions,
        "how": c.how,
        "record": c.record,
    })
}

fn capped(mut v: Vec<&str>) -> Vec<&str> {
    v.truncate(LIST_CAP);
    v
}

/// Whether each change is a routine credential rotation.
fn routine(changes: &[Change], apps: &Apps, min_gap_days: i64) -> Vec<bool> {
    let gap = min_gap_days.saturating_mul(86_400_000_000);
    let mut last: BTreeMap<(usize, &str), Timestamp> = BTreeMap::new();
    let mut out = vec![false; changes.len()];
    for (i, c) in changes.iter().enumerate() {
        if c.kind != ChangeKind::CredentialAdded {
            continue;
        }
        let (Some(actor), Some(t)) = (c.actor.as_deref(), c.time) else {
            continue;
        };
        let key = (apps.find_ro(i), actor);
        if let Some(prev) = last.get(&key) {
            out[i] = t.0.saturating_sub(prev.0) >= gap;
        }
        last.insert(key, t);
    }
    out
}

/// Which changes and names are one application (union-find over change indices and names).
struct Apps {
    /// Parent links: indices `< n` are changes, the rest names.
    parent: Vec<usize>,
    names: Vec<String>,
    changes: usize,
}

impl Apps {
    fn link(
        scan: &Scan,
        changes: &[Change],
        mail: &BTreeMap<String, Vec<(Key, &Use)>>,
        window_seconds: i64,
    ) -> Apps {
        let n = changes.len();
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for c in changes {
            names.extend(c.app.iter().map(String::as_str));
        }
        for (id, name) in &scan.directory.app_names {
            names.insert(id);
            names.insert(name);
        }
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let index = |s: &str, names: &[String]| names.binary_search_by(|x| x.as_str().cmp(s)).ok();
        let mut apps = Apps {
            parent: (0..n + names.len()).collect(),
            names,
            changes: n,
        };
        for (i, c) in changes.iter().enumerate() {
            for a in &c.app {
                if let Some(j) = index(a, &apps.names) {
                    apps.union(i, n + j);
                }
            }
        }
        for (id, name) in &scan.directory.app_names {
            if let (Some(a), Some(b)) = (index(id, &apps.names), index(name, &apps.names)) {
                apps.union(n + a, n + b);
            }
        }
        // A change whose app reads no mail and is named nowhere else: attribute it to the one
        // app its actor changed within the window that does read mail.
        let reads = |apps: &mut Apps, i: usize| {
            let r = apps.find(i);
            apps.names(r).iter().any(|x| mail.contains_key(*x))
        };
        for i in 0..n {
            if reads(&mut apps, i) {
                continue;
            }
            let c = &changes[i];
            let (Some(actor), Some(t)) = (c.actor.as_deref(), c.time) else {
                continue;
            };
            let mut targets = BTreeSet::new();
            for (j, o) in changes.iter().enumerate() {
                let near = o
                    .time
                    .is_some_and(|u| (u.0 - t.0).abs() <= window_seconds.saturating_mul(1_000_000));
                if j != i && near && o.actor.as_deref() == Some(actor) && reads(&mut apps, j) {
                    targets.insert(apps.find(j));
                }
            }
            if targets.len() == 1
                && let Some(&root) = targets.iter().next()
            {
                apps.union(i, root);
            }
        }
        apps
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// `find` without path compression.
    fn find_ro(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }

    /// The names of a group.
    fn names(&self, root: usize) -> Vec<&str> {
        (0..self.names.len())
            .filter(|&j| self.find_ro(self.changes + j) == root)
            .map(|j| self.names[j].as_str())
            .collect()
    }

    /// Change groups: root → member change indices, in change order.
    fn groups(&self, n: usize) -> BTreeMap<usize, Vec<usize>> {
        let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            out.entry(self.find_ro(i)).or_default().push(i);
        }
        out
    }

    /// A name to show for a group: a logged display name, else its first id.
    fn display(&self, root: usize, changes: &[Change], members: &[usize]) -> String {
        members
            .iter()
            .find_map(|&i| changes[i].app_name.clone())
            .or_else(|| self.names(root).first().map(|s| s.to_string()))
            .unwrap_or_else(|| "an unnamed application".into())
    }
}
