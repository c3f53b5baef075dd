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
//! `token-never-issued` judges a token only where the [`coverage`] model establishes that the
//! export would hold its issuing sign-in (category for the token's kind, time without gaps,
//! resource; inferred from the records, or declared by a collector manifest or the user);
//! other tokens are counted as unjudged with a reason ([`CoverageSummary`], `summary.json`).
//!
//! Flow ([`Detector`]): a [`ScanStage`] folds events into per-key aggregates inside the ingest
//! workers (memory grows with distinct tokens/apps/users, not events); after the merge the
//! rules judge order-dependent things (first use, baselines, coverage) on those aggregates and
//! produce candidates; only then does a [`CollectStage`] re-read the inputs for the candidates'
//! records (every record id, exposure), parsing only records whose raw bytes hold one of the
//! candidates' ids ([`prefilter`]). [`assign_incidents`] groups them; the exposure pass
//! ([`exposure_pass`], a read parsing only records that hold an incident's link values) feeds
//! [`exposure`], the one module that says what each incident read (serve's store feeds it
//! too), with identities resolved from the sign-ins ([`identity`]);
//! [`write_alerts`]/[`write_exposure`] write the contracts.
//!
//! Directory changes and AD FS key theft records are rare: the scan keeps them whole
//! ([`directory::Directory`]) and the takeover rules judge them with the mail-access aggregates.
//!
//! Severity is a contract: only strong rules (never-issued token, consumer-tenant token,
//! known-bad key, IOC IP in its window, an app changed then reading new mail) are `high`;
//! leads are `low`/`medium`. This crate must
//! never panic on input, call a clock, or treat an absent token id as forged.
#![forbid(unsafe_code)]

pub mod baseline;
pub mod collect;
pub mod config;
pub mod coverage;
pub mod coverage_declared;
pub mod detector;
pub mod directory;
pub mod error;
pub mod exposure;
pub mod exposure_pass;
pub mod facts;
pub mod finalize;
pub mod identity;
pub mod incident;
pub mod incremental;
pub mod intel;
pub mod intern;
pub mod keys;
pub mod output;
pub mod prefilter;
pub mod rules;
pub mod scan;

pub use baseline::Baseline;
pub use collect::CollectStage;
pub use config::{DEFAULT_CONFIG, DetectConfig, Settings};
pub use coverage::{
    CoverageModel, CoverageSummary, Declared, SignInCategory, TokenKind, TokenWindow, Unjudged,
};
pub use detector::Detector;
pub use error::{ConfigError, CoverageError, IntelError, OutputError, StateError};
pub use exposure::{
    ExposureBuilder, ExposureScope, IncidentLinks, IssuedTokens, LinkKind, ScopedIncident,
    ThrottleLog,
};
pub use exposure_pass::ExposureStage;
pub use finalize::Detections;
pub use identity::Directory;
pub use incident::{Incident, assign_incidents, links as incident_links};
pub use intel::Intel;
pub use output::{write_alerts, write_exposure};
pub use rules::{BaselineNote, Plan, Rule};
pub use scan::{Scan, ScanStage};
