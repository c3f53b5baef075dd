//! The RFC 4180 row scanner of the CSV reader: finds where a row ends (quoted fields may hold
//! commas and newlines) or where its quoting breaks, and splits an accepted row into fields.
//! Strict on purpose: the reader needs to know where quoting broke to resynchronise.

use std::borrow::Cow;

/// One physical row as the scanner found it.
pub(super) enum Scan {
    /// Row text is `b[start..content_end]`; the next row starts at `next`.
    Row { content_end: usize, next: usize },
    /// The quoting is broken at byte `at`; `why` says how.
    Broken { why: &'static str, at: usize },
}

/// The index just after the `\n` ending the physical line that contains `from` (or the end).
pub(super) fn line_end(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|rest| memchr::memchr(b'\n', rest))
        .map_or(b.len(), |k| from + k + 1)
}

/// Finds the end of the row starting at `start` (RFC 4180: fields may be quoted, `""` is a
/// quote, quoted fields may hold commas and newlines; rows end at `\n` or `\r\n`).
pub(super) fn scan_row(b: &[u8], start: usize) -> Scan {
    let mut i = start;
    let mut field_start = true;
    loop {
        let Some(&c) = b.get(i) else {
            return Scan::Row {
                content_end: b.len(),
                next: b.len(),
            };
        };
        match c {
            b'"' if field_start => {
                // Quoted field: find the closing quote.
                i += 1;
                loop {
                    let Some(k) = b.get(i..).and_then(|rest| memchr::memchr(b'"', rest)) else {
                        return Scan::Broken {
                            why: "quoted field is never closed before the end of the input",
                            at: b.len(),
                        };
                    };
                    i += k + 1;
                    if b.get(i) == Some(&b'"') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                match b.get(i) {
                    None | Some(b',' | b'\n') => {}
                    Some(b'\r') if matches!(b.get(i + 1), None | Some(b'\n')) => {}
                    Some(_) => {
                        return Scan::Broken {
                            why: "unexpected character after a closing quote",
                            at: i,
                        };
                    }
                }
                field_start = false;
            }
            b'"' => {
                return Scan::Broken {
                    why: "quote inside an unquoted field",
                    at: i,
                };
            }
            b',' => {
                field_start = true;
                i += 1;
            }
            b'\n' => {
                let content_end = if i > start && b.get(i - 1) == Some(&b'\r') {
                    i - 1
                } else {
                    i
                };
                return Scan::Row {
                    content_end,
                    next: i + 1,
                };
            }
            _ => {
                field_start = false;
                i += 1;
            }
        }
    }
}

/// Splits a row that [`scan_row`] accepted into its fields, unescaping `""`.
/// (On text it did not accept it still splits without panicking, just less meaningfully.)
pub(super) fn split_fields(s: &str) -> Vec<Cow<'_, str>> {
    let s = s.strip_suffix('\r').unwrap_or(s);
    let mut fields = Vec::new();
    let mut rest = s;
    loop {
        if let Some(q) = rest.strip_prefix('"') {
            // Quoted: up to the quote not followed by another quote.
            let mut value = String::new();
            let mut tail = q;
            loop {
                match tail.find('"') {
                    Some(k) => {
                        value.push_str(tail.get(..k).unwrap_or_default());
                        let after = tail.get(k + 1..).unwrap_or_default();
                        if let Some(more) = after.strip_prefix('"') {
                            value.push('"');
                            tail = more;
                        } else {
                            tail = after;
                            break;
                        }
                    }
                    None => {
                        value.push_str(tail);
                        tail = "";
                        break;
                    }
                }
            }
            fields.push(Cow::Owned(value));
            match tail.find(',') {
                Some(k) => rest = tail.get(k + 1..).unwrap_or_default(),
                None => return fields,
            }
        } else {
            match rest.find(',') {
                Some(k) => {
                    fields.push(Cow::Borrowed(rest.get(..k).unwrap_or_default()));
                    rest = rest.get(k + 1..).unwrap_or_default();
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return fields;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Result<(usize, usize), &'static str> {
        match scan_row(text.as_bytes(), 0) {
            Scan::Row { content_end, next } => Ok((content_end, next)),
            Scan::Broken { why, .. } => Err(why),
        }
    }

    #[test]
    fn scans_rows() {
        assert_eq!(scan("a,b\nc"), Ok((3, 4)));
        assert_eq!(scan("a,b\r\nc"), Ok((3, 5)));
        assert_eq!(scan("\"x\ny\",\"q\"\"\"\nz"), Ok((11, 12)));
        assert_eq!(scan("a,b"), Ok((3, 3)));
        assert!(scan("a,\"b").is_err());
        assert!(scan("a,\"b\"c\n").is_err());
        assert!(scan("a,b\"c\n").is_err());
    }

    #[test]
    fn splits_fields() {
        assert_eq!(
            split_fields("a,,\"b,\"\"c\"\"\",d\r"),
            vec!["a", "", "b,\"c\"", "d"]
        );
        assert_eq!(split_fields(""), vec![""]);
    }
}
