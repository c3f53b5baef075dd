//! Fuzzes what `keywarden serve` does with an ingest body before and after the store: capped
//! decompression, every shape through the engine, conversion to stored rows, and the live
//! detector folding them in (bounded state, never a panic); plus the API key file parser.
#![no_main]

use std::sync::OnceLock;

use keywarden_detect::{DetectConfig, Settings};
use keywarden_ingest::{IngestConfig, ingest_bytes};
use keywarden_model::Timestamp;
use keywarden_server::runtime::convert::RowCollector;
use keywarden_server::runtime::body_decode::decompress_capped;
use keywarden_server::{ApiKeys, LiveDetector, LiveLimits, LiveState};
use libfuzzer_sys::fuzz_target;

/// The default detection settings, built once and cloned per input.
fn settings() -> Option<&'static Settings> {
    static SETTINGS: OnceLock<Option<Settings>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| DetectConfig::default().build().ok())
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let _ = ApiKeys::parse(&String::from_utf8_lossy(data));
    let Ok(body) = decompress_capped(data.to_vec(), 1 << 20) else {
        return;
    };
    let cfg = IngestConfig {
        max_record_bytes: 64 * 1024,
        threads: 1,
        ..IngestConfig::default()
    };
    let mut rows = RowCollector::default();
    let out = ingest_bytes("fuzz", body, &cfg, &mut rows);
    assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
    assert_eq!(out.counts.events as usize, rows.rows.len());
    let Some(settings) = settings().cloned() else {
        return;
    };
    let limits = LiveLimits {
        max_issued: 8,
        max_pending: 8,
        max_alerts: 8,
        max_records_per_alert: 4,
        ..LiveLimits::default()
    };
    let mut live = LiveDetector::new(settings, limits, LiveState::default());
    let numbered: Vec<_> = rows
        .rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as i64 + 1, r))
        .collect();
    let _ = live.process(&numbered, Timestamp(1_700_000_000_000_000));
    assert!(live.pending() <= 8);
    let _ = live.tick(Timestamp(i64::MAX));
});
