//! `first-seen-client-app` on a tenant adopting an app: when at least `rollup_min_users`
//! users first use the same client app, one tenant-level lead covers every one of their
//! records; below the threshold (or with 0) each user gets their own lead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_detect::{DetectConfig, Detector};
use keywarden_ingest::IngestConfig;
use keywarden_model::Severity;

const TENANT: &str = "6f1c7e4a-0b9d-4c55-9a3e-2f0c3b1d8e77";
const OUTLOOK: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";
const NEW_APP: &str = "8a3f2b10-5c6d-4e7f-9a0b-1c2d3e4f5a6b";
const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";

/// `users` users read mail with a first-party client on days 1–8, and from day 9 each also
/// uses a new client app (background records: no token ids, so no sign-ins are needed).
fn tenant(users: usize) -> String {
    tenant_days(users, 1..=10, false)
}

/// The records of some days, users in forward or reverse order.
fn tenant_days(users: usize, days: std::ops::RangeInclusive<u32>, reverse: bool) -> String {
    let mut out = String::new();
    let mut rec = |day: u32, user: usize, client: &str| {
        let n = format!("{day}-{user}-{}", &client[..4]);
        out.push_str(&format!(
            concat!(
                r#"{{"Id":"r-{n}","RecordType":50,"CreationTime":"2023-06-{day:02}T10:00:00","#,
                r#""Operation":"MailItemsAccessed","OrganizationId":"{tenant}","UserId":"u{user}@contoso.com","#,
                r#""MailboxOwnerUPN":"u{user}@contoso.com","ClientIPAddress":"10.0.0.{ip}","Workload":"Exchange","#,
                r#""AppId":"{app}","ClientAppId":"{client}","LogonType":0,"#,
                r#""OperationProperties":[{{"Name":"MailAccessType","Value":"Bind"}}]}}"#,
                "\n"
            ),
            n = n,
            day = day,
            tenant = TENANT,
            user = user,
            ip = user % 250,
            app = EXCHANGE,
            client = client,
        ));
    };
    let order: Vec<usize> = if reverse {
        (0..users).rev().collect()
    } else {
        (0..users).collect()
    };
    for day in days {
        for &u in &order {
            rec(day, u, OUTLOOK);
            if day >= 9 {
                rec(day, u, NEW_APP);
            }
        }
    }
    out
}

fn first_seen(users: usize, rollup: usize) -> Vec<keywarden_model::Alert> {
    let mut cfg = DetectConfig::default();
    cfg.rules.first_seen_client_app.rollup_min_users = rollup;
    let d = Detector::new(cfg.build().expect("config builds"));
    let text = tenant(users);
    let (_, det) = d.run_bytes(
        &[("ual.jsonl", text.as_bytes())],
        &IngestConfig::default(),
        None,
    );
    det.alerts
        .into_iter()
        .filter(|a| a.rule_id == "first-seen-client-app")
        .collect()
}

#[test]
fn an_adopted_app_is_one_tenant_level_lead_covering_every_user() {
    let alerts = first_seen(30, 25);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(a.user, None);
    assert_eq!(a.evidence["scope"], "tenant");
    assert_eq!(a.evidence["adopting_users"], 30);
    assert_eq!(a.evidence["users"].as_array().map(Vec::len), Some(30));
    assert_eq!(a.client_app_id.as_deref(), Some(NEW_APP));
    // Every new-app record of every user (30 users x 2 days).
    assert_eq!(a.record_ids.len(), 60);
}

#[test]
fn below_the_threshold_or_disabled_each_user_gets_a_lead() {
    let few = first_seen(5, 25);
    assert_eq!(few.len(), 5);
    assert!(
        few.iter()
            .all(|a| a.user.is_some() && a.record_ids.len() == 2)
    );
    let off = first_seen(30, 0);
    assert_eq!(off.len(), 30);
}

/// Regression: the roll-up's alert id (and context) must not depend on which worker interned
/// which user first. Two inputs listing users in opposite orders, read with 1 and 2 threads.
#[test]
fn regression_rollup_alert_is_the_same_whatever_the_thread_count() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("a.jsonl"), tenant_days(40, 1..=5, false)).expect("write");
    std::fs::write(dir.path().join("b.jsonl"), tenant_days(40, 6..=10, true)).expect("write");
    let inputs =
        keywarden_ingest::expand_inputs(&[dir.path().to_path_buf()]).expect("inputs exist");
    let run = |threads: usize| {
        let d = Detector::new(DetectConfig::default().build().expect("config builds"));
        let cfg = IngestConfig {
            threads,
            chunk_bytes: 4096,
            ..IngestConfig::default()
        };
        let (_, det) = d.run_files(&inputs, &cfg, None);
        let mut v: Vec<String> = det
            .alerts
            .iter()
            .filter(|a| a.rule_id == "first-seen-client-app")
            .map(|a| {
                format!(
                    "{} {:?} {:?} {:?}",
                    a.id,
                    a.client_ip,
                    a.time_first,
                    a.record_ids.len()
                )
            })
            .collect();
        v.sort();
        v
    };
    let one = run(1);
    assert_eq!(one.len(), 1, "{one:?}");
    for _ in 0..5 {
        assert_eq!(run(2), one);
    }
}
