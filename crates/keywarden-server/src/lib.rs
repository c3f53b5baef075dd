//! # keywarden-server
//!
//! `keywarden serve`: continuous monitoring. Logs arrive over HTTP (`POST /api/v1/ingest`, any
//! shape `hunt` reads, gzip/zstd bodies) or from other [`Source`]s; parse threads
//! ([`runtime::parse`]) read them with the ingest engine, in queue order, and a single writer
//! thread ([`runtime::writer`]) commits every body already read as one group, events and
//! rejections durably in the [`keywarden_store`] (SQLite, WAL, `synchronous=FULL`), then runs
//! `hunt`'s detections incrementally ([`LiveDetector`]: the detection engine's incremental
//! driver, `keywarden_detect::incremental`, with the pack's strong rules, its lead rules
//! against a baseline learned live, and Sigma rules matched during ingest with incremental
//! correlation; bounded state, injected [`Clock`]), regroups incidents (over its in-memory
//! [`runtime::alert_book`], storing only the rows that changed), and only then answers each
//! request. Analysts query alerts, incidents with exposure, statistics and Prometheus metrics
//! ([`http::api`]).
//!
//! Alerts go out through signed, retried webhooks ([`webhook`]) with a dead-letter table.
//! Analysts triage in the [`dashboard`]. Failed API keys are throttled per client address
//! (429 with `Retry-After`), on the dashboard login and as `Authorization: Bearer` alike (one
//! throttle, [`http::throttle`]; the client is the TCP peer, or the `X-Forwarded-For` hop named
//! by a trusted proxy, [`http::client`]); every status change is audited with who made it (a
//! key's non-secret id or a JWT's `sub`, never a secret).
//!
//! Connections are bounded against clients that hold sockets ([`http::conn`]): TLS-handshake,
//! header-read and request-body timeouts, a keep-alive idle limit, and a connection cap (fitted
//! to the descriptor limit) that sheds the longest-idle connection first.
//!
//! `[collect]` (or `serve --collect FILE`) adds a [`runtime::collect_source`]: the
//! `keywarden collect` library polled on an interval, each staged file committed with its
//! stream's cursor in the batch's own transaction (exactly once across restarts), poll status
//! and lag per stream in `/metrics` and `/api/v1/stats`.
//!
//! Idempotency keys are scoped to the credential that sent them and bound to the body's
//! SHA-256 (a reused key with another body is answered 422); `--watch` opens files with
//! `O_NOFOLLOW` and checks the opened handle ([`runtime::watch`]); a graceful stop checkpoints
//! the WAL into the database file.
//!
//! Bodies are streamed: [`runtime::body_decode`] unwraps up to 3 gzip/zstd layers under one
//! decompression cap, the parse threads hand rows on in pieces, and the writer commits a large
//! body piece by piece in one transaction, so peak memory stays under the
//! [`runtime::memory_budget`] (`[server] memory_budget_mb`) whatever the bodies and their
//! number.
//!
//! Must never: answer 200 before a commit, hold more than `max_inflight` bodies in memory,
//! serve anything but `GET /healthz` without a valid key, keep a key in clear text, read the
//! system clock except through [`Clock`], read a file `--watch` did not list as a regular
//! file, or panic on a request.
//!
//! ## The parts
//!
//! | part | what it is | HTTP in it |
//! |---|---|---|
//! | [`server`] | [`ServeConfig`] (flags and `serve.toml`) → [`Server`]: opens the store, starts the runtime's threads, the sources, the webhook sender and the HTTP listener; shutdown | wires it |
//! | [`runtime`] | from a body in the queue to committed rows, alerts and incidents: [`runtime::queue`], [`runtime::source`] ([`runtime::watch`], [`runtime::collect_source`]), [`runtime::parse`] ([`runtime::body_decode`], [`runtime::convert`]), [`runtime::writer`] ([`runtime::live`], [`runtime::alert_book`]), [`runtime::memory_budget`] | none |
//! | [`http`] | the API and what it runs on: [`http::api`] (router, guard, handlers), [`http::auth`], [`http::throttle`], [`http::client`], [`http::conn`] (the accept loop, shared with `keywarden gateway`), [`http::tls`] | all of it |
//! | [`dashboard`] | the browser dashboard: its routes, [`dashboard::html`] (pages as escaped strings), [`dashboard::session`] (cookies, CSRF) | its routes |
//! | [`webhook`] | alerts out: the sender thread (signed POSTs, retries, dead letters) | a client |
//! | [`metrics`], [`clock`], [`error`] | shared by every part: counters and `/metrics` text, the injected clock, [`ServerError`] | none |
//!
//! The runtime knows nothing of HTTP: the ingest handler is one producer among the
//! [`Source`]s, all submitting through an [`Ingestor`]. The detection rules are not here: they
//! are `keywarden_detect`'s, and [`runtime::live`] only adapts stored rows to its
//! incremental driver.
#![forbid(unsafe_code)]

pub mod clock;
pub mod dashboard;
pub mod error;
pub mod http;
pub mod metrics;
pub mod runtime;
pub mod server;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ServerError;
pub use http::auth::ApiKeys;
pub use http::tls::TlsFiles;
/// The store crate, for callers (fuzz targets, tools) that render or inspect its rows.
pub use keywarden_store;
pub use metrics::Metrics;
pub use runtime::live::{LiveDetector, LiveLimits, LiveState, Revision};
pub use runtime::queue::{IngestAnswer, IngestFailure, Ingestor, Shed, Submission};
pub use runtime::source::Source;
pub use server::{ServeConfig, Server, shutdown_signal_now};
