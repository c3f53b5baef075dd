//! Large-body ingest, same run: CPU seconds of the whole in-process server for one ~31 MiB
//! body of JSON lines and for six sent at once, against the parse stage alone reading the same
//! body (`ParseStage::parse_pieces`, pieces dropped as they come). The ratio is what HTTP,
//! the piece hand-off, the store and live detection add to parsing.
//! (`cargo bench -p keywarden-server --bench large_body`, about a minute on 2 cores.)
//!
//! CPU is this process's `utime + stime` (`/proc/self/stat`: every thread, the client's
//! socket writes included), so other load on the machine does not inflate it as it does wall
//! time. Records are those of `scripts/serve-memory.sh` (~210-byte UAL records).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_ingest::IngestConfig;
use keywarden_server::runtime::memory_budget::PIECE_BYTES;
use keywarden_server::runtime::parse::ParseStage;
use keywarden_server::{ApiKeys, ServeConfig, SystemClock};

const KEY: &str = "bench-key-0123456789abcdef";
const BODY_BYTES: usize = 31 << 20;

fn body() -> Vec<u8> {
    let mut out = String::with_capacity(BODY_BYTES + 512);
    let mut i = 0usize;
    while out.len() < BODY_BYTES {
        out.push_str(&format!(
            concat!(
                r#"{{"Id":"{i:08x}-0000-4000-8000-{i:012x}","RecordType":50,"#,
                r#""CreationTime":"2023-06-{d:02}T{h:02}:{m:02}:{s:02}","#,
                r#""Operation":"MailItemsAccessed","UserId":"user{u}@contoso.com","#,
                r#""ClientIP":"203.0.113.{ip}","Workload":"Exchange"}}"#,
                "\n"
            ),
            i = i,
            d = 1 + i % 28,
            h = i % 24,
            m = i % 60,
            s = (i * 7) % 60,
            u = i % 500,
            ip = i % 250
        ));
        i += 1;
    }
    out.into_bytes()
}

/// CPU seconds used by this process so far (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    ticks as f64 / 100.0
}

fn post(addr: &str, name: &str, body: &[u8]) -> u16 {
    loop {
        let mut s = TcpStream::connect(addr).expect("connect");
        let head = format!(
            "POST /api/v1/ingest?name={name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let sent = s
            .write_all(head.as_bytes())
            .and_then(|()| s.write_all(body));
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        let status: u16 = resp
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        // 503: the body pool is in use (three largest bodies fit the default budget); retry as
        // a client honouring Retry-After would. A refusal may also cut the upload short.
        if status == 503 || (status == 0 && sent.is_err()) {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        return status;
    }
}

fn main() {
    let body = Arc::new(body());
    let mb = body.len() as f64 / (1 << 20) as f64;
    let lines = body.iter().filter(|b| **b == b'\n').count();

    // The parse stage alone (the same reader, observer and pieces), on this thread.
    let stage = ParseStage {
        settings: Arc::new(
            keywarden_detect::DetectConfig::default()
                .build()
                .expect("settings"),
        ),
        sigma: None,
        ingest: IngestConfig {
            threads: 1,
            chunk_bytes: PIECE_BYTES,
            max_input_bytes: 32 << 20,
            ..IngestConfig::default()
        },
        max_decompressed_bytes: 256 << 20,
        metrics: Arc::default(),
    };
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let mut rows = 0usize;
    let last = stage
        .parse_pieces("bench", body.to_vec(), None, &mut |p| {
            rows += p.rows.len();
            true
        })
        .expect("parsed");
    rows += last.rows.len();
    let parse_cpu = cpu_seconds() - c0;
    println!(
        "parse stage alone: {mb:.1} MiB, {rows} of {lines} records, {parse_cpu:.2} s CPU, {:.2} s wall",
        t0.elapsed().as_secs_f64()
    );

    // The whole server, in process: one body, then six at once.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0",
        dir.path().join("data"),
        ApiKeys::parse(KEY).expect("key"),
    );
    cfg.request_timeout = Duration::from_secs(900);
    let server = cfg.build(Arc::new(SystemClock)).expect("server");
    let addr = server.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run(async move {
            let _ = stopped.await;
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    for (scenario, n) in [("one body", 1usize), ("six at once", 6)] {
        let (c0, t0) = (cpu_seconds(), Instant::now());
        let clients: Vec<_> = (0..n)
            .map(|k| {
                let (addr, body) = (addr.clone(), body.clone());
                std::thread::spawn(move || post(&addr, &format!("{scenario}-{k}"), &body))
            })
            .collect();
        for c in clients {
            assert_eq!(c.join().expect("client"), 200);
        }
        let cpu = cpu_seconds() - c0;
        println!(
            "server, {scenario}: {n} x {mb:.1} MiB, {cpu:.2} s CPU ({:.2} s per body, {:.2}x the parse stage alone), {:.2} s wall",
            cpu / n as f64,
            cpu / n as f64 / parse_cpu.max(0.01),
            t0.elapsed().as_secs_f64()
        );
    }
    let _ = stop.send(());
    let _ = running.join();
}
