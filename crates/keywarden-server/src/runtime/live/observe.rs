//! What the live rules need from an event beyond its stored row, taken while the event is in
//! hand: the detection pack's observation ([`RuleObserver`]: lead-rule keys, `OperationCount`,
//! a sign-in's user names) and the Sigma matches.
//!
//! During ingest a [`LiveCollector`] (the pipeline's ingest [`Processor`]) builds the store rows
//! and one [`Observed`] per row. On a restart the events stored after the saved state are read
//! back as rows only, so [`Observer::observe_row`] re-reads each row's raw record with the
//! ingest engine's own shape reader and observes it the same way.

use std::sync::Arc;

use keywarden_detect::Settings;
use keywarden_detect::incremental::{self, RuleObserver};
use keywarden_ingest::{Format, Processor};
use keywarden_model::{Alert, Event, Origin, Value};
use keywarden_sigma::{Contribution, SigmaStage};
use keywarden_store::EventRow;

pub use keywarden_detect::incremental::LeadKey;

use crate::runtime::convert::event_row;

/// What the live rules take from one event besides its row.
#[derive(Debug, Default)]
pub struct Observed {
    /// What the detection pack's rules take.
    pub rules: incremental::Observed,
    /// Sigma detection alerts (`sigma:<rule>:<record>`, as `hunt` names them).
    pub sigma: Vec<Alert>,
    /// The event's share in Sigma correlations.
    pub contribution: Option<Contribution>,
}

/// Turns events into [`Observed`]s (one interner per batch, reused across events).
pub struct Observer {
    rules: RuleObserver,
    sigma: Option<Arc<SigmaStage>>,
}

impl Observer {
    pub fn new(settings: Arc<Settings>, sigma: Option<Arc<SigmaStage>>) -> Observer {
        Observer {
            rules: RuleObserver::new(settings),
            sigma,
        }
    }

    /// Observes one event.
    pub fn observe(&mut self, ev: &Event<'_>) -> Observed {
        let mut out = Observed {
            rules: self.rules.observe(ev),
            ..Observed::default()
        };
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
        let live = &c.observed[0].rules;
        assert_eq!(live.ops, 7);
        assert!(
            live.leads
                .contains(&LeadKey::Reader("a@x.com".into(), "b@x.com".into()))
        );
        let again = Observer::new(settings, None)
            .observe_row(&c.rows[0])
            .expect("re-read");
        assert_eq!(again.rules, *live);
    }
}
