//! Durability and overload of the real `keywarden serve` process.
//!
//! - `kill -9` while a client streams ingest requests; restart on the same data directory;
//!   every record whose request was acknowledged is in the store, and none is duplicated.
//! - SIGTERM sent the moment the address is printed is a graceful stop (exit 0, WAL
//!   checkpointed into the database file), not a kill.
//! - A bounded load generator pushes beyond capacity: the server sheds with 429/503 and
//!   `Retry-After`, its peak memory stays bounded, and nothing acknowledged is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serve_support::*;

const RECORDS_PER_REQUEST: usize = 200;

/// One request body: UAL `MailItemsAccessed` records with unique ids.
fn body(req: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..RECORDS_PER_REQUEST {
        out.push_str(&format!(
            concat!(
                r#"{{"Id":"rec-{req}-{i}","RecordType":50,"CreationTime":"2023-06-05T10:{m:02}:00","#,
                r#""Operation":"MailItemsAccessed","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","#,
                r#""UserId":"user{u}@contoso.com","ClientIPAddress":"198.51.100.{u}","Workload":"Exchange","#,
                r#""MailboxOwnerUPN":"user{u}@contoso.com","OperationProperties":[{{"Name":"MailAccessType","Value":"Bind"}}]}}"#,
                "\n"
            ),
            req = req,
            i = i,
            m = i % 60,
            u = i % 20
        ));
    }
    out.into_bytes()
}

fn events(addr: &str) -> u64 {
    get(addr, "/api/v1/stats").json()["events"]
        .as_u64()
        .unwrap()
}

#[test]
fn regression_sigterm_at_start_skips_checkpoint() {
    // Before: the signal handler was installed at the first poll of the server's future, so a
    // TERM sent as soon as the address line was read killed the process (default action):
    // no state saved, the WAL left beside the database file.
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut srv = serve(dir.path(), None);
        let pid = srv.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = wait_for(30, "serve to stop after SIGTERM", || {
            srv.child.try_wait().unwrap()
        });
        assert_eq!(
            status.code(),
            Some(0),
            "round {round}: a TERM right after start must stop serve gracefully ({status})"
        );
        let db = srv.data_dir.join("keywarden.db");
        assert!(std::fs::metadata(&db).unwrap().len() > 0);
        assert_eq!(
            std::fs::metadata(srv.data_dir.join("keywarden.db-wal")).map_or(0, |m| m.len()),
            0,
            "round {round}: the WAL was checkpointed into the database file and truncated"
        );
    }
}

#[test]
fn kill_9_loses_no_acknowledged_record_and_duplicates_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = serve(dir.path(), None);
    let addr = srv.addr.clone();
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let total = 400;
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let (addr, acked, stop) = (addr.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for req in (c..total).step_by(2) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("req-{req}");
                    match ingest(&addr, &key, &body(req), Some(&key)) {
                        Ok(r) if r.status == 200 => {
                            assert_eq!(r.json()["accepted"], RECORDS_PER_REQUEST as u64);
                            acked.lock().unwrap().push(req);
                        }
                        // The server died mid-request: not acknowledged.
                        _ => break,
                    }
                }
            })
        })
        .collect();
    wait_for(60, "some acknowledged requests", || {
        (acked.lock().unwrap().len() >= 20).then_some(())
    });
    // SIGKILL while requests are in flight.
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked: Vec<usize> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20);
    drop(srv);

    let srv = serve(dir.path(), None);
    let before = events(&srv.addr);
    assert!(
        before >= (acked.len() * RECORDS_PER_REQUEST) as u64,
        "{before} events stored, {} acknowledged requests",
        acked.len()
    );
    // Every acknowledged request is already stored: its retry is answered as a duplicate.
    for &req in &acked {
        let key = format!("req-{req}");
        let r = ingest(&srv.addr, &key, &body(req), Some(&key)).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json()["duplicate"],
            true,
            "acknowledged request {req} was lost"
        );
    }
    assert_eq!(
        events(&srv.addr),
        before,
        "retries of stored requests stored nothing"
    );
    // Resending everything (same keys) completes the set exactly once.
    for req in 0..total {
        let key = format!("req-{req}");
        let r = ingest(&srv.addr, &key, &body(req), Some(&key)).unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(events(&srv.addr), (total * RECORDS_PER_REQUEST) as u64);
}

/// Peak resident memory of a process (kB), from `/proc`.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn overload_is_shed_with_retry_after_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(
        dir.path(),
        Some("[server]\nqueue_capacity = 2\nmax_inflight = 4\nmax_body_bytes = 1048576\n"),
    );
    let addr = srv.addr.clone();
    let accepted = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let per_client = 60;
    let clients: Vec<_> = (0..12)
        .map(|c| {
            let (addr, accepted, shed, acked) =
                (addr.clone(), accepted.clone(), shed.clone(), acked.clone());
            std::thread::spawn(move || {
                for n in 0..per_client {
                    let req = c * 1000 + n;
                    let key = format!("load-{req}");
                    let r = ingest(&addr, &key, &body(req), Some(&key)).unwrap();
                    match r.status {
                        200 => {
                            accepted.fetch_add(
                                r.json()["accepted"].as_u64().unwrap(),
                                Ordering::Relaxed,
                            );
                            acked.lock().unwrap().push(req);
                        }
                        429 | 503 => {
                            assert_eq!(r.header("retry-after"), Some("1"));
                            shed.fetch_add(1, Ordering::Relaxed);
                        }
                        s => panic!("unexpected status {s}"),
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let shed = shed.load(Ordering::Relaxed);
    let accepted = accepted.load(Ordering::Relaxed);
    assert!(shed > 0, "12 clients against a queue of 2 must be shed");
    assert!(accepted > 0);
    // Everything acknowledged is stored, and only that.
    assert_eq!(events(&addr), accepted);
    for req in acked.lock().unwrap().iter().take(50) {
        let key = format!("load-{req}");
        let r = ingest(&addr, &key, &body(*req), Some(&key)).unwrap();
        assert_eq!(r.json()["duplicate"], true);
    }
    let metrics = String::from_utf8(get(&addr, "/metrics").body).unwrap();
    assert!(metrics.contains("keywarden_shed_"));
    // Memory is bounded by max_inflight × max_body_bytes plus the working set, not by load.
    if let Some(kb) = peak_rss_kb(srv.child.id()) {
        eprintln!("overload: {accepted} events accepted, {shed} requests shed, peak RSS {kb} kB");
        assert!(kb < 256 * 1024, "peak RSS {kb} kB");
    }
    std::thread::sleep(Duration::from_millis(10));
}
