//! `keywarden collect`: pull the logs from Microsoft's APIs into a directory `hunt` reads
//! (see `docs/COLLECT.md`). Exit 0 complete, 1 partial (gaps in `collect.json` and on stderr),
//! 2 usage or authentication error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_collect::{
    Cloud, CollectConfig, CredentialSource, Endpoints, Pacing, SourceKind, Timestamp,
    UreqTransport, parse_time,
};

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("credential").required(true).args(["client_secret_file", "certificate"])))]
pub(crate) struct CollectArgs {
    /// Tenant id (GUID) or its primary domain.
    #[arg(long)]
    pub tenant: String,
    /// Application (client) id of the app registration.
    #[arg(long)]
    pub client_id: String,
    /// File whose first line is the client secret.
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// PEM file with the RSA private key and the certificate registered on the app.
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Sources (repeatable or comma-separated): o365, graph-signins, graph-audit,
    /// loganalytics, purview. Default: o365 and graph-signins.
    #[arg(long, value_delimiter = ',')]
    pub source: Vec<String>,
    /// Log Analytics workspace id (for --source loganalytics).
    #[arg(long)]
    pub workspace: Option<String>,
    /// Start of the range: RFC 3339 or a duration before now (7d, 36h, 90m).
    #[arg(long)]
    pub since: String,
    /// End of the range (exclusive; default now).
    #[arg(long)]
    pub until: Option<String>,
    /// Output directory (re-running with the same directory resumes).
    #[arg(long)]
    pub out: PathBuf,
    /// public, usgov, usgov-high, dod or china.
    #[arg(long, default_value = "public")]
    pub cloud: String,
    /// Override a service's base URL: login=URL, manage=URL, graph=URL, loganalytics=URL
    /// (repeatable; https, or http to a loopback address).
    #[arg(long)]
    pub endpoint: Vec<String>,
    /// Replace every API's default request budget with N requests per minute.
    #[arg(long)]
    pub max_requests_per_minute: Option<u32>,
    /// Streams (and blobs) fetched at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// One line per window on stderr.
    #[arg(long, conflicts_with = "quiet")]
    pub progress: bool,
    /// No summary on stdout (gaps are still reported on stderr).
    #[arg(long, short)]
    pub quiet: bool,
    /// Pretend the current time is TIME (RFC 3339): replaying against an emulator or a
    /// frozen tenant. The clock still advances from there.
    #[arg(long, hide = true)]
    pub now: Option<String>,
    /// Delay between two polls of a Purview query, in milliseconds.
    #[arg(long, hide = true, default_value_t = 10_000)]
    pub purview_poll_ms: u64,
    /// Re-list Management API windows ending this close to --until on the next run, seconds.
    #[arg(long, hide = true, default_value_t = 3600)]
    pub relist_recent_seconds: u64,
}

/// The wall clock, optionally shifted so that "now" starts at a chosen instant.
struct SystemClock {
    base: Timestamp,
    started: Instant,
}

impl keywarden_collect::Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.base.0.saturating_add(elapsed))
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The wall clock (keywarden-server's `SystemClock`, the one place that reads it).
fn wall_now() -> Timestamp {
    keywarden_server::Clock::now(&keywarden_server::SystemClock)
}

pub(crate) fn run(args: &CollectArgs) -> anyhow::Result<i32> {
    match collect(args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("keywarden collect: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            Ok(if e.is_usage_or_auth() { 2 } else { 1 })
        }
    }
}

fn collect(args: &CollectArgs) -> Result<i32, keywarden_collect::CollectError> {
    let usage = keywarden_collect::CollectError::Usage;
    let base = match &args.now {
        Some(t) => parse_time(t, wall_now())?,
        None => wall_now(),
    };
    let clock = Arc::new(SystemClock {
        base,
        started: Instant::now(),
    });
    let now = keywarden_collect::Clock::now(clock.as_ref());
    let cloud: Cloud = args.cloud.parse()?;
    let mut endpoints = Endpoints::of(cloud);
    for e in &args.endpoint {
        endpoints.set(e)?;
    }
    let mut sources = args
        .source
        .iter()
        .map(|s| s.parse::<SourceKind>())
        .collect::<Result<Vec<_>, _>>()?;
    if sources.is_empty() {
        sources = vec![SourceKind::O365, SourceKind::GraphSignins];
    }
    let credential = match (&args.client_secret_file, &args.certificate) {
        (Some(f), None) => CredentialSource::SecretFile(f.clone()),
        (None, Some(f)) => CredentialSource::CertificateFile(f.clone()),
        _ => {
            return Err(usage(
                "give exactly one of --client-secret-file and --certificate".into(),
            ));
        }
    };
    let pacing = Pacing {
        purview_poll: Duration::from_millis(args.purview_poll_ms),
        relist_recent: Duration::from_secs(args.relist_recent_seconds),
        ..Pacing::default()
    };
    let config = CollectConfig {
        tenant: args.tenant.clone(),
        client_id: args.client_id.clone(),
        credential,
        sources,
        workspace: args.workspace.clone(),
        since: parse_time(&args.since, now)?,
        until: match &args.until {
            Some(u) => parse_time(u, now)?,
            None => now,
        },
        out: args.out.clone(),
        endpoints,
        max_requests_per_minute: args.max_requests_per_minute,
        concurrency: args.concurrency,
        pacing,
        cancel: None,
    };
    let transport = Arc::new(UreqTransport::new(
        config.pacing.request_timeout,
        config.concurrency * 2,
    ));
    let show_progress = args.progress;
    let progress = move |line: &str| {
        if show_progress {
            eprintln!("collect: {line}");
        }
    };
    let manifest = keywarden_collect::collect(&config, transport, clock, &progress)?;
    if !args.quiet {
        println!(
            "{:<14} {:<34} {:>9} {:>10} {:>9} {:>6}",
            "source", "stream", "records", "dupes", "requests", "gaps"
        );
        for s in &manifest.sources {
            println!(
                "{:<14} {:<34} {:>9} {:>10} {:>9} {:>6}",
                s.source,
                s.stream,
                s.records,
                s.duplicates_dropped,
                s.requests,
                s.gaps.len()
            );
        }
        println!(
            "{}: {}",
            config.out.join("collect.json").display(),
            if manifest.complete {
                "complete"
            } else {
                "PARTIAL"
            }
        );
    }
    for s in &manifest.sources {
        for g in &s.gaps {
            match &g.blob {
                Some(b) => eprintln!(
                    "collect: gap {} {} [{}, {}) blob {b}: {}",
                    s.source, s.stream, g.start, g.end, g.reason
                ),
                None => eprintln!(
                    "collect: gap {} {} [{}, {}): {}",
                    s.source, s.stream, g.start, g.end, g.reason
                ),
            }
        }
    }
    Ok(if manifest.complete { 0 } else { 1 })
}
