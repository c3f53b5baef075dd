//! JSON containers: lines, arrays, Graph pages (`{"value": [...]}`) and diagnostic-settings /
//! Event Hub envelopes (`{"records": [...]}`), one per line or one per file.
//!
//! Every JSON text is first checked for size and UTF-8, then split structurally (see
//! [`super::scan`] and, for several documents in one input, [`super::values`]) where it is a
//! container, and each record is parsed on its own so that one damaged record costs exactly one
//! rejection.

use keywarden_model::{Origin, Value};
use std::sync::LazyLock;

use super::scan::{self, ScanError};
use super::values::{self, Piece};
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
    if containers && container_array(text).is_some() {
        return process_values(ctx, text, at, sink);
    }
    match Value::parse(s) {
        Err(e) => {
            // Several values on one line (`{"value":[...]}{"value":[...]}`, `[...][...]`):
            // each is read.
            if containers && holds_several_values(text) {
                return process_values(ctx, text, at, sink);
            }
            ctx.reject(sink, RejectReason::from_json(&e), at, text)
        }
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

/// True when a complete JSON value is followed by more than whitespace.
fn holds_several_values(text: &[u8]) -> bool {
    let open = values::skip_ws_bom(text, 0);
    matches!(text.get(open), Some(b'[' | b'{'))
        && scan::value_end(text, open).is_ok_and(|end| values::skip_ws_bom(text, end) < text.len())
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
pub(crate) fn container_array(text: &[u8]) -> Option<usize> {
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

/// Rejects a stretch [`values::walk`] could not split: a cut at the end of the input is
/// `truncated`; any other damage is handed to the parser, whose message says what is wrong.
pub(crate) fn damaged(ctx: &Ctx<'_>, text: &[u8], piece: Piece, at: At, sink: &mut Sink<'_>) {
    let Piece::Damaged {
        start,
        end,
        error,
        resumed,
    } = piece
    else {
        return;
    };
    let stretch = &text[start..end];
    if !resumed && error == ScanError::Eof {
        return ctx.reject(sink, RejectReason::Truncated, at, stretch);
    }
    process_text(ctx, trim_separator(stretch), at, false, sink);
}

/// A damaged element without the whitespace and `,` that separate it from the next one.
fn trim_separator(b: &[u8]) -> &[u8] {
    let trim_end = |b: &'_ [u8]| -> usize {
        b.iter()
            .rposition(|c| !c.is_ascii_whitespace())
            .map_or(0, |k| k + 1)
    };
    let b = &b[..trim_end(b)];
    let b = b.strip_suffix(b",").unwrap_or(b);
    &b[..trim_end(b)]
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

/// Processes a JSON document or several one after another (arrays, pages, envelopes, records;
/// see [`values::walk`]).
pub(crate) fn process_values(ctx: &Ctx<'_>, text: &[u8], at: At, sink: &mut Sink<'_>) {
    let mut lines = LineTracker::new(text, at);
    values::walk(text, |piece| match piece {
        Piece::Record {
            start,
            end,
            containers,
        } => {
            let here = lines.at(start);
            process_text(ctx, &text[start..end], here, containers, sink);
        }
        Piece::Damaged { start, .. } => {
            let here = lines.at(start);
            damaged(ctx, text, piece, here, sink);
        }
    });
}
