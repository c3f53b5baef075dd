//! The built-in detection pack inside `keywarden hunt`: its flags, the baseline sources, the
//! second (collection) pass, state saving, incident grouping and the `alerts.jsonl` /
//! `exposure.json` outputs. Kept apart from `hunt.rs` so that each stage's wiring stays small.

use std::path::{Path, PathBuf};

use anyhow::Context;
use keywarden_detect::{
    Baseline, DetectConfig, Detections, Detector, ScanStage, assign_incidents, exposure,
    write_alerts, write_exposure,
};
use keywarden_ingest::{IngestConfig, InputSource, expand_inputs};
use keywarden_model::{Alert, Exposure};

#[derive(clap::Args, Debug, Default)]
pub struct DetectArgs {
    /// Detection configuration (TOML; `keywarden config show` prints the defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An earlier export to learn normal behaviour from (repeatable); replaces the look-back.
    #[arg(long = "baseline", value_name = "PATH")]
    pub baseline: Vec<PathBuf>,
    /// A state file saved by an earlier `--save-state`, used as the baseline.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Save what this run learned (minus what alerted) as a state file for the next run.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,
}

/// The detection pack, ready to ride along an ingest run.
pub struct DetectRun {
    detector: Detector,
    external: Option<Baseline>,
}

impl DetectRun {
    /// Loads the configuration and any external baseline (`--baseline`, `--state`).
    pub fn prepare(args: &DetectArgs, cfg: &IngestConfig) -> anyhow::Result<DetectRun> {
        let config = match &args.config {
            Some(p) => DetectConfig::from_file(p)?,
            None => DetectConfig::default(),
        };
        let detector = Detector::new(config.build().context("building the detection settings")?);
        let mut external: Option<Baseline> = None;
        if let Some(p) = &args.state {
            external = Some(Baseline::load(p)?);
        }
        if !args.baseline.is_empty() {
            let inputs = expand_inputs(&args.baseline).context("reading --baseline inputs")?;
            let b = detector.baseline_from_inputs(&inputs, cfg);
            match &mut external {
                Some(e) => e.absorb(b),
                None => external = Some(b),
            }
        }
        Ok(DetectRun { detector, external })
    }

    /// The scan-pass stage to push into `hunt`'s stages.
    pub fn stage(&self) -> ScanStage<'_> {
        self.detector.scan_stage()
    }

    /// After ingest: rules, the collection pass over the same inputs, alerts; saves the state
    /// when asked.
    pub fn finish(
        &self,
        stage: &ScanStage<'_>,
        inputs: &[InputSource],
        cfg: &IngestConfig,
        save_state: Option<&Path>,
    ) -> anyhow::Result<Detections> {
        let plan = self
            .detector
            .plan(stage.take_scan(), self.external.as_ref());
        let gathered = self.detector.collect_files(&plan, inputs, cfg);
        if let Some(path) = save_state {
            self.detector
                .next_state(&plan, self.external.as_ref())
                .save(path)?;
        }
        let detections = self.detector.finalize(&plan, gathered);
        // The plan holds every aggregate and interned string of the run (hundreds of MB on a
        // large tenant); freeing them is off the critical path, beside the report writing.
        std::thread::spawn(move || drop(plan));
        Ok(detections)
    }
}

/// Groups every stage's alerts into incidents, scopes exposure, writes `alerts.jsonl` and
/// `exposure.json` into `out`. Returns the exposure for the reports.
pub fn write_outputs(
    out: &Path,
    alerts: &mut [Alert],
    detections: &Detections,
) -> anyhow::Result<Exposure> {
    keywarden_detect::finalize::sort_alerts(alerts);
    let incidents = assign_incidents(alerts);
    let exposure = exposure(alerts, &incidents, detections);
    write_alerts(&out.join("alerts.jsonl"), alerts)?;
    write_exposure(&out.join("exposure.json"), &exposure)?;
    Ok(exposure)
}
