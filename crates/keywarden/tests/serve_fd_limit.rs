//! `keywarden serve` with its open-file limit lowered (`ulimit -n 128`), flooded with 300 idle
//! sockets: the connection cap (fitted to the descriptor limit) sheds the longest-idle sockets,
//! so `/healthz` and an ingest from a good client are still served, promptly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serve_support::*;

fn record(id: &str) -> Vec<u8> {
    (serde_json::json!({
        "Id": id, "RecordType": 50, "CreationTime": "2023-06-12T03:00:00",
        "Operation": "MailItemsAccessed", "OrganizationId": "contoso-tenant",
        "UserId": "alice@contoso.com", "MailboxOwnerUPN": "alice@contoso.com",
        "ClientIPAddress": "146.70.135.182", "Workload": "Exchange",
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}]
    })
    .to_string()
        + "\n")
        .into_bytes()
}

/// A request that must be answered within `limit` (the flood must not starve it).
fn answered(addr: &str, method: &str, path: &str, body: &[u8], limit: Duration) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(limit)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    use std::io::{Read, Write};
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path} not answered within {limit:?}: {e}"));
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default();
    Resp {
        status,
        headers: vec![],
        body,
    }
}

#[test]
fn regression_idle_connections_exhaust_fds() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve_with_fd_limit(dir.path(), None, 128);
    assert_eq!(
        answered(&srv.addr, "GET", "/healthz", b"", Duration::from_secs(5)).status,
        200
    );
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..300 {
        let s = TcpStream::connect(&srv.addr).expect("the backlog takes the flood");
        idle.push(s);
    }
    let flooded = started.elapsed();
    let asked = Instant::now();
    let health = answered(&srv.addr, "GET", "/healthz", b"", Duration::from_secs(10));
    assert_eq!(health.status, 200);
    let health_took = asked.elapsed();
    let body = record("fd-flood-1");
    let r = answered(
        &srv.addr,
        "POST",
        "/api/v1/ingest?name=flood",
        &body,
        Duration::from_secs(10),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // The flood was shed, not served: most idle sockets have been closed by the server.
    let metrics = String::from_utf8(
        answered(&srv.addr, "GET", "/metrics", b"", Duration::from_secs(10)).body,
    )
    .unwrap();
    let shed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("keywarden_connections_shed_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("shed counter");
    assert!(shed >= 200, "only {shed} idle sockets shed\n{metrics}");
    eprintln!(
        "300 idle sockets under ulimit -n 128 (opened in {flooded:?}): /healthz answered in {health_took:?}; {shed} shed"
    );
    drop(idle);
}
