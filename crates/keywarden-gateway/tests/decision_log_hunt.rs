//! The decision log of a test run, hunted with a small sign-in log: the accepted token that no
//! sign-in issued is a `token-never-issued` alert; the issued ones are not, and neither is a
//! forged token the gateway refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_detect::{DetectConfig, Detector};
use keywarden_gateway::LogTarget;
use keywarden_ingest::IngestConfig;
use keywarden_model::Timestamp;
use support::*;
use token::{NOW, TENANT};

/// Graph sign-ins of the tenant, two hours either side of the gateway's decisions, issuing
/// `uti-issued-1` and `uti-issued-2`.
fn signins() -> String {
    let at = |off: i64| Timestamp::from_unix_seconds(NOW + off).to_rfc3339();
    [
        (-7200, "uti-early"),
        (-600, "uti-issued-1"),
        (-300, "uti-issued-2"),
        (7200, "uti-late"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (off, uti))| {
        format!(
            r#"{{"id":"si-{i}","createdDateTime":"{}","tenantId":"{TENANT}","userPrincipalName":"alice@contoso.com","userId":"0f1e2d3c-0000-4000-8000-00000000a11c","appId":"d3590ed6-52b3-4102-aeff-aad2292ab01c","ipAddress":"198.51.100.23","resourceId":"00000002-0000-0ff1-ce00-000000000000","status":{{"errorCode":0}},"uniqueTokenIdentifier":"{uti}"}}"#,
            at(*off)
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
        + "\n"
}

#[test]
fn the_never_issued_token_the_gateway_accepted_is_flagged() {
    let k = keys();
    let dir = k.dir.path().join("decisions");
    std::fs::create_dir(&dir).unwrap();
    let gw = start(&k.policy, "", Some(LogTarget::Dir(dir.clone())));
    let forged = k.forged().swap_remove(0).1;
    for t in [
        k.valid("uti-issued-1"),
        k.valid("uti-issued-2"),
        k.valid("uti-never"),
        forged,
    ] {
        let r = http(
            gw.addr,
            "GET",
            "/",
            &[
                ("Authorization", &format!("Bearer {t}")),
                ("X-Forwarded-Uri", "/owa/"),
                ("X-Forwarded-For", "198.51.100.23"),
            ],
        );
        assert!(r.status == 200 || r.status == 401, "{r:?}");
    }
    let file = dir.join(keywarden_gateway::decision_log::day_file_name(
        Timestamp::from_unix_seconds(NOW).day_number(),
    ));
    assert_eq!(log_lines(&file, 4).len(), 4);
    drop(gw);

    let log = std::fs::read(&file).unwrap();
    let si = signins().into_bytes();
    let inputs: Vec<(&str, &[u8])> = vec![
        ("decisions.jsonl", log.as_slice()),
        ("signins.jsonl", si.as_slice()),
    ];
    // The sign-in file is a four-hour Graph excerpt with no category marker: as a responder
    // would, the test declares it complete for every category over its span, and the
    // gateway's tokens live an hour. Without the declaration the coverage model rightly leaves
    // the tokens unjudged (checked at the end).
    let mut cfg = DetectConfig::default();
    cfg.tolerance.max_token_lifetime_minutes = 60;
    cfg.coverage.signin = vec!["all".into()];
    let detector = Detector::new(cfg.build().unwrap());
    let (_plan, detections) = detector.run_bytes(&inputs, &IngestConfig::default(), None);
    let never: Vec<_> = detections
        .alerts
        .iter()
        .filter(|a| a.rule_id == "token-never-issued")
        .collect();
    assert_eq!(never.len(), 1, "{:#?}", detections.alerts);
    assert_eq!(never[0].token_id.as_deref(), Some("uti-never"));
    assert_eq!(never[0].tenant.as_deref(), Some(TENANT));
    assert_eq!(never[0].client_ip.as_deref(), Some("198.51.100.23"));
    assert!(
        matches!(
            never[0].severity,
            keywarden_model::Severity::High | keywarden_model::Severity::Critical
        ),
        "{:?}",
        never[0].severity
    );
    // Undeclared, a four-hour excerpt of interactive sign-ins cannot judge a user's token
    // (no non-interactive sign-ins; a token may live 28 h): nothing is raised, and the tokens
    // are counted unjudged.
    let undeclared = Detector::new(DetectConfig::default().build().unwrap());
    let (_plan, d) = undeclared.run_bytes(&inputs, &IngestConfig::default(), None);
    assert!(
        d.alerts.iter().all(|a| a.rule_id != "token-never-issued"),
        "{:#?}",
        d.alerts
    );
    assert!(d.coverage.unjudged_tokens() >= 1, "{:?}", d.coverage);
}
