//! Server errors, with evidence.

use std::path::PathBuf;

/// A failure to configure or run the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("API key on line {line} is shorter than {min} characters")]
    WeakKey { line: usize, min: usize },
    #[error("the API key file holds no key")]
    NoKeys,
    #[error("invalid configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("detection configuration: {0}")]
    Detect(#[from] keywarden_detect::ConfigError),
    #[error("Sigma rules: {0}")]
    Sigma(#[from] keywarden_sigma::SigmaError),
    #[error("store: {0}")]
    Store(#[from] keywarden_store::StoreError),
    #[error("saved detector state is corrupt: {0}")]
    State(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS {what} {path}: {reason}")]
    Tls {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "memory_budget_mb = {budget_mb} is too small: with {parse_threads} parse threads and max_body_bytes = {max_body_bytes} serve needs at least {needed_mb} MiB (see docs/SERVE.md, Memory budget)"
    )]
    Budget {
        budget_mb: u64,
        needed_mb: u64,
        parse_threads: usize,
        max_body_bytes: usize,
    },
    #[error("cannot start the {what}: {source}")]
    Start {
        what: &'static str,
        source: std::io::Error,
    },
}
