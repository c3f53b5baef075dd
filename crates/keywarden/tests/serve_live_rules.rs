//! `keywarden serve --rules` over real HTTP on loopback raises the same Sigma alerts (same ids:
//! `sigma:<rule>:<record>` for detections, `sigma:<rule>:<group>@<time>` for correlations) as
//! `hunt --rules` on the same simulated tenant, and keeps them across a restart. The lead
//! rules learn during their learning period and then judge, as `hunt` does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::collections::BTreeSet;
use std::path::Path;

use serve_support::*;

/// A detection rule every mailbox read matches, one that only the forged-token reads match
/// (consumer-tenant token), and a correlation over the first (many reads by one user within
/// an hour).
const RULES: &[(&str, &str)] = &[
    (
        "mail_read.yml",
        "title: Mailbox items accessed
id: 0b0c7f4e-1111-4c1e-9f00-000000000001
status: test
logsource:
    product: m365
    service: audit
detection:
    selection:
        Operation: MailItemsAccessed
    condition: selection
level: informational
",
    ),
    (
        "consumer_token.yml",
        "title: Mailbox read with a consumer-tenant token
id: 0b0c7f4e-1111-4c1e-9f00-000000000002
status: test
logsource:
    product: m365
    service: audit
detection:
    selection:
        Operation: MailItemsAccessed
        TokenTenantId: 9188040d-6c67-4c5b-b112-36a304b66dad
    condition: selection
level: high
tags:
    - attack.t1550.001
",
    ),
    (
        "many_reads.yml",
        "title: Many mailbox reads by one user
id: 0b0c7f4e-1111-4c1e-9f00-000000000003
status: test
correlation:
    type: event_count
    rules:
        - 0b0c7f4e-1111-4c1e-9f00-000000000001
    group-by:
        - UserId
    timespan: 1h
    generate: true
    condition:
        gte: 5
level: medium
",
    ),
];

fn write_rules(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in RULES {
        std::fs::write(rules.join(name), text).unwrap();
    }
    rules
}

fn sigma_ids(alerts: &[serde_json::Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter_map(|a| a["id"].as_str())
        .filter(|id| id.starts_with("sigma:"))
        .map(str::to_string)
        .collect()
}

fn rules_of(alerts: &[serde_json::Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .map(str::to_string)
        .collect()
}

#[test]
fn serve_rules_raise_the_same_sigma_alerts_as_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let logs = simulate(dir.path(), "ual-json,signin-graph");
    let rules = write_rules(dir.path());
    let hunted = hunt_alerts(
        &logs,
        &[Path::new("--rules"), &rules],
        &dir.path().join("hunt"),
    );
    let want = sigma_ids(&hunted);
    let by_rule = |ids: &BTreeSet<String>, n: u8| {
        let rule = format!("sigma:0b0c7f4e-1111-4c1e-9f00-00000000000{n}:");
        ids.iter().filter(|i| i.starts_with(&rule)).count()
    };
    assert!(by_rule(&want, 1) > 100, "every mail read matches");
    assert!(by_rule(&want, 2) > 0, "the forged-token reads match");
    assert!(by_rule(&want, 3) > 0, "the correlation fires in hunt");

    // Rules from the configuration file and from the command line add up.
    let config = format!(
        "[server]\nsign_in_stream_idle_seconds = 1\n[sigma]\nrules = [{:?}]\n",
        rules.join("mail_read.yml").display().to_string()
    );
    let consumer = rules.join("consumer_token.yml");
    let correlation = rules.join("many_reads.yml");
    let args = [
        "--rules",
        consumer.to_str().unwrap(),
        "--rules",
        correlation.to_str().unwrap(),
    ];
    let srv = serve_args(dir.path(), Some(&config), &args);
    for f in files_by_day(&logs) {
        let body = std::fs::read(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let r = ingest(&srv.addr, &name, &body, Some(&name)).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let alerts = wait_for(30, "serve's Sigma alerts to match hunt's", || {
        let alerts = all_alerts(&srv.addr, 10_000);
        (sigma_ids(&alerts) == want).then_some(alerts)
    });
    // Same alerts, not just the same ids: rule, severity, records.
    for a in alerts
        .iter()
        .filter(|a| a["rule_id"] == "0b0c7f4e-1111-4c1e-9f00-000000000002")
    {
        let h = hunted.iter().find(|h| h["id"] == a["id"]).unwrap();
        assert_eq!(a["severity"], "high");
        assert_eq!(a["record_ids"], h["record_ids"]);
        assert_eq!(a["attack"], h["attack"]);
    }

    // The lead rules learned for the first 7 days of event time, then judged the last day:
    // every lead serve raises is a lead hunt raises too, and none is high or critical.
    let leads = [
        "unexpected-mailbox-app",
        "first-seen-client-app",
        "mailbox-volume-anomaly",
        "cross-mailbox-access",
    ];
    for a in &alerts {
        if leads.contains(&a["rule_id"].as_str().unwrap_or("")) {
            assert!(
                matches!(a["severity"].as_str(), Some("low" | "medium")),
                "{a}"
            );
        }
    }
    let live_leads: BTreeSet<String> = rules_of(&alerts)
        .into_iter()
        .filter(|r| leads.contains(&r.as_str()))
        .collect();
    let hunt_leads: BTreeSet<String> = rules_of(&hunted)
        .into_iter()
        .filter(|r| leads.contains(&r.as_str()))
        .collect();
    assert!(
        live_leads.is_subset(&hunt_leads),
        "serve {live_leads:?}, hunt {hunt_leads:?}"
    );
    assert!(!live_leads.is_empty(), "hunt raised {hunt_leads:?}");

    // A restart restores the rules' state and the alerts stay as they are.
    let data = srv.data_dir.clone();
    drop(srv);
    assert!(data.exists());
    let srv = serve_args(dir.path(), Some(&config), &args);
    assert_eq!(sigma_ids(&all_alerts(&srv.addr, 10_000)), want);
}
