//! The store's files: owner-only modes, refusing an empty or foreign database, the shutdown
//! checkpoint, online backups, idempotency keys per credential and body, and the migration of
//! a store written before keys were scoped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_store::{Batch, EventRow, RequestKey, StoreConfig, StoreError};

fn event(r: &str) -> EventRow {
    EventRow {
        source_kind: "UnifiedAuditLog".into(),
        format: "ual-json".into(),
        role: "mail-access".into(),
        record_ref: r.into(),
        raw: format!("{{\"Id\":\"{r}\"}}"),
        ..EventRow::default()
    }
}

fn batch(key: Option<RequestKey>, refs: &[&str]) -> Batch {
    Batch {
        source: "http".into(),
        name: "req".into(),
        request_key: key,
        received_at: 1_700_000_000_000_000,
        events: refs.iter().map(|r| event(r)).collect(),
        rejections: Vec::new(),
        offset: None,
    }
}

fn key(credential: &str, key: &str, body: &str) -> Option<RequestKey> {
    Some(RequestKey {
        credential: credential.into(),
        key: key.into(),
        body_sha256: format!("sha-{body}"),
    })
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
#[test]
fn regression_data_dir_world_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cfg = StoreConfig::new(&dir);
    let mut store = cfg.build().unwrap();
    store.commit_batch(&batch(None, &["r1"])).unwrap();
    // A reader holds the WAL open, as the server's readers do.
    let _reader = cfg.reader().unwrap();
    assert_eq!(mode(&dir), 0o700, "data directory");
    let db = cfg.db_path();
    for f in [
        db.clone(),
        dir.join("keywarden.db-wal"),
        dir.join("keywarden.db-shm"),
    ] {
        assert!(f.exists(), "{}", f.display());
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    drop((store, _reader));

    // A store left by an older build (0755 directory, 0644 files): files tightened, the
    // directory (maybe shared on purpose) reported.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = cfg.build().unwrap();
    assert_eq!(mode(&db), 0o600);
    let warned = store.warnings().join("\n");
    assert!(
        warned.contains("open to group and others (mode 0755)") && warned.contains("chmod 700"),
        "{warned}"
    );
}

#[test]
fn regression_foreign_database_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(tmp.path());
    let db = cfg.db_path();

    // Zero bytes (a truncated store): refused, left as it is.
    std::fs::write(&db, b"").unwrap();
    let err = cfg.build().err().expect("an empty file is refused");
    assert!(matches!(err, StoreError::EmptyDatabase { .. }), "{err}");
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);

    // Not SQLite at all.
    let text = b"not a database, but somebody's notes\n".repeat(200);
    std::fs::write(&db, &text).unwrap();
    let err = cfg.build().err().expect("a text file is refused");
    assert!(
        matches!(&err, StoreError::Foreign { reason, .. } if reason.contains("not an SQLite database")),
        "{err}"
    );
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), text, "left untouched");

    // Another application's SQLite database.
    std::fs::remove_file(&db).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
        c.pragma_update(None, "application_id", 0x1234).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let err = cfg.build().err().expect("a foreign database is refused");
    assert!(
        matches!(&err, StoreError::Foreign { reason, .. } if reason.contains("another application")),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "left untouched");
    assert!(!tmp.path().join("keywarden.db-wal").exists());

    // An SQLite database without the id or keywarden's tables.
    std::fs::remove_file(&db).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT);").unwrap();
    }
    let err = cfg.build().err().expect("a database without the schema");
    assert!(
        matches!(&err, StoreError::Foreign { reason, .. } if reason.contains("without keywarden's schema")),
        "{err}"
    );
    assert!(matches!(
        cfg.open_existing(),
        Err(StoreError::Foreign { .. })
    ));

    // A missing one is created (complete, identified), and reopened.
    std::fs::remove_file(&db).unwrap();
    cfg.build().unwrap();
    cfg.build().unwrap();
    assert!(!tmp.path().join("keywarden.db.init").exists());
}

#[test]
fn regression_idempotency_key_reuse_drops_new_body() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(tmp.path()).build().unwrap();
    let first = store
        .commit_batch(&batch(key("key:aaaa", "k1", "one"), &["a1"]))
        .unwrap();
    // Same credential, key and body: a retry.
    let retry = store
        .commit_batch(&batch(key("key:aaaa", "k1", "one"), &["a1"]))
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.batch_id, first.batch_id);
    // Same key, another body: refused, nothing written.
    let err = store
        .commit_batch(&batch(key("key:aaaa", "k1", "two"), &["b1"]))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyKeyReused { ref key, batch_id } if key == "k1" && batch_id == first.batch_id),
        "{err}"
    );
    assert_eq!(store.count_record_ref("b1").unwrap(), 0);
    // Another credential's key of the same name is its own.
    let other = store
        .commit_batch(&batch(key("jwt:bob", "k1", "two"), &["b1"]))
        .unwrap();
    assert!(!other.duplicate);
    assert_eq!(store.count_record_ref("b1").unwrap(), 1);
    // Inside one group too.
    let a = batch(key("key:aaaa", "k2", "x"), &["c1"]);
    let b = batch(key("key:aaaa", "k2", "y"), &["c2"]);
    let c = batch(key("key:bbbb", "k2", "y"), &["c3"]);
    let out = store.commit_group(&[&a, &b, &c]).unwrap();
    assert!(out[0].as_ref().is_ok_and(|r| !r.duplicate));
    assert!(matches!(
        out[1],
        Err(StoreError::IdempotencyKeyReused { .. })
    ));
    assert!(out[2].as_ref().is_ok_and(|r| !r.duplicate));
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.batches), (4, 4));
}

#[test]
fn a_store_from_before_scoped_keys_is_migrated() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(tmp.path());
    drop(cfg.build().unwrap());
    // Turn it back into a schema-4 store with one unscoped key and no application id.
    {
        let c = rusqlite::Connection::open(cfg.db_path()).unwrap();
        c.execute_batch(
            "DROP INDEX batches_idempotency;
             DROP INDEX events_mail_ip;
             DROP INDEX events_mail_mailbox;
             ALTER TABLE events DROP COLUMN token_issued_at;
             ALTER TABLE batches DROP COLUMN credential;
             ALTER TABLE batches DROP COLUMN idempotency_key;
             ALTER TABLE batches DROP COLUMN body_sha256;
             INSERT INTO batches (source, name, request_key, received_at, records, events, rejected)
             VALUES ('http', 'old', 'k1', 1, 0, 0, 0);
             PRAGMA user_version = 4;
             PRAGMA application_id = 0;",
        )
        .unwrap();
    }
    let mut store = cfg.build().unwrap();
    let id: i64 = rusqlite::Connection::open(cfg.db_path())
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, keywarden_store::schema::APPLICATION_ID);
    // The legacy key answers nothing: the new body is stored, not dropped.
    let r = store
        .commit_batch(&batch(key("key:aaaa", "k1", "new"), &["n1"]))
        .unwrap();
    assert!(!r.duplicate);
    assert_eq!(store.stats().unwrap().batches, 2);
}

#[test]
fn checkpoint_and_backup_hold_every_committed_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(tmp.path().join("data"));
    let mut store = cfg.build().unwrap();
    for i in 0..50 {
        let refs: Vec<String> = (0..20).map(|j| format!("r{i}-{j}")).collect();
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        store.commit_batch(&batch(None, &refs)).unwrap();
    }
    // Online backup beside the writer (through its own connection, as the CLI does).
    let out = tmp.path().join("backup.db");
    let report = cfg.open_existing().unwrap().backup_into(&out).unwrap();
    assert_eq!((report.batches, report.events), (50, 1000));
    assert!(report.bytes > 0);
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);
    // Never overwrites.
    let err = cfg.open_existing().unwrap().backup_into(&out).unwrap_err();
    assert!(matches!(err, StoreError::BackupTarget { .. }), "{err}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), report.bytes);
    // The copy opens as a store.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&out, restored.path().join("keywarden.db")).unwrap();
    let copy = StoreConfig::new(restored.path()).build().unwrap();
    assert_eq!(copy.stats().unwrap().events, 1000);

    // After a truncating checkpoint the database file alone holds everything.
    let done = store.checkpoint_truncate().unwrap();
    assert!(done.complete);
    assert_eq!(
        std::fs::metadata(tmp.path().join("data/keywarden.db-wal"))
            .unwrap()
            .len(),
        0
    );
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(cfg.db_path(), alone.path().join("keywarden.db")).unwrap();
    let copy = StoreConfig::new(alone.path()).build().unwrap();
    assert_eq!(copy.stats().unwrap().events, 1000);

    assert!(matches!(
        StoreConfig::new(tmp.path().join("nothing")).open_existing(),
        Err(StoreError::Missing { .. })
    ));
}
