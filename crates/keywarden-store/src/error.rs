//! What can go wrong in the store, with the evidence to act on it.

use std::path::PathBuf;

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot create data directory {path}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot set owner-only permissions on {path}")]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "database file {path} is empty (0 bytes): refusing to replace it with an empty store; restore it from a backup, or remove it to start a new store"
    )]
    EmptyDatabase { path: PathBuf },
    #[error(
        "database file {path} is not a keywarden store ({reason}): refusing to open or change it"
    )]
    Foreign { path: PathBuf, reason: String },
    #[error("no keywarden store at {path}")]
    Missing { path: PathBuf },
    #[error(
        "Idempotency-Key {key:?} was already used by this credential with a different body (stored batch {batch_id}); use a new key for new data"
    )]
    IdempotencyKeyReused { key: String, batch_id: i64 },
    #[error("backup to {path} failed")]
    Backup {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("backup target {path} cannot be created")]
    BackupTarget {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database schema version {found} is newer than this build understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("migration to schema version {version} failed")]
    Migration {
        version: i64,
        source: rusqlite::Error,
    },
    #[error("{operation} failed")]
    Sql {
        operation: &'static str,
        source: rusqlite::Error,
    },
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: &'static str, reason: String },
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),
    #[error("no such {what}: {id}")]
    NotFound { what: &'static str, id: String },
}

/// Attaches the operation name to a rusqlite error.
pub(crate) trait SqlContext<T> {
    fn op(self, operation: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn op(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql { operation, source })
    }
}
