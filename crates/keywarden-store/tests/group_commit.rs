//! Group commit against a real database: each batch of a group gets its own receipt, a batch
//! that fails is rolled back alone, a key repeated inside a group is stored once, and a group
//! stores exactly what the same batches committed one by one store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_store::{Batch, EventRow, RejectionRow, RequestKey, StoreConfig};

fn event(r: &str) -> EventRow {
    EventRow {
        source_kind: "UnifiedAuditLog".into(),
        format: "ual-json".into(),
        role: "mail-access".into(),
        record_ref: r.into(),
        time: Some(1_689_000_000_000_000),
        user: Some("alice@contoso.com".into()),
        raw: format!("{{\"Id\":\"{r}\"}}"),
        ..EventRow::default()
    }
}

fn batch(key: Option<&str>, refs: &[&str], rejected: usize) -> Batch {
    Batch {
        source: "http".into(),
        name: format!("req-{}", refs.join("-")),
        request_key: key.map(|k| RequestKey {
            credential: "key:0123456789ab".into(),
            key: k.into(),
            // The same key always comes with the same body here.
            body_sha256: format!("digest-of-body-{k}"),
        }),
        received_at: 1_700_000_000_000_000,
        events: refs.iter().map(|r| event(r)).collect(),
        rejections: (0..rejected)
            .map(|i| RejectionRow {
                path: "req".into(),
                line: Some(i as u64 + 1),
                code: "invalid-json".into(),
                reason: "invalid JSON".into(),
                ..RejectionRow::default()
            })
            .collect(),
        offset: None,
    }
}

#[test]
fn each_batch_of_a_group_gets_its_own_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let a = batch(Some("ka"), &["a1", "a2"], 1);
    let b = batch(None, &[], 2);
    let c = batch(Some("kc"), &["c1", "c2", "c3"], 0);
    let again = batch(Some("ka"), &["a1", "a2"], 1);
    let outcomes = store.commit_group(&[&a, &b, &c, &again]).unwrap();
    let got: Vec<_> = outcomes
        .into_iter()
        .map(|o| {
            let r = o.unwrap();
            (
                r.accepted,
                r.rejected,
                r.first_event,
                r.last_event,
                r.duplicate,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2, 1, Some(1), Some(2), false),
            (0, 2, None, None, false),
            (3, 0, Some(3), Some(5), false),
            // Same key later in the same group: stored once, answered as a duplicate.
            (2, 1, Some(1), Some(2), true),
        ]
    );
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.batches), (5, 3, 3));
    let replay: Vec<String> = store
        .events_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.record_ref)
        .collect();
    assert_eq!(replay, ["a1", "a2", "c1", "c2", "c3"]);
}

#[test]
fn a_failing_batch_is_rolled_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path());
    let mut store = cfg.build().unwrap();
    // A trigger that refuses one record stands in for any insert failure.
    let side = rusqlite::Connection::open(cfg.db_path()).unwrap();
    side.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.record_ref = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned record'); END;",
    )
    .unwrap();
    drop(side);
    let good1 = batch(Some("k1"), &["g1"], 1);
    // Its batch row, first event and rejection are written before the poisoned event fails.
    let bad = batch(Some("kbad"), &["b1", "poison"], 1);
    let good2 = batch(None, &["g2", "g3"], 0);
    let outcomes = store.commit_group(&[&good1, &bad, &good2]).unwrap();
    assert!(outcomes[0].as_ref().is_ok_and(|r| r.accepted == 1));
    // The message names the operation; the SQLite error is its source (printed once).
    let err = keywarden_model::error_chain(outcomes[1].as_ref().unwrap_err());
    assert!(err.contains("insert event failed: "), "{err}");
    assert!(err.contains("poisoned record"), "{err}");
    assert!(outcomes[2].as_ref().is_ok_and(|r| r.accepted == 2));
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.batches), (3, 1, 2));
    assert_eq!(store.count_record_ref("b1").unwrap(), 0);
    // The failed batch's key was not kept: a retry without the poisoned record is stored.
    let retry = batch(Some("kbad"), &["b1"], 0);
    let r = store.commit_batch(&retry).unwrap();
    assert!(!r.duplicate);
    assert_eq!(store.count_record_ref("b1").unwrap(), 1);
}

#[test]
fn a_group_stores_what_single_commits_store() {
    let batches: Vec<Batch> = (0..6)
        .map(|i| {
            let refs: Vec<String> = (0..i).map(|j| format!("r{i}-{j}")).collect();
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            let key = format!("k{}", i % 4);
            batch(Some(&key), &refs, i % 2)
        })
        .collect();
    let one_by_one = {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let receipts: Vec<_> = batches
            .iter()
            .map(|b| store.commit_batch(b).unwrap())
            .collect();
        (
            receipts,
            store.events_after(0, 100).unwrap(),
            store.stats().unwrap(),
        )
    };
    let grouped = {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let refs: Vec<&Batch> = batches.iter().collect();
        let receipts: Vec<_> = store
            .commit_group(&refs)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        (
            receipts,
            store.events_after(0, 100).unwrap(),
            store.stats().unwrap(),
        )
    };
    assert_eq!(one_by_one, grouped);
}
