//! Failed `Authorization: Bearer` keys are throttled per client exactly as the dashboard login
//! is (one throttle): the sixth try from a client that failed five times is 429 with
//! `Retry-After`, even with the right key, until the backoff is over. `X-Forwarded-For` is
//! ignored unless the peer is in `[server] trusted_proxies`; then it names the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use keywarden_model::Timestamp;
use keywarden_server::{ApiKeys, ManualClock, ServeConfig};

const KEY: &str = "bearer-test-key-0123456789abcdef";

/// (status, Retry-After) of one API request.
fn get(addr: &str, auth: Option<&str>, forwarded_for: Option<&str>) -> (u16, Option<String>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = String::from("GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: Bearer {a}\r\n"));
    }
    if let Some(x) = forwarded_for {
        req.push_str(&format!("X-Forwarded-For: {x}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let retry = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().to_string())
    });
    (status, retry)
}

/// Runs a server with `config` (TOML text) and a hand-driven clock; stops it after `body`.
fn with_server(config: &str, body: impl FnOnce(&str, &ManualClock)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, config).unwrap();
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0",
        dir.path().join("data"),
        ApiKeys::parse(KEY).unwrap(),
    );
    cfg.apply_file(&path).expect("config");
    let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000 * 1_000_000)));
    let server = cfg.build(clock.clone()).expect("server");
    let addr = server.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run(async move {
            let _ = stop_rx.await;
        })
    });
    body(&addr, &clock);
    let _ = stop_tx.send(());
    running.join().unwrap().expect("clean shutdown");
}

#[test]
fn regression_bearer_guessing_not_throttled() {
    with_server("", |addr, clock| {
        // No credential at all is not a guess: never counted.
        for _ in 0..8 {
            assert_eq!(get(addr, None, None).0, 401);
        }
        for i in 0..5 {
            let (status, retry) = get(addr, Some(&format!("guess-{i:020}")), None);
            assert_eq!((status, retry), (401, None), "guess {i}");
        }
        let (status, retry) = get(addr, Some("guess-5-000000000000000"), None);
        assert_eq!((status, retry.as_deref()), (429, Some("300")));
        assert_eq!(
            get(addr, Some(KEY), None).0,
            429,
            "the right key is refused while locked out"
        );
        // X-Forwarded-For from an untrusted peer does not move the client elsewhere.
        assert_eq!(get(addr, Some(KEY), Some("198.51.100.9")).0, 429);
        clock.advance_seconds(300);
        assert_eq!(get(addr, Some(KEY), None).0, 200, "backoff over");
        // The success cleared the record: five more wrong keys before the next lockout.
        for _ in 0..5 {
            assert_eq!(get(addr, Some("guess-again-000000000"), None).0, 401);
        }
        assert_eq!(get(addr, Some(KEY), None).0, 429);
    });
}

#[test]
fn trusted_proxies_name_the_client_by_forwarded_for() {
    with_server(
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\", \"::1\"]\n",
        |addr, _| {
            for _ in 0..5 {
                let r = get(addr, Some("guess-000000000000000"), Some("198.51.100.7"));
                assert_eq!(r.0, 401);
            }
            assert_eq!(get(addr, Some(KEY), Some("198.51.100.7")).0, 429);
            // Another client behind the same proxy is not locked out.
            assert_eq!(get(addr, Some(KEY), Some("198.51.100.8")).0, 200);
            // The client cannot pick its own address: the right-most untrusted hop counts.
            assert_eq!(
                get(addr, Some(KEY), Some("203.0.113.1, 198.51.100.7")).0,
                429
            );
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, "[server]\ntrusted_proxies = [\"proxy.local\"]\n").unwrap();
    let mut cfg = ServeConfig::new("127.0.0.1:0", dir.path(), ApiKeys::parse(KEY).unwrap());
    let e = cfg.apply_file(&path).unwrap_err().to_string();
    assert!(e.contains("proxy.local"), "{e}");
}
