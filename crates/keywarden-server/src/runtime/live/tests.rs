//! Unit tests of the live detector (injected clock, caps, state round trips).

use super::observe::{LeadKey, Observed};
use super::*;
use keywarden_detect::DetectConfig;
use keywarden_model::Severity;

const MIN: i64 = 60_000_000;

/// The live rule's lag logic on short spans: a 90-minute token lifetime (the default is the
/// 28 h CAE maximum, which would need a day of sign-ins before every use).
pub(super) fn short_lifetime() -> DetectConfig {
    let mut cfg = DetectConfig::default();
    cfg.tolerance.max_token_lifetime_minutes = 90;
    cfg
}

/// The detector on short spans; the unit tests' sign-ins carry no category marker (so they are
/// interactive) and the non-interactive category is declared complete, so a user's token is
/// judged on the interactive sign-ins' span alone.
fn detector() -> LiveDetector {
    LiveDetector::new(settings(), LiveLimits::default(), LiveState::default())
}

/// [`short_lifetime`] settings with the non-interactive category declared complete.
pub(super) fn settings() -> Settings {
    let mut settings = short_lifetime().build().unwrap();
    settings.declared.push(keywarden_detect::Declared {
        tenant: None,
        category: keywarden_detect::SignInCategory::NonInteractive,
        start: None,
        end: None,
        source: "test".into(),
    });
    settings
}

fn row(role: &str, token: &str, minute: i64) -> EventRow {
    EventRow {
        role: role.into(),
        tenant: Some("t1".into()),
        user: Some("alice@contoso.com".into()),
        token_id: Some(token.into()),
        time: Some(1_689_000_000_000_000 + minute * MIN),
        record_ref: format!("{role}-{token}-{minute}"),
        client_app_id: Some("d3590ed6-52b3-4102-aeff-aad2292ab01c".into()),
        ..EventRow::default()
    }
}

/// A clock minute by which the sign-ins the tests feed up to minute 4 no longer hold a verdict
/// back (they stopped arriving more than the default stream idle time, 15 minutes, before).
const SETTLED: i64 = 20;

fn feed(d: &mut LiveDetector, rows: Vec<EventRow>, now_min: i64) -> Vec<Alert> {
    let start = d.state().last_event;
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
    // Sign-ins reach 200 + 30 + 5 minutes: covered, no issuance; but the sign-ins of its
    // possible issuance arrived less than a stream idle time ago: more may follow.
    let a = feed(&mut d, vec![row("sign-in", "other", 236)], 2);
    assert!(a.is_empty(), "{a:?}");
    // None arrived since: alert.
    let a = feed(&mut d, Vec::new(), SETTLED);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule_id, "token-never-issued");
    assert_eq!(a[0].token_id.as_deref(), Some("forged"));
    // A later use extends the same alert.
    let a = feed(&mut d, vec![row("mail-access", "forged", 240)], SETTLED + 1);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].record_ids.len(), 2);
}

#[test]
fn regression_live_verdict_never_revised_when_the_issuing_sign_in_arrives_late() {
    let mut d = detector();
    feed(&mut d, vec![row("sign-in", "x", 0)], 0);
    feed(&mut d, vec![row("mail-access", "slow", 200)], 1);
    feed(&mut d, vec![row("sign-in", "y", 240)], 2);
    let a = feed(&mut d, Vec::new(), SETTLED);
    assert_eq!(a.len(), 1, "judged forged on the evidence so far");
    assert_eq!(a[0].severity, Severity::High);
    assert!(d.take_revisions().is_empty());
    // Its issuing sign-in arrives after the verdict (a file posted later still): withdrawn.
    let a = feed(&mut d, vec![row("sign-in", "slow", 195)], SETTLED + 1);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity, Severity::Info);
    assert!(a[0].evidence["withdrawn"]["sign_in"] == "sign-in-slow-195");
    let r = d.take_revisions();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].action, super::RevisionAction::Withdrawn);
    assert_eq!(r[0].alert_id, a[0].id);
    // Later uses of the token raise nothing again.
    let a = feed(&mut d, vec![row("mail-access", "slow", 300)], SETTLED + 2);
    assert!(a.is_empty(), "{a:?}");
    // A sign-in naming no tenant withdraws as well (found by token).
    feed(
        &mut d,
        vec![row("mail-access", "notenant", 400)],
        SETTLED + 3,
    );
    feed(&mut d, vec![row("sign-in", "z", 440)], SETTLED + 4);
    let a = feed(&mut d, Vec::new(), 2 * SETTLED + 2);
    assert_eq!(a.len(), 1);
    let mut late = row("sign-in", "notenant", 395);
    late.tenant = None;
    let a = feed(&mut d, vec![late], 2 * SETTLED + 3);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity, Severity::Info);
}

#[test]
fn sign_ins_sent_again_and_again_hold_a_verdict_back_only_for_a_bounded_wait() {
    // Sign-ins of a token's possible issuance that keep arriving (a collector re-listing its
    // pages, a hostile client posting backdated sign-ins) hold the verdict back at most four
    // stream idle times (an hour), not until the pending TTL drops the token unjudged.
    let mut d = detector();
    feed(&mut d, vec![row("sign-in", "good", 0)], 0);
    feed(&mut d, vec![row("mail-access", "forged", 200)], 1);
    feed(&mut d, vec![row("sign-in", "other", 236)], 2);
    let mut judged = None;
    for step in 0..12 {
        let clock = 10 + step * 10;
        let resent = row("sign-in", &format!("again-{step}"), 190);
        let a = feed(&mut d, vec![resent], clock);
        if !a.is_empty() {
            judged = Some((clock, a));
            break;
        }
    }
    let (clock, a) = judged.expect("judged while sign-ins kept arriving");
    assert!((60..=80).contains(&clock), "judged at clock minute {clock}");
    assert_eq!(a[0].rule_id, "token-never-issued");
    assert_eq!(a[0].severity, Severity::High);
}

#[test]
fn regression_a_stream_catching_up_found_the_late_sign_in_wait_already_spent() {
    // The bounded wait ran from the first time a token was judgeable, ever: when a second
    // sign-in stream began behind its issuance and caught up an hour later, the token was
    // judged at once, while that stream was still delivering the token's hours. Now the wait
    // starts over whenever the token stops being judgeable.
    let mut d = detector();
    feed(&mut d, vec![row("sign-in", "good", 0)], 0);
    feed(&mut d, vec![row("mail-access", "forged", 200)], 1);
    feed(&mut d, vec![row("sign-in", "other", 236)], 2);
    let behind = |token: &str, minute: i64| {
        let mut r = row("sign-in", token, minute);
        r.format = "azure-diagnostic".into();
        r
    };
    // The behind stream reaches past the token's issuance only in its last batch, which
    // still holds sign-ins of the token's hours.
    for (clock, minutes) in [
        (10, vec![100]),
        (30, vec![150]),
        (50, vec![190]),
        (70, vec![230, 236]),
    ] {
        let rows = minutes
            .iter()
            .map(|m| behind(&format!("b{m}"), *m))
            .collect();
        let a = feed(&mut d, rows, clock);
        assert!(a.is_empty(), "judged at clock minute {clock}: {a:?}");
    }
    let a = feed(&mut d, Vec::new(), 90);
    assert_eq!(a.len(), 1, "judged once the caught-up stream went quiet");
    assert_eq!(a[0].rule_id, "token-never-issued");
}

#[test]
fn a_late_interactive_sign_in_of_the_session_downgrades_to_medium() {
    let mut d = detector();
    let with_session = |mut r: EventRow| {
        r.session_id = Some("sess-1".into());
        r.client_ip = Some("192.0.2.10".into());
        r
    };
    feed(&mut d, vec![row("sign-in", "x", 0)], 0);
    feed(
        &mut d,
        vec![with_session(row("mail-access", "refresh", 200))],
        1,
    );
    feed(&mut d, vec![row("sign-in", "y", 240)], 2);
    let a = feed(&mut d, Vec::new(), SETTLED);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity, Severity::High);
    // An interactive sign-in of the same session, IP and client app (another token).
    let a = feed(
        &mut d,
        vec![with_session(row("sign-in", "first", 150))],
        SETTLED + 1,
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].severity, Severity::Medium);
    assert!(a[0].evidence["session_link"].is_string());
    assert_eq!(
        d.take_revisions()[0].action,
        super::RevisionAction::Downgraded
    );
}

#[test]
fn a_user_token_waits_for_both_user_sign_in_categories() {
    // No declaration: interactive sign-ins alone never judge a user's token (Graph v1.0
    // exports hold only those), so it stays pending and expires counted by its reason.
    let settings = short_lifetime().build().unwrap();
    let mut d = LiveDetector::new(settings, LiveLimits::default(), LiveState::default());
    feed(&mut d, vec![row("sign-in", "x", 0)], 0);
    feed(&mut d, vec![row("mail-access", "refresh", 200)], 0);
    let a = feed(&mut d, vec![row("sign-in", "y", 400)], 1);
    assert!(a.is_empty());
    assert_eq!(d.pending(), 1);
    feed(&mut d, vec![], 60 * 25);
    assert_eq!(d.pending(), 0);
    assert_eq!(
        d.state().expired_unjudged.get("no-noninteractive-signins"),
        Some(&1)
    );
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
    let limits = LiveLimits {
        max_pending: 2,
        ..LiveLimits::default()
    };
    let mut d = LiveDetector::new(settings(), limits, LiveState::default());
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
    assert_eq!(d.state().evicted_pending, 1);
    feed(&mut d, vec![], 25 * 60);
    assert_eq!(d.pending(), 0);
    assert_eq!(d.state().expired_pending, 2);
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
fn regression_a_record_sent_again_was_listed_twice_in_a_live_alert() {
    // A collector re-sending a page hands serve the same record in a later batch: the live
    // alert listed its id twice (hunt's record ids are unique).
    let mut d = detector();
    let consumer = |minute| {
        let mut r = row("mail-access", "tok", minute);
        r.token_tenant = Some("9188040d-6c67-4c5b-b112-36a304b66dad".into());
        r
    };
    feed(&mut d, vec![consumer(0)], 0);
    let a = feed(&mut d, vec![consumer(0), consumer(1)], 1);
    let a = a
        .iter()
        .find(|a| a.rule_id == "consumer-tenant-token")
        .expect("the alert is extended");
    let mut ids = a.record_ids.clone();
    ids.dedup();
    assert_eq!(ids, a.record_ids, "unique");
    assert_eq!(a.record_ids.len(), 2);
}

#[test]
fn regression_a_copy_of_a_record_an_alert_holds_handed_the_alert_out_again() {
    // A copy alone changes nothing: the alert is not handed out again (webhooks resent it),
    // nor past the record-id cap once the cap is marked.
    let limits = LiveLimits {
        max_records_per_alert: 2,
        ..LiveLimits::default()
    };
    let mut d = LiveDetector::new(settings(), limits, LiveState::default());
    let consumer = |minute| {
        let mut r = row("mail-access", "tok", minute);
        r.token_tenant = Some("9188040d-6c67-4c5b-b112-36a304b66dad".into());
        r
    };
    assert_eq!(feed(&mut d, vec![consumer(0), consumer(1)], 0).len(), 1);
    let again = feed(&mut d, vec![consumer(1)], 1);
    assert!(again.is_empty(), "{again:?}");
    // Past the cap: the first record beyond it marks the alert, a copy of it changes nothing.
    let past = feed(&mut d, vec![consumer(1), consumer(2)], 2);
    assert_eq!(past.len(), 1, "the span and the cap marker changed");
    let copy = feed(&mut d, vec![consumer(2)], 3);
    assert!(copy.is_empty(), "{copy:?}");
}

#[test]
fn regression_a_record_sent_again_while_its_token_waited_was_listed_twice() {
    // The same, for a token waiting for sign-in coverage (token-never-issued): its records
    // are kept while it waits and become the alert's.
    let mut d = detector();
    feed(&mut d, vec![row("sign-in", "good", 0)], 0);
    feed(&mut d, vec![row("mail-access", "forged", 200)], 1);
    feed(&mut d, vec![row("mail-access", "forged", 200)], 2);
    assert_eq!(d.pending(), 1);
    feed(&mut d, vec![row("sign-in", "other", 236)], 3);
    let a = feed(&mut d, Vec::new(), SETTLED);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule_id, "token-never-issued");
    assert_eq!(a[0].record_ids, ["mail-access-forged-200"]);
}

#[test]
fn state_round_trips_and_replay_skips_folded_events() {
    let mut d = detector();
    feed(&mut d, vec![row("mail-access", "p", 0)], 0);
    let json = serde_json::to_string(d.state()).unwrap();
    let state = LiveState::from_json(&json).unwrap();
    let settings = DetectConfig::default().build().unwrap();
    let mut d2 = LiveDetector::new(settings, LiveLimits::default(), state);
    assert_eq!(d2.pending(), 1);
    let again = vec![(1, row("mail-access", "q", 0))];
    d2.process(&again, Timestamp(0));
    assert_eq!(d2.pending(), 1, "event 1 was already folded in");
}

// --- Lead rules against the live-learned baseline -----------------------------------------

const DAY: i64 = 86_400_000_000;
/// 2023-07-01T00:00Z.
const T0: i64 = 1_688_169_600_000_000;

/// A mail read and the keys `keys_of` gives it (tenant `t1`).
fn read(user: &str, client: &str, mailbox: &str, at: i64, ops: i64) -> (EventRow, Observed) {
    let row = EventRow {
        role: "mail-access".into(),
        tenant: Some("t1".into()),
        user: Some(user.into()),
        app_id: Some("app".into()),
        client_app_id: Some(client.into()),
        mailbox: Some(mailbox.into()),
        time: Some(at),
        record_ref: format!("{user}-{client}-{mailbox}-{at}"),
        ..EventRow::default()
    };
    let s = |x: &str| x.to_string();
    let mut leads = vec![
        LeadKey::Pair(s("t1"), s("app"), s(client)),
        LeadKey::MailboxPair(s("t1"), s(mailbox), s("app"), s(client)),
        LeadKey::UserApp(s(user), s(client)),
        LeadKey::AppDay(s("t1"), s(client), Timestamp(at).day_number()),
    ];
    if user != mailbox {
        leads.push(LeadKey::Reader(s(user), s(mailbox)));
    }
    let obs = Observed {
        rules: keywarden_detect::incremental::Observed {
            leads,
            ops,
            ..Default::default()
        },
        ..Observed::default()
    };
    (row, obs)
}

fn feed_observed(d: &mut LiveDetector, batch: Vec<(EventRow, Observed)>) -> Vec<Alert> {
    let start = d.state().last_event;
    let (rows, obs): (Vec<EventRow>, Vec<Observed>) = batch.into_iter().unzip();
    let rows: Vec<(i64, EventRow)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (start + 1 + i as i64, r))
        .collect();
    d.process_observed(&rows, obs, Timestamp(1_700_000_000_000_000))
}

/// Seven days of one user reading their own mailbox through `usual`.
fn learned(d: &mut LiveDetector) {
    for day in 0..7 {
        let a = feed_observed(
            d,
            vec![read("u1@x.com", "usual", "u1@x.com", T0 + day * DAY, 10)],
        );
        assert!(a.is_empty(), "the learning period only learns: {a:?}");
    }
    assert!(!d.state().baseline.judging());
}

const NEW_CLIENT: &str = "11111111-2222-3333-4444-555555555555";

#[test]
fn leads_learn_first_then_fire_once_and_extend() {
    let mut d = detector();
    learned(&mut d);
    // The same behaviour after the learning period raises nothing.
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", "usual", "u1@x.com", T0 + 7 * DAY, 10)],
    );
    assert!(a.is_empty(), "{a:?}");
    assert!(d.state().baseline.judging());
    // A new, non-first-party client: a new pair for the tenant and a first use by the user.
    let at = T0 + 7 * DAY + 3600 * 1_000_000;
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", NEW_CLIENT, "u1@x.com", at, 1)],
    );
    let mut rules: Vec<&str> = a.iter().map(|a| a.rule_id.as_str()).collect();
    rules.sort();
    assert_eq!(rules, ["first-seen-client-app", "unexpected-mailbox-app"]);
    assert!(a.iter().all(|a| a.severity == Severity::Low));
    let ids: Vec<String> = a.iter().map(|a| a.id.clone()).collect();
    // Used again: the same alerts grow, no new one.
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", NEW_CLIENT, "u1@x.com", at + 60_000_000, 1)],
    );
    assert_eq!(a.len(), 2);
    assert!(
        a.iter()
            .all(|x| ids.contains(&x.id) && x.record_ids.len() == 2)
    );
}

#[test]
fn volume_anomaly_uses_the_learned_daily_mean() {
    let mut d = detector();
    learned(&mut d);
    // Mean 10 a day; the limit is max(10 × 10, 500) = 500 operations.
    let day8 = T0 + 7 * DAY;
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", "usual", "u1@x.com", day8, 400)],
    );
    assert!(a.is_empty());
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", "usual", "u1@x.com", day8 + 1, 200)],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule_id, "mailbox-volume-anomaly");
    assert_eq!(a[0].evidence["operations"], 600);
    assert_eq!(a[0].evidence["baseline_daily_mean"], 10.0);
}

#[test]
fn cross_mailbox_access_fires_at_the_threshold_with_the_earlier_reads() {
    let mut d = detector();
    learned(&mut d);
    let day8 = T0 + 7 * DAY;
    let mut raised = Vec::new();
    for i in 0..5 {
        let mb = format!("victim{i}@x.com");
        raised = feed_observed(&mut d, vec![read("u1@x.com", "usual", &mb, day8 + i, 1)]);
        let cross: Vec<&Alert> = raised
            .iter()
            .filter(|a| a.rule_id == "cross-mailbox-access")
            .collect();
        assert_eq!(cross.len(), usize::from(i == 4), "at read {i}");
    }
    let a = raised
        .iter()
        .find(|a| a.rule_id == "cross-mailbox-access")
        .unwrap();
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.record_ids.len(), 5, "{:?}", a.record_ids);
    assert_eq!(
        a.evidence["mailboxes_not_owned"].as_array().unwrap().len(),
        5
    );
}

#[test]
fn baseline_maps_are_capped_and_evictions_counted() {
    let limits = LiveLimits {
        max_baseline_keys: 10,
        ..LiveLimits::default()
    };
    let mut d = LiveDetector::new(settings(), limits, LiveState::default());
    for i in 0..50 {
        let client = format!("client-{i}");
        feed_observed(
            &mut d,
            vec![read("u1@x.com", &client, "u1@x.com", T0 + i, 1)],
        );
    }
    // Five maps of ≤ 10 entries (pairs, mailbox pairs, user apps, learned ops, ...).
    assert!(
        d.state().baseline.entries() <= 9 * 10,
        "{}",
        d.state().baseline.entries()
    );
    assert!(d.state().baseline.evicted >= 3 * 40);
}

#[test]
fn learned_baseline_and_fired_findings_survive_a_json_round_trip() {
    let mut d = detector();
    learned(&mut d);
    let at = T0 + 7 * DAY + 10;
    let a = feed_observed(
        &mut d,
        vec![read("u1@x.com", NEW_CLIENT, "u1@x.com", at, 1)],
    );
    assert_eq!(a.len(), 2);
    let json = d.save_json().unwrap();
    let mut d2 = detector();
    d2.set_state(LiveState::from_json(&json).unwrap());
    assert!(d2.state().baseline.judging());
    // Known behaviour stays quiet, the fired finding is extended rather than raised anew, and
    // the learned pair is still known.
    let a = feed_observed(
        &mut d2,
        vec![read("u1@x.com", "usual", "u1@x.com", at + 1, 1)],
    );
    assert!(a.is_empty(), "{a:?}");
    d2.adopt(d.state().alerts().cloned().collect());
    let a = feed_observed(
        &mut d2,
        vec![read("u1@x.com", NEW_CLIENT, "u1@x.com", at + 2, 1)],
    );
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|x| x.record_ids.len() == 2));
}

// --- Sigma rules, live ---------------------------------------------------------------------

const SIGMA_READ: &str = "title: Mail read
id: 00000000-0000-4000-8000-000000000001
logsource:
    product: m365
    service: audit
detection:
    selection:
        Operation: MailItemsAccessed
    condition: selection
level: low
";

const SIGMA_MANY: &str = "title: Three reads in an hour
id: 00000000-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules:
        - 00000000-0000-4000-8000-000000000001
    group-by:
        - UserId
    timespan: 1h
    generate: true
    condition:
        gte: 3
level: medium
";

fn sigma_detector(dir: &std::path::Path) -> LiveDetector {
    sigma_detector_with(dir, SIGMA_MANY)
}

/// [`sigma_detector`] with another text for the correlation rule.
fn sigma_detector_with(dir: &std::path::Path, many: &str) -> LiveDetector {
    std::fs::write(dir.join("read.yml"), SIGMA_READ).unwrap();
    std::fs::write(dir.join("many.yml"), many).unwrap();
    let stage = keywarden_sigma::SigmaConfig {
        rule_paths: vec![dir.to_path_buf()],
        ..keywarden_sigma::SigmaConfig::default()
    }
    .build()
    .unwrap();
    detector().with_sigma(stage)
}

/// UAL mail reads by `u1` at the given minutes, read by the ingest engine through the live
/// collector, then folded in.
fn ingest_reads(d: &mut LiveDetector, minutes: &[i64]) -> Vec<Alert> {
    let reads: Vec<(String, String)> = minutes
        .iter()
        .map(|m| (format!("10:{m:02}:00"), format!("rec-{m}")))
        .collect();
    let reads: Vec<(&str, &str, &str)> = reads
        .iter()
        .map(|(time, id)| ("u1@x.com", time.as_str(), id.as_str()))
        .collect();
    fold_reads(d, &reads, Timestamp(0))
}

/// UAL mail reads `(user, time, id)` on 2023-07-01, read by the ingest engine through the live
/// collector, then folded in at clock `now`.
fn fold_reads(d: &mut LiveDetector, reads: &[(&str, &str, &str)], now: Timestamp) -> Vec<Alert> {
    let mut body = String::new();
    for (user, time, id) in reads {
        body.push_str(&format!(
            concat!(
                r#"{{"CreationTime":"2023-07-01T{}","Id":"{}","Operation":"MailItemsAccessed","#,
                r#""OrganizationId":"t1","RecordType":50,"UserId":"{}","Workload":"Exchange"}}"#,
                "\n"
            ),
            time, id, user
        ));
    }
    let mut c = d.collector();
    let cfg = keywarden_ingest::IngestConfig::default();
    keywarden_ingest::ingest_bytes("in.json", body.into_bytes(), &cfg, &mut c);
    let start = d.state().last_event;
    let rows: Vec<(i64, EventRow)> = std::mem::take(&mut c.rows)
        .into_iter()
        .enumerate()
        .map(|(i, r)| (start + 1 + i as i64, r))
        .collect();
    d.process_observed(&rows, std::mem::take(&mut c.observed), now)
}

/// How many alerts of `SIGMA_MANY`'s correlation are among `alerts`.
fn many_fired(alerts: &[Alert]) -> usize {
    alerts
        .iter()
        .filter(|a| a.rule_id == "00000000-0000-4000-8000-000000000002")
        .count()
}

#[test]
fn sigma_detections_match_per_event_and_correlations_span_batches_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = sigma_detector(dir.path());
    let a = ingest_reads(&mut d, &[1]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].id, "sigma:00000000-0000-4000-8000-000000000001:rec-1");
    assert_eq!(a[0].severity, Severity::Low);
    // The second read arrives in another batch; state is saved and restored in between.
    ingest_reads(&mut d, &[2]);
    // A record dated in 2099 (another user) does not expire the open window.
    let future = br#"{"CreationTime":"2099-01-01T00:00:00","Id":"rec-f","Operation":"MailItemsAccessed","OrganizationId":"t1","RecordType":50,"UserId":"u2@x.com","Workload":"Exchange"}"#;
    let mut c = d.collector();
    let cfg = keywarden_ingest::IngestConfig::default();
    keywarden_ingest::ingest_bytes("in.json", future.to_vec(), &cfg, &mut c);
    let rows = vec![(d.state().last_event + 1, c.rows.remove(0))];
    d.process_observed(&rows, std::mem::take(&mut c.observed), Timestamp(0));
    let json = d.save_json().unwrap();
    assert!(
        json.contains("\"correlation\":{"),
        "windows are saved: {json}"
    );
    let mut d2 = sigma_detector(dir.path());
    d2.set_state(LiveState::from_json(&json).unwrap());
    assert_eq!(d2.sigma().unwrap().groups(), 2);
    let a = ingest_reads(&mut d2, &[3]);
    let corr: Vec<&Alert> = a
        .iter()
        .filter(|a| a.rule_id == "00000000-0000-4000-8000-000000000002")
        .collect();
    assert_eq!(corr.len(), 1, "{a:?}");
    assert_eq!(corr[0].record_ids, ["rec-1", "rec-2", "rec-3"]);
}

#[test]
fn regression_an_event_sent_again_in_a_later_batch_counted_twice_in_a_correlation() {
    // A collector re-sending a page (or two uploads overlapping) hands serve the same event in
    // two batches: the per-batch check missed it, and `gte: 3` fired on two events. Across a
    // save and restore as well.
    let dir = tempfile::tempdir().unwrap();
    let mut d = sigma_detector(dir.path());
    ingest_reads(&mut d, &[1]);
    assert_eq!(
        many_fired(&ingest_reads(&mut d, &[1, 2])),
        0,
        "rec-1 and rec-2 only"
    );
    assert_eq!(d.sigma().unwrap().repeats(), 1);
    let json = d.save_json().unwrap();
    let mut d2 = sigma_detector(dir.path());
    d2.set_state(LiveState::from_json(&json).unwrap());
    assert_eq!(
        many_fired(&ingest_reads(&mut d2, &[2])),
        0,
        "rec-1 and rec-2 only"
    );
    assert_eq!(
        d2.sigma().unwrap().repeats(),
        1,
        "rec-2's repeat, after restore (the count is this process's)"
    );
    // A third event does fire it, naming each event once.
    let a = ingest_reads(&mut d2, &[3]);
    assert_eq!(many_fired(&a), 1, "{a:?}");
    let corr = a
        .iter()
        .find(|a| a.rule_id == "00000000-0000-4000-8000-000000000002")
        .unwrap();
    assert_eq!(corr.record_ids, ["rec-1", "rec-2", "rec-3"]);
}

#[test]
fn a_seen_list_of_the_earlier_id_and_second_form_restores_the_windows_with_nothing_seen() {
    // During the ninth session `seen` held [second, id] pairs; a state saved then must still
    // restore its windows (what counts), forgetting only which events were seen.
    let dir = tempfile::tempdir().unwrap();
    let mut d = sigma_detector(dir.path());
    ingest_reads(&mut d, &[1, 2]);
    let mut saved: serde_json::Value = serde_json::from_str(&d.save_json().unwrap()).unwrap();
    let seen = &mut saved["correlation"]["seen"];
    let pairs: Vec<serde_json::Value> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!([e[0], e[1]]))
        .collect();
    assert_eq!(pairs.len(), 2, "{seen}");
    *seen = serde_json::Value::Array(pairs);
    let mut d2 = sigma_detector(dir.path());
    d2.set_state(LiveState::from_json(&saved.to_string()).unwrap());
    assert_eq!(d2.correlation_lost(), 0);
    // The windows hold rec-1 and rec-2: a third event fires the correlation.
    let a = ingest_reads(&mut d2, &[3]);
    assert_eq!(many_fired(&a), 1, "{a:?}");
}

/// [`fold_reads`] with the clock at noon that day (so that windows expire by event time).
fn ingest_timed_reads(d: &mut LiveDetector, reads: &[(&str, &str, &str)]) -> Vec<Alert> {
    fold_reads(d, reads, Timestamp(1_688_212_800_000_000))
}

#[test]
fn a_repeat_is_remembered_as_long_as_a_tumbling_window_holds_its_event() {
    // A tumbling group lives until its last event is a timespan old, so it can hold events up
    // to two timespans behind the latest: remembering repeats for one timespan only let a
    // repeat of its first event count again.
    let dir = tempfile::tempdir().unwrap();
    let tumbling = SIGMA_MANY.replace(
        "    timespan: 1h\n",
        "    timespan: 1h\n    window: tumbling\n",
    );
    assert!(tumbling.contains("tumbling"));
    let mut d = sigma_detector_with(dir.path(), &tumbling);
    ingest_timed_reads(&mut d, &[("u1@x.com", "10:00:00", "rec-a")]);
    ingest_timed_reads(&mut d, &[("u1@x.com", "10:58:00", "rec-b")]);
    // Another user's read moves the latest event time past rec-a plus one timespan.
    ingest_timed_reads(&mut d, &[("u2@x.com", "11:05:00", "rec-c")]);
    let again = ingest_timed_reads(&mut d, &[("u1@x.com", "10:00:00", "rec-a")]);
    assert_eq!(many_fired(&again), 0, "rec-a counted twice: {again:?}");
    assert_eq!(d.sigma().unwrap().repeats(), 1);
}

#[test]
fn regression_a_session_window_without_a_timespan_forgot_its_events_too_soon() {
    // rsigma caps a session's length only when `timespan` is above zero: with `timespan: 0s`
    // a session lasts while its events keep within the gap, so it can hold an event any time
    // behind the latest. Remembering repeats for timespan plus gap (30 minutes here) let a
    // repeat of the session's first event count again.
    let dir = tempfile::tempdir().unwrap();
    let session = SIGMA_MANY
        .replace(
            "    timespan: 1h\n",
            "    timespan: 0s\n    window: session\n    gap: 30m\n",
        )
        .replace("gte: 3", "gte: 4");
    assert!(session.contains("session") && session.contains("gte: 4"));
    let mut d = sigma_detector_with(dir.path(), &session);
    ingest_timed_reads(&mut d, &[("u1@x.com", "10:00:00", "rec-a")]);
    ingest_timed_reads(&mut d, &[("u1@x.com", "10:25:00", "rec-b")]);
    ingest_timed_reads(&mut d, &[("u1@x.com", "10:50:00", "rec-c")]);
    let again = ingest_timed_reads(&mut d, &[("u1@x.com", "10:00:00", "rec-a")]);
    assert_eq!(many_fired(&again), 0, "rec-a counted twice: {again:?}");
    assert_eq!(d.sigma().unwrap().repeats(), 1);
    // A fourth read fires: the session held all three.
    let fourth = ingest_timed_reads(&mut d, &[("u1@x.com", "11:10:00", "rec-d")]);
    assert_eq!(many_fired(&fourth), 1, "{fourth:?}");
}

#[test]
fn replayed_rows_are_re_read_for_sigma() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = sigma_detector(dir.path());
    let mut c = d.collector();
    let line = br#"{"CreationTime":"2023-07-01T10:00:00","Id":"rec-9","Operation":"MailItemsAccessed","OrganizationId":"t1","RecordType":50,"UserId":"u1@x.com","Workload":"Exchange"}"#;
    let cfg = keywarden_ingest::IngestConfig::default();
    keywarden_ingest::ingest_bytes("in.json", line.to_vec(), &cfg, &mut c);
    // The restart path: rows only, as read back from the store.
    let rows = vec![(1, c.rows.remove(0))];
    let a = d.process(&rows, Timestamp(0));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].id, "sigma:00000000-0000-4000-8000-000000000001:rec-9");
    assert_eq!(d.unreadable_replay(), 0);
}

/// Linking values in live alerts (`keywarden_detect::incremental::links`) through the adapter.
mod links {
    use super::*;
    use keywarden_detect::assign_incidents;
    use serde_json::json;

    const CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    fn detector(limits: LiveLimits, state: LiveState) -> LiveDetector {
        LiveDetector::new(super::settings(), limits, state)
    }

    fn access(token: &str, session: &str, ip: &str, minute: i64) -> EventRow {
        EventRow {
            role: "mail-access".into(),
            tenant: Some("t1".into()),
            user: Some("alice".into()),
            time: Some(1_689_000_000_000_000 + minute * MIN),
            record_ref: format!("r-{token}-{minute}"),
            client_app_id: Some("d3590ed6-52b3-4102-aeff-aad2292ab01c".into()),
            token_id: Some(token.into()),
            session_id: Some(session.into()),
            client_ip: Some(ip.into()),
            ..EventRow::default()
        }
    }

    fn sign_in(token: &str, minute: i64) -> EventRow {
        EventRow {
            role: "sign-in".into(),
            format: "signin-graph".into(),
            record_ref: format!("s-{token}-{minute}"),
            ..access(token, "", "", minute)
        }
    }

    #[test]
    fn an_alert_links_every_records_values_past_the_record_cap() {
        let limits = LiveLimits {
            max_records_per_alert: 1,
            ..LiveLimits::default()
        };
        let mut d = detector(limits, LiveState::default());
        let mut rows = vec![
            access("T2", "S2", "2.2.2.2", 1),
            access("T1", "S1", "1.1.1.1", 0),
        ];
        for r in &mut rows {
            r.token_tenant = Some(CONSUMER.into());
        }
        let a = feed(&mut d, rows, 0);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].rule_id, "consumer-tenant-token");
        assert_eq!(a[0].record_ids.len(), 1);
        assert_eq!(
            a[0].token_id.as_deref(),
            Some("T2"),
            "entities: first record"
        );
        assert_eq!(a[0].evidence["token_ids"], json!(["T1", "T2"]));
        assert_eq!(a[0].evidence["session_ids"], json!(["S1", "S2"]));
        assert_eq!(a[0].evidence["client_ips"], json!(["1.1.1.1", "2.2.2.2"]));
        assert_eq!(a[0].evidence["users"], json!(["alice"]));
        assert_eq!(a[0].evidence["record_ids_truncated_at"], 1);
    }

    #[test]
    fn a_pending_tokens_links_survive_a_restart_and_chain_its_alert() {
        let mut d = detector(LiveLimits::default(), LiveState::default());
        feed(&mut d, vec![sign_in("good", 0)], 0);
        // Token F is used from two sessions and IPs, then the server restarts.
        let uses = vec![
            access("F", "S1", "1.1.1.1", 200),
            access("F", "S2", "2.2.2.2", 201),
        ];
        assert!(feed(&mut d, uses, 1).is_empty());
        let saved = d.save_json().unwrap();
        let state = LiveState::from_json(&saved).unwrap();
        let mut d = detector(LiveLimits::default(), state);
        assert_eq!(d.pending(), 1);
        // Coverage reaches past the lag tolerance and its sign-ins stop arriving: F is judged
        // forged.
        feed(&mut d, vec![sign_in("other", 240)], 2);
        let forged = feed(&mut d, Vec::new(), SETTLED);
        assert_eq!(forged.len(), 1);
        assert_eq!(forged[0].rule_id, "token-never-issued");
        assert_eq!(forged[0].session_id.as_deref(), Some("S1"));
        assert_eq!(forged[0].evidence["session_ids"], json!(["S1", "S2"]));
        assert_eq!(
            forged[0].evidence["client_ips"],
            json!(["1.1.1.1", "2.2.2.2"])
        );
        // An alert reaching only the second session joins its incident through the list.
        let mut other = Alert::new("consumer-tenant-token", "t", forged[0].severity);
        other.id = "other".into();
        other.session_id = Some("S2".into());
        let mut all = vec![forged[0].clone(), other];
        assert_eq!(assign_incidents(&mut all).len(), 1);
    }
}

/// `claim_alerts` as this session's first builds saved it (a list of alert ids per token)
/// still loads: a state that does not read stops `serve` from starting.
#[test]
fn claim_alerts_saved_as_lists_of_alert_ids_still_load() {
    let old = r#"{"last_event":3,"claim_alerts":{"t1\u001ftok":["live-1"]}}"#;
    let state = LiveState::from_json(old).unwrap();
    let mut d = LiveDetector::new(settings(), LiveLimits::default(), state);
    let saved: serde_json::Value = serde_json::from_str(&d.save_json().unwrap()).unwrap();
    assert_eq!(
        saved["claim_alerts"],
        serde_json::json!({"t1\u{1f}tok": {"alerts": ["live-1"], "last": 0}})
    );
}

/// The saved state keeps the format `serve` wrote before the rules moved into
/// `keywarden_detect::incremental`: one flat JSON object, the driver's fields with the Sigma
/// windows and replay counters beside them, so a data directory written before loads as it was.
#[test]
fn regression_saved_state_keeps_its_format_across_the_engine_move() {
    let old = r#"{"last_event":42,"issued":{"tok":5},"coverage":{},"signins":{},"session_alerts":{},"token_alerts":{},"revisions":[],"expired_unjudged":{"no-time":2},"pending":{},"alerts":{},"evicted_pending":1,"expired_pending":2,"evicted_issued":3,"evicted_alerts":4,"baseline":{"start":7,"learned":null,"evicted":5},"correlation":null,"unreadable_replay":6,"correlation_lost":7,"lead_hits_dropped":8}"#;
    let state = LiveState::from_json(old).unwrap();
    assert_eq!(state.engine.last_event, 42);
    assert_eq!(state.engine.expired_unjudged.get("no-time"), Some(&2));
    assert_eq!(state.engine.evicted_alerts, 4);
    assert_eq!(state.engine.baseline.start, Some(7));
    assert_eq!(state.engine.baseline.evicted, 5);
    assert_eq!(state.engine.lead_hits_dropped, 8);
    let mut d = LiveDetector::new(settings(), LiveLimits::default(), state);
    assert_eq!(d.unreadable_replay(), 6);
    assert_eq!(d.correlation_lost(), 7);
    let saved: serde_json::Value = serde_json::from_str(&d.save_json().unwrap()).unwrap();
    let old: serde_json::Value = serde_json::from_str(old).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    // Extended since, never renamed: `claim_alerts` and `evicted_claims` (tenth session).
    let mut want = keys(&old);
    want.push("claim_alerts".to_string());
    want.push("evicted_claims".to_string());
    want.sort();
    assert_eq!(keys(&saved), want);
    for k in [
        "last_event",
        "issued",
        "expired_unjudged",
        "unreadable_replay",
    ] {
        assert_eq!(saved[k], old[k], "{k}");
    }
    assert_eq!(saved["baseline"]["start"], 7);
}
