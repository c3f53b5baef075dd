//! `keywarden gateway`: forward-auth for nginx, Traefik and Envoy. All logic is in
//! `keywarden-gateway`; this wires the arguments to it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use keywarden_gateway::listen::Bound;
use keywarden_gateway::{DecisionLog, Gateway, GatewayConfig, LogTarget};
use keywarden_server::{SystemClock, TlsFiles};
use keywarden_token::TrustPolicy;

#[derive(clap::Args, Debug)]
pub(crate) struct GatewayArgs {
    /// Address to listen on: `HOST:PORT` (`127.0.0.1:0` picks a free port; the bound address is
    /// printed), or `unix:PATH`, a Unix-domain socket (mode 0660) for a proxy on the same host.
    #[arg(long)]
    pub listen: String,
    /// Trust policy (as for `keywarden verify`; see docs/TOKEN.md).
    #[arg(long)]
    pub trust: PathBuf,
    /// Gateway configuration: routes, identity header names, flood control, trusted proxies
    /// (see docs/GATEWAY.md; every field has a default).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Decision log: a FILE (appended), or a DIR (an existing directory or a path ending in
    /// `/`) of daily `decisions-YYYY-MM-DD.jsonl` files.
    #[arg(long, value_name = "FILE|DIR")]
    pub decision_log: Option<PathBuf>,
    /// Serve HTTPS: PEM certificate chain, leaf first (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Serve HTTPS: PEM private key (needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

pub(crate) fn run(args: &GatewayArgs) -> anyhow::Result<i32> {
    let policy = TrustPolicy::from_file(&args.trust)
        .with_context(|| format!("loading trust policy {}", args.trust.display()))?;
    let config = match &args.config {
        Some(p) => GatewayConfig::from_file(p)?,
        None => GatewayConfig::default(),
    };
    for w in keywarden_gateway::listen::warnings(&args.listen, &config) {
        eprintln!("keywarden gateway: warning: {w}");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(keywarden_gateway::tls_config(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })?),
        _ => None,
    };
    let log = args
        .decision_log
        .as_deref()
        .map(|p| DecisionLog::open(LogTarget::from_arg(p)))
        .transpose()?;
    let gateway = Gateway::new(&policy, config, log, Arc::new(SystemClock))
        .context("starting keywarden gateway")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    keywarden_gateway::server::run(gateway, &args.listen, tls, |bound| match bound {
        Bound::Tcp(addr) => eprintln!("keywarden gateway: listening on {scheme}://{addr}"),
        Bound::Unix(_) => eprintln!("keywarden gateway: listening on {bound} ({scheme})"),
    })
    .context("keywarden gateway")?;
    Ok(0)
}
