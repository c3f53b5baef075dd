//! The runtime: everything between a log body taken in and its rows, alerts and incidents
//! committed, with no HTTP in it (the HTTP API is [`crate::http`], one producer among others).
//!
//! In the order a body goes through it:
//!
//! - [`source`]: the [`Source`](source::Source) trait, producers that run on their own thread:
//!   [`watch`] (the `--watch DIR` file tail) and [`collect_source`] (`[collect]`, Microsoft's
//!   APIs polled through the `keywarden collect` library).
//! - [`queue`]: the bounded ingest queue every producer (the HTTP endpoint too) submits to
//!   through an [`Ingestor`](queue::Ingestor), answered once the body is committed.
//! - [`parse`]: the parse threads, in queue order: [`body_decode`] unwraps compression under
//!   one cap, the ingest engine reads the records, [`convert`] makes store rows of them, and
//!   [`live::observe`] takes what the live rules need while the event is in hand.
//! - [`writer`]: the one writer thread: commits each group of bodies in one transaction, runs
//!   the detection engine's incremental driver ([`live`]: `serve`'s adapter to
//!   `keywarden_detect::incremental`, with Sigma rules beside it), regroups incidents over its
//!   in-memory [`alert_book`], hands changed alerts to the webhook sender, then answers.
//! - [`memory_budget`]: the limits (pieces, body pool, read-ahead) derived from
//!   `[server] memory_budget_mb` that keep the whole runtime's peak memory under it.

pub mod alert_book;
pub mod body_decode;
pub mod collect_source;
pub mod convert;
pub mod live;
pub mod memory_budget;
pub mod parse;
pub mod queue;
pub mod source;
pub mod watch;
pub mod writer;
