//! TLS for `keywarden serve` (rustls with the aws-lc-rs provider): the certificate chain and
//! private key are read from PEM files. `serve` handshakes on each connection's own task, under
//! its connection cap and timeout ([`crate::conn`]); the [`TlsListener`] here is for other
//! `axum::serve` users (the gateway): it hands axum connections whose handshake has completed.
//! Handshakes run on their own tasks, bounded in number and time, so a client that stalls its
//! handshake holds neither the accept loop nor unbounded memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::ServerError;

/// Handshakes in progress at once (beyond it new connections wait in the kernel backlog).
const MAX_HANDSHAKES: usize = 256;
/// A handshake not finished in this time is dropped (also `serve`'s default).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the HTTP server to take them.
const READY_QUEUE: usize = 64;

/// `--tls-cert FILE --tls-key FILE`: PEM certificate chain (leaf first) and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a rustls server configuration (HTTP/1.1 over ALPN).
    pub fn build(&self) -> Result<Arc<rustls::ServerConfig>, ServerError> {
        let bad = |what: &'static str, path: &Path, reason: String| ServerError::Tls {
            what,
            path: path.to_path_buf(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad("certificate", &self.cert, e.to_string()))?;
        if certs.is_empty() {
            return Err(bad(
                "certificate",
                &self.cert,
                "no CERTIFICATE block".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| bad("private key", &self.key, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("configuration for", &self.cert, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad("certificate and key", &self.cert, e.to_string()))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// A listener that yields TLS connections (for `axum::serve`).
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (call inside the runtime).
    pub fn spawn(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        // Out of descriptors or a reset before accept: back off, keep serving.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                    drop(permit);
                    if let Ok(Ok(tls)) = shake {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { ready, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let files = TlsFiles {
            cert: empty.clone(),
            key: dir.path().join("missing.pem"),
        };
        match files.build() {
            Err(ServerError::Tls { what, path, .. }) => {
                assert_eq!(what, "certificate");
                assert_eq!(path, empty);
            }
            other => panic!("{other:?}"),
        }
    }
}
