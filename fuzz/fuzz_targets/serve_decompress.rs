//! Fuzzes `keywarden serve`'s decompression stack (`pipeline::decompress_capped`) with nested
//! layers. The first input byte picks a cap; the second the layers to wrap the rest in (up to
//! three, each plain gzip, two-member gzip or zstd, innermost first), so that valid nested
//! streams are reached without the fuzzer having to forge CRCs; with the top bit set the rest
//! is handed over raw (corrupt and truncated streams). Invariant: whatever the layers, what
//! comes out is never larger than the one cap, and nothing panics or allocates past
//! `-rss_limit_mb`.
#![no_main]

use std::io::Write;

use keywarden_server::pipeline::decompress_capped;
use libfuzzer_sys::fuzz_target;

const CAPS: [usize; 8] = [0, 1, 16, 512, 4096, 65_536, 1 << 20, 8 << 20];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn wrap(layer: u8, data: Vec<u8>) -> Vec<u8> {
    match layer {
        1 => gzip(&data),
        2 => {
            // A multi-member gzip stream: both halves must be counted.
            let (a, b) = data.split_at(data.len() / 2);
            let mut out = gzip(a);
            out.extend_from_slice(&gzip(b));
            out
        }
        3 => zstd::stream::encode_all(&data[..], 1).unwrap_or_default(),
        _ => data,
    }
}

fuzz_target!(|data: &[u8]| {
    let [cap, layers, rest @ ..] = data else {
        return;
    };
    let cap = CAPS[usize::from(cap % 8)];
    let body = if layers & 0x80 != 0 {
        rest.to_vec()
    } else {
        // Small inputs are repeated so that a few fuzz bytes can become a large expansion.
        let repeat = usize::from((layers >> 6) & 1) * 255 + 1;
        let mut body = rest.repeat(repeat);
        for shift in [0, 2, 4] {
            body = wrap((layers >> shift) & 3, body);
        }
        body
    };
    if let Ok(out) = decompress_capped(body, cap) {
        assert!(
            out.len() <= cap,
            "{} bytes out of the decompression stack with a cap of {cap}",
            out.len()
        );
    }
});
