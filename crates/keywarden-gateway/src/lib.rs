//! # keywarden-gateway
//!
//! `keywarden gateway` puts the strict validator of `keywarden-token` in front of any service,
//! through the proxies people already run: nginx `auth_request`, Traefik `forwardAuth`, and
//! Envoy `ext_authz` (HTTP service and gRPC `envoy.service.auth.v3.Authorization/Check`).
//! Storm-0558's forged tokens passed validators that trusted a key for issuers and tenants it
//! was never bound to, and the decisions that mattered were never logged; here every key is
//! bound by the trust policy and every decision is one JSON line that `keywarden hunt` reads.
//!
//! What this crate owns:
//! - [`check`]: one check → [`check::Decision`]: flood buckets, `Bearer` credentials, the
//!   verdict [`cache`], validation (on the async worker when the key is at hand, else on the
//!   blocking pool under a timeout), route policy
//!   ([`route`]), identity headers ([`identity`]). Every error path refuses (fail closed).
//! - [`http`] and [`grpc`] (+ [`envoy`] messages): the proxy protocols on one listener
//!   ([`server`], optional TLS), on `keywarden serve`'s accept loop (`keywarden_server::http::conn`:
//!   header-read, first-request, keep-alive idle, TLS-handshake and body timeouts, and a
//!   connection cap that sheds the longest-idle socket; `[connections]`).
//! - [`flood`] + [`client`]: token buckets per client address, network and subject, bounded
//!   memory; the client address from trusted proxies' `X-Forwarded-For`.
//! - [`decision_log`]: the JSON-lines decision log (file, or daily files in a directory).
//! - [`config`]: `gateway.toml`; [`metrics`]: `/.keywarden/metrics`.
//!
//! What it must never do: answer 200 on any path that did not validate a token; answer 400 or
//! 5xx to missing or malformed credentials (nginx turns those into 500s); log a token, its
//! signature or a query string; read the wall clock (the [`keywarden_server::Clock`] is injected);
//! grow memory with the number of distinct clients or tokens.
#![forbid(unsafe_code)]

pub mod cache;
pub mod check;
/// Who the client is (trusted proxies, `X-Forwarded-For`): shared with `serve`.
pub use keywarden_server::http::client;
pub mod config;
pub mod decision_log;
pub mod envoy;
pub mod error;
pub mod flood;
pub mod grpc;
pub mod http;
pub mod identity;
pub mod listen;
pub mod metrics;
pub mod route;
pub mod server;

pub use check::{CheckRequest, Decision, Gateway, Outcome};
pub use config::GatewayConfig;
pub use decision_log::{DecisionLog, DecisionRecord, LogTarget};
pub use error::{ConfigError, GatewayError};
pub use server::{serve, tls_config};
