//! # keywarden-hunt
//!
//! `keywarden hunt` as a library call: read exported logs, account for every record, run the
//! built-in detection pack and any Sigma rules, group alerts into incidents, scope exposure and
//! write the output directory. The binary only parses flags into a [`HuntConfig`], calls
//! [`HuntConfig::build`] and [`Hunt::run`], prints the [`HuntOutput`] and maps exit codes;
//! tests and benches call the same two functions in process.
//!
//! - [`HuntConfig`] holds every setting (the CLI's flags); [`HuntConfig::build`] loads what the
//!   run needs before any input is read (detection settings, `--baseline`/`--state`, Sigma
//!   rules) and returns a [`Hunt`], which runs once.
//! - [`Hunt::run`] expands the inputs (stdin is spooled to a temporary file, because the
//!   detection pack reads the inputs holding alerts a second time), runs one ingest pass with the
//!   pack's scan stage and the Sigma stage inside the workers, writes `rejected.jsonl` as
//!   rejections happen, then the pack's collection pass, incidents, exposure, and
//!   `alerts.jsonl`, `exposure.json`, `alerts.csv`, `report.html`, `summary.json`
//!   (contracts in `docs/OUTPUTS.md`).
//! - The caller injects what the library must not take from the world: the report's generation
//!   time (`generated_at`) and a [`HuntProgress`] that hears the reading (the binary draws a
//!   progress bar; [`NoProgress`] hears nothing). The library never reads the clock or writes
//!   to a terminal.
//!
//! Must never: stop on a bad record (it is rejected and counted: `records == events +
//! rejected`), panic on any input, or raise an alert that the detection stages did not.
#![forbid(unsafe_code)]

mod config;
mod detect_pass;
mod error;
mod progress;
mod rejected_log;
mod reports;
mod run;

pub use config::HuntConfig;
pub use error::HuntError;
pub use progress::{HuntProgress, NoProgress};
pub use reports::KEYWARDEN_VERSION;
pub use run::{Hunt, HuntOutput};
