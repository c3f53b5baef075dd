//! Listening: one listener (plain TCP, or TLS with `--tls-cert/--tls-key`) that speaks HTTP/1.1
//! and HTTP/2 (cleartext prior knowledge, or ALPN `h2` over TLS, for Envoy's gRPC client),
//! the peer address attached to every request, and a graceful shutdown that flushes the
//! decision log. The accept loop is `keywarden serve`'s own ([`keywarden_server::http::conn`]):
//! TLS-handshake, header-read, first-request, keep-alive idle and body timeouts, and a
//! connection cap fitted to the descriptor limit that sheds the longest-idle connection
//! (`[connections]` in `gateway.toml`).

use std::future::Future;
use std::sync::Arc;

use keywarden_server::TlsFiles;
use keywarden_server::http::conn::Listener;

use crate::check::Gateway;
use crate::error::GatewayError;
use crate::http::{Front, handler};
use crate::listen::{Bind, Bound};

/// Builds the rustls configuration from PEM files, offering `h2` and `http/1.1` over ALPN.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, GatewayError> {
    let base = files.build().map_err(GatewayError::Tls)?;
    let mut cfg = (*base).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serves checks on `listener` until `shutdown` completes.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: impl Into<Listener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let front = Front {
        trusted: Arc::new(gateway.trusted().to_vec()),
        http_path_prefix: Arc::from(gateway.http_path_prefix()),
        gateway,
    };
    let limits = front
        .gateway
        .connection_limits()
        .fitted_to(keywarden_server::http::conn::soft_fd_limit());
    let metrics = front.gateway.connection_metrics();
    // The accept loop hands every request to the gateway's handler with its peer address.
    keywarden_server::http::conn::serve(listener, handler(front), tls, limits, metrics, shutdown)
        .await
        .map_err(GatewayError::Serve)
}

/// Binds `listen` (`ADDR` or `unix:PATH`, [`crate::listen`]), reports where through
/// `on_bound`, and serves on a runtime of its own until SIGINT/SIGTERM; then flushes the
/// decision log and removes a Unix socket's file.
pub fn run(
    gateway: Gateway,
    listen: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
    on_bound: impl FnOnce(&Bound),
) -> Result<(), GatewayError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kw-gateway")
        .build()
        .map_err(GatewayError::Serve)?;
    let gateway = Arc::new(gateway);
    let served = rt.block_on(async {
        let Bind {
            listener,
            bound,
            socket_file,
        } = crate::listen::bind(listen).await?;
        // Listening for SIGINT/SIGTERM before the address is announced: a stop sent as soon
        // as it is read is never lost (regression: the gateway_cli test hung on a lost TERM).
        let shutdown = keywarden_server::shutdown_signal_now();
        on_bound(&bound);
        let served = serve(gateway.clone(), listener, tls, shutdown).await;
        drop(socket_file);
        served
    });
    drop(rt);
    // Every connection task is gone with the runtime: the gateway is ours again to close.
    if let Ok(mut g) = Arc::try_unwrap(gateway) {
        g.close_log();
    }
    served
}
