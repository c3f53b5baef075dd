//! The per-target gates (`keywarden_sigma::Gate`) are an exact pre-filter: with SigmaHQ's
//! whole `rules/` folder over every real dataset in `../shared/datasets` (EVTX attack samples,
//! a Purview export, Sentinel `OfficeActivity` rows, Elastic's Azure fixtures), the stage with
//! gates produces exactly the alerts and match counts of the stage without them, and the gates
//! do skip events (so this test would notice them silently switching off).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::path::PathBuf;

use keywarden_ingest::{IngestConfig, Quiet, expand_inputs, ingest};
use keywarden_sigma::{RuleSet, SigmaConfig, SigmaOutcome};

fn run(set: RuleSet, paths: &[PathBuf], gates: bool) -> SigmaOutcome {
    let stage = SigmaConfig::default()
        .build_with(set)
        .expect("stage")
        .with_gates(gates);
    let inputs = expand_inputs(paths).expect("inputs");
    let (report, _) = ingest(
        &inputs,
        &IngestConfig::default(),
        || stage.processor(),
        &Quiet,
    );
    assert!(report.events > 0, "no events read from {paths:?}");
    stage.finish()
}

/// Alerts as comparable text (rule, records, time, evidence), sorted: alerts that tie on the
/// stage's order (time, rule, records) come in worker order, which varies between runs.
fn digest(o: &SigmaOutcome) -> Vec<String> {
    let mut d: Vec<String> = o
        .alerts
        .iter()
        .map(|a| serde_json::to_string(a).expect("alert serialises"))
        .collect();
    d.sort();
    d
}

fn equivalent(name: &str, paths: &[PathBuf], rules: &RuleSet) -> u64 {
    let with = run(rules.clone(), paths, true);
    let without = run(rules.clone(), paths, false);
    eprintln!(
        "{name}: {} events, {} evaluated, {} gated, {} matches, {} alerts",
        with.stats.events,
        with.stats.evaluated,
        with.stats.gated,
        with.stats.matches,
        with.alerts.len()
    );
    assert_eq!(without.stats.gated, 0, "{name}: gates off still gated");
    assert_eq!(with.stats.matches, without.stats.matches, "{name}: matches");
    assert_eq!(with.stats.evaluated, without.stats.evaluated, "{name}");
    let (a, b) = (digest(&with), digest(&without));
    if a != b {
        let only_with: Vec<_> = a.iter().filter(|x| !b.contains(x)).take(3).collect();
        let only_without: Vec<_> = b.iter().filter(|x| !a.contains(x)).take(3).collect();
        panic!(
            "{name}: gates changed the alerts\nwith only: {only_with:#?}\nwithout only: {only_without:#?}"
        );
    }
    with.stats.gated
}

#[test]
fn gates_change_nothing_on_real_data() {
    let shared = PathBuf::from(common::SHARED);
    let rules = RuleSet::load(&[shared.join("sigma/rules")]).expect("SigmaHQ rules load");
    assert!(rules.report.loaded > 3000, "{:?}", rules.report.loaded);
    let data = shared.join("datasets");
    let m365 = [
        data.join("huntress-ctf-2023-purview/purview.csv"),
        data.join("otrf-goldensaml-mail-access"),
    ];
    let gated = equivalent("M365 audit", &m365, &rules);
    assert!(gated > 0, "the M365 gate skipped no event");
    equivalent(
        "Azure fixtures",
        &[data.join("elastic-azure-fixtures")],
        &rules,
    );
    equivalent(
        "EVTX attack samples",
        &[data.join("evtx-attack-samples")],
        &rules,
    );
}

#[test]
fn gates_change_nothing_on_the_cloud_rules() {
    let shared = PathBuf::from(common::SHARED);
    let rules = RuleSet::load(&[shared.join("sigma/rules/cloud")]).expect("cloud rules load");
    let data = shared.join("datasets");
    let gated = equivalent(
        "cloud rules on every dataset",
        &[
            data.join("huntress-ctf-2023-purview/purview.csv"),
            data.join("otrf-goldensaml-mail-access"),
            data.join("elastic-azure-fixtures"),
        ],
        &rules,
    );
    assert!(gated > 0);
}
