//! # keywarden-server
//!
//! `keywarden serve`: continuous monitoring. Logs arrive over HTTP (`POST /api/v1/ingest`, any
//! shape `hunt` reads, gzip/zstd bodies) or from other [`Source`]s; parse threads ([`parse`])
//! read them with the ingest engine, in queue order, and a single writer thread ([`writer`])
//! commits every body already read as one group, events and rejections durably in the
//! [`keywarden_store`] (SQLite, WAL, `synchronous=FULL`), then runs `hunt`'s detections
//! incrementally ([`LiveDetector`]: the pack's strong rules with the lag tolerance of
//! `token-never-issued`, its lead rules against a baseline learned live, and Sigma rules
//! matched during ingest with incremental correlation; bounded state, injected [`Clock`]),
//! regroups incidents (over its in-memory [`alert_book`], storing only the rows that changed),
//! and only then answers each request.
//! Analysts query alerts, incidents with exposure, statistics and Prometheus metrics ([`api`]).
//!
//! Alerts go out through signed, retried webhooks ([`webhook`]) with a dead-letter table.
//! Analysts triage in the [`dashboard`]. Failed API keys are throttled per client address
//! (429 with `Retry-After`), on the dashboard login and as `Authorization: Bearer` alike (one
//! throttle; the client is the TCP peer, or the `X-Forwarded-For` hop named by a trusted proxy,
//! [`client`]); every status change is audited with who made it (a key's
//! non-secret id or a JWT's `sub`, never a secret).
//!
//! Connections are bounded against clients that hold sockets ([`conn`]): TLS-handshake,
//! header-read and request-body timeouts, a keep-alive idle limit, and a connection cap (fitted
//! to the descriptor limit) that sheds the longest-idle connection first.
//!
//! Main types: [`ServeConfig`] → [`Server`] ([`Server::run`]), [`ApiKeys`] (SHA-256 digests,
//! constant-time comparison), [`Ingestor`] (the bounded queue: 429/503 with `Retry-After`
//! instead of unbounded memory), [`Metrics`].
//!
//! `[collect]` (or `serve --collect FILE`) adds a [`collect_source`]: the `keywarden collect`
//! library polled on an interval, each staged file committed with its stream's cursor in the
//! batch's own transaction (exactly once across restarts), poll status and lag per stream in
//! `/metrics` and `/api/v1/stats`.
//!
//! Idempotency keys are scoped to the credential that sent them and bound to the body's
//! SHA-256 (a reused key with another body is answered 422); `--watch` opens files with
//! `O_NOFOLLOW` and checks the opened handle ([`watch`]); a graceful stop checkpoints the WAL
//! into the database file.
//!
//! Bodies are streamed: [`body_decode`] unwraps up to 3 gzip/zstd layers under one
//! decompression cap, the parse threads hand rows on in pieces, and the writer commits a large
//! body piece by piece in one transaction, so peak memory stays under the
//! [`memory_budget`] (`[server] memory_budget_mb`) whatever the bodies and their number.
//!
//! Must never: answer 200 before a commit, hold more than `max_inflight` bodies in memory,
//! serve anything but `GET /healthz` without a valid key, keep a key in clear text, read the
//! system clock except through [`Clock`], read a file `--watch` did not list as a regular
//! file, or panic on a request.
#![forbid(unsafe_code)]

pub mod alert_book;
pub mod api;
pub mod auth;
pub mod body_decode;
pub mod client;
pub mod clock;
pub mod collect_source;
pub mod conn;
pub mod convert;
pub mod dashboard;
pub mod error;
pub mod live;
pub mod memory_budget;
pub mod metrics;
pub mod parse;
pub mod queue;
pub mod server;
pub mod source;
pub mod tls;
pub mod watch;
pub mod webhook;
pub mod writer;

pub use auth::ApiKeys;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ServerError;
/// The store crate, for callers (fuzz targets, tools) that render or inspect its rows.
pub use keywarden_store;
pub use live::{LiveDetector, LiveLimits, LiveState, Revision};
pub use metrics::Metrics;
pub use queue::{IngestAnswer, IngestFailure, Ingestor, Shed, Submission};
pub use server::{ServeConfig, Server, shutdown_signal_now};
pub use source::Source;
pub use tls::TlsFiles;
