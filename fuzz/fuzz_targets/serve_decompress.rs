//! Fuzzes `keywarden serve`'s decompression stack (`body_decode::decompress_capped`) with nested
//! layers. The first input byte picks a cap; the second the layers to wrap the rest in (up to
//! three, each plain gzip, two-member gzip or zstd, innermost first), so that valid nested
//! streams are reached without the fuzzer having to forge CRCs; with the top bit set the rest
//! is handed over raw (corrupt, truncated and deeper streams). Invariants: what comes out is
//! never larger than the one cap and never still compressed (a layer left for a reader to
//! unwrap would escape the cap); a valid stack whose layers together produce at most the cap
//! comes out exactly as it went in, and one whose content alone is over the cap is refused.
#![no_main]

use std::io::Write;

use keywarden_server::runtime::body_decode::decompress_capped;
use libfuzzer_sys::fuzz_target;

const CAPS: [usize; 8] = [0, 1, 16, 512, 4096, 65_536, 1 << 20, 8 << 20];
const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn wrap(layer: u8, data: &[u8]) -> Vec<u8> {
    match layer {
        1 => gzip(data),
        2 => {
            // A multi-member gzip stream: both halves must be counted.
            let (a, b) = data.split_at(data.len() / 2);
            let mut out = gzip(a);
            out.extend_from_slice(&gzip(b));
            out
        }
        _ => zstd::stream::encode_all(data, 1).unwrap_or_default(),
    }
}

fn compressed(b: &[u8]) -> bool {
    b.starts_with(GZIP) || b.starts_with(ZSTD)
}

fuzz_target!(|data: &[u8]| {
    let [cap, layers, rest @ ..] = data else {
        return;
    };
    let cap = CAPS[usize::from(cap % 8)];
    // For a stack built here: the content, and the bytes all layers together produce.
    let mut built = None;
    let body = if layers & 0x80 != 0 {
        rest.to_vec()
    } else {
        // Small inputs are repeated so that a few fuzz bytes can become a large expansion.
        let repeat = usize::from((layers >> 6) & 1) * 255 + 1;
        let content = rest.repeat(repeat);
        let mut body = content.clone();
        let mut produced = 0;
        for shift in [0, 2, 4] {
            let layer = (layers >> shift) & 3;
            if layer != 0 {
                produced += body.len();
                body = wrap(layer, &body);
            }
        }
        // Content that itself sniffs as compressed is a layer more than was built.
        if !compressed(&content) {
            built = Some((content, produced));
        }
        body
    };
    let out = decompress_capped(body, cap);
    if let Ok(out) = &out {
        assert!(
            out.len() <= cap,
            "{} bytes out of the decompression stack with a cap of {cap}",
            out.len()
        );
        assert!(
            !compressed(out),
            "a compressed layer came out of the decompression stack"
        );
    }
    if let Some((content, produced)) = built {
        if produced <= cap && content.len() <= cap {
            assert!(
                out.as_ref().is_ok_and(|o| *o == content),
                "a valid stack producing {produced} bytes under a cap of {cap} did not come out whole: {:?}",
                out.map(|o| o.len())
            );
        }
        if content.len() > cap {
            assert!(
                out.is_err(),
                "{} bytes of content passed a cap of {cap}",
                content.len()
            );
        }
    }
});
