//! # keywarden-ingest
//!
//! Reads what an incident responder can export (Unified Audit Log in every shape, Entra
//! sign-in and audit logs, Graph activity logs, HTTP access logs, Windows EVTX, any JSON) into
//! [`keywarden_model::Event`]s, and accounts for every record.
//!
//! Flow: [`expand_inputs`] lists files (directories recursively, `-` for stdin); the
//! [`ingest`] engine loads each (decompressing gzip/zstd by magic bytes, decoding UTF-16 to
//! UTF-8), sniffs its container (JSON lines, array, Graph page, Event Hub envelope, several of
//! these appended as PowerShell's `Out-File -Append` leaves them, CSV, EVTX, access-log text), splits
//! large inputs into chunks processed on all cores, parses each record on its own, recognises
//! its shape ([`shape::classify`]) and extracts its fields ([`shape::normalise`]).
//! [`ingest_reader`] reads one input from a reader of already-decoded bytes the same way,
//! streaming line-oriented inputs (`serve`'s bounded-memory ingest). Each worker
//! feeds its own [`Processor`]; the caller merges them.
//!
//! Main types: [`IngestConfig`], [`Processor`], [`Observer`], [`IngestReport`] (with
//! [`Rejection`]s carrying path, line/offset/record number, code and reason, and per input the
//! [`InputNote`]s of a shape recognised only partly), [`Format`].
//!
//! Must never: panic on input, skip a record silently, or let `records != events + rejected`.
#![forbid(unsafe_code)]

pub(crate) mod container;
pub mod engine;
pub mod format;
pub mod from_reader;
pub mod load;
pub mod manifest;
pub mod reject;
pub mod report;
pub mod shape;
pub mod sink;
mod stream;

pub use engine::{BytesOutcome, IngestConfig, Observer, Quiet, ingest, ingest_bytes};
pub use format::{Format, UnknownFormat};
pub use from_reader::{ReaderOutcome, ingest_reader};
pub use load::{InputError, InputSource, expand_inputs};
pub use manifest::{COLLECT_MANIFEST_NAME, is_collect_manifest};
pub use reject::{RejectReason, Rejection};
pub use report::{IngestReport, InputNote, InputReport};
pub use shape::notes::NoteCode;
pub use sink::{Counts, Discard, Fanout, Processor, Sink, Stage};
