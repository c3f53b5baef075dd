//! The decision log: one JSON line per decision, written by one thread from a bounded queue in
//! batches: the writer wakes on the first line, writes and flushes what is queued, pauses 50 ms
//! and repeats until the queue is empty, so a line reaches the file within about 50 ms and,
//! under load, decisions do not each pay for waking the writer.
//!
//! Target `FILE` appends to that file; target `DIR` writes `DIR/decisions-YYYY-MM-DD.jsonl`,
//! one file per UTC day of the decision. A line never holds a token or its signature (only
//! what [`crate::identity::TokenFacts`] reads, capped and stripped of control characters) nor
//! a query string (where tokens sometimes travel).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use keywarden_model::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::error::GatewayError;
use crate::identity::TokenFacts;

/// Lines waiting for the writer; beyond it lines are dropped and counted.
const QUEUE: usize = 65_536;
/// The writer's pause after each batch: the longest a line waits to be written and flushed
/// (the contract is within a second).
const BATCH_PAUSE: Duration = Duration::from_millis(50);

/// One decision, as logged. Field order is the documented line layout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DecisionRecord {
    pub time: Timestamp,
    /// `http` (nginx, Traefik, Envoy HTTP service) or `grpc` (Envoy ext_authz gRPC).
    pub mode: &'static str,
    pub client: String,
    pub method: String,
    pub host: String,
    /// The original request's path without its query string.
    pub path: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub aud: Option<Value>,
    pub sub: Option<String>,
    pub oid: Option<String>,
    pub upn: Option<String>,
    pub appid: Option<String>,
    pub uti: Option<String>,
    /// `allow` or `deny`.
    pub decision: &'static str,
    pub status: u16,
    pub reason: &'static str,
    pub latency_us: u64,
}

/// The token facts of a line, `"kid":…,"alg":…,…,"uti":…` (the record's fields `kid` to `uti`,
/// as [`DecisionRecord`] serializes them), written per decision (the verdict cache does not
/// keep them: docs/GATEWAY.md, *Speed*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsJson(Vec<u8>);

impl FactsJson {
    pub fn of(f: &TokenFacts) -> Result<FactsJson, serde_json::Error> {
        let mut out = Vec::with_capacity(256);
        let fields: [(&str, &dyn Json); 10] = [
            ("kid", &f.kid),
            ("alg", &f.alg),
            ("iss", &f.iss),
            ("tid", &f.tid),
            ("aud", &f.aud),
            ("sub", &f.sub),
            ("oid", &f.oid),
            ("upn", &f.upn),
            ("appid", &f.appid),
            ("uti", &f.uti),
        ];
        for (i, (name, v)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            member(&mut out, name, v)?;
        }
        Ok(FactsJson(out))
    }

    /// The same, its buffer no larger than its bytes (as the verdict cache keeps it).
    pub fn shrunk(mut self) -> FactsJson {
        self.0.shrink_to_fit();
        self
    }
}

/// One decision's line, borrowing what a [`DecisionRecord`] owns: the same bytes `serde_json`
/// writes for the record (test `lines_are_the_records_json`), without building the record.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub time: Timestamp,
    pub mode: &'static str,
    pub client: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub facts: &'a FactsJson,
    pub decision: &'static str,
    pub status: u16,
    pub reason: &'static str,
    pub latency_us: u64,
}

impl Line<'_> {
    /// The JSON line, newline-terminated.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(192 + self.facts.0.len() + self.path.len());
        out.push(b'{');
        member(&mut out, "time", &self.time)?;
        for (name, v) in [
            ("mode", self.mode),
            ("client", self.client),
            ("method", self.method),
            ("host", self.host),
            ("path", self.path),
        ] {
            out.push(b',');
            member(&mut out, name, &v)?;
        }
        out.push(b',');
        out.extend_from_slice(&self.facts.0);
        out.push(b',');
        member(&mut out, "decision", &self.decision)?;
        out.push(b',');
        member(&mut out, "status", &self.status)?;
        out.push(b',');
        member(&mut out, "reason", &self.reason)?;
        out.push(b',');
        member(&mut out, "latency_us", &self.latency_us)?;
        out.extend_from_slice(b"}\n");
        Ok(out)
    }
}

impl DecisionRecord {
    /// The record's line: `serde_json` of the record, newline-terminated.
    pub fn to_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        let facts = FactsJson::of(&TokenFacts {
            kid: self.kid.clone(),
            alg: self.alg.clone(),
            iss: self.iss.clone(),
            tid: self.tid.clone(),
            aud: self.aud.clone(),
            sub: self.sub.clone(),
            oid: self.oid.clone(),
            appid: self.appid.clone(),
            uti: self.uti.clone(),
            upn: self.upn.clone(),
        })?;
        Line {
            time: self.time,
            mode: self.mode,
            client: &self.client,
            method: &self.method,
            host: &self.host,
            path: &self.path,
            facts: &facts,
            decision: self.decision,
            status: self.status,
            reason: self.reason,
            latency_us: self.latency_us,
        }
        .to_bytes()
    }
}

/// A value `serde_json` writes (compactly) into a line.
trait Json {
    fn write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

impl<T: Serialize> Json for T {
    fn write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self)
    }
}

/// `"name":value` (member names here are plain ASCII words: no escaping needed).
fn member(out: &mut Vec<u8>, name: &str, v: &dyn Json) -> Result<(), serde_json::Error> {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    v.write(out)
}

/// Where decisions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    File(PathBuf),
    Dir(PathBuf),
}

impl LogTarget {
    /// An existing directory (or a path ending in `/`) is a `DIR`; anything else a `FILE`.
    pub fn from_arg(path: &Path) -> LogTarget {
        if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') {
            LogTarget::Dir(path.to_path_buf())
        } else {
            LogTarget::File(path.to_path_buf())
        }
    }
}

/// Counters for the metrics endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub written: u64,
    pub dropped: u64,
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

/// The sending side; dropping it (or [`DecisionLog::close`]) flushes and stops the writer.
pub struct DecisionLog {
    tx: Option<SyncSender<(i64, Vec<u8>)>>,
    counters: Arc<Counters>,
    writer: Option<JoinHandle<()>>,
}

impl DecisionLog {
    /// Opens the target (creating the directory or file now, so that an unwritable target
    /// stops the gateway from starting) and starts the writer thread.
    pub fn open(target: LogTarget) -> Result<DecisionLog, GatewayError> {
        let err = |path: &Path, source| GatewayError::DecisionLog {
            path: path.display().to_string(),
            source,
        };
        match &target {
            LogTarget::Dir(d) => std::fs::create_dir_all(d).map_err(|e| err(d, e))?,
            LogTarget::File(f) => {
                append(f).map_err(|e| err(f, e))?;
            }
        }
        let (tx, rx) = sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let writer = std::thread::Builder::new()
            .name("kw-decision-log".into())
            .spawn(move || write_loop(&target, &rx, &c))
            .map_err(|e| err(Path::new("<writer thread>"), e))?;
        Ok(DecisionLog {
            tx: Some(tx),
            counters,
            writer: Some(writer),
        })
    }

    /// Queues one decision; never blocks (a full queue drops the line and counts it).
    pub fn log(&self, record: &DecisionRecord) {
        if self.tx.is_some() {
            self.queue(record.time, record.to_line());
        }
    }

    /// Queues one decision's line (as [`DecisionLog::log`]).
    pub fn log_line(&self, line: &Line<'_>) {
        if self.tx.is_some() {
            self.queue(line.time, line.to_bytes());
        }
    }

    fn queue(&self, time: Timestamp, line: Result<Vec<u8>, serde_json::Error>) {
        let Some(tx) = &self.tx else { return };
        let Ok(line) = line else {
            self.counters.errors.fetch_add(1, Relaxed);
            return;
        };
        let day = time.day_number();
        match tx.try_send((day, line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts a line that could not be written (serialized).
    pub fn count_error(&self) {
        self.counters.errors.fetch_add(1, Relaxed);
    }

    pub fn stats(&self) -> LogStats {
        LogStats {
            written: self.counters.written.load(Relaxed),
            dropped: self.counters.dropped.load(Relaxed),
            errors: self.counters.errors.load(Relaxed),
        }
    }

    /// Flushes every queued line and stops the writer.
    pub fn close(&mut self) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `decisions-YYYY-MM-DD.jsonl` for a day number.
pub fn day_file_name(day: i64) -> String {
    let date = Timestamp::from_unix_seconds(day.saturating_mul(86_400)).to_rfc3339();
    format!("decisions-{}.jsonl", date.get(..10).unwrap_or("unknown"))
}

fn write_loop(target: &LogTarget, rx: &Receiver<(i64, Vec<u8>)>, c: &Counters) {
    let mut out: Option<(i64, BufWriter<File>)> = None;
    // Idle, the writer blocks in `recv` and the first line wakes it. It then writes everything
    // queued, flushes, and pauses for `BATCH_PAUSE` before looking again, so that under load
    // lines are written and flushed in batches and a decision does not pay for waking a thread
    // (that wake-up, not the write, was most of a cached decision's cost).
    while let Ok((day, line)) = rx.recv() {
        write_line(target, &mut out, day, &line, c);
        let mut open = true;
        for _ in 0..QUEUE {
            match rx.try_recv() {
                Ok((day, line)) => write_line(target, &mut out, day, &line, c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        flush(&mut out, c);
        if !open {
            break;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
    flush(&mut out, c);
}

fn write_line(
    target: &LogTarget,
    out: &mut Option<(i64, BufWriter<File>)>,
    day: i64,
    line: &[u8],
    c: &Counters,
) {
    let reopen = match (target, &*out) {
        (_, None) => true,
        (LogTarget::Dir(_), Some((d, _))) => *d != day,
        (LogTarget::File(_), Some(_)) => false,
    };
    if reopen {
        flush(out, c);
        let path = match target {
            LogTarget::File(f) => f.clone(),
            LogTarget::Dir(d) => d.join(day_file_name(day)),
        };
        match append(&path) {
            Ok(f) => *out = Some((day, BufWriter::with_capacity(64 * 1024, f))),
            Err(_) => {
                *out = None;
                c.errors.fetch_add(1, Relaxed);
                return;
            }
        }
    }
    if let Some((_, w)) = out {
        match w.write_all(line) {
            Ok(()) => {
                c.written.fetch_add(1, Relaxed);
            }
            Err(_) => {
                c.errors.fetch_add(1, Relaxed);
            }
        }
    }
}

fn flush(out: &mut Option<(i64, BufWriter<File>)>, c: &Counters) {
    if let Some((_, w)) = out
        && w.flush().is_err()
    {
        c.errors.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn rec(time: Timestamp, reason: &'static str) -> DecisionRecord {
        DecisionRecord {
            time,
            mode: "http",
            client: "192.0.2.1".into(),
            method: "GET".into(),
            host: "h".into(),
            path: "/".into(),
            kid: None,
            alg: None,
            iss: None,
            tid: None,
            aud: None,
            sub: None,
            oid: None,
            upn: None,
            appid: None,
            uti: None,
            decision: "deny",
            status: 401,
            reason,
            latency_us: 3,
        }
    }

    #[test]
    fn dir_targets_rotate_by_the_decisions_day_and_lines_are_flushed() {
        let d = tempfile::tempdir().unwrap();
        let mut log = DecisionLog::open(LogTarget::Dir(d.path().join("log"))).unwrap();
        let day1 = Timestamp::parse("2026-12-04T23:59:59Z").unwrap();
        let day2 = Timestamp::parse("2026-12-05T00:00:01Z").unwrap();
        log.log(&rec(day1, "missing-credentials"));
        // Flushed within a second without closing.
        let f1 = d.path().join("log/decisions-2026-12-04.jsonl");
        let t0 = Instant::now();
        while std::fs::read_to_string(&f1).map_or(true, |s| s.is_empty()) {
            assert!(t0.elapsed() < Duration::from_secs(1), "not flushed in 1 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        log.log(&rec(day2, "expired"));
        log.close();
        let l2 = std::fs::read_to_string(d.path().join("log/decisions-2026-12-05.jsonl")).unwrap();
        let v: Value = serde_json::from_str(l2.trim()).unwrap();
        assert_eq!(v["reason"], "expired");
        assert_eq!(v["time"], "2026-12-05T00:00:01Z");
        assert_eq!(log.stats().written, 2);
        assert_eq!(day_file_name(0), "decisions-1970-01-01.jsonl");
    }

    #[test]
    fn lines_are_the_records_json() {
        let t = Timestamp::parse("2026-12-05T07:08:09.123456Z").unwrap();
        let mut full = rec(t, "ok");
        full.client = "2001:db8::1".into();
        full.method = "P\"O\\ST\u{7f}".into();
        full.host = "h\u{e9}\u{2028}\u{1f600}".into();
        full.path = "/a b/\"c\"/\u{0}\t".into();
        full.kid = Some("k\"1".into());
        full.alg = Some("ES256".into());
        full.iss = Some("https://login.example/\u{202e}/v2.0".into());
        full.tid = Some(String::new());
        full.aud = Some(serde_json::json!(["a", "b\n", 7, {"x": null}]));
        full.sub = Some("\\".into());
        full.oid = Some("o".into());
        full.upn = Some("alice@contoso.com".into());
        full.appid = Some("app".into());
        full.uti = Some("u".into());
        full.decision = "allow";
        full.status = 200;
        full.latency_us = u64::MAX;
        let mut one_aud = full.clone();
        one_aud.aud = Some(Value::String("api://x".into()));
        for r in [rec(t, "missing-credentials"), full, one_aud] {
            let mut want = serde_json::to_vec(&r).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(r.to_line().unwrap()).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }

    #[test]
    fn an_unwritable_target_is_an_error_at_open() {
        let d = tempfile::tempdir().unwrap();
        let blocker = d.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        assert!(DecisionLog::open(LogTarget::Dir(blocker.join("sub"))).is_err());
        assert!(DecisionLog::open(LogTarget::File(blocker.join("sub/x.jsonl"))).is_err());
        assert_eq!(
            LogTarget::from_arg(d.path()),
            LogTarget::Dir(d.path().into())
        );
    }
}
