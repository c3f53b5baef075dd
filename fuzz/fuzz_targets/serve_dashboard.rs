//! Fuzzes the dashboard's handling of hostile input: the session cookie parser, and rendering
//! of an alert (built from the input's text in every field) on the home and incident pages.
//! Invariant: no character of the input can open a tag or leave an attribute, so the rendered
//! page contains exactly the markup of an empty-valued page's tag count.
#![no_main]

use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_report::escape_html as esc;
use keywarden_server::dashboard::html::{self, Filters, url_component};
use keywarden_server::dashboard::session::session_id;
use keywarden_server::keywarden_store::{
    AlertStatus, IncidentRow, IncidentView, MailboxExposureRow,
};
use libfuzzer_sys::fuzz_target;

fn alert(s: &str) -> Option<Alert> {
    serde_json::from_value(serde_json::json!({
        "id": s, "rule_id": s, "title": s, "severity": "high", "score": 1.0,
        "time_first": null, "time_last": null, "tenant": s, "user": s, "mailbox": s,
        "client_ip": s, "session_id": s, "token_id": s, "incident_id": s,
        "attack": [s], "evidence": {"x": s}, "record_ids": [s]
    }))
    .ok()
}

fn page_for(s: &str) -> Option<String> {
    let a = alert(s)?;
    let view = IncidentView {
        incident: IncidentRow {
            id: s.to_string(),
            severity: Severity::High,
            time_first: None,
            time_last: None,
            alerts: 1,
        },
        statuses: vec![(a.id.clone(), AlertStatus::Open)],
        exposure: vec![MailboxExposureRow {
            mailbox: s.to_string(),
            events: 1,
            bind: 1,
            sync: 0,
            time_first: None,
            time_last: None,
            messages: vec![s.to_string()],
            folders_synced: vec![s.to_string()],
            throttled_windows: Vec::new(),
            linked_by: [(s.to_string(), 1)].into(),
            aliases: vec![s.to_string()],
        }],
        exposure_scope: Default::default(),
        timeline: vec![(Timestamp(0), 1)],
        alerts: vec![a.clone()],
    };
    let filters = Filters {
        severity: s.to_string(),
        rule: s.to_string(),
        user: s.to_string(),
        mailbox: s.to_string(),
    };
    let mut out = html::incident_page(&view, &[], s);
    out.push_str(&html::home(
        &[],
        &[(AlertStatus::Open, vec![a])],
        &filters,
        s,
    ));
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = session_id(Some(&text));
    let e = esc(&text);
    assert!(!e.contains(['<', '>', '"', '\'']));
    assert!(url_component(&text).bytes().all(|b| b.is_ascii_graphic()));
    let (Some(hostile), Some(plain)) = (page_for(&text), page_for("x")) else {
        return;
    };
    assert_eq!(
        hostile.matches('<').count(),
        plain.matches('<').count(),
        "input opened or closed a tag"
    );
    assert_eq!(hostile.matches('"').count(), plain.matches('"').count());
});
