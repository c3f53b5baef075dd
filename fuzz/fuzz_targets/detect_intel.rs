//! The detection pack's IOC list parsers (CSV and STIX 2.1) on arbitrary text: errors are
//! values, never panics, and whatever loads can be queried.
#![no_main]

use keywarden_detect::Intel;
use keywarden_model::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut intel = Intel::default();
    let _ = intel.add_csv("fuzz.csv", &text);
    let _ = intel.add_stix("fuzz.json", &text);
    intel.add_first_party(&text);
    for probe in text.split([',', '\'', '\n', ' ']).take(64) {
        let _ = intel.ip_at(probe, Timestamp(i64::MAX), i64::MAX);
        let _ = intel.ip_at(probe, Timestamp(i64::MIN), 14);
        let _ = intel.key(probe);
        let _ = intel.is_first_party(probe);
    }
    let _ = intel.counts();
});
