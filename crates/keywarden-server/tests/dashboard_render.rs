//! Snapshots of the dashboard's rendered pages for a hostile alert: the markup is fixed, and
//! every value from the logs appears only escaped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_model::{Alert, Severity, TimeWindow, Timestamp};
use keywarden_server::dashboard::html::{self, Filters};
use keywarden_store::{
    AlertStatus, AuditEntry, ExposureScope, IncidentRow, IncidentView, MailboxExposureRow,
};

const CSRF: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn hostile_alert() -> Alert {
    serde_json::from_value(serde_json::json!({
        "id": "ioc-ip-\"><img src=x onerror=alert(1)>",
        "rule_id": "ioc-ip",
        "title": "Mail read from a known-bad IP <script>alert(2)</script>",
        "severity": "high",
        "score": 80.0,
        "time_first": "2023-06-12T03:00:00Z",
        "time_last": "2023-06-12T04:10:00Z",
        "tenant": "contoso",
        "user": "\"><img src=x onerror=alert(3)>@contoso.com",
        "mailbox": "<script>alert(4)</script>@contoso.com",
        "client_ip": "146.70.135.182",
        "session_id": "s1",
        "incident_id": "inc-1",
        "attack": ["T1114.002"],
        "evidence": {"user_agent": "<script>alert(5)</script>", "folder": "\\Inbox\"><b>"},
        "record_ids": ["r1", "r2"]
    }))
    .expect("alert JSON")
}

fn t(s: &str) -> Option<Timestamp> {
    Timestamp::parse(s)
}

#[test]
fn incident_page_snapshot() {
    let alert = hostile_alert();
    let view = IncidentView {
        incident: IncidentRow {
            id: "inc-1".into(),
            severity: Severity::High,
            time_first: t("2023-06-12T03:00:00Z"),
            time_last: t("2023-06-12T04:10:00Z"),
            alerts: 1,
        },
        statuses: vec![(alert.id.clone(), AlertStatus::Acknowledged)],
        exposure: vec![MailboxExposureRow {
            mailbox: "<script>alert(4)</script>@contoso.com".into(),
            events: 3,
            bind: 2,
            sync: 1,
            time_first: t("2023-06-12T03:00:00Z"),
            time_last: t("2023-06-12T04:10:00Z"),
            messages: vec![
                "<m1@contoso.com>".into(),
                "<\"><img src=x onerror=alert(7)>@evil>".into(),
            ],
            folders_synced: vec!["\\Inbox\"><script>alert(8)</script>".into()],
            throttled_windows: vec![TimeWindow {
                start: t("2023-06-12T03:00:00Z").unwrap(),
                end: t("2023-06-13T03:00:00Z").unwrap(),
            }],
            ..MailboxExposureRow::default()
        }],
        exposure_scope: ExposureScope {
            records_read: 3,
            unreadable: 1,
            truncated: true,
        },
        timeline: vec![
            (t("2023-06-12T03:00:00Z").unwrap(), 2),
            (t("2023-06-12T04:00:00Z").unwrap(), 1),
        ],
        alerts: vec![alert.clone()],
    };
    let audit = vec![AuditEntry {
        at: t("2023-06-12T05:00:00Z").unwrap(),
        actor: "dashboard".into(),
        action: "acknowledged".into(),
        target: alert.id.clone(),
        note: "<img src=x onerror=alert(6)>".into(),
    }];
    let page = html::incident_page(&view, &audit, CSRF);
    assert!(!page.contains("<img") && !page.contains("<script"));
    // The exposure lists are there, escaped, inside a collapsible block.
    assert!(page.contains("<details class=\"exposure\">"));
    assert!(page.contains("<li><code>&lt;m1@contoso.com&gt;</code></li>"));
    assert!(page.contains("&lt;&quot;&gt;&lt;img src=x onerror=alert(7)&gt;@evil&gt;"));
    assert!(page.contains("\\Inbox&quot;&gt;&lt;script&gt;alert(8)&lt;/script&gt;"));
    assert!(page.contains("2023-06-12T03:00:00Z → 2023-06-13T03:00:00Z"));
    assert!(page.contains("Partial exposure") && page.contains("1 linked records could not"));
    insta::assert_snapshot!(page);
}

#[test]
fn home_page_snapshot() {
    let incidents = vec![IncidentRow {
        id: "inc-1".into(),
        severity: Severity::High,
        time_first: t("2023-06-12T03:00:00Z"),
        time_last: t("2023-06-12T04:10:00Z"),
        alerts: 1,
    }];
    let groups = vec![
        (AlertStatus::Open, vec![hostile_alert()]),
        (AlertStatus::Acknowledged, vec![]),
        (AlertStatus::Closed, vec![]),
    ];
    let filters = Filters {
        severity: "high".into(),
        user: "\"><b>".into(),
        ..Filters::default()
    };
    let page = html::home(&incidents, &groups, &filters, CSRF);
    assert!(!page.contains("<img") && !page.contains("<script") && !page.contains("<b>"));
    insta::assert_snapshot!(page);
}

#[test]
fn login_page_snapshot() {
    insta::assert_snapshot!(html::login_page(Some("That key is not valid.")));
}
