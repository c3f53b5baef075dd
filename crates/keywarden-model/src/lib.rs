//! # keywarden-model
//!
//! The vocabulary every other keywarden crate speaks.
//!
//! - [`Value`]: a JSON value that borrows its strings from the input text, so a record can be
//!   inspected without building a full owned DOM; a byte-level parser builds it, with
//!   `serde_json` as the reference it must match and the source of every error.
//! - [`Timestamp`]: UTC microseconds, with parsers for every date shape the exports use.
//! - [`Event`]: one normalised record: the raw [`Value`], its [`Origin`] (file, line, offset)
//!   and the extracted [`Fields`] detectors need (user, IPs, app ids, session and token ids,
//!   mailbox, folders, message ids...).
//! - [`Alert`] and [`Severity`]: the `alerts.jsonl` contract shared by built-in detections and
//!   Sigma rules; [`Exposure`]: the `exposure.json` contract (what each incident read).
//! - [`ErrorChain`]: an error and its causes on one line, for the places an error becomes a
//!   string (each error enum prints only its own context and returns the cause as `source()`).
//!
//! This crate does no I/O, knows no export shape and holds no global state; readers (in
//! `keywarden-ingest`) fill [`Fields`], detectors read them.
#![forbid(unsafe_code)]

pub mod alert;
pub mod error_chain;
pub mod event;
pub mod exposure;
pub mod time;
pub mod value;
mod value_parse;

pub use alert::{Alert, Severity};
pub use error_chain::{ErrorChain, error_chain, error_levels};
pub use event::{Event, Fields, FolderAccess, Origin, SourceKind, Text, ascii_fold, non_empty};
pub use exposure::{
    Exposure, IncidentExposure, MailboxExposure, THROTTLE_WINDOW_SECONDS, TimeWindow,
};
pub use time::Timestamp;
pub use value::{JsonError, Object, Value};
