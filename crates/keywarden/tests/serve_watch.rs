//! `keywarden serve --watch DIR`: growing files, incomplete last lines, rotation by rename, and
//! offsets that survive `kill -9` (no line read twice, none skipped).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::io::Write;
use std::path::Path;

use serve_support::*;

fn line(n: usize) -> String {
    format!(
        concat!(
            r#"{{"Id":"w{n}","RecordType":50,"CreationTime":"2023-06-05T10:00:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","#,
            r#""UserId":"user@contoso.com","ClientIPAddress":"198.51.100.7","Workload":"Exchange"}}"#,
            "\n"
        ),
        n = n
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn events(addr: &str) -> u64 {
    get(addr, "/api/v1/stats").json()["events"]
        .as_u64()
        .unwrap()
}

fn wait_events(addr: &str, n: u64) {
    wait_for(30, &format!("{n} events"), || {
        (events(addr) == n).then_some(())
    });
}

#[test]
fn follows_growth_rotation_and_restarts_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let app = logs.join("audit.jsonl");
    append(&app, &(line(1) + &line(2) + &line(3)));
    // An incomplete last line is not read until it is finished.
    let partial = line(4);
    let (head, tail) = partial.split_at(40);
    append(&app, head);
    let watch = "[server]\nstate_interval_seconds = 1\n";
    let mut srv = serve_with(dir.path(), watch, &logs);
    wait_events(&srv.addr, 3);
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(events(&srv.addr), 3);
    append(&app, tail);
    append(&app, &line(5));
    wait_events(&srv.addr, 5);

    // kill -9, then more lines while it is down.
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    drop(srv);
    append(&app, &(line(6) + &line(7)));
    let srv = serve_with(dir.path(), watch, &logs);
    wait_events(&srv.addr, 7);

    // Rotation by rename: the old file keeps its offset, the new one is read from the start.
    std::fs::rename(&app, logs.join("audit.jsonl.1")).unwrap();
    append(&logs.join("audit.jsonl.1"), &line(8));
    append(&app, &line(9));
    wait_events(&srv.addr, 9);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(events(&srv.addr), 9, "no line read twice");
}

/// `serve` with `--watch`.
fn serve_with(dir: &Path, config: &str, watch: &Path) -> Served {
    serve_args(dir, Some(config), &["--watch", watch.to_str().unwrap()])
}
