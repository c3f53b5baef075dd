//! Decisions per second and latency through `keywarden gateway` on loopback, against baselines
//! measured in the same run:
//!
//! 1. `keywarden-token` validating the same ES256 tokens in process (one thread per client
//!    thread), the ceiling the gateway is compared with;
//! 2. the gateway on cache misses (every token distinct) and with the cache warm (one token);
//! 3. nginx proxying to a small upstream without `auth_request` (the proxy's own floor), and the
//!    same nginx with `auth_request` to the gateway (the documented example), when nginx is
//!    installed.
//!
//! Keep-alive HTTP/1.1 clients, `CLIENTS` threads, each phase `PHASE` long, phases interleaved
//! in `ROUNDS` rounds and the best round of each reported (the machine is shared); flood control off
//! (it would refuse a benchmark), decision log on (to a temporary file), as deployed.
//! Run: `cargo bench -p keywarden-gateway --bench gateway_decisions` (about 45 s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_token::{TrustPolicy, Validator};
use support::*;

const CLIENTS: usize = 2;
const PHASE: Duration = Duration::from_millis(1500);
/// Phases run interleaved this many times; the best round of each is reported.
const ROUNDS: usize = 3;

struct Figures {
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

/// Runs `CLIENTS` threads of `f(thread, i)` for `PHASE`, each call timed.
fn drive(f: impl Fn(usize, usize) + Sync) -> Figures {
    let start = Instant::now();
    let lat: Vec<Vec<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    let mut v = Vec::new();
                    let mut i = 0;
                    while start.elapsed() < PHASE {
                        let t0 = Instant::now();
                        f(t, i);
                        v.push(t0.elapsed().as_micros() as u64);
                        i += 1;
                    }
                    v
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut all: Vec<u64> = lat.into_iter().flatten().collect();
    all.sort_unstable();
    Figures {
        per_sec: all.len() as f64 / secs,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
    }
}

/// On-CPU nanoseconds of the calling thread (Linux `schedstat`), when readable.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// In-process validations per second of on-CPU time (immune to the machine being shared).
fn inproc_per_cpu_second(validator: &Validator, tokens: &[String]) -> Option<f64> {
    let (c0, t0) = (thread_cpu_ns()?, Instant::now());
    let mut n = 0u64;
    while t0.elapsed() < PHASE {
        assert!(
            validator
                .validate_at(&tokens[n as usize % tokens.len()], token::NOW)
                .is_ok()
        );
        n += 1;
    }
    let cpu = thread_cpu_ns()?.saturating_sub(c0).max(1) as f64 / 1e9;
    Some(n as f64 / cpu)
}

fn keep_best(best: &mut Option<Figures>, f: Figures) {
    if best.as_ref().is_none_or(|b| f.per_sec > b.per_sec) {
        *best = Some(f);
    }
}

fn print(name: &str, f: &Figures, base: Option<&Figures>) {
    let ratio = base.map_or(String::new(), |b| {
        format!("{:>7.2}×", f.per_sec / b.per_sec)
    });
    println!(
        "{name:<44} {:>10.0}/s  p50 {:>7.0} µs  p99 {:>7.0} µs  {ratio}",
        f.per_sec, f.p50_us, f.p99_us
    );
}

fn tokens(k: &Keys, n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| k.valid(&format!("{tag}-{i}"))).collect()
}

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A keep-alive upstream answering 200 to every request.
fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut w = c;
                loop {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn nginx(bin: &PathBuf, dir: &std::path::Path, server: &str) -> (Child, SocketAddr) {
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let d = dir.display();
    let server = server.replace("LISTEN_ADDR", &listen.to_string());
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\nhttp {{\n access_log off;\n keepalive_requests 100000000;\n client_body_temp_path {d}/b;\n\
         proxy_temp_path {d}/p;\n fastcgi_temp_path {d}/f;\n uwsgi_temp_path {d}/u;\n scgi_temp_path {d}/s;\n\
         {server}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while TcpStream::connect(listen).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, listen)
}

fn main() {
    let k = keys();
    let log = k.dir.path().join("bench-decisions.jsonl");
    let gw = start(
        &k.policy,
        "[flood]\nenabled = false",
        Some(keywarden_gateway::LogTarget::File(log)),
    );
    // Enough distinct tokens that no phase repeats one (misses stay misses).
    let pool = 60_000;
    let miss_tokens: Vec<Vec<String>> = (0..CLIENTS)
        .map(|t| tokens(&k, pool / CLIENTS, &format!("m{t}")))
        .collect();
    let inproc_tokens: Vec<Vec<String>> = (0..CLIENTS)
        .map(|t| tokens(&k, pool / CLIENTS, &format!("p{t}")))
        .collect();
    let validator = Arc::new(
        Validator::from_policy(&TrustPolicy::from_file(&k.policy).unwrap(), token::NOW).unwrap(),
    );
    println!(
        "keywarden gateway: ES256 tokens, {CLIENTS} client threads, {PHASE:?} per phase, loopback"
    );

    let conns: Vec<std::sync::Mutex<KeepAlive>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(KeepAlive::connect(gw.addr)))
        .collect();
    let warm_auth = format!("Bearer {}", k.valid("warm"));
    // Per client thread: how many of its distinct tokens it has sent (across rounds).
    let next: Vec<std::sync::atomic::AtomicUsize> = (0..CLIENTS)
        .map(|_| std::sync::atomic::AtomicUsize::new(0))
        .collect();
    let (mut inproc, mut miss, mut warm) = (None::<Figures>, None::<Figures>, None::<Figures>);
    for _ in 0..ROUNDS {
        let f = drive(|t, i| {
            let tok = &inproc_tokens[t][i % inproc_tokens[t].len()];
            assert!(validator.validate_at(tok, token::NOW).is_ok());
        });
        keep_best(&mut inproc, f);
        let f = drive(|t, _| {
            // Every request a token never sent before: a cache miss.
            let n = next[t].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tok = &miss_tokens[t][n % miss_tokens[t].len()];
            let auth = format!("Bearer {tok}");
            let r = conns[t]
                .lock()
                .unwrap()
                .request("/", &[("Authorization", &auth)]);
            assert_eq!(r.status, 200);
        });
        keep_best(&mut miss, f);
        let f = drive(|t, _| {
            let r = conns[t]
                .lock()
                .unwrap()
                .request("/", &[("Authorization", &warm_auth)]);
            assert_eq!(r.status, 200);
        });
        keep_best(&mut warm, f);
    }
    let (inproc, miss, warm) = (inproc.unwrap(), miss.unwrap(), warm.unwrap());
    print("keywarden-token in process (baseline)", &inproc, None);
    if let Some(cpu) = inproc_per_cpu_second(&validator, &inproc_tokens[0]) {
        println!(
            "  in process per on-CPU second, one thread: {cpu:.0}/s (x{CLIENTS} = {:.0}/s; gateway misses {:.2}×, warm {:.2}× of that)",
            cpu * CLIENTS as f64,
            miss.per_sec / (cpu * CLIENTS as f64),
            warm.per_sec / (cpu * CLIENTS as f64)
        );
    }
    print(
        "gateway, cache misses (distinct tokens)",
        &miss,
        Some(&inproc),
    );
    print("gateway, cache warm (one token)", &warm, Some(&inproc));
    let cs = gw.gateway.cache_stats();
    println!(
        "  cache: {} hits, {} misses, {} entries",
        cs.hits, cs.misses, cs.entries
    );

    let Some(bin) = nginx_binary() else {
        println!("nginx not installed: proxy floor not measured");
        return;
    };
    let up = upstream();
    let plain_dir = tempfile::tempdir().unwrap();
    let (mut plain, plain_addr) = nginx(
        &bin,
        plain_dir.path(),
        &format!(
            "upstream up {{ server {up}; keepalive 16; }}\nserver {{ listen LISTEN_ADDR; location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
        ),
    );
    let pconns: Vec<std::sync::Mutex<KeepAlive>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(KeepAlive::connect(plain_addr)))
        .collect();
    let mut floor = None;
    for _ in 0..ROUNDS {
        keep_best(
            &mut floor,
            drive(|t, _| {
                let r = pconns[t]
                    .lock()
                    .unwrap()
                    .request("/owa/", &[("Authorization", &warm_auth)]);
                assert_eq!(r.status, 200);
            }),
        );
    }
    let floor = floor.unwrap();
    print(
        "nginx proxy, no auth_request (floor)",
        &floor,
        Some(&inproc),
    );
    let _ = plain.kill();
    let _ = plain.wait();

    let auth_dir = tempfile::tempdir().unwrap();
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/GATEWAY.md"
    ))
    .unwrap();
    let example = doc
        .split_once("<!-- nginx-example:start -->\n```nginx\n")
        .and_then(|(_, r)| r.split_once("```"))
        .map(|(b, _)| b.to_string())
        .unwrap()
        .replace("GATEWAY_ADDR", &gw.addr.to_string())
        .replace("UPSTREAM_ADDR", &up.to_string());
    let (mut authn, auth_addr) = nginx(&bin, auth_dir.path(), &example);
    let aconns: Vec<std::sync::Mutex<KeepAlive>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(KeepAlive::connect(auth_addr)))
        .collect();
    let mut through = None;
    for _ in 0..ROUNDS {
        keep_best(
            &mut through,
            drive(|t, _| {
                let r = aconns[t]
                    .lock()
                    .unwrap()
                    .request("/owa/", &[("Authorization", &warm_auth)]);
                assert_eq!(r.status, 200);
            }),
        );
    }
    let through = through.unwrap();
    print(
        "nginx + auth_request to gateway (warm)",
        &through,
        Some(&inproc),
    );
    println!(
        "  added by the check through nginx: p50 {:.0} µs, p99 {:.0} µs; throughput {:.2}× the floor",
        through.p50_us - floor.p50_us,
        through.p99_us - floor.p99_us,
        through.per_sec / floor.per_sec
    );
    let _ = authn.kill();
    let _ = authn.wait();
}
