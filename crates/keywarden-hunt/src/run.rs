//! [`Hunt::run`]: the pipeline. Inputs are expanded (stdin spooled so that it can be read
//! twice), read once by the ingest workers with the detection pack's scan stage and the Sigma
//! stage inside, rejections written to `rejected.jsonl` as they come; then the detection pack's
//! collection pass, incidents and exposure over every stage's alerts, and the output files.

use std::io::Write;
use std::path::PathBuf;

use keywarden_detect::CoverageSummary;
use keywarden_ingest::{
    Fanout, IngestConfig, IngestReport, InputSource, Stage, expand_inputs, ingest,
};
use keywarden_model::{Alert, Exposure, Timestamp};
use keywarden_sigma::{LoadReport, SigmaStage};

use crate::config::HuntConfig;
use crate::detect_pass::DetectPass;
use crate::error::HuntError;
use crate::progress::HuntProgress;
use crate::rejected_log::RejectedLog;
use crate::reports::{write_reports, write_summary};

/// A hunt ready to run once: settings checked, detection settings, baseline and rules loaded.
pub struct Hunt {
    config: HuntConfig,
    ingest: IngestConfig,
    detect: DetectPass,
    sigma: Option<SigmaStage>,
}

/// What a hunt found and wrote. Every file named here is in [`HuntOutput::out`].
#[derive(Debug)]
#[non_exhaustive]
pub struct HuntOutput {
    /// The output directory.
    pub out: PathBuf,
    /// Every input's accounting (`summary.json` without the alert count).
    pub report: IngestReport,
    /// Every stage's alerts, sorted, with incidents assigned (`alerts.jsonl`).
    pub alerts: Vec<Alert>,
    /// Incidents and what each could read (`exposure.json`).
    pub exposure: Exposure,
    /// The sign-in coverage found and the tokens left unjudged (`summary.json`'s `coverage`).
    pub coverage: CoverageSummary,
    /// Later copies of records the built-in alerts cover, not counted again
    /// (`summary.json`'s `repeated_records`).
    pub repeated_records: u64,
}

impl HuntOutput {
    /// The number of alerts (`summary.json`'s `alerts`).
    pub fn alert_count(&self) -> u64 {
        self.alerts.len() as u64
    }
}

impl Hunt {
    pub(crate) fn new(
        config: HuntConfig,
        ingest: IngestConfig,
        detect: DetectPass,
        sigma: Option<SigmaStage>,
    ) -> Hunt {
        Hunt {
            config,
            ingest,
            detect,
            sigma,
        }
    }

    /// The settings this hunt was built from.
    pub fn config(&self) -> &HuntConfig {
        &self.config
    }

    /// How the Sigma rules loaded (loaded, unsupported, in error), when rules were given.
    pub fn sigma_report(&self) -> Option<&LoadReport> {
        self.sigma.as_ref().map(SigmaStage::report)
    }

    /// Reads `paths` (files, directories recursively, `-` for stdin), runs every detection and
    /// writes the output directory: `summary.json`, `rejected.jsonl`, `alerts.jsonl`,
    /// `exposure.json`, `alerts.csv`, `report.html` (and the state file when asked).
    /// `generated_at` is the time written into `report.html`; `progress` hears the reading.
    pub fn run(
        mut self,
        paths: &[PathBuf],
        generated_at: Timestamp,
        progress: &dyn HuntProgress,
    ) -> Result<HuntOutput, HuntError> {
        let mut inputs = expand_inputs(paths)?;
        // Detection reads the inputs holding alerts a second time (record ids, exposure), and
        // stdin can be read only once: it is spooled to a temporary file (removed on return)
        // and read from there, still named `-` in every report and record id.
        let _stdin_spool = spool_stdin(&mut inputs)?;
        // A collector's manifest states which sign-in windows it collected completely.
        self.detect.declare_manifests(&inputs)?;
        let out = self.config.out.as_path();
        std::fs::create_dir_all(out).map_err(|source| HuntError::OutputDir {
            path: out.to_path_buf(),
            source,
        })?;
        let log = RejectedLog::create(&out.join("rejected.jsonl"), progress)?;
        progress.started(on_disk_bytes(&inputs));
        // Detection stages run inside the ingest workers, one processor per worker each.
        let detect_stage = self.detect.stage();
        let mut stages: Vec<&dyn Stage> = vec![&detect_stage];
        if let Some(s) = &self.sigma {
            stages.push(s);
        }
        let (report, _workers) = ingest(&inputs, &self.ingest, || Fanout::of(&stages), &log);
        progress.finished();
        log.finish()?;

        let save_state = self.config.save_state.as_deref();
        let (detections, plan) =
            self.detect
                .finish(&detect_stage, &inputs, &self.ingest, save_state)?;
        // Alerts from every stage, before incident grouping and reporting.
        let mut alerts: Vec<Alert> = detections.alerts.clone();
        let mut sigma_stats = None;
        if let Some(s) = &self.sigma {
            let outcome = s.finish();
            alerts.extend(outcome.alerts);
            sigma_stats = Some(outcome.stats);
        }
        let exposure = self
            .detect
            .write_outputs(out, &mut alerts, plan, &inputs, &self.ingest)?;
        write_reports(out, &alerts, &exposure, &report, generated_at)?;
        write_summary(
            out,
            &report,
            alerts.len() as u64,
            detections.repeated_records,
            &detections.coverage,
            sigma_stats.as_ref(),
        )?;
        Ok(HuntOutput {
            out: out.to_path_buf(),
            report,
            alerts,
            exposure,
            coverage: detections.coverage.clone(),
            repeated_records: detections.repeated_records,
        })
    }
}

/// The inputs' total size on disk (what progress counts against).
fn on_disk_bytes(inputs: &[InputSource]) -> u64 {
    inputs
        .iter()
        .filter_map(|i| i.path.as_ref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Copies stdin, if it is among the inputs, to a temporary file that the input then reads.
fn spool_stdin(inputs: &mut [InputSource]) -> Result<Option<tempfile::NamedTempFile>, HuntError> {
    let Some(input) = inputs.iter_mut().find(|i| i.path.is_none()) else {
        return Ok(None);
    };
    let failed = |step| move |source| HuntError::StdinSpool { step, source };
    let mut spool = tempfile::Builder::new()
        .prefix("keywarden-stdin-")
        .tempfile()
        .map_err(failed("creating a temporary file for stdin"))?;
    std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
        .map_err(failed("reading stdin into a temporary file"))?;
    spool
        .as_file_mut()
        .flush()
        .map_err(failed("writing stdin's temporary file"))?;
    input.path = Some(spool.path().to_path_buf());
    Ok(Some(spool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_disk_bytes_counts_files_and_skips_stdin_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, b"{\"n\":1}\n").unwrap();
        let inputs = [
            InputSource {
                name: "a".into(),
                path: Some(p),
            },
            InputSource {
                name: "-".into(),
                path: None,
            },
            InputSource {
                name: "gone".into(),
                path: Some(dir.path().join("gone")),
            },
        ];
        assert_eq!(on_disk_bytes(&inputs), 8);
    }
}
