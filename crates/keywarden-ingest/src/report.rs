//! The account of an ingest run: per input and in total, `records == events + rejected`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::Format;
use crate::load::InputSource;
use crate::reject::Rejection;
use crate::sink::Counts;

/// What was read from one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputReport {
    pub path: String,
    /// The export shape (a `--format` name), or `json`/`csv`/`evtx`/`empty`/`not-a-log` when
    /// no record revealed one.
    pub format: String,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    /// Events per shape, for inputs that mix shapes.
    pub shapes: BTreeMap<String, u64>,
    /// Set when the input is not a log at all (format `not-a-log`): why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What the input's records lack that detections rely on (a shape recognised only
    /// partly, e.g. sign-ins without a token id); absent when nothing is lacking.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<InputNote>,
}

/// One note on an input (see [`crate::shape::notes`]): `records` of the `of` records it checks
/// lack something.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputNote {
    /// A [`crate::NoteCode`] name (`no-token-id`, `no-category`, `no-time`).
    pub code: &'static str,
    pub records: u64,
    pub of: u64,
    /// What the records checked are (`sign-in records`).
    pub checked: &'static str,
    pub message: &'static str,
}

impl InputNote {
    fn from_counts(c: &Counts) -> Vec<InputNote> {
        c.notes
            .iter()
            .filter(|(_, (lacking, _))| *lacking > 0)
            .map(|(code, (lacking, checked))| InputNote {
                code: code.as_str(),
                records: *lacking,
                of: *checked,
                checked: code.checked(),
                message: code.message(),
            })
            .collect()
    }
}

/// The account of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestReport {
    pub inputs: Vec<InputReport>,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    /// Rejections in input order (at most `max_listed_rejections`).
    pub rejections: Vec<Rejection>,
    /// Rejections counted but not listed.
    pub rejections_unlisted: u64,
    /// Records a processor's pre-filter passed over unparsed (re-reads only; never in a
    /// first read, and then absent from the JSON).
    #[serde(skip_serializing_if = "is_zero")]
    pub passed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl IngestReport {
    pub(crate) fn build(
        inputs: &[InputSource],
        counts: &[Counts],
        labels: &[&'static str],
        skipped: &[Option<String>],
        forced: Option<Format>,
        listed: Vec<(usize, Rejection)>,
        unlisted: u64,
    ) -> IngestReport {
        let mut total = Counts::default();
        let reports = inputs
            .iter()
            .zip(counts)
            .zip(labels)
            .zip(skipped)
            .map(|(((src, c), label), skipped)| {
                total.merge(c);
                let dominant = c
                    .shapes
                    .iter()
                    .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
                    .map(|(name, _)| name.to_string());
                let format = match forced {
                    _ if skipped.is_some() => label.to_string(),
                    Some(f) => f.as_str().to_string(),
                    None => dominant.unwrap_or_else(|| label.to_string()),
                };
                InputReport {
                    path: src.name.clone(),
                    format,
                    records: c.records,
                    events: c.events,
                    rejected: c.rejected,
                    shapes: c.shapes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    skipped: skipped.clone(),
                    notes: InputNote::from_counts(c),
                }
            })
            .collect();
        IngestReport {
            inputs: reports,
            records: total.records,
            events: total.events,
            rejected: total.rejected,
            rejections: listed.into_iter().map(|(_, r)| r).collect(),
            rejections_unlisted: unlisted,
            passed: total.passed,
        }
    }

    /// The invariant the whole design exists for.
    pub fn balanced(&self) -> bool {
        self.records == self.events + self.rejected
            && self
                .inputs
                .iter()
                .all(|i| i.records == i.events + i.rejected)
    }
}
