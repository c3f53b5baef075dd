//! Clients that hold sockets without finishing a request, plain and TLS, over loopback: an idle
//! socket, a partial request head, a head dripped one byte at a time, a stalled request body, a
//! stalled TLS handshake, an idle keep-alive connection; each is closed within its timeout
//! (1 s here) while a good client is served meanwhile. And the connection cap sheds the
//! longest-idle sockets so that a good client gets in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keywarden_server::{ApiKeys, ServeConfig, SystemClock, TlsFiles};
use rustls::pki_types::ServerName;

const KEY: &str = "slow-client-test-key-0123456789";

/// A running server; stopped on drop.
struct Running {
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), keywarden_server::ServerError>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(dir: &Path, config: &str, tls: bool) -> Running {
    let path = dir.join("serve.toml");
    std::fs::write(&path, config).unwrap();
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0",
        dir.join("data"),
        ApiKeys::parse(KEY).unwrap(),
    );
    cfg.apply_file(&path).expect("config");
    if tls {
        common::certificates(dir);
        cfg.tls = Some(TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        });
    }
    let server = cfg.build(Arc::new(SystemClock)).expect("server");
    let addr = server.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        server.run(async move {
            let _ = rx.await;
        })
    });
    Running {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    }
}

/// Reads until the server closes the stream; how long that took from `since` (None: still
/// open after `limit`).
fn closed_after(s: impl Read, since: Instant, limit: Duration) -> Option<Duration> {
    answered_then_closed(s, since, limit).0
}

/// [`closed_after`], with what the server sent before closing.
fn answered_then_closed(
    mut s: impl Read,
    since: Instant,
    limit: Duration,
) -> (Option<Duration>, String) {
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    while since.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return (Some(since.elapsed()), text(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (Some(since.elapsed()), text(&got)),
        }
    }
    (None, text(&got))
}

fn tcp(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls(addr: &str, dir: &Path) -> Tls {
    let cfg = common::client(Some(&dir.join("ca.pem")));
    let conn =
        rustls::ClientConnection::new(cfg, ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp(addr));
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("handshake");
    }
    s
}

/// A good client: `GET /healthz` answered 200, and how long it took.
fn healthz(mut s: impl Read + Write) -> Duration {
    let t = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while t.elapsed() < Duration::from_secs(10) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("healthz: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    t.elapsed()
}

/// Sends the bytes of an endless header, one every 100 ms, until the server closes.
fn drip(mut s: impl Write + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ");
        for _ in 0..100 {
            if s.write_all(b"a").and_then(|()| s.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

const TIMEOUTS: &str = "[server]\nheader_read_timeout_seconds = 1\nkeep_alive_idle_seconds = 30\n\
                        tls_handshake_timeout_seconds = 1\nbody_read_timeout_seconds = 1\n";

/// Closed no earlier than the timeout's half and well before the slack runs out.
fn assert_closed_in_time(what: &str, took: Option<Duration>) -> Duration {
    let took = took.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
    assert!(
        took >= Duration::from_millis(500) && took <= Duration::from_secs(4),
        "{what}: closed after {took:?}"
    );
    eprintln!("{what}: closed after {took:?}");
    took
}

#[test]
fn regression_no_header_read_timeout() {
    // Plain HTTP.
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), TIMEOUTS, false);
    let t0 = Instant::now();
    let idle = tcp(&srv.addr);
    let mut partial = tcp(&srv.addr);
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let dripping = tcp(&srv.addr);
    let dripper = drip(dripping.try_clone().unwrap());
    let mut body = tcp(&srv.addr);
    body.write_all(
        format!(
            "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 100000\r\n\r\n{{\"Id\":"
        )
        .as_bytes(),
    )
    .unwrap();
    let waited = healthz(tcp(&srv.addr));
    assert!(
        waited < Duration::from_millis(500),
        "good client waited {waited:?}"
    );
    let limit = Duration::from_secs(5);
    assert_closed_in_time("plain idle", closed_after(idle, t0, limit));
    assert_closed_in_time("plain partial head", closed_after(partial, t0, limit));
    assert_closed_in_time("plain dripping head", closed_after(dripping, t0, limit));
    let (took, answer) = answered_then_closed(body, t0, limit);
    assert_closed_in_time("plain stalled body", took);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    dripper.join().unwrap();
    assert!(healthz(tcp(&srv.addr)) < Duration::from_millis(500));
    drop(srv);

    // TLS: a stalled handshake, then the same stalls after a completed one.
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), TIMEOUTS, true);
    let t0 = Instant::now();
    let no_hello = tcp(&srv.addr);
    let mut half_hello = tcp(&srv.addr);
    half_hello
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let idle = tls(&srv.addr, dir.path());
    let mut partial = tls(&srv.addr, dir.path());
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    partial.flush().unwrap();
    let dripper = {
        let s = tls(&srv.addr, dir.path());
        drip(s)
    };
    let waited = healthz(tls(&srv.addr, dir.path()));
    assert!(
        waited < Duration::from_millis(500),
        "good TLS client waited {waited:?}"
    );
    let limit = Duration::from_secs(5);
    assert_closed_in_time("TLS no ClientHello", closed_after(no_hello, t0, limit));
    assert_closed_in_time(
        "TLS partial ClientHello",
        closed_after(half_hello, t0, limit),
    );
    assert_closed_in_time("TLS idle", closed_after(idle, t0, limit));
    assert_closed_in_time("TLS partial head", closed_after(partial, t0, limit));
    let dripped = Instant::now();
    dripper.join().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "TLS dripping head kept open {:?} (joined after {:?})",
        t0.elapsed(),
        dripped.elapsed()
    );
    assert!(healthz(tls(&srv.addr, dir.path())) < Duration::from_millis(500));
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(
        dir.path(),
        "[server]\nheader_read_timeout_seconds = 30\nkeep_alive_idle_seconds = 1\n",
        false,
    );
    let mut s = tcp(&srv.addr);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 256];
    while !raw.ends_with(b"ok\n") {
        match s.read(&mut buf) {
            Ok(0) => panic!("closed before the answer"),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let answered = Instant::now();
    assert_closed_in_time(
        "keep-alive idle",
        closed_after(s, answered, Duration::from_secs(5)),
    );
    // A socket that never sends is idle too, whatever the (long) header timeout.
    let t0 = Instant::now();
    assert_closed_in_time(
        "fresh idle",
        closed_after(tcp(&srv.addr), t0, Duration::from_secs(5)),
    );
}

#[test]
fn the_connection_cap_sheds_the_longest_idle_for_a_good_client() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), "[server]\nmax_connections = 16\n", false);
    let mut flood: Vec<TcpStream> = (0..40).map(|_| tcp(&srv.addr)).collect();
    // Let the server accept them all before the good client arrives.
    std::thread::sleep(Duration::from_millis(300));
    let waited = healthz(tcp(&srv.addr));
    assert!(waited < Duration::from_millis(500), "waited {waited:?}");
    // The oldest were shed; the newest are still open.
    let t0 = Instant::now();
    for (i, s) in flood.drain(..20).enumerate() {
        assert!(
            closed_after(s, t0, Duration::from_secs(2)).is_some(),
            "socket {i} was not shed"
        );
    }
    let open = Arc::new(AtomicBool::new(true));
    let last = flood.pop().unwrap();
    last.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1];
    if let Ok(0) = (&last).read(&mut buf) {
        open.store(false, Ordering::SeqCst);
    }
    assert!(
        open.load(Ordering::SeqCst),
        "the newest idle socket was shed"
    );
}
