//! The proof, in process: over 20 seeds and every export shape, a simulated tenant
//! (`keywarden_sim`) hunted by [`keywarden_hunt`] and scored by `keywarden_sim::evaluate_dir`
//! must give recall 1.0 and precision ≥ 0.99 on high/critical alerts and exact exposure; and on
//! clean tenants (`Attack::None`) not one high/critical alert. (`keywarden simulate`, `hunt` and
//! `eval` are thin calls of these same functions; their flags are tested in the CLI tests.)
//!
//! Every case runs before anything is asserted, so a failure lists all seeds and what each
//! missed. Tenants are small (20 users × 10 days, about 1 600 records) to keep the test quick.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::Path;

use keywarden_hunt::{HuntConfig, NoProgress};
use keywarden_model::Timestamp;
use keywarden_sim::{Attack, Shape, SimConfig, Simulation, evaluate_dir};
use serde_json::Value;

const ATTACK_SEEDS: u64 = 20;
const CLEAN_SEEDS: u64 = 4;
const PRECISION_TARGET: f64 = 0.99;

/// Shape choices: each UAL shape with each sign-in shape, and the day-by-day mix of all.
const SHAPES: [&str; 7] = [
    "ual-json,signin-graph",
    "ual-json,azure-diagnostic",
    "purview-csv,signin-graph",
    "purview-csv,azure-diagnostic",
    "sentinel-office-activity,signin-graph",
    "sentinel-office-activity,azure-diagnostic",
    "ual-json,purview-csv,sentinel-office-activity,signin-graph,azure-diagnostic",
];

/// simulate → hunt → eval; the evaluation as JSON.
fn evaluate(root: &Path, seed: u64, attack: &str, shapes: &str) -> Result<Value, String> {
    let name = format!("{attack}-{seed}");
    let logs = root.join(&name);
    let out = root.join(format!("{name}-out"));
    let config = SimConfig {
        seed,
        users: 20,
        days: 10,
        attack: attack.parse::<Attack>().map_err(|e| e.to_string())?,
        shapes: shapes
            .split(',')
            .map(|s| s.parse::<Shape>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        ..SimConfig::default()
    };
    let sim = Simulation::new(&config).map_err(|e| format!("simulate: {e}"))?;
    let truth = sim
        .write_to(&logs)
        .map_err(|e| format!("simulate: {e}"))?
        .truth;
    HuntConfig {
        out: out.clone(),
        ..HuntConfig::default()
    }
    .build()
    .and_then(|h| h.run(&[logs], Timestamp(0), &NoProgress))
    .map_err(|e| format!("hunt: {e}"))?;
    let evaluation = evaluate_dir(&truth, &out).map_err(|e| format!("eval: {e}"))?;
    serde_json::to_value(&evaluation).map_err(|e| format!("eval as JSON: {e}"))
}

fn ratio(v: &Value, path: &str) -> Option<f64> {
    v.pointer(path).and_then(Value::as_f64)
}

/// What is wrong with one attacked case, if anything.
fn attack_problems(e: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let recall = ratio(e, "/high_alerts/recall");
    if recall != Some(1.0) {
        p.push(format!(
            "high/critical recall {recall:?}, missed {}",
            e.pointer("/high_alerts/missed").unwrap_or(&Value::Null)
        ));
    }
    let precision = ratio(e, "/high_alerts/precision");
    if precision.is_none_or(|x| x < PRECISION_TARGET) {
        p.push(format!(
            "high/critical precision {precision:?}, benign ids {}",
            e.pointer("/high_alerts/false_positives")
                .unwrap_or(&Value::Null)
        ));
    }
    if e.pointer("/exposure/exact") != Some(&Value::Bool(true)) {
        p.push(format!(
            "exposure differs: {}",
            e.pointer("/exposure/differences").unwrap_or(&Value::Null)
        ));
    }
    p
}

#[test]
fn hunt_finds_every_simulated_intrusion_and_stays_silent_on_clean_tenants() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for seed in 1..=ATTACK_SEEDS {
        let shapes = SHAPES[(seed as usize) % SHAPES.len()];
        match evaluate(root.path(), seed, "storm-0558", shapes) {
            Ok(e) => {
                println!(
                    "seed {seed:>2} [{shapes}]: attacker {} | high/critical recall {:?} precision {:?} | all alerts recall {:?} precision {:?} | exposure exact {}",
                    e["attacker_records"],
                    ratio(&e, "/high_alerts/recall"),
                    ratio(&e, "/high_alerts/precision"),
                    ratio(&e, "/all_alerts/recall"),
                    ratio(&e, "/all_alerts/precision"),
                    e["exposure"]["exact"]
                );
                for problem in attack_problems(&e) {
                    failures.push(format!("seed {seed} [{shapes}]: {problem}"));
                }
            }
            Err(err) => failures.push(format!("seed {seed} [{shapes}]: {err}")),
        }
    }
    for seed in 1..=CLEAN_SEEDS {
        let shapes = SHAPES[(seed as usize * 2) % SHAPES.len()];
        let seed = 1000 + seed;
        match evaluate(root.path(), seed, "none", shapes) {
            Ok(e) => {
                let high = e.pointer("/high_alerts/alerts").and_then(Value::as_u64);
                println!("clean seed {seed} [{shapes}]: high/critical alerts {high:?}");
                if high != Some(0) {
                    failures.push(format!(
                        "clean seed {seed} [{shapes}]: {high:?} high/critical alerts covering {}",
                        e.pointer("/high_alerts/false_positives")
                            .unwrap_or(&Value::Null)
                    ));
                }
                if e.pointer("/exposure/exact") != Some(&Value::Bool(true)) {
                    failures.push(format!("clean seed {seed} [{shapes}]: exposure reported"));
                }
            }
            Err(err) => failures.push(format!("clean seed {seed} [{shapes}]: {err}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        ATTACK_SEEDS + CLEAN_SEEDS,
        failures.join("\n")
    );
}
