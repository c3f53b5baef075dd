//! The evaluator: perfect hunts score 1.0 and exact, and each kind of miss is counted, named
//! and turns the targets red.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_model::{Alert, Exposure, Severity, Timestamp};
use keywarden_sim::eval::{evaluate, merge_windows, parse_alerts};
use keywarden_sim::{Attack, SimConfig, Simulation, Truth};

fn truth(attack: Attack) -> Truth {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SimConfig {
        seed: 11,
        users: 8,
        days: 8,
        attack,
        ..SimConfig::default()
    };
    Simulation::new(&config)
        .expect("config")
        .write_to(dir.path())
        .expect("write")
        .truth
}

fn alert(severity: Severity, ids: &[String]) -> Alert {
    let mut a = Alert::new("token-never-issued", "Token never issued", severity);
    a.id = "A1".into();
    a.record_ids = ids.to_vec();
    a
}

/// The truth's exposure, as a hunt would report it.
fn as_reported(t: &Truth) -> Exposure {
    t.exposure.clone()
}

#[test]
fn a_perfect_hunt_meets_every_target() {
    let t = truth(Attack::Storm0558);
    let mut ids = t.attacker_record_ids.clone();
    let e = evaluate(&t, &[alert(Severity::Critical, &ids)], &as_reported(&t));
    assert!(e.targets_met, "{e}");
    assert_eq!(e.high_alerts.recall, Some(1.0));
    assert_eq!(e.high_alerts.precision, Some(1.0));
    assert!(e.exposure.exact);
    // A low-severity lead on benign records does not count against high/critical precision.
    ids.truncate(1);
    let lead = alert(Severity::Low, &["benign-1".to_string()]);
    let e = evaluate(
        &t,
        &[alert(Severity::High, &t.attacker_record_ids), lead],
        &as_reported(&t),
    );
    assert!(e.targets_met, "{e}");
    assert!(e.all_alerts.precision.unwrap() < 1.0);
}

#[test]
fn misses_false_positives_and_exposure_gaps_are_named() {
    let t = truth(Attack::Storm0558);
    let mut ids = t.attacker_record_ids.clone();
    let missed = ids.pop().expect("attacker records");
    ids.extend((0..5).map(|n| format!("benign-{n}")));
    let mut exposure = as_reported(&t);
    let mb = &mut exposure.incidents[0].mailboxes[0];
    let dropped = mb.messages.pop();
    mb.folders_synced.push("\\Junk".into());
    let e = evaluate(&t, &[alert(Severity::High, &ids)], &exposure);
    assert!(!e.targets_met);
    assert_eq!(e.high_alerts.missed, vec![missed]);
    assert_eq!(e.high_alerts.false_positives.len(), 5);
    assert!(!e.exposure.exact);
    let d = &e.exposure.differences[0];
    assert_eq!(d.missing_messages, dropped.into_iter().collect::<Vec<_>>());
    assert_eq!(d.extra_folders, vec!["\\Junk"]);
    assert_eq!(e.unmet.len(), 3, "{:?}", e.unmet);
}

#[test]
fn a_clean_tenant_must_stay_silent() {
    let t = truth(Attack::None);
    let quiet = evaluate(
        &t,
        &[alert(Severity::Medium, &["x".into()])],
        &Exposure::default(),
    );
    assert!(quiet.targets_met, "{quiet}");
    assert_eq!(quiet.high_alerts.recall, None);
    let noisy = evaluate(
        &t,
        &[alert(Severity::High, &["x".into()])],
        &Exposure::default(),
    );
    assert!(!noisy.targets_met);
    insta::assert_snapshot!(noisy.to_string());
}

#[test]
fn windows_merge_and_mailboxes_compare_case_insensitively() {
    let t0 = Timestamp::parse("2023-06-12T00:00:00Z").unwrap();
    let w = |s: i64, e: i64| keywarden_model::TimeWindow {
        start: t0.plus_seconds(s),
        end: t0.plus_seconds(e),
    };
    assert_eq!(
        merge_windows(vec![w(50, 90), w(0, 60), w(100, 120)]),
        vec![w(0, 90), w(100, 120)]
    );
    let t = truth(Attack::Storm0558);
    let mut exposure = as_reported(&t);
    for mb in &mut exposure.incidents[0].mailboxes {
        mb.mailbox = mb.mailbox.to_ascii_uppercase();
    }
    let e = evaluate(
        &t,
        &[alert(Severity::High, &t.attacker_record_ids)],
        &exposure,
    );
    assert!(e.exposure.exact, "{e}");
    // Low-severity incidents are not what the attacker read.
    exposure.incidents[0].severity = Severity::Medium;
    let e = evaluate(
        &t,
        &[alert(Severity::High, &t.attacker_record_ids)],
        &exposure,
    );
    assert!(!e.exposure.exact);
}

#[test]
fn alerts_lines_parse_with_line_numbers_in_errors() {
    let good = serde_json::to_string(&alert(Severity::High, &["r1".into()])).unwrap();
    let text = format!("{good}\n\n{good}\n");
    assert_eq!(parse_alerts("a.jsonl", &text).unwrap().len(), 2);
    let bad = format!("{good}\n{{\"id\": 1}}\n");
    let err = parse_alerts("a.jsonl", &bad).unwrap_err().to_string();
    assert!(err.starts_with("a.jsonl:2:"), "{err}");
}
