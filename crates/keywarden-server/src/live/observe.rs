//! What the live rules need from an event beyond its stored row, taken while the event is in
//! hand: the lead-rule keys (through the detection pack's own [`keys_of`], so `serve` and
//! `hunt` key records identically), the record's `OperationCount`, and the Sigma matches.
//!
//! During ingest a [`LiveCollector`] (the pipeline's ingest [`Processor`]) builds the store rows
//! and one [`Observed`] per row. On a restart the events stored after the saved state are read
//! back as rows only, so [`observe_row`] re-reads each row's raw record with the ingest
//! engine's own shape reader and observes it the same way.

use std::sync::Arc;

use keywarden_detect::Settings;
use keywarden_detect::facts::{Facts, Role};
use keywarden_detect::intern::{Interner, NONE, Sym};
use keywarden_detect::keys::{Key, keys_of};
use keywarden_ingest::{Format, Processor};
use keywarden_model::{Alert, Event, Origin, Value};
use keywarden_sigma::{Contribution, SigmaStage};
use keywarden_store::EventRow;

use crate::convert::event_row;

/// One lead-rule aggregation key of an event, in text (`""` where a value is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadKey {
    /// Mail access by (tenant, AppId, ClientAppId).
    Pair(String, String, String),
    /// Mail access to one mailbox: (tenant, mailbox, AppId, ClientAppId).
    MailboxPair(String, String, String, String),
    /// (user, ClientAppId).
    UserApp(String, String),
    /// Daily operations of (tenant, ClientAppId) on a day number.
    AppDay(String, String, i64),
    /// (identity, mailbox it does not own).
    Reader(String, String),
}

/// What the live rules take from one event besides its row.
#[derive(Debug, Default)]
pub struct Observed {
    pub leads: Vec<LeadKey>,
    /// `OperationCount` (1 when absent).
    pub ops: i64,
    /// Sigma detection alerts (`sigma:<rule>:<record>`, as `hunt` names them).
    pub sigma: Vec<Alert>,
    /// The event's share in Sigma correlations.
    pub contribution: Option<Contribution>,
    /// A sign-in's user names (UPN, object id), for the coverage model's user filter.
    pub sign_in_users: [Option<String>; 2],
}

/// Turns events into [`Observed`]s (one interner per batch, reused across events).
pub struct Observer {
    settings: Arc<Settings>,
    sigma: Option<Arc<SigmaStage>>,
    leads: bool,
    syms: Interner,
    keys: Vec<Key>,
}

impl Observer {
    pub fn new(settings: Arc<Settings>, sigma: Option<Arc<SigmaStage>>) -> Observer {
        let r = &settings.config.rules;
        let leads = r.unexpected_mailbox_app.enabled
            || r.first_seen_client_app.enabled
            || r.mailbox_volume_anomaly.enabled
            || r.cross_mailbox_access.enabled;
        Observer {
            settings,
            sigma,
            leads,
            syms: Interner::default(),
            keys: Vec::new(),
        }
    }

    /// Observes one event.
    pub fn observe(&mut self, ev: &Event<'_>) -> Observed {
        let mut out = Observed {
            ops: 1,
            ..Observed::default()
        };
        if ev.source == keywarden_model::SourceKind::EntraSignIn {
            out.sign_in_users = keywarden_detect::identity::sign_in_user_names(&ev.raw);
        }
        let f = self.leads.then(|| Facts::of(ev));
        // Only mail reads carry lead keys (`keys_of` gives other records none of them).
        if let Some(f) = f.filter(|f| matches!(f.role, Role::MailAccess(_))) {
            out.ops = f.operations;
            self.keys.clear();
            keys_of(&f, &self.settings, &mut self.syms, &mut self.keys);
            let t = |s: Sym| self.syms.text(s).to_string();
            for k in &self.keys {
                let lead = match *k {
                    Key::Pair(a, b, c) => LeadKey::Pair(t(a), t(b), t(c)),
                    Key::MailboxPair(a, b, c, d) => LeadKey::MailboxPair(t(a), t(b), t(c), t(d)),
                    Key::UserApp(a, b) => LeadKey::UserApp(t(a), t(b)),
                    Key::AppDay(a, b, d) => LeadKey::AppDay(t(a), t(b), d),
                    Key::Reader(a, b) if a != NONE && b != NONE => LeadKey::Reader(t(a), t(b)),
                    _ => continue,
                };
                out.leads.push(lead);
            }
        }
        if let Some(stage) = &self.sigma {
            let (alerts, contribution) = stage.evaluate_one(ev);
            out.sigma = alerts;
            out.contribution = contribution;
        }
        out
    }

    /// Observes a stored row by re-reading its raw record (restart replay). `None` when the
    /// row can no longer be read as its format (it then counts for the strong rules only).
    pub fn observe_row(&mut self, row: &EventRow) -> Option<Observed> {
        let format: Format = row.format.parse().ok()?;
        let raw = Value::parse(&row.raw).ok()?;
        let ev =
            keywarden_ingest::shape::normalise(format, raw, origin_of(&row.record_ref)).ok()?;
        Some(self.observe(&ev))
    }
}

/// An origin whose reference is `record_ref` (`path:line`, `path#record`, `path@offset`), so a
/// re-read record without an id keeps the reference it was stored with.
fn origin_of(record_ref: &str) -> Origin<'_> {
    let mut o = Origin {
        path: record_ref,
        line: None,
        offset: 0,
        record_number: None,
    };
    for sep in [':', '#', '@'] {
        let Some((path, n)) = record_ref.rsplit_once(sep) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else {
            continue;
        };
        o.path = path;
        match sep {
            ':' => o.line = Some(n),
            '#' => o.record_number = Some(n),
            _ => o.offset = n,
        }
        return o;
    }
    o
}

/// The pipeline's ingest processor: store rows plus one [`Observed`] per row.
pub struct LiveCollector {
    pub rows: Vec<EventRow>,
    pub observed: Vec<Observed>,
    observer: Observer,
}

impl LiveCollector {
    pub fn new(observer: Observer) -> LiveCollector {
        LiveCollector {
            rows: Vec::new(),
            observed: Vec::new(),
            observer,
        }
    }
}

impl Processor for LiveCollector {
    fn process(&mut self, event: &Event<'_>) {
        self.rows.push(event_row(event));
        self.observed.push(self.observer.observe(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_keep_their_reference() {
        for r in ["a.json:12", "x.evtx#7", "b.csv@1024", "plain-id", "c:d:3"] {
            let o = origin_of(r);
            if r == "plain-id" {
                assert_eq!(o.path, r);
            } else {
                assert_eq!(o.reference(), r);
            }
        }
    }

    #[test]
    fn a_stored_row_is_observed_like_the_ingested_event() {
        let settings = Arc::new(keywarden_detect::DetectConfig::default().build().unwrap());
        let line = br#"{"CreationTime":"2023-07-01T10:00:00","Id":"r1","Operation":"MailItemsAccessed","OrganizationId":"t1","RecordType":50,"UserId":"a@x.com","AppId":"app","ClientAppId":"client","MailboxOwnerUPN":"b@x.com","OperationCount":7,"Workload":"Exchange","ResultStatus":"Succeeded","ClientIPAddress":"10.0.0.1","OperationProperties":[{"Name":"MailAccessType","Value":"Bind"}]}"#;
        let mut c = LiveCollector::new(Observer::new(settings.clone(), None));
        let cfg = keywarden_ingest::IngestConfig::default();
        let out = keywarden_ingest::ingest_bytes("in.json", line.to_vec(), &cfg, &mut c);
        assert_eq!(out.counts.events, 1, "{:?}", out.rejections);
        let live = &c.observed[0];
        assert_eq!(live.ops, 7);
        assert!(
            live.leads
                .contains(&LeadKey::Reader("a@x.com".into(), "b@x.com".into()))
        );
        let again = Observer::new(settings, None)
            .observe_row(&c.rows[0])
            .expect("re-read");
        assert_eq!(again.leads, live.leads);
        assert_eq!(again.ops, 7);
    }
}
