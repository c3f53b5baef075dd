//! Fuzzes the EVTX container: arbitrary bytes read as an EVTX file (forced, and sniffed, with
//! the file magic put in front so that the parser gets past its first check). Every record must
//! be an event or a rejection; nothing may panic.
#![no_main]

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut with_magic = b"ElfFile\0".to_vec();
    with_magic.extend_from_slice(data);
    for (format, bytes) in [(Some(Format::Evtx), data.to_vec()), (None, with_magic)] {
        let cfg = IngestConfig {
            format,
            max_record_bytes: 64 * 1024,
            threads: 1,
            ..IngestConfig::default()
        };
        let out = ingest_bytes("fuzz.evtx", bytes, &cfg, &mut Discard);
        assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
        assert_eq!(out.counts.rejected as usize, out.rejections.len());
    }
});
