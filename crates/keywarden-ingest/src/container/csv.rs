//! CSV audit exports (Purview 8- and 4-column layouts, `Search-UnifiedAuditLog | Export-Csv`).

use crate::format::Format;
use crate::sink::Sink;

/// True when a header line names the columns of a UAL CSV export.
pub(crate) fn looks_like_audit_csv_header(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"AuditData").is_some() && line.contains(&b',')
}

/// Reads every row of a CSV export into `sink`.
pub(crate) fn read(
    path: &str,
    bytes: &[u8],
    base_offset: u64,
    forced: Option<Format>,
    sink: &mut Sink<'_>,
) {
    let _ = (path, bytes, base_offset, forced, sink);
    todo!("CSV container")
}
