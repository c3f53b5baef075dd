//! [`Detector`]: the two-pass run of the detection pack.
//!
//! 1. Scan: a [`ScanStage`] rides along the caller's ingest run (one processor per worker).
//! 2. [`Detector::plan`]: rules over the merged aggregates → candidate alerts.
//! 3. Collect: only if there are candidates, a second ingest run with a [`CollectStage`]
//!    gathers their record ids, linking values, weak signals and exposure.
//! 4. [`Detector::finalize`] → [`Detections`]; [`crate::incident`] groups and scopes.
//!
//! [`Detector::run_bytes`] does all of it for in-memory inputs on the calling thread (tests
//! and fuzzing); `keywarden hunt` drives the steps over files with the worker pool.

use std::collections::BTreeSet;

use keywarden_ingest::{IngestConfig, InputSource, Processor, Quiet, ingest, ingest_bytes};

use crate::baseline::Baseline;
use crate::collect::{CollectStage, Gathered};
use crate::config::Settings;
use crate::finalize::{Detections, finalize};
use crate::rules::{Plan, alerted_keys, plan};
use crate::scan::{Scan, ScanStage};

/// The detection pack with its settings.
#[derive(Debug, Clone)]
pub struct Detector {
    settings: Settings,
}

impl Detector {
    pub fn new(settings: Settings) -> Detector {
        Detector { settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Adds declared sign-in coverage (a collector manifest's complete windows) before a run.
    pub fn declare(&mut self, declared: impl IntoIterator<Item = crate::Declared>) {
        self.settings.declared.extend(declared);
    }

    /// Notes a declaration the driver refused, with why (shown in the coverage summary).
    pub fn refuse_declaration(&mut self, why: String) {
        self.settings.declarations_refused.push(why);
    }

    /// The scan-pass stage to plug into an ingest run.
    pub fn scan_stage(&self) -> ScanStage<'_> {
        ScanStage::new(&self.settings)
    }

    /// Applies the rules. `external` (from `--baseline`/`--state`) replaces the look-back.
    pub fn plan(&self, scan: Scan, external: Option<&Baseline>) -> Plan {
        plan(scan, &self.settings, external)
    }

    /// The collection-pass stage for a plan (run it only if `plan.candidates` is not empty).
    pub fn collect_stage<'p>(&'p self, plan: &'p Plan) -> CollectStage<'p> {
        CollectStage::new(plan, &self.settings)
    }

    pub fn finalize(&self, plan: &Plan, gathered: Gathered) -> Detections {
        finalize(plan, gathered, &self.settings)
    }

    /// The state to save for the next run: the external baseline plus everything this run saw,
    /// except the behaviour that alerted.
    pub fn next_state(&self, plan: &Plan, external: Option<&Baseline>) -> Baseline {
        let exclude = alerted_keys(plan);
        let mut b = Baseline::from_scan(&plan.scan, None, &exclude);
        if let Some(e) = external {
            b.absorb(e.clone());
        }
        b
    }

    /// The collection pass over files with the worker pool (skipped when there are no
    /// candidates). Rejections were already reported by the scan pass, so they are ignored.
    pub fn collect_files(
        &self,
        plan: &Plan,
        inputs: &[InputSource],
        cfg: &IngestConfig,
    ) -> Gathered {
        if plan.candidates.is_empty() {
            return Gathered::default();
        }
        let needed: Vec<InputSource> = inputs
            .iter()
            .filter(|i| plan.needs_input(&i.name))
            .cloned()
            .collect();
        let stage = self.collect_stage(plan);
        let _ = ingest(&needed, cfg, || stage.processor(), &Quiet);
        stage.into_gathered()
    }

    /// Both passes over files with the worker pool (the detection pack alone).
    pub fn run_files(
        &self,
        inputs: &[InputSource],
        cfg: &IngestConfig,
        external: Option<&Baseline>,
    ) -> (Plan, Detections) {
        let stage = self.scan_stage();
        let _ = ingest(inputs, cfg, || stage.processor(), &Quiet);
        let plan = self.plan(stage.into_scan(), external);
        let gathered = self.collect_files(&plan, inputs, cfg);
        let d = self.finalize(&plan, gathered);
        (plan, d)
    }

    /// A baseline from earlier exports (`--baseline PATH`): every record counts as normal.
    pub fn baseline_from_inputs(&self, inputs: &[InputSource], cfg: &IngestConfig) -> Baseline {
        let stage = self.scan_stage();
        let _ = ingest(inputs, cfg, || stage.processor(), &Quiet);
        Baseline::from_scan(&stage.into_scan(), None, &BTreeSet::new())
    }

    /// Both passes over in-memory inputs, on this thread.
    pub fn run_bytes(
        &self,
        inputs: &[(&str, &[u8])],
        cfg: &IngestConfig,
        external: Option<&Baseline>,
    ) -> (Plan, Detections) {
        let stage = self.scan_stage();
        {
            let mut p = stage.processor();
            for (name, bytes) in inputs {
                ingest_bytes(name, bytes.to_vec(), cfg, &mut p);
            }
            p.finish();
        }
        let plan = self.plan(stage.into_scan(), external);
        let gathered = if plan.candidates.is_empty() {
            Gathered::default()
        } else {
            let collect = self.collect_stage(&plan);
            {
                let mut p = collect.processor();
                for (name, bytes) in inputs.iter().filter(|(n, _)| plan.needs_input(n)) {
                    ingest_bytes(name, bytes.to_vec(), cfg, &mut p);
                }
                p.finish();
            }
            collect.into_gathered()
        };
        let d = self.finalize(&plan, gathered);
        (plan, d)
    }
}
