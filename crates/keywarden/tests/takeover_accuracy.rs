//! Issue 15's simulated proof, end to end with the real binary: over 20 seeds, alternating
//! `--attack app-takeover` and `--attack golden-saml`, `simulate` → `hunt` → `eval --json`
//! gives recall 1.0 and precision ≥ 0.99 on high/critical alerts and exact exposure, so the
//! confounders (a scheduled credential rotation of a nightly mail reader, a consent long
//! before its first read) raise nothing high. Small tenants (12 users × 8 days) keep it quick.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_keywarden");
const SEEDS: u64 = 20;

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .map_err(|e| format!("running keywarden {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "keywarden {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn app_takeover_and_golden_saml_are_found_and_confounders_stay_below_high() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for seed in 1..=SEEDS {
        let attack = if seed % 2 == 0 {
            "golden-saml"
        } else {
            "app-takeover"
        };
        let base = root.path().join(format!("{attack}-{seed}"));
        let (logs, truth, out) = (
            base.to_string_lossy().into_owned(),
            format!("{}.truth.json", base.display()),
            format!("{}-out", base.display()),
        );
        let seed_s = seed.to_string();
        let result = run(&[
            "simulate", "--out", &logs, "--users", "12", "--days", "8", "--seed", &seed_s,
            "--attack", attack, "--truth", &truth, "-q",
        ])
        .and_then(|_| run(&["hunt", &logs, "--out", &out, "-q"]))
        .and_then(|_| run(&["eval", "--truth", &truth, &out, "--json"]))
        .and_then(|j| serde_json::from_str::<Value>(&j).map_err(|e| e.to_string()));
        match result {
            Ok(e) => {
                let recall = e.pointer("/high_alerts/recall").and_then(Value::as_f64);
                let precision = e.pointer("/high_alerts/precision").and_then(Value::as_f64);
                let exact = e.pointer("/exposure/exact") == Some(&Value::Bool(true));
                println!(
                    "seed {seed:>2} {attack}: attacker {} | high recall {recall:?} precision {precision:?} | exposure exact {exact}",
                    e["attacker_records"]
                );
                if recall != Some(1.0) || precision.is_none_or(|p| p < 0.99) || !exact {
                    failures.push(format!(
                        "seed {seed} {attack}: recall {recall:?} precision {precision:?} exact {exact}: missed {} false positives {} differences {}",
                        e.pointer("/high_alerts/missed").unwrap_or(&Value::Null),
                        e.pointer("/high_alerts/false_positives").unwrap_or(&Value::Null),
                        e.pointer("/exposure/differences").unwrap_or(&Value::Null)
                    ));
                }
            }
            Err(err) => failures.push(format!("seed {seed} {attack}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
