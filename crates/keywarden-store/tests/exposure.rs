//! An incident's exposure from a real on-disk store: `hunt`'s fields (messages, synced
//! folders, throttled windows) read back from the stored raw records of the decisive alerts'
//! mail reads, damaged records counted, and the read-back cap reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_model::{Alert, Severity, TimeWindow, Timestamp};
use keywarden_store::{Batch, EventRow, IncidentRow, MailboxExposureRow, Store, StoreConfig};

const T0: &str = "2023-06-12T03:00:00Z";

/// A stored `MailItemsAccessed` record (UAL JSON) as ingest keeps it.
fn mail(
    n: u32,
    token: Option<&str>,
    session: Option<&str>,
    mailbox: &str,
    access: &str,
    raw: String,
) -> EventRow {
    // The stored columns come from the raw record (as ingest derives them): the record
    // carries the token and session it is stored under.
    let raw = match serde_json::from_str::<serde_json::Value>(&raw) {
        Ok(serde_json::Value::Object(mut o)) => {
            let mut ctx = serde_json::Map::new();
            if let Some(t) = token {
                ctx.insert("UniqueTokenId".into(), t.into());
            }
            if let Some(s) = session {
                ctx.insert("AADSessionId".into(), s.into());
            }
            o.insert("AppAccessContext".into(), ctx.into());
            serde_json::Value::Object(o).to_string()
        }
        _ => raw,
    };
    EventRow {
        source_kind: "UnifiedAuditLog".into(),
        format: "ual-json".into(),
        role: "mail-access".into(),
        record_ref: format!("rec-{n}"),
        time: Timestamp::parse(T0).map(|t| t.0 + i64::from(n) * 60_000_000),
        tenant: Some("t1".into()),
        token_id: token.map(Into::into),
        session_id: session.map(Into::into),
        mailbox: Some(mailbox.into()),
        operation: Some("MailItemsAccessed".into()),
        mail_access: Some(access.into()),
        raw,
        ..EventRow::default()
    }
}

fn raw(mailbox: &str, access: &str, throttled: bool, folder: &str, ids: &[&str]) -> String {
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({ "InternetMessageId": i }))
        .collect();
    serde_json::json!({
        "CreationTime": "2023-06-12T03:00:00",
        "Operation": "MailItemsAccessed",
        "RecordType": 50,
        "OrganizationId": "t1",
        "MailboxOwnerUPN": mailbox,
        "OperationProperties": [
            {"Name": "MailAccessType", "Value": access},
            {"Name": "IsThrottled", "Value": if throttled { "True" } else { "False" }}
        ],
        "Folders": [{"Path": folder, "FolderItems": items}]
    })
    .to_string()
}

fn alert(id: &str, sev: Severity, token: Option<&str>, session: Option<&str>) -> Alert {
    let mut a = Alert::new("r", "t", sev);
    a.id = id.into();
    a.token_id = token.map(Into::into);
    a.session_id = session.map(Into::into);
    a.incident_id = Some("INC1".into());
    a
}

/// A store holding one incident: a strong alert (token `forged`, session `s1`) and a lead
/// (token `lead`) whose reads must not count.
fn store(dir: &std::path::Path) -> Store {
    let mut store = StoreConfig::new(dir).build().unwrap();
    let events = vec![
        mail(
            1,
            Some("forged"),
            None,
            "a@x",
            "Bind",
            raw("a@x", "Bind", true, "\\Inbox", &["<m2@x>", "<m1@x>"]),
        ),
        mail(
            2,
            Some("forged"),
            None,
            "a@x",
            "Sync",
            raw("a@x", "Sync", false, "\\Sent Items", &["<m9@x>"]),
        ),
        mail(
            3,
            None,
            Some("s1"),
            "b@x",
            "Bind",
            raw("b@x", "Bind", false, "\\Inbox", &["<\"><img src=x>@x>"]),
        ),
        // Damaged since it was stored: counted, not used.
        mail(4, Some("forged"), None, "a@x", "Bind", "{not json".into()),
        // Read by the lead's token and by an unrelated token: not this incident's exposure.
        mail(
            5,
            Some("lead"),
            None,
            "a@x",
            "Bind",
            raw("a@x", "Bind", false, "\\Inbox", &["<lead@x>"]),
        ),
        mail(
            6,
            Some("other"),
            None,
            "c@x",
            "Bind",
            raw("c@x", "Bind", false, "\\Inbox", &["<other@x>"]),
        ),
    ];
    store
        .commit_batch(&Batch {
            source: "http".into(),
            name: "test".into(),
            request_key: None,
            received_at: 1_700_000_000_000_000,
            events,
            rejections: Vec::new(),
            offset: None,
        })
        .unwrap();
    let alerts = vec![
        alert("strong", Severity::High, Some("forged"), Some("s1")),
        alert("lead", Severity::Medium, Some("lead"), None),
    ];
    let inc = IncidentRow {
        id: "INC1".into(),
        severity: Severity::High,
        time_first: Timestamp::parse(T0),
        time_last: Timestamp::parse(T0),
        alerts: 2,
    };
    store.write_detections(&alerts, &[inc], 1).unwrap();
    store
}

fn row<'a>(rows: &'a [MailboxExposureRow], mailbox: &str) -> &'a MailboxExposureRow {
    rows.iter()
        .find(|r| r.mailbox == mailbox)
        .unwrap_or_else(|| panic!("no {mailbox} in {rows:?}"))
}

#[test]
fn exposure_carries_hunts_fields_from_the_decisive_alerts_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let v = store.incident("INC1").unwrap().expect("incident");
    assert_eq!(v.exposure.len(), 2, "{:?}", v.exposure);
    let a = row(&v.exposure, "a@x");
    // The damaged record is read back but no longer linked: counted as unreadable only.
    assert_eq!((a.events, a.bind, a.sync), (2, 1, 1));
    assert_eq!(a.linked_by.get("token"), Some(&2));
    assert_eq!(row(&v.exposure, "b@x").linked_by.get("session"), Some(&1));
    assert_eq!(a.messages, vec!["<m1@x>".to_string(), "<m2@x>".to_string()]);
    assert_eq!(a.folders_synced, vec!["\\Sent Items".to_string()]);
    let start = Timestamp::parse(T0).unwrap();
    assert_eq!(
        a.throttled_windows,
        vec![TimeWindow {
            start,
            end: start.plus_seconds(24 * 3600)
        }]
    );
    let b = row(&v.exposure, "b@x");
    assert_eq!(b.messages, vec!["<\"><img src=x>@x>".to_string()]);
    assert!(b.folders_synced.is_empty() && b.throttled_windows.is_empty());
    assert_eq!(v.exposure_scope.records_read, 4);
    assert_eq!(v.exposure_scope.unreadable, 1);
    assert!(!v.exposure_scope.truncated);
    // The JSON keeps the old fields and adds hunt's.
    let json = serde_json::to_value(&v).unwrap();
    let m = &json["exposure"][0];
    for k in [
        "mailbox",
        "events",
        "bind",
        "sync",
        "time_first",
        "time_last",
        "messages",
        "folders_synced",
        "throttled_windows",
    ] {
        assert!(m.get(k).is_some(), "{k} missing from {m}");
    }
    assert_eq!(json["exposure_scope"]["truncated"], false);
}

#[test]
fn a_capped_read_back_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let v = store.incident_capped("INC1", 1).unwrap().expect("incident");
    assert!(v.exposure_scope.truncated);
    assert_eq!(v.exposure_scope.records_read, 1);
    let a = row(&v.exposure, "a@x");
    assert_eq!(a.events, 1, "counts cover the records read back");
    assert_eq!(a.messages.len(), 2, "the first record's messages only");
    assert!(a.folders_synced.is_empty());
    assert!(
        v.exposure.iter().all(|m| m.mailbox != "b@x"),
        "not read back"
    );
}
