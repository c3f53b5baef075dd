//! `keywarden hunt` writes `alerts.csv` and `report.html` and prints the incident table, over
//! the real OTRF Golden SAML sample and over that same record with hostile values planted in
//! the fields an attacker controls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// Runs `hunt` (not quiet) and returns (stdout, out dir).
fn hunt(paths: &[PathBuf]) -> (String, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .arg("hunt")
        .arg("--out")
        .arg(out.path())
        .args(paths)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    (String::from_utf8(output.stdout).unwrap(), out)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn alert_ids(dir: &Path) -> Vec<String> {
    read(dir, "alerts.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn golden_saml_sample_gets_every_report() {
    let (stdout, out) = hunt(&[shared("datasets/otrf-goldensaml-mail-access")]);
    let ids = alert_ids(out.path());
    assert!(
        !ids.is_empty(),
        "the attacker app's MailItemsAccessed raises an alert"
    );
    let csv = read(out.path(), "alerts.csv");
    assert!(csv.starts_with("datetime,timestamp_desc,message,id,rule_id,"));
    // No value in this sample holds a line break, so rows are lines.
    assert_eq!(csv.lines().count(), ids.len() + 1, "one CSV row per alert");
    let html = read(out.path(), "report.html");
    assert!(html.contains("Content-Security-Policy"));
    let exposure: serde_json::Value =
        serde_json::from_str(&read(out.path(), "exposure.json")).unwrap();
    for inc in exposure["incidents"].as_array().unwrap() {
        let id = inc["id"].as_str().unwrap();
        assert!(html.contains(id), "report.html lacks incident {id}");
        assert!(stdout.contains(id), "incident table lacks {id}");
    }
    for id in &ids {
        assert!(
            html.contains(id.as_str()) && csv.contains(id.as_str()),
            "{id}"
        );
    }
    assert!(stdout.contains("SEVERITY  INCIDENT"));
    assert!(html.contains("pgustavo@simulandlabs.com"));
}

#[test]
fn hostile_record_is_shown_escaped_everywhere() {
    let real = std::fs::read_to_string(shared(
        "datasets/otrf-goldensaml-mail-access/OfficeActivityEvents.json",
    ))
    .unwrap();
    let mut record: serde_json::Value = serde_json::from_str(&real).unwrap();
    let user =
        "=HYPERLINK(\"https://evil.example\")<script>alert(1)</script>\u{1b}[2J\u{202e}@x.com";
    for key in ["UserId", "UserId_", "MailboxOwnerUPN"] {
        record[key] = user.into();
    }
    record["Client_IPAddress"] = "\u{1b}[2J\u{202e}\"><img src=x onerror=alert(1)>".into();
    let folders = record["Folders"]
        .as_str()
        .unwrap()
        .replace("\\u003c00000000", "\\u003c/pre\\u003e\\u003cscript\\u003e");
    record["Folders"] = folders.into();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("OfficeActivity.json");
    std::fs::write(&input, serde_json::to_string(&record).unwrap()).unwrap();

    let (stdout, out) = hunt(&[input]);
    assert!(!alert_ids(out.path()).is_empty(), "the record still alerts");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'),
        "{stdout}"
    );
    assert!(
        stdout.contains("\\u{1b}[2J"),
        "escape shown visibly: {stdout}"
    );
    let html = read(out.path(), "report.html");
    for raw in ["<script", "<img", "\u{1b}", "\u{202e}", "</pre><"] {
        assert!(!html.contains(raw), "unescaped {raw:?} in report.html");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let csv = read(out.path(), "alerts.csv");
    // The user cell is quoted (it holds `"`) and starts with the defusing `'`.
    assert!(
        csv.contains("\"'=hyperlink(\"\"https://evil.example\"\")"),
        "{csv}"
    );
    for live in [",=", ",\"=", "\n=", "\n\"="] {
        assert!(!csv.contains(live), "live formula ({live:?}): {csv}");
    }
    assert!(
        !csv.contains('\u{1b}') && !csv.contains('\u{202e}'),
        "hidden characters: {csv}"
    );
}
