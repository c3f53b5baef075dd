//! Logsource guards with the whole SigmaHQ `rules/` folder loaded, on real data:
//! - on the EVTX attack samples, no Linux, macOS, cloud, network, web, application or identity
//!   rule fires on a Windows event (rsigma without guards reports thousands of such matches);
//! - on real M365 audit records (a Purview export and Sentinel `OfficeActivity` rows), none of
//!   the cross-platform false matches rsigma makes ("Publicly Accessible RDP Service",
//!   "Cisco Local Accounts"), and only M365/Azure rules can fire.
//!
//! Also prints detections per ATT&CK tactic folder (run with `--nocapture` to see them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use keywarden_ingest::{IngestConfig, Quiet, expand_inputs, ingest};
use keywarden_model::Alert;
use keywarden_sigma::{RuleSet, SigmaConfig};

fn sigmahq_rules() -> (RuleSet, HashMap<String, String>) {
    let root = PathBuf::from(common::SHARED).join("sigma/rules");
    let set = RuleSet::load(&[root]).expect("SigmaHQ rules load");
    let folders = set
        .rules
        .iter()
        .filter_map(|r| {
            let id = r.rule.id.clone()?;
            let rel = r.path.split("/sigma/rules/").nth(1)?;
            Some((id, rel.split('/').next()?.to_string()))
        })
        .collect();
    (set, folders)
}

fn hunt(set: RuleSet, paths: &[PathBuf]) -> Vec<Alert> {
    let stage = SigmaConfig::default().build_with(set).expect("stage");
    let inputs = expand_inputs(paths).expect("inputs");
    let (report, _) = ingest(
        &inputs,
        &IngestConfig::default(),
        || stage.processor(),
        &Quiet,
    );
    assert!(report.events > 0, "no events read from {paths:?}");
    stage.finish().alerts
}

#[test]
fn no_foreign_rule_fires_on_windows_events() {
    let (set, folders) = sigmahq_rules();
    let r = &set.report;
    eprintln!(
        "rules/: {} rules, {} loaded, {} unsupported, {} errors",
        r.rules,
        r.loaded,
        r.unsupported.len(),
        r.errors.len()
    );
    assert!(r.loaded * 100 >= r.rules * 99, "{r:?}");
    let samples = PathBuf::from(common::SHARED).join("datasets/evtx-attack-samples");
    let alerts = hunt(set, std::slice::from_ref(&samples));
    let mut per_tactic: BTreeMap<String, usize> = BTreeMap::new();
    let mut foreign = Vec::new();
    for a in &alerts {
        let folder = folders.get(&a.rule_id).map_or("?", String::as_str);
        if !matches!(folder, "windows" | "category") {
            foreign.push(format!("{} ({folder}) on {:?}", a.title, a.record_ids));
        }
        let tactic = a.evidence["source"]
            .as_str()
            .and_then(|r| r.split("evtx-attack-samples/").nth(1))
            .and_then(|r| r.split('/').next())
            .map_or("?", |t| {
                if t.ends_with(".evtx") || t.contains('#') {
                    "(top level)"
                } else {
                    t
                }
            });
        *per_tactic.entry(tactic.to_string()).or_default() += 1;
    }
    eprintln!("{} detections on the EVTX attack samples:", alerts.len());
    for (t, n) in &per_tactic {
        eprintln!("  {t:<28} {n}");
    }
    assert!(
        foreign.is_empty(),
        "foreign rules fired:\n{}",
        foreign.join("\n")
    );
    assert!(alerts.len() > 100, "too few detections: {}", alerts.len());
}

#[test]
fn no_cross_platform_false_matches_on_m365_records() {
    let (set, folders) = sigmahq_rules();
    let data = PathBuf::from(common::SHARED).join("datasets");
    let alerts = hunt(
        set,
        &[
            data.join("huntress-ctf-2023-purview/purview.csv"),
            data.join("otrf-goldensaml-mail-access/OfficeActivityEvents.json"),
        ],
    );
    let bad: Vec<String> = alerts
        .iter()
        .filter(|a| {
            a.title == "Publicly Accessible RDP Service"
                || a.title == "Cisco Local Accounts"
                || folders
                    .get(&a.rule_id)
                    .is_some_and(|f| f != "cloud" && f != "identity")
        })
        .map(|a| format!("{} on {:?}", a.title, a.record_ids))
        .collect();
    eprintln!("{} detections on M365 records", alerts.len());
    assert!(
        bad.is_empty(),
        "cross-platform matches:\n{}",
        bad.join("\n")
    );
}
