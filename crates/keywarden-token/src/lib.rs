//! # keywarden-token
//!
//! Strict validation of signed tokens (compact JWS / JWT) under a trust policy in which **a key
//! signs only what it is bound to**: the issuer block it was loaded for, its own `issuer` member
//! when the JWK carries one, and the tenants that block lists. This is the class of check whose
//! absence let a consumer signing key mint enterprise tokens in the Storm-0558 intrusion.
//!
//! What this crate owns:
//! - [`TrustPolicy`] (`policy.rs`): the TOML trust policy — issuers, tenants, audiences,
//!   algorithms, key sources, key windows, deny list, leeway.
//! - [`jose`] and [`json`]: our own JOSE parsing — strict base64url, JSON objects without
//!   duplicate members at any depth, a header that never honours `none`, `crit`, `b64=false` or header-supplied keys.
//! - [`crypto`]: algorithms and keys parsed once at load, verified through aws-lc-rs; ECDSA
//!   signatures raw `r||s` of the exact length, zero `r`/`s` refused.
//! - [`jwks`]: loading a JWK Set per issuer block; weak, ambiguous, denied or unsupported keys
//!   are refused one by one with a [`KeyWarning`].
//! - [`fetch`]: `jwks_uri` / OIDC discovery over HTTPS with a TTL cache and a rate-limited
//!   refresh on unknown `kid`.
//! - [`Validator`] (`validator.rs`): `validate_at(token, now)` →
//!   [`VerifiedToken`] or a [`Rejection`] whose [`Rejection::code`] is a stable kebab-case
//!   reason documented in `docs/TOKEN.md`.
//!
//! What it must never do: accept a token on any path that did not check the signature *and*
//! the key's binding to the claimed issuer and tenant; trust anything the token says about
//! which key to use beyond an exact `kid`; normalise claims before comparing them; panic on any
//! input; parse key material per token; read the wall clock (the caller passes `now`, in unix
//! seconds, to [`Validator::from_policy`] and [`Validator::validate_at`]).
#![forbid(unsafe_code)]

pub mod b64;
pub mod crypto;
pub mod fetch;
pub mod jose;
pub mod json;
pub mod jwks;
pub mod policy;
pub mod reason;
pub mod validator;

pub use crypto::Alg;
pub use fetch::{Fetch, HttpFetcher};
pub use jwks::{KeySet, LoadedKey};
pub use policy::{IssuerConfig, KeyConfig, TrustPolicy, parse_time};
pub use reason::{KeyWarning, PolicyError, Rejection};
pub use validator::{TokenSummary, Validator, VerifiedToken, summarize};
