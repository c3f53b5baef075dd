//! What the server keeps and how: idempotency keys per credential and body over real HTTP, the
//! WAL checkpointed into the database file on a graceful stop, and the warnings an operator
//! gets about files other users can read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use keywarden_server::keywarden_store::StoreConfig;
use keywarden_server::{ApiKeys, ServeConfig, SystemClock};

const KEY_A: &str = "store-safety-key-aaaaaaaaaaaa";
const KEY_B: &str = "store-safety-key-bbbbbbbbbbbb";

fn record(id: &str) -> String {
    format!(
        concat!(
            r#"{{"Id":"{id}","RecordType":50,"CreationTime":"2023-06-05T10:00:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"tenant-1","#,
            r#""UserId":"alice@contoso.com","ClientIPAddress":"198.51.100.7","Workload":"Exchange"}}"#,
            "\n"
        ),
        id = id
    )
}

fn ingest(addr: &str, key: &str, idem: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(k) = idem {
        head.push_str(&format!("Idempotency-Key: {k}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

/// A running server and the way to stop it gracefully.
struct Running {
    addr: String,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), keywarden_server::ServerError>>,
}

fn start(data: &std::path::Path) -> Running {
    let keys = ApiKeys::parse(&format!("{KEY_A}\n{KEY_B}\n")).unwrap();
    let server = ServeConfig::new("127.0.0.1:0", data, keys)
        .build(Arc::new(SystemClock))
        .expect("server");
    let addr = server.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        server.run(async move {
            let _ = stopped.await;
        })
    });
    Running { addr, stop, thread }
}

impl Running {
    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap().expect("clean shutdown");
    }
}

#[test]
fn regression_idempotency_key_reuse_drops_new_body() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = start(&tmp.path().join("data"));
    let first = record("first-1") + &record("first-2");
    let second = record("second-1");

    let (status, a) = ingest(&srv.addr, KEY_A, Some("batch-7"), &first);
    assert_eq!(
        (status, a["accepted"].as_u64(), &a["duplicate"]),
        (200, Some(2), &false.into())
    );
    // A retry (same key, credential and body) is answered from the store.
    let (status, retry) = ingest(&srv.addr, KEY_A, Some("batch-7"), &first);
    assert_eq!(status, 200);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["batch_id"], a["batch_id"]);
    // The same key with another body: 422, said plainly, nothing silently dropped.
    let (status, refused) = ingest(&srv.addr, KEY_A, Some("batch-7"), &second);
    assert_eq!(status, 422, "{refused}");
    let msg = refused["error"].as_str().unwrap();
    assert!(
        msg.contains("batch-7") && msg.contains("different body") && msg.contains("new key"),
        "{msg}"
    );
    // Another credential's key of the same name is independent.
    let (status, b) = ingest(&srv.addr, KEY_B, Some("batch-7"), &second);
    assert_eq!(
        (status, b["accepted"].as_u64(), &b["duplicate"]),
        (200, Some(1), &false.into())
    );
    // The same bytes again are a retry for B too.
    let (status, b_again) = ingest(&srv.addr, KEY_B, Some("batch-7"), &second);
    assert_eq!((status, &b_again["duplicate"]), (200, &true.into()));

    let reader = StoreConfig::new(tmp.path().join("data")).reader().unwrap();
    let stats = reader.stats().unwrap();
    assert_eq!((stats.events, stats.batches), (3, 2));
    assert_eq!(reader.count_record_ref("second-1").unwrap(), 1);
    drop(reader);
    srv.stop();
}

#[test]
fn regression_shutdown_leaves_data_in_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let srv = start(&data);
    // Another process's connection (a monitoring query, a shell) stays open across the stop:
    // SQLite's own checkpoint-on-last-close never happens.
    let other = StoreConfig::new(&data).reader().unwrap();
    for chunk in 0..10 {
        let body: String = (0..100).map(|i| record(&format!("e{chunk}-{i}"))).collect();
        let (status, a) = ingest(&srv.addr, KEY_A, None, &body);
        assert_eq!((status, a["accepted"].as_u64()), (200, Some(100)));
    }
    srv.stop();
    // A backup that copies only the database file, right after the stop.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(data.join("keywarden.db"), copy.path().join("keywarden.db")).unwrap();
    let restored = StoreConfig::new(copy.path()).build().unwrap();
    assert_eq!(restored.stats().unwrap().events, 1_000);
    assert_eq!(
        std::fs::metadata(data.join("keywarden.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0),
        0,
        "the WAL was checkpointed and truncated"
    );
    drop(other);
}

#[cfg(unix)]
#[test]
fn an_api_key_file_others_can_read_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    std::fs::write(&keys, format!("{KEY_A}\n")).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = ServeConfig::key_file_warning(&keys).expect("a warning");
    assert!(
        warned.contains(&keys.display().to_string())
            && warned.contains("readable by group and others (mode 0644)")
            && warned.contains("chmod 600"),
        "{warned}"
    );
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(ServeConfig::key_file_warning(&keys), None);
}
