//! nginx/Apache access-log lines in the common and combined formats:
//!
//! ```text
//! host ident user [10/Oct/2000:13:55:36 -0700] "GET /a?b=c HTTP/1.1" 200 2326 "referer" "agent" ...
//! ```
//!
//! Each line becomes a JSON object whose keys follow the Sigma webserver taxonomy (`c-ip`,
//! `cs-username`, `date`, `cs-method`, `cs-uri`, `cs-uri-stem`, `cs-uri-query`, `cs-version`,
//! `sc-status`, `sc-bytes`, `cs-referer`, `cs-user-agent`), plus `request` (the request line as
//! logged) and `extra` (anything after the user agent, such as nginx's `$http_x_forwarded_for`).
//! A `-` (the formats' "no value") leaves its key out. Inside quotes, Apache's `\"` and `\\` are
//! unescaped; other escapes (`\x22`, nginx's) are kept as written. A line that does not have this
//! structure is rejected with the reason, never skipped.

use std::borrow::Cow;

use keywarden_model::{Event, Object, Origin, Timestamp, Value};

use crate::format::Format;
use crate::reject::RejectReason;
use crate::shape::http;

/// True when one of the first non-blank lines of `head` is a common/combined access-log line
/// (a partial copy often starts with a cut line, which must not hide the rest of the log).
pub(crate) fn looks_like_access_log(head: &[u8]) -> bool {
    head.split(|&c| c == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(8)
        .any(|l| {
            std::str::from_utf8(l)
                .ok()
                .is_some_and(|s| parse_access_line(s.trim_end_matches('\r')).is_ok())
        })
}

/// Parses one access-log line into an event.
pub(crate) fn parse_line<'a>(line: &'a str, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let raw = parse_access_line(line)?;
    http::normalise(Format::HttpCombined, raw, origin)
}

/// Parses one line into a taxonomy-keyed object.
pub(crate) fn parse_access_line(line: &str) -> Result<Value<'_>, RejectReason> {
    let bad = |what: &str| RejectReason::UnparseableLine(what.to_string());
    let mut c = Cursor { s: line, pos: 0 };
    let host = c.word().ok_or_else(|| bad("no client address"))?;
    let ident = c
        .word()
        .ok_or_else(|| bad("no ident field after the client address"))?;
    let user = c
        .word()
        .ok_or_else(|| bad("no user field after the ident"))?;
    let date = c
        .bracketed()
        .ok_or_else(|| bad("no [date] after the user field"))?;
    if parse_clf_date(date).is_none() {
        return Err(bad(&format!(
            "the date {:?} is not a valid dd/Mon/yyyy:hh:mm:ss +zzzz date",
            truncate(date)
        )));
    }
    let request = c
        .quoted()
        .ok_or_else(|| bad("no quoted request after the date"))?;
    let status = c.word().ok_or_else(|| bad("no status after the request"))?;
    let status: i64 = match status.parse() {
        Ok(n) if (0..1000).contains(&n) => n,
        _ => {
            return Err(bad(&format!(
                "the status {:?} is not a number",
                truncate(status)
            )));
        }
    };
    let bytes = c.word();
    let bytes = match bytes {
        None | Some("-") => None,
        Some(b) => Some(b.parse::<u64>().map_err(|_| {
            bad(&format!(
                "the response size {:?} is not a number",
                truncate(b)
            ))
        })?),
    };
    let referer = c.quoted();
    let agent = referer.as_ref().and_then(|_| c.quoted());
    let extra = c.rest();

    let mut o = Object(Vec::with_capacity(16));
    o.insert("c-ip", Value::Str(Cow::Borrowed(host)));
    if ident != "-" {
        o.insert("cs-ident", Value::Str(Cow::Borrowed(ident)));
    }
    if user != "-" {
        o.insert("cs-username", Value::Str(Cow::Borrowed(user)));
    }
    o.insert("date", Value::Str(Cow::Borrowed(date)));
    insert_request(&mut o, request);
    o.insert("sc-status", Value::Int(status));
    if let Some(b) = bytes {
        o.insert("sc-bytes", Value::UInt(b));
    }
    for (key, v) in [("cs-referer", referer), ("cs-user-agent", agent)] {
        if let Some(v) = v.filter(|v| v != "-" && !v.is_empty()) {
            o.insert(key, Value::Str(v));
        }
    }
    if let Some(extra) = extra {
        o.insert("extra", Value::Str(Cow::Borrowed(extra)));
    }
    Ok(Value::Object(o))
}

/// Adds `request` and, when it is `METHOD target [HTTP/x]`, its parts.
pub(crate) fn insert_request<'a>(o: &mut Object<'a>, request: Cow<'a, str>) {
    if let Some(parts) = split_request(&request) {
        let owned = |s: &str| Value::Str(Cow::Owned(s.to_string()));
        // The parts are slices of the request; a borrowed request lends them to the record.
        let borrowed_or_owned = |part: &str| match &request {
            Cow::Borrowed(whole) => {
                let at = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
                whole
                    .get(at..at.wrapping_add(part.len()))
                    .filter(|s| *s == part)
                    .map_or_else(|| owned(part), |s| Value::Str(Cow::Borrowed(s)))
            }
            Cow::Owned(_) => owned(part),
        };
        o.insert("cs-method", borrowed_or_owned(parts.method));
        o.insert("cs-uri", borrowed_or_owned(parts.target));
        o.insert("cs-uri-stem", borrowed_or_owned(parts.stem));
        if let Some(q) = parts.query {
            o.insert("cs-uri-query", borrowed_or_owned(q));
        }
        if let Some(v) = parts.version {
            o.insert("cs-version", borrowed_or_owned(v));
        }
    }
    o.insert("request", Value::Str(request));
}

/// The parts of a request line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestParts<'r> {
    pub method: &'r str,
    pub target: &'r str,
    pub stem: &'r str,
    pub query: Option<&'r str>,
    pub version: Option<&'r str>,
}

/// Splits `GET /a?b HTTP/1.1` (or HTTP/0.9's `GET /a`); `None` for anything else (`-`, TLS
/// bytes sent to a plain-text port...). A target with spaces in it (Apache logs what it got) is
/// kept whole when the line ends with an `HTTP/` version.
pub(crate) fn split_request(request: &str) -> Option<RequestParts<'_>> {
    let (method, rest) = request.split_once(' ')?;
    let (target, version) = match rest.rsplit_once(' ') {
        Some((t, v)) if v.starts_with("HTTP/") => (t, Some(v)),
        Some(_) => return None,
        None => (rest, None),
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
        || target.is_empty()
    {
        return None;
    }
    let (stem, query) = match target.split_once('?') {
        Some((s, q)) => (s, Some(q)),
        None => (target, None),
    };
    Some(RequestParts {
        method,
        target,
        stem,
        query,
        version,
    })
}

/// Parses the common-log date `10/Oct/2000:13:55:36 -0700` (the zone is optional; fractional
/// seconds after the clock are ignored).
pub(crate) fn parse_clf_date(s: &str) -> Option<Timestamp> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (stamp, zone) = match s.trim().split_once(' ') {
        Some((a, z)) => (a, Some(z.trim())),
        None => (s.trim(), None),
    };
    let (day, rest) = stamp.split_once('/')?;
    let (mon, rest) = rest.split_once('/')?;
    let (year, clock) = rest.split_once(':')?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as i64 + 1;
    let num = |t: &str, widths: &[usize]| -> Option<i64> {
        if !widths.contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let day = num(day, &[1, 2])?;
    let year = num(year, &[4])?;
    let clock = clock.split('.').next().unwrap_or(clock);
    let mut hms = clock.split(':');
    let (h, m, sec) = (
        num(hms.next()?, &[2])?,
        num(hms.next()?, &[2])?,
        num(hms.next()?, &[2])?,
    );
    if hms.next().is_some() {
        return None;
    }
    let local = Timestamp::from_civil(year, month, day, h, m, sec)?;
    let offset_minutes = match zone {
        None => 0,
        Some(z) if z.len() == 5 => {
            let sign = match z.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let hh = num(z.get(1..3)?, &[2])?;
            let mm = num(z.get(3..5)?, &[2])?;
            sign * (hh * 60 + mm)
        }
        Some(_) => return None,
    };
    Some(local.plus_seconds(-offset_minutes * 60))
}

/// At most 60 characters of a value, for messages.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A left-to-right reader over one line.
struct Cursor<'s> {
    s: &'s str,
    pos: usize,
}

impl<'s> Cursor<'s> {
    fn rest_str(&self) -> &'s str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest_str();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t']).len();
    }

    /// The next space-delimited word.
    fn word(&mut self) -> Option<&'s str> {
        self.skip_spaces();
        let rest = self.rest_str();
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        self.pos += end;
        rest.get(..end)
    }

    /// `[...]`, without the brackets.
    fn bracketed(&mut self) -> Option<&'s str> {
        self.skip_spaces();
        let rest = self.rest_str().strip_prefix('[')?;
        let end = rest.find(']')?;
        self.pos += end + 2;
        rest.get(..end)
    }

    /// `"..."`, without the quotes, with `\"` and `\\` unescaped.
    fn quoted(&mut self) -> Option<Cow<'s, str>> {
        self.skip_spaces();
        let rest = self.rest_str().strip_prefix('"')?;
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut escaped = false;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return None;
        }
        let inner = rest.get(..i)?;
        self.pos += i + 2;
        Some(if escaped {
            Cow::Owned(unescape(inner))
        } else {
            Cow::Borrowed(inner)
        })
    }

    /// Whatever is left, trimmed, if anything.
    fn rest(&mut self) -> Option<&'s str> {
        let r = self.rest_str().trim();
        (!r.is_empty()).then_some(r)
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_clf_date("10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.to_string(), "2000-10-10T20:55:36Z");
        assert!(parse_clf_date("10/Foo/2000:13:55:36 -0700").is_none());
        assert!(parse_clf_date("10/Oct/2000:13:55:36 +07").is_none());
        assert!(parse_clf_date("").is_none());
        assert!(parse_clf_date("1/Oct/2000:1:55:36").is_none());
        assert!(parse_clf_date("29/Feb/2023:00:00:00 +0000").is_none());
        assert!(parse_clf_date("12/Jul/2023:24:00:00 +0000").is_none());
        assert_eq!(
            parse_clf_date("29/Feb/2024:23:59:59 +0130")
                .unwrap()
                .to_string(),
            "2024-02-29T22:29:59Z"
        );
        assert_eq!(
            parse_clf_date("1/Jan/1970:00:00:00").unwrap(),
            Timestamp::from_unix_seconds(0)
        );
    }

    #[test]
    fn request_lines() {
        let p = split_request("GET /a/b?x=1&y HTTP/1.1").unwrap();
        assert_eq!((p.method, p.stem, p.query), ("GET", "/a/b", Some("x=1&y")));
        assert!(split_request("-").is_none());
        assert!(split_request("\\x16\\x03\\x01").is_none());
        assert!(split_request("GET / HTTP/1.1 extra").is_none());
        assert_eq!(
            split_request("GET /q?s=\"a b\" HTTP/1.0").unwrap().query,
            Some("s=\"a b\"")
        );
        assert_eq!(split_request("GET /").unwrap().version, None);
    }

    #[test]
    fn escaped_quotes_and_ipv6() {
        let line = r#"2001:db8::7 - - [10/Oct/2000:13:55:36 -0700] "GET /q?s=\"x\" HTTP/1.0" 404 - "-" "Mo\"zilla\\5""#;
        let v = parse_access_line(line).unwrap();
        assert_eq!(v.get("c-ip").and_then(Value::as_str), Some("2001:db8::7"));
        assert_eq!(
            v.get("cs-uri-query").and_then(Value::as_str),
            Some("s=\"x\"")
        );
        assert_eq!(
            v.get("cs-user-agent").and_then(Value::as_str),
            Some("Mo\"zilla\\5")
        );
        assert_eq!(v.get("sc-bytes"), None);
        assert_eq!(v.get("cs-referer"), None);
    }

    #[test]
    fn a_log_whose_first_line_is_cut_is_still_an_access_log() {
        let head = b"0 HTTP/1.1\" 200 12 \"-\" \"curl\"\n\n192.0.2.1 - - [12/Jul/2023:14:05:21 +0000] \"GET / HTTP/1.1\" 200 1\n";
        assert!(looks_like_access_log(head));
        assert!(!looks_like_access_log(b"hello\nworld\n"));
        assert!(!looks_like_access_log(b""));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for line in [
            "",
            "x",
            "a b c",
            "a b c [",
            "a b c [10/Oct/2000:13:55:36 -0700]",
            "a b c [10/Oct/2000:13:55:36 -0700] \"GET /",
            "a b c [10/Oct/2000:13:55:36 -0700] \"GET /\" abc",
            "a b c [10/Oct/2000:13:55:36 -0700] \"GET /\" 200 12x",
            "a b c [10/Oct/2000:13:55:36 -0700] \"\\",
            "é é é [é] \"é\" é",
        ] {
            assert!(parse_access_line(line).is_err(), "{line:?}");
        }
    }
}
