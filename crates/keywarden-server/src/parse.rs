//! The parse stage between the ingest queue and the writer: a few worker threads take queued
//! [`Submission`]s, decompress them (capped) and read every record with the ingest engine into
//! store rows, rejections and what the live rules observe. The writer thread then only commits
//! and detects ([`crate::pipeline`]), while the parsing of the next bodies runs on the other
//! cores.
//!
//! Order and memory stay bounded: each submission gets a sequence number as it leaves the queue,
//! and [`ParsedQueue`] hands parsed bodies to the writer in that order (the order they were
//! queued). At most `window` submissions are between the queue and the writer (being parsed, or
//! parsed and waiting): a worker takes a new body only when a slot is free, and the writer frees
//! one each time it takes a body.

use std::collections::BTreeMap;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use keywarden_detect::Settings;
use keywarden_ingest::{Format, IngestConfig, ingest_bytes};
use keywarden_sigma::SigmaStage;
use keywarden_store::{EventRow, RejectionRow};
use tokio::sync::oneshot;

use crate::convert::rejection_row;
use crate::live::observe::{LiveCollector, Observed, Observer};
use crate::metrics::Metrics;
use crate::source::{IngestAnswer, IngestFailure, Submission};

/// What a worker needs to read a body: the same collector the live rules use.
#[derive(Clone)]
pub struct ParseStage {
    pub settings: Arc<Settings>,
    pub sigma: Option<Arc<SigmaStage>>,
    pub ingest: IngestConfig,
    /// Bodies decompressing to more than this are refused.
    pub max_decompressed_bytes: usize,
    pub metrics: Arc<Metrics>,
}

/// One body read and ready to commit.
#[derive(Debug, Default)]
pub struct ParsedBody {
    pub rows: Vec<EventRow>,
    /// One per row: what the live rules take besides the row.
    pub observed: Vec<Observed>,
    pub rejections: Vec<RejectionRow>,
}

/// A submission after the parse stage: its metadata, its reply, and its rows (or why it was
/// refused before any commit).
pub struct Parsed {
    pub source: String,
    pub name: String,
    pub request_key: Option<keywarden_store::RequestKey>,
    pub offset: Option<(String, String, u64)>,
    pub arrived: Instant,
    pub reply: oneshot::Sender<Result<IngestAnswer, IngestFailure>>,
    pub body: Result<ParsedBody, IngestFailure>,
}

impl Parsed {
    /// Events in the body (0 when it was refused).
    pub fn events(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.rows.len())
    }
}

impl ParseStage {
    /// Reads one body.
    pub fn parse(
        &self,
        name: &str,
        body: Vec<u8>,
        format: Option<Format>,
    ) -> Result<ParsedBody, IngestFailure> {
        let body = decompress_capped(body, self.max_decompressed_bytes)?;
        let cfg = IngestConfig {
            format,
            ..self.ingest.clone()
        };
        // Store rows plus what the live rules observe (Sigma matches, lead keys) while the
        // events are in hand; a fresh collector (and interner) per body.
        let mut rows = LiveCollector::new(Observer::new(self.settings.clone(), self.sigma.clone()));
        let outcome = ingest_bytes(name, body, &cfg, &mut rows);
        Ok(ParsedBody {
            rows: rows.rows,
            observed: rows.observed,
            rejections: outcome.rejections.iter().map(rejection_row).collect(),
        })
    }

    /// Starts `threads` workers (at least one) on `rx` with room for `window` submissions
    /// (at least `threads`) between the queue and the writer.
    pub fn spawn(
        self,
        threads: usize,
        window: usize,
        rx: Receiver<Submission>,
    ) -> std::io::Result<ParsedQueue> {
        let threads = threads.max(1);
        let window = window.max(threads);
        let slots = Arc::new(Window {
            free: Mutex::new(window),
            freed: Condvar::new(),
            closed: AtomicBool::new(false),
        });
        let queue = Arc::new(Mutex::new((rx, 0u64)));
        let (tx, parsed_rx) = mpsc::sync_channel(window);
        for i in 0..threads {
            let (stage, slots, queue, tx) =
                (self.clone(), slots.clone(), queue.clone(), tx.clone());
            std::thread::Builder::new()
                .name(format!("keywarden-parse-{i}"))
                .spawn(move || stage.work(&queue, &slots, &tx))?;
        }
        Ok(ParsedQueue {
            rx: parsed_rx,
            held: BTreeMap::new(),
            next: 0,
            slots,
        })
    }

    /// One worker: until the queue closes, take a slot, then a submission, and parse it.
    fn work(
        &self,
        queue: &Mutex<(Receiver<Submission>, u64)>,
        slots: &Window,
        tx: &SyncSender<(u64, Parsed)>,
    ) {
        loop {
            if !slots.acquire() {
                // The writer is gone: stop taking bodies (the queue then closes: 503).
                return;
            }
            let taken = match queue.lock() {
                Ok(mut q) => match q.0.recv() {
                    Ok(sub) => {
                        let seq = q.1;
                        q.1 += 1;
                        Some((seq, sub))
                    }
                    Err(_) => None,
                },
                Err(_) => None,
            };
            let Some((seq, sub)) = taken else {
                slots.release();
                return;
            };
            self.metrics
                .queue_depth
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let Submission {
                source,
                name,
                body,
                format,
                request_key,
                offset,
                arrived,
                reply,
            } = sub;
            // A panic reading one body answers that body and keeps its sequence slot filled,
            // so the bodies behind it still reach the writer.
            let body =
                std::panic::catch_unwind(AssertUnwindSafe(|| self.parse(&name, body, format)))
                    .unwrap_or_else(|_| Err(IngestFailure::Internal("the reader failed".into())));
            let parsed = Parsed {
                source,
                name,
                request_key,
                offset,
                arrived,
                reply,
                body,
            };
            if let Err(mpsc::SendError((_, p))) = tx.send((seq, parsed)) {
                let _ = p.reply.send(Err(IngestFailure::ShuttingDown));
                return;
            }
        }
    }
}

/// Free slots between the queue and the writer.
struct Window {
    free: Mutex<usize>,
    freed: Condvar,
    /// Set when the writer's end is dropped.
    closed: AtomicBool,
}

impl Window {
    /// Takes a slot, waiting for one; `false` once the writer's end is gone.
    fn acquire(&self) -> bool {
        let Ok(mut free) = self.free.lock() else {
            return false;
        };
        while *free == 0 {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            free = match self.freed.wait(free) {
                Ok(f) => f,
                Err(_) => return false,
            };
        }
        *free -= 1;
        !self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        // Under the lock, so that no worker misses the wake-up between its check and its wait.
        let _free = self.free.lock();
        self.closed.store(true, Ordering::Release);
        self.freed.notify_all();
    }

    fn release(&self) {
        if let Ok(mut free) = self.free.lock() {
            *free += 1;
            self.freed.notify_one();
        }
    }
}

/// The writer's end: parsed submissions in queue order.
pub struct ParsedQueue {
    rx: Receiver<(u64, Parsed)>,
    /// Parsed ahead of the one the writer waits for.
    held: BTreeMap<u64, Parsed>,
    next: u64,
    slots: Arc<Window>,
}

impl ParsedQueue {
    /// The next submission in queue order, waiting at most `timeout`. `Disconnected` once the
    /// queue closed and everything was handed out.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Parsed, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.take_next() {
                return Ok(p);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((seq, p)) => {
                    self.held.insert(seq, p);
                }
                Err(RecvTimeoutError::Timeout) => return Err(RecvTimeoutError::Timeout),
                Err(RecvTimeoutError::Disconnected) => {
                    // Every worker is gone: hand out what is held, in order.
                    match self.held.keys().next() {
                        Some(&seq) => self.next = seq,
                        None => return Err(RecvTimeoutError::Disconnected),
                    }
                }
            }
        }
    }

    /// The next submission in queue order if it is already parsed.
    pub fn try_next(&mut self) -> Option<Parsed> {
        loop {
            if let Some(p) = self.take_next() {
                return Some(p);
            }
            let (seq, p) = self.rx.try_recv().ok()?;
            self.held.insert(seq, p);
        }
    }

    fn take_next(&mut self) -> Option<Parsed> {
        let p = self.held.remove(&self.next)?;
        self.next += 1;
        self.slots.release();
        Some(p)
    }
}

impl Drop for ParsedQueue {
    /// Parse workers waiting for a slot stop; bodies parsed but never taken are answered.
    fn drop(&mut self) {
        self.slots.close();
        for (_, p) in std::mem::take(&mut self.held) {
            let _ = p.reply.send(Err(IngestFailure::ShuttingDown));
        }
        while let Ok((_, p)) = self.rx.try_recv() {
            let _ = p.reply.send(Err(IngestFailure::ShuttingDown));
        }
    }
}

/// Gzip/zstd bodies are decompressed here with a cap (a small body must not become gigabytes);
/// plain bodies pass through. A corrupt stream is handed on as it is, so that the ingest
/// engine rejects it with its decompression reason.
pub fn decompress_capped(body: Vec<u8>, cap: usize) -> Result<Vec<u8>, IngestFailure> {
    const GZIP: &[u8] = &[0x1f, 0x8b];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    let gzip = body.starts_with(GZIP);
    if !gzip && !body.starts_with(ZSTD) {
        if body.len() > cap {
            return Err(IngestFailure::TooLarge { limit: cap });
        }
        return Ok(body);
    }
    let mut out = Vec::new();
    let read = if gzip {
        flate2::read::MultiGzDecoder::new(&body[..])
            .take(cap as u64 + 1)
            .read_to_end(&mut out)
    } else {
        zstd::stream::read::Decoder::new(&body[..])
            .and_then(|d| d.take(cap as u64 + 1).read_to_end(&mut out))
    };
    match read {
        Ok(_) if out.len() > cap => Err(IngestFailure::TooLarge { limit: cap }),
        Ok(_) => Ok(out),
        Err(_) if out.len() > cap => Err(IngestFailure::TooLarge { limit: cap }),
        Err(_) => Ok(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_bombs_are_refused_and_plain_bodies_pass() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 4 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            decompress_capped(bomb.clone(), 1 << 20),
            Err(IngestFailure::TooLarge { .. })
        ));
        assert_eq!(decompress_capped(bomb, 8 << 20).unwrap().len(), 4 << 20);
        assert_eq!(decompress_capped(b"{}".to_vec(), 10).unwrap(), b"{}");
        // A corrupt stream is passed on for the engine to reject.
        let corrupt = vec![0x1f, 0x8b, 0, 0, 0];
        assert_eq!(decompress_capped(corrupt.clone(), 10).unwrap(), corrupt);
    }

    fn stage() -> ParseStage {
        ParseStage {
            settings: Arc::new(keywarden_detect::DetectConfig::default().build().unwrap()),
            sigma: None,
            ingest: IngestConfig {
                threads: 1,
                ..IngestConfig::default()
            },
            max_decompressed_bytes: 1 << 20,
            metrics: Arc::default(),
        }
    }

    fn submission(i: usize, lines: usize) -> Submission {
        let body: String = (0..lines)
            .map(|j| format!("{{\"Id\":\"r{i}-{j}\",\"RecordType\":50,\"Operation\":\"X\"}}\n"))
            .collect();
        Submission {
            source: "test".into(),
            name: format!("body-{i}"),
            body: body.into_bytes(),
            format: None,
            request_key: None,
            offset: None,
            arrived: Instant::now(),
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn parsed_bodies_come_out_in_queue_order_within_the_window() {
        let (tx, rx) = mpsc::sync_channel(32);
        for i in 0..24 {
            // Early bodies are the largest: later ones finish parsing first.
            tx.send(submission(i, (24 - i) * 40)).unwrap();
        }
        drop(tx);
        let mut q = stage().spawn(3, 4, rx).unwrap();
        // The writer has taken nothing: exactly the window is parsed ahead, no more.
        std::thread::sleep(Duration::from_millis(300));
        while let Ok((seq, p)) = q.rx.try_recv() {
            q.held.insert(seq, p);
        }
        assert_eq!(q.held.len(), 4);
        let mut names = Vec::new();
        while let Ok(p) = q.recv_timeout(Duration::from_secs(10)) {
            assert_eq!(p.events(), (24 - names.len()) * 40);
            names.push(p.name);
        }
        let expected: Vec<String> = (0..24).map(|i| format!("body-{i}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_gone_writer_stops_the_workers_and_closes_the_queue() {
        let (tx, rx) = mpsc::sync_channel(32);
        let q = stage().spawn(2, 2, rx).unwrap();
        let mut answers = Vec::new();
        for i in 0..6 {
            let (reply, answer) = oneshot::channel();
            tx.send(Submission {
                reply,
                ..submission(i, 10)
            })
            .unwrap();
            answers.push(answer);
        }
        std::thread::sleep(Duration::from_millis(200));
        drop(q);
        // Every body a worker took is answered; the workers stop, the queue closes.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tx.try_send(submission(99, 1)) {
                Err(mpsc::TrySendError::Disconnected(_)) => break,
                _ => assert!(Instant::now() < deadline, "the queue never closed"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let answered = answers
            .into_iter()
            .filter_map(|mut a| a.try_recv().ok())
            .inspect(|a| assert!(matches!(a, Err(IngestFailure::ShuttingDown))))
            .count();
        assert!(answered >= 2, "{answered}");
    }
}
