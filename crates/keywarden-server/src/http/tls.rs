//! TLS for `keywarden serve` (rustls with the aws-lc-rs provider): the certificate chain and
//! private key are read from PEM files. The accept loop ([`crate::http::conn`], `serve`'s and the
//! gateway's) handshakes on each connection's own task, under its connection cap and
//! handshake timeout, so a client that stalls its handshake holds neither the accept loop nor
//! unbounded memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ServerError;

/// A handshake not finished in this time is dropped (also `serve`'s default).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
