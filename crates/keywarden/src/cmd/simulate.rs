//! `keywarden simulate`: write a labelled simulated tenant in real export shapes, plus its
//! `truth.json` (see `docs/SIMULATOR.md`).

use std::path::PathBuf;

use anyhow::Context;
use keywarden_sim::{Attack, ExportGap, Shape, SimConfig, Simulation};

#[derive(clap::Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Directory to write the logs into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Users (mailboxes) in the tenant.
    #[arg(long, default_value_t = 20)]
    pub users: u32,
    /// Days simulated (at least 8: the intrusion comes after a baseline week).
    #[arg(long, default_value_t = 10)]
    pub days: u32,
    /// Seed: the same seed gives the same files, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day, YYYY-MM-DD (UTC). The default lies inside the Storm-0558 IOC windows.
    #[arg(long, default_value = "2023-06-05")]
    pub start: String,
    /// Intrusion to stage: storm-0558, app-takeover, golden-saml or none.
    #[arg(long, default_value = "storm-0558", value_parser = parse_attack)]
    pub attack: Attack,
    /// Export shapes (repeatable or comma-separated): ual-json, purview-csv,
    /// sentinel-office-activity (audit log); signin-graph, azure-diagnostic (sign-ins). Each
    /// family rotates through its listed shapes day by day; an unlisted family uses all of its
    /// shapes.
    #[arg(long, value_delimiter = ',', value_parser = parse_shape)]
    pub shape: Vec<Shape>,
    /// Where to write truth.json (default: `<OUT>.truth.json`, beside the directory, so that
    /// `hunt OUT` does not read it as a log).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Gzip every file (`<file>.gz`); hunt reads them transparently.
    #[arg(long)]
    pub gzip: bool,
    /// Export gaps (repeatable or comma-separated): interactive-only, missing-day,
    /// one-resource, mid-session, replayed-token, user-filtered, no-service-principal,
    /// no-token-ids (see docs/SIMULATOR.md). truth.json then
    /// lists the benign records whose issuing sign-in the gap left out.
    #[arg(long, value_delimiter = ',', value_parser = parse_gap)]
    pub gap: Vec<ExportGap>,
    /// No summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_attack(s: &str) -> Result<Attack, String> {
    s.parse()
        .map_err(|e: keywarden_sim::SimError| e.to_string())
}

fn parse_gap(s: &str) -> Result<ExportGap, String> {
    s.parse()
        .map_err(|e: keywarden_sim::SimError| e.to_string())
}

fn parse_shape(s: &str) -> Result<Shape, String> {
    s.parse()
        .map_err(|e: keywarden_sim::SimError| e.to_string())
}

/// The default truth path: `examples/storm-0558` → `examples/storm-0558.truth.json`.
fn default_truth_path(out: &std::path::Path) -> PathBuf {
    let trimmed = out.components().as_path().to_path_buf();
    let mut name = trimmed
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "simulation".into());
    name.push(".truth.json");
    trimmed.with_file_name(name)
}

pub(crate) fn run(args: &SimulateArgs) -> anyhow::Result<i32> {
    let config = SimConfig {
        seed: args.seed,
        users: args.users,
        days: args.days,
        start: args.start.clone(),
        attack: args.attack,
        shapes: args.shape.clone(),
        gzip: args.gzip,
        gaps: args.gap.clone(),
    };
    let sim = Simulation::new(&config)?;
    let report = sim
        .write_to(&args.out)
        .with_context(|| format!("simulating into {}", args.out.display()))?;
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| default_truth_path(&args.out));
    let json = serde_json::to_string_pretty(&report.truth)?;
    std::fs::write(&truth_path, json + "\n")
        .with_context(|| format!("writing {}", truth_path.display()))?;
    if !args.quiet {
        println!(
            "wrote {} records in {} files under {} ({} by the attacker); truth: {}",
            report.records,
            report.files.len(),
            args.out.display(),
            report.attacker_records,
            truth_path.display()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_goes_beside_the_directory() {
        assert_eq!(
            default_truth_path(std::path::Path::new("examples/storm-0558/")),
            PathBuf::from("examples/storm-0558.truth.json")
        );
        assert_eq!(
            default_truth_path(std::path::Path::new("out")),
            PathBuf::from("out.truth.json")
        );
    }
}
