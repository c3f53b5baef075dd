//! # keywarden-collect
//!
//! `keywarden collect`: pull the logs a forged-token investigation needs straight from
//! Microsoft's APIs, completely and exactly once, into a directory `keywarden hunt` reads
//! unchanged.
//!
//! Sources: the Office 365 Management Activity API (`o365.rs`: the Unified Audit Log, all five
//! content types), Graph sign-ins of every event type and directory audits (`graph.rs`), the
//! Azure Monitor Logs query API (`loganalytics.rs`) and Purview audit search (`purview.rs`).
//!
//! Flow: [`collect`] (`run.rs`) checks the [`CollectConfig`], reads the credentials and
//! authenticates (`auth.rs`: client secret or certificate assertion, tokens renewed before
//! expiry and on 401), opens the [`store`] (SQLite state beside the output: windows, cursors,
//! the on-disk dedupe index, files), then runs every (source, stream) on a bounded pool. Every
//! request goes through `client.rs`: per-API budget and `Retry-After` gate shared by all
//! workers (`throttle.rs`), retries with seeded jittered backoff. Answers are saved to disk and
//! read one record at a time (`stream_json.rs`); each blob or page is one unit committed with
//! its ids and cursor in one transaction before its file is renamed into place, so a re-run —
//! also after `kill -9` — fetches only what is new and never writes a record twice. The run
//! ends by writing `collect.json` ([`Manifest`]).
//!
//! Must never: show or write a secret or token; send a token anywhere but its service's base
//! URL; call a window complete that was truncated, refused or had a blob it could not fetch;
//! read the wall clock (time comes from the injected [`Clock`]).
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod error;
pub(crate) mod graph;
pub mod http;
pub(crate) mod loganalytics;
pub mod manifest;
pub(crate) mod o365;
pub(crate) mod purview;
mod run;
pub mod store;
pub mod stream_json;
pub mod throttle;
pub mod window;

pub use clock::Clock;
pub use config::{
    Budget, Cloud, CollectConfig, CredentialSource, Endpoints, Pacing, Service, SourceKind,
    parse_time,
};
pub use error::{CallError, CollectError};
pub use graph::SIGN_IN_EVENT_TYPES;
pub use http::{Transport, UreqTransport};
pub use keywarden_model::Timestamp;
pub use loganalytics::TABLES;
pub use manifest::Manifest;
pub use o365::CONTENT_TYPES;
pub use run::collect;
