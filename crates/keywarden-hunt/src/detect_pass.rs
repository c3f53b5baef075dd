//! The built-in detection pack inside a hunt: the baseline sources, the scan stage that rides
//! along ingest, the second (collection) pass, state saving, and incident grouping with the
//! `alerts.jsonl` / `exposure.json` outputs.

use std::path::{Path, PathBuf};

use keywarden_detect::{
    Baseline, DetectConfig, Detections, Detector, Plan, ScanStage, assign_incidents, write_alerts,
    write_exposure,
};
use keywarden_ingest::{
    COLLECT_MANIFEST_NAME, IngestConfig, InputSource, expand_inputs, is_collect_manifest,
};
use keywarden_model::{Alert, Exposure};

use crate::config::HuntConfig;
use crate::error::HuntError;

/// The detection pack, ready to ride along an ingest run.
pub(crate) struct DetectPass {
    detector: Detector,
    external: Option<Baseline>,
}

impl DetectPass {
    /// Loads the configuration and any external baseline (`baseline`, `state`).
    pub(crate) fn prepare(
        cfg: &HuntConfig,
        ingest: &IngestConfig,
    ) -> Result<DetectPass, HuntError> {
        let config = match &cfg.detect_config {
            Some(p) => DetectConfig::from_file(p)?,
            None => DetectConfig::default(),
        };
        let mut settings = config
            .build()
            .map_err(|source| HuntError::DetectSettings { source })?;
        for spec in &cfg.signin_coverage {
            let declared = keywarden_detect::parse_coverage_spec(spec, "--signin-coverage")
                .map_err(|source| HuntError::SigninCoverage { source })?;
            settings.declared.extend(declared);
        }
        let detector = Detector::new(settings);
        let mut external: Option<Baseline> = None;
        if let Some(p) = &cfg.state {
            external = Some(Baseline::load(p)?);
        }
        if !cfg.baseline.is_empty() {
            let inputs = expand_inputs(&cfg.baseline)
                .map_err(|source| HuntError::BaselineInputs { source })?;
            let b = detector.baseline_from_inputs(&inputs, ingest);
            match &mut external {
                Some(e) => e.absorb(b),
                None => external = Some(b),
            }
        }
        Ok(DetectPass { detector, external })
    }

    /// Declares the complete sign-in windows of every collector manifest (`collect.json`
    /// written by `keywarden collect`) among the inputs, as `--signin-coverage` would; returns
    /// the manifests applied. A file named `collect.json` without the manifest marker is a log
    /// like any other; a marked one that cannot be parsed stops the hunt with its path. A
    /// stream whose listed files are not all among the inputs declares nothing (refused, with
    /// the count, in the coverage summary): its windows describe records the hunt does not have.
    pub(crate) fn declare_manifests(
        &mut self,
        inputs: &[InputSource],
    ) -> Result<Vec<String>, HuntError> {
        let mut applied = Vec::new();
        let present: std::collections::HashSet<PathBuf> = inputs
            .iter()
            .filter_map(|i| i.path.as_deref())
            .map(normalised)
            .collect();
        for input in inputs {
            let Some(path) = &input.path else { continue };
            let named = path
                .file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(COLLECT_MANIFEST_NAME));
            if !named {
                continue;
            }
            let io = |source| HuntError::CollectManifestIo {
                path: input.name.clone(),
                source,
            };
            // The marker sits in the first 512 bytes: a large log that happens to carry the
            // name is not read whole here.
            let mut head = Vec::with_capacity(512);
            std::fs::File::open(path)
                .and_then(|f| {
                    std::io::Read::read_to_end(&mut std::io::Read::take(f, 512), &mut head)
                })
                .map_err(io)?;
            if !is_collect_manifest(&input.name, &head) {
                continue;
            }
            let bytes = std::fs::read(path).map_err(io)?;
            let text = String::from_utf8_lossy(&bytes);
            let streams = keywarden_detect::parse_coverage_manifest_streams(&text, &input.name)
                .map_err(|source| HuntError::CollectManifest {
                    path: input.name.clone(),
                    source,
                })?;
            let dir = path.parent().unwrap_or(Path::new("."));
            for s in streams {
                let missing = s.files.as_ref().map_or(0, |files| {
                    files
                        .iter()
                        .filter(|f| !present.contains(&normalised(&dir.join(f))))
                        .count()
                });
                if missing > 0 {
                    let of = s.files.as_ref().map_or(0, Vec::len);
                    self.detector.refuse_declaration(format!(
                        "{}: {}: {missing} of its {of} files are not among the inputs; its \
                         complete windows are not declared",
                        input.name, s.label
                    ));
                    continue;
                }
                self.detector.declare(s.declared);
            }
            applied.push(input.name.clone());
        }
        Ok(applied)
    }

    /// The scan-pass stage to run inside the ingest workers.
    pub(crate) fn stage(&self) -> ScanStage<'_> {
        self.detector.scan_stage()
    }

    /// After ingest: rules, the collection pass over the same inputs, alerts; saves the state
    /// when asked. The plan is kept for the exposure pass ([`DetectPass::write_outputs`]).
    pub(crate) fn finish(
        &self,
        stage: &ScanStage<'_>,
        inputs: &[InputSource],
        ingest: &IngestConfig,
        save_state: Option<&Path>,
    ) -> Result<(Detections, Plan), HuntError> {
        let plan = self
            .detector
            .plan(stage.take_scan(), self.external.as_ref());
        let gathered = self.detector.collect_files(&plan, inputs, ingest);
        if let Some(path) = save_state {
            self.detector
                .next_state(&plan, self.external.as_ref())
                .save(path)?;
        }
        let detections = self.detector.finalize(&plan, gathered);
        Ok((detections, plan))
    }

    /// Groups every stage's alerts into incidents, scopes exposure (the exposure pass over the
    /// same inputs), writes `alerts.jsonl` and `exposure.json` into `out`. Returns the
    /// exposure for the reports.
    pub(crate) fn write_outputs(
        &self,
        out: &Path,
        alerts: &mut [Alert],
        plan: Plan,
        inputs: &[InputSource],
        ingest: &IngestConfig,
    ) -> Result<Exposure, HuntError> {
        keywarden_detect::sort_alerts(alerts);
        let incidents = assign_incidents(alerts);
        let exposure = self
            .detector
            .exposure_files(&plan, alerts, &incidents, inputs, ingest);
        // The plan holds every aggregate and interned string of the run (hundreds of MB on a
        // large tenant); freeing them is off the critical path, beside the report writing.
        std::thread::spawn(move || drop(plan));
        write_alerts(&out.join("alerts.jsonl"), alerts)?;
        write_exposure(&out.join("exposure.json"), &exposure)?;
        Ok(exposure)
    }
}

/// A path as compared with a manifest's files: `.` and `..` resolved lexically (no file-system
/// access), so `dir/./a` and `dir/b/../a` name `dir/a`.
fn normalised(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
