//! [`HuntConfig`]: every setting of a hunt (what `keywarden hunt`'s flags set), and
//! [`HuntConfig::build`], which loads what the run needs before reading any input: the
//! detection settings, the external baseline (`--baseline`, `--state`) and the Sigma rules.

use std::path::PathBuf;

use keywarden_ingest::{Format, IngestConfig};

use crate::detect_pass::DetectPass;
use crate::error::HuntError;
use crate::run::Hunt;

/// The settings of one hunt. `Default` gives the CLI's defaults (outputs in `keywarden-out`).
#[derive(Debug, Clone)]
pub struct HuntConfig {
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Force one export shape for every record instead of sniffing.
    pub format: Option<Format>,
    /// Reject records larger than this many bytes.
    pub max_record_bytes: usize,
    /// Inputs read whole may decompress to at most this many bytes.
    pub max_input_bytes: u64,
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Detection configuration file (TOML); `None` uses the documented defaults.
    pub detect_config: Option<PathBuf>,
    /// Earlier exports to learn normal behaviour from; replaces the look-back.
    pub baseline: Vec<PathBuf>,
    /// A state file saved by an earlier run, used as the baseline.
    pub state: Option<PathBuf>,
    /// Where to save what this run learned (minus what alerted) for the next run.
    pub save_state: Option<PathBuf>,
    /// Sigma rule files or directories to run beside the built-in detections.
    pub rules: Vec<PathBuf>,
    /// Narrows the Sigma rules to one logsource.
    pub logsource: Option<String>,
    /// Sign-in categories declared complete (`--signin-coverage` SPECs, added to the
    /// configuration's `[coverage] signin`).
    pub signin_coverage: Vec<String>,
}

impl Default for HuntConfig {
    fn default() -> Self {
        let ingest = IngestConfig::default();
        HuntConfig {
            out: PathBuf::from("keywarden-out"),
            format: None,
            max_record_bytes: ingest.max_record_bytes,
            max_input_bytes: ingest.max_input_bytes,
            threads: None,
            detect_config: None,
            baseline: Vec::new(),
            state: None,
            save_state: None,
            rules: Vec::new(),
            logsource: None,
            signin_coverage: Vec::new(),
        }
    }
}

impl HuntConfig {
    /// The ingest settings these hunt settings imply.
    pub fn ingest_config(&self) -> IngestConfig {
        let mut cfg = IngestConfig {
            format: self.format,
            max_record_bytes: self.max_record_bytes,
            max_input_bytes: self.max_input_bytes,
            ..IngestConfig::default()
        };
        if let Some(t) = self.threads {
            cfg.threads = t.max(1);
        }
        cfg
    }

    /// Loads the detection settings, the external baseline and the Sigma rules: a [`Hunt`]
    /// ready to run once. Rule problems that do not stop the run are in
    /// [`Hunt::sigma_report`].
    pub fn build(&self) -> Result<Hunt, HuntError> {
        let ingest = self.ingest_config();
        let detect = DetectPass::prepare(self, &ingest)?;
        let sigma = if self.rules.is_empty() {
            None
        } else {
            let stage = keywarden_sigma::SigmaConfig {
                rule_paths: self.rules.clone(),
                logsource: self.logsource.clone(),
                routing: None,
            }
            .build()
            .map_err(|source| HuntError::Sigma { source })?;
            Some(stage)
        };
        Ok(Hunt::new(self.clone(), ingest, detect, sigma))
    }
}
