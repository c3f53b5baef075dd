//! Exposure: which mailboxes, folders and messages an incident reached, following Microsoft's
//! MailItemsAccessed forensics procedure. The one place it is computed: `hunt` feeds it the
//! records of its exposure pass ([`crate::exposure_pass`]), `serve`'s store feeds it the
//! stored records of an incident when one is viewed.
//!
//! 1. **Links.** An incident's decisive alerts (those at `high` or above) give
//!    [`IncidentLinks`]: token ids, session ids, the record ids the alerts cover, (client IP,
//!    client app) pairs and app-only clients; an incident of leads only links its alerts' own
//!    records. An access record carrying one of them belongs to the incident
//!    ([`LinkKind`] says by what). A record linked only by IP and client app must also hold a
//!    token id that no sign-in issued: that is how an attacker's records from before sign-in
//!    coverage join the incident, while a real user's issued token behind the same address
//!    does not, nor a record that logs no token id (benign clients often log none). A record
//!    held twice (the same shape, id of its own, time and content: overlapping exports, a row
//!    stored twice) counts once ([`RecordCopies`]).
//! 2. **Mail read.** Per linked `MailItemsAccessed` (or Graph mail read) record: `Bind` → the
//!    exact `InternetMessageId`s, `Sync` → the whole folder.
//! 3. **Unaudited windows.** Exchange Online stops auditing `MailItemsAccessed` for a mailbox
//!    for 24 hours once it is throttled, whoever's client caused it: throttling is a property
//!    of the mailbox. Every throttled record of a mailbox the incident reached (the
//!    [`ThrottleLog`]) whose 24 h window overlaps the incident's linked access to that mailbox
//!    (first to last linked record) is reported.
//! 4. **One identity.** Mailboxes are named through the [`Directory`] (object id → UPN); the
//!    other spellings are kept as `aliases`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use keywarden_model::{
    Alert, Event, Exposure, IncidentExposure, MailboxExposure, Severity, TimeWindow, Timestamp,
};
use rustc_hash::FxHashMap;

use crate::copies::RecordCopies;
use crate::facts::{Access, Facts, Role, folders};
use crate::identity::Directory;
use crate::incident::Incident;

/// Evidence list naming client apps whose app-only mail access belongs to an alert's incident
/// (app-takeover rules set it; `exposure` then links by `app`).
pub(crate) const LINKED_APPS_EVIDENCE: &str = "linked_app_ids";

/// What ties a record to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkKind {
    /// One of the incident's token ids.
    Token,
    /// One of its session ids.
    Session,
    /// A record one of its alerts covers (leads without token or session ids).
    Alert,
    /// Its client IP and client app together, on a token no sign-in issued.
    IpApp,
    /// A client app whose app-only access the incident covers.
    App,
}

impl LinkKind {
    /// The name used in `exposure.json`'s `linked_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Token => "token",
            LinkKind::Session => "session",
            LinkKind::Alert => "alert",
            LinkKind::IpApp => "ip+app",
            LinkKind::App => "app",
        }
    }
}

/// Whether a sign-in issued a token id (the scan knows; the store asks its sign-ins).
pub trait IssuedTokens {
    fn issued(&self, token: &str) -> bool;
}

impl IssuedTokens for BTreeSet<String> {
    fn issued(&self, token: &str) -> bool {
        self.contains(token)
    }
}

/// The values through which records join one incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentLinks {
    pub tokens: BTreeSet<String>,
    pub sessions: BTreeSet<String>,
    /// Record ids (`record_ref`) the alerts cover.
    pub records: BTreeSet<String>,
    /// (client IP, client app id).
    pub ip_apps: BTreeSet<(String, String)>,
    /// Client app ids linked for their app-only access.
    pub apps: BTreeSet<String>,
}

impl IncidentLinks {
    /// The links of a group of alerts: only the decisive ones (`high` or above) when there are
    /// any, since a lead sharing a token adds nothing and may cover benign records. Without
    /// them, the leads' own records (and app-only clients) only.
    pub fn of_alerts<'a>(alerts: impl IntoIterator<Item = &'a Alert> + Clone) -> IncidentLinks {
        let strong = alerts
            .clone()
            .into_iter()
            .any(|a| a.severity >= Severity::High);
        let mut l = IncidentLinks::default();
        for a in alerts
            .into_iter()
            .filter(|a| !strong || a.severity >= Severity::High)
        {
            let ev = |name: &str| a.evidence_strings(name);
            l.records.extend(a.record_ids.iter().cloned());
            l.apps.extend(ev(LINKED_APPS_EVIDENCE));
            if !strong {
                // Leads reach only their own records: widening weak evidence through shared
                // tokens, sessions or addresses would put benign mail in the exposure.
                continue;
            }
            l.tokens
                .extend(a.token_id.iter().cloned().chain(ev("token_ids")));
            l.sessions
                .extend(a.session_id.iter().cloned().chain(ev("session_ids")));
            if let Some(app) = &a.client_app_id {
                for ip in a.client_ip.iter().cloned().chain(ev("client_ips")) {
                    l.ip_apps.insert((ip, app.clone()));
                }
            }
        }
        l.tokens.retain(|v| !v.trim().is_empty());
        l.sessions.retain(|v| !v.trim().is_empty());
        l.records.retain(|v| !v.trim().is_empty());
        l.ip_apps
            .retain(|(ip, app)| !ip.trim().is_empty() && !app.trim().is_empty());
        l.apps.retain(|v| !v.trim().is_empty());
        l
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
            && self.sessions.is_empty()
            && self.records.is_empty()
            && self.ip_apps.is_empty()
            && self.apps.is_empty()
    }

    /// Keeps at most `max` values of each kind (the smallest); true when any were cut.
    pub fn truncate(&mut self, max: usize) -> bool {
        fn cut<T: Ord + Clone>(set: &mut BTreeSet<T>, max: usize) -> bool {
            match set.iter().nth(max).cloned() {
                Some(first_cut) => {
                    set.split_off(&first_cut);
                    true
                }
                None => false,
            }
        }
        let a = cut(&mut self.tokens, max);
        let b = cut(&mut self.sessions, max);
        let c = cut(&mut self.ip_apps, max);
        let d = cut(&mut self.apps, max);
        let e = cut(&mut self.records, max);
        a || b || c || d || e
    }

    /// How a record with these facts is linked, if it is.
    fn link(&self, f: &Facts<'_>, record: &str, issued: &dyn IssuedTokens) -> Option<LinkKind> {
        let token = f.token_id.as_deref();
        if token.is_some_and(|t| self.tokens.contains(t)) {
            return Some(LinkKind::Token);
        }
        if f.session_id
            .as_deref()
            .is_some_and(|s| self.sessions.contains(s))
        {
            return Some(LinkKind::Session);
        }
        if self.records.contains(record) {
            return Some(LinkKind::Alert);
        }
        let client = f.client_app_id.as_deref()?;
        // A token id is required: clients log none for many benign records (desktop Outlook
        // over MAPI), and an absent id is no evidence of anything.
        if let (Some(ip), Some(t)) = (f.ip.as_deref(), token)
            && !issued.issued(t)
            && self.ip_apps.contains(&(ip.to_owned(), client.to_owned()))
        {
            return Some(LinkKind::IpApp);
        }
        self.apps.contains(client).then_some(LinkKind::App)
    }
}

/// One incident to scope: its contract fields and links.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureScope {
    pub id: String,
    pub severity: Severity,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub links: IncidentLinks,
}

impl ExposureScope {
    /// The scope of an incident over the alerts it indexes.
    pub fn of_incident(inc: &Incident, alerts: &[Alert]) -> ExposureScope {
        ExposureScope {
            id: inc.id.clone(),
            severity: inc.severity,
            first: inc.first,
            last: inc.last,
            links: IncidentLinks::of_alerts(inc.alerts.iter().filter_map(|&i| alerts.get(i))),
        }
    }
}

/// Throttled `MailItemsAccessed` times per mailbox (raw mailbox value), whoever's records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThrottleLog {
    times: BTreeMap<String, BTreeSet<Timestamp>>,
}

impl ThrottleLog {
    /// Notes a record if it is a throttled mail access with a mailbox and a time.
    pub fn observe(&mut self, f: &Facts<'_>) {
        if !f.throttled || !matches!(f.role, Role::MailAccess(_)) {
            return;
        }
        if let (Some(m), Some(t)) = (f.mailbox.as_deref(), f.time) {
            self.add(m, t);
        }
    }

    pub fn add(&mut self, mailbox: &str, at: Timestamp) {
        match self.times.get_mut(mailbox) {
            Some(set) => {
                set.insert(at);
            }
            None => {
                self.times.insert(mailbox.to_owned(), BTreeSet::from([at]));
            }
        }
    }

    pub fn merge(&mut self, other: ThrottleLog) {
        for (m, set) in other.times {
            self.times.entry(m).or_default().extend(set);
        }
    }

    pub fn times(&self, mailbox: &str) -> impl Iterator<Item = Timestamp> + '_ {
        self.times.get(mailbox).into_iter().flatten().copied()
    }

    /// Mailboxes with at least one throttled record.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// What one incident's linked records show for one mailbox (raw mailbox value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailboxFindings {
    pub messages: BTreeSet<String>,
    pub folders_synced: BTreeSet<String>,
    /// Linked records per link kind.
    pub linked_by: BTreeMap<LinkKind, u64>,
    /// Linked mail-access records, and of them `Bind` and `Sync`.
    pub records: u64,
    pub bind: u64,
    pub sync: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl MailboxFindings {
    fn merge(&mut self, o: MailboxFindings) {
        self.messages.extend(o.messages);
        self.folders_synced.extend(o.folders_synced);
        for (k, n) in o.linked_by {
            *self.linked_by.entry(k).or_default() += n;
        }
        self.records += o.records;
        self.bind += o.bind;
        self.sync += o.sync;
        self.first = min_opt(self.first, o.first);
        self.last = max_opt(self.last, o.last);
    }
}

/// Everything found for one incident.
#[derive(Debug, Clone, Default, PartialEq)]
struct Findings {
    mailboxes: BTreeMap<String, MailboxFindings>,
    /// Mail reads per hour (hour start).
    hours: BTreeMap<Timestamp, u64>,
}

/// One incident's exposure with the figures a viewer shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedIncident {
    /// The `exposure.json` entry.
    pub exposure: IncidentExposure,
    /// Per mailbox (resolved name, as in `exposure.mailboxes`): the linked records' figures.
    pub figures: BTreeMap<String, MailboxFindings>,
    /// (hour start, linked mail reads in that hour), sorted.
    pub timeline: Vec<(Timestamp, u64)>,
}

/// Accumulates the linked records of every incident; mergeable across workers. A clone shares
/// the original's record of what was counted ([`RecordCopies`]): clone one builder per worker
/// of one pass and merge them; a builder for another pass is made anew.
#[derive(Debug, Clone, Default)]
pub struct ExposureBuilder {
    scopes: Vec<ExposureScope>,
    by_token: FxHashMap<String, Vec<usize>>,
    by_session: FxHashMap<String, Vec<usize>>,
    by_record: FxHashMap<String, Vec<usize>>,
    by_client: FxHashMap<String, Vec<usize>>,
    found: Vec<Findings>,
    throttling: ThrottleLog,
    /// The linked records counted so far, shared by the clones handed to workers: a record
    /// the inputs (or the store) hold twice is counted once.
    copies: Arc<RecordCopies>,
}

const HOUR_MICROS: i64 = 3_600_000_000;

impl ExposureBuilder {
    pub fn new(scopes: Vec<ExposureScope>) -> ExposureBuilder {
        let mut b = ExposureBuilder {
            found: vec![Findings::default(); scopes.len()],
            ..ExposureBuilder::default()
        };
        for (i, s) in scopes.iter().enumerate() {
            for t in &s.links.tokens {
                b.by_token.entry(t.clone()).or_default().push(i);
            }
            for t in &s.links.sessions {
                b.by_session.entry(t.clone()).or_default().push(i);
            }
            for t in &s.links.records {
                b.by_record.entry(t.clone()).or_default().push(i);
            }
            let clients = s.links.ip_apps.iter().map(|(_, a)| a).chain(&s.links.apps);
            for c in clients {
                let v = b.by_client.entry(c.clone()).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        b.scopes = scopes;
        b
    }

    /// The incidents being scoped.
    pub fn scopes(&self) -> &[ExposureScope] {
        &self.scopes
    }

    /// Folds one record in: its throttling, and its mail if it is linked to an incident.
    pub fn add(&mut self, ev: &Event<'_>, issued: &dyn IssuedTokens) {
        let f = Facts::of(ev);
        self.add_facts(&f, ev, issued);
    }

    /// [`ExposureBuilder::add`] for facts already extracted from `ev`.
    pub fn add_facts(&mut self, f: &Facts<'_>, ev: &Event<'_>, issued: &dyn IssuedTokens) {
        if !f.is_access() {
            return;
        }
        self.throttling.observe(f);
        // Only mail reads say what an incident read.
        let Role::MailAccess(access) = f.role else {
            return;
        };
        let mut hits: Vec<usize> = Vec::new();
        for (map, v) in [
            (&self.by_token, &f.token_id),
            (&self.by_session, &f.session_id),
            (&self.by_client, &f.client_app_id),
        ] {
            if let Some(ids) = v.as_deref().and_then(|v| map.get(v)) {
                hits.extend_from_slice(ids);
            }
        }
        let record = ev.record_ref();
        if let Some(ids) = self.by_record.get(&record) {
            hits.extend_from_slice(ids);
        }
        if hits.is_empty() {
            return;
        }
        hits.sort_unstable();
        hits.dedup();
        let linked: Vec<(usize, LinkKind)> = hits
            .into_iter()
            .filter_map(|i| Some((i, self.scopes.get(i)?.links.link(f, &record, issued)?)))
            .collect();
        // Only linked records are remembered as counted: memory follows the incidents' records,
        // not the app's whole traffic that a client-app needle lets through.
        if linked.is_empty() || !self.copies.first_copy(ev) {
            return;
        }
        let folders = folders(ev);
        for (i, kind) in linked {
            let Some(found) = self.found.get_mut(i) else {
                continue;
            };
            if let Some(t) = f.time {
                let hour = Timestamp(t.0.div_euclid(HOUR_MICROS) * HOUR_MICROS);
                *found.hours.entry(hour).or_default() += 1;
            }
            let Some(mailbox) = f.mailbox.as_deref() else {
                continue;
            };
            if !found.mailboxes.contains_key(mailbox) {
                found
                    .mailboxes
                    .insert(mailbox.to_owned(), MailboxFindings::default());
            }
            let Some(m) = found.mailboxes.get_mut(mailbox) else {
                continue;
            };
            *m.linked_by.entry(kind).or_default() += 1;
            m.records += 1;
            m.first = min_opt(m.first, f.time);
            m.last = max_opt(m.last, f.time);
            match access {
                Access::Sync => m.sync += 1,
                Access::Bind => m.bind += 1,
                Access::Other => {}
            }
            for (path, ids) in &folders {
                match access {
                    Access::Sync => m.folders_synced.extend(path.iter().cloned()),
                    Access::Bind | Access::Other => m.messages.extend(ids.iter().cloned()),
                }
            }
        }
    }

    /// The raw names of every mailbox some incident's linked records reached, sorted.
    pub fn reached_mailboxes(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self.found.iter().flat_map(|f| f.mailboxes.keys()).collect();
        all.into_iter().cloned().collect()
    }

    /// The throttled records seen so far, per mailbox.
    pub fn throttling(&self) -> &ThrottleLog {
        &self.throttling
    }

    /// Adds throttled times learnt elsewhere (the scan pass sees every record).
    pub fn add_throttling(&mut self, log: &ThrottleLog) {
        self.throttling.merge(log.clone());
    }

    /// Merges another worker's builder over the same scopes.
    pub fn merge(&mut self, other: ExposureBuilder) {
        self.throttling.merge(other.throttling);
        for (mine, theirs) in self.found.iter_mut().zip(other.found) {
            for (h, n) in theirs.hours {
                *mine.hours.entry(h).or_default() += n;
            }
            for (m, f) in theirs.mailboxes {
                mine.mailboxes.entry(m).or_default().merge(f);
            }
        }
    }

    /// `exposure.json`.
    pub fn finish(self, directory: &Directory) -> Exposure {
        Exposure {
            incidents: self
                .finish_scoped(directory)
                .into_iter()
                .map(|s| s.exposure)
                .collect(),
        }
    }

    /// Each incident's exposure with its figures, in scope order.
    pub fn finish_scoped(self, directory: &Directory) -> Vec<ScopedIncident> {
        let throttling = self.throttling;
        self.scopes
            .into_iter()
            .zip(self.found)
            .map(|(scope, found)| scoped(scope, found, &throttling, directory))
            .collect()
    }
}

fn scoped(
    scope: ExposureScope,
    found: Findings,
    throttling: &ThrottleLog,
    directory: &Directory,
) -> ScopedIncident {
    // One entry per resolved name; the raw spellings become aliases.
    let mut named: BTreeMap<String, (MailboxFindings, BTreeSet<String>)> = BTreeMap::new();
    for (raw, f) in found.mailboxes {
        let name = directory.resolve(&raw).into_owned();
        let e = named.entry(name).or_default();
        e.0.merge(f);
        e.1.insert(raw);
    }
    let mut mailboxes = Vec::new();
    let mut figures = BTreeMap::new();
    for (name, (f, raws)) in named {
        // The incident's linked access to this mailbox, first to last.
        let active = match (f.first, f.last) {
            (Some(start), Some(end)) => Some(TimeWindow { start, end }),
            _ => None,
        };
        let windows = raws
            .iter()
            .flat_map(|r| throttling.times(r))
            .filter_map(|t| {
                let w = TimeWindow::throttled_at(t);
                active.is_none_or(|a| w.overlaps(&a)).then_some(w)
            });
        mailboxes.push(MailboxExposure {
            mailbox: name.clone(),
            messages: f.messages.iter().cloned().collect(),
            folders_synced: f.folders_synced.iter().cloned().collect(),
            throttled_windows: TimeWindow::merge_all(windows),
            linked_by: f
                .linked_by
                .iter()
                .map(|(k, n)| (k.as_str().to_owned(), *n))
                .collect(),
            aliases: raws.into_iter().filter(|r| *r != name).collect(),
        });
        figures.insert(name, f);
    }
    ScopedIncident {
        exposure: IncidentExposure {
            id: scope.id,
            severity: scope.severity,
            first: scope.first,
            last: scope.last,
            mailboxes,
        },
        figures,
        timeline: found.hours.into_iter().collect(),
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

#[cfg(test)]
mod tests;
