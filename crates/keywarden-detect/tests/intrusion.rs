//! The fixture tenant (`tests/fixtures/`, Management-API UAL JSON lines and Graph `signIn`
//! objects): ten days of two users on Microsoft Office, background records without token ids,
//! a record with an empty token id, a sign-in stamped after the token's first use, a
//! legitimate new app with sign-ins, and (in `ual-intrusion.jsonl`) forged-token access from a
//! Storm-0558 IP with Bind, Sync, throttling and a consumer-tenant token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::{fixture, run, run_pool};
use keywarden_model::Severity;

const CLEAN: &[&str] = &[
    "signins.jsonl",
    "signins-noninteractive.jsonl",
    "ual-clean.jsonl",
];
const ATTACKED: &[&str] = &[
    "signins.jsonl",
    "signins-noninteractive.jsonl",
    "ual-clean.jsonl",
    "ual-intrusion.jsonl",
];

fn intrusion_ids() -> Vec<String> {
    std::fs::read_to_string(fixture("ual-intrusion.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["Id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn clean_tenant_has_no_high_or_critical_alert() {
    let r = run(CLEAN, None);
    assert!(r.high().is_empty(), "{:#?}", r.high());
    assert!(r.by_rule("token-never-issued").is_empty());
    // The new app with sign-ins is a lead, never more than medium.
    let leads = r.by_rule("unexpected-mailbox-app");
    assert!(!leads.is_empty());
    for a in &leads {
        assert!(a.severity <= Severity::Medium, "{a:?}");
        assert_eq!(
            a.client_app_id.as_deref(),
            Some("8a3f2b10-5c6d-4e7f-9a0b-1c2d3e4f5a6b")
        );
        assert_eq!(a.evidence["tokens"]["traced_to_sign_in"], 2);
        assert_eq!(a.evidence["tokens"]["never_issued"], 0);
    }
}

#[test]
fn forged_tokens_are_high_and_cover_every_intrusion_record() {
    let r = run(ATTACKED, None);
    let never = r.by_rule("token-never-issued");
    let tokens: Vec<_> = never.iter().filter_map(|a| a.token_id.as_deref()).collect();
    assert_eq!(tokens, ["forgedTok1ZZZZZZZZZZZ", "forgedTok2YYYYYYYYYYY"]);
    assert!(never.iter().all(|a| a.severity == Severity::High));
    // Empty token ids, LogonType 4 and the late-stamped sign-in never count as forged.
    let mut covered: Vec<String> = r
        .high()
        .iter()
        .flat_map(|a| a.record_ids.iter().cloned())
        .collect();
    covered.sort();
    covered.dedup();
    assert_eq!(covered, intrusion_ids());
    assert_eq!(r.by_rule("ioc-ip").len(), 1);
    assert_eq!(
        r.by_rule("ioc-ip")[0].client_ip.as_deref(),
        Some("195.26.87.219")
    );
    let consumer = r.by_rule("consumer-tenant-token");
    assert_eq!(consumer.len(), 1);
    assert_eq!(consumer[0].record_ids.len(), 1);
    assert_eq!(consumer[0].user.as_deref(), Some("bob@contoso.com"));
}

#[test]
fn weak_signals_raise_scores_but_never_alert_alone() {
    let r = run(ATTACKED, None);
    let forged = &r.by_rule("token-never-issued")[0];
    let weak = &forged.evidence["weak_signals"];
    assert_eq!(weak["rest_client_info"]["present"], true);
    assert_eq!(weak["off_hours_weekday"]["present"], true);
    assert_eq!(weak["new_ip_for_user"]["present"], true);
    assert!(forged.score > 0.8);
    // REST client info alone on the legitimate app's records does not make it high.
    let clean = run(CLEAN, None);
    assert!(clean.alerts.iter().all(|a| a.severity <= Severity::Medium));
}

#[test]
fn incidents_group_by_token_and_ip_and_exposure_follows_the_procedure() {
    let r = run(ATTACKED, None);
    let high_incidents: Vec<_> = r
        .incidents
        .iter()
        .filter(|i| i.severity >= Severity::High)
        .collect();
    assert_eq!(high_incidents.len(), 2, "{:#?}", r.incidents);
    // Alice's forged token and the IOC IP are one incident with two strong rules: critical.
    let alice = r
        .exposure
        .incidents
        .iter()
        .find(|i| i.mailboxes.iter().any(|m| m.mailbox == "alice@contoso.com"))
        .expect("alice's mailbox exposed");
    assert_eq!(alice.severity, Severity::Critical);
    assert_eq!(alice.mailboxes.len(), 1);
    let m = &alice.mailboxes[0];
    assert_eq!(
        m.messages,
        [
            "<board-minutes@mail.contoso.com>",
            "<d9.ali@mail.contoso.com>"
        ]
    );
    assert_eq!(m.folders_synced, ["\\Sent Items"]);
    assert_eq!(m.throttled_windows.len(), 1);
    assert_eq!(
        m.throttled_windows[0].start.to_string(),
        "2023-06-09T02:30:00Z"
    );
    assert_eq!(
        m.throttled_windows[0].end.to_string(),
        "2023-06-10T02:30:00Z"
    );
    let bob = r
        .exposure
        .incidents
        .iter()
        .find(|i| {
            i.severity >= Severity::High
                && i.mailboxes.iter().any(|m| m.mailbox == "bob@contoso.com")
        })
        .expect("bob's mailbox exposed");
    assert_eq!(
        bob.mailboxes[0].messages,
        ["<merger-plan@mail.contoso.com>"]
    );
    assert!(r.alerts.iter().all(|a| a.incident_id.is_some()));
}

#[test]
fn worker_pool_output_is_deterministic() {
    let paths: Vec<_> = ATTACKED.iter().map(|f| fixture(f)).collect();
    let one = run_pool(&paths, 1, None);
    let two = run_pool(&paths, 2, None);
    let single = run(ATTACKED, None);
    let json = |r: &common::Run| serde_json::to_string(&(&r.alerts, &r.exposure)).unwrap();
    assert_eq!(json(&one), json(&two));
    // Names differ (paths vs names) only in record refs, and every record here has an Id.
    assert_eq!(json(&one), json(&single));
}

#[test]
fn alerts_snapshot() {
    let r = run(ATTACKED, None);
    let lines: Vec<String> = r
        .alerts
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    insta::assert_snapshot!("fixture_alerts_jsonl", lines.join("\n"));
    insta::assert_json_snapshot!("fixture_exposure_json", r.exposure);
}

#[test]
fn without_sign_in_logs_tokens_are_not_judged() {
    let r = run(&["ual-clean.jsonl", "ual-intrusion.jsonl"], None);
    assert!(r.by_rule("token-never-issued").is_empty());
    // IOC and consumer-tenant evidence stands on its own.
    assert_eq!(r.by_rule("ioc-ip").len(), 1);
    assert_eq!(r.by_rule("consumer-tenant-token").len(), 1);
}

#[test]
fn interactive_only_sign_ins_leave_user_tokens_unjudged_with_the_reason() {
    // What Graph v1.0 and the portal's default tab export: interactive sign-ins only.
    let r = run(
        &["signins.jsonl", "ual-clean.jsonl", "ual-intrusion.jsonl"],
        None,
    );
    assert!(r.by_rule("token-never-issued").is_empty());
    let c = &r.detections.coverage;
    let reason = &c.unjudged["no-noninteractive-signins"];
    assert_eq!(reason.tokens, 2, "{c:#?}");
    assert!(reason.hint.contains("non-interactive"));
    assert_eq!(
        c.tenants[0].missing_categories,
        [
            keywarden_detect::SignInCategory::NonInteractive,
            keywarden_detect::SignInCategory::ServicePrincipal,
            keywarden_detect::SignInCategory::ManagedIdentity,
        ]
    );
    // IOC and consumer-tenant evidence stands on its own.
    assert_eq!(r.by_rule("ioc-ip").len(), 1);
    assert_eq!(r.by_rule("consumer-tenant-token").len(), 1);
}

#[test]
fn saved_state_makes_yesterdays_new_app_normal() {
    let first = run(CLEAN, None);
    let d = common::detector();
    let state = d.next_state(&first.plan, None);
    assert!(!state.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    state.save(&path).unwrap();
    let loaded = keywarden_detect::Baseline::load(&path).unwrap();
    // The new app alerted, so it is not learned as normal.
    assert!(
        !loaded
            .pairs
            .iter()
            .any(|(_, _, c)| c == "8a3f2b10-5c6d-4e7f-9a0b-1c2d3e4f5a6b")
    );
    let second = run(CLEAN, Some(&loaded));
    assert_eq!(second.plan.baseline.source, "external");
    assert!(second.by_rule("first-seen-client-app").len() <= 1);
    assert!(second.high().is_empty());
    let office = second
        .by_rule("unexpected-mailbox-app")
        .iter()
        .filter(|a| a.client_app_id.as_deref() == Some("d3590ed6-52b3-4102-aeff-aad2292ab01c"))
        .count();
    assert_eq!(office, 0, "known pairs must not alert against the state");
}
