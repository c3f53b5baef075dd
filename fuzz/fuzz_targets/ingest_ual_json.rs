//! Fuzzes UAL record extraction (Management API, Sentinel OfficeActivity, Defender
//! CloudAppEvents with embedded JSON and PowerShell text) and the other Defender
//! advanced-hunting tables (union columns, `AdditionalFields` text): arbitrary bytes, sniffed
//! and with each shape forced. Every record must be an event or a rejection.
#![no_main]

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [
        None,
        Some(Format::UalJson),
        Some(Format::UalSearchJson),
        Some(Format::SentinelOfficeActivity),
        Some(Format::DefenderCloudAppEvents),
        Some(Format::DefenderDeviceEvents),
        Some(Format::DefenderIdentityDirectoryEvents),
    ] {
        let cfg = IngestConfig {
            format,
            max_record_bytes: 64 * 1024,
            threads: 1,
            ..IngestConfig::default()
        };
        let out = ingest_bytes("fuzz.json", data.to_vec(), &cfg, &mut Discard);
        assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
        assert_eq!(out.counts.rejected as usize, out.rejections.len());
    }
});
