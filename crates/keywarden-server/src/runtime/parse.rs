//! The parse stage between the ingest queue and the writer: a few worker threads take queued
//! [`Submission`]s, decompress them (capped) and read every record with the ingest engine into
//! store rows, rejections and what the live rules observe. The writer thread then only commits
//! and detects ([`crate::runtime::writer`]), while the parsing of the next bodies runs on the other
//! cores.
//!
//! A body is read as a stream ([`crate::runtime::body_decode`] unwraps its compression layers under one
//! cap; [`keywarden_ingest::ingest_reader`] streams JSON lines and access-log text in blocks)
//! and its rows are handed on in pieces of about `ingest.chunk_bytes` (their estimated size in
//! memory): a body that fits one piece reaches the writer whole, as [`Parsed::body`]; a larger
//! one reaches it as its first piece plus [`Parsed::rest`], a channel of one piece, which the
//! writer drains into one transaction while this worker reads on. Memory per worker is thus a
//! few pieces and the decoders' buffers, whatever the body's size; a document that can only be
//! read whole (JSON array, Graph page, CSV, EVTX, UTF-16 text) is capped at
//! `ingest.max_input_bytes` ([`IngestFailure::WholeTooLarge`] past it).
//!
//! Order and memory stay bounded: each submission gets a sequence number as it leaves the queue,
//! and [`ParsedQueue`] hands parsed bodies to the writer in that order (the order they were
//! queued). At most `window` submissions are between the queue and the writer (being parsed, or
//! parsed and waiting): a worker takes a new body only when a slot is free, and the writer frees
//! one each time it takes a body.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use keywarden_detect::Settings;
use keywarden_ingest::{
    Format, IngestConfig, Observer as IngestObserver, Processor, Rejection, ingest_reader,
};
use keywarden_model::Event;
use keywarden_sigma::SigmaStage;
use keywarden_store::{EventRow, RejectionRow};
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::runtime::body_decode::open_layers;
use crate::runtime::convert::{event_row, rejection_row};
use crate::runtime::live::observe::{Observed, Observer};
use crate::runtime::queue::{IngestAnswer, IngestFailure, Submission};

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

impl ParsedBody {
    fn append(&mut self, other: ParsedBody) {
        self.rows.extend(other.rows);
        self.observed.extend(other.observed);
        self.rejections.extend(other.rejections);
    }
}

/// A piece of a body read in several pieces, after the first ([`Parsed::rest`]).
#[derive(Debug)]
pub enum BodyPart {
    Rows(ParsedBody),
    /// The body ended: read to its end (`Ok`), or refused (every piece of it is then void).
    End(Result<(), IngestFailure>),
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
    /// For a body read in several pieces: `body` is its first piece, the rest come here, ending with
    /// [`BodyPart::End`]. `None`: `body` is the whole body.
    pub rest: Option<Receiver<BodyPart>>,
}

impl Parsed {
    /// Events in the body (0 when it was refused).
    pub fn events(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.rows.len())
    }
}

impl ParseStage {
    /// Reads one body whole into memory (tests and tools; the workers stream it with
    /// [`ParseStage::parse_pieces`]).
    pub fn parse(
        &self,
        name: &str,
        body: Vec<u8>,
        format: Option<Format>,
    ) -> Result<ParsedBody, IngestFailure> {
        let mut all = ParsedBody::default();
        let last = self.parse_pieces(name, body, format, &mut |piece| {
            all.append(piece);
            true
        })?;
        all.append(last);
        Ok(all)
    }

    /// Reads one body, handing its rows to `emit` in pieces of about `ingest.chunk_bytes`
    /// (estimated size in memory; `emit` answers `false` to stop reading: the body is
    /// abandoned), and returns the last piece, or why the body is refused: the decompression
    /// cap, too many layers, a whole-read document over `ingest.max_input_bytes`. A refused
    /// body's emitted pieces are void.
    pub fn parse_pieces(
        &self,
        name: &str,
        body: Vec<u8>,
        format: Option<Format>,
        emit: &mut (dyn FnMut(ParsedBody) -> bool + Send),
    ) -> Result<ParsedBody, IngestFailure> {
        let body = Arc::new(body);
        let decoded = open_layers(body.clone(), self.max_decompressed_bytes)?;
        if decoded.layers > 0 {
            // Compressed: decoded once without keeping anything, so that a body over the cap
            // is refused before any of its pieces reaches the writer (a small body expanding
            // to gigabytes costs at most the cap in decoding, never memory or rows).
            let mut probe = open_layers(body, self.max_decompressed_bytes)?;
            let _ = std::io::copy(&mut probe.reader, &mut std::io::sink());
            if probe.budget.exceeded() {
                return Err(IngestFailure::TooLarge {
                    limit: self.max_decompressed_bytes,
                });
            }
        }
        let cfg = IngestConfig {
            format,
            // Every rejection reaches the pieces through the observer.
            max_listed_rejections: 0,
            ..self.ingest.clone()
        };
        let pieces = Mutex::new(Pieces {
            body: ParsedBody::default(),
            cost: 0,
            limit: cfg.chunk_bytes.max(64 * 1024),
            emit,
            emitted: false,
            stopped: false,
            whole_too_large: false,
            budget: decoded.budget.clone(),
        });
        // Rows plus what the live rules observe (Sigma matches, lead keys) while the events
        // are in hand; a fresh observer (and interner) per body.
        let mut collector = PieceCollector {
            pieces: &pieces,
            observer: Observer::new(self.settings.clone(), self.sigma.clone()),
            settings: self.settings.clone(),
            sigma: self.sigma.clone(),
        };
        let layered = decoded.layers > 0;
        let rejections = PieceRejections(&pieces);
        ingest_reader(
            name,
            decoded.reader,
            layered,
            &cfg,
            &mut collector,
            &rejections,
        );
        let p = pieces.into_inner().unwrap_or_else(|e| e.into_inner());
        if p.budget.exceeded() {
            return Err(IngestFailure::TooLarge {
                limit: self.max_decompressed_bytes,
            });
        }
        if p.whole_too_large {
            return Err(IngestFailure::WholeTooLarge {
                limit: cfg.max_input_bytes,
            });
        }
        if p.stopped {
            return Err(IngestFailure::ShuttingDown);
        }
        Ok(p.body)
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
            let mut out = PieceSender {
                seq,
                meta: Some(Parsed {
                    source,
                    name: name.clone(),
                    request_key,
                    offset,
                    arrived,
                    reply,
                    body: Ok(ParsedBody::default()),
                    rest: None,
                }),
                ordered: tx,
                stream: None,
                writer_gone: false,
            };
            // A panic reading one body answers that body and keeps its sequence slot filled,
            // so the bodies behind it still reach the writer.
            let last = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.parse_pieces(&name, body, format, &mut |piece| out.send(piece))
            }))
            .unwrap_or_else(|_| Err(IngestFailure::Internal("the reader failed".into())));
            if !out.finish(last) {
                return;
            }
        }
    }
}

/// Where one body's pieces go: the first to the writer's ordered queue (with the body's
/// metadata and, once a second piece exists, the channel of the rest), the others into that
/// channel, which holds one piece (the worker waits for the writer: back-pressure).
struct PieceSender<'t> {
    seq: u64,
    /// The body's metadata until its first piece is sent.
    meta: Option<Parsed>,
    ordered: &'t SyncSender<(u64, Parsed)>,
    stream: Option<SyncSender<BodyPart>>,
    writer_gone: bool,
}

impl PieceSender<'_> {
    /// Sends a full piece; `false` stops reading the body (the writer gave it up, or is gone).
    fn send(&mut self, piece: ParsedBody) -> bool {
        if let Some(stream) = &self.stream {
            return stream.send(BodyPart::Rows(piece)).is_ok();
        }
        let Some(mut parsed) = self.meta.take() else {
            return false;
        };
        let (tx, rx) = mpsc::sync_channel(1);
        parsed.body = Ok(piece);
        parsed.rest = Some(rx);
        self.stream = Some(tx);
        self.deliver(parsed)
    }

    /// Sends the last piece (or why the body is refused); `false` when the writer is gone.
    fn finish(mut self, last: Result<ParsedBody, IngestFailure>) -> bool {
        match (self.meta.take(), &self.stream) {
            (Some(mut parsed), _) => {
                parsed.body = last;
                self.deliver(parsed);
            }
            (None, Some(stream)) => {
                // A closed channel: the writer gave this body up (and answered it).
                let _ = match last {
                    Ok(piece) => stream
                        .send(BodyPart::Rows(piece))
                        .and_then(|()| stream.send(BodyPart::End(Ok(())))),
                    Err(f) => stream.send(BodyPart::End(Err(f))),
                };
            }
            (None, None) => {}
        }
        !self.writer_gone
    }

    fn deliver(&mut self, parsed: Parsed) -> bool {
        if let Err(mpsc::SendError((_, p))) = self.ordered.send((self.seq, parsed)) {
            let _ = p.reply.send(Err(IngestFailure::ShuttingDown));
            self.writer_gone = true;
            return false;
        }
        true
    }
}

/// The piece being filled and where full pieces go.
struct Pieces<'e> {
    body: ParsedBody,
    /// Estimated bytes `body` holds in memory.
    cost: usize,
    limit: usize,
    emit: &'e mut (dyn FnMut(ParsedBody) -> bool + Send),
    /// A piece went out: the body is streamed.
    emitted: bool,
    /// `emit` refused a piece: reading stopped.
    stopped: bool,
    /// A document read whole went past `max_input_bytes`.
    whole_too_large: bool,
    budget: Arc<crate::runtime::body_decode::DecodeBudget>,
}

impl Pieces<'_> {
    /// Hands the piece on once it is full; `true` when it did.
    fn hand_on_if_full(&mut self) -> bool {
        if self.cost < self.limit || self.stopped {
            return false;
        }
        let piece = std::mem::take(&mut self.body);
        self.cost = 0;
        self.emitted = true;
        if !(self.emit)(piece) {
            self.stopped = true;
            // The next read of the body fails: the engine stops at once.
            self.budget.abort();
        }
        true
    }
}

/// Bytes a row holds in memory, about: its strings plus the allocations around them.
fn row_cost(r: &EventRow) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    512 + r.raw.len()
        + r.record_ref.len()
        + opt(&r.tenant)
        + opt(&r.user)
        + opt(&r.client_ip)
        + opt(&r.app_id)
        + opt(&r.client_app_id)
        + opt(&r.session_id)
        + opt(&r.token_id)
        + opt(&r.token_tenant)
        + opt(&r.mailbox)
        + opt(&r.operation)
        + opt(&r.user_agent)
        + opt(&r.signing_key_id)
        + opt(&r.category)
}

/// The ingest processor of [`ParseStage::parse_pieces`]: rows and what the live rules observe
/// into the current piece.
struct PieceCollector<'p, 'e> {
    pieces: &'p Mutex<Pieces<'e>>,
    observer: Observer,
    settings: Arc<Settings>,
    sigma: Option<Arc<SigmaStage>>,
}

impl Processor for PieceCollector<'_, '_> {
    fn process(&mut self, event: &Event<'_>) {
        let row = event_row(event);
        let mut p = self.pieces.lock().unwrap_or_else(|e| e.into_inner());
        if p.stopped {
            return;
        }
        let observed = self.observer.observe(event);
        p.cost += row_cost(&row);
        p.body.rows.push(row);
        p.body.observed.push(observed);
        if p.hand_on_if_full() {
            // A fresh interner per piece: a long body does not grow one without bound.
            self.observer = Observer::new(self.settings.clone(), self.sigma.clone());
        }
    }
}

/// Every rejection (with its raw bytes, capped) into the current piece.
struct PieceRejections<'p, 'e>(&'p Mutex<Pieces<'e>>);

impl IngestObserver for PieceRejections<'_, '_> {
    fn rejected(&self, r: &Rejection) {
        let mut p = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if r.code == "input-too-large" {
            // Refused whole: stop before any row of the truncated document is read.
            p.whole_too_large = true;
            p.stopped = true;
            p.budget.abort();
        }
        if p.stopped {
            return;
        }
        let row = rejection_row(r);
        p.cost += 256 + row.reason.len() + row.raw.as_ref().map_or(0, String::len);
        p.body.rejections.push(row);
        let _ = p.hand_on_if_full();
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn stage() -> ParseStage {
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
