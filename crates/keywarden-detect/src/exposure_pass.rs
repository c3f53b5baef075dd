//! `hunt`'s exposure pass: after incidents are grouped, one more read of the inputs holding
//! token-bearing access records, parsing only records whose raw bytes hold one of the
//! incidents' link values (token, session and record ids, client IPs or, where an IP cannot be
//! searched verbatim, the client app id), and feeding them to the [`ExposureBuilder`].
//!
//! Throttling and identities come from the scan pass, which saw every record: a victim's own
//! throttled records need not hold any of the attacker's values.

use std::collections::BTreeSet;
use std::sync::Mutex;

use keywarden_ingest::{IngestConfig, InputSource, Processor, Quiet, Stage, ingest, ingest_bytes};
use keywarden_model::{Alert, Event, Exposure};

use crate::detector::Detector;
use crate::exposure::{ExposureBuilder, ExposureScope, IssuedTokens};
use crate::incident::Incident;
use crate::keys::Key;
use crate::prefilter::Prefilter;
use crate::rules::{Plan, input_listed};
use crate::scan::Scan;

impl IssuedTokens for Scan {
    fn issued(&self, token: &str) -> bool {
        self.syms.find(token).is_some_and(|t| self.is_issued(t))
    }
}

/// The exposure pass as an ingest [`Stage`].
pub struct ExposureStage<'s> {
    scan: &'s Scan,
    template: ExposureBuilder,
    prefilter: Prefilter,
    /// Inputs holding token-bearing or mail-access records.
    inputs: BTreeSet<String>,
    done: Mutex<Vec<ExposureBuilder>>,
}

impl<'s> ExposureStage<'s> {
    /// The pass for `incidents` (indices into `alerts`) over the scan that found them.
    pub fn new(scan: &'s Scan, alerts: &[Alert], incidents: &[Incident]) -> ExposureStage<'s> {
        let scopes: Vec<ExposureScope> = incidents
            .iter()
            .map(|i| ExposureScope::of_incident(i, alerts))
            .collect();
        let prefilter = needles(&scopes);
        let mut inputs = BTreeSet::new();
        for (k, u) in &scan.uses {
            if matches!(k, Key::Token(..) | Key::Pair(..) | Key::MailboxPair(..)) {
                for f in &u.files {
                    if !inputs.contains(scan.text(*f)) {
                        inputs.insert(scan.text(*f).to_owned());
                    }
                }
            }
        }
        ExposureStage {
            scan,
            template: ExposureBuilder::new(scopes),
            prefilter,
            inputs,
            done: Mutex::new(Vec::new()),
        }
    }

    /// Whether any incident has a link value, so that reading is worth it.
    pub fn needs_reading(&self) -> bool {
        self.template.scopes().iter().any(|s| !s.links.is_empty())
    }

    /// Whether the input called `name` can hold a linked record.
    pub fn needs_input(&self, name: &str) -> bool {
        input_listed(&self.inputs, name)
    }

    /// The raw-bytes pre-filter of this pass.
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// A processor for single-threaded use.
    pub fn processor(&self) -> ExposureWorker<'_> {
        ExposureWorker {
            stage: self,
            builder: self.template.clone(),
        }
    }

    /// `exposure.json`: the workers' findings merged, throttling and identities from the scan.
    pub fn into_exposure(self) -> Exposure {
        let mut builder = self.template;
        for part in self.done.into_inner().unwrap_or_else(|e| e.into_inner()) {
            builder.merge(part);
        }
        builder.add_throttling(&self.scan.throttling);
        builder.finish(&self.scan.identities)
    }
}

impl Stage for ExposureStage<'_> {
    fn worker(&self) -> Box<dyn Processor + '_> {
        Box::new(self.processor())
    }
}

/// One worker's share of the exposure pass.
pub struct ExposureWorker<'s> {
    stage: &'s ExposureStage<'s>,
    builder: ExposureBuilder,
}

impl Processor for ExposureWorker<'_> {
    fn wants(&mut self, raw: &[u8]) -> bool {
        self.stage.prefilter.wants(raw)
    }

    fn process(&mut self, ev: &Event<'_>) {
        self.builder.add(ev, self.stage.scan);
    }

    fn finish(&mut self) {
        let b = std::mem::take(&mut self.builder);
        self.stage
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(b);
    }
}

/// The values a linked record must hold verbatim: its token, its session, its client IP
/// (or, for an address that cannot be searched verbatim, its client app), its app.
fn needles(scopes: &[ExposureScope]) -> Prefilter {
    let mut values: BTreeSet<&str> = BTreeSet::new();
    for l in scopes.iter().map(|s| &s.links) {
        values.extend(l.tokens.iter().map(String::as_str));
        values.extend(l.sessions.iter().map(String::as_str));
        // A record id without an `Id` of its own is its origin (`path:line`), which the raw
        // bytes do not hold: such a value is not a safe needle and the pass parses everything.
        values.extend(l.records.iter().map(String::as_str));
        values.extend(l.apps.iter().map(String::as_str));
        for (ip, app) in &l.ip_apps {
            let ip_is_needle = matches!(
                Prefilter::for_values([ip.as_str()]),
                Prefilter::Needles { .. }
            );
            values.insert(if ip_is_needle { ip } else { app });
        }
    }
    Prefilter::for_values(values)
}

impl Detector {
    /// The exposure pass over files with the worker pool: `exposure.json` for `incidents`.
    pub fn exposure_files(
        &self,
        plan: &Plan,
        alerts: &[Alert],
        incidents: &[Incident],
        inputs: &[InputSource],
        cfg: &IngestConfig,
    ) -> Exposure {
        let stage = ExposureStage::new(&plan.scan, alerts, incidents);
        if stage.needs_reading() {
            let needed: Vec<InputSource> = inputs
                .iter()
                .filter(|i| stage.needs_input(&i.name))
                .cloned()
                .collect();
            let _ = ingest(&needed, cfg, || stage.processor(), &Quiet);
        }
        stage.into_exposure()
    }

    /// The exposure pass over in-memory inputs, on this thread.
    pub fn exposure_bytes(
        &self,
        plan: &Plan,
        alerts: &[Alert],
        incidents: &[Incident],
        inputs: &[(&str, &[u8])],
        cfg: &IngestConfig,
    ) -> Exposure {
        let stage = ExposureStage::new(&plan.scan, alerts, incidents);
        if stage.needs_reading() {
            let mut p = stage.processor();
            for (name, bytes) in inputs.iter().filter(|(n, _)| stage.needs_input(n)) {
                ingest_bytes(name, bytes.to_vec(), cfg, &mut p);
            }
            p.finish();
        }
        stage.into_exposure()
    }
}
