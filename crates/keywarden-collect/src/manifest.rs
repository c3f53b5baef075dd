//! `DIR/collect.json`: the collection's coverage statement (what `hunt` and the coverage
//! report read). Per source and stream: the windows `[start, end)` recorded with whether each
//! is complete, the counters (cumulative over every run into `DIR`), the files written and
//! this run's gaps. `complete` is true only when every stream covers `[since, until)` with
//! complete windows and has no gap.

use std::path::Path;

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::config::SourceKind;
use crate::error::{CollectError, io_error};
use crate::store::Store;
use crate::window::{Gap, uncovered};

/// Schema version of `collect.json`.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub keywarden_collect: u32,
    /// `--tenant` as given (a tenant id or a domain).
    pub tenant: String,
    /// The directory (tenant) id the records carry: `--tenant` when it is a GUID, else the
    /// `tid` of the tokens the identity platform issued; `null` when neither names one.
    /// `hunt` matches the declared coverage to records by this id.
    pub tenant_id: Option<String>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub complete: bool,
    pub sources: Vec<SourceEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceEntry {
    pub source: String,
    pub stream: String,
    pub complete: bool,
    pub windows: Vec<WindowEntry>,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub records: u64,
    pub duplicates_dropped: u64,
    pub files: Vec<String>,
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowEntry {
    pub start: Timestamp,
    pub end: Timestamp,
    pub complete: bool,
}

/// Builds one stream's entry from the state and this run's gaps.
pub(crate) fn stream_entry(
    store: &Store,
    source: SourceKind,
    stream: &str,
    since: Timestamp,
    until: Timestamp,
    mut gaps: Vec<Gap>,
) -> Result<SourceEntry, CollectError> {
    let rows = store.windows(source, stream)?;
    let counters = store.counters(source, stream)?;
    let covered_complete: Vec<_> = rows.iter().filter(|w| w.complete).cloned().collect();
    for (s, e) in uncovered(&covered_complete, since, until) {
        let named = gaps.iter().any(|g| g.start <= s && g.end >= e)
            || rows.iter().any(|w| {
                !w.complete
                    && w.start <= s
                    && w.end >= e
                    && gaps.iter().any(|g| g.start < w.end && g.end > w.start)
            });
        if !named {
            gaps.push(Gap {
                start: s,
                end: e,
                reason: "not collected".into(),
                blob: None,
            });
        }
    }
    gaps.sort_by(|a, b| (a.start, a.end, &a.blob).cmp(&(b.start, b.end, &b.blob)));
    gaps.dedup();
    Ok(SourceEntry {
        source: source.as_str().into(),
        stream: stream.into(),
        complete: gaps.is_empty(),
        windows: rows
            .iter()
            .map(|w| WindowEntry {
                start: w.start,
                end: w.end,
                complete: w.complete,
            })
            .collect(),
        requests: counters.requests,
        throttled: counters.throttled,
        retries: counters.retries,
        records: counters.records,
        duplicates_dropped: counters.duplicates,
        files: store.files(source, stream)?,
        gaps,
    })
}

/// Writes `collect.json` atomically (temporary file, sync, rename).
pub(crate) fn write(manifest: &Manifest, out: &Path) -> Result<(), CollectError> {
    let path = out.join("collect.json");
    let tmp = out.join(crate::store::STATE_DIR).join("collect.json.part");
    let mut text = serde_json::to_string_pretty(manifest)
        .map_err(|e| io_error(&path, std::io::Error::other(e.to_string())))?;
    text.push('\n');
    std::fs::write(&tmp, text).map_err(|e| io_error(&tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
}
