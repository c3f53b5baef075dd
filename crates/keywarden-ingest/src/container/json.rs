//! JSON containers: lines, arrays, Graph pages (`{"value": [...]}`) and diagnostic-settings /
//! Event Hub envelopes (`{"records": [...]}`), one per line or one per file.
//!
//! Every JSON text is first checked for size and UTF-8, then split structurally (see
//! [`super::scan`]) where it is a container, and each record is parsed on its own so that one
//! damaged record costs exactly one rejection.

use keywarden_model::{Origin, Value};
use std::sync::LazyLock;

use super::scan::{self, Element, ScanError};
use crate::format::Format;
use crate::reject::{RejectReason, Rejection};
use crate::shape;
use crate::sink::Sink;

/// What every record of one input shares.
pub(crate) struct Ctx<'p> {
    pub path: &'p str,
    pub forced: Option<Format>,
    pub max_record_bytes: usize,
}

impl Ctx<'_> {
    pub(crate) fn reject(&self, sink: &mut Sink<'_>, reason: RejectReason, at: At, raw: &[u8]) {
        let mut r = Rejection::new(self.path, reason)
            .at_offset(at.offset)
            .with_raw(raw, self.max_record_bytes);
        r.line = at.line;
        sink.reject(r);
    }
}

/// Where a JSON text starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    pub offset: u64,
    pub line: Option<u64>,
}

/// Processes one JSON text: a line of a JSON-lines input, an array element, or a whole
/// document. `containers` allows one level of envelope/page expansion.
pub(crate) fn process_text(
    ctx: &Ctx<'_>,
    text: &[u8],
    at: At,
    containers: bool,
    sink: &mut Sink<'_>,
) {
    if text.len() > ctx.max_record_bytes {
        let reason = RejectReason::TooLarge {
            size: text.len() as u64,
            cap: ctx.max_record_bytes as u64,
        };
        return ctx.reject(sink, reason, at, text);
    }
    if !sink.wants(text) {
        return;
    }
    let s = match std::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => {
            let reason = RejectReason::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            };
            return ctx.reject(sink, reason, at, text);
        }
    };
    if containers && let Some(array) = container_array(text) {
        return process_elements(ctx, text, array, at, sink);
    }
    match Value::parse(s) {
        Err(e) => ctx.reject(sink, RejectReason::from_json(&e), at, text),
        Ok(raw) => {
            let origin = Origin {
                path: ctx.path,
                line: at.line,
                offset: at.offset,
                record_number: None,
            };
            match shape::classify_and_normalise(ctx.forced, raw, origin) {
                Ok(ev) => sink.event(ev),
                Err(reason) => ctx.reject(sink, reason, at, text),
            }
        }
    }
}

/// Searchers for the keys that make an object an envelope or a Graph page, built once (a
/// searcher per call cost more than the search itself on every JSON line).
static CONTAINER_KEYS: LazyLock<[memchr::memmem::Finder<'static>; 3]> = LazyLock::new(|| {
    [
        memchr::memmem::Finder::new(b"\"records\""),
        memchr::memmem::Finder::new(b"\"value\""),
        memchr::memmem::Finder::new(b"\"@odata."),
    ]
});

/// If `text` is an envelope or a Graph page, the byte index of its record array's `[`.
fn container_array(text: &[u8]) -> Option<usize> {
    let open = scan::skip_ws(text, 0);
    if text.get(open) != Some(&b'{') {
        return None;
    }
    // Cheap pre-check so that ordinary records are not scanned twice.
    let head = &text[open..text.len().min(open + 512)];
    let promising = CONTAINER_KEYS.iter().any(|f| f.find(head).is_some());
    if !promising {
        return None;
    }
    let members = scan::object_members(text, open)?;
    let is_array = |s: usize| text.get(s) == Some(&b'[');
    if let Some((_, s, _)) = members
        .iter()
        .find(|(k, s, _)| *k == b"records" && is_array(*s))
    {
        return Some(*s);
    }
    let page_like = members
        .iter()
        .all(|(k, _, _)| *k == b"value" || k.starts_with(b"@odata."));
    if page_like
        && let Some((_, s, _)) = members
            .iter()
            .find(|(k, s, _)| *k == b"value" && is_array(*s))
    {
        return Some(*s);
    }
    None
}

/// Processes each element of the array at `text[open]`.
fn process_elements(ctx: &Ctx<'_>, text: &[u8], open: usize, at: At, sink: &mut Sink<'_>) {
    let (elements, _) = scan::split_array(text, open);
    let mut lines = LineTracker::new(text, at);
    for el in elements {
        match el {
            Element::Ok { start, end } => {
                let here = lines.at(start);
                process_text(ctx, &text[start..end], here, false, sink);
            }
            Element::Broken { start, error } => {
                let here = lines.at(start);
                broken(ctx, &text[start..], error, here, sink);
            }
        }
    }
}

/// Rejects the unscannable tail of a container.
pub(crate) fn broken(ctx: &Ctx<'_>, tail: &[u8], error: ScanError, at: At, sink: &mut Sink<'_>) {
    if tail.iter().all(|c| c.is_ascii_whitespace()) && error == ScanError::Eof {
        // The input ended where the array should have been closed: nothing lost but the `]`.
        let reason = RejectReason::Truncated;
        return ctx.reject(sink, reason, at, tail);
    }
    let reason = match error {
        ScanError::Eof => RejectReason::Truncated,
        ScanError::Unexpected(_) => RejectReason::InvalidJson(
            "array structure is broken here; the rest of the input cannot be split".into(),
        ),
    };
    ctx.reject(sink, reason, at, tail);
}

/// Maps byte positions (visited in increasing order) to line numbers.
pub(crate) struct LineTracker<'t> {
    text: &'t [u8],
    pos: usize,
    line: Option<u64>,
    base_offset: u64,
}

impl<'t> LineTracker<'t> {
    pub(crate) fn new(text: &'t [u8], at: At) -> Self {
        LineTracker {
            text,
            pos: 0,
            line: at.line,
            base_offset: at.offset,
        }
    }

    pub(crate) fn at(&mut self, pos: usize) -> At {
        if let Some(l) = self.line.as_mut() {
            *l += memchr::memchr_iter(b'\n', &self.text[self.pos..pos]).count() as u64;
        }
        self.pos = pos;
        At {
            offset: self.base_offset + pos as u64,
            line: self.line,
        }
    }
}

/// Processes a whole JSON document (array, page, envelope or single record).
pub(crate) fn process_document(ctx: &Ctx<'_>, text: &[u8], at: At, sink: &mut Sink<'_>) {
    let open = scan::skip_ws(text, 0);
    let mut lines = LineTracker::new(text, at);
    if text.get(open) == Some(&b'[') {
        let (elements, end) = scan::split_array(text, open);
        for el in elements {
            match el {
                Element::Ok { start, end } => {
                    let here = lines.at(start);
                    process_text(ctx, &text[start..end], here, true, sink);
                }
                Element::Broken { start, error } => {
                    let here = lines.at(start);
                    broken(ctx, &text[start..], error, here, sink);
                }
            }
        }
        trailing(ctx, text, end, &mut lines, sink);
    } else {
        let here = lines.at(open);
        process_text(ctx, &text[open..], here, true, sink);
    }
}

/// Anything after a document's closing bracket is garbage.
fn trailing(
    ctx: &Ctx<'_>,
    text: &[u8],
    end: usize,
    lines: &mut LineTracker<'_>,
    sink: &mut Sink<'_>,
) {
    let k = scan::skip_ws(text, end);
    if k < text.len() {
        let here = lines.at(k);
        let reason =
            RejectReason::InvalidJson("unexpected data after the end of the JSON document".into());
        ctx.reject(sink, reason, here, &text[k..]);
    }
}

/// Processes several JSON values that follow each other (pretty-printed records back to back).
pub(crate) fn process_sequence(ctx: &Ctx<'_>, text: &[u8], at: At, sink: &mut Sink<'_>) {
    let mut lines = LineTracker::new(text, at);
    let mut i = scan::skip_ws(text, 0);
    while i < text.len() {
        let here = lines.at(i);
        match scan::value_end(text, i) {
            Ok(end) => {
                process_text(ctx, &text[i..end], here, true, sink);
                i = scan::skip_ws(text, end);
            }
            Err(error) => return broken(ctx, &text[i..], error, here, sink),
        }
    }
}
