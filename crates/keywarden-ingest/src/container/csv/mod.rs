//! CSV audit exports: Purview's current 8-column layout
//! (`RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,...`), the
//! older 4-column one (`CreationDate,UserIds,Operations,AuditData`) and
//! `Search-UnifiedAuditLog | Export-Csv` (13 quoted columns, maybe after a `#TYPE` line).
//!
//! Each row becomes one event whose `raw` is the parsed `AuditData` (the Management Activity
//! API shape), with the row's columns filling fields `AuditData` lacks; or one rejection with
//! the row's first line, its offset and the reason. Rows are split by a strict RFC 4180 scanner
//! written for accounting, not the `csv` crate: an unterminated quote must not swallow the rest
//! of the file silently. When a row's quoting is broken, its first physical line is rejected
//! and reading resumes at the next line, so the rows after it still load and every physical
//! row is accounted for.
//!
//! Not records (skipped): blank lines, the header, a `#TYPE` line, and a header repeated
//! mid-file (concatenated exports).

use std::borrow::Cow;

use keywarden_model::{Event, Object, Origin, Timestamp, Value, ascii_fold};

use crate::format::Format;
use crate::reject::{RejectReason, Rejection};
use crate::shape;
use crate::sink::Sink;

mod rows;

use rows::{Scan, line_end, scan_row, split_fields};

/// True when the start of an input (after any BOM) is a UAL CSV export: its header (the first
/// line, or the second after a PowerShell `#TYPE` line) names an `AuditData` column.
pub(crate) fn looks_like_audit_csv(head: &[u8]) -> bool {
    let mut lines = head.split(|&c| c == b'\n');
    let first = lines.next().unwrap_or(head);
    if first.starts_with(b"#TYPE") {
        return lines.next().is_some_and(looks_like_audit_csv_header);
    }
    looks_like_audit_csv_header(first)
}

/// True when a header line names the columns of a UAL CSV export: an `AuditData` column
/// (Purview, `Search-UnifiedAuditLog`), or the columns of a Defender `CloudAppEvents`
/// (`RawEventData` + `ActionType`) or Sentinel `OfficeActivity` (`OfficeWorkload` +
/// `TimeGenerated`/`Operation`) table export, or any Defender advanced-hunting table
/// (`ActionType` + `Timestamp`).
pub(crate) fn looks_like_audit_csv_header(line: &[u8]) -> bool {
    if !line.contains(&b',') {
        return false;
    }
    let names: Vec<String> = split_fields(&String::from_utf8_lossy(line))
        .iter()
        .map(|f| column_name(f))
        .collect();
    let has = |n: &str| names.iter().any(|c| c == n);
    has("auditdata")
        || (has("raweventdata") && has("actiontype"))
        || (has("actiontype") && (has("timestamp") || has("timegenerated")))
        || (has("officeworkload") && (has("timegenerated") || has("operation")))
}

/// Reads every row of a CSV export into `sink`. `base_offset` is where `bytes` starts in the
/// loaded input (after a BOM).
pub(crate) fn read(
    path: &str,
    bytes: &[u8],
    base_offset: u64,
    forced: Option<Format>,
    sink: &mut Sink<'_>,
) {
    let mut reader = Reader {
        path,
        b: bytes,
        base_offset,
        forced,
        pos: 0,
        line: 1,
        header: None,
    };
    reader.run(sink);
}

/// The columns of a header that feed an event.
#[derive(Debug)]
struct Header {
    /// Column names as written (BOM, spaces and a ` [UTC]` suffix removed).
    columns: Vec<String>,
    /// The same, lower-cased, for lookups.
    names: Vec<String>,
    /// The CSV layout label (forced or recognised) for `AuditData` rows.
    format: Format,
    /// A forced non-CSV shape for table exports (`--format defender-cloud-app-events`).
    forced_shape: Option<Format>,
    audit_data: Option<usize>,
    creation_date: Option<usize>,
    record_id: Option<usize>,
    user: Option<usize>,
    operation: Option<usize>,
}

struct Reader<'b> {
    path: &'b str,
    b: &'b [u8],
    base_offset: u64,
    forced: Option<Format>,
    /// Start of the next row.
    pos: usize,
    /// Line number of `pos` (1-based).
    line: u64,
    header: Option<Header>,
}

impl Reader<'_> {
    fn run(&mut self, sink: &mut Sink<'_>) {
        let mut header_seen = false;
        while self.pos < self.b.len() {
            let start = self.pos;
            let line = self.line;
            match scan_row(self.b, start) {
                Scan::Broken { why, at } => {
                    let end = line_end(self.b, start);
                    let reason = if end - start > sink.max_record_bytes {
                        too_large(end - start, sink)
                    } else {
                        let at = at.clamp(start, self.b.len());
                        let later = memchr::memchr_iter(b'\n', &self.b[start..at]).count() as u64;
                        let place = if later == 0 {
                            String::new()
                        } else {
                            format!(
                                " (found on line {}, inside a quoted field opened here)",
                                line + later
                            )
                        };
                        RejectReason::MalformedCsv(format!(
                            "{why}{place}; resuming at the next line"
                        ))
                    };
                    self.reject(sink, reason, start, line, end);
                    self.advance_to(end);
                }
                Scan::Row { content_end, next } => {
                    let text = &self.b[start..content_end];
                    if text.iter().all(u8::is_ascii_whitespace) {
                        self.advance_to(next);
                        continue;
                    }
                    if !header_seen && line == 1 && text.starts_with(b"#TYPE") {
                        self.advance_to(next);
                        continue;
                    }
                    if !header_seen {
                        header_seen = true;
                        self.header = Some(Header::parse(text, self.forced));
                        self.advance_to(next);
                        continue;
                    }
                    self.row(sink, start, content_end, next, line);
                }
            }
        }
    }

    /// Handles one structurally sound row.
    fn row(&mut self, sink: &mut Sink<'_>, start: usize, end: usize, next: usize, line: u64) {
        let text = &self.b[start..end];
        if text.len() > sink.max_record_bytes {
            self.reject(sink, too_large(text.len(), sink), start, line, end);
            return self.advance_to(next);
        }
        let s = match std::str::from_utf8(text) {
            Ok(s) => s,
            Err(e) => {
                let reason = RejectReason::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                };
                self.reject(sink, reason, start, line, end);
                return self.advance_to(next);
            }
        };
        let Some(header) = &self.header else {
            return self.advance_to(next);
        };
        let fields = split_fields(s);
        if header.is_repeat(&fields) || (fields.len() == 1 && s.starts_with("#TYPE")) {
            return self.advance_to(next);
        }
        let offset = self.base_offset + start as u64;
        let outcome = match header.event(self.path, &fields, line, offset, sink) {
            Ok(()) => Ok(()),
            Err(reason) => {
                let first_line_end = line_end(self.b, start);
                if first_line_end < end && self.swallowed_rows(first_line_end, end, header) {
                    // A quote left open earlier made this "row" run over following rows:
                    // reject its first line and read the rest again line by line.
                    Err((
                        RejectReason::MalformedCsv(format!(
                            "quoted field runs over the following rows (likely an unterminated \
                             quote; {reason}); resuming at the next line"
                        )),
                        first_line_end,
                    ))
                } else {
                    Err((reason, next))
                }
            }
        };
        match outcome {
            Ok(()) => self.advance_to(next),
            Err((reason, resume)) => {
                let shown_end = resume.min(end);
                self.reject(sink, reason, start, line, shown_end);
                self.advance_to(resume);
            }
        }
    }

    /// True when a line inside `b[from..to]` is, on its own, a complete row of the header's
    /// width: the sign of an unterminated quote that swallowed rows.
    fn swallowed_rows(&self, from: usize, to: usize, header: &Header) -> bool {
        let mut at = from;
        while at < to {
            let end = line_end(self.b, at);
            let line = &self.b[at..end];
            if let Scan::Row { .. } = scan_row(line, 0)
                && let Ok(s) = std::str::from_utf8(line)
                && split_fields(s.trim_end()).len() == header.names.len()
            {
                return true;
            }
            at = end;
        }
        false
    }

    fn reject(
        &self,
        sink: &mut Sink<'_>,
        reason: RejectReason,
        start: usize,
        line: u64,
        end: usize,
    ) {
        let raw = self.b.get(start..end).unwrap_or_default();
        let r = Rejection::new(self.path, reason)
            .at_line(line)
            .at_offset(self.base_offset + start as u64)
            .with_raw(raw, sink.max_record_bytes);
        sink.reject(r);
    }

    /// Moves to `next`, counting the lines passed.
    fn advance_to(&mut self, next: usize) {
        let next = next.clamp(self.pos, self.b.len());
        self.line += memchr::memchr_iter(b'\n', &self.b[self.pos..next]).count() as u64;
        self.pos = next;
    }
}

fn too_large(size: usize, sink: &Sink<'_>) -> RejectReason {
    RejectReason::TooLarge {
        size: size as u64,
        cap: sink.max_record_bytes as u64,
    }
}

/// A header cell as written, without BOM, surrounding spaces, or the ` [UTC]` unit suffix
/// Log Analytics adds to time columns (`TimeGenerated [UTC]`).
fn clean_column(cell: &str) -> &str {
    let c = cell.trim_start_matches('\u{feff}').trim();
    match c.rfind(" [") {
        Some(k) if c.ends_with(']') => c.get(..k).unwrap_or(c).trim_end(),
        _ => c,
    }
}

/// A header cell as a comparable column name (cleaned and lower-cased).
fn column_name(cell: &str) -> String {
    clean_column(cell).to_ascii_lowercase()
}

impl Header {
    fn parse(text: &[u8], forced: Option<Format>) -> Header {
        let line = String::from_utf8_lossy(text);
        let columns: Vec<String> = split_fields(&line)
            .iter()
            .map(|c| clean_column(c).to_string())
            .collect();
        let names: Vec<String> = columns.iter().map(|c| c.to_ascii_lowercase()).collect();
        let find = |candidates: &[&str]| {
            candidates
                .iter()
                .find_map(|c| names.iter().position(|n| n == c))
        };
        let layout = if find(&["runspaceid", "pscomputername", "resultindex"]).is_some() {
            Format::UalSearchCsv
        } else if find(&["recordid", "associatedadminunits"]).is_some() {
            Format::PurviewCsv
        } else {
            Format::PurviewCsvLegacy
        };
        Header {
            format: forced.filter(|f| f.is_csv()).unwrap_or(layout),
            forced_shape: forced.filter(|f| !f.is_csv()),
            audit_data: find(&["auditdata"]),
            creation_date: find(&["creationdate", "creationtime"]),
            record_id: find(&["recordid", "identity"]),
            user: find(&["userid", "userids"]),
            operation: find(&["operation", "operations"]),
            columns,
            names,
        }
    }

    /// True when a data row is this header again (exports concatenated with `cat`).
    fn is_repeat(&self, fields: &[Cow<'_, str>]) -> bool {
        fields.len() == self.names.len()
            && fields
                .iter()
                .zip(&self.names)
                .all(|(f, n)| column_name(f) == *n)
    }

    /// Turns a row's fields into an event handed to `sink`, or says why not (then nothing
    /// reached the sink). The event borrows the row's text, so it lives only for this call.
    fn event(
        &self,
        path: &str,
        fields: &[Cow<'_, str>],
        line: u64,
        offset: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), RejectReason> {
        if fields.len() != self.names.len() {
            return Err(RejectReason::CsvFieldCount {
                expected: self.names.len(),
                found: fields.len(),
            });
        }
        let origin = Origin {
            path,
            line: Some(line),
            offset,
            record_number: None,
        };
        let ev = match self.audit_data {
            Some(audit) => self.audit_event(fields, audit, origin)?,
            None => self.table_event(fields, origin)?,
        };
        sink.event(ev);
        Ok(())
    }

    /// A Purview / `Search-UnifiedAuditLog` row: `raw` is the parsed `AuditData`.
    fn audit_event<'r>(
        &self,
        fields: &'r [Cow<'r, str>],
        audit: usize,
        origin: Origin<'r>,
    ) -> Result<Event<'r>, RejectReason> {
        let column = |i: Option<usize>| -> Option<&'r str> {
            i.and_then(|i| fields.get(i))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
        };
        let audit_text = column(Some(audit)).ok_or_else(|| RejectReason::InvalidEmbeddedJson {
            field: "AuditData".into(),
            message: "the AuditData cell is empty".into(),
        })?;
        let raw = Value::parse(audit_text).map_err(|e| match RejectReason::from_json(&e) {
            RejectReason::TooDeep => RejectReason::TooDeep,
            _ => RejectReason::InvalidEmbeddedJson {
                field: "AuditData".into(),
                message: e.to_string(),
            },
        })?;
        let format = self.forced_shape.unwrap_or(self.format);
        let mut ev = shape::normalise(format, raw, origin)?;
        let f = &mut ev.fields;
        if f.time.is_none() {
            f.time = column(self.creation_date).and_then(Timestamp::parse);
        }
        if f.record_id.is_none() {
            f.record_id = column(self.record_id).map(Cow::Borrowed);
        }
        if f.user.is_none() {
            f.user = column(self.user).map(|u| ascii_fold(Cow::Borrowed(u)));
        }
        if f.operation.is_none() {
            f.operation = column(self.operation).map(Cow::Borrowed);
        }
        Ok(ev)
    }

    /// A table export without `AuditData` (Defender `CloudAppEvents`, Sentinel
    /// `OfficeActivity` downloaded as CSV): the row becomes an object of its columns (all
    /// values text) and is recognised and normalised like the same row in JSON.
    fn table_event<'r>(
        &'r self,
        fields: &'r [Cow<'r, str>],
        origin: Origin<'r>,
    ) -> Result<Event<'r>, RejectReason> {
        let mut row = Object::default();
        for (name, value) in self.columns.iter().zip(fields) {
            row.insert(
                Cow::Borrowed(name.as_str()),
                Value::Str(Cow::Borrowed(value.as_ref())),
            );
        }
        let raw = Value::Object(row);
        let format = self.forced_shape.unwrap_or_else(|| shape::classify(&raw));
        if format == Format::Json {
            return Err(RejectReason::MissingField(
                "AuditData (the CSV header has no AuditData column and the row is no known table)"
                    .into(),
            ));
        }
        shape::normalise(format, raw, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_column_names() {
        assert_eq!(
            clean_column("\u{feff}TimeGenerated [UTC] "),
            "TimeGenerated"
        );
        assert_eq!(clean_column(" UserId"), "UserId");
        assert_eq!(clean_column("[odd]"), "[odd]");
    }

    #[test]
    fn recognises_headers() {
        assert!(looks_like_audit_csv(
            b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n"
        ));
        assert!(looks_like_audit_csv(
            b"#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.UnifiedAuditLogResult\r\n\"RunspaceId\",\"AuditData\"\r\n"
        ));
        assert!(!looks_like_audit_csv(b"name,AuditDataSize\n"));
        assert!(!looks_like_audit_csv(b"AuditData\n"));
        assert!(looks_like_audit_csv(
            b"Timestamp,ActionType,Application,RawEventData,ReportId\n"
        ));
        assert!(looks_like_audit_csv(
            b"\"TimeGenerated [UTC]\",Operation,OfficeWorkload,UserId\n"
        ));
        assert!(!looks_like_audit_csv(b"Timestamp,RawEventData\n"));
    }
}
