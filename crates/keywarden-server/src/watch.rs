//! [`FileTail`]: the `--watch DIR` source. It follows growing log files in a directory and
//! their rotations, and remembers where it stopped across restarts.
//!
//! Every poll, for each regular file in the directory (not recursive; hidden files and
//! `.gz`/`.zst` archives skipped), it reads from the stored offset up to the last complete line
//! (at most `max_chunk` bytes at a time) and submits that as one batch whose new offset is
//! committed *in the batch's own transaction*: after a crash the tail resumes exactly after the
//! last committed line, never re-reading or skipping one. Offsets are kept per file identity
//! (device and inode), so a log renamed by rotation (`app.log` → `app.log.1`) continues where
//! it was and the new `app.log` is read from its start; a file that shrank was truncated and is
//! read again from the start.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keywarden_store::Store;
use tokio::sync::oneshot;

use crate::source::{Ingestor, Source, Submission};

/// The source name offsets are stored under.
pub const WATCH_SOURCE: &str = "watch";

/// Follows the files of one directory.
pub struct FileTail {
    pub dir: PathBuf,
    /// A store connection for reading saved offsets.
    pub store: Store,
    pub poll: Duration,
    /// The most bytes submitted in one batch.
    pub max_chunk: usize,
}

impl Source for FileTail {
    fn name(&self) -> &'static str {
        WATCH_SOURCE
    }

    fn run(self: Box<Self>, ingestor: Ingestor, stop: Arc<AtomicBool>) {
        let mut known: HashMap<String, u64> = HashMap::new();
        while !stop.load(Ordering::Relaxed) {
            for path in files(&self.dir) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                // Keep reading one file while it has complete lines (large backlogs).
                while let Some(done) = self.step(&path, &mut known, &ingestor) {
                    if !done || stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
            std::thread::sleep(self.poll);
        }
    }
}

impl FileTail {
    /// Submits the next complete lines of `path`. `Some(true)` when a batch was committed (more
    /// may follow), `Some(false)` when there was nothing to do, `None` on a failure (retried at
    /// the next poll).
    fn step(
        &self,
        path: &Path,
        known: &mut HashMap<String, u64>,
        ingestor: &Ingestor,
    ) -> Option<bool> {
        let meta = std::fs::metadata(path).ok()?;
        let id = file_id(&meta);
        let key = path.to_string_lossy().to_string();
        let mut offset = match known.get(&id) {
            Some(v) => *v,
            None => self
                .store
                .offset(WATCH_SOURCE, &id)
                .ok()?
                .map_or(0, |(_, o)| o),
        };
        if meta.len() < offset {
            offset = 0;
        }
        if meta.len() <= offset {
            known.insert(id, offset);
            return Some(false);
        }
        let mut f = std::fs::File::open(path).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let want = (meta.len() - offset).min(self.max_chunk as u64);
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want).read_to_end(&mut buf).ok()?;
        let end = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            // A line longer than a whole chunk: submit it (the engine rejects it as too large).
            None if buf.len() >= self.max_chunk => buf.len(),
            // An incomplete last line: wait for the writer to finish it.
            None => return Some(false),
        };
        buf.truncate(end);
        let next = offset + end as u64;
        let (tx, rx) = oneshot::channel();
        let sub = Submission {
            source: WATCH_SOURCE.into(),
            name: format!("{key}@{offset}"),
            body: buf,
            format: None,
            request_key: None,
            // Stored under the file identity; the path is kept beside it for analysts.
            offset: Some((id.clone(), key, next)),
            arrived: Instant::now(),
            reply: tx,
        };
        ingestor.submit(sub).ok()?;
        match rx.blocking_recv() {
            Ok(Ok(_)) => {
                known.insert(id, next);
                Some(true)
            }
            _ => None,
        }
    }
}

/// The files to follow, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string());
            name.is_some_and(|n| !n.starts_with('.') && !n.ends_with(".gz") && !n.ends_with(".zst"))
        })
        .collect();
    out.sort();
    out
}

/// A file's identity: device and inode on Unix (a rotated file gets a new one).
#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}-{}", meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(meta: &std::fs::Metadata) -> String {
    format!("created-{:?}", meta.created().ok())
}
