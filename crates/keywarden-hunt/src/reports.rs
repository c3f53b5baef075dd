//! The files written after detection: `alerts.csv`, `report.html` and `summary.json` (the
//! contracts in `docs/OUTPUTS.md`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use keywarden_detect::CoverageSummary;
use keywarden_ingest::IngestReport;
use keywarden_model::{Alert, Exposure, Timestamp};
use serde::Serialize;

use crate::error::HuntError;

/// The keywarden version written into `summary.json` and `report.html`.
pub const KEYWARDEN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `summary.json`: the contract documented in `docs/OUTPUTS.md`.
#[derive(Serialize)]
struct Summary<'a> {
    keywarden_version: &'static str,
    #[serde(flatten)]
    report: &'a IngestReport,
    alerts: u64,
    /// Later copies of records the built-in alerts cover (same shape, id, time and content),
    /// not counted again.
    repeated_records: u64,
    /// What the sign-in evidence covers and which tokens were left unjudged, and why.
    coverage: &'a CoverageSummary,
    /// The Sigma stage's counts (with `--rules` only): events, evaluated, gated, matches,
    /// untimed correlation contributions, repeats (copies of one event merged).
    #[serde(skip_serializing_if = "Option::is_none")]
    sigma: Option<&'a keywarden_sigma::SigmaStats>,
}

/// Writes `summary.json` into `out`.
pub(crate) fn write_summary(
    out: &Path,
    report: &IngestReport,
    alerts: u64,
    repeated_records: u64,
    coverage: &CoverageSummary,
    sigma: Option<&keywarden_sigma::SigmaStats>,
) -> Result<(), HuntError> {
    let path = out.join("summary.json");
    let file = File::create(&path).map_err(|source| HuntError::CreateOutput {
        path: path.clone(),
        source,
    })?;
    let mut f = BufWriter::new(file);
    let summary = Summary {
        keywarden_version: KEYWARDEN_VERSION,
        report,
        alerts,
        repeated_records,
        coverage,
        sigma,
    };
    serde_json::to_writer_pretty(&mut f, &summary).map_err(|source| HuntError::EncodeOutput {
        path: path.clone(),
        source,
    })?;
    f.write_all(b"\n")
        .and_then(|()| f.flush())
        .map_err(|source| HuntError::WriteOutput { path, source })
}

/// Writes `alerts.csv` and `report.html` into `out`, side by side (they are independent).
/// `generated_at` is the report's generation time, given by the caller.
pub(crate) fn write_reports(
    out: &Path,
    alerts: &[Alert],
    exposure: &Exposure,
    report: &IngestReport,
    generated_at: Timestamp,
) -> Result<(), HuntError> {
    let csv_path = out.join("alerts.csv");
    let csv = {
        let csv_path = csv_path.clone();
        move || -> Result<(), HuntError> {
            let file = File::create(&csv_path).map_err(|source| HuntError::CreateOutput {
                path: csv_path.clone(),
                source,
            })?;
            keywarden_report::write_alerts_csv(alerts, BufWriter::new(file)).map_err(|source| {
                HuntError::Report {
                    path: csv_path,
                    source,
                }
            })
        }
    };
    let mut summary = keywarden_report::ReportSummary::new(KEYWARDEN_VERSION, generated_at);
    summary.inputs = report
        .inputs
        .iter()
        .map(|i| keywarden_report::InputSummary {
            path: i.path.clone(),
            format: i.format.clone(),
            records: i.records,
            events: i.events,
            rejected: i.rejected,
            skipped: i.skipped.clone(),
        })
        .collect();
    let html_path = out.join("report.html");
    std::thread::scope(|scope| {
        let csv_done = scope.spawn(csv);
        let html_file = File::create(&html_path).map_err(|source| HuntError::CreateOutput {
            path: html_path.clone(),
            source,
        })?;
        keywarden_report::write_html_report(alerts, exposure, &summary, BufWriter::new(html_file))
            .map_err(|source| HuntError::Report {
                path: html_path.clone(),
                source,
            })?;
        csv_done.join().map_err(|_| HuntError::ReportThread {
            path: PathBuf::from(&csv_path),
        })?
    })
}
