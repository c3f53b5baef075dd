//! The OTRF Security-Datasets "Golden SAML AD FS mail access" lab (MIT; read from
//! `../shared/datasets/otrf-goldensaml-mail-access/`): Sentinel `OfficeActivity` with one
//! `MailItemsAccessed` Bind by the attacker-registered app `5a95e683-...`, Defender
//! `CloudAppEvents`, Entra audit rows and Windows events, but no sign-in logs.
//!
//! The takeover chain (a credential added to SimuLandApp, Mail.ReadWrite requested and granted,
//! then the app's Graph mail read) is one `app-takeover` alert, high, with the mailbox in
//! exposure; the AD FS key theft before it (DKM key reads, replication from ADFS01) is
//! `adfs-key-theft`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::{detector, shared};
use keywarden_detect::assign_incidents;
use keywarden_ingest::IngestConfig;
use keywarden_model::Severity;

const ATTACKER_APP: &str = "5a95e683-08ad-424e-a441-1d1aec52c02c";
const BIND_RECORD: &str = "699e0b10-1c53-403e-976f-ce0847a92b44";
const CREDENTIAL_RECORD: &str = "Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832";
const GRANT_RECORD: &str = "Directory_630d7f0c-acc4-4596-85ab-7e5d839b4291_9VRQI_37762000";
const REQUEST_RECORD: &str = "Directory_ae69aa7a-e9b7-4066-84f2-58582994d8cb_7H1JL_8584070";

#[test]
fn otrf_golden_saml_mail_access_by_attacker_app_raises_an_alert() {
    let dir = shared("datasets/otrf-goldensaml-mail-access");
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("shared dataset present")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(files.len() >= 4);
    let inputs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let cfg = IngestConfig::default();
    let (plan, d) = detector().run_bytes(&inputs, &cfg, None);

    // No sign-in logs: the never-issued check has no coverage and must stay silent.
    assert!(d.alerts.iter().all(|a| a.rule_id != "token-never-issued"));
    assert_eq!(plan.baseline.source, "none");

    let hits: Vec<_> = d
        .alerts
        .iter()
        .filter(|a| a.client_app_id.as_deref() == Some(ATTACKER_APP))
        .filter(|a| a.rule_id != "app-takeover")
        .collect();
    let rules: Vec<&str> = hits.iter().map(|a| a.rule_id.as_str()).collect();
    assert!(rules.contains(&"unexpected-mailbox-app"), "{rules:?}");
    assert!(rules.contains(&"first-seen-client-app"), "{rules:?}");
    for a in &hits {
        assert!(a.record_ids.iter().any(|r| r == BIND_RECORD), "{a:?}");
        assert!(
            a.severity <= Severity::Medium,
            "no forgery evidence here: {a:?}"
        );
        assert_eq!(a.user.as_deref(), Some("pgustavo@simulandlabs.com"));
        let check = a.evidence["tokens"]["check"].as_str().unwrap_or("");
        assert!(
            check.contains("unknown") || check.contains("coverage"),
            "{check}"
        );
    }
    // The Bind's seven message ids (six distinct) are the exposure of that alert's incident.
    let mut alerts = d.alerts.clone();
    let incidents = assign_incidents(&mut alerts);
    let exposure = detector().exposure_bytes(&plan, &alerts, &incidents, &inputs, &cfg);
    let hit = alerts.iter().find(|a| a.id == hits[0].id).expect("alert");
    let exp = exposure
        .incidents
        .iter()
        .find(|i| Some(&i.id) == hit.incident_id.as_ref())
        .expect("exposure for the Bind's incident");
    assert_eq!(exp.mailboxes[0].mailbox, "pgustavo@simulandlabs.com");
    assert_eq!(exp.mailboxes[0].messages.len(), 6);
}

fn dataset_inputs() -> Vec<(String, Vec<u8>)> {
    let dir = shared("datasets/otrf-goldensaml-mail-access");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("shared dataset present")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn otrf_golden_saml_takeover_chain_is_one_high_incident_with_the_mailbox_exposed() {
    let files = dataset_inputs();
    let inputs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let cfg = IngestConfig::default();
    let (plan, mut d) = detector().run_bytes(&inputs, &cfg, None);
    let takeovers: Vec<usize> = (0..d.alerts.len())
        .filter(|&i| d.alerts[i].rule_id == "app-takeover")
        .collect();
    assert_eq!(takeovers.len(), 1, "{:#?}", d.alerts);
    let a = &d.alerts[takeovers[0]];
    assert_eq!(a.severity, Severity::High);
    for r in [CREDENTIAL_RECORD, GRANT_RECORD, REQUEST_RECORD, BIND_RECORD] {
        assert!(
            a.record_ids.iter().any(|x| x == r),
            "{r} in {:?}",
            a.record_ids
        );
    }
    assert_eq!(a.client_app_id.as_deref(), Some(ATTACKER_APP));
    assert_eq!(a.user.as_deref(), Some("pgustavo@simulandlabs.com"));
    assert!(a.attack.iter().any(|t| t == "T1098.001"));
    assert_eq!(a.evidence["app"], "SimuLandApp");
    let kinds: Vec<&str> = a.evidence["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"credential-added"), "{kinds:?}");
    assert!(kinds.contains(&"mail-permission"), "{kinds:?}");
    // The chain's changes raise no separate leads.
    assert!(
        d.alerts
            .iter()
            .all(|x| !x.rule_id.starts_with("app-") || x.rule_id == "app-takeover"),
        "{:#?}",
        d.alerts.iter().map(|x| &x.rule_id).collect::<Vec<_>>()
    );

    let incidents = assign_incidents(&mut d.alerts);
    let id = d.alerts[takeovers[0]]
        .incident_id
        .clone()
        .expect("incident");
    let inc = incidents.iter().find(|i| i.id == id).expect("its incident");
    assert!(inc.severity >= Severity::High);
    let exp = detector().exposure_bytes(&plan, &d.alerts, &incidents, &inputs, &cfg);
    let mine = exp.incidents.iter().find(|i| i.id == id).expect("exposure");
    assert_eq!(mine.mailboxes.len(), 1);
    assert_eq!(mine.mailboxes[0].mailbox, "pgustavo@simulandlabs.com");
    assert_eq!(mine.mailboxes[0].messages.len(), 6);
    // regression_alerts_on_one_record_split_into_three_incidents: every alert on the Bind
    // (the takeover and the two leads) is in that one incident, so its messages are counted
    // once (three incidents of six messages each before).
    let on_bind: Vec<_> = d
        .alerts
        .iter()
        .filter(|a| a.record_ids.iter().any(|r| r == BIND_RECORD))
        .collect();
    assert_eq!(on_bind.len(), 3, "{on_bind:#?}");
    assert!(on_bind.iter().all(|a| a.incident_id.as_ref() == Some(&id)));
    let exposed: usize = exp
        .incidents
        .iter()
        .flat_map(|i| &i.mailboxes)
        .map(|m| m.messages.len())
        .sum();
    assert_eq!(exposed, 6);
}

#[test]
fn otrf_golden_saml_adfs_key_theft_signals() {
    let files = dataset_inputs();
    let inputs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let (_, d) = detector().run_bytes(&inputs, &IngestConfig::default(), None);
    let theft: Vec<_> = d
        .alerts
        .iter()
        .filter(|a| a.rule_id == "adfs-key-theft")
        .collect();
    let signals: std::collections::BTreeSet<&str> = theft
        .iter()
        .filter_map(|a| a.evidence["signal"].as_str())
        .collect();
    assert!(signals.contains("dkm-key-read"), "{signals:?}");
    assert!(signals.contains("replication-from-non-dc"), "{signals:?}");
    assert!(signals.contains("adfs-config-read"), "{signals:?}");
    assert!(theft.iter().all(|a| a.severity == Severity::Medium));
    let repl = theft
        .iter()
        .find(|a| a.evidence["signal"] == "replication-from-non-dc")
        .unwrap();
    assert_eq!(repl.evidence["host"], "adfs01");
    assert_eq!(repl.record_ids.len(), 2);
}
