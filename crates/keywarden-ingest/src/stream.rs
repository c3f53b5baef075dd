//! Streaming large line-oriented inputs (JSON lines, access logs) in bounded blocks.
//!
//! The loader reads a block of about `chunk_bytes`, cuts it after its last newline, queues it
//! as a chunk task for any worker, and carries the partial line over. Memory stays bounded:
//! when the bytes queued but not yet processed exceed a cap, the loader stops reading and
//! processes queued chunks itself. A single line longer than the record cap is skipped to its
//! end without being held in memory, and rejected as `too-large`.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::{Shared, Task, help_until_below, push, record};
use crate::load::classify_read_error;
use crate::reject::{RejectReason, Rejection};
use crate::sink::{Processor, Sink};

/// A line-oriented input being streamed.
pub(crate) struct LineStream<'s, 'a> {
    pub shared: &'s Shared<'a>,
    pub input: usize,
    /// Bytes read but not yet handed out start at `buf[consumed]`.
    pub buf: Vec<u8>,
    pub consumed: usize,
    pub rest: Box<dyn Read + Send>,
    pub compressed: bool,
    pub http: bool,
}

/// Where the loader stands and how reading went.
struct State {
    /// Offset (in the decompressed input) of `buf[0]`.
    base: u64,
    /// Line number of the first line in `buf`.
    line: u64,
    eof: bool,
    error: Option<RejectReason>,
    tmp: Vec<u8>,
}

impl LineStream<'_, '_> {
    /// Streams the rest of the input, queueing chunks and helping to process them.
    pub(crate) fn run(mut self, p: &mut dyn Processor) {
        let cfg = self.shared.cfg;
        let block = cfg.chunk_bytes.max(64 * 1024);
        let cap = block * (cfg.threads.max(1) * 4).max(8);
        let mut st = State {
            base: 0,
            line: 1,
            eof: false,
            error: None,
            tmp: vec![0u8; 256 * 1024],
        };
        loop {
            let want = self.consumed + block;
            self.fill(&mut st, want);
            if self.buf.len() == self.consumed {
                break;
            }
            let avail = &self.buf[self.consumed..];
            let cut = match memchr::memrchr(b'\n', avail) {
                Some(k) => self.consumed + k + 1,
                None if st.eof => self.buf.len(),
                None if avail.len() > cfg.max_record_bytes => {
                    self.skip_long_line(&mut st, p);
                    continue;
                }
                None => {
                    // A line longer than a block but within the cap: read on.
                    let want = self.buf.len() + block;
                    self.fill(&mut st, want);
                    continue;
                }
            };
            let tail = self.buf.split_off(cut);
            let chunk = std::mem::replace(&mut self.buf, tail);
            let start = std::mem::take(&mut self.consumed);
            let lines = memchr::memchr_iter(b'\n', &chunk[start..]).count() as u64;
            let len = chunk.len();
            self.shared
                .inflight
                .fetch_add(len - start, Ordering::SeqCst);
            let task = Task::Lines {
                input: self.input,
                data: Arc::new(chunk),
                start,
                end: len,
                base: st.base,
                first_line: st.line,
                http: self.http,
            };
            push(self.shared, vec![task]);
            st.base += len as u64;
            st.line += lines;
            help_until_below(self.shared, cap, p);
        }
        if let Some(reason) = st.error.take() {
            let at = st.base + self.buf.len() as u64;
            self.reject(Rejection::new(self.name(), reason).at_offset(at), p);
        }
    }

    fn name(&self) -> &str {
        self.shared.inputs[self.input].name.as_str()
    }

    /// Reads until `buf` holds `want` bytes or the input ends.
    /// The block is allocated once at its full size and read into directly: growing it by
    /// doubling cost a re-allocation and a copy of everything read so far, several times per
    /// block.
    fn fill(&mut self, st: &mut State, want: usize) {
        self.buf.reserve(want.saturating_sub(self.buf.len()));
        while !st.eof && self.buf.len() < want {
            let len = self.buf.len();
            let end = want.min(len + st.tmp.len());
            self.buf.resize(end, 0);
            let read = self.rest.read(&mut self.buf[len..end]);
            self.buf.truncate(len + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => st.eof = true,
                Ok(n) => {
                    self.shared.observer.progress(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    st.error = Some(classify_read_error(e, self.compressed));
                    st.eof = true;
                }
            }
        }
    }

    /// Discards an over-long line (from `buf[consumed..]` through its newline), keeping only
    /// its first `max_record_bytes` for `rejected.jsonl`, and rejects it.
    fn skip_long_line(&mut self, st: &mut State, p: &mut dyn Processor) {
        let cap = self.shared.cfg.max_record_bytes;
        let offset = st.base + self.consumed as u64;
        let keep: Vec<u8> = self.buf[self.consumed..]
            .iter()
            .take(cap)
            .copied()
            .collect();
        let mut size = (self.buf.len() - self.consumed) as u64;
        let mut remainder = Vec::new();
        while !st.eof {
            match self.rest.read(&mut st.tmp) {
                Ok(0) => st.eof = true,
                Ok(n) => {
                    self.shared.observer.progress(n as u64);
                    match memchr::memchr(b'\n', &st.tmp[..n]) {
                        Some(k) => {
                            size += (k + 1) as u64;
                            remainder.extend_from_slice(&st.tmp[k + 1..n]);
                            break;
                        }
                        None => size += n as u64,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    st.error = Some(classify_read_error(e, self.compressed));
                    st.eof = true;
                }
            }
        }
        let reason = RejectReason::TooLarge {
            size,
            cap: cap as u64,
        };
        let r = Rejection::new(self.name(), reason)
            .at_offset(offset)
            .at_line(st.line)
            .with_raw(&keep, cap);
        self.reject(r, p);
        st.base = offset + size;
        st.line += 1;
        self.buf = remainder;
        self.consumed = 0;
    }

    fn reject(&self, r: Rejection, p: &mut dyn Processor) {
        let mut sink = Sink::new(p, self.shared.cfg.max_record_bytes);
        sink.reject(r);
        let (c, r) = sink.take();
        record(self.shared, self.input, c, r);
    }
}
