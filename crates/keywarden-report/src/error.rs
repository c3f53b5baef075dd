//! What can go wrong while writing a report: only the destination can fail; every alert and
//! exposure value, however hostile, can be rendered.

use std::io;

/// A report could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The destination refused bytes (disk full, closed pipe...).
    #[error("writing {output}")]
    Write {
        /// Which output was being written (`alerts.csv`, `report.html`, `incident table`).
        output: &'static str,
        #[source]
        source: io::Error,
    },
    /// The CSV writer failed; `row` is the 1-based data row (0 for the header).
    #[error("writing alerts.csv row {row}")]
    Csv {
        row: usize,
        #[source]
        source: csv::Error,
    },
}

impl ReportError {
    pub(crate) fn write(output: &'static str) -> impl FnOnce(io::Error) -> ReportError {
        move |source| ReportError::Write { output, source }
    }
}
