//! The schema and its migrations. `PRAGMA user_version` holds the applied version; each
//! migration runs in its own transaction, so a crash mid-migration leaves the previous version.
//! `PRAGMA application_id` holds [`APPLICATION_ID`]: [`identify`] tells a keywarden store from
//! any other file before anything is written to it.

use rusqlite::{Connection, ErrorCode};

use crate::error::StoreError;

/// Migrations in order; index + 1 is the version each one brings the database to.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    source        TEXT NOT NULL,
    name          TEXT NOT NULL,
    request_key   TEXT UNIQUE,
    received_at   INTEGER NOT NULL,
    records       INTEGER NOT NULL,
    events        INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    first_event   INTEGER,
    last_event    INTEGER
);
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    batch_id        INTEGER NOT NULL REFERENCES batches(id),
    received_at     INTEGER NOT NULL,
    source_kind     TEXT NOT NULL,
    format          TEXT NOT NULL,
    role            TEXT NOT NULL,
    record_ref      TEXT NOT NULL,
    time            INTEGER,
    tenant          TEXT,
    user            TEXT,
    client_ip       TEXT,
    app_id          TEXT,
    client_app_id   TEXT,
    session_id      TEXT,
    token_id        TEXT,
    token_tenant    TEXT,
    mailbox         TEXT,
    operation       TEXT,
    mail_access     TEXT,
    logon_type      INTEGER,
    user_agent      TEXT,
    signing_key_id  TEXT,
    raw             TEXT NOT NULL
);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_received ON events(received_at);
CREATE INDEX events_user ON events(user);
CREATE INDEX events_mailbox ON events(mailbox);
CREATE INDEX events_token ON events(token_id);
CREATE INDEX events_session ON events(session_id);
CREATE TABLE rejections (
    id             INTEGER PRIMARY KEY,
    batch_id       INTEGER NOT NULL REFERENCES batches(id),
    received_at    INTEGER NOT NULL,
    path           TEXT NOT NULL,
    line           INTEGER,
    byte_offset    INTEGER,
    record_number  INTEGER,
    code           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    raw            TEXT
);
CREATE INDEX rejections_received ON rejections(received_at);
CREATE TABLE alerts (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    rule_id      TEXT NOT NULL,
    severity     TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    user         TEXT,
    mailbox      TEXT,
    time_first   INTEGER,
    time_last    INTEGER,
    incident_id  TEXT,
    status       TEXT NOT NULL DEFAULT 'open',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX alerts_rule ON alerts(rule_id);
CREATE INDEX alerts_incident ON alerts(incident_id);
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    severity    TEXT NOT NULL,
    time_first  INTEGER,
    time_last   INTEGER,
    alerts      INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE baselines (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE source_offsets (
    source      TEXT NOT NULL,
    path        TEXT NOT NULL,
    file_id     TEXT NOT NULL,
    byte_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (source, path)
);
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    target      TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT NOT NULL,
    body        TEXT NOT NULL
);
"#,
    // 2: the log category (`SignInLogs`, `NonInteractiveUserSignInLogs`...), so that live
    // detection can tell the sign-in streams of one tenant apart.
    "ALTER TABLE events ADD COLUMN category TEXT;",
    // 3: write amplification. No query reads events by time, user, mailbox or arrival, and
    // each of those indexes took a random-position page write per event on every commit (the
    // bulk of the bytes fsynced per batch). Exposure keeps its token and session lookups;
    // retention finds old events through their batches (an id range, see `purge_before`).
    r#"
DROP INDEX events_time;
DROP INDEX events_received;
DROP INDEX events_user;
DROP INDEX events_mailbox;
CREATE INDEX batches_received ON batches(received_at);
"#,
    // 4: the token and session indexes hold only events that carry one (exposure looks them
    // up with `IN (...)`, which implies `IS NOT NULL`): an event without them costs no index
    // write.
    r#"
DROP INDEX events_token;
DROP INDEX events_session;
CREATE INDEX events_token ON events(token_id) WHERE token_id IS NOT NULL;
CREATE INDEX events_session ON events(session_id) WHERE session_id IS NOT NULL;
"#,
    // 5: idempotency keys scoped per credential and bound to the body they were first used
    // with. `request_key` (one key space for every client, no body digest) is no longer read
    // or written: keys stored before this version stay in it, for the record, and answer no
    // later request (a retry spanning the upgrade is stored again: duplicated, never dropped).
    r#"
ALTER TABLE batches ADD COLUMN credential TEXT;
ALTER TABLE batches ADD COLUMN idempotency_key TEXT;
ALTER TABLE batches ADD COLUMN body_sha256 TEXT;
CREATE UNIQUE INDEX batches_idempotency ON batches(credential, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"#,
    // 6: exposure links mail access by the attacker's client IP (records before sign-in
    // coverage) and reads the throttled records of every mailbox an incident reached
    // (throttling is the mailbox's): two indexes over mail-access rows only.
    r#"
CREATE INDEX events_mail_ip ON events(client_ip) WHERE role = 'mail-access';
CREATE INDEX events_mail_mailbox ON events(mailbox) WHERE role = 'mail-access';
"#,
    // 7: the token's `IssuedAtTime` (microseconds), so that live detection bounds a token's
    // issuance as `hunt` does.
    "ALTER TABLE events ADD COLUMN token_issued_at INTEGER;",
];

/// `PRAGMA application_id` of a keywarden store: "KWDR".
pub const APPLICATION_ID: i64 = 0x4B57_4452;

/// Why an existing database file is not a keywarden store (`Err` with the reason), checked
/// before any pragma or migration could change it: a store of this or an earlier build has
/// [`APPLICATION_ID`], or (written before the id was set) application id 0, a schema version
/// and keywarden's `batches` and `events` tables.
pub fn identify(conn: &Connection) -> Result<Result<(), String>, rusqlite::Error> {
    let app_id: i64 = match conn.query_row("PRAGMA application_id", [], |r| r.get(0)) {
        Ok(v) => v,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Ok(Err("not an SQLite database".into()));
        }
        Err(e) => return Err(e),
    };
    if app_id == APPLICATION_ID {
        return Ok(Ok(()));
    }
    if app_id != 0 {
        return Ok(Err(format!(
            "SQLite application_id {app_id:#010x} belongs to another application"
        )));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('batches', 'events')",
        [],
        |r| r.get(0),
    )?;
    if version >= 1 && tables == 2 {
        return Ok(Ok(()));
    }
    Ok(Err(format!(
        "SQLite database without keywarden's schema (user_version {version}, {tables} of the batches and events tables)"
    )))
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| StoreError::Migration { version: 0, source })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = i as i64 + 1;
        let wrap = |source| StoreError::Migration { version, source };
        let tx = conn.transaction().map_err(wrap)?;
        tx.execute_batch(sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|source| StoreError::Migration {
            version: SCHEMA_VERSION,
            source,
        })?;
    if app_id != APPLICATION_ID {
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|source| StoreError::Migration {
                version: SCHEMA_VERSION,
                source,
            })?;
    }
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_and_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 9);
        assert_eq!(identify(&c).unwrap(), Ok(()));
    }

    #[test]
    fn tells_other_databases_apart() {
        let c = Connection::open_in_memory().unwrap();
        assert!(identify(&c).unwrap().is_err(), "an empty SQLite database");
        c.execute_batch("CREATE TABLE batches (id INTEGER); CREATE TABLE events (id INTEGER);")
            .unwrap();
        assert!(identify(&c).unwrap().is_err(), "no schema version");
        c.pragma_update(None, "user_version", 4).unwrap();
        assert_eq!(identify(&c).unwrap(), Ok(()), "a store from before the id");
        c.pragma_update(None, "application_id", 7).unwrap();
        let why = identify(&c).unwrap().unwrap_err();
        assert!(why.contains("another application"), "{why}");
    }

    #[test]
    fn events_keep_only_the_indexes_queries_use() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let names: Vec<String> = c
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'
                 AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            names,
            [
                "events_mail_ip",
                "events_mail_mailbox",
                "events_session",
                "events_token"
            ]
        );
        // Exposure's lookup (see `exposure.rs`) searches the partial indexes.
        let plan: Vec<String> = c
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM events WHERE role = 'mail-access' AND id IN
                 (SELECT id FROM events WHERE token_id IN (?1, ?2)
                  UNION SELECT id FROM events WHERE session_id IN (?3)
                  UNION SELECT id FROM events WHERE role = 'mail-access' AND client_ip IN (?4))",
            )
            .unwrap()
            .query_map(["a", "b", "c", "d"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("INDEX events_token"), "{plan}");
        assert!(plan.contains("INDEX events_session"), "{plan}");
        assert!(plan.contains("INDEX events_mail_ip"), "{plan}");
        assert!(!plan.contains("SCAN events"), "{plan}");
    }

    #[test]
    fn refuses_a_newer_database() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut c),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
