//! Time windows `[start, end)`: what a stream still has to collect given what earlier runs
//! recorded, and the shared per-stream context every source works in.

use std::sync::Mutex;

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::client::{Client, Counters};
use crate::config::{CollectConfig, SourceKind};
use crate::error::{CallError, CollectError};
use crate::http::Response;
use crate::store::{STATE_DIR, Store, WindowRow};

pub(crate) const SECOND: i64 = 1_000_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// A part of the requested range that is not collected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
    /// The Management API blob (content id) that could not be fetched, when one is named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// The parts of `[since, until)` that no recorded window covers, in order.
pub(crate) fn uncovered(
    rows: &[WindowRow],
    since: Timestamp,
    until: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    let mut spans: Vec<(i64, i64)> = rows.iter().map(|r| (r.start.0, r.end.0)).collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut at = since.0;
    for (s, e) in spans {
        if at >= until.0 {
            break;
        }
        if e <= at {
            continue;
        }
        if s > at {
            out.push((Timestamp(at), Timestamp(s.min(until.0))));
        }
        at = at.max(e);
    }
    if at < until.0 {
        out.push((Timestamp(at), until));
    }
    out.retain(|(s, e)| s < e);
    out
}

/// What one stream's worker shares with the run.
pub(crate) struct Ctx<'a> {
    pub client: &'a Client,
    pub store: &'a Store,
    pub config: &'a CollectConfig,
    /// The directory (tenant) id for the Management API's URLs: `--tenant` when it is a GUID,
    /// else the tokens' `tid` claim, else `--tenant` as given.
    pub tenant_id: &'a str,
    pub since: Timestamp,
    pub until: Timestamp,
    pub now: Timestamp,
    pub progress: &'a (dyn Fn(&str) + Sync),
}

/// One stream being collected in this run.
pub(crate) struct StreamRun {
    pub source: SourceKind,
    pub stream: &'static str,
    pub counters: Counters,
    pub gaps: Mutex<Vec<Gap>>,
    /// Where this stream's coverage starts when another source covers the time before it
    /// (the Management API's 7 days when Purview is collected too).
    pub covered_from: Mutex<Option<Timestamp>>,
}

impl StreamRun {
    pub(crate) fn new(source: SourceKind, stream: &'static str) -> StreamRun {
        StreamRun {
            source,
            stream,
            counters: Counters::default(),
            gaps: Mutex::new(Vec::new()),
            covered_from: Mutex::new(None),
        }
    }

    pub(crate) fn gap(
        &self,
        start: Timestamp,
        end: Timestamp,
        reason: String,
        blob: Option<String>,
    ) {
        self.gaps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Gap {
                start,
                end,
                reason,
                blob,
            });
    }

    pub(crate) fn take_gaps(&self) -> Vec<Gap> {
        std::mem::take(
            &mut *self
                .gaps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// A response body saved under `.keywarden-collect/tmp/` so that the network is read without
/// holding the unit turn and memory does not hold a blob; removed when dropped.
pub(crate) struct Scratch {
    pub path: std::path::PathBuf,
}

impl Scratch {
    pub(crate) fn save(store: &Store, resp: Response, url: &str) -> Result<Scratch, CallError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = store
            .out()
            .join(STATE_DIR)
            .join("tmp")
            .join(format!("body-{}-{n}.part", std::process::id()));
        let scratch = Scratch { path };
        let mut file = std::fs::File::create(&scratch.path).map_err(|e| CallError::Output {
            path: scratch.path.display().to_string(),
            detail: e.to_string(),
        })?;
        let mut body = resp.body;
        std::io::copy(&mut body, &mut file).map_err(|e| CallError::Transport {
            url: url.to_owned(),
            detail: format!("reading the body: {e}"),
        })?;
        Ok(scratch)
    }

    pub(crate) fn open(&self) -> Result<std::fs::File, CallError> {
        std::fs::File::open(&self.path).map_err(|e| CallError::Output {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A window whose answer was truncated or refused is replaced by its two halves: the split is
/// recorded and both are pushed on `work` so that the first half is taken next. Returns the
/// midpoint, or `None` when the window is not longer than `min` and cannot be split (the
/// caller names the gap). Shared by the Management API (AF20030/AF20055), Log Analytics
/// (`PartialError`) and Purview (`isRecordCountLimitExceeded`).
pub(crate) fn halve(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    (start, end): (Timestamp, Timestamp),
    min: i64,
    work: &mut Vec<(Timestamp, Timestamp)>,
) -> Result<Option<Timestamp>, CallError> {
    if end.0 - start.0 <= min {
        return Ok(None);
    }
    let mid = Timestamp(start.0 + (end.0 - start.0) / 2);
    ctx.store
        .split_window(run.source, run.stream, start, mid, end)
        .map_err(state_err)?;
    work.push((mid, end));
    work.push((start, mid));
    Ok(Some(mid))
}

/// Converts a state failure inside a worker into a call error (it ends the stream as a gap).
pub(crate) fn state_err(e: CollectError) -> CallError {
    CallError::Output {
        path: STATE_DIR.into(),
        detail: e.to_string(),
    }
}

/// Query-string encoding with `%20` for spaces (OData filters).
pub(crate) fn encode_query_value(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// RFC 3339 with `Z`, whole seconds (what every API here accepts in filters).
pub(crate) fn iso(t: Timestamp) -> String {
    Timestamp::from_unix_seconds(t.unix_seconds()).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: i64, e: i64) -> WindowRow {
        WindowRow {
            start: Timestamp(s),
            end: Timestamp(e),
            complete: true,
            next_link: None,
            page: 0,
        }
    }

    #[test]
    fn uncovered_spans_are_what_no_window_holds() {
        let rows = [row(10, 20), row(30, 40), row(35, 50)];
        assert_eq!(
            uncovered(&rows, Timestamp(0), Timestamp(60)),
            vec![
                (Timestamp(0), Timestamp(10)),
                (Timestamp(20), Timestamp(30)),
                (Timestamp(50), Timestamp(60))
            ]
        );
        assert_eq!(uncovered(&rows, Timestamp(12), Timestamp(18)), vec![]);
        assert_eq!(
            uncovered(&[], Timestamp(5), Timestamp(6)),
            vec![(Timestamp(5), Timestamp(6))]
        );
    }

    #[test]
    fn filters_encode_spaces_and_quotes() {
        assert_eq!(
            encode_query_value("createdDateTime ge 2026-01-01T00:00:00Z and t eq 'x'"),
            "createdDateTime%20ge%202026-01-01T00%3A00%3A00Z%20and%20t%20eq%20%27x%27"
        );
    }
}
