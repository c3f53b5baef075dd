//! What goes into the store: one ingest [`Batch`] of [`EventRow`]s and [`RejectionRow`]s, and
//! the [`BatchReceipt`] that comes back once it is committed.

use serde::Serialize;

/// One event as stored: the values detectors and analysts query, and the raw record.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventRow {
    /// `UnifiedAuditLog`, `EntraSignIn`... ([`keywarden_model::SourceKind`] as text).
    pub source_kind: String,
    /// Shape name (`ual-json`, `signin-graph`...).
    pub format: String,
    /// Detection role: `sign-in`, `mail-access`, `activity` or `other`.
    pub role: String,
    /// Record id, or `path:line` where a record has none.
    pub record_ref: String,
    /// Event time, UTC microseconds.
    pub time: Option<i64>,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub app_id: Option<String>,
    pub client_app_id: Option<String>,
    pub session_id: Option<String>,
    pub token_id: Option<String>,
    pub token_tenant: Option<String>,
    /// Mailbox owner (lower-cased), else mailbox GUID.
    pub mailbox: Option<String>,
    pub operation: Option<String>,
    /// `Bind`, `Sync` or `Other` for mail reads.
    pub mail_access: Option<String>,
    pub logon_type: Option<i64>,
    pub user_agent: Option<String>,
    pub signing_key_id: Option<String>,
    /// Log category (`SignInLogs`, `NonInteractiveUserSignInLogs`...).
    pub category: Option<String>,
    /// The token's `IssuedAtTime` (microseconds since the epoch), when the record carries one.
    pub token_issued_at: Option<i64>,
    /// The raw record as JSON text.
    pub raw: String,
}

/// One rejected record as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RejectionRow {
    pub path: String,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub record_number: Option<u64>,
    pub code: String,
    pub reason: String,
    /// The record's bytes (lossy UTF-8), capped by the caller.
    #[serde(skip)]
    pub raw: Option<String>,
}

/// One unit of acknowledged ingest: everything in it is committed in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Which source delivered it (`http`, `watch`...).
    pub source: String,
    /// The input name (request name, file path).
    pub name: String,
    /// A client-chosen idempotency key, scoped to the credential that sent it and bound to the
    /// body's digest: a batch whose key is already stored for that credential is not stored
    /// again (same body: the stored receipt, `duplicate: true`; different body: refused with
    /// [`crate::StoreError::IdempotencyKeyReused`]).
    pub request_key: Option<RequestKey>,
    /// Arrival time, UTC microseconds (from the injected clock).
    pub received_at: i64,
    pub events: Vec<EventRow>,
    pub rejections: Vec<RejectionRow>,
    /// Where a source has read up to, committed with the batch: (position key, label, offset).
    /// The file tail keys positions by file identity and labels them with the path.
    pub offset: Option<(String, String, u64)>,
}

/// An `Idempotency-Key` as the store keeps it: which credential sent it, the key, and the
/// SHA-256 of the request body it was first used with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestKey {
    /// The sender's non-secret id (`key:` + 12 hex digits of an API key's digest, or
    /// `jwt:<sub>`): keys of different credentials never collide.
    pub credential: String,
    /// The client's key, as sent.
    pub key: String,
    /// Lower-case hex SHA-256 of the request body as received (before any decompression).
    pub body_sha256: String,
}

/// What the store answers once a batch is durable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReceipt {
    pub batch_id: i64,
    pub accepted: u64,
    pub rejected: u64,
    /// Store ids of the batch's events (`first..=last`), `None` when it had none.
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    /// True when the idempotency key was already stored: nothing new was written.
    pub duplicate: bool,
    /// The batch's rejections (for the ingest answer).
    pub rejections: Vec<RejectionRow>,
}
