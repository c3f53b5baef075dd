//! [`CollectSource`]: `serve` collecting continuously from Microsoft's APIs (`[collect]` in the
//! configuration, or `keywarden serve --collect FILE`), with the same library, client and
//! sources as `keywarden collect` (`keywarden-collect`; see `docs/COLLECT.md`).
//!
//! Every `interval_seconds` a poll runs `keywarden_collect::collect` into a staging directory
//! under the data directory (`DATA/collect/<tenant>/`, its own resumable state: windows, paging
//! cursors, the on-disk dedupe index on record `Id`), from `since` (at the first poll) or the
//! last 7 days (the Management API's retention), whichever is later, up to now. Content types
//! whose windows end near now are listed again by the next poll, and the Management API lists
//! backfilled blobs by when they were published, so blobs that appear late are picked up.
//!
//! Then every file the poll staged is submitted to the pipeline in order, one batch each, and
//! the stream's cursor — the last file sequence number taken, per (tenant, source, stream),
//! with the staging state's generation — is committed **in the batch's own transaction**
//! (`source_offsets`, source `collect`). Only then is the staged file deleted. After a crash
//! the files past the cursor are submitted again and none before it, so a restart neither
//! loses nor repeats a record: the staging state wrote each record `Id` once, and the cursor
//! takes each file once.
//!
//! Poll status and lag per stream are kept in [`CollectStatus`] (`/metrics`,
//! `/api/v1/stats`). Secrets: the client secret or certificate is read by the library, which
//! never shows it; errors carry only the identity platform's or the API's own codes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keywarden_collect::{
    Cloud, CollectConfig, CredentialSource, Endpoints, Manifest, Pacing, SourceKind, Timestamp,
    UreqTransport, parse_time,
};
use keywarden_store::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::runtime::queue::{Ingestor, Submission};
use crate::runtime::source::Source;

/// The source name cursors are stored under (`source_offsets.source`).
pub const COLLECT_SOURCE: &str = "collect";

/// How far back a poll reaches at most: the Management API keeps 7 days of content (an hour
/// is kept as a margin against clock skew).
const LOOKBACK: i64 = (7 * 24 - 1) * 3600;

/// The `[collect]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectSection {
    pub tenant: String,
    pub client_id: String,
    /// File whose first line is the client secret (relative to the configuration file).
    pub client_secret_file: Option<PathBuf>,
    /// PEM file with the RSA private key and the certificate (relative to the configuration).
    pub certificate: Option<PathBuf>,
    /// `o365`, `graph-signins`, `graph-audit`, `loganalytics`, `purview` (default `o365` and
    /// `graph-signins`).
    #[serde(default)]
    pub sources: Vec<String>,
    pub workspace: Option<String>,
    /// Where the first poll starts: RFC 3339 or a duration before the start (`1d`).
    #[serde(default = "default_since")]
    pub since: String,
    #[serde(default = "default_interval")]
    pub interval_seconds: u64,
    #[serde(default = "default_cloud")]
    pub cloud: String,
    /// `NAME=URL` overrides, as `collect --endpoint`.
    #[serde(default)]
    pub endpoints: Vec<String>,
    pub max_requests_per_minute: Option<u32>,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Delay between two polls of a Purview query, milliseconds.
    pub purview_poll_ms: Option<u64>,
}

fn default_since() -> String {
    "1d".into()
}
fn default_interval() -> u64 {
    300
}
fn default_cloud() -> String {
    "public".into()
}
fn default_concurrency() -> usize {
    4
}

/// A checked `[collect]` table: everything a poll needs but its time range.
#[derive(Debug, Clone)]
pub struct CollectPlan {
    template: CollectConfig,
    since: String,
    pub interval: Duration,
}

impl CollectPlan {
    /// Checks a `[collect]` table; relative credential paths are taken from `base` (the
    /// configuration file's directory).
    pub fn new(section: CollectSection, base: &Path) -> Result<CollectPlan, String> {
        let cloud: Cloud = section.cloud.parse().map_err(|e| format!("{e}"))?;
        let mut endpoints = Endpoints::of(cloud);
        for e in &section.endpoints {
            endpoints.set(e).map_err(|e| e.to_string())?;
        }
        let mut sources = section
            .sources
            .iter()
            .map(|s| s.parse::<SourceKind>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if sources.is_empty() {
            sources = vec![SourceKind::O365, SourceKind::GraphSignins];
        }
        let credential = match (&section.client_secret_file, &section.certificate) {
            (Some(f), None) => CredentialSource::SecretFile(base.join(f)),
            (None, Some(f)) => CredentialSource::CertificateFile(base.join(f)),
            _ => return Err("give exactly one of client_secret_file and certificate".into()),
        };
        if section.interval_seconds == 0 {
            return Err("interval_seconds must be positive".into());
        }
        let probe = Timestamp::from_unix_seconds(0);
        parse_time(&section.since, probe).map_err(|e| format!("since: {e}"))?;
        let mut pacing = Pacing::default();
        if let Some(ms) = section.purview_poll_ms {
            pacing.purview_poll = Duration::from_millis(ms);
        }
        // A poll lists again what ended within two intervals of its end (late blobs).
        pacing.relist_recent = pacing.relist_recent.max(Duration::from_secs(
            section.interval_seconds.saturating_mul(2),
        ));
        let template = CollectConfig {
            tenant: section.tenant,
            client_id: section.client_id,
            credential,
            sources,
            workspace: section.workspace,
            since: probe,
            until: Timestamp::from_unix_seconds(1),
            out: PathBuf::new(),
            endpoints,
            max_requests_per_minute: section.max_requests_per_minute,
            concurrency: section.concurrency,
            pacing,
            cancel: None,
        };
        template.check().map_err(|e| e.to_string())?;
        Ok(CollectPlan {
            template,
            since: section.since,
            interval: Duration::from_secs(section.interval_seconds),
        })
    }

    pub fn tenant(&self) -> &str {
        &self.template.tenant
    }

    /// (source, stream) of every stream collected, in `collect.json` order.
    pub fn streams(&self) -> Vec<(SourceKind, &'static str)> {
        let mut sources = self.template.sources.clone();
        sources.sort();
        sources.dedup();
        sources
            .into_iter()
            .flat_map(|s| s.streams().iter().map(move |st| (s, *st)))
            .collect()
    }

    /// The staging directory under the data directory.
    pub fn staging(&self, data_dir: &Path) -> PathBuf {
        data_dir.join("collect").join(&self.template.tenant)
    }
}

/// One stream's poll status, as `/api/v1/stats` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStatus {
    pub source: String,
    pub stream: String,
    /// `pending` (no poll yet), `complete`, `partial` (gaps named), `error` (the poll or the
    /// ingest of its files failed).
    pub status: &'static str,
    pub last_poll: Option<Timestamp>,
    /// The end of the stream's latest complete window.
    pub covered_until: Option<Timestamp>,
    /// Seconds from `covered_until` to now (filled when shown).
    pub lag_seconds: Option<i64>,
    pub polls: u64,
    pub failed_polls: u64,
    pub gaps: usize,
    /// Records the stream's files brought in (events and rejections).
    pub events: u64,
    pub rejected: u64,
    /// Staged files over the whole-read limit, sent as JSON lines ([`as_json_lines`]).
    pub files_as_json_lines: u64,
    /// Why the last poll, or the ingest of its files, failed.
    pub error: Option<String>,
}

/// Poll status per (source, stream), shared by the collect thread, `/metrics` and the API.
#[derive(Debug, Default)]
pub struct CollectStatus {
    streams: Mutex<BTreeMap<(String, String), StreamStatus>>,
}

impl CollectStatus {
    fn update(&self, source: SourceKind, stream: &str, f: impl FnOnce(&mut StreamStatus)) {
        let mut g = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = g
            .entry((source.as_str().to_owned(), stream.to_owned()))
            .or_insert_with(|| StreamStatus {
                source: source.as_str().into(),
                stream: stream.into(),
                status: "pending",
                ..StreamStatus::default()
            });
        f(s);
    }

    /// Every stream's status, with its lag as of `now`.
    pub fn snapshot(&self, now: Timestamp) -> Vec<StreamStatus> {
        let g = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.values()
            .cloned()
            .map(|mut s| {
                s.lag_seconds = s
                    .covered_until
                    .map(|c| (now.0.saturating_sub(c.0) / 1_000_000).max(0));
                s
            })
            .collect()
    }

    /// The Prometheus series (`keywarden_collect_*{source,stream}`), lag as of the last poll.
    pub fn render(&self, out: &mut String) {
        let rows: Vec<StreamStatus> = {
            let g = self
                .streams
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            g.values().cloned().collect()
        };
        if rows.is_empty() {
            return;
        }
        type Field = fn(&StreamStatus) -> Option<String>;
        let series: [(&str, &str, &str, Field); 8] = [
            (
                "collect_up",
                "1 when the stream's last poll was complete, 0 when partial or failed.",
                "gauge",
                |s| Some(u8::from(s.status == "complete").to_string()),
            ),
            (
                "collect_lag_seconds",
                "Seconds from the end of the stream's latest complete window to its last poll.",
                "gauge",
                |s| {
                    let (Some(p), Some(c)) = (s.last_poll, s.covered_until) else {
                        return None;
                    };
                    Some(((p.0.saturating_sub(c.0)) / 1_000_000).max(0).to_string())
                },
            ),
            (
                "collect_covered_until_seconds",
                "End of the stream's latest complete window (Unix seconds).",
                "gauge",
                |s| s.covered_until.map(|c| c.unix_seconds().to_string()),
            ),
            (
                "collect_polls_total",
                "Polls of the stream.",
                "counter",
                |s| Some(s.polls.to_string()),
            ),
            (
                "collect_failed_polls_total",
                "Polls of the stream that were partial or failed.",
                "counter",
                |s| Some(s.failed_polls.to_string()),
            ),
            (
                "collect_events_total",
                "Events the stream's collected files brought in.",
                "counter",
                |s| Some(s.events.to_string()),
            ),
            (
                "collect_rejected_total",
                "Records of the stream's collected files rejected by the parser.",
                "counter",
                |s| Some(s.rejected.to_string()),
            ),
            (
                "collect_files_as_json_lines_total",
                "Collected files over the whole-read limit (max_body_bytes), ingested as JSON lines.",
                "counter",
                |s| Some(s.files_as_json_lines.to_string()),
            ),
        ];
        for (name, help, kind, value) in series {
            let _ = writeln!(out, "# HELP keywarden_{name} {help}");
            let _ = writeln!(out, "# TYPE keywarden_{name} {kind}");
            for s in &rows {
                if let Some(v) = value(s) {
                    // Source and stream names are keywarden's own constants.
                    let _ = writeln!(
                        out,
                        "keywarden_{name}{{source=\"{}\",stream=\"{}\"}} {v}",
                        s.source, s.stream
                    );
                }
            }
        }
    }
}

/// The collect library's clock over serve's: now from serve's clock, waits on the real one
/// (serve's clock must advance with real time, as the system clock does).
struct PollClock(Arc<dyn Clock>);

impl keywarden_collect::Clock for PollClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The `[collect]` source.
pub struct CollectSource {
    pub plan: CollectPlan,
    /// `DATA/collect/<tenant>`.
    pub staging: PathBuf,
    /// A store connection for reading the cursors.
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    /// The largest document the pipeline reads whole (the memory budget's
    /// `whole_read_bytes`): a staged JSON array or Graph page past it is submitted as JSON
    /// lines instead, which the pipeline streams ([`as_json_lines`]).
    pub whole_read_bytes: u64,
}

impl Source for CollectSource {
    fn name(&self) -> &'static str {
        COLLECT_SOURCE
    }

    fn run(self: Box<Self>, ingestor: Ingestor, stop: Arc<AtomicBool>) {
        let first = match parse_time(&self.plan.since, self.clock.now()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("keywarden serve: [collect] since: {e}");
                return;
            }
        };
        let transport = Arc::new(UreqTransport::new(
            self.plan.template.pacing.request_timeout,
            self.plan.template.concurrency.saturating_mul(2),
        ));
        for (source, stream) in self.plan.streams() {
            self.metrics.collect.update(source, stream, |_| {});
        }
        while !stop.load(Ordering::Relaxed) {
            self.poll(first, transport.clone(), &stop);
            self.ingest_staged(&ingestor, &stop);
            let until = Instant::now() + self.plan.interval;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl CollectSource {
    /// One collection run into the staging directory.
    fn poll(&self, first: Timestamp, transport: Arc<UreqTransport>, stop: &Arc<AtomicBool>) {
        let now = self.clock.now();
        let mut config = self.plan.template.clone();
        config.since = first.max(now.plus_seconds(-LOOKBACK));
        config.until = now;
        config.out = self.staging.clone();
        config.cancel = Some(stop.clone());
        let clock = Arc::new(PollClock(self.clock.clone()));
        match keywarden_collect::collect(&config, transport, clock, &|_| {}) {
            Ok(manifest) => self.record_poll(&manifest, now),
            Err(e) => {
                let why = e.to_string();
                eprintln!("keywarden serve: [collect] poll failed: {why}");
                for (source, stream) in self.plan.streams() {
                    self.metrics.collect.update(source, stream, |s| {
                        s.status = "error";
                        s.last_poll = Some(now);
                        s.polls += 1;
                        s.failed_polls += 1;
                        s.error = Some(why.clone());
                    });
                }
            }
        }
    }

    fn record_poll(&self, manifest: &Manifest, now: Timestamp) {
        for entry in &manifest.sources {
            let Ok(source) = entry.source.parse::<SourceKind>() else {
                continue;
            };
            let covered = entry
                .windows
                .iter()
                .filter(|w| w.complete)
                .map(|w| w.end)
                .max();
            for g in &entry.gaps {
                eprintln!(
                    "keywarden serve: [collect] gap {} {} [{}, {}){}: {}",
                    entry.source,
                    entry.stream,
                    g.start,
                    g.end,
                    g.blob
                        .as_deref()
                        .map(|b| format!(" blob {b}"))
                        .unwrap_or_default(),
                    g.reason
                );
            }
            self.metrics.collect.update(source, &entry.stream, |s| {
                s.status = if entry.complete {
                    "complete"
                } else {
                    "partial"
                };
                s.last_poll = Some(now);
                s.polls += 1;
                s.failed_polls += u64::from(!entry.complete);
                s.gaps = entry.gaps.len();
                s.covered_until = covered.or(s.covered_until);
                s.error = None;
            });
        }
    }

    /// Submits every staged file past each stream's cursor, in order; the cursor commits with
    /// the file's events, then the file is deleted.
    fn ingest_staged(&self, ingestor: &Ingestor, stop: &AtomicBool) {
        let tenant = self.plan.tenant();
        let staged = match keywarden_collect::store::Store::open(&self.staging, tenant) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("keywarden serve: [collect] staging state: {e}");
                return;
            }
        };
        let generation = staged.generation().to_owned();
        for (source, stream) in self.plan.streams() {
            let key = format!("{tenant}/{source}/{stream}");
            let after = match self.store.offset(COLLECT_SOURCE, &key) {
                Ok(Some((g, seq))) if g == generation => i64::try_from(seq).unwrap_or(i64::MAX),
                Ok(_) => 0,
                Err(e) => {
                    self.ingest_failed(
                        source,
                        stream,
                        format!("reading the cursor: {}", keywarden_model::error_chain(&e)),
                    );
                    continue;
                }
            };
            let files = match staged.files_after(source, stream, after) {
                Ok(f) => f,
                Err(e) => {
                    self.ingest_failed(source, stream, format!("staging state: {e}"));
                    continue;
                }
            };
            for f in files {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let path = self.staging.join(&f.path);
                let body = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) => {
                        self.ingest_failed(source, stream, format!("{}: {e}", path.display()));
                        break;
                    }
                };
                // A blob or page too large to be read whole would be refused at every poll
                // and hold back every later file of its stream: its records go as JSON lines.
                let body = if body.len() as u64 > self.whole_read_bytes {
                    let lines = as_json_lines(&body);
                    drop(body); // not held beside its copy while the copy is ingested
                    match lines {
                        Ok(lines) => {
                            self.metrics
                                .collect
                                .update(source, stream, |s| s.files_as_json_lines += 1);
                            lines
                        }
                        Err(why) => {
                            self.ingest_failed(source, stream, format!("{}: {why}", f.path));
                            break;
                        }
                    }
                } else {
                    body
                };
                let (tx, rx) = oneshot::channel();
                let sub = Submission {
                    source: COLLECT_SOURCE.into(),
                    name: format!("collect:{}", f.path),
                    body,
                    format: None,
                    request_key: None,
                    offset: Some((key.clone(), generation.clone(), f.seq.max(0) as u64)),
                    arrived: Instant::now(),
                    reply: tx,
                };
                if ingestor.submit(sub).is_err() {
                    return;
                }
                match rx.blocking_recv() {
                    Ok(Ok(answer)) => {
                        self.metrics.collect.update(source, stream, |s| {
                            s.events += answer.accepted;
                            s.rejected += answer.rejected;
                        });
                        // Committed with its cursor: the staged copy is no longer needed.
                        let _ = std::fs::remove_file(&path);
                    }
                    Ok(Err(e)) => {
                        self.ingest_failed(source, stream, format!("ingesting {}: {e}", f.path));
                        break;
                    }
                    Err(_) => return,
                }
            }
        }
    }

    fn ingest_failed(&self, source: SourceKind, stream: &str, why: String) {
        eprintln!("keywarden serve: [collect] {source} {stream}: {why}");
        self.metrics.collect.update(source, stream, |s| {
            s.status = "error";
            s.error = Some(why);
        });
    }
}

/// A staged JSON array (a Management API blob) or Graph page (`{"value": [...]}`) rewritten
/// as one record per line, read one record at a time (`keywarden_collect::stream_json`). JSON
/// lines hold the same records (each line is sniffed as the document's elements are), and the
/// pipeline streams them in pieces instead of reading the document whole. Key order is kept;
/// an integer beyond 64 bits or a float is re-printed by serde_json (same value, possibly
/// other digits).
fn as_json_lines(doc: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(doc.len());
    let mut each = |v: serde_json::Value| {
        serde_json::to_writer(&mut out, &v).map_err(|e| e.to_string())?;
        out.push(b'\n');
        Ok(())
    };
    match doc.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => keywarden_collect::stream_json::for_each_in_array(doc, &mut each)?,
        Some(b'{') => {
            keywarden_collect::stream_json::for_each_in_page(doc, &mut each)?;
        }
        _ => return Err("a staged file that is neither a JSON array nor a Graph page".into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> Result<CollectPlan, String> {
        let s: CollectSection = toml::from_str(text).map_err(|e| e.to_string())?;
        CollectPlan::new(s, Path::new("/etc/keywarden"))
    }

    #[test]
    fn staged_arrays_and_pages_become_json_lines_with_the_same_records() {
        let array = br#" [{"Id": "a", "n": 1}, {"Id": "b", "s": "x\ny"}] "#;
        assert_eq!(
            as_json_lines(array).unwrap(),
            b"{\"Id\":\"a\",\"n\":1}\n{\"Id\":\"b\",\"s\":\"x\\ny\"}\n".to_vec()
        );
        let page = br#"{"@odata.context": "c", "value": [{"id": "s1"}], "@odata.nextLink": "n"}"#;
        assert_eq!(as_json_lines(page).unwrap(), b"{\"id\":\"s1\"}\n".to_vec());
        assert!(as_json_lines(b"[{\"Id\": 1},").is_err());
        assert!(as_json_lines(b"x").is_err());
    }

    #[test]
    fn a_collect_table_is_checked_before_serve_starts() {
        let plan = section(
            r#"tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
               client_id = "0b6f2f9a-1111-4c2b-9d3e-6a0c5b7e8f10"
               client_secret_file = "secret.txt"
               interval_seconds = 60"#,
        )
        .unwrap();
        assert_eq!(plan.interval, Duration::from_secs(60));
        assert_eq!(
            plan.streams().len(),
            5 + 4,
            "o365 and graph-signins by default"
        );
        assert_eq!(
            plan.template.credential,
            CredentialSource::SecretFile("/etc/keywarden/secret.txt".into())
        );
        let base = r#"tenant = "t1"
               client_id = "c1"
               client_secret_file = "s""#;
        for (extra, why) in [
            ("certificate = \"c.pem\"", "exactly one"),
            ("sources = [\"mail\"]", "unknown source"),
            ("sources = [\"loganalytics\"]", "--workspace"),
            ("since = \"yesterday\"", "since"),
            ("endpoints = [\"graph=http://example.com\"]", "graph"),
            ("interval_seconds = 0", "interval"),
            ("client_sekret = \"x\"", "unknown field"),
        ] {
            let err = section(&format!("{base}\n{extra}")).unwrap_err();
            assert!(err.contains(why), "{extra}: {err}");
        }
    }

    #[test]
    fn status_renders_per_stream_series_and_lag() {
        let status = CollectStatus::default();
        let t = |s: i64| Timestamp::from_unix_seconds(s);
        status.update(SourceKind::O365, "Audit.Exchange", |s| {
            s.status = "complete";
            s.last_poll = Some(t(1_000));
            s.covered_until = Some(t(940));
            s.polls = 3;
            s.events = 12;
        });
        status.update(SourceKind::GraphSignins, "interactiveUser", |_| {});
        let mut out = String::new();
        status.render(&mut out);
        assert!(
            out.contains("keywarden_collect_up{source=\"o365\",stream=\"Audit.Exchange\"} 1\n")
        );
        assert!(out.contains(
            "keywarden_collect_lag_seconds{source=\"o365\",stream=\"Audit.Exchange\"} 60\n"
        ));
        assert!(out.contains(
            "keywarden_collect_up{source=\"graph-signins\",stream=\"interactiveUser\"} 0\n"
        ));
        assert!(!out.contains("lag_seconds{source=\"graph-signins\""));
        let snap = status.snapshot(t(1_100));
        let ex = snap.iter().find(|s| s.stream == "Audit.Exchange").unwrap();
        assert_eq!(ex.lag_seconds, Some(160));
        assert_eq!(ex.events, 12);
    }
}
