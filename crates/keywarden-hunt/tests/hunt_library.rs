//! `keywarden_hunt` called in process: the typed output agrees with the files it writes, the
//! injected generation time is the only time in the outputs (two runs are byte-identical), bad
//! records are accounted for, and setting errors stop the build with their cause.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};

use keywarden_hunt::{HuntConfig, HuntError, HuntProgress, NoProgress};
use keywarden_model::Timestamp;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keywarden-detect/tests/fixtures")
}

fn intrusion_inputs() -> Vec<PathBuf> {
    ["signins.jsonl", "ual-clean.jsonl", "ual-intrusion.jsonl"]
        .iter()
        .map(|f| fixtures().join(f))
        .collect()
}

const GENERATED_AT: Timestamp = Timestamp(1_700_000_000_000_000);

fn config(out: &Path) -> HuntConfig {
    HuntConfig {
        out: out.to_path_buf(),
        threads: Some(2),
        ..HuntConfig::default()
    }
}

#[test]
fn output_matches_the_files_written() {
    let out = tempfile::tempdir().unwrap();
    let output = config(out.path())
        .build()
        .unwrap()
        .run(&intrusion_inputs(), GENERATED_AT, &NoProgress)
        .unwrap();
    assert_eq!(output.out, out.path());
    assert!(
        output.alerts.iter().any(|a| matches!(
            a.severity,
            keywarden_model::Severity::High | keywarden_model::Severity::Critical
        )),
        "the fixture intrusion raises a high alert"
    );
    let lines: Vec<Value> = std::fs::read_to_string(out.path().join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let typed: Vec<&str> = output.alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, typed);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["alerts"], output.alert_count());
    assert_eq!(summary["records"], output.report.records);
    assert_eq!(
        summary["keywarden_version"],
        keywarden_hunt::KEYWARDEN_VERSION
    );
    let exposure: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("exposure.json")).unwrap()).unwrap();
    assert_eq!(
        exposure["incidents"].as_array().unwrap().len(),
        output.exposure.incidents.len()
    );
}

#[test]
fn two_runs_with_the_same_clock_write_identical_files() {
    let run = || {
        let out = tempfile::tempdir().unwrap();
        config(out.path())
            .build()
            .unwrap()
            .run(&intrusion_inputs(), GENERATED_AT, &NoProgress)
            .unwrap();
        out
    };
    let (a, b) = (run(), run());
    for name in [
        "summary.json",
        "alerts.jsonl",
        "exposure.json",
        "alerts.csv",
        "report.html",
        "rejected.jsonl",
    ] {
        let (x, y) = (
            std::fs::read(a.path().join(name)).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
        );
        assert!(x == y, "{name} differs between two runs");
    }
    let html = std::fs::read_to_string(a.path().join("report.html")).unwrap();
    assert!(
        html.contains("2023-11-14"),
        "the injected generation time is shown"
    );
}

#[derive(Default)]
struct Counted {
    total: std::sync::atomic::AtomicU64,
    read: std::sync::atomic::AtomicU64,
    finished: std::sync::atomic::AtomicBool,
}

impl HuntProgress for Counted {
    fn started(&self, total_bytes: u64) {
        self.total
            .store(total_bytes, std::sync::atomic::Ordering::SeqCst);
    }
    fn advanced(&self, bytes: u64) {
        self.read
            .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
    }
    fn finished(&self) {
        self.finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn bad_records_are_rejected_counted_and_logged_and_progress_is_heard() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.jsonl");
    std::fs::write(&input, "{\"n\":1}\n{broken\n").unwrap();
    let out = dir.path().join("out");
    let progress = Counted::default();
    let output = config(&out)
        .build()
        .unwrap()
        .run(std::slice::from_ref(&input), GENERATED_AT, &progress)
        .unwrap();
    let r = &output.report;
    assert_eq!((r.records, r.events, r.rejected), (2, 1, 1));
    assert_eq!(r.rejections[0].line, Some(2));
    let rejected = std::fs::read_to_string(out.join("rejected.jsonl")).unwrap();
    let line: Value = serde_json::from_str(rejected.lines().next().unwrap()).unwrap();
    assert_eq!(line["raw"], "{broken");
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(progress.total.load(SeqCst), 16);
    assert_eq!(progress.read.load(SeqCst), 16);
    assert!(progress.finished.load(SeqCst));
}

#[test]
fn setting_errors_stop_the_build_with_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-rules");
    let err = HuntConfig {
        rules: vec![missing.clone()],
        ..config(dir.path())
    }
    .build()
    .err()
    .expect("missing rules stop the build");
    assert!(matches!(err, HuntError::Sigma { .. }), "{err:?}");
    let chain = anyhow_like(&err);
    assert!(chain.contains("no-such-rules"), "{chain}");

    let err = config(dir.path())
        .build()
        .unwrap()
        .run(
            &[dir.path().join("no-such-input")],
            GENERATED_AT,
            &NoProgress,
        )
        .expect_err("a missing input stops the run");
    assert!(matches!(err, HuntError::Inputs(_)), "{err:?}");
}

/// The error and its causes, one per line (what `{e:#}` of an `anyhow::Error` shows).
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `hunt --rules RULES` of `inputs` into `out`.
fn hunt_with_rules(rules: &Path, inputs: &[PathBuf], out: &Path) -> keywarden_hunt::HuntOutput {
    HuntConfig {
        rules: vec![rules.to_path_buf()],
        ..config(out)
    }
    .build()
    .unwrap()
    .run(inputs, GENERATED_AT, &NoProgress)
    .unwrap()
}

fn sigma_alerts(alerts: &[keywarden_model::Alert]) -> Vec<&keywarden_model::Alert> {
    alerts
        .iter()
        .filter(|a| a.id.starts_with("sigma:"))
        .collect()
}

#[test]
fn regression_sigma_alert_ids_collided_across_windows_hosts() {
    // Two hosts' Security logs both hold EventRecordID 77, a failed logon each: two events,
    // two alerts. The Sigma alert id was `sigma:<rule>:77` for both (serve's alert book, keyed
    // by id, kept one of them), and the local logons' `IpAddress` 127.0.0.1 joined the two
    // high alerts into one incident.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("failed_logon.yml"),
        "title: Failed logon
id: 5f1b6c1e-0000-4c1e-9f00-000000000077
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
level: high
",
    )
    .unwrap();
    let mut inputs = Vec::new();
    for host in ["WS1", "WS2"] {
        let path = dir.path().join(format!("{host}-security.jsonl"));
        std::fs::write(
            &path,
            format!(
                r##"{{"Event":{{"System":{{"Provider":{{"#attributes":{{"Name":"Microsoft-Windows-Security-Auditing"}}}},"EventID":4625,"Channel":"Security","Computer":"{host}","EventRecordID":77,"TimeCreated":{{"#attributes":{{"SystemTime":"2024-03-01T10:00:00Z"}}}}}},"EventData":{{"TargetUserName":"admin","IpAddress":"127.0.0.1","LogonType":"2"}}}}}}"##
            ) + "\n",
        )
        .unwrap();
        inputs.push(path);
    }
    let output = hunt_with_rules(&rules, &inputs, &dir.path().join("out"));
    let sigma = sigma_alerts(&output.alerts);
    assert_eq!(sigma.len(), 2, "{sigma:#?}");
    assert_ne!(sigma[0].id, sigma[1].id);
    let mut records: Vec<&str> = sigma.iter().map(|a| a.record_ids[0].as_str()).collect();
    records.sort_unstable();
    assert_eq!(
        records,
        [
            "WS1/Security/77@2024-03-01T10:00:00Z",
            "WS2/Security/77@2024-03-01T10:00:00Z"
        ]
    );
    assert_ne!(sigma[0].incident_id, sigma[1].incident_id);

    // The same host's file again, in another folder (as EVTX-ATTACK-SAMPLES holds
    // UACME_59_Sysmon.evtx twice): one record, so one alert naming both files, and a
    // correlation counting failed logons per host does not count it twice.
    std::fs::write(
        rules.join("failed_logons_per_host.yml"),
        "title: Two failed logons on one host
id: 5f1b6c1e-0000-4c1e-9f00-000000000078
status: test
correlation:
    type: event_count
    rules:
        - 5f1b6c1e-0000-4c1e-9f00-000000000077
    group-by:
        - Computer
    timespan: 1h
    generate: true
    condition:
        gte: 2
level: high
",
    )
    .unwrap();
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(&inputs[0], copy.join("WS1-security.jsonl")).unwrap();
    inputs.push(copy.join("WS1-security.jsonl"));
    let output = hunt_with_rules(&rules, &inputs, &dir.path().join("out2"));
    let sigma = sigma_alerts(&output.alerts);
    assert_eq!(sigma.len(), 2, "{sigma:#?}");
    let ws1 = sigma
        .iter()
        .find(|a| a.record_ids == ["WS1/Security/77@2024-03-01T10:00:00Z"])
        .unwrap();
    // The copy kept is the first by source: `…/WS1-security.jsonl` before `…/copy/…`.
    let kept = inputs[0].display().to_string();
    assert!(
        ws1.evidence["source"]
            .as_str()
            .is_some_and(|s| s.starts_with(&kept)),
        "{ws1:#?}"
    );
    assert_eq!(
        ws1.evidence["also_in"].as_array().map(Vec::len),
        Some(1),
        "{ws1:#?}"
    );
    assert_eq!(ws1.evidence["copies"], 2);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out2/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["sigma"]["repeats"], 1, "{summary:#}");
    assert!(
        output
            .alerts
            .iter()
            .all(|a| a.rule_id != "5f1b6c1e-0000-4c1e-9f00-000000000078"),
        "one event counted twice fired the correlation: {:#?}",
        output.alerts
    );

    // Positive control: a second, different failed logon on WS1 does fire it.
    let second = dir.path().join("WS1-second.jsonl");
    let text = std::fs::read_to_string(&inputs[0])
        .unwrap()
        .replace("\"EventRecordID\":77", "\"EventRecordID\":78")
        .replace("10:00:00Z", "10:00:05Z");
    std::fs::write(&second, text).unwrap();
    inputs.push(second);
    let output = hunt_with_rules(&rules, &inputs, &dir.path().join("out3"));
    let fired: Vec<_> = output
        .alerts
        .iter()
        .filter(|a| a.rule_id == "5f1b6c1e-0000-4c1e-9f00-000000000078")
        .collect();
    assert_eq!(fired.len(), 1, "{:#?}", output.alerts);
    assert_eq!(fired[0].evidence["aggregated_value"], 2.0);
}

/// A simulated Storm-0558 tenant written into `dir` (the same files for the same seed).
fn simulated_tenant(dir: &Path) {
    let config = keywarden_sim::SimConfig {
        seed: 1,
        ..keywarden_sim::SimConfig::default()
    };
    keywarden_sim::Simulation::new(&config)
        .unwrap()
        .write_to(dir)
        .unwrap();
}

/// The alerts of a run as JSON, without the one key that says copies were met.
fn alerts_without_repeats(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut a: Value = serde_json::from_str(l).unwrap();
            if let Some(e) = a["evidence"].as_object_mut() {
                e.remove("repeated_records");
            }
            a
        })
        .collect()
}

#[test]
fn regression_a_second_copy_of_the_input_doubled_alert_and_exposure_counts() {
    // Overlapping exports are what responders have: the same tenant's export given twice
    // (here a second folder holding the same files) doubled every alert's `records` and weak
    // signal counts and every mailbox's `linked_by` in exposure.json. Each record counts once.
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    simulated_tenant(&a);
    simulated_tenant(&b);
    let (once, twice) = (root.path().join("once"), root.path().join("twice"));
    let run = |inputs: &[PathBuf], out: &Path| {
        config(out)
            .build()
            .unwrap()
            .run(inputs, GENERATED_AT, &NoProgress)
            .unwrap()
    };
    let first = run(std::slice::from_ref(&a), &once);
    let second = run(&[a.clone(), b.clone()], &twice);
    assert!(
        first.alert_count() > 0,
        "the simulated intrusion raises alerts"
    );
    assert_eq!(second.report.records, 2 * first.report.records);
    assert_eq!(
        alerts_without_repeats(&twice),
        alerts_without_repeats(&once),
        "a second copy of the input changed the alerts"
    );
    assert_eq!(
        std::fs::read(twice.join("exposure.json")).unwrap(),
        std::fs::read(once.join("exposure.json")).unwrap(),
        "a second copy of the input changed exposure.json"
    );
    let summary = |out: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
    };
    assert_eq!(summary(&once)["repeated_records"], 0);
    let repeated = summary(&twice)["repeated_records"].as_u64().unwrap();
    assert!(repeated > 0, "the copies are counted in summary.json");
    // Each alert says how many of its records were copies: as many as it counts.
    for a in &second.alerts {
        let records = a.evidence["records"].as_u64().unwrap_or(0);
        if records > 0 {
            assert_eq!(
                a.evidence["repeated_records"].as_u64(),
                Some(records),
                "{}: every record is held twice",
                a.rule_id
            );
        }
    }
}
