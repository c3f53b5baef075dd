//! `serve --collect` against the Microsoft API emulator of `keywarden-collect`'s tests (a
//! simulated tenant with an intrusion, throttling and failing now and then): every record is
//! ingested exactly once — also when serve is stopped in the middle of its work and started
//! again, and when the Management API publishes backfilled blobs days later — the live
//! detector raises the intrusion, and poll status and lag show in `/metrics` and
//! `/api/v1/stats`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../../keywarden-collect/tests/emulator/mod.rs"]
mod emulator;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::{CLIENT_ID, Emulator, Faults, SimClock, TENANT, tenant};
use keywarden_model::Timestamp;
use keywarden_server::{ApiKeys, ServeConfig};
use keywarden_store::StoreConfig;
use serde_json::Value;

const KEY: &str = "serve-collect-test-key-0123456789";

/// serve's clock over the emulator's (both move with real time from the same instant).
struct ServeClock(SimClock);

impl keywarden_server::Clock for ServeClock {
    fn now(&self) -> Timestamp {
        keywarden_collect::Clock::now(&self.0)
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{path}: {raw}");
    raw.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// A running serve; stopped (gracefully, mid-work or not) by [`Running::stop`].
struct Running {
    addr: String,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    fn start(data: &Path, collect: &Path, clock: &SimClock) -> Running {
        Running::start_with(data, collect, clock, |_| {})
    }

    fn start_with(
        data: &Path,
        collect: &Path,
        clock: &SimClock,
        adjust: impl FnOnce(&mut ServeConfig),
    ) -> Running {
        let mut cfg = ServeConfig::new("127.0.0.1:0", data, ApiKeys::parse(KEY).unwrap());
        cfg.apply_collect_file(collect).unwrap();
        adjust(&mut cfg);
        let server = cfg.build(Arc::new(ServeClock(clock.clone()))).unwrap();
        let addr = server.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .unwrap();
        });
        Running { addr, stop, thread }
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&get(&self.addr, "/api/v1/stats")).unwrap()
    }

    /// Waits until `done` holds for the stats (60 s at most).
    fn wait(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let t = Instant::now();
        loop {
            let s = self.stats();
            if done(&s) {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "{what}: {s:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

#[test]
fn serve_collects_every_record_once_across_restarts_and_late_blobs_and_detects_the_intrusion() {
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 6);
    // The first poll starts six days before the end of the simulated period (inside the
    // Management API's 7 days): what the emulator lists from then on is expected, once.
    let since = tenant::end().plus_seconds(-6 * 86_400);
    let ual: BTreeSet<String> = data
        .blobs
        .iter()
        .filter(|b| b.created >= since)
        .flat_map(|b| {
            b.records
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_owned())
        })
        .collect();
    // Published by the first polls (two hours after the period); the rest of the backfilled
    // blobs appear up to a day and a half later.
    let first_now = tenant::end().plus_seconds(2 * 3600);
    let on_time: BTreeSet<String> = data
        .blobs
        .iter()
        .filter(|b| b.created >= since && b.created < first_now)
        .flat_map(|b| {
            b.records
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_owned())
        })
        .collect();
    let sign_ins: BTreeSet<String> = data
        .sign_ins
        .iter()
        .filter(|s| Timestamp::parse(s["createdDateTime"].as_str().unwrap()).unwrap() >= since)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ual.len() > on_time.len(), "some blobs are published late");

    let clock = SimClock::new(first_now);
    let emu = Emulator::start(
        data,
        Faults {
            throttle_every: 23,
            error_every: 19,
            token_lifetime_s: 5,
            content_page: 10,
            graph_page: 50,
            blob_delay: Duration::from_millis(2),
            ..Faults::default()
        },
        clock.clone(),
    );
    let dir = tempfile::tempdir().unwrap();
    let collect = write_collect_config(dir.path(), &emu, since);
    let data_dir = dir.path().join("data");
    let expected = |ual: &BTreeSet<String>| (ual.len() + sign_ins.len()) as u64;

    // Stopped as soon as the first records are in: mid-poll or mid-ingest.
    let serve = Running::start(&data_dir, &collect, &clock);
    serve.wait("first records", |s| s["events"].as_u64() > Some(0));
    serve.stop();

    // Started again: it resumes, and everything published so far is in, once.
    let serve = Running::start(&data_dir, &collect, &clock);
    let want = format!(
        "the on-time records ({} UAL, {} sign-ins)",
        on_time.len(),
        sign_ins.len()
    );
    let stats = serve.wait(&want, |s| s["events"].as_u64() == Some(expected(&on_time)));
    // One more poll adds nothing.
    let polls = |s: &Value| -> u64 {
        s["collect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["polls"].as_u64().unwrap())
            .min()
            .unwrap()
    };
    let seen = polls(&stats);
    let stats = serve.wait("another poll", |s| polls(s) >= seen + 2);
    assert_eq!(stats["events"].as_u64(), Some(expected(&on_time)));
    assert_eq!(stats["rejected"].as_u64(), Some(0), "{stats:#}");
    let streams = stats["collect"].as_array().unwrap();
    assert_eq!(streams.len(), 5 + 4);
    for s in streams {
        assert_eq!(s["status"], "complete", "{s:#}");
        assert!(s["lag_seconds"].as_i64().unwrap() < 600, "{s:#}");
    }
    let metrics = get(&serve.addr, "/metrics");
    for line in [
        "keywarden_collect_up{source=\"o365\",stream=\"Audit.Exchange\"} 1",
        "keywarden_collect_up{source=\"graph-signins\",stream=\"nonInteractiveUser\"} 1",
        "# TYPE keywarden_collect_lag_seconds gauge",
        "keywarden_collect_lag_seconds{source=\"o365\",stream=\"Audit.Exchange\"} ",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(
        !metrics.contains(emulator::SECRET)
            && !serve.stats().to_string().contains(emulator::SECRET)
    );
    serve.stop();

    // Two days later the backfilled blobs are published: a new serve picks them up.
    clock.set(tenant::end().plus_seconds(2 * 86_400));
    let serve = Running::start(&data_dir, &collect, &clock);
    serve.wait("the late records", |s| {
        s["events"].as_u64() == Some(expected(&ual))
    });
    let seen = polls(&serve.stats());
    serve.wait("another poll", |s| polls(s) > seen);
    serve.stop();

    // Exactly once, record by record; the intrusion is raised by live detection.
    let store = StoreConfig::new(&data_dir).open_existing().unwrap();
    assert_eq!(store.stats().unwrap().events, expected(&ual));
    for id in ual.iter().chain(&sign_ins) {
        assert_eq!(store.count_record_ref(id).unwrap(), 1, "record {id}");
    }
    let alerts = store
        .alerts(&keywarden_store::AlertQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
        .alerts;
    assert!(
        alerts.iter().any(|a| a.rule_id == "token-never-issued"
            && matches!(a.severity.as_str(), "high" | "critical")),
        "{:?}",
        alerts
            .iter()
            .map(|a| (&a.rule_id, a.severity.as_str()))
            .collect::<Vec<_>>()
    );
    // The staged files were deleted once committed.
    let staged = data_dir.join("collect").join(TENANT);
    let left: Vec<_> = ["o365", "graph-signins"]
        .iter()
        .flat_map(|s| walk(&staged.join(s)))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A staged blob or page larger than the largest document serve reads whole
/// (`max_body_bytes`) was refused (413 "read whole") at every poll, and every later file of
/// its stream waited behind it for ever. Now its records go in as JSON lines.
#[test]
fn regression_staged_page_over_the_whole_read_limit_held_its_stream_back_for_ever() {
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 6);
    let since = tenant::end().plus_seconds(-6 * 86_400);
    let now = tenant::end().plus_seconds(2 * 3600);
    let ual = data
        .blobs
        .iter()
        .filter(|b| b.created >= since && b.created < now)
        .flat_map(|b| {
            b.records
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_owned())
        })
        .collect::<BTreeSet<String>>()
        .len();
    let sign_ins = data
        .sign_ins
        .iter()
        .filter(|s| Timestamp::parse(s["createdDateTime"].as_str().unwrap()).unwrap() >= since)
        .count();
    let clock = SimClock::new(now);
    let emu = Emulator::start(
        data,
        Faults {
            graph_page: 400,
            ..Faults::default()
        },
        clock.clone(),
    );
    let dir = tempfile::tempdir().unwrap();
    let collect = write_collect_config(dir.path(), &emu, since);
    let data_dir = dir.path().join("data");
    const LIMIT: usize = 4 * 1024;
    let serve = Running::start_with(&data_dir, &collect, &clock, |cfg| {
        cfg.max_body_bytes = LIMIT;
    });
    let want = (ual + sign_ins) as u64;
    let stats = serve.wait(&format!("{ual} UAL records and {sign_ins} sign-ins"), |s| {
        s["events"].as_u64() == Some(want)
    });
    assert_eq!(stats["rejected"].as_u64(), Some(0), "{stats:#}");
    // The test is only one if staged files were over the limit, pages and blobs both.
    let as_lines = |stream: &str| {
        stats["collect"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["stream"] == stream)
            .unwrap()["files_as_json_lines"]
            .as_u64()
            .unwrap()
    };
    assert!(as_lines("interactiveUser") > 0, "{stats:#}");
    assert!(as_lines("Audit.Exchange") > 0, "{stats:#}");
    assert!(
        get(&serve.addr, "/metrics").contains(
            "keywarden_collect_files_as_json_lines_total{source=\"graph-signins\",stream=\"interactiveUser\"} "
        )
    );
    serve.stop();
    let store = StoreConfig::new(&data_dir).open_existing().unwrap();
    assert_eq!(store.stats().unwrap().events, want);
}

/// Writes `DIR/collect.toml` (with its secret file) collecting `o365` and `graph-signins` from
/// the emulator since `since`, polling every second; returns its path.
fn write_collect_config(dir: &Path, emu: &Emulator, since: Timestamp) -> std::path::PathBuf {
    std::fs::write(dir.join("secret.txt"), emulator::SECRET).unwrap();
    let endpoints: Vec<String> = emu.endpoints().iter().map(|e| format!("{e:?}")).collect();
    let collect = dir.join("collect.toml");
    std::fs::write(
        &collect,
        format!(
            "[collect]\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret_file = \"secret.txt\"\nsources = [\"o365\", \"graph-signins\"]\n\
             since = \"{}\"\ninterval_seconds = 1\nmax_requests_per_minute = 60000\n\
             endpoints = [{}]\n",
            since.to_rfc3339(),
            endpoints.join(", ")
        ),
    )
    .unwrap();
    collect
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flat_map(|e| {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p) } else { vec![p] }
    })
    .collect()
}
