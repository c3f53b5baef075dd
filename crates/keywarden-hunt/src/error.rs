//! Why a hunt stopped. Bad records never stop a hunt (they are rejected and accounted for);
//! these are the failures of the run itself: unreadable paths, settings, rules, output files.

use std::path::PathBuf;

/// A hunt could not be built or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HuntError {
    /// An input path does not exist or cannot be listed.
    #[error(transparent)]
    Inputs(#[from] keywarden_ingest::InputError),
    /// A `--baseline` path does not exist or cannot be listed.
    #[error("reading --baseline inputs")]
    BaselineInputs {
        #[source]
        source: keywarden_ingest::InputError,
    },
    /// The detection configuration file could not be read or parsed.
    #[error(transparent)]
    DetectConfig(#[from] keywarden_detect::ConfigError),
    /// The detection configuration parsed but its settings are unusable.
    #[error("building the detection settings")]
    DetectSettings {
        #[source]
        source: keywarden_detect::ConfigError,
    },
    /// A collector manifest (`collect.json`) among the inputs could not be read or parsed.
    #[error("reading the collector manifest {path}")]
    CollectManifest {
        path: String,
        #[source]
        source: keywarden_detect::CoverageError,
    },
    /// A collector manifest (`collect.json`) among the inputs could not be opened.
    #[error("opening the collector manifest {path}")]
    CollectManifestIo {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A `--signin-coverage` SPEC could not be parsed.
    #[error("reading --signin-coverage")]
    SigninCoverage {
        #[source]
        source: keywarden_detect::CoverageError,
    },
    /// A state file (`--state`, `--save-state`) could not be read or written.
    #[error(transparent)]
    State(#[from] keywarden_detect::StateError),
    /// The Sigma rules could not be loaded or compiled.
    #[error("loading Sigma rules")]
    Sigma {
        #[source]
        source: keywarden_sigma::SigmaError,
    },
    /// Stdin could not be spooled to a temporary file for the second read.
    #[error("{step}")]
    StdinSpool {
        /// What was being done (`reading stdin into a temporary file`...).
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The output directory could not be created.
    #[error("creating output directory {}", path.display())]
    OutputDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be created.
    #[error("creating {}", path.display())]
    CreateOutput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be written.
    #[error("writing {}", path.display())]
    WriteOutput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `summary.json` could not be encoded.
    #[error("writing {}", path.display())]
    EncodeOutput {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `alerts.jsonl` or `exposure.json` could not be written.
    #[error(transparent)]
    DetectOutput(#[from] keywarden_detect::OutputError),
    /// `alerts.csv` or `report.html` could not be written.
    #[error("writing {}", path.display())]
    Report {
        path: PathBuf,
        #[source]
        source: keywarden_report::ReportError,
    },
    /// The thread writing `alerts.csv` stopped without finishing.
    #[error("writing {} failed", path.display())]
    ReportThread { path: PathBuf },
}
