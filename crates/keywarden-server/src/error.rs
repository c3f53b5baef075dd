//! Server errors, with evidence.

use std::path::PathBuf;

/// A failure to configure or run the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("cannot read {what} {path}")]
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
    #[error("detection configuration")]
    Detect(#[from] keywarden_detect::ConfigError),
    #[error("Sigma rules")]
    Sigma(#[from] keywarden_sigma::SigmaError),
    #[error("store")]
    Store(#[from] keywarden_store::StoreError),
    #[error("saved detector state is corrupt: {0}")]
    State(String),
    #[error("cannot listen on {addr}")]
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
    #[error("cannot start the {what}")]
    Start {
        what: &'static str,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use keywarden_model::{error_chain, error_levels};

    use super::ServerError;

    /// Every level of the chain adds its own words: no level repeats the text of a level
    /// below it (which is what `{source}` in a message that also returns the source does).
    fn assert_each_cause_once(e: &(dyn Error + 'static)) {
        let levels = error_levels(e);
        assert!(levels.len() >= 2, "a chain with a cause: {levels:?}");
        for (i, upper) in levels.iter().enumerate() {
            for lower in &levels[i + 1..] {
                assert!(
                    !upper.contains(lower.as_str()),
                    "{upper:?} repeats its cause {lower:?} (whole chain: {})",
                    error_chain(e)
                );
            }
        }
    }

    #[test]
    fn regression_each_cause_is_printed_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();

        let mut chains: Vec<Box<dyn Error + 'static>> = vec![
            // The server's own I/O, and the libraries' errors it wraps with #[from].
            Box::new(crate::ServeConfig::read_keys(&missing).unwrap_err()),
            Box::new(ServerError::from(
                keywarden_detect::DetectConfig::from_file(&missing).unwrap_err(),
            )),
            Box::new(ServerError::from(
                keywarden_sigma::RuleSet::load(std::slice::from_ref(&missing)).unwrap_err(),
            )),
            Box::new(ServerError::from(
                keywarden_store::StoreConfig::new(file.join("data"))
                    .build()
                    .err()
                    .unwrap(),
            )),
            Box::new(keywarden_token::TrustPolicy::from_file(&missing).unwrap_err()),
            Box::new(keywarden_ingest::expand_inputs(std::slice::from_ref(&missing)).unwrap_err()),
        ];
        chains.push(Box::new(keywarden_report::ReportError::Write {
            output: "report.html",
            source: std::io::Error::other("disk full"),
        }));
        for e in &chains {
            assert_each_cause_once(e.as_ref());
        }
        // The joined form still carries every level once.
        let joined = error_chain(chains[0].as_ref());
        assert!(
            joined.starts_with(&format!("cannot read API key file {}: ", missing.display())),
            "{joined}"
        );
        assert_eq!(joined.matches("No such file").count(), 1, "{joined}");
    }
}
