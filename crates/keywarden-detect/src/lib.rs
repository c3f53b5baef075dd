//! # keywarden-detect
//!
//! The built-in detection pack for forged-token mail intrusions (Storm-0558 class), and what
//! follows from its alerts: incidents and mailbox exposure.
//!
//! It owns the rules with stable ids (`token-never-issued`, `unexpected-mailbox-app`,
//! `first-seen-client-app`, `consumer-tenant-token`, `known-bad-key`, `ioc-ip`,
//! `mailbox-volume-anomaly`, `cross-mailbox-access`; the app takeover chain `app-takeover` and its
//! leads `app-credential-added`, `app-mail-permission`, `app-admin-consent`,
//! `federation-changed`; `adfs-key-theft`; and weak signals that only raise scores),
//! their TOML configuration ([`DetectConfig`], defaults in [`DEFAULT_CONFIG`]), the shipped
//! intelligence ([`Intel`]: Storm-0558 IOCs, first-party app ids), baselines ([`Baseline`]:
//! look-back, earlier export, or saved state), incident grouping and `exposure.json`.
//!
//! `token-never-issued` judges a token only where the [`CoverageModel`] establishes that the
//! export would hold its issuing sign-in (category for the token's kind, time without gaps,
//! resource; inferred from the records, or declared by a collector manifest or the user:
//! [`parse_coverage_spec`], [`parse_coverage_manifest`]); other tokens are counted as unjudged
//! with a reason ([`CoverageSummary`], `summary.json`).
//!
//! Flow ([`Detector`]): a [`ScanStage`] folds events into per-key aggregates inside the ingest
//! workers (memory grows with distinct tokens/apps/users, not events); after the merge the
//! rules judge order-dependent things (first use, baselines, coverage) on those aggregates and
//! produce candidates; only then does a [`CollectStage`] re-read the inputs for the candidates'
//! records (every record id, exposure), parsing only records whose raw bytes hold one of the
//! candidates' ids ([`Prefilter`]). [`assign_incidents`] groups them; the exposure pass
//! ([`ExposureStage`], a read parsing only records that hold an incident's link values) feeds
//! [`ExposureBuilder`], the one place that says what each incident read (serve's store feeds
//! it too), with identities resolved from the sign-ins ([`Directory`]);
//! [`write_alerts`]/[`write_exposure`] write the contracts. A record the inputs hold more than
//! once (same shape, id of its own, time and content: overlapping exports) counts once in both the collection
//! and the exposure pass ([`RecordCopies`]).
//!
//! Directory changes and AD FS key theft records are rare: the scan keeps them whole and the
//! takeover rules judge them with the mail-access aggregates.
//!
//! [`incremental`] is the second driver over the same rule definitions: events in, alerts out,
//! bounded state saved and restored as JSON, the clock passed per call (`serve` runs it; a
//! parity test holds both drivers to the same strong alerts).
//!
//! Severity is a contract: only strong rules (never-issued token, consumer-tenant token,
//! known-bad key, IOC IP in its window, an app changed then reading new mail) are `high`;
//! leads are `low`/`medium`. This crate must
//! never panic on input, call a clock, or treat an absent token id as forged.
//!
//! ## Public API
//!
//! The modules are private; what other crates use is re-exported here (and [`incremental`],
//! the live driver, is a public module with its API in its `mod.rs`):
//!
//! | concern | items |
//! |---|---|
//! | configuration | [`DetectConfig`], [`DEFAULT_CONFIG`], [`Settings`], [`Intel`], [`Baseline`], [`BaselineNote`] |
//! | batch driver (`hunt`) | [`Detector`], [`ScanStage`], [`Scan`], [`Plan`], [`CollectStage`], [`Gather`], [`Gathered`], [`RecordCopies`], [`Prefilter`], [`Detections`], [`sort_alerts`], [`Rule`] |
//! | incremental driver (`serve`) | [`incremental`] |
//! | reading a record as the rules do | [`Facts`], [`Access`], [`Role`] |
//! | sign-in coverage | [`CoverageModel`], [`CoverageSummary`], [`Declared`], [`SignInCategory`], [`TokenKind`], [`TokenWindow`], [`Unjudged`], [`parse_coverage_spec`], [`parse_coverage_manifest`], [`parse_coverage_manifest_streams`] |
//! | incidents and exposure | [`assign_incidents`], [`incident_links`], [`Incident`], [`ExposureStage`], [`ExposureBuilder`], [`ExposureScope`], [`ScopedIncident`], [`IncidentLinks`], [`IssuedTokens`], [`LinkKind`], [`ThrottleLog`], [`Directory`] |
//! | output contracts | [`write_alerts`], [`write_exposure`] |
//! | errors | [`ConfigError`], [`CoverageError`], [`IntelError`], [`OutputError`], [`StateError`] |
#![forbid(unsafe_code)]

mod baseline;
mod collect;
mod config;
mod copies;
mod coverage;
mod coverage_declared;
mod detector;
mod directory;
mod error;
mod exposure;
mod exposure_pass;
mod facts;
mod finalize;
mod identity;
mod incident;
pub mod incremental;
mod intel;
mod intern;
mod keys;
mod output;
mod prefilter;
mod rules;
mod scan;

pub use baseline::Baseline;
pub use collect::{CollectStage, Gather, Gathered};
pub use config::{DEFAULT_CONFIG, DetectConfig, Settings};
pub use copies::RecordCopies;
pub use coverage::{
    CoverageModel, CoverageSummary, Declared, SignInCategory, TokenKind, TokenWindow, Unjudged,
};
pub use coverage_declared::{
    parse_manifest as parse_coverage_manifest,
    parse_manifest_streams as parse_coverage_manifest_streams, parse_spec as parse_coverage_spec,
};
pub use detector::Detector;
pub use error::{ConfigError, CoverageError, IntelError, OutputError, StateError};
pub use exposure::{
    ExposureBuilder, ExposureScope, IncidentLinks, IssuedTokens, LinkKind, ScopedIncident,
    ThrottleLog,
};
pub use exposure_pass::ExposureStage;
pub use facts::{Access, Facts, Role};
pub use finalize::{Detections, sort_alerts};
pub use identity::Directory;
pub use incident::{Incident, assign_incidents, links as incident_links};
pub use intel::Intel;
pub use output::{write_alerts, write_exposure};
pub use prefilter::Prefilter;
pub use rules::{BaselineNote, Plan, Rule};
pub use scan::{Scan, ScanStage};
