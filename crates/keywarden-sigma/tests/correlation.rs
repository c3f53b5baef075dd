//! Correlation rules (Sigma v2) and filter rules over events read by the real ingest path.
//! Inputs are deliberately out of time order: correlations must see events sorted by time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::run;
use keywarden_model::Severity;

const BASE: &str = r#"title: Failed logon
id: 0a0a0a0a-0000-4000-8000-000000000001
name: failed_logon
level: low
logsource:
  product: test
detection:
  sel:
    Outcome: failure
  condition: sel
---
title: Service stopped
id: 0a0a0a0a-0000-4000-8000-000000000002
name: service_stopped
logsource:
  product: test
detection:
  sel:
    Action: stop
  condition: sel
"#;

const EVENTS: &str = r#"{"time":"2024-05-01T10:03:00Z","User":"alice","Outcome":"failure","ClientIP":"198.51.100.3","Host":"h1"}
{"time":"2024-05-01T10:00:00Z","User":"alice","Outcome":"failure","ClientIP":"198.51.100.1","Host":"h1"}
{"time":"2024-05-01T10:01:00Z","User":"bob","Outcome":"failure","ClientIP":"198.51.100.1","Host":"h2"}
{"time":"2024-05-01T10:01:30Z","User":"alice","Outcome":"failure","ClientIP":"198.51.100.2","Host":"h1"}
{"time":"2024-05-01T10:04:00Z","User":"svc","Action":"stop","Host":"h1"}
{"time":"2024-05-01T09:00:00Z","User":"svc","Action":"stop","Host":"h2"}
{"time":"2024-05-01T09:01:00Z","User":"bob","Outcome":"failure","Host":"h2"}
{"time":"2024-05-01T12:00:00Z","User":"bob","Outcome":"failure","Host":"h2"}
"#;

fn correlation(body: &str) -> String {
    format!(
        "{BASE}---\ntitle: Correlated\nid: 0a0a0a0a-0000-4000-8000-0000000000c0\nlevel: high\ntags: [attack.credential-access, attack.t1110]\ncorrelation:\n{body}"
    )
}

#[test]
fn event_count_groups_by_field_within_the_timespan() {
    let rules = correlation(
        "  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 3\n",
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    let corr: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.rule_id.ends_with("c0"))
        .collect();
    assert_eq!(corr.len(), 1, "{:#?}", out.alerts);
    let a = corr[0];
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.attack, vec!["T1110"]);
    assert_eq!(a.user.as_deref(), Some("alice"));
    assert_eq!(a.evidence["group"]["User"], "alice");
    assert_eq!(a.evidence["aggregated_value"], 3.0);
    let mut ids = a.record_ids.clone();
    ids.sort();
    assert_eq!(ids, vec!["in.jsonl:1", "in.jsonl:2", "in.jsonl:4"]);
    assert_eq!(
        a.time_first.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-05-01T10:00:00Z")
    );
    // Referenced rules do not alert on their own (`generate` defaults to false)...
    assert!(!out.alerts.iter().any(|a| a.rule_id.ends_with("01")));
    // ... while unreferenced ones do.
    assert_eq!(
        out.alerts
            .iter()
            .filter(|a| a.rule_id.ends_with("02"))
            .count(),
        2
    );
}

#[test]
fn generate_true_keeps_the_referenced_rule_alerts() {
    let rules = correlation(
        "  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 5m\n  generate: true\n  condition:\n    gte: 3\n",
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    assert_eq!(
        out.alerts
            .iter()
            .filter(|a| a.rule_id.ends_with("01"))
            .count(),
        6
    );
}

#[test]
fn value_count_counts_distinct_values() {
    let rules = correlation(
        "  type: value_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 10m\n  condition:\n    field: ClientIP\n    gte: 3\n",
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    let corr: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.rule_id.ends_with("c0"))
        .collect();
    assert_eq!(corr.len(), 1);
    assert_eq!(corr[0].evidence["group"]["User"], "alice");
}

#[test]
fn temporal_needs_every_rule_in_the_window_and_ordered_needs_the_order() {
    let rules = correlation(
        "  type: temporal\n  rules: [failed_logon, service_stopped]\n  group-by: [Host]\n  timespan: 10m\n",
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    let hosts: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.rule_id.ends_with("c0"))
        .map(|a| a.evidence["group"]["Host"].clone())
        .collect();
    // h1: failures then a stop within 10 min; h2: a stop then a failure a minute later.
    assert!(
        hosts.contains(&"h1".into()) && hosts.contains(&"h2".into()),
        "{hosts:?}"
    );

    let rules = correlation(
        "  type: temporal_ordered\n  rules: [failed_logon, service_stopped]\n  group-by: [Host]\n  timespan: 10m\n",
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    let hosts: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.rule_id.ends_with("c0"))
        .map(|a| a.evidence["group"]["Host"].clone())
        .collect();
    assert!(hosts.contains(&"h1".into()), "{hosts:?}");
    assert!(
        !hosts.contains(&"h2".into()),
        "stop before failure on h2: {hosts:?}"
    );
}

#[test]
fn filter_rules_exclude_matches_of_the_rules_they_name() {
    let rules = format!(
        "{BASE}---\ntitle: Not the service account\nid: 0a0a0a0a-0000-4000-8000-0000000000f0\nlogsource:\n  product: test\nfilter:\n  rules:\n    - 0a0a0a0a-0000-4000-8000-000000000002\n  selection:\n    Host: h2\n  condition: not selection\n"
    );
    let out = run(&rules, "in.jsonl", EVENTS);
    let stops: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.rule_id.ends_with("02"))
        .flat_map(|a| a.record_ids.clone())
        .collect();
    assert_eq!(stops, vec!["in.jsonl:5"]);
    assert_eq!(
        out.alerts
            .iter()
            .filter(|a| a.rule_id.ends_with("01"))
            .count(),
        6,
        "the filter names only the other rule"
    );
}

/// Some shapes' ids are not the record's alone (a generic `id`, Graph's `correlationId`
/// fallback): two records with one id and time but different content are two events, and
/// count twice; a copy of one (same id, time and content) counts once.
#[test]
fn records_sharing_an_id_and_a_time_count_apart_unless_their_content_is_the_same() {
    let events = r#"{"time":"2024-05-01T10:00:00Z","id":"r1","User":"alice","Outcome":"failure","ClientIP":"198.51.100.1"}
{"time":"2024-05-01T10:00:00Z","id":"r1","User":"alice","Outcome":"failure","ClientIP":"198.51.100.2"}
{"time":"2024-05-01T10:00:00Z","id":"r1","User":"alice","Outcome":"failure","ClientIP":"198.51.100.1"}
"#;
    let fired = |gte: u32| {
        let rules = correlation(&format!(
            "  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: {gte}\n"
        ));
        let out = run(&rules, "in.jsonl", events);
        out.alerts
            .iter()
            .filter(|a| a.rule_id.ends_with("c0"))
            .map(|a| a.evidence["aggregated_value"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(fired(2), vec![serde_json::json!(2.0)]);
    assert!(fired(3).is_empty(), "the copy of the first record counted");
}
