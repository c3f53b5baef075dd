//! Getting the store into one file: the checkpoint `serve` runs when it stops, and online
//! backups.
//!
//! In WAL mode a committed batch may live only in `keywarden.db-wal` until a checkpoint copies
//! it into `keywarden.db`: a copy of the database file alone can miss acknowledged data.
//! [`Store::checkpoint_truncate`] copies every frame and empties the WAL (run by the writer as
//! it stops). [`Store::backup_into`] writes a consistent, self-contained copy while the server
//! runs (`VACUUM INTO`: one read transaction, so exactly the batches committed when it began),
//! to a new `0600` file, then checks the copy ([`BackupReport`]).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::{SqlContext, StoreError};
use crate::store::Store;

/// What a backup wrote, read back from the copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The copy's size in bytes.
    pub bytes: u64,
    /// Its schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    pub batches: u64,
    pub events: u64,
    pub rejected: u64,
    pub alerts: u64,
}

/// The outcome of [`Store::checkpoint_truncate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointed {
    /// False when another connection was reading and some frames could not be copied (they
    /// stay in the WAL, safe, for the next checkpoint).
    pub complete: bool,
    /// Frames in the WAL before the checkpoint.
    pub frames: i64,
}

impl Store {
    /// Copies every committed WAL frame into the database file and truncates the WAL to zero
    /// bytes (`PRAGMA wal_checkpoint(TRUNCATE)`), waiting for readers up to the busy timeout.
    pub fn checkpoint_truncate(&self) -> Result<Checkpointed, StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok(Checkpointed {
                    complete: r.get::<_, i64>(0)? == 0,
                    frames: r.get::<_, i64>(1)?,
                })
            })
            .op("checkpoint")
    }

    /// Writes a consistent copy of the store to `out`, which must not exist (it is created
    /// `0600`; an existing file is never overwritten). Safe beside a running server. On
    /// failure the partial copy is removed.
    pub fn backup_into(&self, out: &Path) -> Result<BackupReport, StoreError> {
        crate::private::create_private_file(out).map_err(|source| StoreError::BackupTarget {
            path: out.to_path_buf(),
            source,
        })?;
        let result = self.vacuum_into(out).and_then(|()| read_backup(out));
        if result.is_err() {
            let _ = std::fs::remove_file(out);
        }
        result
    }

    fn vacuum_into(&self, out: &Path) -> Result<(), StoreError> {
        let target = out.to_string_lossy().into_owned();
        if target.as_bytes() != out.as_os_str().as_encoded_bytes() {
            return Err(StoreError::BackupTarget {
                path: out.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the backup path must be valid UTF-8",
                ),
            });
        }
        self.conn
            .execute("VACUUM INTO ?1", [&target])
            .map(|_| ())
            .map_err(|source| StoreError::Backup {
                path: out.to_path_buf(),
                source,
            })
    }
}

/// Opens a finished copy read-only, checks it (`PRAGMA quick_check`, the keywarden schema)
/// and counts what it holds.
fn read_backup(out: &Path) -> Result<BackupReport, StoreError> {
    let wrap = |source| StoreError::Backup {
        path: out.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(wrap)?;
    if let Err(reason) = crate::schema::identify(&conn).map_err(wrap)? {
        return Err(StoreError::Foreign {
            path: out.to_path_buf(),
            reason,
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(wrap)?;
    if check != "ok" {
        return Err(StoreError::Corrupt {
            what: "backup",
            reason: check,
        });
    }
    let count = |sql: &str| -> Result<u64, StoreError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(wrap)
    };
    Ok(BackupReport {
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
        schema_version: conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(wrap)?,
        batches: count("SELECT count(*) FROM batches")?,
        events: count("SELECT count(*) FROM events")?,
        rejected: count("SELECT count(*) FROM rejections")?,
        alerts: count("SELECT count(*) FROM alerts")?,
    })
}
