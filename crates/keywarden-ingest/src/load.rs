//! Finding inputs (files, directories, stdin) and loading their bytes, decompressing `.gz` and
//! `.zst` transparently (by magic bytes, not by name), and decoding UTF-16 text (Windows
//! PowerShell 5's `Out-File` default) to UTF-8.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::reject::RejectReason;

/// One input: a file, or stdin (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSource {
    /// The name shown in reports: the path as found, or `-`.
    pub name: String,
    pub path: Option<PathBuf>,
}

/// A path given on the command line does not exist or cannot be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot read input {path}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Expands paths into inputs: directories recursively (sorted, so runs are reproducible),
/// `-` as stdin. A directory's `.keywarden-collect` state folder is skipped.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<InputSource>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(InputSource {
                name: "-".into(),
                path: None,
            });
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|source| InputError::Unreadable {
            path: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(InputSource {
                name: p.display().to_string(),
                path: Some(p.clone()),
            });
        }
    }
    Ok(out)
}

/// The folder `keywarden collect` keeps its state in, inside an output directory.
pub const COLLECT_STATE_DIR: &str = ".keywarden-collect";

fn walk(dir: &Path, out: &mut Vec<InputSource>) -> Result<(), InputError> {
    let unreadable = |source| InputError::Unreadable {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // `keywarden collect`'s state (SQLite, lock, unfinished temporary files) is not log
            // data; its records are in the directory already, exactly once.
            if p.file_name().is_some_and(|n| n == COLLECT_STATE_DIR) {
                continue;
            }
            walk(&p, out)?;
        } else {
            out.push(InputSource {
                name: p.display().to_string(),
                path: Some(p),
            });
        }
    }
    Ok(())
}

/// The loaded bytes of one input. When decompression failed part-way, `bytes` holds what was
/// decoded and `error` says why the rest is missing.
pub(crate) struct Loaded {
    /// The decompressed input, as UTF-8 when it was UTF-16 (offsets then count UTF-8 bytes).
    pub bytes: Vec<u8>,
    /// Where the records start (after a UTF-8 BOM).
    pub start: usize,
    pub error: Option<RejectReason>,
}

pub(crate) const BOM_LEN: usize = 3;
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// An input opened for reading: either read completely, or a prefix plus the (decompressing)
/// reader for the rest.
pub(crate) enum Opened {
    Complete(Loaded),
    Partial {
        /// The first bytes (decompressed), at least `prefix_len` of them.
        prefix: Vec<u8>,
        rest: Box<dyn Read + Send>,
        /// The input is gzip or zstd (read errors are then decompression errors).
        compressed: bool,
    },
}

/// Opens an input and reads up to `prefix_len` decompressed bytes. Inputs no longer than that
/// come back [`Opened::Complete`].
#[expect(
    clippy::disallowed_methods,
    reason = "capped decoding: the engine streams the rest in bounded blocks (JSON lines, access logs) or reads it whole under max_input_bytes"
)]
pub(crate) fn open_prefix(src: &InputSource, prefix_len: usize) -> Opened {
    let failed = |e: std::io::Error| {
        Opened::Complete(Loaded {
            bytes: Vec::new(),
            start: 0,
            error: Some(RejectReason::Io(e.to_string())),
        })
    };
    let raw: Box<dyn Read + Send> = match &src.path {
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => return failed(e),
        },
        None => Box::new(std::io::stdin()),
    };
    let mut raw = std::io::BufReader::with_capacity(256 * 1024, raw);
    let magic = match std::io::BufRead::fill_buf(&mut raw) {
        Ok(b) => b.get(..4).unwrap_or(b).to_vec(),
        Err(e) => return failed(e),
    };
    let compressed = magic.starts_with(GZIP_MAGIC) || magic.starts_with(ZSTD_MAGIC);
    let reader: Box<dyn Read + Send> = if magic.starts_with(GZIP_MAGIC) {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else if magic.starts_with(ZSTD_MAGIC) {
        match zstd::stream::read::Decoder::with_buffer(raw) {
            Ok(d) => Box::new(d),
            Err(e) => return failed(e),
        }
    } else {
        Box::new(raw)
    };
    read_prefix(reader, compressed, prefix_len)
}

/// Reads up to `prefix_len` bytes of an input's (decoded) bytes; `compressed` says whether read
/// errors are decompression errors.
pub(crate) fn read_prefix(
    mut reader: Box<dyn Read + Send>,
    compressed: bool,
    prefix_len: usize,
) -> Opened {
    let mut prefix = Vec::with_capacity(prefix_len.min(16 << 20));
    let mut buf = vec![0u8; 256 * 1024];
    let mut error = None;
    while prefix.len() <= prefix_len {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => prefix.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(classify_read_error(e, compressed));
                break;
            }
        }
    }
    if prefix.len() <= prefix_len || error.is_some() {
        let (bytes, start) = decode_text(prefix);
        return Opened::Complete(Loaded {
            bytes,
            start,
            error,
        });
    }
    Opened::Partial {
        prefix,
        rest: reader,
        compressed,
    }
}

/// A read error is a decompression error when the input was compressed.
pub(crate) fn classify_read_error(e: std::io::Error, compressed: bool) -> RejectReason {
    if compressed {
        RejectReason::Decompression(e.to_string())
    } else {
        RejectReason::Io(e.to_string())
    }
}

/// Reads an input fully, decompressing gzip (multi-member) and zstd streams.
#[cfg(test)]
pub(crate) fn load(src: &InputSource) -> Loaded {
    let mut raw = Vec::new();
    let read = match &src.path {
        Some(p) => std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut raw)),
        None => std::io::stdin().lock().read_to_end(&mut raw),
    };
    if let Err(e) = read {
        return Loaded {
            bytes: Vec::new(),
            start: 0,
            error: Some(RejectReason::Io(e.to_string())),
        };
    }
    from_bytes(raw, u64::MAX)
}

/// Decompresses (when compressed) and BOM-strips bytes already in memory.
/// Decompressed output is capped at `cap` bytes (a decompression bomb costs one
/// `input-too-large` rejection, not the machine's memory).
#[expect(
    clippy::disallowed_methods,
    reason = "capped decoding: `decode` stops at `cap` decompressed bytes"
)]
pub(crate) fn from_bytes(raw: Vec<u8>, cap: u64) -> Loaded {
    let (bytes, error) = if raw.starts_with(GZIP_MAGIC) {
        decode(flate2::read::MultiGzDecoder::new(&raw[..]), cap)
    } else if raw.starts_with(ZSTD_MAGIC) {
        match zstd::stream::read::Decoder::new(&raw[..]) {
            Ok(d) => decode(d, cap),
            Err(e) => (Vec::new(), Some(RejectReason::Decompression(e.to_string()))),
        }
    } else {
        (raw, None)
    };
    let (bytes, start) = decode_text(bytes);
    Loaded {
        bytes,
        start,
        error,
    }
}

/// The encoding of a text, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// UTF-16 by its byte-order mark (`FF FE`, `FE FF`), or, without one, by the NUL bytes of
/// ASCII text in its first four bytes (`[\0{\0`...).
pub(crate) fn text_encoding(b: &[u8]) -> TextEncoding {
    match b {
        [0xff, 0xfe, ..] => TextEncoding::Utf16Le,
        [0xfe, 0xff, ..] => TextEncoding::Utf16Be,
        [a, 0, c, 0, ..] if a.is_ascii_graphic() || a.is_ascii_whitespace() => {
            if *c != 0 {
                TextEncoding::Utf16Le
            } else {
                TextEncoding::Utf8
            }
        }
        [0, a, 0, c, ..] if (a.is_ascii_graphic() || a.is_ascii_whitespace()) && *c != 0 => {
            TextEncoding::Utf16Be
        }
        _ => TextEncoding::Utf8,
    }
}

/// Decodes UTF-16 input to UTF-8 (an unpaired surrogate or a dangling odd byte becomes U+FFFD)
/// and returns the bytes with where the records start (after a UTF-8 or UTF-16 BOM).
pub(crate) fn decode_text(bytes: Vec<u8>) -> (Vec<u8>, usize) {
    let big_endian = match text_encoding(&bytes) {
        TextEncoding::Utf8 => {
            let start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
            return (bytes, start);
        }
        TextEncoding::Utf16Le => false,
        TextEncoding::Utf16Be => true,
    };
    let body = match bytes.get(..2) {
        Some([0xff, 0xfe] | [0xfe, 0xff]) => &bytes[2..],
        _ => &bytes[..],
    };
    let units = body.chunks(2).map(|p| match p {
        [a, b] if big_endian => u16::from_be_bytes([*a, *b]),
        [a, b] => u16::from_le_bytes([*a, *b]),
        // A dangling odd byte: not a code unit.
        _ => 0xdc00,
    });
    let mut out = String::with_capacity(body.len() / 2 + body.len() / 8);
    for c in char::decode_utf16(units) {
        out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    (out.into_bytes(), 0)
}

/// True when the reader yields at least one more byte (errors count as no more).
pub(crate) fn has_more(r: &mut impl Read) -> bool {
    let mut one = [0u8; 1];
    loop {
        match r.read(&mut one) {
            Ok(n) => return n > 0,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn decode(mut r: impl Read, cap: u64) -> (Vec<u8>, Option<RejectReason>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) if (out.len() + n) as u64 > cap => {
                let keep = cap.saturating_sub(out.len() as u64) as usize;
                out.extend_from_slice(&buf[..keep.min(n)]);
                return (out, Some(RejectReason::InputTooLarge { cap }));
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(RejectReason::Decompression(e.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn truncated_gzip_keeps_what_was_decoded() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..2000 {
            writeln!(enc, "{{\"n\":{i}}}").unwrap();
        }
        let gz = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.json.gz");
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let l = load(&InputSource {
            name: "cut".into(),
            path: Some(p),
        });
        assert!(matches!(l.error, Some(RejectReason::Decompression(_))));
        assert!(!l.bytes.is_empty());
    }
}
