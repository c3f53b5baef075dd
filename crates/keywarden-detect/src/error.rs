//! Errors of the detection pack: configuration, intelligence files, state files, outputs.

use std::path::PathBuf;

/// A threat-intelligence list could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntelError {
    #[error("{file}:{line}: {reason}")]
    Csv {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: not a usable STIX 2.1 bundle: {reason}")]
    Stix { file: String, reason: String },
}

/// The configuration could not be loaded or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid configuration: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("setting `{key}` = {value}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("reading IOC file {path}")]
    IocRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Intel(#[from] IntelError),
    #[error(transparent)]
    Coverage(#[from] CoverageError),
}

/// A baseline state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("state file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a keywarden state file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: state version {found} is not supported (expected {expected})")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
}

/// An output file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("writing {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("encoding {path}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Declared sign-in coverage could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoverageError {
    #[error("sign-in coverage {spec:?}: {reason}")]
    Spec { spec: String, reason: &'static str },
    #[error("collector manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
}
