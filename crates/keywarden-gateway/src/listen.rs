//! Where the gateway listens: `--listen ADDR` (TCP, `127.0.0.1:9000`, `[::1]:9000`; port 0
//! picks a free one) or `--listen unix:PATH` (a Unix-domain socket, for a proxy on the same
//! host: nginx `proxy_pass http://unix:PATH:`, Envoy's `pipe` address).
//!
//! A Unix socket is bound under a temporary name beside `PATH`, made mode 0660 (owner and
//! group: put the proxy's user in the gateway's group), then linked into place, so it never
//! appears at `PATH` with another mode, and never replaces what appeared there meanwhile. A stale socket left by a gateway that died (connecting
//! to it is refused) is replaced; anything else at `PATH` stops the start: a file that is not a
//! socket, a socket another process listens on, or one it cannot tell about. On stop the socket
//! is removed only if `PATH` is still the one this gateway made (same device and inode). The
//! directory should be writable by the gateway's user only (as any daemon's socket directory,
//! e.g. `/run/keywarden` 0750): whoever can write there can replace the socket. Abstract
//! sockets (`unix:@name`) are not supported.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use keywarden_server::http::conn::{Listener, UNIX_PEER};
use tokio::net::{TcpListener, UnixListener};

use crate::config::GatewayConfig;
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

/// The Unix socket's file, removed when this is dropped if it is still the one bound here
/// (path, device, inode).
#[derive(Debug)]
pub struct SocketFile(Option<(PathBuf, u64, u64)>);

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Some((p, dev, ino)) = &self.0
            && std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.file_type().is_socket() && m.dev() == *dev && m.ino() == *ino)
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What the operator should be told on start about listening on `listen` with `config`: on a
/// Unix socket every peer is [`UNIX_PEER`], so unless `trusted_proxies` trusts it (the default
/// does) every client shares one flood-control bucket and the decision log names none.
pub fn warnings(listen: &str, config: &GatewayConfig) -> Vec<String> {
    let ListenAddr::Unix(_) = ListenAddr::parse(listen) else {
        return Vec::new();
    };
    let trusted = config
        .trusted_networks()
        .is_ok_and(|nets| nets.iter().any(|n| n.contains(UNIX_PEER.ip())));
    if trusted {
        return Vec::new();
    }
    vec![format!(
        "on a Unix socket every peer counts as {}, which trusted_proxies does not list: all clients \
         share one flood-control bucket and the decision log names none of them; list \"{}\" in \
         trusted_proxies so that the proxy's X-Forwarded-For names each client",
        UNIX_PEER.ip(),
        UNIX_PEER.ip()
    )]
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
            let (l, dev, ino) = bind_unix(&path).await.map_err(err)?;
            Ok(Bind {
                listener: Listener::Unix(l),
                bound: Bound::Unix(path.clone()),
                socket_file: SocketFile(Some((path, dev, ino))),
            })
        }
    }
}

/// The longest Unix socket path the kernel takes (`sun_path`, less its terminating NUL).
const SUN_PATH_MAX: usize = 107;

/// Binds `path` as [the module says](self): stale socket cleared, bound under a temporary name,
/// mode set, linked into place (a link, unlike a rename, never replaces what may have appeared
/// at `path` meanwhile: another gateway starting at the same moment, or any file). Returns the
/// listener and the socket file's device and inode.
async fn bind_unix(path: &Path) -> std::io::Result<(UnixListener, u64, u64)> {
    use std::io::{Error, ErrorKind};
    let invalid = |m: String| Error::new(ErrorKind::InvalidInput, m);
    if path.as_os_str().as_bytes().first() == Some(&b'@') {
        return Err(invalid(
            "abstract Unix sockets (unix:@name) are not supported".into(),
        ));
    }
    if path.file_name().is_none() {
        return Err(invalid("unix:PATH needs a file name for the socket".into()));
    }
    clear_stale_socket(path).await?;
    // Bound under a name of its own in the same directory; one in use (another gateway
    // binding, or a leftover) is never removed, the next name is tried.
    let mut bound = None;
    for attempt in 0..16u32 {
        let tmp = path.with_file_name(format!(".kw.{}.{attempt}", std::process::id()));
        if tmp.as_os_str().len() > SUN_PATH_MAX {
            return Err(invalid(format!(
                "the socket's directory leaves no room for its temporary name (at most {SUN_PATH_MAX} bytes in all)"
            )));
        }
        match UnixListener::bind(&tmp) {
            Ok(l) => {
                bound = Some((l, tmp));
                break;
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    let Some((l, tmp)) = bound else {
        return Err(Error::new(
            ErrorKind::AddrInUse,
            "no free temporary name beside the socket",
        ));
    };
    let placed = (|| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))?;
        let m = std::fs::symlink_metadata(&tmp)?;
        if !m.file_type().is_socket() {
            return Err(Error::other("the socket was replaced while binding"));
        }
        std::fs::hard_link(&tmp, path).map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                Error::new(
                    ErrorKind::AddrInUse,
                    "a file appeared at the socket's path while binding (not replaced)",
                )
            } else {
                e
            }
        })?;
        Ok((m.dev(), m.ino()))
    })();
    // The temporary name goes whatever happened; the socket lives on under `path`.
    let _ = std::fs::remove_file(&tmp);
    placed.map(|(dev, ino)| (l, dev, ino))
}

/// Removes a socket at `path` that nobody listens on (connecting is refused); refuses
/// anything else that exists there.
async fn clear_stale_socket(path: &Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            "a file that is not a socket is in the way (not removed)",
        ));
    }
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::UnixStream::connect(path),
    )
    .await;
    match probe {
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Ok(Ok(_)) => Err(Error::new(
            ErrorKind::AddrInUse,
            "another process is listening on this socket",
        )),
        Err(_) => Err(Error::new(
            ErrorKind::AddrInUse,
            "another process holds this socket (connecting timed out)",
        )),
        Ok(Err(e)) => Err(Error::new(
            e.kind(),
            format!(
                "cannot tell whether another process listens on this socket ({e}): not removed"
            ),
        )),
    }
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

    /// Found in review: the socket's file was removed on stop whatever socket was at its
    /// path by then, so a gateway stopping after another had taken the path removed the
    /// newer one's socket.
    #[tokio::test]
    async fn regression_a_stopping_gateway_removed_a_socket_that_was_no_longer_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.sock");
        let b = bind(&format!("unix:{}", path.display())).await.unwrap();
        // No temporary name is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("gw.sock")]);
        // Another gateway's socket at the path now.
        std::fs::remove_file(&path).unwrap();
        let _newer = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(b);
        assert!(path.exists(), "the newer socket is left alone");
    }

    #[test]
    fn a_unix_socket_whose_peer_is_not_trusted_is_warned_about() {
        let default = GatewayConfig::default();
        assert!(warnings("unix:/run/kw.sock", &default).is_empty());
        assert!(warnings("127.0.0.1:0", &default).is_empty());
        let none = GatewayConfig::from_toml("trusted_proxies = []").unwrap();
        let w = warnings("unix:/run/kw.sock", &none);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("one flood-control bucket"), "{w:?}");
        assert!(warnings("127.0.0.1:0", &none).is_empty());
    }

    #[tokio::test]
    async fn abstract_socket_names_are_refused() {
        let e = bind("unix:@keywarden").await.unwrap_err();
        assert!(format!("{e:?}").contains("abstract"), "{e:?}");
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
