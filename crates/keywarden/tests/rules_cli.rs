//! `keywarden rules check|list` and `keywarden hunt --rules`, run as a user would, on the small
//! rule and event fixtures of `crates/keywarden-sigma/tests/fixtures/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keywarden-sigma/tests/fixtures")
}

fn keywarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .output()
        .expect("keywarden runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_json_is_the_contract_and_reports_every_rule() {
    let o = keywarden(&["rules", "check", "rules", "--json"]);
    assert_eq!(o.status.code(), Some(1), "problems mean exit 1");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["rules", "loaded", "unsupported", "errors"]);
    insta::assert_json_snapshot!(v);
}

#[test]
fn check_text_lists_problems_and_clean_rules_exit_zero() {
    let o = keywarden(&["rules", "check", "rules"]);
    insta::assert_snapshot!(stdout(&o));
    let o = keywarden(&[
        "rules",
        "check",
        "rules/proc_whoami.yml",
        "rules/m365_inbox_rule.yml",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn list_filters_by_logsource_level_and_tag() {
    let o = keywarden(&["rules", "list", "rules", "--json"]);
    assert_eq!(stdout(&o).lines().count(), 2);
    let o = keywarden(&["rules", "list", "rules", "--logsource", "m365", "--json"]);
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON line");
    assert_eq!(line["title"], "Inbox Rule Forwarding Mail Externally");
    assert_eq!(line["runs_on"], serde_json::json!(["m365/audit"]));
    let o = keywarden(&[
        "rules",
        "list",
        "rules",
        "--level",
        "medium+",
        "--tag",
        "attack.t1033",
    ]);
    insta::assert_snapshot!(stdout(&o));
    let o = keywarden(&["rules", "list", "rules", "--level", "urgent"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn hunt_with_rules_writes_sigma_alerts() {
    let out = tempfile::tempdir().expect("tempdir");
    let out_dir = out.path().to_str().expect("utf-8 temp path");
    let o = keywarden(&[
        "hunt",
        "events.jsonl",
        "--rules",
        "rules/proc_whoami.yml",
        "--rules",
        "rules/m365_inbox_rule.yml",
        "--out",
        out_dir,
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(out.path().join("alerts.jsonl")).expect("alerts.jsonl");
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert line"))
        .collect();
    let titles: Vec<&str> = alerts.iter().filter_map(|a| a["title"].as_str()).collect();
    assert!(titles.contains(&"Whoami Execution"), "{titles:?}");
    assert!(
        titles.contains(&"Inbox Rule Forwarding Mail Externally"),
        "{titles:?}"
    );
    let whoami = alerts
        .iter()
        .find(|a| a["title"] == "Whoami Execution")
        .expect("whoami alert");
    assert_eq!(whoami["rule_id"], "5f0c3c1e-8d1b-4b8e-9a55-0c2f6a7b1d01");
    assert_eq!(whoami["severity"], "medium");
    assert_eq!(whoami["attack"], serde_json::json!(["T1033"]));
    assert_eq!(whoami["record_ids"], serde_json::json!(["events.jsonl:1"]));
    let inbox = alerts
        .iter()
        .find(|a| a["title"] == "Inbox Rule Forwarding Mail Externally")
        .expect("inbox alert");
    assert_eq!(inbox["user"], "bob@contoso.com");
    assert_eq!(inbox["client_ip"], "203.0.113.9");

    // `--logsource` narrows the rules: only the M365 rule runs.
    let o = keywarden(&[
        "hunt",
        "events.jsonl",
        "--rules",
        "rules/proc_whoami.yml",
        "--rules",
        "rules/m365_inbox_rule.yml",
        "--logsource",
        "product=m365",
        "--out",
        out_dir,
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(out.path().join("alerts.jsonl")).expect("alerts.jsonl");
    assert!(!text.contains("Whoami Execution"));
    assert!(text.contains("Inbox Rule Forwarding Mail Externally"));
}

#[test]
fn hunt_with_a_missing_rules_path_fails_clearly() {
    let out = tempfile::tempdir().expect("tempdir");
    let o = keywarden(&[
        "hunt",
        "events.jsonl",
        "--rules",
        "no-such-dir",
        "--out",
        out.path().to_str().expect("utf-8"),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-dir"));
}
