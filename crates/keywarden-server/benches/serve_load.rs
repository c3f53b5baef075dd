//! Loopback load benchmark for `keywarden serve` (run with `cargo bench -p keywarden-server`).
//!
//! A bounded load generator (a fixed number of client threads, each with one request in flight)
//! pushes real-shaped UAL `MailItemsAccessed` bodies at an in-process server for a fixed time,
//! while a probe thread sends, every 100 ms, one record from a Storm-0558 IOC IP for a fresh
//! user (in a fresh tenant, so that it is a new alert) and polls the alert API until that
//! user's `ioc-ip` alert appears; a loopback webhook receiver notes when each probe's alert is
//! delivered.
//!
//! Prints: sustained ingest events/s (acknowledged = committed with `synchronous=FULL`), the
//! same bodies parsed with `ingest_bytes` alone on one thread as the baseline (the ratio is the
//! cost of HTTP + store + detection), alert latency p50/p99 from record arrival to the alert in
//! the API, batches per group commit, shed requests, and peak RSS of the process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keywarden_ingest::{Discard, IngestConfig, ingest_bytes};
use keywarden_server::webhook::{PayloadFormat, WebhookConfig};
use keywarden_server::{ApiKeys, ServeConfig, SystemClock};

const KEY: &str = "bench-key-0123456789abcdef";
const EVENTS_PER_REQUEST: usize = 2_000;
const CLIENTS: usize = 3;
const RUN: Duration = Duration::from_secs(20);

fn body(seed: usize) -> Vec<u8> {
    let mut out = String::with_capacity(EVENTS_PER_REQUEST * 420);
    for i in 0..EVENTS_PER_REQUEST {
        let u = (seed * 7 + i) % 500;
        out.push_str(&format!(
            concat!(
                r#"{{"Id":"b{seed}-{i}","RecordType":50,"CreationTime":"2023-06-05T10:{m:02}:{s:02}","#,
                r#""Operation":"MailItemsAccessed","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","#,
                r#""UserId":"user{u}@contoso.com","ClientIPAddress":"198.51.100.{ip}","Workload":"Exchange","#,
                r#""AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"d3590ed6-52b3-4102-aeff-aad2292ab01c","#,
                r#""MailboxOwnerUPN":"user{u}@contoso.com","OperationProperties":[{{"Name":"MailAccessType","Value":"Bind"}}]}}"#,
                "\n"
            ),
            seed = seed,
            i = i,
            m = i % 60,
            s = (i / 60) % 60,
            u = u,
            ip = u % 250
        ));
    }
    out.into_bytes()
}

fn probe_body(n: usize) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"Id":"probe-{n}","RecordType":50,"CreationTime":"2023-06-12T03:00:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"probe-tenant-{n}","#,
            r#""UserId":"probe{n}@contoso.com","ClientIPAddress":"146.70.135.182","Workload":"Exchange"}}"#,
            "\n"
        ),
        n = n
    )
    .into_bytes()
}

/// One HTTP/1.1 request; returns the status and body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// A webhook receiver: user of each delivered alert → when it arrived.
fn webhook_receiver() -> (String, Arc<Mutex<HashMap<String, Instant>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
    let addr = l.local_addr().expect("addr").to_string();
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Ok(clone) = conn.try_clone() else {
                continue;
            };
            let mut r = BufReader::new(clone);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let now = Instant::now();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(u) = v["user"].as_str()
            {
                s2.lock().expect("lock").entry(u.to_string()).or_insert(now);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (addr, seen)
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let bodies: Vec<Vec<u8>> = (0..8).map(body).collect();

    // Baseline: the ingest engine alone, one thread, same bodies.
    let cfg = IngestConfig {
        threads: 1,
        ..IngestConfig::default()
    };
    let t = Instant::now();
    let mut parsed = 0u64;
    while t.elapsed() < Duration::from_secs(3) {
        for b in &bodies {
            parsed += ingest_bytes("bench", b.clone(), &cfg, &mut Discard)
                .counts
                .events;
        }
    }
    let baseline = parsed as f64 / t.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().expect("tempdir");
    let keys = ApiKeys::parse(KEY).expect("key");
    let mut config = ServeConfig::new("127.0.0.1:0", dir.path(), keys);
    config.queue_capacity = 8;
    config.max_inflight = 16;
    // `KEYWARDEN_BENCH_RULES=DIR` also runs those Sigma rules live (`serve --rules DIR`).
    if let Some(rules) = std::env::var_os("KEYWARDEN_BENCH_RULES") {
        config.sigma_rules.push(rules.into());
        println!("with Sigma rules: {}", config.sigma_rules[0].display());
    }
    let (hook, delivered) = webhook_receiver();
    config.webhooks = vec![WebhookConfig {
        url: format!("http://{hook}/hook"),
        secret: "bench".into(),
        format: PayloadFormat::Json,
        max_attempts: 3,
        backoff_ms: 100,
        min_severity: None,
    }];
    let server = config.build(Arc::new(SystemClock)).expect("server");
    let addr = server.local_addr().expect("addr").to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let srv = std::thread::spawn(move || {
        server
            .run(async move {
                let _ = stop_rx.await;
            })
            .expect("run");
    });

    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, stop, events, shed, bodies) = (
                addr.clone(),
                stop.clone(),
                events.clone(),
                shed.clone(),
                bodies.clone(),
            );
            std::thread::spawn(move || {
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    let b = &bodies[n % bodies.len()];
                    n += CLIENTS;
                    match http(&addr, "POST", "/api/v1/ingest", b) {
                        Some((200, _)) => {
                            events.fetch_add(EVENTS_PER_REQUEST as u64, Ordering::Relaxed);
                        }
                        Some((429 | 503, _)) => {
                            shed.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        other => panic!("unexpected answer {other:?}"),
                    }
                }
            })
        })
        .collect();

    let mut latencies = Vec::new();
    let mut hook_latencies = Vec::new();
    let mut n = 0;
    while start.elapsed() < RUN {
        std::thread::sleep(Duration::from_millis(100));
        n += 1;
        let t0 = Instant::now();
        loop {
            match http(&addr, "POST", "/api/v1/ingest", &probe_body(n)) {
                Some((200, _)) => break,
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let path = format!("/api/v1/alerts?rule=ioc-ip&user=probe{n}@contoso.com");
        loop {
            if let Some((200, b)) = http(&addr, "GET", &path, b"")
                && b.contains(&format!("probe{n}@contoso.com"))
            {
                latencies.push(t0.elapsed());
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "probe {n} never alerted"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let user = format!("probe{n}@contoso.com");
        loop {
            if let Some(at) = delivered.lock().expect("lock").get(&user) {
                hook_latencies.push(at.duration_since(t0));
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "probe {n} never delivered"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Group commit: batches per transaction, from the server's own counters.
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let metrics = http(&addr, "GET", "/metrics", b"")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let (batches, groups) = (
        metric(&metrics, "keywarden_commits_total "),
        metric(&metrics, "keywarden_commit_groups_total "),
    );
    let _ = stop_tx.send(());
    let _ = srv.join();

    latencies.sort();
    hook_latencies.sort();
    let total = events.load(Ordering::Relaxed);
    let rate = total as f64 / elapsed;
    println!(
        "serve_load: {CLIENTS} clients x 1 request in flight, {EVENTS_PER_REQUEST} events/request, {elapsed:.1} s"
    );
    println!("  ingest (acknowledged, synchronous=FULL): {rate:.0} events/s ({total} events)");
    println!(
        "  baseline ingest_bytes parse only, 1 thread: {baseline:.0} events/s (serve/baseline = {:.2})",
        rate / baseline
    );
    println!(
        "  alert latency record arrival -> API ({} probes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  alert latency record arrival -> webhook ({} probes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        hook_latencies.len(),
        percentile(&hook_latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&hook_latencies, 0.99).as_secs_f64() * 1e3,
        hook_latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    );
    println!(
        "  group commit: {batches:.0} batches in {groups:.0} transactions ({:.2} per commit)",
        batches / groups.max(1.0)
    );
    println!(
        "  shed requests (429/503): {}",
        shed.load(Ordering::Relaxed)
    );
    if let Some(kb) = peak_rss_kb() {
        println!(
            "  peak RSS (server + load generator): {:.1} MiB",
            kb as f64 / 1024.0
        );
    }
}
