//! Windows EVTX files, through the `evtx` crate (single-threaded: inputs are already read in
//! parallel by the engine).
//!
//! Chunks are read one at a time in record order; each record is rendered as JSON, parsed, then
//! flattened and normalised by `shape::windows` with `record_number` = `EventRecordID`.
//!
//! Damage is accounted for, never skipped:
//! - a file whose header cannot be read is one rejection at offset 0;
//! - a chunk that cannot be read or parsed is one rejection at the chunk's file offset;
//! - a chunk whose CRC32 (header or records) does not match is read anyway, but every record in
//!   it is a rejection (its rendered JSON kept as the raw bytes for `rejected.jsonl`): its
//!   content may have been altered, so it is evidence to look at, not an event to trust;
//! - a record that cannot be read or rendered is one rejection with its record number (or its
//!   offset, when its header is unreadable).

use std::io::Cursor;
use std::sync::Arc;

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use keywarden_model::{Origin, Value};

use crate::format::Format;
use crate::reject::{RejectReason, Rejection};
use crate::shape;
use crate::sink::Sink;

/// Size of the EVTX file header, before the first chunk.
const FILE_HEADER_SIZE: u64 = 4096;
/// Size of one chunk.
const CHUNK_SIZE: u64 = 65536;

/// Size of a chunk header: a tail shorter than this holds no readable record.
const CHUNK_HEADER_SIZE: u64 = 512;

/// Reads every record of an EVTX file into `sink`.
pub(crate) fn read(path: &str, bytes: &[u8], sink: &mut Sink<'_>) {
    let settings = Arc::new(
        ParserSettings::new()
            .num_threads(1)
            .validate_checksums(false)
            .separate_json_attributes(false)
            .indent(false),
    );
    let mut cut = Truncation::of(bytes.len() as u64);
    // Pad a cut chunk so that the records before the cut can still be read; otherwise read the
    // input in place.
    let padded;
    let data: &[u8] = match &cut {
        Some(t) if t.present >= CHUNK_HEADER_SIZE => {
            let mut v = bytes.to_vec();
            v.resize(v.len() + (CHUNK_SIZE - t.present) as usize, 0);
            padded = v;
            &padded
        }
        _ => bytes,
    };
    let mut parser = match EvtxParser::from_read_seek(Cursor::new(data)) {
        Ok(p) => p.with_configuration((*settings).clone()),
        Err(e) => {
            let reason = RejectReason::Evtx(format!("file header unreadable: {}", describe(&e)));
            let raw = &bytes[..bytes.len().min(FILE_HEADER_SIZE as usize)];
            let r = Rejection::new(path, reason)
                .at_offset(0)
                .with_raw(raw, sink.max_record_bytes);
            return sink.reject(r);
        }
    };
    for chunk in parser.chunks() {
        match chunk {
            Ok(mut data) => {
                let cut_at = cut
                    .as_ref()
                    .filter(|t| Some(t.chunk) == data.number)
                    .map(|t| t.present);
                if read_chunk(path, &mut data, cut_at, &settings, sink) {
                    // The record at the cut was reported with its number.
                    cut = None;
                }
            }
            Err(e) => {
                let offset = match &e {
                    EvtxError::FailedToParseChunk { chunk_id, .. } => Some(chunk_offset(*chunk_id)),
                    _ => None,
                };
                let reason = RejectReason::Evtx(format!("chunk unreadable: {}", describe(&e)));
                let mut r = Rejection::new(path, reason);
                r.offset = offset;
                sink.reject(r);
            }
        }
    }
    if let Some(t) = cut {
        let reason = RejectReason::Evtx(format!(
            "file truncated {} bytes into chunk {} (of {CHUNK_SIZE}): the record at the cut is lost",
            t.present, t.chunk
        ));
        let r = Rejection::new(path, reason).at_offset(chunk_offset(t.chunk));
        sink.reject(r);
    }
}

/// A file that ends inside a chunk.
struct Truncation {
    /// The cut chunk's number.
    chunk: u64,
    /// How many of its bytes are present.
    present: u64,
}

impl Truncation {
    fn of(len: u64) -> Option<Truncation> {
        let body = len.checked_sub(FILE_HEADER_SIZE)?;
        let present = body % CHUNK_SIZE;
        (present > 0).then_some(Truncation {
            chunk: body / CHUNK_SIZE,
            present,
        })
    }
}

/// File offset of chunk `n`.
fn chunk_offset(n: u64) -> u64 {
    FILE_HEADER_SIZE.saturating_add(n.saturating_mul(CHUNK_SIZE))
}

/// Reads one chunk. `cut_at` is set for the chunk a truncated file ends in (how many of its
/// bytes are real): its records CRC32 cannot match (the padding was never written), so records
/// that end before the cut are trusted as they are, and the record the cut goes through is
/// rejected. Returns whether such a cut record was found and rejected.
fn read_chunk(
    path: &str,
    data: &mut EvtxChunkData,
    cut_at: Option<u64>,
    settings: &Arc<ParserSettings>,
    sink: &mut Sink<'_>,
) -> bool {
    let is_cut = cut_at.is_some();
    let mut reported_cut = false;
    let number = data.number;
    let base = number.map(chunk_offset);
    let damaged = !data.validate_header_checksum() || (!is_cut && !data.validate_data_checksum());
    let header = &data.header;
    let (first, last) = (header.first_event_record_id, header.last_event_record_id);
    let mut chunk = match data.parse(Arc::clone(settings)) {
        Ok(c) => c,
        Err(e) => {
            let reason = RejectReason::Evtx(format!(
                "chunk {} (records {first}..={last} by its header) unparseable: {e}",
                number.map_or_else(|| "?".to_string(), |n| n.to_string())
            ));
            let mut r = Rejection::new(path, reason);
            r.offset = base;
            sink.reject(r);
            return false;
        }
    };
    for record in chunk.iter() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                reject_record_error(path, base, &e, sink);
                continue;
            }
        };
        let id = record.event_record_id;
        // The record starts with a 24-byte header and ends with a 4-byte copy of its size.
        let start = record.binxml_offset.saturating_sub(24);
        let end = record
            .binxml_offset
            .saturating_add(u64::from(record.binxml_size))
            .saturating_add(4);
        let offset = base.map(|b| b.saturating_add(start));
        if let Some(present) = cut_at
            && end > present
        {
            let reason = RejectReason::Evtx(format!(
                "record {id} is truncated: the file ends {} bytes into it ({} bytes long)",
                present.saturating_sub(start),
                end - start
            ));
            let mut r = Rejection::new(path, reason).at_record(id);
            r.offset = offset;
            sink.reject(r);
            reported_cut = true;
            continue;
        }
        let rendered = match record.into_json_bytes() {
            Ok(r) => r.data,
            Err(e) => {
                let reason =
                    RejectReason::Evtx(format!("record {id} unrenderable: {}", describe(&e)));
                let mut r = Rejection::new(path, reason).at_record(id);
                r.offset = offset;
                sink.reject(r);
                continue;
            }
        };
        if damaged {
            let reason = RejectReason::Evtx(format!(
                "record {id} is in chunk {} whose CRC32 does not match: its content may be altered",
                number.map_or_else(|| "?".to_string(), |n| n.to_string())
            ));
            let mut r = Rejection::new(path, reason)
                .at_record(id)
                .with_raw(&rendered, sink.max_record_bytes);
            r.offset = offset;
            sink.reject(r);
            continue;
        }
        emit(path, id, offset, &rendered, sink);
    }
    reported_cut
}

/// Parses a rendered record and hands it to the Windows shape.
fn emit(path: &str, id: u64, offset: Option<u64>, rendered: &[u8], sink: &mut Sink<'_>) {
    let reject = |sink: &mut Sink<'_>, reason: RejectReason| {
        let mut r = Rejection::new(path, reason)
            .at_record(id)
            .with_raw(rendered, sink.max_record_bytes);
        r.offset = offset;
        sink.reject(r);
    };
    if rendered.len() > sink.max_record_bytes {
        let reason = RejectReason::TooLarge {
            size: rendered.len() as u64,
            cap: sink.max_record_bytes as u64,
        };
        return reject(sink, reason);
    }
    let text = match std::str::from_utf8(rendered) {
        Ok(t) => t,
        Err(e) => {
            let reason = RejectReason::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            };
            return reject(sink, reason);
        }
    };
    let raw = match Value::parse(text) {
        Ok(v) => v,
        Err(e) => return reject(sink, RejectReason::from_json(&e)),
    };
    let origin = Origin {
        path,
        line: None,
        offset: offset.unwrap_or(0),
        record_number: Some(id),
    };
    match shape::normalise(Format::Evtx, raw, origin) {
        Ok(ev) => sink.event(ev),
        Err(reason) => reject(sink, reason),
    }
}

/// A record the chunk walk could not read (damaged header, bad BinXML).
fn reject_record_error(path: &str, base: Option<u64>, e: &EvtxError, sink: &mut Sink<'_>) {
    let reason = RejectReason::Evtx(describe(e));
    let mut r = Rejection::new(path, reason);
    match e {
        EvtxError::FailedToParseRecord { record_id, .. } => r.record_number = Some(*record_id),
        EvtxError::FailedToReadRecordAt { chunk, offset, .. } => {
            r.offset = chunk
                .map(chunk_offset)
                .or(base)
                .map(|b| b.saturating_add(*offset));
        }
        _ => r.offset = base,
    }
    sink.reject(r);
}

/// An error and its causes, one after another.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
