//! Webhooks against real loopback HTTP receivers: a signed JSON POST for a live alert, a retry
//! after a 500, and a dead letter when the target stays down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keywarden_server::webhook::{PayloadFormat, WebhookConfig, sign};
use keywarden_server::{ApiKeys, ServeConfig, SystemClock};

const KEY: &str = "webhook-test-key-0123456789";

fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw.split_once("\r\n\r\n").unwrap().1.to_string())
}

/// (signature header, body) of each request the receiver got; answers 500 to the first.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn receiver() -> (String, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut sig = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-keywarden-signature:") {
                    sig = line.split_once(':').unwrap().1.trim().to_string();
                }
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            let first = {
                let mut g = s2.lock().unwrap();
                g.push((sig, body));
                g.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = conn.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (addr, seen)
}

fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn alerts_are_signed_retried_and_dead_lettered() {
    let (recv, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServeConfig::new("127.0.0.1:0", dir.path(), ApiKeys::parse(KEY).unwrap());
    cfg.webhooks = vec![
        WebhookConfig {
            url: format!("http://{recv}/hook"),
            secret: "s3cret".into(),
            format: PayloadFormat::Json,
            max_attempts: 3,
            backoff_ms: 20,
            min_severity: None,
        },
        WebhookConfig {
            // Nothing listens on port 1: every attempt fails.
            url: "http://127.0.0.1:1/down".into(),
            secret: "s3cret".into(),
            format: PayloadFormat::Slack,
            max_attempts: 2,
            backoff_ms: 20,
            min_severity: None,
        },
    ];
    let server = cfg.build(Arc::new(SystemClock)).unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = std::thread::spawn(move || {
        server
            .run(async move {
                let _ = stopped.await;
            })
            .unwrap()
    });
    // One record from a Storm-0558 proxy IP inside its window.
    let record = concat!(
        r#"{"Id":"r1","RecordType":50,"CreationTime":"2023-06-12T03:00:00","Operation":"MailItemsAccessed","#,
        r#""OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","UserId":"victim@contoso.com","#,
        r#""ClientIPAddress":"146.70.135.182","Workload":"Exchange"}"#,
        "\n"
    );
    let (status, body) = http(&addr, "POST", "/api/v1/ingest", record.as_bytes());
    assert_eq!(status, 200, "{body}");
    let got = wait("a delivered webhook after one 500", || {
        let g = seen.lock().unwrap();
        (g.len() >= 2).then(|| g.clone())
    });
    for (sig, body) in &got {
        assert_eq!(sig, &sign("s3cret", body), "signature over the exact body");
    }
    let alert: serde_json::Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(alert["rule_id"], "ioc-ip");
    assert_eq!(alert["user"], "victim@contoso.com");
    assert!(alert["incident_id"].as_str().is_some());
    wait("a dead letter for the target that stays down", || {
        let (_, stats) = http(&addr, "GET", "/api/v1/stats", b"");
        let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
        (v["dead_letters"] == 1).then_some(())
    });
    let (_, metrics) = http(&addr, "GET", "/metrics", b"");
    assert!(
        metrics.contains("keywarden_webhook_sent_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("keywarden_webhook_dead_letters_total 1\n"));
    let _ = stop.send(());
    run.join().unwrap();
}
