//! Fuzzes the identity, Graph and Windows JSON shapes: arbitrary bytes sniffed (pages,
//! envelopes, lines) and with each shape forced (sign-ins, diagnostic envelopes, Graph activity,
//! Entra audit, Windows event rows). Every record must be an event or a rejection.
#![no_main]

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [
        None,
        Some(Format::SignInGraph),
        Some(Format::SignInLogAnalytics),
        Some(Format::AzureDiagnostic),
        Some(Format::GraphActivity),
        Some(Format::EntraAudit),
        Some(Format::WindowsEventJson),
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
