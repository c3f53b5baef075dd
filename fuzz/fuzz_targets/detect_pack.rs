//! The whole detection pack (scan, rules, collection, alerts, incidents, exposure) on
//! arbitrary input split into a sign-in part and an audit part: no panic, and every alert
//! covers at least one record.
#![no_main]

use std::sync::OnceLock;

use keywarden_detect::{DetectConfig, Detector, assign_incidents};
use keywarden_ingest::IngestConfig;
use libfuzzer_sys::fuzz_target;

/// The default settings, built once (building them per input was most of an execution).
fn detector() -> Option<&'static Detector> {
    static DETECTOR: OnceLock<Option<Detector>> = OnceLock::new();
    DETECTOR
        .get_or_init(|| DetectConfig::default().build().ok().map(Detector::new))
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(detector) = detector() else {
        return;
    };
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (a, b) = data.split_at(split);
    let inputs: [(&str, &[u8]); 2] = [("signins.jsonl", a), ("audit.jsonl", b)];
    let cfg = IngestConfig {
        threads: 1,
        ..IngestConfig::default()
    };
    let (plan, detections) = detector.run_bytes(&inputs, &cfg, None);
    let mut alerts = detections.alerts.clone();
    for a in &alerts {
        assert!(!a.record_ids.is_empty(), "alert {} covers no record", a.id);
    }
    let incidents = assign_incidents(&mut alerts);
    let _ = detector.exposure_bytes(&plan, &alerts, &incidents, &inputs, &cfg);
});
