//! Parity of the two drivers over the same rule definitions: the same simulated events through
//! the batch driver (`hunt`'s scan, plan, collection and finalize) and the incremental driver
//! (`serve`'s, the events arriving in event-time order in batches) raise the same strong
//! alerts: rule ids, severities and record ids, over tenants of several seeds and shapes.
//! Alert ids differ by design (`hunt`'s name the run's keys, live ones are `live-` hashes) and
//! leads are judged against different baselines (`docs/SERVE.md`, *Live detection*).

use std::sync::Arc;

use keywarden_ingest::{IngestConfig, Processor, ingest_bytes};
use keywarden_model::{Event, Severity, Timestamp};
use keywarden_sim::{Shape, SimConfig, Simulation};

use super::*;
use crate::config::DetectConfig;
use crate::detector::Detector;
use crate::facts::Facts;

/// An event's [`Record`] fields, owned (what `serve` stores), with its observation.
struct Owned {
    format: String,
    role: &'static str,
    record_ref: String,
    time: Option<i64>,
    text: [Option<String>; 11],
    logon_type: Option<i64>,
    token_issued_at: Option<i64>,
    observed: Observed,
}

impl Owned {
    fn record(&self) -> Record<'_> {
        let t = |i: usize| self.text[i].as_deref();
        Record {
            format: &self.format,
            role: self.role,
            record_ref: &self.record_ref,
            time: self.time,
            tenant: t(0),
            user: t(1),
            client_ip: t(2),
            app_id: t(3),
            client_app_id: t(4),
            session_id: t(5),
            token_id: t(6),
            token_tenant: t(7),
            mailbox: t(8),
            logon_type: self.logon_type,
            signing_key_id: t(9),
            category: t(10),
            token_issued_at: self.token_issued_at,
        }
    }
}

struct Collect {
    observer: RuleObserver,
    out: Vec<Owned>,
}

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        let f = Facts::of(ev);
        let own = |v: &Option<std::borrow::Cow<'_, str>>| v.as_deref().map(str::to_string);
        self.out.push(Owned {
            format: ev.format.to_string(),
            role: role_name(f.role),
            record_ref: ev.record_ref(),
            time: f.time.map(|t| t.0),
            text: [
                own(&f.tenant),
                own(&f.user),
                own(&f.ip),
                own(&f.app_id),
                own(&f.client_app_id),
                own(&f.session_id),
                own(&f.token_id),
                own(&f.token_tenant),
                own(&f.mailbox),
                own(&f.signing_key),
                ev.fields.category.as_deref().map(str::to_string),
            ],
            logon_type: f.logon_type,
            token_issued_at: f.token_issued_at.map(|t| t.0),
            observed: self.observer.observe(ev),
        });
    }
}

/// A strong alert as both drivers must agree on it: rule id, severity, sorted record ids.
type Judged = Vec<(String, Severity, Vec<String>)>;

/// The strong rules the incremental driver runs (`token-beyond-lifetime` and `app-takeover`
/// need the whole input: a token's `IssuedAtTime` against its last use, directory changes
/// against later mail reads; `serve` does not run them, as `docs/SERVE.md`, *Live detection*,
/// says).
fn live_strong(rule: &str) -> bool {
    [
        Rule::TokenNeverIssued,
        Rule::ConsumerTenantToken,
        Rule::KnownBadKey,
        Rule::IocIp,
    ]
    .iter()
    .any(|r| r.id() == rule)
}

fn strong(alerts: &[Alert]) -> Judged {
    let mut out: Judged = alerts
        .iter()
        .filter(|a| live_strong(&a.rule_id))
        .map(|a| {
            let mut records = a.record_ids.clone();
            records.sort();
            records.dedup();
            (a.rule_id.clone(), a.severity, records)
        })
        .collect();
    out.sort();
    out
}

fn tenant(seed: u64, shapes: &[Shape]) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        seed,
        users: 12,
        days: 9,
        shapes: shapes.to_vec(),
        ..SimConfig::default()
    };
    Simulation::new(&cfg).unwrap().write_to(dir.path()).unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n != "truth.json") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Both drivers over the same inputs; the incremental one gets the events in event-time order
/// in batches of `batch`, its clock standing still until a last tick after every sign-in
/// stream went idle.
fn both_drivers(inputs: &[(String, Vec<u8>)], batch: usize) -> (Judged, Judged, Vec<Alert>) {
    let settings = DetectConfig::default().build().unwrap();
    let cfg = IngestConfig::default();
    let borrowed: Vec<(&str, &[u8])> = inputs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let (_, hunt) = Detector::new(settings.clone()).run_bytes(&borrowed, &cfg, None);

    let settings = Arc::new(settings);
    let mut collect = Collect {
        observer: RuleObserver::new(settings.clone()),
        out: Vec::new(),
    };
    for (name, bytes) in inputs {
        ingest_bytes(name, bytes.clone(), &cfg, &mut collect);
    }
    let mut events = collect.out;
    events.sort_by(|a, b| (a.time, &a.record_ref).cmp(&(b.time, &b.record_ref)));
    let limits = LiveLimits {
        max_records_per_alert: usize::MAX,
        ..LiveLimits::default()
    };
    let mut live = Engine::new(settings, limits, LiveState::default());
    let now = Timestamp(1_800_000_000_000_000);
    let mut latest: std::collections::BTreeMap<String, Alert> = Default::default();
    let mut id = 0i64;
    for chunk in events.chunks(batch) {
        let records: Vec<(i64, Record<'_>)> = chunk
            .iter()
            .map(|e| {
                id += 1;
                (id, e.record())
            })
            .collect();
        let observed = chunk.iter().map(|e| e.observed.clone()).collect();
        for a in live.process(&records, observed, now) {
            latest.insert(a.id.clone(), a);
        }
    }
    let later = now.plus_seconds(limits.stream_idle_seconds + 1);
    for a in live.process(&[], Vec::new(), later) {
        latest.insert(a.id.clone(), a);
    }
    let live_alerts: Vec<Alert> = latest.into_values().collect();
    (strong(&hunt.alerts), strong(&live_alerts), live_alerts)
}

#[test]
fn both_drivers_raise_the_same_strong_alerts() {
    let shapes: [&[Shape]; 3] = [
        &[],
        &[Shape::UalJson, Shape::SigninGraph],
        &[
            Shape::SentinelOfficeActivity,
            Shape::PurviewCsv,
            Shape::AzureDiagnostic,
        ],
    ];
    for (i, shapes) in shapes.iter().enumerate() {
        for (seed, batch) in [(1, 1), (2, 64), (3, 5_000)] {
            let inputs = tenant(seed + 10 * i as u64, shapes);
            let (hunt, live, all) = both_drivers(&inputs, batch);
            assert!(
                hunt.iter().any(|(_, s, _)| *s == Severity::High),
                "seed {seed}, shapes {shapes:?}: the simulated intrusion raises high alerts"
            );
            assert!(
                all.iter().all(|a| a.severity != Severity::Info),
                "seed {seed}, shapes {shapes:?}: no live verdict was withdrawn"
            );
            assert!(hunt.len() >= 3, "seed {seed}, shapes {shapes:?}: {hunt:?}");
            assert_eq!(hunt, live, "seed {seed}, shapes {shapes:?}, batch {batch}");
        }
    }
}
