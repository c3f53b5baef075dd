//! nginx/Apache access-log lines (combined and common formats).

use keywarden_model::{Event, Origin};

use crate::reject::RejectReason;

/// True when a line looks like a common/combined access-log line.
pub(crate) fn looks_like_access_line(line: &[u8]) -> bool {
    // host ident user [date] "request"
    let s = String::from_utf8_lossy(line);
    let mut it = s.splitn(4, ' ');
    let (_, _, _, rest) = (it.next(), it.next(), it.next(), it.next().unwrap_or(""));
    rest.starts_with('[') && rest.contains("] \"")
}

/// Parses one access-log line into an event.
pub(crate) fn parse_line<'a>(line: &'a str, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let _ = (line, origin);
    todo!("HTTP combined line")
}
