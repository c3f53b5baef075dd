//! Where the gateway listens: `--listen ADDR` (TCP, `127.0.0.1:9000`, `[::1]:9000`; port 0
//! picks a free one) or `--listen unix:PATH` (a Unix-domain socket, for a proxy on the same
//! host: nginx `proxy_pass http://unix:PATH:`, Envoy's `pipe` address).
//!
//! A Unix socket is created mode 0660 (owner and group: put the proxy's user in the gateway's
//! group), replaces a stale socket left by a gateway that died, and is removed when the gateway
//! stops. It never replaces anything but a socket, nor a socket another process still
//! listens on.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use keywarden_server::http::conn::Listener;
use tokio::net::{TcpListener, UnixListener};

use crate::error::GatewayError;

/// The mode of a Unix socket the gateway creates.
pub const UNIX_SOCKET_MODE: u32 = 0o660;

/// What `--listen` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(String),
    Unix(PathBuf),
}

impl ListenAddr {
    /// `unix:PATH` or a TCP address.
    pub fn parse(listen: &str) -> ListenAddr {
        match listen.strip_prefix("unix:") {
            Some(path) => ListenAddr::Unix(PathBuf::from(path)),
            None => ListenAddr::Tcp(listen.to_owned()),
        }
    }
}

/// Where the gateway is listening, as printed on start: `127.0.0.1:9000` or `unix:/run/kw.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Tcp(a) => write!(f, "{a}"),
            Bound::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound listener, where it is, and the Unix socket's file to remove when done.
#[derive(Debug)]
pub struct Bind {
    pub listener: Listener,
    pub bound: Bound,
    pub socket_file: SocketFile,
}

/// The Unix socket's file, removed when this is dropped (if it is still a socket).
#[derive(Debug)]
pub struct SocketFile(Option<PathBuf>);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0
            && std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Binds `listen` (within a tokio runtime).
pub async fn bind(listen: &str) -> Result<Bind, GatewayError> {
    let err = |source| GatewayError::Listen {
        addr: listen.to_owned(),
        source,
    };
    match ListenAddr::parse(listen) {
        ListenAddr::Tcp(addr) => {
            let l = TcpListener::bind(&addr).await.map_err(err)?;
            let bound = Bound::Tcp(l.local_addr().map_err(err)?);
            Ok(Bind {
                listener: Listener::Tcp(l),
                bound,
                socket_file: SocketFile(None),
            })
        }
        ListenAddr::Unix(path) => {
            clear_stale_socket(&path).map_err(err)?;
            let l = UnixListener::bind(&path).map_err(err)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))
                .map_err(err)?;
            Ok(Bind {
                listener: Listener::Unix(l),
                bound: Bound::Unix(path.clone()),
                socket_file: SocketFile(Some(path)),
            })
        }
    }
}

/// Removes a socket at `path` that nobody listens on; refuses anything else that exists there.
fn clear_stale_socket(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a file that is not a socket is in the way (not removed)",
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another process is listening on this socket",
        ));
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_names_tcp_or_unix() {
        assert_eq!(
            ListenAddr::parse("127.0.0.1:0"),
            ListenAddr::Tcp("127.0.0.1:0".into())
        );
        assert_eq!(
            ListenAddr::parse("unix:/run/kw/gw.sock"),
            ListenAddr::Unix("/run/kw/gw.sock".into())
        );
        assert_eq!(
            Bound::Unix("/run/kw/gw.sock".into()).to_string(),
            "unix:/run/kw/gw.sock"
        );
    }

    #[tokio::test]
    async fn a_unix_socket_is_0660_replaces_a_stale_one_and_goes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.sock");
        // A stale socket: bound, then its listener gone.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let listen = format!("unix:{}", path.display());
        let b = bind(&listen).await.unwrap();
        assert_eq!(b.bound, Bound::Unix(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, UNIX_SOCKET_MODE);
        // A second gateway on the same socket is refused while the first listens.
        let e = bind(&listen).await.unwrap_err();
        assert!(format!("{:?}", e).contains("another process"), "{e:?}");
        drop(b);
        assert!(!path.exists(), "the socket file is removed");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_socket_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.sock");
        std::fs::write(&path, b"precious").unwrap();
        let e = bind(&format!("unix:{}", path.display())).await.unwrap_err();
        assert!(format!("{e:?}").contains("not a socket"), "{e:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    }
}
