//! `keywarden hunt`: flags into a [`keywarden_hunt::HuntConfig`], the library call, then the
//! summary and incident table on stdout, a progress bar on stderr, and the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use keywarden_hunt::{HuntConfig, HuntOutput, HuntProgress};
use keywarden_ingest::{Format, IngestReport};
use keywarden_server::{Clock, SystemClock};

use crate::term::{Style, escape};

#[derive(clap::Args, Debug)]
pub(crate) struct HuntArgs {
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
    /// Detection configuration (TOML; `keywarden config show` prints the defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An earlier export to learn normal behaviour from (repeatable); replaces the look-back.
    #[arg(long = "baseline", value_name = "PATH")]
    pub baseline: Vec<PathBuf>,
    /// A state file saved by an earlier `--save-state`, used as the baseline.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Save what this run learned (minus what alerted) as a state file for the next run.
    #[arg(long, value_name = "FILE")]
    pub save_state: Option<PathBuf>,
    /// Sigma rule files or directories to run beside the built-in detections (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Narrow the Sigma rules to one logsource (`windows`, `product=m365,service=audit`...);
    /// generic JSON input is otherwise matched against every rule.
    #[arg(long, value_name = "NAME")]
    pub logsource: Option<String>,
    /// Declare sign-in categories complete where the data cannot show it (repeatable): `all`
    /// or a comma list of interactive, non-interactive, service-principal, managed-identity,
    /// optionally `@START/END` (RFC 3339). Declare only what was exported completely.
    #[arg(long = "signin-coverage", value_name = "SPEC")]
    pub signin_coverage: Vec<String>,
}

impl HuntArgs {
    fn hunt_config(&self) -> HuntConfig {
        HuntConfig {
            out: self.out.clone(),
            format: self.format,
            max_record_bytes: self.max_record_bytes,
            max_input_bytes: self.max_input_bytes,
            threads: self.threads,
            detect_config: self.config.clone(),
            baseline: self.baseline.clone(),
            state: self.state.clone(),
            save_state: self.save_state.clone(),
            rules: self.rules.clone(),
            logsource: self.logsource.clone(),
            signin_coverage: self.signin_coverage.clone(),
        }
    }
}

pub(crate) fn run(args: &HuntArgs) -> anyhow::Result<i32> {
    let hunt = args.hunt_config().build()?;
    if let Some(r) = hunt.sigma_report()
        && !args.quiet
        && (!r.unsupported.is_empty() || !r.errors.is_empty())
    {
        eprintln!(
            "keywarden: {} of {} Sigma rules loaded ({} unsupported, {} errors; see `keywarden rules check`)",
            r.loaded,
            r.rules,
            r.unsupported.len(),
            r.errors.len()
        );
    }
    let progress = ProgressBar::new(!args.quiet && std::io::stderr().is_terminal());
    let output = hunt.run(&args.paths, SystemClock.now(), &progress)?;
    if !args.quiet {
        print_summary(&output);
        if !output.alerts.is_empty() {
            let stdout = std::io::stdout();
            keywarden_report::print_incident_table(
                &output.alerts,
                &output.exposure,
                Style::stdout().enabled,
                stdout.lock(),
            )
            .context("printing the incident table")?;
        }
    }
    Ok(if args.strict && output.report.rejected > 0 {
        1
    } else {
        0
    })
}

fn print_summary(output: &HuntOutput) {
    let report: &IngestReport = &output.report;
    let alerts = output.alert_count();
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
        // A shape recognised only partly (static text: nothing from the input).
        for n in &i.notes {
            let note = format!(
                "    note {}: {} of {} {}: {}",
                n.code, n.records, n.of, n.checked, n.message
            );
            println!("{}", st.yellow(&note));
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
    if output.repeated_records > 0 {
        println!(
            "  {} later copies of the alerts' records (same shape, id, time and content) not counted again",
            output.repeated_records
        );
    }
    print_coverage(output, &st);
    let alerts_text = format!("{alerts} alerts");
    println!(
        "{}; outputs in {}",
        if alerts > 0 {
            st.red(&alerts_text)
        } else {
            st.green(&alerts_text)
        },
        escape(&output.out.display().to_string())
    );
}

/// The sign-in coverage found per tenant and the tokens left unjudged, with what to export next.
fn print_coverage(output: &HuntOutput, st: &Style) {
    let c = &output.coverage;
    for t in &c.tenants {
        let found: Vec<&str> = t.categories.keys().map(|k| k.name()).collect();
        let missing: Vec<&str> = t.missing_categories.iter().map(|k| k.name()).collect();
        let tenant = if t.tenant.is_empty() {
            "(no tenant)"
        } else {
            &t.tenant
        };
        let tokenless: Vec<String> = t
            .signins_without_token_id
            .iter()
            .map(|(k, n)| format!("{n} {}", k.name()))
            .collect();
        let line = format!(
            "  sign-in coverage {}: {} (missing: {}){}",
            escape(tenant),
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            },
            if missing.is_empty() {
                "none".to_string()
            } else {
                missing.join(", ")
            },
            if tokenless.is_empty() {
                String::new()
            } else {
                format!(
                    "; sign-ins without token ids, covering nothing: {}",
                    tokenless.join(", ")
                )
            },
        );
        println!("{}", st.dim(&line));
    }
    for why in &c.declarations_refused {
        // Input paths and a manifest's labels: escaped.
        println!(
            "{}",
            st.yellow(&format!("  declared coverage refused: {}", escape(why)))
        );
    }
    let u = &c.users;
    if u.token_users_without_sign_ins > 0 {
        let line = format!(
            "  sign-in users: {} of {} user names of delegated tokens have no sign-in in the export{}",
            u.token_users_without_sign_ins,
            u.token_users,
            if u.filtered {
                " (taken as filtered by user)"
            } else {
                ""
            }
        );
        println!("{}", st.dim(&line));
    }
    // Reason codes and hints are static text: nothing from the input.
    for (code, u) in &c.unjudged {
        let line = format!(
            "  unjudged {code}: {} tokens, {} records: {}",
            u.tokens, u.records, u.hint
        );
        println!("{}", st.yellow(&line));
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
struct ProgressBar {
    enabled: bool,
    total: AtomicU64,
    done: AtomicU64,
    last: Mutex<Instant>,
    start: Instant,
}

impl ProgressBar {
    fn new(enabled: bool) -> ProgressBar {
        ProgressBar {
            enabled,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
            start: Instant::now(),
        }
    }
}

impl HuntProgress for ProgressBar {
    fn started(&self, total_bytes: u64) {
        self.total.store(total_bytes, Ordering::Relaxed);
    }

    fn advanced(&self, bytes: u64) {
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
        let total = self.total.load(Ordering::Relaxed);
        let pct = (done * 100).checked_div(total).unwrap_or(100).min(100);
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

    fn finished(&self) {
        if self.enabled {
            eprint!("\r{}\r", " ".repeat(70));
        }
    }
}
