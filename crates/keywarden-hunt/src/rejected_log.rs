//! `rejected.jsonl`: every rejected record, one JSON line each with its raw bytes, written by
//! the ingest observer as rejections happen (the summary lists only the first ones).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use keywarden_ingest::{Observer, Rejection};
use serde::Serialize;

use crate::error::HuntError;
use crate::progress::HuntProgress;

/// One line of `rejected.jsonl`.
#[derive(Serialize)]
struct RejectedLine<'a> {
    #[serde(flatten)]
    rejection: &'a Rejection,
    raw: Option<&'a str>,
    raw_lossy: bool,
}

struct LogState {
    out: BufWriter<File>,
    /// The first write error; later rejections are not written, the error is returned at the end.
    error: Option<std::io::Error>,
}

/// The ingest observer of a hunt: rejections to `rejected.jsonl`, progress to the caller.
pub(crate) struct RejectedLog<'p> {
    path: PathBuf,
    state: Mutex<LogState>,
    progress: &'p dyn HuntProgress,
}

impl<'p> RejectedLog<'p> {
    pub(crate) fn create(
        path: &Path,
        progress: &'p dyn HuntProgress,
    ) -> Result<RejectedLog<'p>, HuntError> {
        let file = File::create(path).map_err(|source| HuntError::CreateOutput {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(RejectedLog {
            path: path.to_path_buf(),
            state: Mutex::new(LogState {
                out: BufWriter::new(file),
                error: None,
            }),
            progress,
        })
    }

    /// Flushes the file; the first write error, if any.
    pub(crate) fn finish(self) -> Result<(), HuntError> {
        let state = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        let path = self.path;
        let failed = |source| HuntError::WriteOutput { path, source };
        if let Some(e) = state.error {
            return Err(failed(e));
        }
        let mut out = state.out;
        out.flush().map_err(failed)
    }
}

impl Observer for RejectedLog<'_> {
    fn rejected(&self, r: &Rejection) {
        let mut log = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if log.error.is_some() {
            return;
        }
        let line = RejectedLine {
            rejection: r,
            raw: r.raw.as_deref(),
            raw_lossy: r.raw_lossy,
        };
        let res = serde_json::to_writer(&mut log.out, &line)
            .map_err(std::io::Error::other)
            .and_then(|_| log.out.write_all(b"\n"));
        if let Err(e) = res {
            log.error = Some(e);
        }
    }

    fn progress(&self, bytes: u64) {
        self.progress.advanced(bytes);
    }
}
