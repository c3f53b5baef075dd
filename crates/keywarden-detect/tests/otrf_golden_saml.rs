//! The OTRF Security-Datasets "Golden SAML AD FS mail access" lab (MIT; read from
//! `../shared/datasets/otrf-goldensaml-mail-access/`): Sentinel `OfficeActivity` with one
//! `MailItemsAccessed` Bind by the attacker-registered app `5a95e683-...`, Defender
//! `CloudAppEvents`, Entra audit rows and Windows events, but no sign-in logs.

mod common;

use common::{detector, shared};
use keywarden_ingest::IngestConfig;
use keywarden_model::Severity;

const ATTACKER_APP: &str = "5a95e683-08ad-424e-a441-1d1aec52c02c";
const BIND_RECORD: &str = "699e0b10-1c53-403e-976f-ce0847a92b44";

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
    let (plan, d) = detector().run_bytes(&inputs, &IngestConfig::default(), None);

    // No sign-in logs: the never-issued check has no coverage and must stay silent.
    assert!(d.alerts.iter().all(|a| a.rule_id != "token-never-issued"));
    assert_eq!(plan.baseline.source, "none");

    let hits: Vec<_> = d
        .alerts
        .iter()
        .filter(|a| a.client_app_id.as_deref() == Some(ATTACKER_APP))
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
    // The Bind's seven message ids (six distinct) are the exposure of that alert.
    let exp = d.exposure.get(&hits[0].id).expect("exposure for the Bind");
    assert_eq!(exp[0].mailbox, "pgustavo@simulandlabs.com");
    assert_eq!(exp[0].messages.len(), 6);
}
