//! The collection pass's raw-bytes pre-filter must never change what is gathered: on the
//! shipped example tenant (every export shape the simulator writes for it) and on fixture
//! records whose ids are written with JSON `\u` escapes, the pass with the pre-filter gathers
//! exactly what a pass parsing every record gathers, while passing over most records unparsed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::path::PathBuf;

use common::{detector, fixture, run};
use keywarden_detect::Prefilter;
use keywarden_detect::{CollectStage, Gather};
use keywarden_ingest::{IngestConfig, Quiet, expand_inputs, ingest};

fn example() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/storm-0558"
    ))
}

fn collect(stage: &CollectStage<'_>, inputs: &[keywarden_ingest::InputSource]) -> u64 {
    let cfg = IngestConfig {
        threads: 2,
        ..IngestConfig::default()
    };
    let (report, _) = ingest(inputs, &cfg, || stage.processor(), &Quiet);
    report.passed
}

#[test]
fn prefiltered_collection_gathers_exactly_what_a_full_parse_gathers() {
    let d = detector();
    let inputs = expand_inputs(&[example()]).expect("example tenant exists");
    let cfg = IngestConfig {
        threads: 2,
        ..IngestConfig::default()
    };
    let scan = d.scan_stage();
    let _ = ingest(&inputs, &cfg, || scan.processor(), &Quiet);
    let plan = d.plan(scan.into_scan(), None);
    assert!(
        !plan.candidates.is_empty(),
        "the example holds an intrusion"
    );

    let filtered = d.collect_stage(&plan);
    assert!(
        filtered.prefilter().needles() > 0,
        "the example's keys have safe needles"
    );
    let passed = collect(&filtered, &inputs);
    let full = CollectStage::with_prefilter(&plan, d.settings(), Prefilter::All);
    assert_eq!(
        collect(&full, &inputs),
        0,
        "the reference parses every record"
    );

    let a: Vec<Gather> = filtered.into_gathered().candidates;
    let b: Vec<Gather> = full.into_gathered().candidates;
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "candidate {i} ({:?})", plan.candidates[i].rule);
    }
    assert!(
        passed > 0,
        "the pre-filter passed over nothing: the test would prove nothing"
    );
}

/// Writes a JSON value with every character of every string value as a `\u` escape: the
/// same record after parsing, but no id, user or IP appears in its bytes.
fn escaped(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push('"');
            for unit in s.encode_utf16() {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            out.push('"');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escaped(x, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("key"));
                out.push(':');
                escaped(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn escape_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("fixture line is JSON");
        escaped(&v, &mut out);
        out.push('\n');
    }
    out
}

#[test]
fn regression_escaped_token_ids_are_still_collected() {
    let plain = run(
        &[
            "signins.jsonl",
            "signins-noninteractive.jsonl",
            "ual-clean.jsonl",
            "ual-intrusion.jsonl",
        ],
        None,
    );
    let text = std::fs::read_to_string(fixture("ual-intrusion.jsonl")).expect("fixture");
    let escaped = escape_lines(&text);
    assert!(!escaped.contains("195.26.87.219"), "values are escaped");
    let dir = tempfile::tempdir().expect("temporary directory");
    for f in [
        "signins.jsonl",
        "signins-noninteractive.jsonl",
        "ual-clean.jsonl",
    ] {
        std::fs::copy(fixture(f), dir.path().join(f)).expect("copy fixture");
    }
    std::fs::write(dir.path().join("ual-intrusion.jsonl"), escaped).expect("write");
    let run_dir = common::run_pool(&[dir.path().to_path_buf()], 2, None);
    let ids = |r: &common::Run| {
        let mut v: Vec<(String, Vec<String>)> = r
            .alerts
            .iter()
            .map(|a| (a.rule_id.clone(), a.record_ids.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&plain), ids(&run_dir));
    assert!(!plain.high().is_empty());
}
