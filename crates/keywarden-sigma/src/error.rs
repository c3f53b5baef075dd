//! Errors of this crate. Rule problems are not errors: they are reported per rule in a
//! [`crate::LoadReport`]; these are the failures that stop a run.

use std::path::PathBuf;

/// Why a Sigma stage could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigmaError {
    /// A path given on the command line does not exist or cannot be listed.
    #[error("cannot read rules at {path}")]
    RulePath {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The routing data file (built in, or given by the caller) is malformed.
    #[error("invalid logsource routing data: {0}")]
    Routing(String),
    /// `--logsource` was not `name` or `key=value[,key=value]` with keys product, service,
    /// category.
    #[error("invalid --logsource {spec:?}: {reason}")]
    LogsourceSpec { spec: String, reason: String },
}
