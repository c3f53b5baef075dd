//! The store against a real on-disk database: exactly-once batches, alert paging and filters,
//! incident exposure, analyst actions, retention, and reopening.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_store::{
    AlertQuery, AlertRevision, AlertStatus, Batch, EventRow, IncidentRow, RejectionRow, RequestKey,
    StoreConfig,
};

fn event(n: u32, token: &str, mailbox: &str, access: &str) -> EventRow {
    EventRow {
        source_kind: "UnifiedAuditLog".into(),
        format: "ual-json".into(),
        role: "mail-access".into(),
        record_ref: format!("rec-{token}-{n}"),
        time: Some(1_689_000_000_000_000 + i64::from(n) * 3_600_000_000),
        tenant: Some("t1".into()),
        user: Some("alice@contoso.com".into()),
        token_id: Some(token.into()),
        mailbox: Some(mailbox.into()),
        operation: Some("MailItemsAccessed".into()),
        mail_access: Some(access.into()),
        // The record the columns were read from (exposure reads it back).
        raw: serde_json::json!({
            "CreationTime": Timestamp(1_689_000_000_000_000 + i64::from(n) * 3_600_000_000).to_string(),
            "Id": format!("rec-{token}-{n}"),
            "Operation": "MailItemsAccessed",
            "RecordType": 50,
            "OrganizationId": "t1",
            "UserId": "alice@contoso.com",
            "MailboxOwnerUPN": mailbox,
            "OperationProperties": [{"Name": "MailAccessType", "Value": access}],
            "AppAccessContext": {"UniqueTokenId": token}
        })
        .to_string(),
        ..EventRow::default()
    }
}

fn batch(key: Option<&str>, events: Vec<EventRow>) -> Batch {
    Batch {
        source: "http".into(),
        name: "test".into(),
        request_key: key.map(|k| RequestKey {
            credential: "key:0123456789ab".into(),
            key: k.into(),
            // The same key always comes with the same body here.
            body_sha256: format!("digest-of-body-{k}"),
        }),
        received_at: 1_700_000_000_000_000,
        events,
        rejections: vec![RejectionRow {
            path: "test".into(),
            line: Some(3),
            code: "invalid-json".into(),
            reason: "invalid JSON: EOF".into(),
            ..RejectionRow::default()
        }],
        offset: None,
    }
}

fn alert(id: &str, rule: &str, sev: Severity, token: &str) -> Alert {
    let mut a = Alert::new(rule, "t", sev);
    a.id = id.into();
    a.token_id = Some(token.into());
    a.user = Some("alice@contoso.com".into());
    a.time_last = Some(Timestamp(1_689_000_000_000_000));
    a.incident_id = Some("INC1".into());
    a
}

#[test]
fn a_batch_with_a_known_key_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path());
    let mut store = cfg.build().unwrap();
    let first = store
        .commit_batch(&batch(Some("k1"), vec![event(1, "tok", "bob", "Bind")]))
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!((first.accepted, first.rejected), (1, 1));
    let again = store
        .commit_batch(&batch(Some("k1"), vec![event(1, "tok", "bob", "Bind")]))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.batch_id, first.batch_id);
    assert_eq!(again.rejections.len(), 1);
    assert_eq!(again.rejections[0].line, Some(3));
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.batches), (1, 1, 1));
    drop(store);
    // Reopening keeps everything (and does not re-run migrations destructively).
    let store = cfg.build().unwrap();
    assert_eq!(store.count_record_ref("rec-tok-1").unwrap(), 1);
    let replay = store.events_after(0, 10).unwrap();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].1.token_id.as_deref(), Some("tok"));
}

#[test]
fn alerts_filter_and_page_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let alerts: Vec<Alert> = (0..25)
        .map(|i| {
            let sev = if i % 5 == 0 {
                Severity::High
            } else {
                Severity::Low
            };
            alert(&format!("A{i:02}"), "ioc-ip", sev, "tok")
        })
        .collect();
    store.write_detections(&alerts, &[], 1).unwrap();
    let mut q = AlertQuery {
        limit: 10,
        ..AlertQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.alerts(&q).unwrap();
        seen.extend(page.alerts.iter().map(|a| a.id.clone()));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "A00");
    let high = store
        .alerts(&AlertQuery {
            severities: vec![Severity::High],
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(high.alerts.len(), 5);
    let none = store
        .alerts(&AlertQuery {
            user: Some("mallory@contoso.com".into()),
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert!(none.alerts.is_empty());
    assert!(
        store
            .alerts(&AlertQuery {
                cursor: Some("x'; DROP TABLE alerts; --".into()),
                ..AlertQuery::default()
            })
            .is_err()
    );
    // Re-writing an alert keeps its paging position and status.
    store
        .set_alert_status("A03", AlertStatus::Acknowledged, "analyst", "looked", 2)
        .unwrap();
    let mut changed = alerts[3].clone();
    changed.record_ids.push("r9".into());
    store.write_detections(&[changed], &[], 3).unwrap();
    let acked = store
        .alerts(&AlertQuery {
            status: Some(AlertStatus::Acknowledged),
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(acked.alerts.len(), 1);
    assert_eq!(acked.alerts[0].record_ids, vec!["r9".to_string()]);
    let trail = store.audit_trail(Some("A03"), 10).unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].note, "looked");
}

#[test]
fn regression_revision_replayed_after_restart_written_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let alerts = [
        alert("W1", "token-never-issued", Severity::Info, "t1"),
        alert("D1", "token-never-issued", Severity::Medium, "t2"),
    ];
    store.write_detections(&alerts, &[], 1).unwrap();
    let revisions = [
        AlertRevision {
            alert_id: "W1",
            action: "withdrawn",
            close: true,
            note: "its sign-in arrived",
        },
        AlertRevision {
            alert_id: "D1",
            action: "downgraded",
            close: false,
            note: "its session's sign-in arrived",
        },
        // Never stored: skipped, the others still written.
        AlertRevision {
            alert_id: "gone",
            action: "withdrawn",
            close: true,
            note: "",
        },
    ];
    let actor = "keywarden (live revision)";
    assert_eq!(store.record_revisions(&revisions, actor, 2).unwrap(), 2);
    // The same revisions again (a replay after a restart): nothing new in the trail.
    assert_eq!(store.record_revisions(&revisions, actor, 3).unwrap(), 0);
    assert_eq!(store.audit_trail(Some("W1"), 10).unwrap().len(), 1);
    assert_eq!(store.audit_trail(Some("D1"), 10).unwrap().len(), 1);
    let closed = store
        .alerts(&AlertQuery {
            status: Some(AlertStatus::Closed),
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    let ids: Vec<&str> = closed.alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["W1"]);
}

#[test]
fn incident_exposure_counts_mail_reads_by_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let events = vec![
        event(1, "forged", "bob@contoso.com", "Bind"),
        event(2, "forged", "bob@contoso.com", "Sync"),
        event(3, "forged", "carol@contoso.com", "Bind"),
        event(4, "benign", "dave@contoso.com", "Bind"),
    ];
    store.commit_batch(&batch(None, events)).unwrap();
    let a = alert("A1", "token-never-issued", Severity::High, "forged");
    let inc = IncidentRow {
        id: "INC1".into(),
        severity: Severity::High,
        time_first: a.time_first,
        time_last: a.time_last,
        alerts: 1,
    };
    store.write_detections(&[a], &[inc], 5).unwrap();
    let view = store.incident("INC1").unwrap().unwrap();
    assert_eq!(view.alerts.len(), 1);
    let boxes: Vec<(&str, u64, u64, u64)> = view
        .exposure
        .iter()
        .map(|e| (e.mailbox.as_str(), e.events, e.bind, e.sync))
        .collect();
    assert_eq!(
        boxes,
        vec![("bob@contoso.com", 2, 1, 1), ("carol@contoso.com", 1, 1, 0)]
    );
    assert_eq!(view.timeline.len(), 3);
    assert!(store.incident("nope").unwrap().is_none());
}

#[test]
fn retention_deletes_old_events_and_keeps_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    store
        .commit_batch(&batch(None, vec![event(1, "t", "m", "Bind")]))
        .unwrap();
    store
        .write_detections(&[alert("A1", "ioc-ip", Severity::High, "t")], &[], 1)
        .unwrap();
    assert_eq!(store.purge_before(1_600_000_000_000_000).unwrap(), (0, 0));
    assert_eq!(store.purge_before(1_800_000_000_000_000).unwrap(), (1, 1));
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.alerts), (0, 0, 1));
}

#[test]
fn retention_follows_arrival_time_even_when_the_clock_stepped_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let at = |received_at: i64, n: u32| Batch {
        received_at,
        rejections: Vec::new(),
        ..batch(
            None,
            vec![event(n, "t", "m", "Bind"), event(n + 1, "t", "m", "Sync")],
        )
    };
    store.commit_batch(&at(100, 1)).unwrap(); // events 1, 2
    store.commit_batch(&at(300, 3)).unwrap(); // events 3, 4
    store.commit_batch(&at(200, 5)).unwrap(); // events 5, 6: the clock went back
    assert_eq!(store.purge_before(50).unwrap(), (0, 0));
    assert_eq!(store.purge_before(250).unwrap(), (4, 0));
    let left: Vec<String> = store
        .events_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.record_ref)
        .collect();
    assert_eq!(left, ["rec-t-3", "rec-t-4"]);
    assert_eq!(store.purge_before(250).unwrap(), (0, 0));
    assert_eq!(store.purge_before(301).unwrap(), (2, 0));
    assert_eq!(store.stats().unwrap().batches, 3);
}

#[test]
fn offsets_commit_with_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let mut b = batch(None, vec![event(1, "t", "m", "Bind")]);
    b.source = "watch".into();
    b.offset = Some(("/logs/a.json".into(), "dev1-ino2".into(), 4096));
    store.commit_batch(&b).unwrap();
    assert_eq!(
        store.offset("watch", "/logs/a.json").unwrap(),
        Some(("dev1-ino2".to_string(), 4096))
    );
    assert_eq!(store.offset("watch", "/logs/b.json").unwrap(), None);
}
