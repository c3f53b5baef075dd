//! `keywarden store backup` against a running `keywarden serve`: the copy holds every
//! acknowledged batch, is a store `serve` opens, is never written over an existing file, and a
//! data directory without a store (or with a foreign file in its place) is refused by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::process::Command;

use serve_support::*;

fn record(i: usize) -> String {
    format!(
        concat!(
            r#"{{"Id":"b{i}","RecordType":50,"CreationTime":"2023-06-05T10:00:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"0d08a889-e871-4c06-9a16-ea55e3f5ade7","#,
            r#""UserId":"user@contoso.com","ClientIPAddress":"198.51.100.7","Workload":"Exchange"}}"#,
            "\n"
        ),
        i = i
    )
}

fn backup(data_dir: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .args(["store", "backup", "--data-dir"])
        .arg(data_dir)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn backs_up_a_running_store_and_refuses_what_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path(), None);
    for b in 0..5 {
        let body: String = (b * 40..(b + 1) * 40).map(record).collect();
        let r = ingest(&srv.addr, &format!("batch-{b}"), body.as_bytes(), None).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let out = dir.path().join("backup.db");
    let run = backup(&srv.data_dir, &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("5 batches, 200 events") && stdout.contains("integrity check ok"),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Never over an existing file.
    let again = backup(&srv.data_dir, &out);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains(&out.display().to_string()), "{err}");
    drop(srv);

    // The copy is a store serve opens, with everything in it.
    let restored = tempfile::tempdir().unwrap();
    std::fs::create_dir(restored.path().join("data")).unwrap();
    std::fs::copy(&out, restored.path().join("data/keywarden.db")).unwrap();
    let srv = serve(restored.path(), None);
    assert_eq!(
        get(&srv.addr, "/api/v1/stats").json()["events"].as_u64(),
        Some(200)
    );
    drop(srv);

    // No store, or a foreign file where the store should be: refused, naming the path.
    let empty = tempfile::tempdir().unwrap();
    let run = backup(empty.path(), &dir.path().join("none.db"));
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no keywarden store"));
    std::fs::write(empty.path().join("keywarden.db"), b"").unwrap();
    let run = backup(empty.path(), &dir.path().join("none.db"));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("is empty (0 bytes)") && err.contains("keywarden.db"),
        "{err}"
    );
    assert!(!dir.path().join("none.db").exists());
}
