//! Issue 12, item 2: peak memory of `keywarden serve` stays under `[server] memory_budget_mb`
//! whatever the bodies and their number. The real binary gets a small budget and many
//! concurrent large plain and zstd bodies (several times the budget in total, decompressing to
//! 12 MiB each) plus a nested gzip bomb; its peak RSS (`VmHWM` of /proc/PID/status, read from
//! outside) must stay under the budget, and every accepted body must be stored whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]
mod serve_support;

use std::io::Write;
use std::time::{Duration, Instant};

use serve_support::{KEY, get, request, serve};

const BUDGET_MB: u64 = 256;

fn record(i: usize, body: usize) -> String {
    format!(
        concat!(
            r#"{{"Id":"b{body}-{i:08}","RecordType":50,"CreationTime":"2023-06-{day:02}T10:{min:02}:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"tenant-1","#,
            r#""UserId":"user{u}@contoso.com","ClientIPAddress":"198.51.100.{ip}","Workload":"Exchange"}}"#,
            "\n"
        ),
        body = body,
        i = i,
        day = 1 + i % 28,
        min = i % 60,
        u = i % 300,
        ip = i % 250
    )
}

/// JSON lines of about `bytes` bytes; returns the text and its record count.
fn lines(bytes: usize, body: usize) -> (Vec<u8>, u64) {
    let mut out = String::with_capacity(bytes + 512);
    let mut n = 0;
    while out.len() < bytes {
        out.push_str(&record(n, body));
        n += 1;
    }
    (out.into_bytes(), n as u64)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Posts until the server takes the body (503: the budget's body pool is in use; the server
/// answers before reading the body and closes, so the upload may also fail part-way).
fn post_until_taken(addr: &str, name: &str, body: &[u8]) -> serde_json::Value {
    let auth = format!("Bearer {KEY}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = request(
            addr,
            "POST",
            &format!("/api/v1/ingest?name={name}"),
            &[("Authorization", auth.as_str())],
            body,
        );
        let r = match r {
            Ok(r) => r,
            Err(e) if Instant::now() < deadline => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ),
                    "{name}: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        match r.status {
            200 => return r.json(),
            503 | 429 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            s => panic!("{name}: status {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
}

#[test]
fn peak_rss_stays_under_the_memory_budget_with_many_large_bodies() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: peak RSS cannot be read here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nmemory_budget_mb = {BUDGET_MB}\nparse_threads = 1\nmax_body_bytes = 4194304\n\
         max_decompressed_bytes = 33554432\nrequest_timeout_seconds = 120\n"
    );
    let srv = serve(dir.path(), Some(&config));
    let pid = srv.child.id();
    let addr = srv.addr.clone();

    // Six plain bodies of 4 MiB and four zstd bodies of 12 MiB decompressed: 72 MiB of
    // records in flight at once, which the old server held as rows at ~12× their size.
    let mut bodies = Vec::new();
    for b in 0..6 {
        bodies.push((format!("plain-{b}"), lines((4 << 20) - 1024, b)));
    }
    for b in 6..10 {
        let (text, n) = lines(12 << 20, b);
        bodies.push((
            format!("zstd-{b}"),
            (zstd::stream::encode_all(&text[..], 3).unwrap(), n),
        ));
    }
    let expected: u64 = bodies.iter().map(|(_, (_, n))| n).sum();
    // A 2 KB gzip-in-gzip bomb decompressing to 1 GiB: refused, never expanded.
    let member = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b'\n'; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    let mut outer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    outer.write_all(&member.repeat(1024)).unwrap();
    let bomb = outer.finish().unwrap();
    assert!(bomb.len() < 16 * 1024, "{}", bomb.len());

    let t0 = Instant::now();
    let answers: Vec<(String, serde_json::Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|(name, (body, _))| {
                let addr = &addr;
                s.spawn(move || (name.clone(), post_until_taken(addr, name, body)))
            })
            .collect();
        let bomb_answer = s.spawn(|| {
            request(
                &addr,
                "POST",
                "/api/v1/ingest?name=bomb",
                &[("Authorization", &format!("Bearer {KEY}"))],
                &bomb,
            )
            .expect("bomb")
        });
        let b = bomb_answer.join().unwrap();
        assert_eq!(b.status, 413, "{}", String::from_utf8_lossy(&b.body));
        assert!(
            b.json()["error"]
                .as_str()
                .unwrap()
                .contains("decompresses to more than 33554432 bytes"),
            "{}",
            String::from_utf8_lossy(&b.body)
        );
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = t0.elapsed();
    for ((name, a), (_, (_, n))) in answers.iter().zip(&bodies) {
        assert_eq!(a["accepted"].as_u64(), Some(*n), "{name}: {a}");
        assert_eq!(a["rejected"].as_u64(), Some(0), "{name}: {a}");
    }
    let stats = get(&addr, "/api/v1/stats").json();
    assert_eq!(stats["events"].as_u64(), Some(expected), "{stats}");
    let peak = peak_rss_kib(pid);
    eprintln!(
        "peak RSS {} MiB under a {BUDGET_MB} MiB budget ({expected} events in {took:.1?})",
        peak / 1024
    );
    assert!(
        peak < BUDGET_MB * 1024,
        "peak RSS {peak} KiB over the {BUDGET_MB} MiB budget"
    );
}
