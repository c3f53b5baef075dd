//! `serve` over TLS on loopback, with a CA and a server certificate generated at test time by
//! the `openssl` CLI: a client trusting the CA gets answers (and `Secure` session cookies), a
//! client that does not trust it fails its handshake, and plain HTTP gets no HTTP answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::{certificates, client};
use keywarden_server::{ApiKeys, ServeConfig, SystemClock, TlsFiles};
use rustls::pki_types::ServerName;

const KEY: &str = "tls-test-key-0123456789abcdef";

/// One HTTPS request; the raw response text, or the TLS/IO error.
fn https(addr: &str, cfg: Arc<rustls::ClientConfig>, request: &str) -> std::io::Result<String> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(cfg, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // A server may close without close_notify once the response is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&out).to_string())
}

#[test]
fn serves_https_with_secure_cookies_and_refuses_untrusted_or_plain_clients() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0",
        dir.path().join("data"),
        ApiKeys::parse(KEY).unwrap(),
    );
    cfg.tls = Some(TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    });
    let server = cfg.build(Arc::new(SystemClock)).expect("server");
    assert_eq!(server.scheme(), "https");
    let addr = server.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run(async move {
            let _ = stop_rx.await;
        })
    });

    let trusted = client(Some(&dir.path().join("ca.pem")));
    let health = https(
        &addr,
        trusted.clone(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("https healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");

    let body = format!("key={KEY}");
    let login = https(
        &addr,
        trusted.clone(),
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .expect("https login");
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let untrusted = https(
        &addr,
        client(None),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        untrusted.is_err(),
        "a client not trusting the CA must fail: {untrusted:?}"
    );

    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "plain HTTP answered over the TLS port"
    );

    // The server still serves after the failed handshakes.
    let again = https(
        &addr,
        trusted,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .expect("https after bad clients");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");

    let _ = stop_tx.send(());
    running.join().unwrap().expect("clean shutdown");
}
