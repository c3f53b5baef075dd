//! Decisions per second and latency through `keywarden gateway` on loopback, against baselines
//! measured in the same run:
//!
//! 1. `keywarden-token` validating in process, one thread per client thread, **the same tokens**
//!    the gateway is sent on cache misses in that round (the ceiling the gateway is compared with);
//! 2. the gateway on cache misses (every token sent once: the bench checks that the cache saw no
//!    hit in the phase) and with the cache warm (one token);
//! 3. nginx proxying to a small upstream without `auth_request` (the proxy's own floor, proxied
//!    as the example proxies: a keep-alive upstream), and the same nginx with `auth_request` to
//!    the gateway (the documented example), when nginx is installed.
//!
//! Every token is signed before the timed phases start. The clients are lean: one keep-alive
//! HTTP/1.1 connection per client thread, the request written with one `write` from a reused
//! buffer, the response read into a reused buffer and only its status and `Content-Length`
//! parsed, so the client's share of the two cores stays small. `CLIENTS` threads everywhere (in
//! process, clients, the gateway's runtime workers); each phase a fixed number of requests per
//! thread, phases interleaved in `ROUNDS` rounds and the best round of each reported (the
//! machine is shared). Besides wall-clock rates, each phase reports the process's CPU time per
//! decision (gateway and clients together, from `/proc/self/stat`; nginx is another process)
//! and the gateway's own (that less the client threads', measured per thread), which the
//! machine's other load does not change much. Flood control off (it would refuse a
//! benchmark), decision log on (to a temporary file), as deployed.
//!
//! 4. `Gateway::check` alone, in process, on the warm token (what the HTTP front hands it for the
//!    warm phase's request, without the transport: HTTP parsing, the response, loopback TCP);
//! 5. the same two HTTP/1.1 phases with `CONC_PER_CLIENT` keep-alive connections per client
//!    thread, one request in flight on each (`miss-conc`, `warm-conc`; misses on tokens of their
//!    own): the gateway under a busy proxy's load, where one wake-up of a worker finds several
//!    requests ready, against the one-at-a-time phases' wake-up per request;
//! 6. the gateway called as Envoy calls it: gRPC `envoy.service.auth.v3.Authorization/Check` from
//!    a tonic client keeping `GRPC_IN_FLIGHT` calls in flight over `GRPC_CONNS` HTTP/2
//!    connections (Envoy multiplexes `ext_authz` calls on h2), on cache misses and warm;
//! 7. the two concurrent phases against a second gateway listening on a Unix-domain socket
//!    (`--listen unix:PATH`, a proxy on the same host: `miss-unix`, `warm-unix`; misses on the
//!    `miss-conc` tokens, which that gateway has not cached);
//! 8. `cache-memory`: the resident set a full verdict cache adds (100 000 distinct tokens
//!    through `Gateway::check` in process), in bytes per entry.
//!
//! Run: `cargo bench -p keywarden-gateway --bench gateway_decisions` (a minute or two, most of it
//! signing tokens). `KEYWARDEN_BENCH_PHASES=inproc,miss,warm,miss-conc,warm-conc,miss-unix,
//! warm-unix,check,grpc-miss,grpc-warm,cache-memory,nginx` (any subset) and
//! `KEYWARDEN_BENCH_ROUNDS=N` select what runs, e.g. to profile one phase with `perf record`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_gateway::envoy::{
    Address, AttributeContext, CheckRequest, CheckResponse, HttpRequest, Peer, Request,
    SocketAddress,
};
use keywarden_gateway::grpc::CHECK_PATH;
use keywarden_token::{TrustPolicy, Validator};
use support::*;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

/// The same allocator as the `keywarden` binary that runs `keywarden gateway`: the gateway's
/// per-request allocations are measured as they ship (the system allocator cost ~1 µs more
/// per warm decision).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 2;
/// Requests per client thread in a cache-miss (and in-process) phase: distinct tokens.
const MISS_PER_CLIENT: usize = 12_000;
/// Requests per client thread in a warm (and nginx) phase.
const WARM_PER_CLIENT: usize = 40_000;
const NGINX_PER_CLIENT: usize = 12_000;
/// HTTP/2 connections of the gRPC client (as an Envoy with a few workers keeps).
const GRPC_CONNS: usize = 2;
/// gRPC calls kept in flight, spread over the connections.
const GRPC_IN_FLIGHT: usize = 128;
/// Keep-alive connections per client thread in the `*-conc` phases, one request in flight on
/// each (as a busy nginx keeps its upstream keep-alive pool busy): `CLIENTS` × this in flight.
const CONC_PER_CLIENT: usize = 16;
/// Phases run interleaved this many times; the best round of each is reported.
const ROUNDS: usize = 3;

struct Figures {
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU time of this process per operation (all its threads), in µs.
    cpu_us: f64,
    /// The same less the client threads' (the bench's HTTP client threads or gRPC client
    /// runtime), in µs: the gateway's own CPU per decision (its workers, blocking pool and
    /// decision-log writer). For the in-process baseline all of it is the client's.
    gw_cpu_us: f64,
}

impl Figures {
    /// A phase's figures from its latencies (µs, one per operation), wall seconds, process CPU
    /// seconds and the client threads' CPU seconds.
    fn of(mut all: Vec<u64>, secs: f64, cpu: f64, client_cpu: f64) -> Figures {
        all.sort_unstable();
        Figures {
            per_sec: all.len() as f64 / secs,
            p50_us: percentile(&all, 0.50),
            p99_us: percentile(&all, 0.99),
            cpu_us: cpu * 1e6 / all.len() as f64,
            gw_cpu_us: (cpu - client_cpu).max(0.0) * 1e6 / all.len() as f64,
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

/// CPU time of this process so far (user + system, all threads), from `/proc/self/stat`.
fn process_cpu() -> Option<Duration> {
    stat_cpu("/proc/self/stat")
}

/// User + system CPU time from a `/proc/.../stat` file (a process's or a thread's).
fn stat_cpu(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// Thread name prefix of the gRPC client runtime's workers.
const GRPC_CLIENT_THREADS: &str = "bench-grpc";

/// CPU time so far of this process's live threads whose name starts with `prefix`.
fn threads_cpu(prefix: &str) -> Duration {
    let mut sum = Duration::ZERO;
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            let stat = t.path().join("stat");
            sum += stat_cpu(&stat.to_string_lossy()).unwrap_or_default();
        }
    }
    sum
}

/// Runs `CLIENTS` threads, thread `t` calling `f(t, i)` for `i` in `0..n`, each call timed.
fn drive(n: usize, f: impl Fn(usize, usize) + Sync) -> Figures {
    run_clients(|t| {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let t0 = Instant::now();
            f(t, i);
            v.push(t0.elapsed().as_micros() as u64);
        }
        v
    })
}

/// Runs `CLIENTS` threads, thread `t` sending `n` requests over its `conns[t]`, one in flight
/// on each connection: it writes request `i` on connection `i % conns[t].len()` for a batch
/// of one request per connection, then reads the batch's answers in turn; request `i` sends
/// `token(t, i)` and is timed from its write to its answer (so the time it waited behind the
/// others of its batch counts, as it would behind a busy proxy). Every answer must be 200.
fn drive_conc<'a>(
    conns: &[std::sync::Mutex<Vec<Lean>>],
    n: usize,
    token: impl Fn(usize, usize) -> &'a str + Sync,
) -> Figures {
    run_clients(|t| {
        let mut conns = conns[t].lock().unwrap();
        let width = conns.len();
        let mut v = Vec::with_capacity(n);
        let mut sent = Vec::with_capacity(width);
        for batch in (0..n).step_by(width) {
            sent.clear();
            for (c, i) in conns.iter_mut().zip(batch..n) {
                sent.push(Instant::now());
                c.send("/", token(t, i));
            }
            for (c, t0) in conns.iter_mut().zip(&sent) {
                assert_eq!(c.status(), 200);
                v.push(t0.elapsed().as_micros() as u64);
            }
        }
        v
    })
}

/// Runs `client(t)` on `CLIENTS` threads (it returns its requests' latencies in µs) and
/// measures the phase: wall time, the process's CPU and the client threads' own.
fn run_clients(client: impl Fn(usize) -> Vec<u64> + Sync) -> Figures {
    let cpu0 = process_cpu();
    let start = Instant::now();
    let lat: Vec<(Vec<u64>, Duration)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let client = &client;
                s.spawn(move || {
                    let c0 = stat_cpu("/proc/thread-self/stat").unwrap_or_default();
                    let v = client(t);
                    let c1 = stat_cpu("/proc/thread-self/stat").unwrap_or_default();
                    (v, c1.saturating_sub(c0))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let client_cpu: f64 = lat.iter().map(|(_, c)| c.as_secs_f64()).sum();
    let lat: Vec<Vec<u64>> = lat.into_iter().map(|(v, _)| v).collect();
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => f64::NAN,
    };
    Figures::of(lat.into_iter().flatten().collect(), secs, cpu, client_cpu)
}

/// An Envoy-shaped `CheckRequest` for `GET /owa/` with `Authorization: Bearer token`.
fn check_request(token: &str) -> CheckRequest {
    let mut headers = std::collections::HashMap::with_capacity(4);
    headers.insert(":authority".to_string(), "mail.contoso.example".to_string());
    headers.insert(":path".to_string(), "/owa/".to_string());
    headers.insert("authorization".to_string(), format!("Bearer {token}"));
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    socket_address: Some(SocketAddress {
                        address: "203.0.113.77".into(),
                        port_value: 51_000,
                    }),
                }),
                ..Default::default()
            }),
            destination: None,
            request: Some(Request {
                http: Some(HttpRequest {
                    id: "req".into(),
                    method: "GET".into(),
                    headers,
                    path: "/owa/".into(),
                    host: "mail.contoso.example".into(),
                    scheme: "https".into(),
                    protocol: "HTTP/1.1".into(),
                    header_map: None,
                }),
            }),
            context_extensions: Default::default(),
        }),
    }
}

/// `n` gRPC checks, `GRPC_IN_FLIGHT` at a time over `chans` (task `j` on connection
/// `j % chans.len()`), call `i` sending `tokens[i % tokens.len()]`; each call timed from the
/// request's construction to its decoded response, and must be allowed.
fn grpc_drive(
    rt: &tokio::runtime::Runtime,
    chans: &[Channel],
    tokens: &Arc<Vec<String>>,
    n: usize,
) -> Figures {
    let cpu0 = process_cpu();
    let client0 = threads_cpu(GRPC_CLIENT_THREADS);
    let start = Instant::now();
    let lat: Vec<Vec<u64>> = rt.block_on(async {
        let tasks: Vec<_> = (0..GRPC_IN_FLIGHT)
            .map(|j| {
                let mut grpc = tonic::client::Grpc::new(chans[j % chans.len()].clone());
                let tokens = Arc::clone(tokens);
                tokio::spawn(async move {
                    let mut v = Vec::with_capacity(n / GRPC_IN_FLIGHT + 1);
                    for i in (j..n).step_by(GRPC_IN_FLIGHT) {
                        let t0 = Instant::now();
                        grpc.ready().await.unwrap();
                        let r = grpc
                            .unary(
                                tonic::Request::new(check_request(&tokens[i % tokens.len()])),
                                PathAndQuery::from_static(CHECK_PATH),
                                tonic_prost::ProstCodec::<CheckRequest, CheckResponse>::default(),
                            )
                            .await
                            .unwrap()
                            .into_inner();
                        assert_eq!(r.status.map(|s| s.code), Some(0), "a check was refused");
                        v.push(t0.elapsed().as_micros() as u64);
                    }
                    v
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => f64::NAN,
    };
    let client_cpu = threads_cpu(GRPC_CLIENT_THREADS)
        .saturating_sub(client0)
        .as_secs_f64();
    let all: Vec<u64> = lat.into_iter().flatten().collect();
    assert_eq!(all.len(), n);
    Figures::of(all, secs, cpu, client_cpu)
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
        "{name:<44} {:>10.0}/s  p50 {:>6.0} µs  p99 {:>6.0} µs  cpu {:>5.1} µs/op (gateway {:>5.1}) {ratio}",
        f.per_sec, f.p50_us, f.p99_us, f.cpu_us, f.gw_cpu_us
    );
}

/// A lean keep-alive HTTP/1.1 client: one `write` per request from a reused buffer, the
/// response read into a reused buffer, only the status and `Content-Length` parsed.
struct Lean {
    s: Stream,
    req: Vec<u8>,
    buf: Vec<u8>,
}

/// A client connection: loopback TCP or a Unix-domain socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lean {
    fn connect(addr: SocketAddr) -> Lean {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Lean::over(Stream::Tcp(s))
    }

    fn connect_unix(path: &std::path::Path) -> Lean {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Lean::over(Stream::Unix(s))
    }

    fn over(s: Stream) -> Lean {
        Lean {
            s,
            req: Vec::with_capacity(2048),
            buf: vec![0; 8192],
        }
    }

    /// `GET target` with `Authorization: Bearer token`; returns the status.
    fn get(&mut self, target: &str, token: &str) -> u16 {
        self.send(target, token);
        self.status()
    }

    /// Writes `GET target` with `Authorization: Bearer token`.
    fn send(&mut self, target: &str, token: &str) {
        self.req.clear();
        self.req.extend_from_slice(b"GET ");
        self.req.extend_from_slice(target.as_bytes());
        self.req
            .extend_from_slice(b" HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ");
        self.req.extend_from_slice(token.as_bytes());
        self.req.extend_from_slice(b"\r\n\r\n");
        self.s.write_all(&self.req).unwrap();
    }

    /// Reads one response; returns its status.
    fn status(&mut self) -> u16 {
        let mut have = 0;
        loop {
            let n = self.s.read(&mut self.buf[have..]).unwrap();
            assert!(n > 0, "connection closed");
            have += n;
            let Some(head) = find(&self.buf[..have], b"\r\n\r\n") else {
                assert!(have < self.buf.len(), "response head too large");
                continue;
            };
            let status = std::str::from_utf8(&self.buf[9..12])
                .unwrap()
                .parse()
                .unwrap();
            let len = content_length(&self.buf[..head]);
            let total = head + 4 + len;
            while have < total {
                let n = self.s.read(&mut self.buf[have..]).unwrap();
                assert!(n > 0, "connection closed");
                have += n;
            }
            return status;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// `MISS_PER_CLIENT` distinct tokens per round and client thread (tagged `{tag}{round}c{thread}`),
/// each round signed on a thread of its own.
fn per_round_and_client(k: &Keys, rounds: usize, tag: &str) -> Vec<Vec<Vec<String>>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..rounds)
            .map(|r| {
                s.spawn(move || {
                    (0..CLIENTS)
                        .map(|t| tokens(k, MISS_PER_CLIENT, &format!("{tag}{r}c{t}")))
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn tokens(k: &Keys, n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| k.valid(&format!("{tag}-{i}"))).collect()
}

/// The check the HTTP front hands the gateway for `GET /` from loopback with `token`.
fn http_check(token: &str) -> keywarden_gateway::CheckRequest {
    keywarden_gateway::CheckRequest {
        mode: "http",
        peer: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        forwarded_for: Vec::new(),
        method: "GET".into(),
        host: "gw".into(),
        uri: "/".into(),
        authorization: vec![format!("Bearer {token}")],
    }
}

/// `gateway.check(req)` polled once (a cache hit, or a validation with static keys, never
/// waits); its status.
fn check_now(gateway: &keywarden_gateway::Gateway, req: keywarden_gateway::CheckRequest) -> u16 {
    let fut = std::pin::pin!(gateway.check(req));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.poll(&mut cx) {
        std::task::Poll::Ready(d) => d.status(),
        std::task::Poll::Pending => panic!("a check that should not wait waited"),
    }
}

/// Runs a miss phase on `gateway` and checks that its `n` checks all missed the cache.
fn all_misses(
    gateway: &keywarden_gateway::Gateway,
    n: usize,
    hit: &str,
    phase: impl FnOnce() -> Figures,
) -> Figures {
    let before = gateway.cache_stats();
    let f = phase();
    let after = gateway.cache_stats();
    assert_eq!(after.hits, before.hits, "{hit}");
    assert_eq!(after.misses - before.misses, n as u64);
    f
}

/// `CONC_PER_CLIENT` connections per client thread, made by `connect`.
fn pools(connect: impl Fn() -> Lean) -> Vec<std::sync::Mutex<Vec<Lean>>> {
    (0..CLIENTS)
        .map(|_| std::sync::Mutex::new((0..CONC_PER_CLIENT).map(|_| connect()).collect()))
        .collect()
}

/// The process's resident set now (`VmRSS`), in bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// What a full verdict cache holds: a gateway of its own (the default 100 000 entries), sent
/// 100 000 distinct valid tokens in process (every one a miss, each polled once: static keys
/// never wait), the resident set measured before (tokens already signed) and after.
fn cache_memory(k: &Keys) {
    const ENTRIES: usize = 100_000;
    let toks: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|c| s.spawn(move || tokens(k, ENTRIES / CLIENTS, &format!("mem{c}"))))
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let clock = Arc::new(keywarden_server::ManualClock::at(
        keywarden_model::Timestamp::from_unix_seconds(token::NOW),
    ));
    let gateway = keywarden_gateway::Gateway::new(
        &TrustPolicy::from_file(&k.policy).unwrap(),
        keywarden_gateway::GatewayConfig::from_toml("[flood]\nenabled = false").unwrap(),
        None,
        clock,
    )
    .unwrap();
    let before = rss_bytes();
    for t in &toks {
        assert_eq!(check_now(&gateway, http_check(t)), 200);
    }
    let after = rss_bytes();
    let entries = gateway.cache_stats().entries;
    assert_eq!(entries, ENTRIES);
    println!(
        "verdict cache, {entries} entries                 resident set +{:.1} MB: {:.0} bytes per entry",
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) as f64 / entries as f64
    );
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

fn env_phases() -> Vec<String> {
    std::env::var("KEYWARDEN_BENCH_PHASES")
        .unwrap_or_else(|_| {
            "inproc,miss,warm,miss-conc,warm-conc,miss-unix,warm-unix,check,grpc-miss,grpc-warm,cache-memory,nginx"
                .into()
        })
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect()
}

fn main() {
    let phases = env_phases();
    let on = |p: &str| phases.iter().any(|x| x == p);
    let rounds: usize = std::env::var("KEYWARDEN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let k = keys();
    let log = k.dir.path().join("bench-decisions.jsonl");
    let gw = start(
        &k.policy,
        "[flood]\nenabled = false",
        Some(keywarden_gateway::LogTarget::File(log)),
    );
    // The same gateway on a Unix socket (`--listen unix:PATH`), for the `-unix` phases: a
    // gateway of its own (its own cache), so the concurrent miss phase's tokens miss there too.
    let unix_on = on("miss-unix") || on("warm-unix");
    let sock = k.dir.path().join("bench-gw.sock");
    let gwu = unix_on.then(|| {
        start_on(
            &format!("unix:{}", sock.display()),
            &k.policy,
            "[flood]\nenabled = false",
            Some(keywarden_gateway::LogTarget::File(
                k.dir.path().join("bench-decisions-unix.jsonl"),
            )),
            None,
        )
    });
    // Every token of every round signed now, outside the timed phases: per round and client
    // thread, MISS_PER_CLIENT distinct tokens (validated in process, then sent to the gateway).
    let signed = Instant::now();
    let round_tokens = if on("inproc") || on("miss") || on("grpc-miss") {
        per_round_and_client(&k, rounds, "r")
    } else {
        Vec::new()
    };
    // The gRPC miss phase needs tokens the gateway has not cached yet: the HTTP miss phase's
    // when that phase does not run, else as many more, signed the same way (only `uti` differs).
    let grpc_tokens: Vec<Arc<Vec<String>>> = if on("grpc-miss") {
        if on("miss") {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..rounds)
                    .map(|r| {
                        let k = &k;
                        s.spawn(move || {
                            Arc::new(tokens(k, CLIENTS * MISS_PER_CLIENT, &format!("g{r}")))
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            })
        } else {
            round_tokens.iter().map(|r| Arc::new(r.concat())).collect()
        }
    } else {
        Vec::new()
    };
    // The concurrent miss phase's tokens: as many again, per round and client thread.
    let conc_tokens = if on("miss-conc") || on("miss-unix") {
        per_round_and_client(&k, rounds, "c")
    } else {
        Vec::new()
    };
    let validator = Arc::new(
        Validator::from_policy(&TrustPolicy::from_file(&k.policy).unwrap(), token::NOW).unwrap(),
    );
    println!(
        "keywarden gateway: ES256 tokens ({} signed in {:.1?} before timing), {CLIENTS} client threads, {CLIENTS} gateway workers, loopback",
        round_tokens.len() * CLIENTS * MISS_PER_CLIENT
            + if on("miss") {
                grpc_tokens.len() * CLIENTS * MISS_PER_CLIENT
            } else {
                0
            }
            + conc_tokens.len() * CLIENTS * MISS_PER_CLIENT,
        signed.elapsed()
    );

    let conns: Vec<std::sync::Mutex<Lean>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(Lean::connect(gw.addr)))
        .collect();
    let conc_conns = if on("miss-conc") || on("warm-conc") {
        pools(|| Lean::connect(gw.addr))
    } else {
        Vec::new()
    };
    let unix_conns = if unix_on {
        pools(|| Lean::connect_unix(&sock))
    } else {
        Vec::new()
    };
    let warm_token = k.valid("warm");
    let grpc_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(CLIENTS)
        .thread_name(GRPC_CLIENT_THREADS)
        .enable_all()
        .build()
        .unwrap();
    let chans: Vec<Channel> = if on("grpc-miss") || on("grpc-warm") {
        grpc_rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..GRPC_CONNS {
                v.push(
                    Channel::from_shared(format!("http://{}", gw.addr))
                        .unwrap()
                        .connect()
                        .await
                        .unwrap(),
                );
            }
            v
        })
    } else {
        Vec::new()
    };
    let warm_tokens = Arc::new(vec![warm_token.clone()]);
    let (mut inproc, mut miss, mut warm) = (None::<Figures>, None::<Figures>, None::<Figures>);
    let (mut gmiss, mut gwarm) = (None::<Figures>, None::<Figures>);
    let mut check = None::<Figures>;
    let (mut cmiss, mut cwarm) = (None::<Figures>, None::<Figures>);
    let (mut umiss, mut uwarm) = (None::<Figures>, None::<Figures>);
    for (r, toks) in round_tokens
        .iter()
        .map(Some)
        .chain(std::iter::repeat(None))
        .take(rounds)
        .enumerate()
    {
        if let (true, Some(toks)) = (on("inproc"), toks) {
            let f = drive(MISS_PER_CLIENT, |t, i| {
                assert!(validator.validate_at(&toks[t][i], token::NOW).is_ok());
            });
            keep_best(&mut inproc, f);
        }
        let misses = CLIENTS * MISS_PER_CLIENT;
        let hit = "a miss phase hit the cache";
        if let (true, Some(toks)) = (on("miss"), toks) {
            let f = all_misses(&gw.gateway, misses, hit, || {
                drive(MISS_PER_CLIENT, |t, i| {
                    let status = conns[t].lock().unwrap().get("/", &toks[t][i]);
                    assert_eq!(status, 200);
                })
            });
            keep_best(&mut miss, f);
        }
        if on("warm") {
            let f = drive(WARM_PER_CLIENT, |t, _| {
                let status = conns[t].lock().unwrap().get("/", &warm_token);
                assert_eq!(status, 200);
            });
            keep_best(&mut warm, f);
        }
        if let (true, Some(ct)) = (on("miss-conc"), conc_tokens.get(r)) {
            let f = all_misses(&gw.gateway, misses, hit, || {
                drive_conc(&conc_conns, MISS_PER_CLIENT, |t, i| ct[t][i].as_str())
            });
            keep_best(&mut cmiss, f);
        }
        if on("warm-conc") {
            let f = drive_conc(&conc_conns, WARM_PER_CLIENT, |_, _| warm_token.as_str());
            keep_best(&mut cwarm, f);
        }
        if let (Some(gwu), Some(ct)) =
            (gwu.as_ref().filter(|_| on("miss-unix")), conc_tokens.get(r))
        {
            let f = all_misses(&gwu.gateway, misses, hit, || {
                drive_conc(&unix_conns, MISS_PER_CLIENT, |t, i| ct[t][i].as_str())
            });
            keep_best(&mut umiss, f);
        }
        if on("warm-unix") {
            let f = drive_conc(&unix_conns, WARM_PER_CLIENT, |_, _| warm_token.as_str());
            keep_best(&mut uwarm, f);
        }
        if on("check") {
            // The check alone, in process, on the warm token: what the HTTP front hands the
            // gateway for the warm phase's request (a cache hit never waits, so one poll).
            let req = http_check(&warm_token);
            let f = drive(WARM_PER_CLIENT, |_, _| {
                assert_eq!(check_now(&gw.gateway, req.clone()), 200);
            });
            keep_best(&mut check, f);
        }
        if let (true, Some(gt)) = (on("grpc-miss"), grpc_tokens.get(r)) {
            let f = all_misses(
                &gw.gateway,
                gt.len(),
                "a gRPC miss phase hit the cache",
                || grpc_drive(&grpc_rt, &chans, gt, gt.len()),
            );
            keep_best(&mut gmiss, f);
        }
        if on("grpc-warm") {
            let f = grpc_drive(&grpc_rt, &chans, &warm_tokens, CLIENTS * WARM_PER_CLIENT);
            keep_best(&mut gwarm, f);
        }
    }
    if let Some(inproc) = &inproc {
        print("keywarden-token in process (baseline)", inproc, None);
    }
    if let Some(miss) = &miss {
        print("gateway, cache misses (same tokens)", miss, inproc.as_ref());
    }
    if let Some(warm) = &warm {
        print("gateway, cache warm (one token)", warm, inproc.as_ref());
    }
    let in_flight = CLIENTS * CONC_PER_CLIENT;
    if let Some(f) = &cmiss {
        let name = format!("gateway, misses, {in_flight} in flight");
        print(&name, f, inproc.as_ref());
    }
    if let Some(f) = &cwarm {
        let name = format!("gateway, warm, {in_flight} in flight");
        print(&name, f, inproc.as_ref());
    }
    if let Some(f) = &umiss {
        let name = format!("gateway, misses, {in_flight} in flight, Unix socket");
        print(&name, f, inproc.as_ref());
    }
    if let Some(f) = &uwarm {
        let name = format!("gateway, warm, {in_flight} in flight, Unix socket");
        print(&name, f, inproc.as_ref());
    }
    if let Some(f) = &check {
        print(
            "Gateway::check in process, warm (no transport)",
            f,
            inproc.as_ref(),
        );
    }
    if let Some(f) = &gmiss {
        print(
            &format!("gRPC Check, misses ({GRPC_IN_FLIGHT} in flight, {GRPC_CONNS} h2)"),
            f,
            inproc.as_ref(),
        );
    }
    if let Some(f) = &gwarm {
        print(
            &format!("gRPC Check, warm ({GRPC_IN_FLIGHT} in flight, {GRPC_CONNS} h2)"),
            f,
            inproc.as_ref(),
        );
    }
    let cs = gw.gateway.cache_stats();
    println!(
        "  cache: {} hits, {} misses, {} entries",
        cs.hits, cs.misses, cs.entries
    );

    if on("cache-memory") {
        cache_memory(&k);
    }

    if !on("nginx") {
        return;
    }
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
            // Proxied to the upstream exactly as the documented auth_request example does
            // (keep-alive upstream), so that the difference is the check alone.
            "upstream protected_app {{ server {up}; keepalive 16; }}\nserver {{ listen LISTEN_ADDR; location / {{ proxy_pass http://protected_app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
        ),
    );
    let pconns: Vec<std::sync::Mutex<Lean>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(Lean::connect(plain_addr)))
        .collect();
    let mut floor = None;
    for _ in 0..rounds {
        keep_best(
            &mut floor,
            drive(NGINX_PER_CLIENT, |t, _| {
                let status = pconns[t].lock().unwrap().get("/owa/", &warm_token);
                assert_eq!(status, 200);
            }),
        );
    }
    let floor = floor.unwrap();
    print(
        "nginx proxy, no auth_request (floor)",
        &floor,
        inproc.as_ref(),
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
    let aconns: Vec<std::sync::Mutex<Lean>> = (0..CLIENTS)
        .map(|_| std::sync::Mutex::new(Lean::connect(auth_addr)))
        .collect();
    let mut through = None;
    for _ in 0..rounds {
        keep_best(
            &mut through,
            drive(NGINX_PER_CLIENT, |t, _| {
                let status = aconns[t].lock().unwrap().get("/owa/", &warm_token);
                assert_eq!(status, 200);
            }),
        );
    }
    let through = through.unwrap();
    print(
        "nginx + auth_request to gateway (warm)",
        &through,
        inproc.as_ref(),
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
