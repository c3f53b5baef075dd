//! The decompression stack of an ingest body, streamed under one cap.
//!
//! A body is unwrapped layer by layer while its bytes sniff as gzip (`1f 8b`, multi-member
//! streams included) or zstd (`28 b5 2f fd`, concatenated frames included): gzip in gzip, zstd
//! in gzip, gzip in zstd... at most [`MAX_LAYERS`] layers. A body still compressed after that
//! is refused ([`IngestFailure::TooDeep`]), never handed to a reader that would unwrap it
//! again. Every byte any layer produces counts against ONE cap (`max_decompressed_bytes`), checked
//! as the bytes are produced: the read that goes past it fails, and the stack records that the
//! cap was hit ([`DecodeBudget::exceeded`]), so a small body that expands to gigabytes costs
//! at most the cap in decoding work and never more than the decoders' buffers in memory.
//! A zstd frame asking for a window larger than 2^[`ZSTD_WINDOW_LOG_MAX`] bytes is refused by
//! the decoder (a frame header alone must not make it allocate hundreds of megabytes).

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::runtime::queue::IngestFailure;

/// The most compression layers unwrapped.
pub const MAX_LAYERS: usize = 3;

/// zstd frames may use a window of at most 2^23 bytes (8 MiB; `zstd -19` uses 2^23 for large
/// inputs, every lower level less). Larger windows (`--long`) are a decompression error.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The bytes produced so far by every layer, against the cap; shared by the layers of one body.
#[derive(Debug)]
pub struct DecodeBudget {
    cap: u64,
    produced: AtomicU64,
    exceeded: AtomicBool,
    /// Set by the reader's consumer to stop reading (the next read fails).
    abort: AtomicBool,
}

impl DecodeBudget {
    pub fn new(cap: usize) -> DecodeBudget {
        DecodeBudget {
            cap: cap as u64,
            produced: AtomicU64::new(0),
            exceeded: AtomicBool::new(false),
            abort: AtomicBool::new(false),
        }
    }

    /// True once the layers together produced more than the cap.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Acquire)
    }

    /// Bytes produced by every layer so far.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::Acquire)
    }

    /// Makes every further read of the stack fail (the body's consumer gave up on it).
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Release);
    }

    fn charge(&self, n: usize) -> std::io::Result<()> {
        let total = self.produced.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        if total > self.cap {
            self.exceeded.store(true, Ordering::Release);
            return Err(std::io::Error::other(format!(
                "the body decompresses to more than {} bytes",
                self.cap
            )));
        }
        Ok(())
    }
}

/// A decoder layer whose output is charged to the budget.
struct Charged<R> {
    inner: R,
    budget: Arc<DecodeBudget>,
}

impl<R: Read> Read for Charged<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.budget.abort.load(Ordering::Acquire) {
            return Err(std::io::Error::other("reading the body was abandoned"));
        }
        if self.budget.exceeded() {
            return Err(std::io::Error::other(
                "the body is over its decompression cap",
            ));
        }
        let n = self.inner.read(buf)?;
        self.budget.charge(n)?;
        Ok(n)
    }
}

/// A body opened through its compression layers.
pub struct DecodedBody {
    /// The innermost bytes.
    pub reader: Box<dyn Read + Send>,
    /// How many layers were unwrapped (0: a plain body).
    pub layers: usize,
    pub budget: Arc<DecodeBudget>,
}

/// Opens `body` through up to [`MAX_LAYERS`] gzip/zstd layers, all charged to one budget of
/// `cap` bytes. A plain body longer than `cap` is refused at once. A layer that is corrupt is
/// not refused here: its reader fails where the damage is, and the ingest engine rejects the
/// rest with a `decompression` reason.
#[expect(
    clippy::disallowed_methods,
    reason = "capped decoding: every layer's reader is wrapped in `Charged`, one budget of `cap` bytes over all layers"
)]
pub fn open_layers(body: Arc<Vec<u8>>, cap: usize) -> Result<DecodedBody, IngestFailure> {
    let budget = Arc::new(DecodeBudget::new(cap));
    let plain = !body.starts_with(GZIP) && !body.starts_with(ZSTD);
    if plain && body.len() > cap {
        return Err(IngestFailure::TooLarge { limit: cap });
    }
    let mut layers = 0;
    let mut reader: Box<dyn Read + Send> = Box::new(Cursor::new(SharedBytes(body)));
    loop {
        let peeked = peek(reader, 4, &budget)?;
        let gzip = peeked.head.get_ref().starts_with(GZIP);
        let zstd = peeked.head.get_ref().starts_with(ZSTD);
        let joined: Box<dyn Read + Send> = Box::new(peeked);
        if !gzip && !zstd {
            reader = joined;
            break;
        }
        if layers == MAX_LAYERS {
            return Err(IngestFailure::TooDeep { layers: MAX_LAYERS });
        }
        let inner: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(joined))
        } else {
            match zstd::stream::read::Decoder::new(joined) {
                Ok(mut d) => {
                    // An unsupported setting only leaves zstd's own default limit.
                    let _ = d.window_log_max(ZSTD_WINDOW_LOG_MAX);
                    Box::new(d)
                }
                // No decoder context (out of memory): the body cannot be read.
                Err(e) => return Err(IngestFailure::Internal(e.to_string())),
            }
        };
        reader = Box::new(Charged {
            inner,
            budget: budget.clone(),
        });
        layers += 1;
    }
    if layers == 0 {
        // A plain body is charged as it is read (the cap bounds it too).
        reader = Box::new(Charged {
            inner: reader,
            budget: budget.clone(),
        });
    }
    Ok(DecodedBody {
        reader,
        layers,
        budget,
    })
}

/// A body shared by the passes that read it.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A reader's first bytes put back in front of the rest, with the error that cut them short
/// (if any) replayed where it happened.
struct Peeked {
    head: Cursor<Vec<u8>>,
    error: Option<std::io::Error>,
    rest: Box<dyn Read + Send>,
}

impl Read for Peeked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.rest.read(buf)
    }
}

/// Reads up to `n` bytes from `r` (fewer at its end or when it fails). Over the cap is a
/// refusal.
fn peek(
    mut r: Box<dyn Read + Send>,
    n: usize,
    budget: &DecodeBudget,
) -> Result<Peeked, IngestFailure> {
    let mut got = vec![0u8; n];
    let mut len = 0;
    let mut error = None;
    while len < n {
        match r.read(&mut got[len..]) {
            Ok(0) => break,
            Ok(k) => len += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if budget.exceeded() {
        return Err(IngestFailure::TooLarge {
            limit: budget.cap as usize,
        });
    }
    got.truncate(len);
    Ok(Peeked {
        head: Cursor::new(got),
        error,
        rest: r,
    })
}

/// Decompresses `body` through its layers into memory, under the cap (tests and fuzzing; the
/// server streams [`open_layers`] instead). A corrupt layer yields what decoded before the
/// damage.
pub fn decompress_capped(body: Vec<u8>, cap: usize) -> Result<Vec<u8>, IngestFailure> {
    let mut decoded = open_layers(Arc::new(body), cap)?;
    let mut out = Vec::new();
    let read = decoded.reader.read_to_end(&mut out);
    if decoded.budget.exceeded() {
        return Err(IngestFailure::TooLarge { limit: cap });
    }
    // A read error is damage in a layer: what decoded before it is the body.
    let _ = read;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// A gzip stream of `members` members, each 1 MiB of NUL bytes (about 1 KiB each).
    fn zeros_gzip(members: usize) -> Vec<u8> {
        let member = gzip(&vec![0u8; 1 << 20]);
        member.repeat(members)
    }

    #[test]
    fn gzip_bombs_are_refused_and_plain_bodies_pass() {
        let bomb = gzip(&vec![b' '; 4 << 20]);
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            decompress_capped(bomb.clone(), 1 << 20),
            Err(IngestFailure::TooLarge { .. })
        ));
        assert_eq!(decompress_capped(bomb, 8 << 20).unwrap().len(), 4 << 20);
        assert_eq!(decompress_capped(b"{}".to_vec(), 10).unwrap(), b"{}");
        assert!(matches!(
            decompress_capped(b"{\"a\":1}".to_vec(), 3),
            Err(IngestFailure::TooLarge { limit: 3 })
        ));
        // A corrupt stream yields what decoded before the damage (nothing here); the stack's
        // reader fails there for the engine to reject.
        let corrupt = vec![0x1f, 0x8b, 0, 0, 0];
        assert_eq!(decompress_capped(corrupt.clone(), 10).unwrap(), b"");
        let mut opened = open_layers(Arc::new(corrupt), 10).unwrap();
        assert_eq!(opened.layers, 1);
        assert!(opened.reader.read_to_end(&mut Vec::new()).is_err());
    }

    /// Issue 12, item 1: a gzip inside a gzip was expanded with no cap (the server decoded
    /// one layer under `max_decompressed_bytes`, the ingest engine the next one under its own
    /// 4 GiB limit): 3.8 KB became 1.5 GB in memory. Every layer now counts against one cap.
    #[test]
    fn regression_nested_gzip_escapes_decompression_cap() {
        // 1.5 GiB of NULs: 1536 gzip members of 1 MiB (about 1.5 MB), gzipped again.
        let inner = zeros_gzip(1536);
        let outer = gzip(&inner);
        assert!(outer.len() < 8 * 1024, "{}", outer.len());
        let cap = 4 << 20;
        // The old code decoded the outer layer only (1.5 MB, under the cap) and handed the
        // inner gzip on: refused now, after at most the cap's worth of decoding.
        let t0 = std::time::Instant::now();
        assert!(matches!(
            decompress_capped(outer.clone(), cap),
            Err(IngestFailure::TooLarge { limit }) if limit == cap
        ));
        let mut opened = open_layers(Arc::new(outer), cap).unwrap();
        assert_eq!(opened.layers, 2);
        let mut sink = [0u8; 64 * 1024];
        let mut read = 0u64;
        let err = loop {
            match opened.reader.read(&mut sink) {
                Ok(0) => panic!("the bomb decoded to its end ({read} bytes)"),
                Ok(n) => read += n as u64,
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("more than 4194304 bytes"), "{err}");
        assert!(opened.budget.exceeded());
        // Both layers' output counts: the inner bytes read are under the cap.
        assert!(read < cap as u64, "{read}");
        assert!(opened.budget.produced() > cap as u64);
        assert!(t0.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn every_layer_kind_is_unwrapped_up_to_the_limit() {
        let text = b"{\"Id\":\"a\"}\n".repeat(100);
        let zstd = |d: &[u8]| zstd::stream::encode_all(d, 3).unwrap();
        for (name, body) in [
            ("gzip", gzip(&text)),
            ("zstd", zstd(&text)),
            ("zstd in gzip", gzip(&zstd(&text))),
            ("gzip in zstd", zstd(&gzip(&text))),
            ("three", gzip(&zstd(&gzip(&text)))),
            (
                "multi-member",
                [gzip(&text[..550]), gzip(&text[550..])].concat(),
            ),
        ] {
            assert_eq!(decompress_capped(body, 1 << 20).unwrap(), text, "{name}");
        }
        let four = zstd(&gzip(&zstd(&gzip(&text))));
        assert!(matches!(
            decompress_capped(four, 1 << 20),
            Err(IngestFailure::TooDeep { layers: MAX_LAYERS })
        ));
        // The cap counts the bytes of every layer: here the inner text (1 100 bytes) and the
        // gzip stream around it.
        let nested = zstd(&gzip(&text));
        let middle = gzip(&text).len();
        assert!(decompress_capped(nested.clone(), text.len() + middle).is_ok());
        assert!(matches!(
            decompress_capped(nested, text.len() + middle - 1),
            Err(IngestFailure::TooLarge { .. })
        ));
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_not_decoded() {
        // A frame header declaring a 2 GiB window (window descriptor 0xF0 → 2^31) and no
        // content size: the decoder refuses it instead of allocating the window.
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf0, 0x01, 0x00, 0x00];
        let mut opened = open_layers(Arc::new(frame.to_vec()), 1 << 20).unwrap();
        assert!(opened.reader.read_to_end(&mut Vec::new()).is_err());
    }
}
