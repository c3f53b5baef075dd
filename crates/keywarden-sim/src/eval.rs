//! Scoring a hunt against the truth: record-level recall and precision (all alerts, and
//! high/critical alerts only) and exposure agreement (exact per mailbox).
//!
//! Definitions (also in `docs/SIMULATOR.md`):
//! - an attacker record is *found* by a set of alerts when its id is in some alert's
//!   `record_ids`; recall = found / attacker records;
//! - precision = attacker ids among the distinct ids the alerts cover / those distinct ids;
//! - the hunt's exposure is the union, per mailbox (case-insensitive), of every incident of
//!   severity high or critical; it agrees when messages, synced folders and throttled windows
//!   (overlapping windows merged) are exactly the truth's, for every mailbox of either side;
//! - targets (`--check`): with an attack, high/critical recall 1.0, high/critical precision
//!   ≥ 0.99 and exact exposure; without one, no high/critical alert at all.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use keywarden_model::{Alert, Exposure, Severity, TimeWindow};
use serde::Serialize;

use crate::truth::Truth;

/// Minimum high/critical precision the issue asks for.
pub const PRECISION_TARGET: f64 = 0.99;
/// How many ids a report lists per category before it stops.
pub const LIST_CAP: usize = 25;

/// The hunt output could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not an alert")]
    Alert {
        path: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: not an exposure.json")]
    Exposure {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Recall and precision of one set of alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordScore {
    pub alerts: u64,
    /// Distinct record ids the alerts cover.
    pub flagged: u64,
    /// Attacker records among them.
    pub true_positives: u64,
    /// `None` when there is no attacker record.
    pub recall: Option<f64>,
    /// `None` when the alerts cover no record.
    pub precision: Option<f64>,
    /// Attacker ids not covered (first [`LIST_CAP`]).
    pub missed: Vec<String>,
    /// Covered ids that are not the attacker's (first [`LIST_CAP`]).
    pub false_positives: Vec<String>,
}

/// How one mailbox's exposure differs from the truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailboxDiff {
    pub mailbox: String,
    pub missing_messages: Vec<String>,
    pub extra_messages: Vec<String>,
    pub missing_folders: Vec<String>,
    pub extra_folders: Vec<String>,
    pub missing_windows: Vec<TimeWindow>,
    pub extra_windows: Vec<TimeWindow>,
}

/// Exposure agreement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureScore {
    pub mailboxes_expected: u64,
    pub mailboxes_reported: u64,
    /// Mailboxes (of either side) whose exposure matches exactly.
    pub mailboxes_exact: u64,
    pub exact: bool,
    /// Mailboxes that differ.
    pub differences: Vec<MailboxDiff>,
}

/// The full evaluation, as `eval --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub attack: bool,
    pub attacker_records: u64,
    pub all_alerts: RecordScore,
    pub high_alerts: RecordScore,
    pub exposure: ExposureScore,
    /// Whether the targets are met, and if not, why.
    pub targets_met: bool,
    pub unmet: Vec<String>,
}

/// Reads `dir/alerts.jsonl` (blank lines allowed).
pub fn read_alerts(dir: &Path) -> Result<Vec<Alert>, EvalError> {
    let path = dir.join("alerts.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| EvalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_alerts(&path.display().to_string(), &text)
}

/// Parses alerts JSON lines; `path` names the input in errors.
pub fn parse_alerts(path: &str, text: &str) -> Result<Vec<Alert>, EvalError> {
    let mut alerts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let alert = serde_json::from_str(line).map_err(|source| EvalError::Alert {
            path: path.to_string(),
            line: n + 1,
            source,
        })?;
        alerts.push(alert);
    }
    Ok(alerts)
}

/// Reads `dir/exposure.json`.
pub fn read_exposure(dir: &Path) -> Result<Exposure, EvalError> {
    let path = dir.join("exposure.json");
    let text = std::fs::read_to_string(&path).map_err(|source| EvalError::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| EvalError::Exposure {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a hunt output directory and scores it.
pub fn evaluate_dir(truth: &Truth, dir: &Path) -> Result<Evaluation, EvalError> {
    Ok(evaluate(truth, &read_alerts(dir)?, &read_exposure(dir)?))
}

/// Scores alerts and exposure against the truth.
pub fn evaluate(truth: &Truth, alerts: &[Alert], exposure: &Exposure) -> Evaluation {
    let attacker: HashSet<&str> = truth
        .attacker_record_ids
        .iter()
        .map(String::as_str)
        .collect();
    let high: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.severity >= Severity::High)
        .collect();
    let all_alerts = score(&truth.attacker_record_ids, &attacker, alerts.iter());
    let high_alerts = score(&truth.attacker_record_ids, &attacker, high.iter().copied());
    let exposure = compare_exposure(&truth.exposure, exposure);
    let attack = !truth.attacker_record_ids.is_empty();
    let mut unmet = Vec::new();
    if attack {
        if high_alerts.recall != Some(1.0) {
            unmet.push(format!(
                "high/critical recall {} < 1.0 ({} attacker records not in any high/critical alert)",
                fmt_ratio(high_alerts.recall),
                truth.attacker_record_ids.len() as u64 - high_alerts.true_positives
            ));
        }
        if high_alerts.precision.is_none_or(|p| p < PRECISION_TARGET) {
            unmet.push(format!(
                "high/critical precision {} < {PRECISION_TARGET}",
                fmt_ratio(high_alerts.precision)
            ));
        }
        if !exposure.exact {
            unmet.push(format!(
                "exposure differs for {} mailbox(es)",
                exposure.differences.len()
            ));
        }
    } else {
        if high_alerts.alerts > 0 {
            unmet.push(format!(
                "{} high/critical alert(s) on a tenant with no attack",
                high_alerts.alerts
            ));
        }
        if !exposure.exact {
            unmet.push("high/critical exposure reported on a tenant with no attack".into());
        }
    }
    Evaluation {
        attack,
        attacker_records: truth.attacker_record_ids.len() as u64,
        all_alerts,
        high_alerts,
        exposure,
        targets_met: unmet.is_empty(),
        unmet,
    }
}

/// `0.9950` or `n/a`.
pub fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.4}"))
}

fn score<'a>(
    attacker_ids: &[String],
    attacker: &HashSet<&str>,
    alerts: impl Iterator<Item = &'a Alert>,
) -> RecordScore {
    let mut count = 0u64;
    let mut flagged: BTreeSet<&str> = BTreeSet::new();
    for a in alerts {
        count += 1;
        flagged.extend(a.record_ids.iter().map(String::as_str));
    }
    let true_positives = flagged.iter().filter(|id| attacker.contains(*id)).count() as u64;
    let ratio = |n: u64, d: usize| (d > 0).then(|| n as f64 / d as f64);
    RecordScore {
        alerts: count,
        flagged: flagged.len() as u64,
        true_positives,
        recall: ratio(true_positives, attacker_ids.len()),
        precision: ratio(true_positives, flagged.len()),
        missed: attacker_ids
            .iter()
            .filter(|id| !flagged.contains(id.as_str()))
            .take(LIST_CAP)
            .cloned()
            .collect(),
        false_positives: flagged
            .iter()
            .filter(|id| !attacker.contains(*id))
            .take(LIST_CAP)
            .map(|s| s.to_string())
            .collect(),
    }
}

/// Per mailbox: messages, folders, windows.
#[derive(Default)]
struct Merged {
    messages: BTreeSet<String>,
    folders: BTreeSet<String>,
    windows: Vec<TimeWindow>,
}

/// Union of every incident of severity high or above, per lower-cased mailbox.
fn merge(exposure: &Exposure) -> BTreeMap<String, Merged> {
    let mut out: BTreeMap<String, Merged> = BTreeMap::new();
    for incident in exposure
        .incidents
        .iter()
        .filter(|i| i.severity >= Severity::High)
    {
        for mb in &incident.mailboxes {
            let m = out.entry(mb.mailbox.to_ascii_lowercase()).or_default();
            m.messages.extend(mb.messages.iter().cloned());
            m.folders.extend(mb.folders_synced.iter().cloned());
            m.windows.extend(mb.throttled_windows.iter().copied());
        }
    }
    for m in out.values_mut() {
        m.windows = merge_windows(std::mem::take(&mut m.windows));
    }
    out
}

/// Sorts windows and merges those that overlap or touch ([`TimeWindow::merge_all`]).
pub fn merge_windows(windows: Vec<TimeWindow>) -> Vec<TimeWindow> {
    TimeWindow::merge_all(windows)
}

fn compare_exposure(truth: &Exposure, found: &Exposure) -> ExposureScore {
    let expected = merge(truth);
    let reported = merge(found);
    let names: BTreeSet<&String> = expected.keys().chain(reported.keys()).collect();
    let empty = Merged::default();
    let mut differences = Vec::new();
    let mut exact = 0u64;
    for name in names {
        let e = expected.get(name).unwrap_or(&empty);
        let r = reported.get(name).unwrap_or(&empty);
        let diff = MailboxDiff {
            mailbox: name.clone(),
            missing_messages: capped(e.messages.difference(&r.messages)),
            extra_messages: capped(r.messages.difference(&e.messages)),
            missing_folders: capped(e.folders.difference(&r.folders)),
            extra_folders: capped(r.folders.difference(&e.folders)),
            missing_windows: e
                .windows
                .iter()
                .filter(|w| !r.windows.contains(w))
                .copied()
                .collect(),
            extra_windows: r
                .windows
                .iter()
                .filter(|w| !e.windows.contains(w))
                .copied()
                .collect(),
        };
        let same = e.messages == r.messages && e.folders == r.folders && e.windows == r.windows;
        if same {
            exact += 1;
        } else {
            differences.push(diff);
        }
    }
    ExposureScore {
        mailboxes_expected: expected.len() as u64,
        mailboxes_reported: reported.len() as u64,
        mailboxes_exact: exact,
        exact: differences.is_empty(),
        differences,
    }
}

fn capped<'a>(it: impl Iterator<Item = &'a String>) -> Vec<String> {
    it.take(LIST_CAP).cloned().collect()
}

impl std::fmt::Display for Evaluation {
    /// The text report `keywarden eval` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = |f: &mut std::fmt::Formatter<'_>, name: &str, s: &RecordScore| {
            writeln!(
                f,
                "{name:<22} alerts {:>6}  records {:>7}  attacker {:>6}  recall {}  precision {}",
                s.alerts,
                s.flagged,
                s.true_positives,
                fmt_ratio(s.recall),
                fmt_ratio(s.precision)
            )
        };
        writeln!(
            f,
            "attacker records       {}{}",
            self.attacker_records,
            if self.attack {
                ""
            } else {
                " (no attack staged)"
            }
        )?;
        line(f, "all alerts", &self.all_alerts)?;
        line(f, "high/critical alerts", &self.high_alerts)?;
        let e = &self.exposure;
        writeln!(
            f,
            "exposure               {} ({} of {} mailbox(es) exact; expected {}, reported {})",
            if e.exact { "exact" } else { "DIFFERS" },
            e.mailboxes_exact,
            e.mailboxes_exact + e.differences.len() as u64,
            e.mailboxes_expected,
            e.mailboxes_reported
        )?;
        for d in &e.differences {
            writeln!(
                f,
                "  {}: messages -{} +{}, folders -{} +{}, throttled windows -{} +{}",
                d.mailbox,
                d.missing_messages.len(),
                d.extra_messages.len(),
                d.missing_folders.len(),
                d.extra_folders.len(),
                d.missing_windows.len(),
                d.extra_windows.len()
            )?;
        }
        if !self.high_alerts.missed.is_empty() {
            writeln!(
                f,
                "missed by high/critical alerts (first {LIST_CAP}): {}",
                self.high_alerts.missed.join(" ")
            )?;
        }
        if !self.high_alerts.false_positives.is_empty() {
            writeln!(
                f,
                "benign records in high/critical alerts (first {LIST_CAP}): {}",
                self.high_alerts.false_positives.join(" ")
            )?;
        }
        if self.targets_met {
            writeln!(f, "targets                met")
        } else {
            writeln!(
                f,
                "targets                NOT MET: {}",
                self.unmet.join("; ")
            )
        }
    }
}
