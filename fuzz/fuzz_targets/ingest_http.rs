//! Fuzzes the access-log readers: arbitrary bytes as combined/common text lines (forced and
//! sniffed) and as JSON lines of the `http-json` shape. Every line must be an event or a
//! rejection; nothing may panic.
#![no_main]

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [None, Some(Format::HttpCombined), Some(Format::HttpJson)] {
        let cfg = IngestConfig {
            format,
            max_record_bytes: 64 * 1024,
            threads: 1,
            ..IngestConfig::default()
        };
        let out = ingest_bytes("fuzz.log", data.to_vec(), &cfg, &mut Discard);
        assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
        assert_eq!(out.counts.rejected as usize, out.rejections.len());
    }
});
