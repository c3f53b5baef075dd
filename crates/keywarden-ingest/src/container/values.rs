//! Top-level JSON values one after another, as responders' tools write them.
//!
//! PowerShell's `ConvertTo-Json | Out-File -Append` (Microsoft-Extractor-Suite writes one array
//! per time slice, DFIR-O365RC one per hour) leaves several documents in one file: `[...]\n[...]`,
//! `[...][...]`, a bare `{...}` where a slice held one record (PowerShell unrolls one-element
//! arrays), Graph pages `{"value":[...]}{"value":[...]}`, sometimes with a byte-order mark
//! before each. [`walk`] splits such a text into records without parsing them:
//! - every element of every top-level array is a record (which may itself be a page or an
//!   envelope: `containers`);
//! - a top-level Graph page or envelope is opened and each element of its array is a record;
//! - any other top-level object is a record.
//!
//! Damage costs one record, not the rest of the file: when an element cannot be scanned (an
//! unescaped quote, a cut), the walker looks for the next line that starts an element at the
//! damaged element's indentation or less (after a `,`), or a new top-level value at column 0,
//! and resumes there; the damaged stretch becomes one [`Piece::Damaged`]. In a compact array
//! written on one line there is no such line, so the damage costs the rest of that line.

use super::scan::{self, ScanError};

/// One stretch of the text, in increasing order of position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A record at `start..end`; `containers` when it may itself be a page or an envelope.
    Record {
        start: usize,
        end: usize,
        containers: bool,
    },
    /// `start..end` could not be split into records. `resumed` is false when nothing after it
    /// could be read (the text ended inside it).
    Damaged {
        start: usize,
        end: usize,
        error: ScanError,
        resumed: bool,
    },
}

const BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// Skips whitespace and UTF-8 byte-order marks (appended files repeat them).
pub(crate) fn skip_ws_bom(b: &[u8], mut i: usize) -> usize {
    loop {
        i = scan::skip_ws(b, i);
        if b[i.min(b.len())..].starts_with(BOM) {
            i += BOM.len();
        } else {
            return i;
        }
    }
}

/// Splits `text` into records (see the module documentation), calling `emit` for each piece.
pub(crate) fn walk(text: &[u8], mut emit: impl FnMut(Piece)) {
    let mut i = skip_ws_bom(text, 0);
    while i < text.len() {
        i = match text[i] {
            b'[' => array(text, i, text.len(), true, &mut emit),
            b'{' => object(text, i, &mut emit),
            _ => damaged(text, i, text.len(), ScanError::Unexpected(i), &mut emit),
        };
        i = skip_ws_bom(text, i);
    }
}

/// A top-level object: a page or an envelope is opened, anything else is one record.
fn object(text: &[u8], i: usize, emit: &mut impl FnMut(Piece)) -> usize {
    match scan::value_end(text, i) {
        Ok(end) => {
            match super::json::container_array(&text[i..end]) {
                Some(open) => {
                    // The page's other members (`@odata.nextLink`...) are not records.
                    array(text, i + open, end, false, emit);
                }
                None => emit(Piece::Record {
                    start: i,
                    end,
                    containers: false,
                }),
            }
            end
        }
        Err(error) => damaged(text, i, text.len(), error, emit),
    }
}

/// The elements of the array at `text[open] == b'['`, which must end before `limit`. Returns
/// where to continue.
fn array(
    text: &[u8],
    open: usize,
    limit: usize,
    containers: bool,
    emit: &mut impl FnMut(Piece),
) -> usize {
    let b = &text[..limit];
    let mut i = skip_ws_bom(b, open + 1);
    if b.get(i) == Some(&b']') {
        return i + 1;
    }
    loop {
        i = skip_ws_bom(b, i);
        if i >= limit {
            emit(Piece::Damaged {
                start: i,
                end: limit,
                error: ScanError::Eof,
                resumed: false,
            });
            return limit;
        }
        let (start, error, from) = match scan::value_end(b, i) {
            Ok(end) => {
                emit(Piece::Record {
                    start: i,
                    end,
                    containers,
                });
                let k = scan::skip_ws(b, end);
                match b.get(k) {
                    Some(b',') => {
                        i = k + 1;
                        continue;
                    }
                    Some(b']') => return k + 1,
                    None => {
                        emit(damaged_piece(k, limit, ScanError::Eof, false));
                        return limit;
                    }
                    // Garbage after a complete element: the damage starts there.
                    Some(_) => (k, ScanError::Unexpected(k), k),
                }
            }
            Err(error) => (i, error, i + 1),
        };
        match resync(text, from, limit, column(text, i)) {
            Resume::Element(r) => {
                emit(damaged_piece(start, r, error, true));
                i = r;
            }
            Resume::TopLevel(r) => {
                emit(damaged_piece(start, r, error, true));
                return r;
            }
            Resume::Nowhere => {
                emit(damaged_piece(start, limit, error, false));
                return limit;
            }
        }
    }
}

fn damaged_piece(start: usize, end: usize, error: ScanError, resumed: bool) -> Piece {
    Piece::Damaged {
        start,
        end,
        error,
        resumed,
    }
}

/// Damage at the top level (outside any array): skip to the next top-level value.
fn damaged(
    text: &[u8],
    start: usize,
    limit: usize,
    error: ScanError,
    emit: &mut impl FnMut(Piece),
) -> usize {
    match resync(text, start + 1, limit, 0) {
        Resume::Element(r) | Resume::TopLevel(r) => {
            emit(damaged_piece(start, r, error, true));
            r
        }
        Resume::Nowhere => {
            emit(damaged_piece(start, limit, error, false));
            limit
        }
    }
}

/// Where reading can resume after damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// The next element of the same array starts here.
    Element(usize),
    /// A new top-level value starts here.
    TopLevel(usize),
    Nowhere,
}

/// Finds the first line after `from` (and before `limit`) that starts an element at
/// indentation `col` or less after a `,`, or a new top-level `[`/`{` at column 0 (not after
/// a `,` or `[`, where it would be an element).
///
/// The last non-blank byte before each line is carried forward line by line, not searched for
/// backwards from every line (regression: a 655 KB body of blank lines and `[`, 220 bytes
/// compressed, took 61 s, each of its 493 000 lines scanning back over all the blank lines
/// before it).
fn resync(text: &[u8], from: usize, limit: usize, col: usize) -> Resume {
    let mut pos = from.min(limit);
    let mut before = last_non_ws(text, pos);
    while let Some(nl) = memchr::memchr(b'\n', &text[pos..limit]) {
        let line = pos + nl + 1;
        if let Some(&b) = text[pos..line]
            .iter()
            .rev()
            .find(|c| !c.is_ascii_whitespace())
        {
            before = Some(b);
        }
        pos = line;
        let first = skip_indent(text, line, limit);
        let Some(&c) = text[..limit].get(first) else {
            break;
        };
        let indent = first - line;
        match (c, before) {
            (b'{', Some(b',')) if indent <= col => return Resume::Element(first),
            (b'{', Some(b',' | b'[')) => {}
            (b'[' | b'{', _) if indent == 0 => return Resume::TopLevel(first),
            _ => {}
        }
    }
    Resume::Nowhere
}

fn skip_indent(text: &[u8], mut i: usize, limit: usize) -> usize {
    while i < limit && matches!(text[i], b' ' | b'\t') {
        i += 1;
    }
    if text[i.min(limit)..limit].starts_with(BOM) {
        i += BOM.len();
    }
    i
}

/// The last byte before `end` that is not whitespace.
fn last_non_ws(text: &[u8], end: usize) -> Option<u8> {
    text[..end]
        .iter()
        .rev()
        .find(|c| !c.is_ascii_whitespace())
        .copied()
}

/// The column (bytes since the line start) of position `i`.
fn column(text: &[u8], i: usize) -> usize {
    i - memchr::memrchr(b'\n', &text[..i]).map_or(0, |n| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search before the regression fix: the last non-blank byte looked for backwards
    /// from every line.
    fn resync_by_backward_search(text: &[u8], from: usize, limit: usize, col: usize) -> Resume {
        let mut pos = from.min(limit);
        while let Some(nl) = memchr::memchr(b'\n', &text[pos..limit]) {
            let line = pos + nl + 1;
            pos = line;
            let first = skip_indent(text, line, limit);
            let Some(&c) = text[..limit].get(first) else {
                break;
            };
            let indent = first - line;
            match (c, last_non_ws(text, line)) {
                (b'{', Some(b',')) if indent <= col => return Resume::Element(first),
                (b'{', Some(b',' | b'[')) => {}
                (b'[' | b'{', _) if indent == 0 => return Resume::TopLevel(first),
                _ => {}
            }
        }
        Resume::Nowhere
    }

    #[test]
    fn regression_blank_lines_made_resync_quadratic() {
        // The fuzzer's input (fuzz/corpus/serve_ingest/regression-blank-lines-resync-quadratic):
        // 493 000 blank lines among `[` and NULs took 61 s. Same answers as the backward
        // search, from every start, on a smaller mix of the same shapes.
        let mut text = Vec::new();
        for i in 0..300 {
            text.extend_from_slice(match i % 7 {
                0 => b"\n\n\n".as_slice(),
                1 => b"[\n".as_slice(),
                2 => b"  ,\n".as_slice(),
                3 => b"  {\"a\":1}\n".as_slice(),
                4 => b"\0\0\n".as_slice(),
                5 => b"{\n".as_slice(),
                _ => b" \t \n".as_slice(),
            });
        }
        for from in 0..text.len() {
            for col in [0, 2, 8] {
                assert_eq!(
                    resync(&text, from, text.len(), col),
                    resync_by_backward_search(&text, from, text.len(), col),
                    "from {from}, col {col}"
                );
            }
        }
        // And the shape that was slow, at a size the old search took seconds on, is walked.
        let mut big = b"[".to_vec();
        big.extend(std::iter::repeat_n(b'\n', 200_000));
        big.extend_from_slice(b"[\0\0");
        let mut n = 0;
        walk(&big, |_| n += 1);
        assert!(n >= 1);
    }

    fn pieces(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        walk(s.as_bytes(), |p| {
            out.push(match p {
                Piece::Record {
                    start,
                    end,
                    containers,
                } => format!("{}{}", if containers { "" } else { "=" }, &s[start..end]),
                Piece::Damaged {
                    start,
                    end,
                    resumed,
                    ..
                } => format!(
                    "DAMAGED{}:{}",
                    if resumed { "" } else { "!" },
                    s[start..end].trim()
                ),
            })
        });
        out
    }

    #[test]
    fn splits_nested_arrays_with_tricky_strings() {
        let s = r#"[ {"a":"x]}\"{"}, [1,[2]] ,"s,]" , 3.5e2, null ]"#;
        assert_eq!(
            pieces(s),
            vec![r#"{"a":"x]}\"{"}"#, "[1,[2]]", r#""s,]""#, "3.5e2", "null"]
        );
    }

    #[test]
    fn appended_arrays_objects_and_pages() {
        assert_eq!(
            pieces("[{\"a\":1},{\"a\":2}]\n[{\"a\":3}]"),
            vec![r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#]
        );
        assert_eq!(
            pieces("[{\"a\":1}][{\"a\":2}]\u{feff}{\"a\":3}"),
            vec![r#"{"a":1}"#, r#"{"a":2}"#, r#"={"a":3}"#]
        );
        assert_eq!(
            pieces(
                r#"{"@odata.context":"x","value":[{"a":1}]}{"value":[{"a":2},{"a":3}],"@odata.nextLink":"y"}"#
            ),
            vec![r#"={"a":1}"#, r#"={"a":2}"#, r#"={"a":3}"#]
        );
        assert_eq!(pieces("[]\n[]\n"), Vec::<String>::new());
    }

    #[test]
    fn damage_costs_one_element_when_lines_allow() {
        // An unescaped quote in the second element of a pretty-printed array.
        let s = "[\n    {\n        \"a\":  \"x\"y\"\n    },\n    {\n        \"a\":  2\n    }\n]\n[\n    {\n        \"a\":  3\n    }\n]\n";
        let p = pieces(s);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("DAMAGED:{"), "{p:?}");
        assert_eq!(p[1], "{\n        \"a\":  2\n    }");
        assert_eq!(p[2], "{\n        \"a\":  3\n    }");
        // Nested objects deeper than the element are not taken for elements.
        let s = "[\n  {\n    \"a\": \"x\"y\",\n    \"n\": [\n      {\"b\": 1},\n      {\"b\": 2}\n    ]\n  },\n  {\"a\": 2}\n]";
        let p = pieces(s);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[1], "{\"a\": 2}");
    }

    #[test]
    fn damage_with_nowhere_to_resume_runs_to_the_end() {
        assert_eq!(
            pieces(r#"[{"a":1},{"a":"#),
            vec![r#"{"a":1}"#, r#"DAMAGED!:{"a":"#]
        );
        assert_eq!(
            pieces(r#"[{"a":1}] trailing"#),
            vec![r#"{"a":1}"#, "DAMAGED!:trailing"]
        );
        assert_eq!(
            pieces("[{\"a\":1} x {\"b\":2}]"),
            vec![r#"{"a":1}"#, "DAMAGED!:x {\"b\":2}]"]
        );
        // Garbage between documents costs itself only.
        assert_eq!(
            pieces("[{\"a\":1}]\nWARNING: throttled\n[{\"a\":2}]"),
            vec![r#"{"a":1}"#, "DAMAGED:WARNING: throttled", r#"{"a":2}"#]
        );
    }
}
