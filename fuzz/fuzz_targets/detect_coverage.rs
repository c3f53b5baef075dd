//! Declared sign-in coverage parsers (`--signin-coverage` SPECs and `collect.json` manifests)
//! on arbitrary text, then a coverage model fed what they declare: errors are values, never
//! panics.
#![no_main]

use keywarden_detect::{
    CoverageModel, TokenKind, TokenWindow, parse_coverage_manifest, parse_coverage_spec,
};
use keywarden_model::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut model = CoverageModel::new(24);
    for line in text.lines().take(16) {
        if let Ok(d) = parse_coverage_spec(line, "fuzz") {
            d.into_iter().for_each(|d| model.declare(d));
        }
    }
    let _ = keywarden_ingest::is_collect_manifest("collect.json", data);
    if let Ok(d) = parse_coverage_manifest(&text, "collect.json") {
        d.into_iter().for_each(|d| model.declare(d));
    }
    model.finish(Some((Timestamp(i64::MIN), Timestamp(i64::MAX))));
    for kind in [TokenKind::Delegated, TokenKind::AppOnly] {
        let _ = model.judge(&TokenWindow {
            tenant: &text,
            kind,
            user: Some(&text),
            resource: Some(&text),
            issued: (Timestamp(i64::MIN), Timestamp(i64::MAX)),
        });
    }
    let _ = serde_json::to_string(&model.summary());
});
