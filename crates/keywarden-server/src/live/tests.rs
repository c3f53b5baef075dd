//! Unit tests of the live detector (injected clock, caps, state round trips).

use super::*;
use keywarden_detect::DetectConfig;

const MIN: i64 = 60_000_000;

fn detector() -> LiveDetector {
    let settings = DetectConfig::default().build().unwrap();
    LiveDetector::new(settings, LiveLimits::default(), LiveState::default())
}

fn row(role: &str, token: &str, minute: i64) -> EventRow {
    EventRow {
        role: role.into(),
        tenant: Some("t1".into()),
        token_id: Some(token.into()),
        time: Some(1_689_000_000_000_000 + minute * MIN),
        record_ref: format!("{role}-{token}-{minute}"),
        client_app_id: Some("d3590ed6-52b3-4102-aeff-aad2292ab01c".into()),
        ..EventRow::default()
    }
}

fn feed(d: &mut LiveDetector, rows: Vec<EventRow>, now_min: i64) -> Vec<Alert> {
    let start = d.state.last_event;
    let batch: Vec<(i64, EventRow)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (start + 1 + i as i64, r))
        .collect();
    d.process(&batch, Timestamp(1_700_000_000_000_000 + now_min * MIN))
}

#[test]
fn unissued_token_waits_for_coverage_then_alerts_once() {
    let mut d = detector();
    // Sign-in logs start well before the use.
    let a = feed(&mut d, vec![row("sign-in", "good", 0)], 0);
    assert!(a.is_empty());
    let a = feed(&mut d, vec![row("mail-access", "forged", 200)], 1);
    assert!(
        a.is_empty(),
        "not judged before the lag tolerance is covered"
    );
    assert_eq!(d.pending(), 1);
    // Sign-ins reach 200 + 30 + 5 minutes: covered, no issuance → alert.
    let a = feed(&mut d, vec![row("sign-in", "other", 236)], 2);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule_id, "token-never-issued");
    assert_eq!(a[0].token_id.as_deref(), Some("forged"));
    // A later use extends the same alert.
    let a = feed(&mut d, vec![row("mail-access", "forged", 240)], 3);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].record_ids.len(), 2);
}

#[test]
fn a_late_sign_in_clears_the_pending_token() {
    let mut d = detector();
    feed(&mut d, vec![row("sign-in", "x", 0)], 0);
    feed(&mut d, vec![row("mail-access", "late", 200)], 0);
    // The issuing sign-in arrives after the use, inside the lag tolerance.
    let a = feed(&mut d, vec![row("sign-in", "late", 210)], 1);
    assert!(a.is_empty());
    let a = feed(&mut d, vec![row("sign-in", "y", 400)], 2);
    assert!(a.is_empty());
    assert_eq!(d.pending(), 0);
}

#[test]
fn pending_tokens_expire_by_the_injected_clock_and_are_capped() {
    let mut d = detector();
    d.limits.max_pending = 2;
    feed(
        &mut d,
        vec![
            row("mail-access", "a", 0),
            row("mail-access", "b", 1),
            row("mail-access", "c", 2),
        ],
        0,
    );
    assert_eq!(d.pending(), 2);
    assert_eq!(d.state.evicted_pending, 1);
    feed(&mut d, vec![], 25 * 60);
    assert_eq!(d.pending(), 0);
    assert_eq!(d.state.expired_pending, 2);
}

#[test]
fn consumer_tenant_token_alerts_immediately() {
    let mut d = detector();
    let mut r = row("mail-access", "tok", 0);
    r.token_tenant = Some("9188040d-6c67-4c5b-b112-36a304b66dad".into());
    let a = feed(&mut d, vec![r], 0);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule_id, "consumer-tenant-token");
    assert_eq!(a[0].severity, Severity::High);
}

#[test]
fn state_round_trips_and_replay_skips_folded_events() {
    let mut d = detector();
    feed(&mut d, vec![row("mail-access", "p", 0)], 0);
    let json = serde_json::to_string(d.state()).unwrap();
    let state: LiveState = serde_json::from_str(&json).unwrap();
    let settings = DetectConfig::default().build().unwrap();
    let mut d2 = LiveDetector::new(settings, LiveLimits::default(), state);
    assert_eq!(d2.pending(), 1);
    let again = vec![(1, row("mail-access", "q", 0))];
    d2.process(&again, Timestamp(0));
    assert_eq!(d2.pending(), 1, "event 1 was already folded in");
}
