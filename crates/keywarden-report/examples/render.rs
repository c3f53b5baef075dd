//! Re-renders the human-facing reports of an existing `keywarden hunt` output directory:
//! reads `DIR/alerts.jsonl` and `DIR/exposure.json` (absent exposure = none) and writes
//! `DIR/alerts.csv` and `DIR/report.html`, then prints the incident table (no colour).
//!
//! `cargo run -p keywarden-report --example render -- DIR [GENERATED_AT]`
//!
//! The ingest section is empty: `summary.json` belongs to `hunt`. Used to look at the report
//! (e.g. with headless Chromium) without running a hunt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::PathBuf;

use keywarden_model::{Alert, Exposure, Timestamp};
use keywarden_report::{ReportSummary, print_incident_table, write_alerts_csv, write_html_report};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: render DIR [GENERATED_AT]")?);
    let generated_at = args
        .next()
        .and_then(|t| Timestamp::parse(&t))
        .unwrap_or(Timestamp(0));
    let mut alerts: Vec<Alert> = Vec::new();
    for (n, line) in BufReader::new(File::open(dir.join("alerts.jsonl"))?)
        .lines()
        .enumerate()
    {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        alerts.push(
            serde_json::from_str(&line).map_err(|e| format!("alerts.jsonl line {}: {e}", n + 1))?,
        );
    }
    let exposure: Exposure = match File::open(dir.join("exposure.json")) {
        Ok(f) => serde_json::from_reader(BufReader::new(f))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Exposure::default(),
        Err(e) => return Err(e.into()),
    };
    let summary = ReportSummary::new(env!("CARGO_PKG_VERSION"), generated_at);
    write_alerts_csv(
        &alerts,
        BufWriter::new(File::create(dir.join("alerts.csv"))?),
    )?;
    write_html_report(
        &alerts,
        &exposure,
        &summary,
        BufWriter::new(File::create(dir.join("report.html"))?),
    )?;
    print_incident_table(&alerts, &exposure, false, std::io::stdout().lock())?;
    Ok(())
}
