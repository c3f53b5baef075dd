use super::*;
use keywarden_ingest::Format;
use keywarden_model::{Origin, Value};

const TENANT: &str = "6f1c7e4a-0b9d-4c55-9a3e-2f0c3b1d8e77";
const OWA: &str = "9199bf20-a13f-4107-85dc-02114787ef48";
const OUTLOOK: &str = "5d661950-3475-41cd-a2c3-d671a3162bc1";
const ATTACKER_IP: &str = "198.51.100.66";

/// A `MailItemsAccessed` record as the Management API logs it.
struct Mail<'a> {
    time: &'a str,
    mailbox: &'a str,
    ip: &'a str,
    client: &'a str,
    token: Option<&'a str>,
    session: Option<&'a str>,
    access: &'a str,
    throttled: bool,
    items: &'a [&'a str],
}

impl Mail<'_> {
    fn json(&self) -> String {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|i| format!(r#"{{"InternetMessageId":"{i}"}}"#))
            .collect();
        let mut ctx = Vec::new();
        if let Some(t) = self.token {
            ctx.push(format!(r#""UniqueTokenId":"{t}""#));
        }
        if let Some(s) = self.session {
            ctx.push(format!(r#""AADSessionId":"{s}""#));
        }
        format!(
            r#"{{"CreationTime":"{}","Id":"id-{}-{}","Operation":"MailItemsAccessed","OrganizationId":"{TENANT}",
            "RecordType":50,"Workload":"Exchange","ClientIPAddress":"{}","UserId":"{}","MailboxOwnerUPN":"{}",
            "AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"{}","LogonType":0,
            "OperationProperties":[{{"Name":"MailAccessType","Value":"{}"}},{{"Name":"IsThrottled","Value":"{}"}}],
            "Folders":[{{"Path":"\\Inbox","FolderItems":[{}]}}],"AppAccessContext":{{{}}}}}"#,
            self.time,
            self.time,
            self.mailbox,
            self.ip,
            self.mailbox,
            self.mailbox,
            self.client,
            self.access,
            if self.throttled { "True" } else { "False" },
            items.join(","),
            ctx.join(","),
        )
    }
}

fn mail<'a>(time: &'a str, mailbox: &'a str) -> Mail<'a> {
    Mail {
        time,
        mailbox,
        ip: ATTACKER_IP,
        client: OWA,
        token: None,
        session: None,
        access: "Bind",
        throttled: false,
        items: &[],
    }
}

fn feed(b: &mut ExposureBuilder, records: &[Mail<'_>], issued: &BTreeSet<String>) {
    for m in records {
        let text = m.json();
        let value = Value::parse(&text).unwrap();
        let origin = Origin {
            path: "ual.jsonl",
            line: Some(1),
            offset: 0,
            record_number: None,
        };
        let ev = keywarden_ingest::shape::normalise(Format::UalJson, value, origin).unwrap();
        b.add(&ev, issued);
    }
}

/// An incident whose one strong alert is the forged token `forged` used from the attacker's
/// IP through OWA.
fn incident() -> ExposureScope {
    let mut a = Alert::new("token-never-issued", "t", Severity::High);
    a.token_id = Some("forged".into());
    a.client_ip = Some(ATTACKER_IP.into());
    a.client_app_id = Some(OWA.into());
    ExposureScope {
        id: "inc-1".into(),
        severity: Severity::High,
        first: None,
        last: None,
        links: IncidentLinks::of_alerts([&a]),
    }
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn regression_victim_caused_throttling_window_is_reported() {
    let mut b = ExposureBuilder::new(vec![incident()]);
    let issued = BTreeSet::from(["victim-token".to_string()]);
    feed(
        &mut b,
        &[
            // The victim's own Outlook throttles the mailbox an hour before the attacker reads.
            Mail {
                ip: "203.0.113.10",
                client: OUTLOOK,
                token: Some("victim-token"),
                access: "Sync",
                throttled: true,
                ..mail("2023-06-12T01:00:00", "alice@contoso.com")
            },
            Mail {
                token: Some("forged"),
                items: &["<m1@x>"],
                ..mail("2023-06-12T02:00:00", "alice@contoso.com")
            },
            // Throttling long after the incident, and of a mailbox it never reached: not its.
            Mail {
                ip: "203.0.113.10",
                client: OUTLOOK,
                token: Some("victim-token"),
                throttled: true,
                ..mail("2023-06-20T01:00:00", "alice@contoso.com")
            },
            Mail {
                ip: "203.0.113.11",
                client: OUTLOOK,
                throttled: true,
                ..mail("2023-06-12T01:30:00", "bob@contoso.com")
            },
        ],
        &issued,
    );
    let e = b.finish(&Directory::default());
    let m = &e.incidents[0].mailboxes;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].mailbox, "alice@contoso.com");
    assert_eq!(m[0].messages, ["<m1@x>"]);
    assert_eq!(
        m[0].throttled_windows,
        [TimeWindow::throttled_at(t("2023-06-12T01:00:00Z"))]
    );
    assert_eq!(m[0].linked_by, BTreeMap::from([("token".to_string(), 1)]));
}

#[test]
fn throttling_learnt_elsewhere_counts_too() {
    let mut b = ExposureBuilder::new(vec![incident()]);
    feed(
        &mut b,
        &[Mail {
            token: Some("forged"),
            ..mail("2023-06-12T02:00:00", "alice@contoso.com")
        }],
        &BTreeSet::new(),
    );
    let mut log = ThrottleLog::default();
    log.add("alice@contoso.com", t("2023-06-11T03:00:00Z"));
    log.add("alice@contoso.com", t("2023-06-10T01:00:00Z"));
    b.add_throttling(&log);
    let e = b.finish(&Directory::default());
    assert_eq!(
        e.incidents[0].mailboxes[0].throttled_windows,
        [TimeWindow::throttled_at(t("2023-06-11T03:00:00Z"))]
    );
}

#[test]
fn regression_pre_coverage_attacker_records_link_by_ip_and_app() {
    let mut b = ExposureBuilder::new(vec![incident()]);
    let issued = BTreeSet::from(["real-token".to_string()]);
    feed(
        &mut b,
        &[
            Mail {
                token: Some("forged"),
                items: &["<m1@x>"],
                ..mail("2023-06-12T02:00:00", "alice@contoso.com")
            },
            // Before sign-in coverage: another token, unjudged, same IP and client app.
            Mail {
                token: Some("older-forged"),
                items: &["<m2@x>"],
                ..mail("2023-06-02T02:00:00", "carol@contoso.com")
            },
            // No token id at all: no evidence either way, not linked.
            Mail {
                items: &["<m3@x>"],
                ..mail("2023-06-02T02:05:00", "carol@contoso.com")
            },
            // A real user's issued token behind the same address and app: not the attacker's.
            Mail {
                token: Some("real-token"),
                items: &["<m4@x>"],
                ..mail("2023-06-02T03:00:00", "dave@contoso.com")
            },
            // Same IP, another client app: not linked.
            Mail {
                client: OUTLOOK,
                token: Some("older-forged-2"),
                items: &["<m5@x>"],
                ..mail("2023-06-02T04:00:00", "erin@contoso.com")
            },
        ],
        &issued,
    );
    let e = b.finish(&Directory::default());
    let names: Vec<&str> = e.incidents[0]
        .mailboxes
        .iter()
        .map(|m| m.mailbox.as_str())
        .collect();
    assert_eq!(names, ["alice@contoso.com", "carol@contoso.com"]);
    let carol = &e.incidents[0].mailboxes[1];
    assert_eq!(carol.messages, ["<m2@x>"]);
    assert_eq!(carol.linked_by, BTreeMap::from([("ip+app".to_string(), 1)]));
}

#[test]
fn sessions_link_and_object_ids_resolve_to_one_mailbox() {
    let mut scope = incident();
    scope.links.sessions.insert("sess-1".into());
    let mut b = ExposureBuilder::new(vec![scope]);
    feed(
        &mut b,
        &[
            Mail {
                ip: "203.0.113.50",
                client: OUTLOOK,
                token: Some("refreshed"),
                session: Some("sess-1"),
                items: &["<m1@x>"],
                ..mail("2023-06-12T02:00:00", "oid-alice")
            },
            Mail {
                token: Some("forged"),
                items: &["<m2@x>"],
                ..mail("2023-06-12T02:10:00", "Alice@Contoso.com")
            },
        ],
        &BTreeSet::new(),
    );
    let mut d = Directory::default();
    d.add_user("OID-ALICE", "alice@contoso.com");
    let scoped = b.finish_scoped(&d);
    let m = &scoped[0].exposure.mailboxes;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].mailbox, "alice@contoso.com");
    assert_eq!(m[0].aliases, ["oid-alice"]);
    assert_eq!(m[0].messages, ["<m1@x>", "<m2@x>"]);
    assert_eq!(
        m[0].linked_by,
        BTreeMap::from([("session".to_string(), 1), ("token".to_string(), 1)])
    );
    let f = &scoped[0].figures["alice@contoso.com"];
    assert_eq!((f.records, f.bind, f.sync), (2, 2, 0));
    assert_eq!(scoped[0].timeline, [(t("2023-06-12T02:00:00Z"), 2)]);
}

#[test]
fn leads_only_incidents_link_through_every_alert_and_strong_ones_through_strong_alerts() {
    let mut lead = Alert::new("first-seen-client-app", "t", Severity::Low);
    lead.token_id = Some("lead-token".into());
    lead.evidence =
        serde_json::json!({"token_ids": ["lead-2", " "], LINKED_APPS_EVIDENCE: ["app-x"]});
    let mut strong = Alert::new("token-never-issued", "t", Severity::High);
    strong.token_id = Some("forged".into());
    let both = IncidentLinks::of_alerts([&lead, &strong]);
    assert_eq!(both.tokens, BTreeSet::from(["forged".to_string()]));
    assert!(both.apps.is_empty() && both.ip_apps.is_empty());
    lead.record_ids = vec!["r1".into()];
    let leads = IncidentLinks::of_alerts([&lead]);
    assert!(leads.tokens.is_empty() && leads.sessions.is_empty());
    assert_eq!(leads.records, BTreeSet::from(["r1".to_string()]));
    assert_eq!(leads.apps, BTreeSet::from(["app-x".to_string()]));
    let mut many = IncidentLinks {
        tokens: (0..10).map(|i| format!("t{i}")).collect(),
        ..IncidentLinks::default()
    };
    assert!(many.truncate(4));
    assert_eq!(many.tokens.len(), 4);
    assert!(!many.truncate(4));
}

#[test]
fn workers_merge_to_the_single_threaded_answer() {
    let records = [
        Mail {
            token: Some("forged"),
            items: &["<m1@x>"],
            ..mail("2023-06-12T02:00:00", "alice@contoso.com")
        },
        Mail {
            token: Some("forged"),
            access: "Sync",
            throttled: true,
            ..mail("2023-06-12T03:00:00", "alice@contoso.com")
        },
    ];
    let none = BTreeSet::new();
    let mut one = ExposureBuilder::new(vec![incident()]);
    feed(&mut one, &records, &none);
    let mut a = ExposureBuilder::new(vec![incident()]);
    let mut b = a.clone();
    feed(&mut a, &records[..1], &none);
    feed(&mut b, &records[1..], &none);
    a.merge(b);
    let d = Directory::default();
    assert_eq!(a.finish(&d), one.finish(&d));
}

#[test]
fn only_linked_records_are_remembered_as_counted_and_a_copy_counts_once() {
    // The client-app needle lets the app's whole traffic through; the records that do not
    // link (issued tokens, no token) must not be remembered, or memory follows the input.
    let mut b = ExposureBuilder::new(vec![incident()]);
    let issued = BTreeSet::from(["real-token".to_string()]);
    let times: Vec<String> = (0..50)
        .map(|i| format!("2023-06-02T03:{i:02}:00"))
        .collect();
    let benign: Vec<Mail<'_>> = times
        .iter()
        .map(|t| Mail {
            token: Some("real-token"),
            ..mail(t, "dave@contoso.com")
        })
        .collect();
    feed(&mut b, &benign, &issued);
    assert_eq!(b.copies.remembered(), 0);
    let forged = Mail {
        token: Some("forged"),
        items: &["<m1@x>"],
        ..mail("2023-06-12T02:00:00", "alice@contoso.com")
    };
    let again = Mail {
        token: Some("forged"),
        items: &["<m1@x>"],
        ..mail("2023-06-12T02:00:00", "alice@contoso.com")
    };
    feed(&mut b, &[forged, again], &issued);
    assert_eq!(b.copies.remembered(), 1);
    let e = b.finish(&Directory::default());
    assert_eq!(
        e.incidents[0].mailboxes[0].linked_by,
        BTreeMap::from([("token".to_string(), 1)])
    );
}
