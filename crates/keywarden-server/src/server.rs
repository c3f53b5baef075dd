//! [`ServeConfig`] → [`Server`]: opens the store, restores the live detector, binds the
//! listener, then [`Server::run`] serves until the shutdown future resolves. Shutdown closes
//! the ingest queue, lets the writer finish what was queued, saves the detector state and
//! checkpoints the WAL into the database file (a copy of `keywarden.db` alone then holds every
//! acknowledged batch).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keywarden_detect::DetectConfig;
use keywarden_ingest::IngestConfig;
use keywarden_store::StoreConfig;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::error::ServerError;
use crate::http::api::{AppState, Readers, router};
use crate::http::auth::ApiKeys;
use crate::metrics::Metrics;
use crate::runtime::live::{LiveDetector, LiveLimits, LiveState};
use crate::runtime::queue::Ingestor;
use crate::runtime::source::Source;
use crate::runtime::writer::Writer;

/// Everything `keywarden serve` can be told.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub api_keys: ApiKeys,
    pub detect: DetectConfig,
    pub limits: LiveLimits,
    /// Ingest bodies waiting for the writer (beyond it: 429).
    pub queue_capacity: usize,
    /// Ingest bodies being read or waiting (beyond it: 503). Bounds memory at
    /// `max_inflight × max_body_bytes`.
    pub max_inflight: usize,
    pub max_body_bytes: usize,
    pub max_decompressed_bytes: usize,
    /// Peak RSS stays under this many MiB (`[server] memory_budget_mb`, default 512); the
    /// ingest limits are derived from it ([`crate::runtime::memory_budget`]).
    pub memory_budget_mb: u64,
    pub max_record_bytes: usize,
    pub request_timeout: Duration,
    /// Events and rejections older than this are deleted (`None`: kept).
    pub retention: Option<Duration>,
    pub state_interval: Duration,
    /// `synchronous=FULL`: acknowledged means on disk. Leave on.
    pub synchronous_full: bool,
    pub read_connections: usize,
    /// Threads reading (decompressing, parsing) bodies ahead of the writer.
    pub parse_threads: usize,
    pub webhooks: Vec<crate::webhook::WebhookConfig>,
    /// `--watch DIR`: follow the log files of this directory.
    pub watch: Option<PathBuf>,
    /// Lifetime of a dashboard login.
    pub session_hours: i64,
    /// Serve HTTPS with this certificate and key (session cookies are then `Secure`).
    pub tls: Option<crate::http::tls::TlsFiles>,
    /// `[auth]`: bearer JWTs accepted by this validator are let in like API keys.
    pub jwt: Option<Arc<keywarden_token::Validator>>,
    /// `[auth]` as read by [`ServeConfig::apply_file`] (the configuration file, the policy):
    /// [`ServeConfig::build`] loads it into [`ServeConfig::jwt`] at the injected clock's time
    /// (remote key sets are fetched then), unless `jwt` is already set.
    pub jwt_policy: Option<(PathBuf, keywarden_token::TrustPolicy)>,
    /// Sigma rule files or directories (`--rules`, `[sigma] rules`), run live.
    pub sigma_rules: Vec<PathBuf>,
    /// `--logsource`: narrows which Sigma rules run.
    pub sigma_logsource: Option<String>,
    /// Peers whose `X-Forwarded-For` names the client (for the failed-key throttle); empty:
    /// the TCP peer is the client and `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<crate::http::client::ProxyNet>,
    /// Connection cap and timeouts against clients that hold sockets open.
    pub connections: crate::http::conn::ConnLimits,
    /// `[collect]` / `--collect`: poll Microsoft's APIs continuously.
    pub collect: Option<crate::runtime::collect_source::CollectPlan>,
}

/// The `[sigma]` table: rule paths (relative to the configuration file) and a logsource filter.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SigmaSection {
    rules: Vec<PathBuf>,
    logsource: Option<String>,
}

/// The `[server]` table of the configuration file (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServerSection {
    queue_capacity: Option<usize>,
    max_inflight: Option<usize>,
    max_body_bytes: Option<usize>,
    max_decompressed_bytes: Option<usize>,
    memory_budget_mb: Option<u64>,
    max_record_bytes: Option<usize>,
    request_timeout_seconds: Option<u64>,
    retention_days: Option<u64>,
    state_interval_seconds: Option<u64>,
    max_pending_tokens: Option<usize>,
    pending_ttl_hours: Option<i64>,
    sign_in_stream_idle_seconds: Option<i64>,
    max_baseline_keys: Option<usize>,
    max_correlation_groups: Option<usize>,
    max_correlation_entries: Option<usize>,
    parse_threads: Option<usize>,
    trusted_proxies: Option<Vec<String>>,
    max_connections: Option<usize>,
    header_read_timeout_seconds: Option<u64>,
    keep_alive_idle_seconds: Option<u64>,
    tls_handshake_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
    min_body_bytes_per_second: Option<u64>,
}

/// The configuration file: `[server]` plus the detection pack's own tables under `[detect]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    server: ServerSection,
    detect: Option<toml::Value>,
    webhook: Vec<crate::webhook::WebhookConfig>,
    /// A `keywarden-token` trust policy: API calls may present a JWT it accepts.
    auth: Option<toml::Value>,
    sigma: SigmaSection,
    /// Continuous collection from Microsoft's APIs (`crate::runtime::collect_source`).
    collect: Option<crate::runtime::collect_source::CollectSection>,
}

/// A `serve --collect FILE`: a `[collect]` table alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectFile {
    collect: crate::runtime::collect_source::CollectSection,
}

impl ServeConfig {
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>, api_keys: ApiKeys) -> Self {
        ServeConfig {
            listen: listen.into(),
            data_dir: data_dir.into(),
            api_keys,
            detect: DetectConfig::default(),
            limits: LiveLimits::default(),
            queue_capacity: 64,
            max_inflight: 32,
            max_body_bytes: 32 << 20,
            max_decompressed_bytes: 256 << 20,
            memory_budget_mb: crate::runtime::memory_budget::DEFAULT_BUDGET_MB,
            max_record_bytes: 16 << 20,
            request_timeout: Duration::from_secs(60),
            retention: None,
            state_interval: Duration::from_secs(5),
            synchronous_full: true,
            read_connections: 2,
            parse_threads: 2,
            webhooks: Vec::new(),
            watch: None,
            session_hours: 8,
            tls: None,
            jwt: None,
            jwt_policy: None,
            sigma_rules: Vec::new(),
            sigma_logsource: None,
            trusted_proxies: Vec::new(),
            connections: crate::http::conn::ConnLimits::default(),
            collect: None,
        }
    }

    /// Reads the API key file.
    pub fn read_keys(path: &Path) -> Result<ApiKeys, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Read {
            what: "API key file",
            path: path.to_path_buf(),
            source,
        })?;
        ApiKeys::parse(&text)
    }

    /// A warning when the API key file is readable (or otherwise accessible) by group or other
    /// users: whoever reads it can call the API. `None` when it is owner-only (or unreadable:
    /// [`ServeConfig::read_keys`] reports that).
    pub fn key_file_warning(path: &Path) -> Option<String> {
        let how = keywarden_store::private::exposure(path).ok()??;
        Some(format!(
            "API key file {} is {how}: anyone who can read it can use the API; `chmod 600` it",
            path.display()
        ))
    }

    /// Applies a TOML configuration file.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Read {
            what: "configuration",
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| ServerError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let file: ConfigFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if let Some(d) = file.detect {
            let text = toml::to_string(&d).map_err(|e| bad(e.to_string()))?;
            self.detect = DetectConfig::from_toml(&text).map_err(bad)?;
        }
        self.webhooks = file.webhook;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(c) = file.collect {
            let plan = crate::runtime::collect_source::CollectPlan::new(c, &base)
                .map_err(|e| bad(format!("[collect]: {e}")))?;
            self.collect = Some(plan);
        }
        self.sigma_rules
            .extend(file.sigma.rules.iter().map(|r| base.join(r)));
        if file.sigma.logsource.is_some() {
            self.sigma_logsource = file.sigma.logsource;
        }
        if let Some(a) = file.auth {
            let text = toml::to_string(&a).map_err(|e| bad(e.to_string()))?;
            let mut policy = keywarden_token::TrustPolicy::from_toml(&text)
                .map_err(|e| bad(format!("[auth]: {e}")))?;
            policy.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            policy.check().map_err(|e| bad(format!("[auth]: {e}")))?;
            self.jwt_policy = Some((path.to_path_buf(), policy));
        }
        let s = file.server;
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(bad(format!("server.{name} must be positive")))
            } else {
                Ok(v)
            }
        };
        if let Some(v) = s.queue_capacity {
            self.queue_capacity = positive("queue_capacity", v)?;
        }
        if let Some(v) = s.max_inflight {
            self.max_inflight = positive("max_inflight", v)?;
        }
        if let Some(v) = s.max_body_bytes {
            self.max_body_bytes = positive("max_body_bytes", v)?;
        }
        if let Some(v) = s.max_decompressed_bytes {
            self.max_decompressed_bytes = positive("max_decompressed_bytes", v)?;
        }
        if let Some(v) = s.memory_budget_mb {
            self.memory_budget_mb = positive("memory_budget_mb", v as usize)? as u64;
        }
        if let Some(v) = s.max_record_bytes {
            self.max_record_bytes = positive("max_record_bytes", v)?;
        }
        if let Some(v) = s.request_timeout_seconds {
            self.request_timeout = Duration::from_secs(v.max(1));
        }
        if let Some(v) = s.retention_days {
            self.retention = Some(Duration::from_secs(v.max(1).saturating_mul(86_400)));
        }
        if let Some(v) = s.state_interval_seconds {
            self.state_interval = Duration::from_secs(v.max(1));
        }
        if let Some(v) = s.max_pending_tokens {
            self.limits.max_pending = positive("max_pending_tokens", v)?;
        }
        if let Some(v) = s.sign_in_stream_idle_seconds {
            self.limits.stream_idle_seconds = v.max(0);
        }
        if let Some(v) = s.max_baseline_keys {
            self.limits.max_baseline_keys = positive("max_baseline_keys", v)?;
        }
        if let Some(v) = s.max_correlation_groups {
            self.limits.max_correlation_groups = positive("max_correlation_groups", v)?;
        }
        if let Some(v) = s.max_correlation_entries {
            self.limits.max_correlation_entries = positive("max_correlation_entries", v)?;
        }
        if let Some(v) = s.pending_ttl_hours {
            self.limits.pending_ttl_seconds = v.max(1).saturating_mul(3600);
        }
        if let Some(v) = s.parse_threads {
            self.parse_threads = positive("parse_threads", v)?;
        }
        let seconds = |v: u64| Duration::from_secs(v.max(1));
        let c = &mut self.connections;
        if let Some(v) = s.max_connections {
            c.max_connections = positive("max_connections", v)?;
        }
        if let Some(v) = s.header_read_timeout_seconds {
            c.header_read_timeout = seconds(v);
        }
        if let Some(v) = s.keep_alive_idle_seconds {
            c.keep_alive_idle = seconds(v);
        }
        if let Some(v) = s.tls_handshake_timeout_seconds {
            c.tls_handshake_timeout = seconds(v);
        }
        if let Some(v) = s.body_read_timeout_seconds {
            c.body_read_timeout = seconds(v);
        }
        if let Some(v) = s.min_body_bytes_per_second {
            c.min_body_bytes_per_second = v;
        }
        if let Some(v) = &s.trusted_proxies {
            self.trusted_proxies =
                crate::http::client::parse_networks(v).map_err(|e| bad(format!("server.{e}")))?;
        }
        Ok(())
    }

    /// Applies `serve --collect FILE`: a TOML file holding a `[collect]` table (it replaces a
    /// `[collect]` of the configuration file).
    pub fn apply_collect_file(&mut self, path: &Path) -> Result<(), ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Read {
            what: "collect configuration",
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| ServerError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let file: CollectFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let plan = crate::runtime::collect_source::CollectPlan::new(file.collect, &base)
            .map_err(|e| bad(format!("[collect]: {e}")))?;
        self.collect = Some(plan);
        Ok(())
    }

    /// Opens the store, restores detection state and binds the listener.
    pub fn build(mut self, clock: Arc<dyn Clock>) -> Result<Server, ServerError> {
        if let (None, Some((path, policy))) = (&self.jwt, &self.jwt_policy) {
            let now = clock.now().unix_seconds();
            let v = keywarden_token::Validator::from_policy(policy, now).map_err(|e| {
                ServerError::Config {
                    path: path.clone(),
                    reason: format!("[auth]: {}", keywarden_model::error_chain(&e)),
                }
            })?;
            self.jwt = Some(Arc::new(v));
        }
        let settings = self.detect.build()?;
        let tls = self
            .tls
            .as_ref()
            .map(crate::http::tls::TlsFiles::build)
            .transpose()?;
        let store_cfg = StoreConfig {
            synchronous_full: self.synchronous_full,
            cache_kib: (crate::runtime::memory_budget::CACHE_PER_CONNECTION / 1024) as u32,
            ..StoreConfig::new(&self.data_dir)
        };
        let store = store_cfg.build()?;
        let warnings = store.warnings().to_vec();
        let readers = (0..self.read_connections.max(1))
            .map(|_| store_cfg.reader())
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = Arc::new(Metrics::default());
        // Store connections: the writer, the readers, the checkpointer, the webhook reader.
        let connections = self.read_connections.max(1) + 2 + usize::from(!self.webhooks.is_empty());
        let budget = crate::runtime::memory_budget::MemoryBudget::derive(
            self.memory_budget_mb,
            self.parse_threads,
            self.max_body_bytes,
            connections,
        )?;
        let ingest = IngestConfig {
            max_record_bytes: self.max_record_bytes,
            threads: 1,
            chunk_bytes: crate::runtime::memory_budget::PIECE_BYTES,
            max_input_bytes: budget.whole_read_bytes,
            ..IngestConfig::default()
        };
        let mut detector = LiveDetector::new(settings, self.limits, LiveState::default());
        if !self.sigma_rules.is_empty() {
            let stage = keywarden_sigma::SigmaConfig {
                rule_paths: self.sigma_rules.clone(),
                logsource: self.sigma_logsource.clone(),
                routing: None,
            }
            .build()?;
            detector = detector.with_sigma(stage);
        }
        let mut pipeline = Writer {
            store,
            detector,
            clock: clock.clone(),
            metrics: metrics.clone(),
            ingest,
            max_decompressed_bytes: self.max_decompressed_bytes,
            state_interval: self.state_interval,
            retention: self.retention,
            alerts_out: None,
            parse_threads: self.parse_threads,
            checkpointer: Some(store_cfg.reader()?),
            alert_book: Default::default(),
        };
        let mut webhook = None;
        if !self.webhooks.is_empty() {
            let (tx, rx) = std::sync::mpsc::sync_channel(WEBHOOK_QUEUE);
            pipeline.alerts_out = Some(tx);
            webhook = Some((self.webhooks.clone(), rx, store_cfg.reader()?));
        }
        let replayed = pipeline.restore()?;
        let listener =
            std::net::TcpListener::bind(&self.listen).map_err(|source| ServerError::Listen {
                addr: self.listen.clone(),
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ServerError::Listen {
                addr: self.listen.clone(),
                source,
            })?;
        let (tx, rx) = std::sync::mpsc::sync_channel(self.queue_capacity);
        let state = AppState {
            keys: Arc::new(self.api_keys.clone()),
            ingestor: Ingestor {
                tx,
                metrics: metrics.clone(),
            },
            readers: Arc::new(Readers::new(readers)),
            metrics,
            inflight: Arc::new(Semaphore::new(self.max_inflight)),
            body_pool: Arc::new(Semaphore::new(budget.body_pool_kib() as usize)),
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            clock,
            jwt: self.jwt.clone(),
            trusted_proxies: self.trusted_proxies.clone().into(),
            sessions: Arc::new(crate::dashboard::Sessions::new(
                self.session_hours.saturating_mul(3600),
                tls.is_some(),
            )),
        };
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        if let Some(dir) = &self.watch {
            sources.push(Box::new(crate::runtime::watch::FileTail {
                dir: dir.clone(),
                store: store_cfg.reader()?,
                metrics: state.metrics.clone(),
                poll: Duration::from_millis(500),
                max_chunk: 8 << 20,
            }));
        }
        if let Some(plan) = &self.collect {
            sources.push(Box::new(crate::runtime::collect_source::CollectSource {
                staging: plan.staging(&self.data_dir),
                plan: plan.clone(),
                store: store_cfg.reader()?,
                metrics: state.metrics.clone(),
                clock: state.clock.clone(),
                whole_read_bytes: budget.whole_read_bytes,
            }));
        }
        // Built here, not in `run`: the stop signal is listened for on it before the address is
        // announced ([`Server::stop_signal`]).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| ServerError::Start {
                what: "runtime",
                source,
            })?;
        Ok(Server {
            rt,
            warnings,
            connections: self
                .connections
                .fitted_to(crate::http::conn::soft_fd_limit()),
            sources,
            listener,
            pipeline,
            rx,
            state,
            replayed,
            webhook,
            tls,
        })
    }
}

/// A server ready to run.
pub struct Server {
    rt: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    pipeline: Writer,
    rx: std::sync::mpsc::Receiver<crate::runtime::queue::Submission>,
    state: AppState,
    replayed: u64,
    webhook: Option<WebhookParts>,
    sources: Vec<Box<dyn Source>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    warnings: Vec<String>,
    connections: crate::http::conn::ConnLimits,
}

type WebhookParts = (
    Vec<crate::webhook::WebhookConfig>,
    std::sync::mpsc::Receiver<keywarden_model::Alert>,
    keywarden_store::Store,
);

/// Alerts waiting for the webhook sender (beyond it: dead-lettered at once).
const WEBHOOK_QUEUE: usize = 10_000;

impl Server {
    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The live Sigma rules (`--rules`), with their load report.
    pub fn sigma(&self) -> Option<&crate::runtime::live::sigma::LiveSigma> {
        self.pipeline.detector.sigma()
    }

    /// What the operator should be told on start (a data directory open to other users).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The connection limits in force (the cap lowered to fit the descriptor limit).
    pub fn connections(&self) -> crate::http::conn::ConnLimits {
        self.connections
    }

    /// Events replayed into the detector on start.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// A handle for other sources (file tail) to submit through.
    pub fn ingestor(&self) -> Ingestor {
        self.state.ingestor.clone()
    }

    /// SIGTERM or Ctrl-C, listened for from this call on (on the server's own runtime): call it
    /// *before* announcing the listening address and pass it to [`Server::run`], so that a stop
    /// sent as soon as the address is read still stops the server gracefully (queue drained,
    /// state saved, WAL checkpointed) instead of killing it.
    pub fn stop_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let _entered = self.rt.enter();
        shutdown_signal_now()
    }

    /// Serves until `shutdown` resolves, then drains the queue and saves state.
    pub fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            rt,
            listener,
            pipeline,
            rx,
            state,
            webhook,
            sources,
            tls,
            connections,
            ..
        } = self;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut source_threads = Vec::new();
        for s in sources {
            let (ingestor, stop) = (state.ingestor.clone(), stop.clone());
            let name = format!("keywarden-{}", s.name());
            source_threads.push(
                std::thread::Builder::new()
                    .name(name)
                    .spawn(move || s.run(ingestor, stop))
                    .map_err(|source| ServerError::Start {
                        what: "source thread",
                        source,
                    })?,
            );
        }
        let sender = match webhook {
            Some((targets, rx, store)) => {
                let clock = state.clock.clone();
                let metrics = state.metrics.clone();
                Some(
                    std::thread::Builder::new()
                        .name("keywarden-webhook".into())
                        .spawn(move || {
                            crate::webhook::run_sender(targets, rx, store, clock, metrics)
                        })
                        .map_err(|source| ServerError::Start {
                            what: "webhook thread",
                            source,
                        })?,
                )
            }
            None => None,
        };
        let writer = pipeline.start(rx)?;
        let metrics = state.metrics.clone();
        let served = rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            // The peer address reaches handlers (the failed-key throttle counts by client).
            let app = router(state);
            crate::http::conn::serve(listener, app, tls, connections, metrics, shutdown).await
        });
        // Sources stop, then the router (and with it every queue sender) is gone: the writer
        // drains and stops.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in source_threads {
            let _ = t.join();
        }
        drop(rt);
        let _ = writer.join();
        if let Some(s) = sender {
            let _ = s.join();
        }
        served.map_err(|source| ServerError::Start {
            what: "HTTP server",
            source,
        })
    }
}

/// Ctrl-C or SIGTERM, listened for from this call on: call it inside the runtime *before*
/// announcing the listening address, so that a signal sent as soon as the address is read is
/// never lost (until a handler is installed SIGTERM kills the process: `keywarden serve` then
/// stopped without its checkpoint; and a signal that arrives between the handler's
/// installation and a later listener's registration is dropped by tokio: `keywarden gateway`
/// then never stopped). Outside a runtime, see [`Server::stop_signal`].
pub fn shutdown_signal_now() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async fn wait(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
