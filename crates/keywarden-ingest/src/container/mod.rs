//! Containers: how records are packed in an input (JSON lines, a JSON array, a Graph page, an
//! Event Hub envelope, CSV, EVTX, text access-log lines), and sniffing which one an input is.

pub(crate) mod csv;
pub(crate) mod evtx;
pub(crate) mod http_text;
pub(crate) mod json;
pub(crate) mod scan;
pub(crate) mod values;

use crate::format::Format;

/// How the records of one input are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// One JSON value per line (records or envelopes).
    JsonLines,
    /// A single JSON document: an array, a Graph page, an envelope, or one record.
    JsonDocument,
    /// Several multi-line JSON values one after another (records, arrays, pages: read like
    /// a document, see [`values`]).
    JsonSequence,
    Csv,
    Evtx,
    /// nginx/Apache access-log lines.
    HttpText,
    /// Nothing but whitespace.
    Empty,
    /// Not a log at all.
    NotALog(&'static str),
}

impl Container {
    /// The label used for an input whose records did not reveal a shape.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Container::JsonLines | Container::JsonDocument | Container::JsonSequence => "json",
            Container::Csv => "csv",
            Container::Evtx => "evtx",
            Container::HttpText => "http-combined",
            Container::Empty => "empty",
            Container::NotALog(_) => "not-a-log",
        }
    }
}

const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// Looks at the (decompressed, BOM-stripped) bytes and decides the container.
pub(crate) fn sniff(b: &[u8], forced: Option<Format>) -> Container {
    let start = scan::skip_ws(b, 0);
    if start == b.len() {
        return Container::Empty;
    }
    match forced {
        Some(Format::Evtx) => return Container::Evtx,
        Some(f) if f.is_csv() => return Container::Csv,
        Some(Format::HttpCombined) => return Container::HttpText,
        _ => {}
    }
    if b.starts_with(EVTX_MAGIC) {
        return Container::Evtx;
    }
    match b[start] {
        b'[' => return Container::JsonDocument,
        b'{' => {
            return match scan::value_end(b, start) {
                Ok(end) => {
                    let line_end = memchr::memchr(b'\n', &b[start..])
                        .map(|i| start + i)
                        .unwrap_or(b.len());
                    let rest = scan::skip_ws(b, end);
                    if rest == b.len() {
                        Container::JsonDocument
                    } else if end <= line_end {
                        Container::JsonLines
                    } else {
                        Container::JsonSequence
                    }
                }
                // The first value is broken; if it fits on its line, treat the input as lines
                // so that the following lines still load.
                Err(_) => {
                    if memchr::memchr(b'\n', &b[start..]).is_some() {
                        Container::JsonLines
                    } else {
                        Container::JsonDocument
                    }
                }
            };
        }
        _ => {}
    }
    let head = &b[start..b.len().min(start + 8192)];
    // An audit CSV header is recognised before the binary check, so that a NUL byte in one
    // row costs that row (a rejection), not the whole export.
    if csv::looks_like_audit_csv(head) {
        return Container::Csv;
    }
    if head.contains(&0) {
        return Container::NotALog("binary data");
    }
    if http_text::looks_like_access_log(head) {
        return Container::HttpText;
    }
    // A JSON-lines file whose first line is damaged still counts as JSON lines.
    if head
        .split(|&c| c == b'\n')
        .take(32)
        .any(|l| l.first() == Some(&b'{'))
    {
        return Container::JsonLines;
    }
    Container::NotALog("no known log format (not JSON, CSV audit export, EVTX or access log)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_json_containers() {
        assert_eq!(sniff(b"{\"a\":1}\n{\"a\":2}\n", None), Container::JsonLines);
        assert_eq!(
            sniff(b"{\n \"value\": [\n {\"a\":1}\n ]\n}\n", None),
            Container::JsonDocument
        );
        assert_eq!(
            sniff(b"{\n\"a\":1\n}\n{\n\"a\":2\n}", None),
            Container::JsonSequence
        );
        assert_eq!(sniff(b"  [ {\"a\":1} ]", None), Container::JsonDocument);
        assert_eq!(sniff(b"{\"a\":\n{\"b\":1}\n", None), Container::JsonLines);
        assert_eq!(sniff(b"   \n", None), Container::Empty);
        assert_eq!(sniff(b"ElfFile\0....", None), Container::Evtx);
        assert!(matches!(
            sniff(b"\x7fELF\0\0\x01", None),
            Container::NotALog(_)
        ));
        assert!(matches!(
            sniff(b"hello world\nthis is prose\n", None),
            Container::NotALog(_)
        ));
    }
}
