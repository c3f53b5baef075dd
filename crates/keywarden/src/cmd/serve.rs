//! `keywarden serve`: continuous monitoring (durable HTTP ingest, live detection, alert and
//! incident API). All logic is in `keywarden-server`; this wires the arguments to it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use keywarden_server::{ServeConfig, SystemClock, TlsFiles};

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8440")]
    pub listen: String,
    /// Data directory (the SQLite store lives here).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// API keys, one per line (at least 16 characters each; `#` comments allowed).
    #[arg(long)]
    pub api_key_file: PathBuf,
    /// TOML configuration: `[server]` limits and retention, `[detect]` detection settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Follow the log files of this directory (growing files and rotations; offsets are kept
    /// in the store across restarts).
    #[arg(long)]
    pub watch: Option<PathBuf>,
    /// Serve HTTPS: PEM certificate chain, leaf first (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Serve HTTPS: PEM private key (needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Also run these Sigma rules live, as `hunt --rules` does (files or directories,
    /// repeatable; added to `[sigma] rules` of the config). Detection rules match each event as
    /// it is ingested; correlation rules run incrementally with capped window state.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Collect continuously from Microsoft's APIs: a TOML file with a `[collect]` table (the
    /// sources, app registration and interval of `keywarden collect`; see docs/COLLECT.md).
    /// Replaces a `[collect]` of --config.
    #[arg(long, value_name = "CONFIG")]
    pub collect: Option<PathBuf>,
    /// Narrow the Sigma rules to one logsource (as `hunt --logsource`).
    #[arg(long, value_name = "NAME")]
    pub logsource: Option<String>,
}

pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<i32> {
    let keys = ServeConfig::read_keys(&args.api_key_file)?;
    let key_warning = ServeConfig::key_file_warning(&args.api_key_file);
    let mut cfg = ServeConfig::new(&args.listen, &args.data_dir, keys);
    if let Some(path) = &args.config {
        cfg.apply_file(path)?;
    }
    cfg.watch = args.watch.clone();
    if let Some(path) = &args.collect {
        cfg.apply_collect_file(path)?;
    }
    cfg.sigma_rules.extend(args.rules.iter().cloned());
    if args.logsource.is_some() {
        cfg.sigma_logsource = args.logsource.clone();
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        cfg.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    let collecting = cfg.collect.as_ref().map(|p| {
        format!(
            "collecting tenant {} ({} streams) every {} s into {}",
            p.tenant(),
            p.streams().len(),
            p.interval.as_secs(),
            p.staging(&args.data_dir).display()
        )
    });
    let server = cfg
        .build(Arc::new(SystemClock))
        .context("starting keywarden serve")?;
    // Listening for SIGTERM/SIGINT before the address is announced: a stop sent as soon as
    // it is read is a graceful stop, not a kill (regression_sigterm_at_start_skips_checkpoint).
    let stop = server.stop_signal();
    let addr = server
        .local_addr()
        .map_or_else(|| args.listen.clone(), |a| a.to_string());
    eprintln!(
        "keywarden serve: listening on {}://{addr} (data in {}, {} events replayed into detection)",
        server.scheme(),
        args.data_dir.display(),
        server.replayed()
    );
    // After the address line (the first line is what scripts read the address from).
    if let Some(line) = collecting {
        eprintln!("keywarden serve: {line}");
    }
    for warning in key_warning.iter().chain(server.warnings()) {
        eprintln!("keywarden serve: warning: {warning}");
    }
    if let Some(sigma) = server.sigma() {
        let r = sigma.stage().report();
        eprintln!(
            "keywarden serve: {} of {} Sigma rules loaded ({} unsupported, {} errors; see `keywarden rules check`); {}",
            r.loaded,
            r.rules,
            r.unsupported.len(),
            r.errors.len(),
            if sigma.correlates() {
                "correlation rules evaluated incrementally (capped windows, event-time order per batch)"
            } else {
                "no correlation rules"
            }
        );
    }
    server.run(stop)?;
    eprintln!("keywarden serve: stopped");
    Ok(0)
}
