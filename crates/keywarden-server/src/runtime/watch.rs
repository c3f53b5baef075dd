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
//!
//! Whoever can write the directory must not make the server read anything else: listing skips
//! symbolic links, and a name swapped for a link (or a FIFO, a device, another file) between
//! the listing and the read is caught on the opened handle, never the path. Each file is
//! opened with `O_NOFOLLOW | O_NONBLOCK` (a symlink fails to open, a FIFO does not block), and
//! its `fstat` must show a regular file with the device and inode the listing saw. Everything
//! the tail knows about a file (size, identity, offset key) comes from that handle. A refused
//! file is counted (`keywarden_watch_refused_total`) and reported on stderr with its path and
//! reason, once per path and reason.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keywarden_store::Store;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::runtime::queue::{Ingestor, Submission};
use crate::runtime::source::Source;

/// The source name offsets are stored under.
pub const WATCH_SOURCE: &str = "watch";

/// Follows the files of one directory.
pub struct FileTail {
    pub dir: PathBuf,
    /// A store connection for reading saved offsets.
    pub store: Store,
    /// Counts refused files (`watch_refused`).
    pub metrics: Arc<Metrics>,
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
        let mut refused: HashMap<PathBuf, Refusal> = HashMap::new();
        while !stop.load(Ordering::Relaxed) {
            for listed in files(&self.dir) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let file = match open_listed(&listed) {
                    Ok(file) => {
                        refused.remove(&listed.path);
                        file
                    }
                    Err(why) => {
                        self.refuse(&listed.path, why, &mut refused);
                        continue;
                    }
                };
                // Keep reading one file while it has complete lines (large backlogs).
                while let Some(done) = self.step(&listed.path, &file, &mut known, &ingestor) {
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
    /// Counts a refused file and reports it (once per path and reason).
    fn refuse(&self, path: &Path, why: Refusal, seen: &mut HashMap<PathBuf, Refusal>) {
        Metrics::add(&self.metrics.watch_refused, 1);
        if seen.get(path) != Some(&why) {
            eprintln!(
                "keywarden serve: --watch: not reading {}: {why}",
                path.display()
            );
            seen.insert(path.to_path_buf(), why);
        }
    }

    /// Submits the next complete lines of the opened `file` (listed as `path`). `Some(true)`
    /// when a batch was committed (more may follow), `Some(false)` when there was nothing to
    /// do, `None` on a failure (retried at the next poll).
    fn step(
        &self,
        path: &Path,
        file: &File,
        known: &mut HashMap<String, u64>,
        ingestor: &Ingestor,
    ) -> Option<bool> {
        // The handle's own metadata (fstat), never the path's.
        let meta = file.metadata().ok()?;
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
        let mut f = file;
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

/// A file as the directory listing saw it (`lstat`: a symlink is never followed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    path: PathBuf,
    /// Device and inode at listing time.
    id: String,
}

/// Why a listed file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// It became a symbolic link after it was listed (`O_NOFOLLOW`).
    Symlink,
    /// The opened handle is not a regular file (FIFO, device, directory, socket).
    NotRegular,
    /// The opened handle is another file than the one listed (renamed or swapped in between).
    Swapped,
    /// It could not be opened or inspected.
    Open(std::io::ErrorKind),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Symlink => f.write_str("it is a symbolic link (links are never followed)"),
            Refusal::NotRegular => f.write_str("the opened file is not a regular file"),
            Refusal::Swapped => {
                f.write_str("the opened file is not the one listed (replaced after listing)")
            }
            Refusal::Open(kind) => write!(f, "cannot open it: {kind}"),
        }
    }
}

/// The files to follow, sorted: regular files only (by `lstat`; symlinks are skipped).
fn files(dir: &Path) -> Vec<Listed> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Listed> = rd
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            !name.starts_with('.') && !name.ends_with(".gz") && !name.ends_with(".zst")
        })
        .filter_map(|e| {
            // `DirEntry::metadata` does not follow a symlink.
            let meta = e.metadata().ok()?;
            meta.file_type().is_file().then(|| Listed {
                path: e.path(),
                id: file_id(&meta),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Opens a listed file without following a link or blocking on a FIFO, and checks the handle:
/// a regular file, the one the listing saw.
fn open_listed(listed: &Listed) -> Result<File, Refusal> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(&listed.path).map_err(|e| {
        // O_NOFOLLOW on a link fails with ELOOP.
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return Refusal::Symlink;
        }
        Refusal::Open(e.kind())
    })?;
    let meta = file.metadata().map_err(|e| Refusal::Open(e.kind()))?;
    if !meta.file_type().is_file() {
        return Err(Refusal::NotRegular);
    }
    if file_id(&meta) != listed.id {
        return Err(Refusal::Swapped);
    }
    Ok(file)
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

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use crate::runtime::queue::IngestAnswer;
    use std::sync::Mutex;

    const SECRET: &str = "SECRET-TOKEN-SIGNING-KEY-DO-NOT-READ\n";
    const BENIGN: &str = "{\"Id\":\"benign\",\"RecordType\":50}\n";

    /// A stand-in writer: keeps every submitted body and acknowledges it.
    fn writer(metrics: &Arc<Metrics>) -> (Ingestor, Arc<Mutex<Vec<Vec<u8>>>>) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Submission>(4);
        let bodies: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for sub in rx {
                seen.lock().unwrap().push(sub.body.clone());
                let _ = sub.reply.send(Ok(IngestAnswer {
                    accepted: 1,
                    rejected: 0,
                    rejections: Vec::new(),
                    duplicate: false,
                    batch_id: 1,
                }));
            }
        });
        let ingestor = Ingestor {
            tx,
            metrics: metrics.clone(),
        };
        (ingestor, bodies)
    }

    /// Replaces `target` atomically: with a regular file holding `text`, or a link to `to`.
    fn swap_in(tmp: &Path, target: &Path, file: Option<&str>, link_to: &Path) {
        let staged = tmp.join("staged");
        let _ = std::fs::remove_file(&staged);
        match file {
            Some(text) => std::fs::write(&staged, text).unwrap(),
            None => std::os::unix::fs::symlink(link_to, &staged).unwrap(),
        }
        std::fs::rename(&staged, target).unwrap();
    }

    fn no_secret(bodies: &Mutex<Vec<Vec<u8>>>) -> usize {
        let bodies = bodies.lock().unwrap();
        for b in bodies.iter() {
            let text = String::from_utf8_lossy(b);
            assert!(!text.contains("SECRET"), "secret read: {text:?}");
            assert!(b.iter().all(|c| BENIGN.as_bytes().contains(c)), "{text:?}");
        }
        bodies.len()
    }

    #[test]
    fn regression_watch_follows_swapped_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let secret = tmp.path().join("secret.key");
        std::fs::write(&secret, SECRET.repeat(4)).unwrap();
        let cfg = keywarden_store::StoreConfig::new(tmp.path().join("data"));
        drop(cfg.build().unwrap());
        let metrics = Arc::new(Metrics::default());
        let (ingestor, bodies) = writer(&metrics);
        let tail = FileTail {
            dir: logs.clone(),
            store: cfg.reader().unwrap(),
            metrics: metrics.clone(),
            poll: Duration::from_millis(1),
            max_chunk: 1 << 20,
        };
        let app = logs.join("app.log");
        let deadline = Instant::now() + Duration::from_secs(20);

        // 1. The race window, hit every time: listed as a regular file, swapped for a link to
        // the secret before it is opened.
        let mut known = HashMap::new();
        let mut refused = HashMap::new();
        for i in 0..200 {
            assert!(Instant::now() < deadline, "bounded in time");
            swap_in(tmp.path(), &app, Some(BENIGN), &secret);
            let listed = files(&logs);
            assert_eq!(listed.len(), 1);
            swap_in(tmp.path(), &app, None, &secret);
            match open_listed(&listed[0]) {
                Err(why) => {
                    assert_eq!(why, Refusal::Symlink, "iteration {i}");
                    tail.refuse(&listed[0].path, why, &mut refused);
                }
                Ok(file) => {
                    tail.step(&listed[0].path, &file, &mut known, &ingestor);
                }
            }
            // Another regular file swapped in between: refused as well.
            swap_in(tmp.path(), &app, Some(BENIGN), &secret);
            let listed = files(&logs);
            swap_in(tmp.path(), &app, Some(BENIGN), &secret);
            assert_eq!(open_listed(&listed[0]).err(), Some(Refusal::Swapped));
        }
        assert_eq!(no_secret(&bodies), 0);
        assert_eq!(metrics.watch_refused.load(Ordering::Relaxed), 200);
        // A link present at listing time is not even listed.
        swap_in(tmp.path(), &app, None, &secret);
        assert!(files(&logs).is_empty());

        // A FIFO swapped in: opened without blocking (O_NONBLOCK), refused on its fstat.
        swap_in(tmp.path(), &app, Some(BENIGN), &secret);
        let listed = files(&logs);
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            std::fs::rename(&fifo, &app).unwrap();
            assert_eq!(open_listed(&listed[0]).err(), Some(Refusal::NotRegular));
            assert!(files(&logs).is_empty(), "a FIFO is not listed");
        }
        // 2. The real loop against a writer flipping the name between a log and a link.
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let (ingestor, stop) = (ingestor.clone(), stop.clone());
            std::thread::spawn(move || Box::new(tail).run(ingestor, stop))
        };
        for i in 0..200 {
            if Instant::now() >= deadline {
                break;
            }
            let file = (i % 2 == 0).then_some(BENIGN);
            swap_in(tmp.path(), &app, file, &secret);
            std::thread::sleep(Duration::from_micros(500));
        }
        stop.store(true, Ordering::Relaxed);
        running.join().unwrap();
        no_secret(&bodies);
    }
}
