//! # keywarden-sigma
//!
//! Runs the community's Sigma rules (SigmaHQ detection, correlation and filter rules, as they
//! are) over keywarden events, inside the ingest workers, and turns matches into
//! [`keywarden_model::Alert`]s.
//!
//! - [`RuleSet`] loads rule files and directories through `rsigma-parser` and compiles them with
//!   `rsigma-eval`; its [`LoadReport`] accounts for every document (loaded, unsupported with a
//!   reason, or in error): no rule is dropped silently.
//! - [`Routing`] reads `data/logsources.toml`: which Sigma logsource (product, services,
//!   categories) each event belongs to (cloud source kinds, Windows channel + EventID) and which
//!   field names each export shape uses. A rule only runs on events of its logsource; generic
//!   JSON runs every rule unless `--logsource` ([`LogsourceFilter`]) narrows it.
//! - [`SigmaEvent`] implements rsigma's `Event` trait directly on a borrowed keywarden event,
//!   so rules read fields without re-materialising JSON.
//! - [`SigmaConfig::build`] makes a [`SigmaStage`] (a `keywarden_ingest::Stage`): one compiled
//!   engine per routing target; workers evaluate, keep alerts and correlation contributions;
//!   [`SigmaStage::finish`] merges them and replays correlations in time order. One event held
//!   by two inputs (overlapping exports, a file in two folders) gives one alert
//!   ([`alert::merge_repeats`]; `serve` merges with the same [`alert::merge_copy`]) and
//!   counts once in a correlation ([`correlate::in_feed_order`]).
//! - [`Gate`] is an exact pre-filter derived from each engine's compiled rules (an event on
//!   which none of the rules' required field items holds never reaches the engine).
//! - For streaming (`serve`), [`SigmaStage::evaluate_one`] judges one event and a
//!   [`StreamingCorrelator`] keeps correlation windows across batches (capped, exportable).
//!
//! Must never: run a rule on an event of another logsource (a Linux rule on a Windows event),
//! panic on a rule or an event, or drop a rule without reporting why.
#![forbid(unsafe_code)]

pub mod alert;
pub mod correlate;
pub mod error;
pub mod event;
pub mod fixup;
pub mod gate;
pub mod load;
pub mod routing;
pub mod stage;

pub use correlate::{Contribution, StreamingCorrelator};
pub use error::SigmaError;
pub use event::SigmaEvent;
pub use gate::Gate;
pub use load::{LoadReport, LoadedRule, Problem, RuleSet};
pub use routing::{Routing, Target};
pub use stage::{LogsourceFilter, SigmaConfig, SigmaOutcome, SigmaStage, SigmaStats, SigmaWorker};
