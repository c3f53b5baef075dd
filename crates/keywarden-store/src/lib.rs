//! # keywarden-store
//!
//! The durable store behind `keywarden serve`: one embedded SQLite database under the data
//! directory, in WAL mode with `synchronous=FULL`, so that a batch the server acknowledged is on
//! disk before the client hears "accepted". The directory is created `0700` and the database
//! files kept `0600` ([`private`]); an existing file that is empty or not a keywarden store
//! (its `application_id` and schema, [`schema::identify`]) is refused, never replaced. The
//! server checkpoints the WAL into the database file when it stops, and [`backup`] writes
//! consistent online copies (`keywarden store backup`).
//!
//! It owns the schema and its migrations ([`schema`]), and the tables: ingest batches (with an
//! optional client idempotency key scoped to the sending credential and bound to the body's
//! digest, so a retried request is never stored twice and a reused key never drops data), events (the
//! fields detectors and analysts query, plus the raw record as JSON), rejections (file, line or
//! offset, code, reason), alerts (the `alerts.jsonl` schema, with an analyst status), incidents
//! and their members, baselines and detector state, source offsets (file tails), the audit trail
//! of analyst actions, and webhook dead letters. Retention deletes old events and rejections.
//! Batches are committed one at a time or as a group in one transaction ([`commit`]: one fsync
//! for all, each batch under its own savepoint), or, for a body too large to hold in memory, piece by piece
//! in one transaction ([`streamed`]). Detections (alerts with their incidents) are
//! written whole or as just the rows a regroup changed ([`detections`]). An incident's mailbox
//! exposure ([`exposure`]) is computed when it is viewed, by the detection pack's exposure
//! module (the one `hunt`'s `exposure.json` comes from): the store only selects the candidate
//! rows through its indexes and reads their raw JSON back through the ingest shape readers, a
//! bounded number of them per view.
//!
//! Main types: [`StoreConfig`] → [`Store`] (one writer connection; open more read connections
//! with [`Store::reader`]), [`EventRow`]/[`RejectionRow`]/[`Batch`] in, [`BatchReceipt`],
//! [`AlertQuery`]/[`AlertPage`], [`IncidentView`] and [`Stats`] out.
//!
//! Must never: acknowledge a batch before its transaction committed, interpolate a value into
//! SQL text (every value is a bound parameter), panic on stored data, answer a reused key with
//! another body as a duplicate, or write to a file it has not identified as a keywarden store.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod backup;
pub mod commit;
pub mod detections;
pub mod error;
pub mod exposure;
pub mod private;
pub mod rows;
pub mod schema;
pub mod store;
pub mod streamed;

pub use alerts::{
    AlertPage, AlertQuery, AlertRevision, AlertStatus, AuditEntry, IncidentRow, IncidentView,
};
pub use backup::{BackupReport, Checkpointed};
pub use commit::GroupOutcome;
pub use error::StoreError;
pub use exposure::{ExposureScope, IncidentExposure, MAX_EXPOSURE_RECORDS, MailboxExposureRow};
pub use rows::{Batch, BatchReceipt, EventRow, RejectionRow, RequestKey};
pub use store::{Stats, Store, StoreConfig};
pub use streamed::StreamedBatch;
