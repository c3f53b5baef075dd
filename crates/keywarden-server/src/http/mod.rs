//! The HTTP side of `serve`: the API analysts and log shippers call, and the connection layer
//! it runs on (shared with `keywarden gateway`).
//!
//! - [`api`]: the axum router and handlers: `POST /api/v1/ingest` (a producer for the
//!   runtime's queue, [`crate::runtime::queue`]), alert and incident queries, statistics,
//!   `/metrics`; the guard in front of every route but `GET /healthz` (API keys, JWTs, the
//!   dashboard's session cookie) and the security headers.
//! - [`auth`]: API keys kept as SHA-256 digests, compared in constant time; who acted, for the
//!   audit trail.
//! - [`throttle`]: failed-key throttling per client, one table for both doors a key can be
//!   guessed at (the API's `Authorization: Bearer` and the dashboard's login).
//! - [`client`]: who the client is (the TCP peer, or the hop a trusted proxy names in
//!   `X-Forwarded-For`).
//! - [`conn`]: the accept loop (plain, TLS, HTTP/1.1 and HTTP/2) and the limits that keep
//!   hostile clients from holding connections; [`tls`]: the certificate and key.

pub mod api;
pub mod auth;
pub mod client;
pub mod conn;
pub mod throttle;
pub mod tls;
