//! [`Store`]: opening the database (WAL, `synchronous=FULL`, migrations) and the ingest side's
//! reads and upkeep: replaying events, statistics, retention, baselines and source offsets.
//! Committing batches is in [`crate::commit`]; the alert and incident side in [`crate::alerts`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{SqlContext, StoreError};
use crate::rows::EventRow;
use crate::schema::migrate;

/// The database file name under the data directory.
pub const DB_FILE: &str = "keywarden.db";

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (created if missing); the database is `DATA_DIR/keywarden.db`.
    pub data_dir: PathBuf,
    /// `synchronous=FULL` (every commit fsynced before it returns). Turn off only for tests
    /// that measure something else; acknowledged ingest depends on it.
    pub synchronous_full: bool,
    /// How long a connection waits for a lock held by another one.
    pub busy_timeout: Duration,
    /// Page cache of each connection, in KiB (default 64 MiB; `serve` sizes it from its
    /// memory budget). A large transaction spills to the WAL past it.
    pub cache_kib: u32,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            synchronous_full: true,
            busy_timeout: Duration::from_secs(10),
            cache_kib: 65_536,
        }
    }

    /// Opens (creating and migrating as needed) the writer connection.
    ///
    /// A missing data directory is created `0700`; a missing database is created `0600` and
    /// migrated under a temporary name, then renamed into place, so `keywarden.db` only ever
    /// appears as a complete store. An existing database file must be a keywarden store: a
    /// zero-length file ([`StoreError::EmptyDatabase`]) or another application's database or
    /// any other file ([`StoreError::Foreign`]) is refused, never replaced or changed. The
    /// database and its `-wal`/`-shm` are set to `0600` after opening.
    pub fn build(&self) -> Result<Store, StoreError> {
        let created = crate::private::create_private_dir(&self.data_dir)?;
        let path = self.db_path();
        if !self.inspect(&path)? {
            self.create_fresh(&path)?;
        }
        let mut conn = self.connect(true)?;
        migrate(&mut conn)?;
        for p in [path.clone(), sidecar(&path, "-wal"), sidecar(&path, "-shm")] {
            crate::private::tighten_file(&p)?;
        }
        let mut warnings = Vec::new();
        if !created && let Ok(Some(how)) = crate::private::exposure(&self.data_dir) {
            warnings.push(format!(
                "data directory {} is {how}: it holds raw mail audit records; `chmod 700` it",
                self.data_dir.display()
            ));
        }
        Ok(Store {
            conn,
            path,
            warnings,
        })
    }

    /// Opens an existing store without creating or migrating anything (`keywarden store
    /// backup`): refused if there is no database ([`StoreError::Missing`]) or it is not a
    /// keywarden store.
    pub fn open_existing(&self) -> Result<Store, StoreError> {
        let path = self.db_path();
        if !self.inspect(&path)? {
            return Err(StoreError::Missing { path });
        }
        Ok(Store {
            conn: self.connect(true)?,
            path,
            warnings: Vec::new(),
        })
    }

    /// Opens another connection to an existing store (for readers running beside the writer).
    pub fn reader(&self) -> Result<Store, StoreError> {
        let conn = self.connect(false)?;
        Ok(Store {
            conn,
            path: self.db_path(),
            warnings: Vec::new(),
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// Whether the database file exists; refuses an empty one.
    fn inspect(&self, path: &Path) -> Result<bool, StoreError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && m.len() == 0 => Err(StoreError::EmptyDatabase {
                path: path.to_path_buf(),
            }),
            Ok(m) if !m.is_file() => Err(StoreError::Foreign {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            }),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::DataDir {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Creates a migrated store at `path`: built as `path.init` (rollback journal, so the file
    /// alone holds it once closed), then renamed into place.
    fn create_fresh(&self, path: &Path) -> Result<(), StoreError> {
        let init = sidecar(path, ".init");
        for p in [
            init.clone(),
            sidecar(&init, "-journal"),
            sidecar(&init, "-wal"),
            sidecar(&init, "-shm"),
        ] {
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::DataDir { path: p, source: e });
                }
                _ => {}
            }
        }
        crate::private::create_private_file(&init).map_err(|source| StoreError::DataDir {
            path: init.clone(),
            source,
        })?;
        let mut conn = Connection::open(&init).map_err(|source| StoreError::Open {
            path: init.clone(),
            source,
        })?;
        migrate(&mut conn)?;
        conn.close().map_err(|(_, source)| StoreError::Open {
            path: init.clone(),
            source,
        })?;
        std::fs::rename(&init, path).map_err(|source| StoreError::DataDir {
            path: path.to_path_buf(),
            source,
        })?;
        // The rename is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&self.data_dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// A connection with the store's pragmas; with `check`, the file is first identified as a
    /// keywarden store (before any pragma could write to it).
    fn connect(&self, check: bool) -> Result<Connection, StoreError> {
        let path = self.db_path();
        let wrap = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(wrap)?;
        conn.busy_timeout(self.busy_timeout).map_err(wrap)?;
        if check && let Err(reason) = crate::schema::identify(&conn).map_err(wrap)? {
            return Err(StoreError::Foreign {
                path: path.clone(),
                reason,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        let sync = if self.synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        // A larger page cache and fewer, larger checkpoints: ingest is write-heavy.
        conn.pragma_update(None, "cache_size", -i64::from(self.cache_kib.max(1)))
            .map_err(wrap)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)
            .map_err(wrap)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(wrap)?;
        Ok(conn)
    }
}

/// `path` with `suffix` appended to its file name (`keywarden.db-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// One connection to the store.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// What [`StoreConfig::build`] found worth telling the operator (a data directory open to
    /// other users).
    warnings: Vec<String>,
}

/// Totals for `/api/v1/stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub events: u64,
    pub alerts: u64,
    pub rejected: u64,
    pub batches: u64,
    pub incidents: u64,
    pub open_alerts: u64,
    pub dead_letters: u64,
    /// Alerts per severity name.
    pub alerts_by_severity: std::collections::BTreeMap<String, u64>,
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Warnings from opening the store, for the operator (stderr).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Events with a store id above `after_id`, oldest first, at most `limit`: what a restarted
    /// detector replays after its last saved state.
    pub fn events_after(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(i64, EventRow)>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT id, source_kind, format, role, record_ref, time, tenant, user, client_ip,
                 app_id, client_app_id, session_id, token_id, token_tenant, mailbox, operation,
                 mail_access, logon_type, user_agent, signing_key_id, raw, category, token_issued_at
                 FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .op("prepare replay")?;
        let rows = q
            .query_map(params![after_id, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    EventRow {
                        source_kind: r.get(1)?,
                        format: r.get(2)?,
                        role: r.get(3)?,
                        record_ref: r.get(4)?,
                        time: r.get(5)?,
                        tenant: r.get(6)?,
                        user: r.get(7)?,
                        client_ip: r.get(8)?,
                        app_id: r.get(9)?,
                        client_app_id: r.get(10)?,
                        session_id: r.get(11)?,
                        token_id: r.get(12)?,
                        token_tenant: r.get(13)?,
                        mailbox: r.get(14)?,
                        operation: r.get(15)?,
                        mail_access: r.get(16)?,
                        logon_type: r.get(17)?,
                        user_agent: r.get(18)?,
                        signing_key_id: r.get(19)?,
                        raw: r.get(20)?,
                        category: r.get(21)?,
                        token_issued_at: r.get(22)?,
                    },
                ))
            })
            .op("replay events")?;
        rows.collect::<Result<Vec<_>, _>>().op("replay events")
    }

    /// How many stored events carry this record reference (duplicate checks in tests).
    pub fn count_record_ref(&self, record_ref: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM events WHERE record_ref = ?1",
                [record_ref],
                |r| r.get::<_, i64>(0),
            )
            .op("count record")
            .map(|n| n.max(0) as u64)
    }

    /// Totals.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .op("stats")
                .map(|n| n.max(0) as u64)
        };
        let mut s = Stats {
            events: count("SELECT count(*) FROM events")?,
            alerts: count("SELECT count(*) FROM alerts")?,
            rejected: count("SELECT count(*) FROM rejections")?,
            batches: count("SELECT count(*) FROM batches")?,
            incidents: count("SELECT count(*) FROM incidents")?,
            open_alerts: count("SELECT count(*) FROM alerts WHERE status = 'open'")?,
            dead_letters: count("SELECT count(*) FROM dead_letters")?,
            alerts_by_severity: Default::default(),
        };
        let mut q = self
            .conn
            .prepare_cached("SELECT severity, count(*) FROM alerts GROUP BY severity")
            .op("stats")?;
        let rows = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .op("stats")?;
        for row in rows {
            let (sev, n) = row.op("stats")?;
            s.alerts_by_severity.insert(sev, n.max(0) as u64);
        }
        Ok(s)
    }

    /// Retention: deletes events and rejections received before `cutoff` (UTC micros).
    /// Batches (and with them the idempotency keys), alerts, incidents and the audit trail are
    /// kept. Returns the number of events and rejections deleted.
    ///
    /// Events carry their batch's arrival time and have no index on it: every event received
    /// before `cutoff` has an id at most the last event of the newest such batch, so the delete
    /// walks the primary key up to that id (already purged ids are simply absent).
    pub fn purge_before(&mut self, cutoff: i64) -> Result<(u64, u64), StoreError> {
        let tx = self.conn.transaction().op("begin purge")?;
        let upto: Option<i64> = tx
            .query_row(
                "SELECT max(last_event) FROM batches WHERE received_at < ?1",
                [cutoff],
                |r| r.get(0),
            )
            .op("purge events")?;
        let events = match upto {
            Some(upto) => tx
                .execute(
                    "DELETE FROM events WHERE id <= ?1 AND received_at < ?2",
                    [upto, cutoff],
                )
                .op("purge events")?,
            None => 0,
        };
        let rejections = tx
            .execute("DELETE FROM rejections WHERE received_at < ?1", [cutoff])
            .op("purge rejections")?;
        tx.commit().op("commit purge")?;
        Ok((events as u64, rejections as u64))
    }

    /// Copies committed WAL frames into the database file without blocking the writer or the
    /// readers (`PRAGMA wal_checkpoint(PASSIVE)`), from this connection. Run beside the writer,
    /// it takes the bulk of checkpointing off the writer's thread: the writer's own automatic
    /// checkpoint then finds the frames already copied. Returns the frames in the WAL and the
    /// frames copied so far.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
            .op("checkpoint")
    }

    /// A saved baseline or detector state.
    pub fn baseline(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM baselines WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .op("read baseline")
    }

    pub fn put_baseline(&mut self, key: &str, value: &str, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO baselines (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value, now],
            )
            .op("write baseline")
            .map(|_| ())
    }

    /// Where a source read up to in a file: (file id, offset).
    pub fn offset(&self, source: &str, path: &str) -> Result<Option<(String, u64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT file_id, byte_offset FROM source_offsets WHERE source = ?1 AND path = ?2",
                [source, path],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)),
            )
            .optional()
            .op("read offset")
    }

    /// Records a webhook delivery that failed for good.
    pub fn dead_letter(
        &mut self,
        now: i64,
        target: &str,
        alert_id: &str,
        attempts: u32,
        last_error: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO dead_letters (at, target, alert_id, attempts, last_error, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![now, target, alert_id, attempts, last_error, body],
            )
            .op("write dead letter")
            .map(|_| ())
    }
}
