//! Everything that can stop a collection, with the evidence needed to act on it.
//!
//! Errors that end the run are [`CollectError`]; problems confined to one window or one blob
//! do not end the run: they become gaps in `collect.json` (see `manifest.rs`) and exit 1.

/// A failure that stops `collect` (exit 2 for usage and authentication, otherwise an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A flag or setting is unusable.
    #[error("{0}")]
    Usage(String),
    /// The identity platform refused the credentials (or could not be reached).
    #[error("authentication against {url} failed: {detail}")]
    Auth { url: String, detail: String },
    /// A credential file could not be read or parsed (its content is never shown).
    #[error("credential file {path}: {detail}")]
    Credential { path: String, detail: String },
    /// The collection state database failed.
    #[error("collection state {path}")]
    State {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// Reading or writing the output directory failed.
    #[error("{path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Another `collect` holds the output directory.
    #[error(
        "{path} is locked by another keywarden collect (remove the lock file if no collect runs)"
    )]
    Locked { path: String },
}

impl CollectError {
    /// True for errors the CLI reports with exit 2 (usage, credentials, authentication).
    pub fn is_usage_or_auth(&self) -> bool {
        matches!(
            self,
            CollectError::Usage(_) | CollectError::Auth { .. } | CollectError::Credential { .. }
        )
    }
}

pub(crate) fn io_error(path: &std::path::Path, source: std::io::Error) -> CollectError {
    CollectError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A failed API call: what the unit's gap will say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The service answered with an error status after retries (or one that is not retried).
    #[error("HTTP {status} from {url}: {code} {message}")]
    Status {
        status: u16,
        url: String,
        /// The service's error code (`AF20051`, `PartialError`...), empty when none was given.
        code: String,
        message: String,
    },
    /// The request never got an answer after retries.
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    /// The answer was not the JSON the API documents.
    #[error("{url}: unexpected response: {detail}")]
    Shape { url: String, detail: String },
    /// A token could not be obtained.
    #[error("token for {scope}: {detail}")]
    Token { scope: String, detail: String },
    /// Writing what was fetched failed.
    #[error("writing {path}: {detail}")]
    Output { path: String, detail: String },
    /// The run was cancelled before this request was sent (`CollectConfig::cancel`).
    #[error("{url}: not requested, the collection was cancelled")]
    Cancelled { url: String },
}

impl CallError {
    /// The service's error code, when it gave one.
    pub fn code(&self) -> &str {
        match self {
            CallError::Status { code, .. } => code,
            _ => "",
        }
    }
}
