//! Helpers shared by the integration tests: run rules over in-memory inputs through the real
//! ingest path and collect what fired.
#![allow(dead_code)]

use keywarden_ingest::{IngestConfig, Processor, ingest_bytes};
use keywarden_sigma::{RuleSet, SigmaConfig, SigmaOutcome};

/// Path of the shared data folder, relative to this crate (CI clones `shared/` beside the repo).
pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

/// Runs `rules` (one YAML text, possibly several documents) over one input.
pub fn run(rules: &str, input_name: &str, input: &str) -> SigmaOutcome {
    run_with(
        RuleSet::from_yaml("test.yml", rules),
        &SigmaConfig::default(),
        input_name,
        input.as_bytes().to_vec(),
    )
}

/// Runs a loaded rule set over one input with a given configuration.
pub fn run_with(set: RuleSet, cfg: &SigmaConfig, input_name: &str, input: Vec<u8>) -> SigmaOutcome {
    assert!(
        set.report.unsupported.is_empty() && set.report.errors.is_empty(),
        "rules did not load: {:?}",
        set.report
    );
    let stage = cfg.clone().build_with(set).expect("stage builds");
    {
        let mut p = stage.processor();
        let out = ingest_bytes(input_name, input, &IngestConfig::default(), &mut p);
        assert_eq!(out.counts.rejected, 0, "rejections: {:?}", out.rejections);
        p.finish();
    }
    stage.finish()
}

/// The 1-based input lines on which `rule_id` fired, for JSON-lines input named `in.jsonl`.
pub fn lines(outcome: &SigmaOutcome, rule_id: &str) -> Vec<u64> {
    let mut v: Vec<u64> = outcome
        .alerts
        .iter()
        .filter(|a| a.rule_id == rule_id)
        .flat_map(|a| a.record_ids.iter())
        .filter_map(|r| r.rsplit_once(':').and_then(|(_, l)| l.parse().ok()))
        .collect();
    v.sort_unstable();
    v
}

/// A detection rule on generic JSON with the given detection block (YAML, indented by 2).
pub fn rule(id: &str, detection: &str) -> String {
    format!(
        "title: test {id}\nid: {id}\nlevel: high\ntags: [attack.execution, attack.t1059.001]\nlogsource:\n  product: test\ndetection:\n{detection}\n"
    )
}
