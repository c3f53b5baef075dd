//! `keywarden gateway` from the command line: refuses to start on an unusable policy (exit 2),
//! prints its address, answers checks and its health endpoint, writes the decision log into
//! daily files of a DIR, and exits 0 on SIGTERM with the log flushed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_keywarden");

fn get(addr: &str, path: &str, headers: &str) -> String {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ask(s, path, headers)
}

/// `GET path` with `headers` (each line ending in CRLF) on `s`, `Connection: close`; the whole
/// answer.
fn ask(mut s: impl Read + Write, path: &str, headers: &str) -> String {
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A one-key ES256 trust policy in `dir`; its path.
fn trust_policy(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("k.json"),
        r#"{"keys":[{"kty":"EC","kid":"ec1","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}]}"#,
    )
    .unwrap();
    let policy = dir.join("trust.toml");
    std::fs::write(
        &policy,
        "[[issuer]]\nid='i'\nissuer='https://i.example'\naudiences=['a']\nalgorithms=['ES256']\njwks_file='k.json'\n",
    )
    .unwrap();
    policy
}

/// SIGTERM to `child`; it must exit 0.
fn stop(child: &mut Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn gateway_starts_checks_logs_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Command::new(BIN)
        .args(["gateway", "--listen", "127.0.0.1:0", "--trust"])
        .arg(dir.path().join("nope.toml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));

    let policy = trust_policy(dir.path());
    let logs = dir.path().join("decisions/");
    let mut child = Command::new(BIN)
        .args(["gateway", "--listen", "127.0.0.1:0", "--trust"])
        .arg(&policy)
        .arg("--decision-log")
        .arg(&logs)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert!(get(&addr, "/.keywarden/healthz", "").starts_with("HTTP/1.1 200"));
    let none = get(&addr, "/", "X-Forwarded-Uri: /owa/\r\n");
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    assert!(none.contains("www-authenticate: Bearer\r\n"), "{none}");
    let bad = get(&addr, "/", "Authorization: Bearer e30.e30.x\r\n");
    assert!(bad.contains("error_description=\"bad-header\""), "{bad}");
    stop(&mut child);
    let files: Vec<_> = std::fs::read_dir(&logs).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().to_string_lossy().into_owned();
    assert!(
        name.starts_with("decisions-") && name.ends_with(".jsonl"),
        "{name}"
    );
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    let reasons: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["reason"].to_string())
        .collect();
    assert_eq!(reasons, ["\"missing-credentials\"", "\"bad-header\""]);
}

/// `--listen unix:PATH`: prints where it listens, answers over the socket (mode 0660), refuses
/// to start on a file that is not a socket (exit 2, the file untouched), and removes its
/// socket on SIGTERM.
#[test]
fn gateway_listens_on_a_unix_socket() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::net::UnixStream;

    let dir = tempfile::tempdir().unwrap();
    let policy = trust_policy(dir.path());
    let in_the_way = dir.path().join("file.sock");
    std::fs::write(&in_the_way, "keep me").unwrap();
    let refused = Command::new(BIN)
        .args(["gateway", "--listen"])
        .arg(format!("unix:{}", in_the_way.display()))
        .arg("--trust")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a socket"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&in_the_way).unwrap(), "keep me");

    let sock = dir.path().join("gw.sock");
    let mut child = Command::new(BIN)
        .args(["gateway", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .arg("--trust")
        .arg(&policy)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        format!(
            "keywarden gateway: listening on unix:{} (http)",
            sock.display()
        )
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let unix = UnixStream::connect(&sock).unwrap();
    unix.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let bad = ask(unix, "/", "Authorization: Bearer e30.e30.x\r\n");
    assert!(bad.starts_with("HTTP/1.1 401"), "{bad}");
    assert!(bad.contains("error_description=\"bad-header\""), "{bad}");
    stop(&mut child);
    assert!(!sock.exists(), "the socket is removed on stop");
}
