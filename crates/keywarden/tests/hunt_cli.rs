//! `keywarden hunt` end to end through the real binary: the `summary.json` contract, the
//! accounting over the real public samples, `rejected.jsonl`, `--strict` and usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keywarden"))
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

fn hunt(args: &[&str], paths: &[PathBuf]) -> (i32, Value, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let status = bin()
        .arg("hunt")
        .arg("--quiet")
        .arg("--out")
        .arg(out.path())
        .args(args)
        .args(paths)
        .status()
        .unwrap();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    (status.code().unwrap_or(-1), summary, out)
}

fn assert_balanced(s: &Value) {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
    assert_eq!(n(s, "records"), n(s, "events") + n(s, "rejected"), "{s:#}");
    for i in s["inputs"].as_array().unwrap() {
        assert_eq!(n(i, "records"), n(i, "events") + n(i, "rejected"), "{i:#}");
    }
}

#[test]
fn summary_json_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.jsonl");
    std::fs::write(&p, "{\"n\":1}\n{broken\n").unwrap();
    let (code, s, out) = hunt(&[], std::slice::from_ref(&p));
    assert_eq!(code, 0);
    for key in [
        "keywarden_version",
        "inputs",
        "records",
        "events",
        "rejected",
        "rejections",
        "alerts",
    ] {
        assert!(s.get(key).is_some(), "summary.json lacks {key}: {s:#}");
    }
    let input = &s["inputs"][0];
    for key in ["path", "format", "records", "events", "rejected"] {
        assert!(input.get(key).is_some(), "inputs[] lacks {key}");
    }
    let r = &s["rejections"][0];
    assert_eq!(r["line"], 2);
    assert_eq!(r["path"], p.display().to_string());
    assert!(r["reason"].as_str().unwrap().contains("invalid JSON"));
    assert_balanced(&s);
    let rejected = std::fs::read_to_string(out.path().join("rejected.jsonl")).unwrap();
    let line: Value = serde_json::from_str(rejected.lines().next().unwrap()).unwrap();
    assert_eq!(line["raw"], "{broken");
    assert_eq!(line["code"], "invalid-json");
}

#[test]
fn strict_turns_rejections_into_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.jsonl");
    std::fs::write(&p, "{\"n\":1}\nnope\n").unwrap();
    let (code, s, _out) = hunt(&["--strict"], &[p]);
    assert_eq!(code, 1);
    assert_eq!(s["rejected"], 1);
}

#[test]
fn usage_errors_exit_2() {
    let out = bin()
        .args(["hunt", "/no/such/input.json", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/input.json"));
    let out = bin()
        .args(["hunt", "--format", "nonsense", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_real_sample_parses_with_zero_rejections() {
    let paths = [
        shared("datasets/huntress-ctf-2023-purview/purview.csv"),
        shared("datasets/otrf-goldensaml-mail-access"),
        shared("datasets/elastic-azure-fixtures"),
        shared("datasets/evtx-attack-samples"),
    ];
    let (code, s, _out) = hunt(&["--strict"], &paths);
    assert_balanced(&s);
    assert_eq!(s["rejected"], 0, "{:#}", s["rejections"]);
    assert_eq!(code, 0);
    let inputs = s["inputs"].as_array().unwrap();
    let purview = &inputs[0];
    assert_eq!(purview["format"], "purview-csv");
    assert_eq!(purview["events"], 219);
    // The only inputs without records are the data sets' own metadata files.
    for i in inputs {
        if i["format"] == "not-a-log" {
            let p = i["path"].as_str().unwrap();
            assert!(
                p.ends_with(".yaml") || p.ends_with(".md") || p.ends_with(".GPL"),
                "{p} was not read as a log"
            );
        }
    }
}

/// Alerts on input read from stdin list their record ids and exposure, exactly as when the same
/// records are read from a file (stdin is spooled so that the collection pass can re-read it).
#[test]
fn regression_stdin_alerts_list_their_records() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keywarden-detect/tests/fixtures");
    let mut text = Vec::new();
    for f in ["signins.jsonl", "ual-clean.jsonl", "ual-intrusion.jsonl"] {
        text.extend(std::fs::read(fixtures.join(f)).unwrap());
        if text.last() != Some(&b'\n') {
            text.push(b'\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.jsonl");
    std::fs::write(&file, &text).unwrap();
    let alerts = |out: &Path| -> Vec<(String, Vec<String>)> {
        let mut v: Vec<(String, Vec<String>)> = std::fs::read_to_string(out.join("alerts.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["severity"] == "high" || a["severity"] == "critical")
            .map(|a| {
                let ids = a["record_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect();
                (a["rule_id"].as_str().unwrap().to_string(), ids)
            })
            .collect();
        v.sort();
        v
    };
    let (code, _, from_file) = hunt(&[], std::slice::from_ref(&file));
    assert_eq!(code, 0);

    let out = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["hunt", "--quiet", "--out"])
        .arg(out.path())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&text).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let want = alerts(from_file.path());
    assert!(!want.is_empty(), "the fixture intrusion raises high alerts");
    assert!(want.iter().all(|(_, ids)| !ids.is_empty()));
    assert_eq!(alerts(out.path()), want);
    let exposure: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("exposure.json")).unwrap()).unwrap();
    let want_exposure: Value =
        serde_json::from_slice(&std::fs::read(from_file.path().join("exposure.json")).unwrap())
            .unwrap();
    assert_eq!(exposure, want_exposure);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["inputs"][0]["path"], "-");
}

#[test]
fn summary_json_and_terminal_note_sign_ins_without_token_id() {
    // The AzureAD module's sign-ins (UTF-16LE, as `Out-File` writes them) carry no token id.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keywarden-ingest/tests/fixtures/exporters/azuread-module");
    let out = tempfile::tempdir().unwrap();
    let run = bin()
        .arg("hunt")
        .arg("--out")
        .arg(out.path())
        .arg(&dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_balanced(&summary);
    let input = &summary["inputs"][0];
    assert_eq!(input["format"], "signin-graph");
    assert_eq!(input["events"], 2);
    let notes: Vec<(&str, u64, u64)> = input["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["code"].as_str().unwrap(),
                n["records"].as_u64().unwrap(),
                n["of"].as_u64().unwrap(),
            )
        })
        .collect();
    // `IsInteractive` names the category since the coverage model reads it: no `no-category`.
    assert_eq!(notes, vec![("no-token-id", 2, 2)]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("note no-token-id: 2 of 2 sign-in records"),
        "{stdout}"
    );
    // An input with nothing lacking has no `notes` key at all.
    let p = out.path().join("complete.jsonl");
    std::fs::write(
        &p,
        r#"{"createdDateTime":"2023-07-01T10:00:00Z","id":"s1","userPrincipalName":"bob@contoso.com","appId":"a","uniqueTokenIdentifier":"t1","signInEventTypes":["interactiveUser"]}"#,
    )
    .unwrap();
    let (_, s, _) = hunt(&[], &[p]);
    assert_eq!(s["inputs"][0]["format"], "signin-graph", "{s:#}");
    assert!(s["inputs"][0].get("notes").is_none(), "{s:#}");
}

/// Interactive-only sign-ins (Graph v1.0, the portal's default tab) leave refreshed tokens
/// unjudged: `summary.json` and the terminal say how many, why, and what to export next.
#[test]
fn regression_interactive_only_signins_report_unjudged_tokens() {
    let root = tempfile::tempdir().unwrap();
    let tenant = root.path().join("tenant");
    let sim = bin()
        .args(["simulate", "--out"])
        .arg(&tenant)
        .args([
            "--users",
            "8",
            "--days",
            "8",
            "--seed",
            "3",
            "--attack",
            "storm-0558",
        ])
        .args(["--gap", "interactive-only"])
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let out = root.path().join("out");
    let run = bin()
        .arg("hunt")
        .env("NO_COLOR", "1")
        .arg("--out")
        .arg(&out)
        .arg(&tenant)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let s: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_balanced(&s);
    let u = &s["coverage"]["unjudged"]["no-noninteractive-signins"];
    assert!(u["tokens"].as_u64().unwrap() > 0, "{:#}", s["coverage"]);
    assert!(u["records"].as_u64().unwrap() >= u["tokens"].as_u64().unwrap());
    assert!(
        u["hint"].as_str().unwrap().contains("non-interactive"),
        "{u:#}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("unjudged no-noninteractive-signins"),
        "{stdout}"
    );
    assert!(stdout.contains("sign-in coverage"), "{stdout}");
}

/// `--signin-coverage` declares categories complete: they are judged, and a bad SPEC is a usage
/// error (exit 2) with its reason.
#[test]
fn signin_coverage_flag_declares_categories_and_refuses_a_bad_spec() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/storm-0558");
    let (code, s, _out) = hunt(&["--signin-coverage", "all"], std::slice::from_ref(&dir));
    assert_eq!(code, 0);
    let declared = s["coverage"]["declared"].as_array().unwrap();
    assert!(!declared.is_empty(), "{:#}", s["coverage"]);
    assert!(
        s["coverage"]["unjudged"].get("time-gap").is_none(),
        "{:#}",
        s["coverage"]
    );
    let bad = bin()
        .args(["hunt", "--quiet", "--signin-coverage", "everything"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--signin-coverage"),
        "{bad:?}"
    );
}

/// A collector manifest (`collect.json`) among the inputs declares its complete sign-in
/// windows, as `--signin-coverage` would; a marked manifest that cannot be parsed stops the
/// hunt with its path; an unmarked `collect.json` is read as a log like any other file.
#[test]
fn regression_manifest_declared_without_its_sign_in_files() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("graph-signins");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("signIns.json"),
        r#"{"value":[{"id":"si-1","createdDateTime":"2026-06-01T10:00:00Z","tenantId":"t1","userPrincipalName":"alice@contoso.com","appId":"d3590ed6-52b3-4102-aeff-aad2292ab01c","ipAddress":"198.51.100.23","resourceId":"00000002-0000-0ff1-ce00-000000000000","status":{"errorCode":0},"uniqueTokenIdentifier":"uti-1"}]}"#,
    )
    .unwrap();
    // A manifest that lists its stream's files is applied only with them among the inputs.
    let listed = |file: &str| {
        format!(
            r#"{{"keywarden_collect": 1, "tenant": "t1", "since": "2026-06-01T00:00:00Z", "until": "2026-06-02T00:00:00Z", "complete": true,
 "sources": [{{"source": "graph-signins", "stream": "nonInteractiveUser", "complete": true, "files": ["{file}"],
   "windows": [{{"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z", "complete": true}}]}}]}}"#
        )
    };
    std::fs::write(
        root.path().join("collect.json"),
        listed("graph-signins/signIns.json"),
    )
    .unwrap();
    let (code, s, _out) = hunt(&[], &[root.path().to_path_buf()]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["coverage"]["declared"].as_array().unwrap().len(), 1);
    assert_eq!(s["coverage"]["declarations_refused"], serde_json::json!([]));
    std::fs::write(
        root.path().join("collect.json"),
        listed("graph-signins/signIns-page2.json"),
    )
    .unwrap();
    let (code, s, _out) = hunt(&[], &[root.path().to_path_buf()]);
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(
        s["coverage"]["declared"],
        serde_json::json!([]),
        "a manifest without its sign-in files declares nothing"
    );
    let refused = s["coverage"]["declarations_refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .as_str()
            .unwrap()
            .contains("1 of its 1 files are not among the inputs"),
        "{refused:?}"
    );
}

#[test]
fn regression_collect_manifest_not_applied_as_declared_coverage() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("graph-signins");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("signIns.json"),
        r#"{"value":[{"id":"si-1","createdDateTime":"2026-06-01T10:00:00Z","tenantId":"t1","userPrincipalName":"alice@contoso.com","appId":"d3590ed6-52b3-4102-aeff-aad2292ab01c","ipAddress":"198.51.100.23","resourceId":"00000002-0000-0ff1-ce00-000000000000","status":{"errorCode":0},"uniqueTokenIdentifier":"uti-1"}]}"#,
    )
    .unwrap();
    let manifest = |windows: &str| {
        format!(
            r#"{{"keywarden_collect": 1, "tenant": "t1", "since": "2026-06-01T00:00:00Z", "until": "2026-06-02T00:00:00Z", "complete": true,
 "sources": [{{"source": "graph-signins", "stream": "nonInteractiveUser", "complete": true, "windows": {windows}}}]}}"#
        )
    };
    std::fs::write(
        root.path().join("collect.json"),
        manifest(r#"[{"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z", "complete": true}]"#),
    )
    .unwrap();
    let (code, s, _out) = hunt(&[], &[root.path().to_path_buf()]);
    assert_eq!(code, 0, "{s:#}");
    let declared = s["coverage"]["declared"].as_array().unwrap();
    assert_eq!(declared.len(), 1, "{:#}", s["coverage"]);
    assert_eq!(declared[0]["category"], "non-interactive", "{declared:?}");
    assert!(
        declared[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("collect.json"),
        "{declared:?}"
    );

    // Marked but broken: refused with the manifest's path.
    std::fs::write(root.path().join("collect.json"), manifest("42")).unwrap();
    let bad = bin()
        .args(["hunt", "--quiet", "--out"])
        .arg(root.path().join("out-bad"))
        .arg(root.path())
        .output()
        .unwrap();
    assert_ne!(bad.status.code(), Some(0));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("collect.json"), "{err}");
}
