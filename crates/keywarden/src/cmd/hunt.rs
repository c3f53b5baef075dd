//! `keywarden hunt`: read exported logs, account for every record, run detections, write the
//! output directory (`summary.json`, `rejected.jsonl`, and the detection outputs).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use keywarden_ingest::{
    Fanout, Format, IngestConfig, IngestReport, Observer, Rejection, Stage, expand_inputs, ingest,
};
use serde::Serialize;

use crate::term::{Style, escape};

#[derive(clap::Args, Debug)]
pub struct HuntArgs {
    /// Files or directories to read (directories recursively; `-` for stdin). `.gz` and `.zst`
    /// are decompressed transparently.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output directory (created if missing).
    #[arg(long, default_value = "keywarden-out")]
    pub out: PathBuf,
    /// Force one export shape for every record instead of sniffing (see `docs/INGEST.md`).
    #[arg(long)]
    pub format: Option<Format>,
    /// Exit with status 1 when any record is rejected.
    #[arg(long)]
    pub strict: bool,
    /// Reject records larger than this many bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_record_bytes: usize,
    /// Inputs read whole (JSON arrays and pages, CSV, EVTX) may decompress to at most this many
    /// bytes; the rest is rejected as `input-too-large` (JSON lines and access logs stream and
    /// have no such limit).
    #[arg(long, default_value_t = 4 << 30)]
    pub max_input_bytes: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar and no summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
    /// Built-in detection pack: `--config`, `--baseline`, `--state`, `--save-state`.
    #[command(flatten)]
    pub detect: super::hunt_detect::DetectArgs,
    /// Sigma rule files or directories to run beside the built-in detections (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Narrow the Sigma rules to one logsource (`windows`, `product=m365,service=audit`...);
    /// generic JSON input is otherwise matched against every rule.
    #[arg(long, value_name = "NAME")]
    pub logsource: Option<String>,
}

/// `summary.json`: the contract documented in `docs/OUTPUTS.md`.
#[derive(Serialize)]
struct Summary<'a> {
    keywarden_version: &'static str,
    #[serde(flatten)]
    report: &'a IngestReport,
    alerts: u64,
}

pub fn run(args: &HuntArgs) -> anyhow::Result<i32> {
    let mut inputs = expand_inputs(&args.paths)?;
    // Detection reads the inputs holding alerts a second time (record ids, exposure), and
    // stdin can be read only once: it is spooled to a temporary file (removed on exit) and
    // read from there, still named `-` in every report and record id.
    let _stdin_spool = spool_stdin(&mut inputs)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output directory {}", args.out.display()))?;
    let mut cfg = IngestConfig {
        format: args.format,
        max_record_bytes: args.max_record_bytes,
        max_input_bytes: args.max_input_bytes,
        ..IngestConfig::default()
    };
    if let Some(t) = args.threads {
        cfg.threads = t.max(1);
    }
    let rejected_path = args.out.join("rejected.jsonl");
    let rejected_file = File::create(&rejected_path)
        .with_context(|| format!("creating {}", rejected_path.display()))?;
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|i| i.path.as_ref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let observer = HuntObserver {
        rejected: Mutex::new(RejectLog {
            out: BufWriter::new(rejected_file),
            error: None,
        }),
        progress: Progress::new(!args.quiet && std::io::stderr().is_terminal(), total_bytes),
    };
    // Detection stages run inside the ingest workers, one processor per worker each.
    let detect = super::hunt_detect::DetectRun::prepare(&args.detect, &cfg)?;
    let detect_stage = detect.stage();
    let mut stages: Vec<&dyn Stage> = vec![&detect_stage];
    let sigma_stage = sigma_stage(args)?;
    if let Some(s) = &sigma_stage {
        stages.push(s);
    }
    let (report, _workers) = ingest(&inputs, &cfg, || Fanout::of(&stages), &observer);
    observer.progress.finish();
    let log = observer
        .rejected
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(e) = log.error {
        return Err(e).context("writing rejected.jsonl");
    }
    let mut out = log.out;
    out.flush().context("writing rejected.jsonl")?;

    let save_state = args.detect.save_state.as_deref();
    let detections = detect.finish(&detect_stage, &inputs, &cfg, save_state)?;

    // Alerts from every stage, before incident grouping and reporting.
    let mut all_alerts: Vec<keywarden_model::Alert> = Vec::new();
    all_alerts.extend(detections.alerts.iter().cloned());
    all_alerts.extend(sigma_alerts(sigma_stage.as_ref()));
    // Incidents over every stage's alerts; writes alerts.jsonl and exposure.json.
    let exposure = super::hunt_detect::write_outputs(&args.out, &mut all_alerts, &detections)?;
    // alerts.csv and report.html; the incident table is printed with the summary below.
    write_reports(&args.out, &all_alerts, &exposure, &report)?;
    let alerts = all_alerts.len() as u64;
    let summary = Summary {
        keywarden_version: env!("CARGO_PKG_VERSION"),
        report: &report,
        alerts,
    };
    let summary_path = args.out.join("summary.json");
    let mut f = BufWriter::new(
        File::create(&summary_path)
            .with_context(|| format!("creating {}", summary_path.display()))?,
    );
    serde_json::to_writer_pretty(&mut f, &summary)?;
    f.write_all(b"\n")?;
    f.flush()?;

    if !args.quiet {
        print_summary(&report, alerts, &args.out);
        if alerts > 0 {
            let stdout = std::io::stdout();
            keywarden_report::print_incident_table(
                &all_alerts,
                &exposure,
                Style::stdout().enabled,
                stdout.lock(),
            )
            .context("printing the incident table")?;
        }
    }
    Ok(if args.strict && report.rejected > 0 {
        1
    } else {
        0
    })
}

/// The Sigma stage for `--rules`, if any; rule problems are reported on stderr.
fn sigma_stage(args: &HuntArgs) -> anyhow::Result<Option<keywarden_sigma::SigmaStage>> {
    if args.rules.is_empty() {
        return Ok(None);
    }
    let stage = keywarden_sigma::SigmaConfig {
        rule_paths: args.rules.clone(),
        logsource: args.logsource.clone(),
        routing: None,
    }
    .build()
    .context("loading Sigma rules")?;
    let r = stage.report();
    if !args.quiet && (!r.unsupported.is_empty() || !r.errors.is_empty()) {
        eprintln!(
            "keywarden: {} of {} Sigma rules loaded ({} unsupported, {} errors; see `keywarden rules check`)",
            r.loaded,
            r.rules,
            r.unsupported.len(),
            r.errors.len()
        );
    }
    Ok(Some(stage))
}

/// The Sigma stage's alerts (detections and correlations), after ingest.
fn sigma_alerts(stage: Option<&keywarden_sigma::SigmaStage>) -> Vec<keywarden_model::Alert> {
    stage.map(|s| s.finish().alerts).unwrap_or_default()
}

/// Writes `alerts.csv` and `report.html` (see `docs/OUTPUTS.md`).
fn write_reports(
    out: &std::path::Path,
    alerts: &[keywarden_model::Alert],
    exposure: &keywarden_model::Exposure,
    report: &IngestReport,
) -> anyhow::Result<()> {
    // The CSV and the HTML report are independent: written side by side.
    let csv_path = out.join("alerts.csv");
    let csv = move || -> anyhow::Result<()> {
        let csv_file =
            File::create(&csv_path).with_context(|| format!("creating {}", csv_path.display()))?;
        keywarden_report::write_alerts_csv(alerts, BufWriter::new(csv_file))
            .with_context(|| format!("writing {}", csv_path.display()))
    };
    let generated_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| keywarden_model::Timestamp(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
        .unwrap_or(keywarden_model::Timestamp(0));
    let mut summary = keywarden_report::ReportSummary::new(env!("CARGO_PKG_VERSION"), generated_at);
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
        let html_file = File::create(&html_path)
            .with_context(|| format!("creating {}", html_path.display()))?;
        keywarden_report::write_html_report(alerts, exposure, &summary, BufWriter::new(html_file))
            .with_context(|| format!("writing {}", html_path.display()))?;
        csv_done
            .join()
            .map_err(|_| anyhow::anyhow!("writing {} failed", out.join("alerts.csv").display()))?
    })
}

/// Copies stdin, if it is among the inputs, to a temporary file that the input then reads.
fn spool_stdin(
    inputs: &mut [keywarden_ingest::InputSource],
) -> anyhow::Result<Option<tempfile::NamedTempFile>> {
    let Some(input) = inputs.iter_mut().find(|i| i.path.is_none()) else {
        return Ok(None);
    };
    let mut spool = tempfile::Builder::new()
        .prefix("keywarden-stdin-")
        .tempfile()
        .context("creating a temporary file for stdin")?;
    std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
        .context("reading stdin into a temporary file")?;
    spool
        .as_file_mut()
        .flush()
        .context("writing stdin's temporary file")?;
    input.path = Some(spool.path().to_path_buf());
    Ok(Some(spool))
}

fn print_summary(report: &IngestReport, alerts: u64, out: &std::path::Path) {
    let st = Style::stdout();
    println!(
        "{} {} records from {} inputs: {} events, {} rejected",
        st.bold("keywarden hunt:"),
        report.records,
        report.inputs.len(),
        st.green(&report.events.to_string()),
        if report.rejected > 0 {
            st.yellow(&report.rejected.to_string())
        } else {
            report.rejected.to_string()
        },
    );
    for i in &report.inputs {
        let line = format!(
            "  {:<28} {:>9} records {:>9} events {:>7} rejected  {}",
            i.format,
            i.records,
            i.events,
            i.rejected,
            escape(&i.path)
        );
        if i.rejected > 0 {
            println!("{}", st.yellow(&line));
        } else {
            println!("{}", st.dim(&line));
        }
    }
    for r in report.rejections.iter().take(10) {
        let at = match (r.line, r.offset, r.record_number) {
            (_, _, Some(n)) => format!("record {n}"),
            (Some(l), _, _) => format!("line {l}"),
            (None, Some(o), _) => format!("offset {o}"),
            _ => String::new(),
        };
        println!(
            "  {} {}:{} {}",
            st.yellow("rejected"),
            escape(&r.path),
            at,
            escape(&r.reason)
        );
    }
    if report.rejected > 10 {
        println!("  ... {} more in rejected.jsonl", report.rejected - 10);
    }
    let alerts_text = format!("{alerts} alerts");
    println!(
        "{}; outputs in {}",
        if alerts > 0 {
            st.red(&alerts_text)
        } else {
            st.green(&alerts_text)
        },
        escape(&out.display().to_string())
    );
}

struct RejectLog {
    out: BufWriter<File>,
    error: Option<std::io::Error>,
}

/// One line of `rejected.jsonl`.
#[derive(Serialize)]
struct RejectedLine<'a> {
    #[serde(flatten)]
    rejection: &'a Rejection,
    raw: Option<&'a str>,
    raw_lossy: bool,
}

struct HuntObserver {
    rejected: Mutex<RejectLog>,
    progress: Progress,
}

impl Observer for HuntObserver {
    fn rejected(&self, r: &Rejection) {
        let mut log = self.rejected.lock().unwrap_or_else(|e| e.into_inner());
        if log.error.is_some() {
            return;
        }
        let line = RejectedLine {
            rejection: r,
            raw: r.raw.as_deref(),
            raw_lossy: r.raw_lossy,
        };
        let res = serde_json::to_writer(&mut log.out, &line)
            .map_err(std::io::Error::other)
            .and_then(|_| log.out.write_all(b"\n"));
        if let Err(e) = res {
            log.error = Some(e);
        }
    }

    fn progress(&self, bytes: u64) {
        self.progress.add(bytes);
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
struct Progress {
    enabled: bool,
    total: u64,
    done: AtomicU64,
    last: Mutex<Instant>,
    start: Instant,
}

impl Progress {
    fn new(enabled: bool, total: u64) -> Progress {
        Progress {
            enabled,
            total,
            done: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
            start: Instant::now(),
        }
    }

    fn add(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.elapsed() < Duration::from_millis(100) {
            return;
        }
        *last = Instant::now();
        // Decompressed bytes can exceed the on-disk total: cap at 100 %.
        let pct = (done * 100).checked_div(self.total).unwrap_or(100).min(100);
        let width = 30usize;
        let filled = (pct as usize * width / 100).min(width);
        let mbs = done as f64 / 1e6 / self.start.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r[{}{}] {pct:>3}% {:.1} MB read, {mbs:.0} MB/s ",
            "#".repeat(filled),
            " ".repeat(width - filled),
            done as f64 / 1e6
        );
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r{}\r", " ".repeat(70));
        }
    }
}
