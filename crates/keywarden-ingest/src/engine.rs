//! The ingest engine: a small work-stealing pool where each worker owns one [`Processor`].
//!
//! Tasks are "load input N" (read, decompress, sniff, then either process the input whole or
//! split it into chunks) and "process this chunk" (a run of JSON or access-log lines, or a run
//! of array elements). Large JSON-lines files and large arrays are thus spread over all cores,
//! while each worker feeds its own processor, so processors need no locking.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::container::json::{At, Ctx, LineTracker};
use crate::container::values::{self, Piece};
use crate::container::{self, Container, http_text, json};
use crate::format::Format;
use std::io::Read;

use crate::load::{BOM_LEN, InputSource, Loaded, Opened, open_prefix};
use crate::reject::{RejectReason, Rejection};
use crate::report::IngestReport;
use crate::sink::{Counts, Processor, Sink};

/// Settings for one ingest run.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Force one shape for every record (`--format`); `None` sniffs per input and per record.
    pub format: Option<Format>,
    /// Records larger than this are rejected unparsed (default 16 MiB).
    pub max_record_bytes: usize,
    /// Target size of a parallel chunk of a large input (default 4 MiB).
    pub chunk_bytes: usize,
    /// Worker threads (default: available parallelism).
    pub threads: usize,
    /// At most this many rejections are listed in the report; all are counted and all reach
    /// the [`Observer`] (default 10 000).
    pub max_listed_rejections: usize,
    /// Inputs that are read whole (arrays, Graph pages, CSV, EVTX, and every `ingest_bytes`
    /// body) may decompress to at most this many bytes; past it the rest is not read and one
    /// `input-too-large` rejection says so (default 4 GiB). Line-oriented inputs are streamed
    /// and have no such limit.
    pub max_input_bytes: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            format: None,
            max_record_bytes: 16 * 1024 * 1024,
            chunk_bytes: 4 * 1024 * 1024,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_listed_rejections: 10_000,
            max_input_bytes: 4 << 30,
        }
    }
}

/// Hooks called from worker threads while ingest runs.
pub trait Observer: Sync {
    /// Every rejection, with its raw bytes (write them to `rejected.jsonl`).
    fn rejected(&self, _rejection: &Rejection) {}
    /// `bytes` more of the inputs (as stored on disk) have been read.
    fn progress(&self, _bytes: u64) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

pub(crate) enum Task {
    Load(usize),
    /// Lines `data[start..end]`; `base` is the input offset of `data[0]`.
    Lines {
        input: usize,
        data: Arc<Vec<u8>>,
        start: usize,
        end: usize,
        base: u64,
        first_line: u64,
        http: bool,
    },
    Elements {
        input: usize,
        data: Arc<Loaded>,
        elements: Vec<ElementRef>,
    },
}

/// One record of a large JSON document, found by [`values::walk`].
pub(crate) struct ElementRef {
    start: usize,
    end: usize,
    line: u64,
    /// The record may itself be a page or an envelope.
    containers: bool,
}

pub(crate) struct Shared<'a> {
    pub(crate) inputs: &'a [InputSource],
    pub(crate) cfg: &'a IngestConfig,
    pub(crate) observer: &'a dyn Observer,
    /// Bytes of queued line chunks not yet processed (bounds streaming memory).
    pub(crate) inflight: AtomicUsize,
    queue: Mutex<VecDeque<Task>>,
    ready: Condvar,
    pending: AtomicUsize,
    counts: Mutex<Vec<Counts>>,
    labels: Mutex<Vec<&'static str>>,
    skipped: Mutex<Vec<Option<String>>>,
    rejections: Mutex<(Vec<(usize, Rejection)>, u64)>,
}

impl<'a> Shared<'a> {
    /// The shared state of a run over `inputs`, with a load task queued for each when `queue_loads`.
    pub(crate) fn new(
        inputs: &'a [InputSource],
        cfg: &'a IngestConfig,
        observer: &'a dyn Observer,
        queue_loads: bool,
    ) -> Shared<'a> {
        let queue = if queue_loads {
            (0..inputs.len()).map(Task::Load).collect()
        } else {
            VecDeque::new()
        };
        Shared {
            inputs,
            cfg,
            observer,
            inflight: AtomicUsize::new(0),
            queue: Mutex::new(queue),
            ready: Condvar::new(),
            pending: AtomicUsize::new(inputs.len()),
            counts: Mutex::new(vec![Counts::default(); inputs.len()]),
            labels: Mutex::new(vec!["empty"; inputs.len()]),
            skipped: Mutex::new(vec![None; inputs.len()]),
            rejections: Mutex::new((Vec::new(), 0)),
        }
    }

    /// Marks one load (run outside the queue) done.
    pub(crate) fn load_done(&self) {
        self.one_done();
    }

    /// Counts one task or load done; the last one wakes every waiting worker to end. The queue
    /// lock is taken and released before notifying: a worker that read `pending > 0` under it
    /// is then already waiting, so it hears this. Without it the last wake-up could fall
    /// between a worker's check and its wait, and that worker waited forever (regression:
    /// `first_seen_rollup`'s two-thread run hung in CI on 5 December 2026).
    fn one_done(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()));
            self.ready.notify_all();
        }
    }

    /// Counts, labels, skip reasons, and the listed rejections with how many were not listed.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_parts(
        self,
    ) -> (
        Vec<Counts>,
        Vec<&'static str>,
        Vec<Option<String>>,
        Vec<(usize, Rejection)>,
        u64,
    ) {
        let counts = self.counts.into_inner().unwrap_or_else(|e| e.into_inner());
        let labels = self.labels.into_inner().unwrap_or_else(|e| e.into_inner());
        let skipped = self.skipped.into_inner().unwrap_or_else(|e| e.into_inner());
        let (listed, unlisted) = self
            .rejections
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        (counts, labels, skipped, listed, unlisted)
    }
}

/// Reads every input, handing events to processors made by `make` (one per worker).
/// Returns the account of what was read and the processors.
pub fn ingest<P, F>(
    inputs: &[InputSource],
    cfg: &IngestConfig,
    make: F,
    observer: &dyn Observer,
) -> (IngestReport, Vec<P>)
where
    P: Processor,
    F: Fn() -> P + Sync,
{
    let shared = Shared::new(inputs, cfg, observer, true);
    let threads = cfg.threads.max(1);
    let processors: Vec<P> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let shared = &shared;
                let make = &make;
                s.spawn(move || {
                    let mut p = make();
                    worker(shared, &mut p);
                    p.finish();
                    p
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let (counts, labels, skipped, mut listed, unlisted) = shared.into_parts();
    listed.sort_by_key(|(i, r)| (*i, r.offset, r.line, r.record_number));
    let report = IngestReport::build(
        inputs, &counts, &labels, &skipped, cfg.format, listed, unlisted,
    );
    (report, processors)
}

pub(crate) fn worker(shared: &Shared<'_>, p: &mut dyn Processor) {
    loop {
        let task = {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(t) = q.pop_front() {
                    break t;
                }
                if shared.pending.load(Ordering::SeqCst) == 0 {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        run_one(shared, task, p);
    }
}

/// Runs a task taken from the queue and marks it done.
fn run_one(shared: &Shared<'_>, task: Task, p: &mut dyn Processor) {
    run(shared, task, p);
    shared.one_done();
}

/// Used by a streaming loader: while too many bytes are queued, process queued tasks here.
pub(crate) fn help_until_below(shared: &Shared<'_>, cap: usize, p: &mut dyn Processor) {
    while shared.inflight.load(Ordering::SeqCst) > cap {
        let task = shared
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        match task {
            Some(t) => run_one(shared, t, p),
            None => std::thread::yield_now(),
        }
    }
}

pub(crate) fn push(shared: &Shared<'_>, tasks: Vec<Task>) {
    if tasks.is_empty() {
        return;
    }
    shared.pending.fetch_add(tasks.len(), Ordering::SeqCst);
    let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
    // Chunks go first: they hold memory that should be released before the next load.
    for t in tasks.into_iter().rev() {
        q.push_front(t);
    }
    drop(q);
    shared.ready.notify_all();
}

fn run(shared: &Shared<'_>, task: Task, p: &mut dyn Processor) {
    let cfg = shared.cfg;
    let input = task.input();
    let name = shared.inputs[input].name.as_str();
    if let Task::Load(i) = task {
        return load_task(shared, i, p);
    }
    let chunk_len = match &task {
        Task::Lines { start, end, .. } => end - start,
        _ => 0,
    };
    let mut sink = Sink::new(p, cfg.max_record_bytes);
    run_chunk(cfg, name, task, &mut sink);
    let (counts, rejections) = sink.take();
    record(shared, input, counts, rejections);
    shared.inflight.fetch_sub(chunk_len, Ordering::SeqCst);
}

/// Opens input `i`: small inputs and those that cannot be streamed are loaded whole and
/// processed (or split into chunk tasks); large line-oriented inputs are streamed in blocks.
fn load_task(shared: &Shared<'_>, i: usize, p: &mut dyn Processor) {
    let opened = open_prefix(&shared.inputs[i], prefix_len(shared.cfg));
    load_opened(shared, i, opened, p);
}

/// How many bytes of an input are read before deciding whether to stream it.
pub(crate) fn prefix_len(cfg: &IngestConfig) -> usize {
    cfg.chunk_bytes.max(64 * 1024) * 2
}

/// Processes input `i` once opened (see [`load_task`]).
pub(crate) fn load_opened(shared: &Shared<'_>, i: usize, opened: Opened, p: &mut dyn Processor) {
    let cfg = shared.cfg;
    let name = shared.inputs[i].name.as_str();
    let loaded = match opened {
        Opened::Complete(loaded) => {
            shared.observer.progress(loaded.bytes.len() as u64);
            loaded
        }
        Opened::Partial {
            mut prefix,
            mut rest,
            compressed,
        } => {
            shared.observer.progress(prefix.len() as u64);
            let start = if prefix.starts_with(&[0xef, 0xbb, 0xbf]) {
                BOM_LEN
            } else {
                0
            };
            // UTF-16 is decoded whole, so it is never streamed.
            let utf8 = crate::load::text_encoding(&prefix) == crate::load::TextEncoding::Utf8;
            let container = container::sniff(&prefix[start..], cfg.format);
            if utf8 && matches!(container, Container::JsonLines | Container::HttpText) {
                set_label(shared, i, container.label(), None);
                let http = container == Container::HttpText;
                return crate::stream::LineStream {
                    shared,
                    input: i,
                    buf: prefix,
                    consumed: start,
                    rest,
                    compressed,
                    http,
                }
                .run(p);
            }
            // Not streamable: read the rest, up to the input cap.
            let room = cfg.max_input_bytes.saturating_sub(prefix.len() as u64);
            let mut error = (&mut rest)
                .take(room)
                .read_to_end(&mut prefix)
                .err()
                .map(|e| crate::load::classify_read_error(e, compressed));
            if error.is_none() && crate::load::has_more(&mut rest) {
                error = Some(RejectReason::InputTooLarge {
                    cap: cfg.max_input_bytes,
                });
            }
            shared.observer.progress(prefix.len() as u64);
            let (bytes, start) = crate::load::decode_text(prefix);
            Loaded {
                bytes,
                start,
                error,
            }
        }
    };
    let mut sink = Sink::new(p, cfg.max_record_bytes);
    let (tasks, label, skipped) = process_loaded(cfg, name, i, loaded, &mut sink);
    set_label(shared, i, label, skipped);
    let (counts, rejections) = sink.take();
    record(shared, i, counts, rejections);
    for t in &tasks {
        if let Task::Lines { start, end, .. } = t {
            shared.inflight.fetch_add(end - start, Ordering::SeqCst);
        }
    }
    push(shared, tasks);
}

fn set_label(shared: &Shared<'_>, i: usize, label: &'static str, skipped: Option<String>) {
    if let Ok(mut l) = shared.labels.lock() {
        l[i] = label;
    }
    if let Ok(mut s) = shared.skipped.lock() {
        s[i] = skipped;
    }
}

impl Task {
    fn input(&self) -> usize {
        match self {
            Task::Load(i) | Task::Lines { input: i, .. } | Task::Elements { input: i, .. } => *i,
        }
    }
}

/// Runs a chunk task (never a load).
fn run_chunk(cfg: &IngestConfig, name: &str, task: Task, sink: &mut Sink<'_>) {
    let ctx = Ctx {
        path: name,
        forced: cfg.format,
        max_record_bytes: cfg.max_record_bytes,
    };
    match task {
        Task::Load(_) => {}
        Task::Lines {
            data,
            start,
            end,
            first_line,
            http,
            base,
            ..
        } => process_lines(
            &ctx,
            &data[start..end],
            base + start as u64,
            first_line,
            http,
            sink,
        ),
        Task::Elements { data, elements, .. } => {
            for el in elements {
                let at = At {
                    offset: el.start as u64,
                    line: Some(el.line),
                };
                let text = &data.bytes[el.start..el.end];
                json::process_text(&ctx, text, at, el.containers, sink);
            }
        }
    }
}

/// What one in-memory input yielded (see [`ingest_bytes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BytesOutcome {
    pub counts: Counts,
    /// Every rejection, with raw bytes.
    pub rejections: Vec<Rejection>,
    /// The container label (`json`, `csv`, `evtx`, `empty`, `not-a-log`...).
    pub container: &'static str,
    /// Set when the bytes are not a log at all.
    pub skipped: Option<String>,
}

/// Reads one in-memory input on the calling thread: for tests, fuzzing and the server's
/// ingest endpoint. `bytes` may be gzip or zstd compressed.
pub fn ingest_bytes(
    name: &str,
    bytes: Vec<u8>,
    cfg: &IngestConfig,
    processor: &mut dyn Processor,
) -> BytesOutcome {
    let loaded = crate::load::from_bytes(bytes, cfg.max_input_bytes);
    let mut sink = Sink::new(processor, cfg.max_record_bytes);
    let (tasks, container, skipped) = process_loaded(cfg, name, 0, loaded, &mut sink);
    for t in tasks {
        run_chunk(cfg, name, t, &mut sink);
    }
    let (counts, rejections) = sink.take();
    BytesOutcome {
        counts,
        rejections,
        container,
        skipped,
    }
}

pub(crate) fn record(
    shared: &Shared<'_>,
    input: usize,
    counts: Counts,
    rejections: Vec<Rejection>,
) {
    for r in &rejections {
        shared.observer.rejected(r);
    }
    if let Ok(mut c) = shared.counts.lock() {
        c[input].merge(&counts);
    }
    let mut g = shared.rejections.lock().unwrap_or_else(|e| e.into_inner());
    for mut r in rejections {
        if g.0.len() < shared.cfg.max_listed_rejections {
            r.raw = None;
            g.0.push((input, r));
        } else {
            g.1 += 1;
        }
    }
}

/// Sniffs a freshly loaded input and processes it, or returns the chunk tasks to run.
/// Also returns the container label and, for a non-log, why it was skipped.
fn process_loaded(
    cfg: &IngestConfig,
    name: &str,
    i: usize,
    loaded: Loaded,
    sink: &mut Sink<'_>,
) -> (Vec<Task>, &'static str, Option<String>) {
    let ctx = &Ctx {
        path: name,
        forced: cfg.format,
        max_record_bytes: cfg.max_record_bytes,
    };
    let start = loaded.start;
    let body = &loaded.bytes[start..];
    let container = if crate::manifest::is_collect_manifest(name, body) {
        Container::NotALog(crate::manifest::COLLECT_MANIFEST_SKIPPED)
    } else {
        container::sniff(body, cfg.format)
    };
    let label = container.label();
    if let Some(reason) = &loaded.error {
        // Count the damage once, at the offset where decoding stopped.
        let r = Rejection::new(ctx.path, reason.clone()).at_offset(loaded.bytes.len() as u64);
        sink.reject(r);
    }
    let at = At {
        offset: start as u64,
        line: Some(1),
    };
    // Not a log: it holds no records, so nothing is rejected; the input is listed as
    // skipped with the reason.
    if let Container::NotALog(why) = container {
        return (Vec::new(), label, Some(why.to_string()));
    }
    let tasks = match container {
        Container::Empty | Container::NotALog(_) => Vec::new(),
        Container::Evtx => {
            container::evtx::read(ctx.path, body, sink);
            Vec::new()
        }
        Container::Csv => {
            container::csv::read(ctx.path, body, start as u64, cfg.format, sink);
            Vec::new()
        }
        Container::JsonDocument | Container::JsonSequence => {
            if body.len() > cfg.chunk_bytes {
                split_value_tasks(i, loaded, cfg.chunk_bytes, ctx, sink)
            } else {
                json::process_values(ctx, body, at, sink);
                Vec::new()
            }
        }
        Container::JsonLines | Container::HttpText => {
            let http = container == Container::HttpText;
            if body.len() <= cfg.chunk_bytes {
                process_lines(ctx, body, start as u64, 1, http, sink);
                Vec::new()
            } else {
                split_line_tasks(i, loaded, cfg.chunk_bytes, http)
            }
        }
    };
    (tasks, label, None)
}

/// Cuts a line-oriented input into chunks that end at a newline.
fn split_line_tasks(input: usize, loaded: Loaded, chunk: usize, http: bool) -> Vec<Task> {
    let first = loaded.start;
    let data = Arc::new(loaded.bytes);
    let b = &data;
    let mut tasks = Vec::new();
    let mut s = first;
    let mut line = 1u64;
    while s < b.len() {
        let target = (s + chunk).min(b.len());
        let e = if target == b.len() {
            b.len()
        } else {
            memchr::memchr(b'\n', &b[target..]).map_or(b.len(), |k| target + k + 1)
        };
        tasks.push(Task::Lines {
            input,
            data: Arc::clone(&data),
            start: s,
            end: e,
            base: 0,
            first_line: line,
            http,
        });
        line += memchr::memchr_iter(b'\n', &b[s..e]).count() as u64;
        s = e;
    }
    tasks
}

/// Splits a large JSON document (or several in one input: appended arrays, pages) into chunks
/// of records; damaged stretches are rejected here, in order.
fn split_value_tasks(
    input: usize,
    loaded: Loaded,
    chunk: usize,
    ctx: &Ctx<'_>,
    sink: &mut Sink<'_>,
) -> Vec<Task> {
    let data = Arc::new(loaded);
    let start = data.start;
    let body = &data.bytes[start..];
    let mut lines = LineTracker::new(
        body,
        At {
            offset: start as u64,
            line: Some(1),
        },
    );
    let mut tasks = Vec::new();
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    values::walk(body, |piece| match piece {
        Piece::Record {
            start: s,
            end: e,
            containers,
        } => {
            let line = lines.at(s).line.unwrap_or(1);
            batch.push(ElementRef {
                start: start + s,
                end: start + e,
                line,
                containers,
            });
            batch_bytes += e - s;
            if batch_bytes >= chunk {
                tasks.push(Task::Elements {
                    input,
                    data: Arc::clone(&data),
                    elements: std::mem::take(&mut batch),
                });
                batch_bytes = 0;
            }
        }
        Piece::Damaged { start: s, .. } => {
            let here = lines.at(s);
            json::damaged(ctx, body, piece, here, sink);
        }
    });
    if !batch.is_empty() {
        tasks.push(Task::Elements {
            input,
            data: Arc::clone(&data),
            elements: batch,
        });
    }
    tasks
}

/// Processes a run of lines (JSON or access log). Blank lines are not records.
fn process_lines(
    ctx: &Ctx<'_>,
    text: &[u8],
    base: u64,
    first_line: u64,
    http: bool,
    sink: &mut Sink<'_>,
) {
    let mut line_no = first_line;
    let mut pos = 0usize;
    while pos < text.len() {
        let nl = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |k| pos + k);
        let mut line = &text[pos..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let at = At {
            offset: base + pos as u64,
            line: Some(line_no),
        };
        if !line.iter().all(u8::is_ascii_whitespace) {
            if http {
                process_http_line(ctx, line, at, sink);
            } else {
                json::process_text(ctx, line, at, true, sink);
            }
        }
        line_no += 1;
        pos = nl + 1;
    }
}

fn process_http_line(ctx: &Ctx<'_>, line: &[u8], at: At, sink: &mut Sink<'_>) {
    if line.len() > ctx.max_record_bytes {
        let reason = RejectReason::TooLarge {
            size: line.len() as u64,
            cap: ctx.max_record_bytes as u64,
        };
        return ctx.reject(sink, reason, at, line);
    }
    let s = match std::str::from_utf8(line) {
        Ok(s) => s,
        Err(e) => {
            let reason = RejectReason::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            };
            return ctx.reject(sink, reason, at, line);
        }
    };
    let origin = keywarden_model::Origin {
        path: ctx.path,
        line: at.line,
        offset: at.offset,
        record_number: None,
    };
    match http_text::parse_line(s, origin) {
        Ok(ev) => sink.event(ev),
        Err(reason) => ctx.reject(sink, reason, at, line),
    }
}
