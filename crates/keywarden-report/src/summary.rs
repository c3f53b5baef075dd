//! [`ReportSummary`]: what the report header says about the run that produced the alerts.
//!
//! The caller fills it (the `hunt` command maps its ingest report into it); this crate never
//! reads a clock, so the generation time is passed in and reports are reproducible.

use keywarden_model::Timestamp;

/// The run a report describes: tool version, generation time and what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    /// The keywarden version that produced the report.
    pub keywarden_version: String,
    /// When the report was generated (passed in by the caller).
    pub generated_at: Timestamp,
    /// One entry per input, in input order.
    pub inputs: Vec<InputSummary>,
}

/// What was read from one input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputSummary {
    /// Path (or `-` for stdin) as given; attacker-influenced, escaped when shown.
    pub path: String,
    /// The export shape recognised (a `--format` name, or `not-a-log`...).
    pub format: String,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    /// Why the input was skipped, when it was not a log at all.
    pub skipped: Option<String>,
}

/// Sums over every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub inputs: usize,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
}

impl ReportSummary {
    /// A summary with no inputs yet.
    pub fn new(keywarden_version: impl Into<String>, generated_at: Timestamp) -> ReportSummary {
        ReportSummary {
            keywarden_version: keywarden_version.into(),
            generated_at,
            inputs: Vec::new(),
        }
    }

    /// Totals, computed from the inputs so that they always add up.
    pub fn totals(&self) -> Totals {
        self.inputs.iter().fold(
            Totals {
                inputs: self.inputs.len(),
                ..Totals::default()
            },
            |t, i| Totals {
                inputs: t.inputs,
                records: t.records.saturating_add(i.records),
                events: t.events.saturating_add(i.events),
                rejected: t.rejected.saturating_add(i.rejected),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_over_inputs() {
        let mut s = ReportSummary::new("0.1.0", Timestamp(0));
        assert_eq!(s.totals(), Totals::default());
        for (records, rejected) in [(10, 1), (5, 0)] {
            s.inputs.push(InputSummary {
                path: "x".into(),
                format: "ual-json".into(),
                records,
                events: records - rejected,
                rejected,
                skipped: None,
            });
        }
        let t = s.totals();
        assert_eq!((t.inputs, t.records, t.events, t.rejected), (2, 15, 14, 1));
        assert_eq!(t.records, t.events + t.rejected);
    }
}
