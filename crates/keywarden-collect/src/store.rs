//! The collection state beside the output: `DIR/.keywarden-collect/state.sqlite` (WAL, FULL
//! sync) holds, per tenant, the windows covered per (source, stream) with their paging cursor,
//! the Management API blobs already fetched, every record id already written (the dedupe
//! index, on disk so memory does not grow with the tenant), the files written and the counters.
//!
//! **Exactly once, also after `kill -9`.** A unit (one blob, one page, one query result) is
//! written to a temporary file under `.keywarden-collect/tmp/`, synced, and then one SQLite
//! transaction records its ids, its cursor step and the file's planned final name. Only then
//! is the file renamed into place. On the next open, committed renames whose temporary file
//! still exists are completed and uncommitted temporary files are deleted, so a record is in
//! `DIR` exactly when its id is in the index. `DIR/.keywarden-collect/lock` (an OS file lock,
//! released when the process dies) keeps two runs apart.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keywarden_model::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::config::SourceKind;
use crate::error::{CallError, CollectError, io_error};

/// The hidden folder of the collection state inside `DIR`.
pub const STATE_DIR: &str = keywarden_ingest::load::COLLECT_STATE_DIR;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS windows(
  tenant TEXT NOT NULL, source TEXT NOT NULL, stream TEXT NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, complete INTEGER NOT NULL,
  next_link TEXT, page INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(tenant, source, stream, start)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs(
  tenant TEXT NOT NULL, stream TEXT NOT NULL, content_id TEXT NOT NULL,
  PRIMARY KEY(tenant, stream, content_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen(
  tenant TEXT NOT NULL, family TEXT NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY(tenant, family, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files(
  seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, source TEXT NOT NULL, stream TEXT NOT NULL,
  path TEXT NOT NULL, tmp TEXT NOT NULL, records INTEGER NOT NULL, done INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters(
  tenant TEXT NOT NULL, source TEXT NOT NULL, stream TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0, throttled INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(tenant, source, stream)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
";

/// How a unit's records are laid out in its file (each a shape `hunt` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A JSON array, as the Management API serves a blob (`ual-json`).
    JsonArray,
    /// A Graph collection page `{"value": [...]}` (`signin-graph`, `entra-audit`).
    GraphPage,
    /// One JSON object per line (Log Analytics rows, Purview `auditData`).
    JsonLines,
}

impl FileKind {
    fn ext(self) -> &'static str {
        match self {
            FileKind::JsonArray | FileKind::GraphPage => "json",
            FileKind::JsonLines => "jsonl",
        }
    }
}

/// A window row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRow {
    pub start: Timestamp,
    pub end: Timestamp,
    pub complete: bool,
    pub next_link: Option<String>,
    pub page: u32,
}

/// Cumulative counters of one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub records: u64,
    pub duplicates: u64,
}

/// What a unit commit moves forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// A Management API blob was fetched completely.
    BlobDone { content_id: String },
    /// A page of a window was written; `next_link` `None` completes the window.
    Page {
        window_start: Timestamp,
        next_link: Option<String>,
        page: u32,
    },
    /// A whole window was written in one answer (Log Analytics).
    WindowDone { window_start: Timestamp },
}

/// A file a unit wrote (relative path under `DIR`, `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub seq: i64,
    pub path: String,
    pub records: u64,
}

/// The state's generation (see [`Store::generation`]), created with the state.
fn generation(conn: &Connection) -> Result<String, rusqlite::Error> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(
                "the system random generator failed (state generation id)",
            )))
        })?;
    let fresh: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', ?1)",
        [fresh],
    )?;
    conn.query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
        r.get(0)
    })
}

/// The state of one output directory.
pub struct Store {
    conn: Mutex<Connection>,
    out: PathBuf,
    tmp_dir: PathBuf,
    db_path: String,
    tenant: String,
    generation: String,
    families: Mutex<()>,
    next_tmp: AtomicU64,
    _lock: File,
}

fn db(path: &str) -> impl Fn(rusqlite::Error) -> CollectError + '_ {
    move |source| CollectError::State {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// Opens (creating) the state of `out` for `tenant`, takes the directory lock and
    /// recovers from an interrupted run.
    pub fn open(out: &Path, tenant: &str) -> Result<Store, CollectError> {
        let state = out.join(STATE_DIR);
        let tmp_dir = state.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|e| io_error(&tmp_dir, e))?;
        let lock_path = state.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CollectError::Locked {
                    path: lock_path.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&lock_path, e)),
        }
        let db_path = state.join("state.sqlite").display().to_string();
        let conn = Connection::open(&db_path).map_err(db(&db_path))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;",
        )
        .map_err(db(&db_path))?;
        conn.execute_batch(SCHEMA).map_err(db(&db_path))?;
        let generation = generation(&conn).map_err(db(&db_path))?;
        let store = Store {
            conn: Mutex::new(conn),
            out: out.to_owned(),
            tmp_dir,
            db_path,
            tenant: tenant.to_owned(),
            generation,
            families: Mutex::new(()),
            next_tmp: AtomicU64::new(0),
            _lock: lock,
        };
        store.recover()?;
        Ok(store)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    /// A random id given to this state when it was created. File sequence numbers count from
    /// 1 in each generation: a reader that keeps a position in them (`serve`'s collect cursor)
    /// keeps the generation beside it and starts again when it changes.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// The files written for a stream after sequence number `after`, in order.
    pub fn files_after(
        &self,
        source: SourceKind,
        stream: &str,
        after: i64,
    ) -> Result<Vec<WrittenFile>, CollectError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT seq, path, records FROM files WHERE tenant = ?1 AND source = ?2
                 AND stream = ?3 AND done = 1 AND seq > ?4 ORDER BY seq",
            )
            .map_err(db(&self.db_path))?;
        st.query_map(params![self.tenant, source.as_str(), stream, after], |r| {
            Ok(WrittenFile {
                seq: r.get(0)?,
                path: r.get(1)?,
                records: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .and_then(Iterator::collect)
        .map_err(db(&self.db_path))
    }

    /// Completes committed renames; deletes temporary files no commit refers to.
    fn recover(&self) -> Result<(), CollectError> {
        let conn = self.conn();
        let pending: Vec<(i64, String, String)> = {
            let mut st = conn
                .prepare("SELECT seq, path, tmp FROM files WHERE done = 0")
                .map_err(db(&self.db_path))?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(Iterator::collect)
                .map_err(db(&self.db_path))?
        };
        for (seq, path, tmp) in pending {
            let final_path = self.out.join(&path);
            let tmp_path = self.tmp_dir.join(&tmp);
            if tmp_path.exists() {
                finish_rename(&tmp_path, &final_path)?;
            } else if !final_path.exists() {
                return Err(io_error(
                    &final_path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "a committed file and its temporary copy are both missing",
                    ),
                ));
            }
            conn.execute("UPDATE files SET done = 1 WHERE seq = ?1", [seq])
                .map_err(db(&self.db_path))?;
        }
        let entries = std::fs::read_dir(&self.tmp_dir).map_err(|e| io_error(&self.tmp_dir, e))?;
        for e in entries.flatten() {
            let p = e.path();
            std::fs::remove_file(&p).map_err(|err| io_error(&p, err))?;
        }
        Ok(())
    }

    /// The windows recorded for a stream, by start.
    pub fn windows(
        &self,
        source: SourceKind,
        stream: &str,
    ) -> Result<Vec<WindowRow>, CollectError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT start, end, complete, next_link, page FROM windows
                 WHERE tenant = ?1 AND source = ?2 AND stream = ?3 ORDER BY start",
            )
            .map_err(db(&self.db_path))?;
        st.query_map(params![self.tenant, source.as_str(), stream], |r| {
            Ok(WindowRow {
                start: Timestamp(r.get(0)?),
                end: Timestamp(r.get(1)?),
                complete: r.get::<_, i64>(2)? != 0,
                next_link: r.get(3)?,
                page: r.get(4)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(db(&self.db_path))
    }

    /// Records a new window (incomplete), or leaves an existing one as it is.
    pub fn add_window(
        &self,
        source: SourceKind,
        stream: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<(), CollectError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO windows(tenant, source, stream, start, end, complete)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                params![self.tenant, source.as_str(), stream, start.0, end.0],
            )
            .map(|_| ())
            .map_err(db(&self.db_path))
    }

    /// Replaces an incomplete window by its two halves (a truncated or refused window).
    pub fn split_window(
        &self,
        source: SourceKind,
        stream: &str,
        start: Timestamp,
        mid: Timestamp,
        end: Timestamp,
    ) -> Result<(), CollectError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db(&self.db_path))?;
        tx.execute(
            "DELETE FROM windows WHERE tenant = ?1 AND source = ?2 AND stream = ?3 AND start = ?4",
            params![self.tenant, source.as_str(), stream, start.0],
        )
        .map_err(db(&self.db_path))?;
        for (s, e) in [(start, mid), (mid, end)] {
            tx.execute(
                "INSERT INTO windows(tenant, source, stream, start, end, complete)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                params![self.tenant, source.as_str(), stream, s.0, e.0],
            )
            .map_err(db(&self.db_path))?;
        }
        tx.commit().map_err(db(&self.db_path))
    }

    /// Marks a window complete (or re-opens it for re-listing).
    pub fn set_window_complete(
        &self,
        source: SourceKind,
        stream: &str,
        start: Timestamp,
        complete: bool,
    ) -> Result<(), CollectError> {
        mark_window(
            &self.conn(),
            &self.tenant,
            source.as_str(),
            stream,
            start,
            complete,
        )
        .map_err(db(&self.db_path))
    }

    /// Whether a Management API blob was already fetched completely.
    pub fn blob_done(&self, stream: &str, content_id: &str) -> Result<bool, CollectError> {
        self.conn()
            .prepare_cached(
                "SELECT 1 FROM blobs WHERE tenant = ?1 AND stream = ?2 AND content_id = ?3",
            )
            .and_then(|mut st| {
                st.query_row(params![self.tenant, stream, content_id], |_| Ok(()))
                    .optional()
            })
            .map(|r| r.is_some())
            .map_err(db(&self.db_path))
    }

    /// Adds this run's request counters to a stream's.
    pub fn add_requests(
        &self,
        source: SourceKind,
        stream: &str,
        (requests, throttled, retries): (u64, u64, u64),
    ) -> Result<(), CollectError> {
        self.conn()
            .execute(
                "INSERT INTO counters(tenant, source, stream, requests, throttled, retries)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(tenant, source, stream) DO UPDATE SET
                   requests = requests + ?4, throttled = throttled + ?5, retries = retries + ?6",
                params![
                    self.tenant,
                    source.as_str(),
                    stream,
                    requests as i64,
                    throttled as i64,
                    retries as i64
                ],
            )
            .map(|_| ())
            .map_err(db(&self.db_path))
    }

    /// A stream's cumulative counters.
    pub fn counters(
        &self,
        source: SourceKind,
        stream: &str,
    ) -> Result<StreamCounters, CollectError> {
        self.conn()
            .query_row(
                "SELECT requests, throttled, retries, records, duplicates FROM counters
                 WHERE tenant = ?1 AND source = ?2 AND stream = ?3",
                params![self.tenant, source.as_str(), stream],
                |r| {
                    Ok(StreamCounters {
                        requests: r.get::<_, i64>(0)? as u64,
                        throttled: r.get::<_, i64>(1)? as u64,
                        retries: r.get::<_, i64>(2)? as u64,
                        records: r.get::<_, i64>(3)? as u64,
                        duplicates: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(db(&self.db_path))
    }

    /// The files written for a stream (relative to `DIR`, `/`-separated), in order.
    pub fn files(&self, source: SourceKind, stream: &str) -> Result<Vec<String>, CollectError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT path FROM files WHERE tenant = ?1 AND source = ?2 AND stream = ?3
                 AND done = 1 ORDER BY seq",
            )
            .map_err(db(&self.db_path))?;
        st.query_map(params![self.tenant, source.as_str(), stream], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(db(&self.db_path))
    }

    /// Starts a unit: records are deduplicated against the index as they are added. Units of
    /// the same run take turns (the index check and the commit must not interleave), so fetch
    /// a unit's bytes before starting it.
    pub fn begin_unit(
        &self,
        source: SourceKind,
        stream: &str,
        kind: FileKind,
    ) -> Result<Unit<'_>, CallError> {
        let guard = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp_name = format!("unit-{}-{n}.part", std::process::id());
        let tmp_path = self.tmp_dir.join(&tmp_name);
        let file = File::create(&tmp_path).map_err(|e| output_error(&tmp_path, &e))?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        let opening: &[u8] = match kind {
            FileKind::JsonArray => b"[",
            FileKind::GraphPage => b"{\"value\":[",
            FileKind::JsonLines => b"",
        };
        w.write_all(opening)
            .map_err(|e| output_error(&tmp_path, &e))?;
        Ok(Unit {
            store: self,
            _turn: guard,
            source,
            stream: stream.to_owned(),
            kind,
            tmp_name,
            tmp_path,
            out: w,
            ids: Vec::new(),
            local: HashSet::new(),
            records: 0,
            duplicates: 0,
        })
    }

    fn seen(&self, family: &str, id: &str) -> Result<bool, rusqlite::Error> {
        self.conn()
            .prepare_cached("SELECT 1 FROM seen WHERE tenant = ?1 AND family = ?2 AND id = ?3")?
            .query_row(params![self.tenant, family, id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }
}

/// One unit being written.
pub struct Unit<'s> {
    store: &'s Store,
    _turn: MutexGuard<'s, ()>,
    source: SourceKind,
    stream: String,
    kind: FileKind,
    tmp_name: String,
    tmp_path: PathBuf,
    out: BufWriter<File>,
    ids: Vec<String>,
    local: HashSet<String>,
    records: u64,
    duplicates: u64,
}

/// What a committed unit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitOutcome {
    pub records: u64,
    pub duplicates: u64,
    pub file: Option<String>,
}

impl Unit<'_> {
    /// Adds a record unless its id was written before (in this unit, or committed by any
    /// run). `id` `None`: the record's identity is the SHA-256 of its JSON text.
    pub fn record(&mut self, value: &Value, id: Option<&str>) -> Result<(), String> {
        let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
        let id = match id {
            Some(i) if !i.is_empty() => i.to_owned(),
            _ => format!(
                "sha256:{}",
                URL_SAFE_NO_PAD.encode(digest(&SHA256, text.as_bytes()).as_ref())
            ),
        };
        let family = self.source.dedupe_family();
        if self.local.contains(&id)
            || self
                .store
                .seen(family, &id)
                .map_err(|e| format!("dedupe index: {e}"))?
        {
            self.duplicates += 1;
            return Ok(());
        }
        let sep: &[u8] = match (self.kind, self.records) {
            (FileKind::JsonLines, _) | (_, 0) => b"",
            _ => b",",
        };
        let io = |e: std::io::Error| format!("{}: {e}", self.tmp_path.display());
        self.out.write_all(sep).map_err(io)?;
        self.out.write_all(text.as_bytes()).map_err(io)?;
        if self.kind == FileKind::JsonLines {
            self.out.write_all(b"\n").map_err(io)?;
        }
        self.records += 1;
        self.local.insert(id.clone());
        self.ids.push(id);
        Ok(())
    }

    /// Makes the unit durable: file synced, then ids + cursor + planned file name in one
    /// transaction, then the rename. `label` names the file (`window start`, `content id`).
    pub fn commit(mut self, label: &str, cursor: &Cursor) -> Result<UnitOutcome, CallError> {
        let store = self.store;
        let closing: &[u8] = match self.kind {
            FileKind::JsonArray => b"]\n",
            FileKind::GraphPage => b"]}\n",
            FileKind::JsonLines => b"",
        };
        let tmp_path = self.tmp_path.clone();
        let oe = |e: std::io::Error| output_error(&tmp_path, &e);
        self.out.write_all(closing).map_err(oe)?;
        let file = self.out.into_inner().map_err(|e| oe(e.into_error()))?;
        file.sync_all().map_err(oe)?;
        drop(file);
        let source = self.source.as_str();
        let family = self.source.dedupe_family();
        let dbe = |e: rusqlite::Error| CallError::Output {
            path: store.db_path.clone(),
            detail: e.to_string(),
        };
        let mut conn = store.conn();
        let tx = conn.transaction().map_err(dbe)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO seen(tenant, family, id) VALUES (?1, ?2, ?3)",
                )
                .map_err(dbe)?;
            for id in &self.ids {
                ins.execute(params![store.tenant, family, id])
                    .map_err(dbe)?;
            }
        }
        let mut rel = None;
        if self.records > 0 {
            tx.execute(
                "INSERT INTO files(tenant, source, stream, path, tmp, records, done)
                 VALUES (?1, ?2, ?3, '', ?4, ?5, 0)",
                params![
                    store.tenant,
                    source,
                    self.stream,
                    self.tmp_name,
                    self.records as i64
                ],
            )
            .map_err(dbe)?;
            let seq = tx.last_insert_rowid();
            let path = format!(
                "{source}/{}/{seq:07}-{}.{}",
                file_safe(&self.stream),
                file_safe(label),
                self.kind.ext()
            );
            tx.execute(
                "UPDATE files SET path = ?1 WHERE seq = ?2",
                params![path, seq],
            )
            .map_err(dbe)?;
            rel = Some((seq, path));
        }
        match cursor {
            Cursor::BlobDone { content_id } => {
                tx.execute(
                    "INSERT OR IGNORE INTO blobs(tenant, stream, content_id) VALUES (?1, ?2, ?3)",
                    params![store.tenant, self.stream, content_id],
                )
                .map_err(dbe)?;
            }
            Cursor::Page {
                window_start,
                next_link,
                page,
            } => {
                tx.execute(
                    "UPDATE windows SET next_link = ?5, page = ?6, complete = ?7
                     WHERE tenant = ?1 AND source = ?2 AND stream = ?3 AND start = ?4",
                    params![
                        store.tenant,
                        source,
                        self.stream,
                        window_start.0,
                        next_link,
                        page,
                        next_link.is_none()
                    ],
                )
                .map_err(dbe)?;
            }
            Cursor::WindowDone { window_start } => {
                mark_window(
                    &tx,
                    &store.tenant,
                    source,
                    &self.stream,
                    *window_start,
                    true,
                )
                .map_err(dbe)?;
            }
        }
        tx.execute(
            "INSERT INTO counters(tenant, source, stream, records, duplicates)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(tenant, source, stream) DO UPDATE SET
               records = records + ?4, duplicates = duplicates + ?5",
            params![
                store.tenant,
                source,
                self.stream,
                self.records as i64,
                self.duplicates as i64
            ],
        )
        .map_err(dbe)?;
        tx.commit().map_err(dbe)?;
        let file = match rel {
            Some((seq, path)) => {
                let final_path = store.out.join(&path);
                finish_rename(&self.tmp_path, &final_path).map_err(|e| CallError::Output {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
                conn.execute("UPDATE files SET done = 1 WHERE seq = ?1", [seq])
                    .map_err(dbe)?;
                Some(path)
            }
            None => {
                let _ = std::fs::remove_file(&self.tmp_path);
                None
            }
        };
        Ok(UnitOutcome {
            records: self.records,
            duplicates: self.duplicates,
            file,
        })
    }
}

/// Sets a window's completeness and forgets its paging link (inside the caller's transaction
/// when it holds one).
fn mark_window(
    conn: &Connection,
    tenant: &str,
    source: &str,
    stream: &str,
    start: Timestamp,
    complete: bool,
) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "UPDATE windows SET complete = ?5, next_link = NULL
         WHERE tenant = ?1 AND source = ?2 AND stream = ?3 AND start = ?4",
    )?
    .execute(params![tenant, source, stream, start.0, complete])
    .map(|_| ())
}

fn output_error(path: &Path, e: &std::io::Error) -> CallError {
    CallError::Output {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Moves a synced temporary file to its final place and syncs the directory.
fn finish_rename(tmp: &Path, final_path: &Path) -> Result<(), CollectError> {
    if let Some(parent) = final_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    std::fs::rename(tmp, final_path).map_err(|e| io_error(final_path, e))?;
    if let Some(parent) = final_path.parent()
        && let Ok(d) = File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A file-name-safe form of an API-given label (content ids hold `$`, times hold `:`).
pub(crate) fn file_safe(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_written_once_across_units_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let rec = |id: &str| serde_json::json!({"Id": id, "Operation": "MailItemsAccessed"});
        {
            let store = Store::open(dir.path(), "t1").unwrap();
            let mut u = store
                .begin_unit(SourceKind::O365, "Audit.Exchange", FileKind::JsonArray)
                .unwrap();
            for id in ["a", "b", "a"] {
                u.record(&rec(id), Some(id)).unwrap();
            }
            let done = u
                .commit(
                    "blob1",
                    &Cursor::BlobDone {
                        content_id: "blob1".into(),
                    },
                )
                .unwrap();
            assert_eq!((done.records, done.duplicates), (2, 1));
            let text = std::fs::read_to_string(dir.path().join(done.file.unwrap())).unwrap();
            let parsed: Vec<Value> = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed.len(), 2);
            assert!(store.blob_done("Audit.Exchange", "blob1").unwrap());
        }
        let store = Store::open(dir.path(), "t1").unwrap();
        // Purview shares the UAL dedupe family with the Management API.
        let mut u = store
            .begin_unit(SourceKind::Purview, "auditLogRecords", FileKind::JsonLines)
            .unwrap();
        u.record(&rec("b"), Some("b")).unwrap();
        u.record(&rec("c"), Some("c")).unwrap();
        let done = u
            .commit(
                "w",
                &Cursor::BlobDone {
                    content_id: "x".into(),
                },
            )
            .unwrap();
        assert_eq!((done.records, done.duplicates), (1, 1));
        let c = store.counters(SourceKind::O365, "Audit.Exchange").unwrap();
        assert_eq!((c.records, c.duplicates), (2, 1));
    }

    #[test]
    fn a_second_run_on_a_locked_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), "t1").unwrap();
        assert!(matches!(
            Store::open(dir.path(), "t1"),
            Err(CollectError::Locked { .. })
        ));
    }

    #[test]
    fn regression_uncommitted_temporary_files_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), "t1").unwrap();
            let mut u = store
                .begin_unit(
                    SourceKind::GraphSignins,
                    "interactiveUser",
                    FileKind::GraphPage,
                )
                .unwrap();
            u.record(&serde_json::json!({"id": "x"}), Some("x"))
                .unwrap();
            // Dropped without commit: as if killed before the transaction.
        }
        let store = Store::open(dir.path(), "t1").unwrap();
        let tmp = dir.path().join(STATE_DIR).join("tmp");
        assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
        let mut u = store
            .begin_unit(
                SourceKind::GraphSignins,
                "interactiveUser",
                FileKind::GraphPage,
            )
            .unwrap();
        u.record(&serde_json::json!({"id": "x"}), Some("x"))
            .unwrap();
        let done = u
            .commit(
                "w",
                &Cursor::Page {
                    window_start: Timestamp(0),
                    next_link: None,
                    page: 1,
                },
            )
            .unwrap();
        assert_eq!(done.records, 1, "the uncommitted id was not indexed");
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_safe("2015$a:b/../c"), "2015_a_b_.._c");
        assert_eq!(file_safe(".."), "_..");
        assert_eq!(file_safe(""), "_");
    }
}
