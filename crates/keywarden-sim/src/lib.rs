//! # keywarden-sim
//!
//! A labelled simulator and the evaluator that proves detections against it.
//!
//! [`Simulation`] turns a [`SimConfig`] (seed, users, days, start date, [`Attack`], export
//! [`Shape`]s) into a realistic tenant written in the real export shapes keywarden reads —
//! Unified Audit Log as Management Activity API JSON lines, Purview CSV or Sentinel
//! `OfficeActivity` rows; Entra sign-ins as Graph pages or diagnostic-settings records; Graph
//! activity as Log Analytics rows — and returns the [`Truth`]: every record id the attacker
//! produced and what each mailbox lost, in the `exposure.json` shape. The same seed always
//! gives the same bytes; the benign part does not depend on whether an attack is staged.
//!
//! [`gaps`] writes the exports responders really hold (interactive-only sign-ins, a missing
//! day, one resource, an export starting mid-session, a token replayed days after issue, sign-ins
//! of the suspected users only, no service-principal sign-ins beside an app-only [`daemon`]) and
//! the truth then names the benign records whose issuing sign-in the gap left out.
//!
//! [`eval`] scores a hunt output directory (`alerts.jsonl`, `exposure.json`) against a truth:
//! record-level recall and precision, overall and for high/critical alerts, and exposure
//! agreement per mailbox.
//!
//! `--attack app-takeover` / `golden-saml` ([`takeover`]) stage an application takeover
//! (credential added, `Mail.ReadWrite` granted, mail read through Graph; the Golden SAML variant
//! first changes the domain's federation settings) written as Entra `directoryAudits`, with benign
//! confounders (a scheduled credential rotation, a consent long before its first read).
//!
//! Flow: [`tenant`] (users, mailboxes, clients) → [`benign`] and [`attack`] produce
//! [`activity::Activity`] values per day → `write` renders each day in its shapes → [`truth`].
//!
//! Must never: use a clock or global state (everything comes from the seed), write a record the
//! readers in `keywarden-ingest` reject, or let `truth.json` disagree with the logs.
#![forbid(unsafe_code)]

pub mod activity;
pub mod attack;
pub mod benign;
pub mod config;
pub mod daemon;
pub mod eval;
pub mod gaps;
pub mod simulation;
pub mod takeover;
pub mod tenant;
pub mod timefmt;
pub mod truth;
mod write;

pub use config::{Attack, Plan, Shape, SimConfig, SimError};
pub use eval::{EvalError, Evaluation, evaluate, evaluate_dir};
pub use gaps::ExportGap;
pub use simulation::{SimReport, Simulation};
pub use truth::{Truth, TruthError};
pub use write::WrittenFile;
