//! `keywarden eval`'s readers on hostile input: a `truth.json`, an `alerts.jsonl` and an
//! `exposure.json` (the input split on NUL bytes), then the evaluation and its text report.
//! Must never panic.
#![no_main]

use keywarden_model::Exposure;
use keywarden_sim::Truth;
use keywarden_sim::eval::{evaluate, parse_alerts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let truth = parts.next().unwrap_or_default();
    let alerts = parts.next().unwrap_or_default();
    let exposure = parts.next().unwrap_or_default();
    let Ok(truth) = serde_json::from_slice::<Truth>(truth) else {
        return;
    };
    let alerts = String::from_utf8_lossy(alerts);
    let Ok(alerts) = parse_alerts("alerts.jsonl", &alerts) else {
        return;
    };
    let exposure = serde_json::from_slice::<Exposure>(exposure).unwrap_or_default();
    let e = evaluate(&truth, &alerts, &exposure);
    let _ = e.to_string();
});
