//! A structural JSON scanner: finds where values start and end without building them.
//!
//! Used (by [`super::values`]) to split a JSON array (or the `value`/`records` array of a Graph
//! page or an Event Hub envelope) into elements with exact byte offsets, so that each element is parsed on its own:
//! one bad element is one rejection, the rest still load, and elements can be parsed in
//! parallel. The scanner only tracks strings, escapes and bracket depth; validity is left to
//! the real parser.

/// Why the scanner stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// The input ended inside a value.
    Eof,
    /// A byte that cannot start or continue the structure here.
    Unexpected(usize),
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `b[i] == b'"'`.
pub(crate) fn string_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
            None => return Err(ScanError::Eof),
            Some(k) => {
                let at = j + k;
                if b[at] == b'\\' {
                    j = at + 2;
                    if j > b.len() {
                        return Err(ScanError::Eof);
                    }
                } else {
                    return Ok(at + 1);
                }
            }
        }
    }
}

/// End (exclusive) of the JSON value starting at `b[i]` (no leading whitespace).
pub(crate) fn value_end(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        None => Err(ScanError::Eof),
        Some(b'"') => string_end(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            Err(ScanError::Eof)
        }
        Some(_) => {
            // A scalar: runs until a delimiter.
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            if j == i {
                Err(ScanError::Unexpected(i))
            } else {
                Ok(j)
            }
        }
    }
}

/// The top-level keys of the object at `b[open] == b'{'`, with each value's byte range, or
/// `None` when the object cannot be scanned to its end.
pub(crate) fn object_members(b: &[u8], open: usize) -> Option<Vec<(&[u8], usize, usize)>> {
    let mut out = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let kend = string_end(b, i).ok()?;
        let key = &b[i + 1..kend - 1];
        let c = skip_ws(b, kend);
        if b.get(c) != Some(&b':') {
            return None;
        }
        let vs = skip_ws(b, c + 1);
        let ve = value_end(b, vs).ok()?;
        out.push((key, vs, ve));
        let k = skip_ws(b, ve);
        match b.get(k) {
            Some(b',') => i = k + 1,
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_object_members() {
        let s = br#"{"@odata.context":"x","value":[{"id":1}]}"#;
        let m = object_members(s, 0).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].0, b"value");
        assert_eq!(&s[m[1].1..m[1].2], br#"[{"id":1}]"#);
        assert!(object_members(br#"{"a":1"#, 0).is_none());
    }
}
