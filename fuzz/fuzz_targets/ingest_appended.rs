//! Fuzzes the reading of several JSON documents in one input (`container::values`): arbitrary
//! bytes as they are, behind a `[` (an array whose damage must cost single records), and
//! re-encoded as UTF-16LE with a BOM; each read whole and split into tiny chunks. Every record
//! must be an event or a rejection, and chunking must not change the account.
#![no_main]

use keywarden_ingest::{Discard, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut array = b"[".to_vec();
    array.extend_from_slice(data);
    let mut utf16 = vec![0xff, 0xfe];
    for &b in data {
        utf16.extend_from_slice(&[b, 0]);
    }
    for bytes in [data.to_vec(), array, utf16] {
        let mut counts = Vec::new();
        for chunk_bytes in [4 * 1024 * 1024, 16] {
            let cfg = IngestConfig {
                max_record_bytes: 64 * 1024,
                chunk_bytes,
                threads: 1,
                ..IngestConfig::default()
            };
            let out = ingest_bytes("fuzz.json", bytes.clone(), &cfg, &mut Discard);
            assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
            assert_eq!(out.counts.rejected as usize, out.rejections.len());
            counts.push((out.counts.records, out.counts.events));
        }
        assert_eq!(counts[0], counts[1]);
    }
});
