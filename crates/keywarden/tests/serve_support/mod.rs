//! Harness for the `keywarden serve` tests: starts the real binary on a free loopback port,
//! and talks HTTP/1.1 to it over a plain `TcpStream` (no client library between the test and
//! the wire).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const KEY: &str = "serve-test-key-0123456789abcdef";

/// A running `keywarden serve`.
pub struct Served {
    pub child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `keywarden serve` on `127.0.0.1:0` with `dir/keys` and an optional config text.
pub fn serve(dir: &Path, config: Option<&str>) -> Served {
    serve_args(dir, config, &[])
}

/// [`serve`] with extra arguments.
pub fn serve_args(dir: &Path, config: Option<&str>, extra: &[&str]) -> Served {
    serve_in(
        Command::new(env!("CARGO_BIN_EXE_keywarden")),
        dir,
        config,
        extra,
    )
}

/// [`serve`] with the soft limit on open files lowered to `nofile` (`ulimit -n` in `sh`).
pub fn serve_with_fd_limit(dir: &Path, config: Option<&str>, nofile: u32) -> Served {
    let mut sh = Command::new("sh");
    sh.args(["-c", "ulimit -n \"$0\" && exec \"$@\""])
        .arg(nofile.to_string())
        .arg(env!("CARGO_BIN_EXE_keywarden"));
    serve_in(sh, dir, config, &[])
}

/// Starts `cmd serve ...` (the binary, or a wrapper that execs it with these arguments).
fn serve_in(mut cmd: Command, dir: &Path, config: Option<&str>, extra: &[&str]) -> Served {
    let keys = dir.join("keys");
    std::fs::write(&keys, format!("# test key\n{KEY}\n")).unwrap();
    let data_dir = dir.join("data");
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .arg("--api-key-file")
        .arg(&keys);
    if let Some(text) = config {
        let path = dir.join("serve.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    cmd.args(extra);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keywarden serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = lines
        .next()
        .expect("serve printed nothing")
        .expect("read serve stderr");
    let addr = first
        .split("://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Served {
        child,
        addr,
        data_dir,
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("chunk size"))?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// An authenticated GET.
pub fn get(addr: &str, path: &str) -> Resp {
    request(
        addr,
        "GET",
        path,
        &[("Authorization", &format!("Bearer {KEY}"))],
        b"",
    )
    .expect("GET")
}

/// An authenticated ingest POST of one file's bytes.
pub fn ingest(addr: &str, name: &str, body: &[u8], key: Option<&str>) -> std::io::Result<Resp> {
    let auth = format!("Bearer {KEY}");
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(k) = key {
        h.push(("Idempotency-Key", k));
    }
    request(
        addr,
        "POST",
        &format!("/api/v1/ingest?name={name}"),
        &h,
        body,
    )
}

/// Runs `keywarden hunt` on `logs` (with `extra` arguments) into `out`; its `alerts.jsonl`.
pub fn hunt_alerts(logs: &Path, extra: &[&Path], out: &Path) -> Vec<serde_json::Value> {
    let status = Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .arg("hunt")
        .arg(logs)
        .args(extra)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .status()
        .expect("run hunt");
    assert!(status.success());
    std::fs::read_to_string(out.join("alerts.jsonl"))
        .expect("alerts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert JSON"))
        .collect()
}

/// Every alert through the API, following the cursor with pages of `page`.
pub fn all_alerts(addr: &str, page: usize) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = get(addr, &format!("/api/v1/alerts?limit={page}{cursor}"));
        assert_eq!(r.status, 200);
        let v = r.json();
        out.extend(v["alerts"].as_array().into_iter().flatten().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Writes a simulated tenant (with a Storm-0558-style intrusion) in the given shapes.
pub fn simulate(out: &Path, shapes: &str) -> PathBuf {
    simulate_seed(out, shapes, 7)
}

/// [`simulate`] with another seed.
pub fn simulate_seed(out: &Path, shapes: &str, seed: u64) -> PathBuf {
    simulate_with(out, shapes, seed, &[])
}

/// [`simulate_seed`] with more `simulate` arguments (`--gap ...`).
pub fn simulate_with(out: &Path, shapes: &str, seed: u64, extra: &[&str]) -> PathBuf {
    let logs = out.join("logs");
    let seed = seed.to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .args([
            "simulate", "--users", "10", "--days", "8", "--seed", &seed, "-q",
        ])
        .args(extra)
        .arg("--shape")
        .arg(shapes)
        .arg("--out")
        .arg(&logs)
        .status()
        .expect("run simulate");
    assert!(status.success());
    logs
}

/// The log files of a simulated tenant in delivery order: by day, sign-ins first.
pub fn files_by_day(logs: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in std::fs::read_dir(logs).unwrap() {
        let d = d.unwrap().path();
        for f in std::fs::read_dir(&d).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    let day = |p: &PathBuf| {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        let date = n
            .split('_')
            .find(|s| s.starts_with("20"))
            .map(|s| s.chars().take(10).collect::<String>())
            .unwrap_or_default();
        let signin = n.to_ascii_lowercase().contains("signin");
        (date, !signin, n)
    };
    files.sort_by_key(day);
    files
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The strong rules both `hunt` and `serve` run (their high/critical alerts are compared).
pub const STRONG: &[&str] = &[
    "token-never-issued",
    "consumer-tenant-token",
    "known-bad-key",
    "ioc-ip",
];

/// (rule, indicator): what identifies the same strong finding in `hunt` and `serve`, read
/// from the evidence both write (the forged token, the IOC IP, the key, the token tenant and
/// client app); `hunt` and `serve` may name a different first record's token on an `ioc-ip`
/// alert, so the alert's own token is not part of it.
pub type Finding = (String, String);

/// The [`Finding`] of an alert (JSON as `alerts.jsonl` and the API write it).
pub fn finding(a: &serde_json::Value) -> Finding {
    let ev = |k: &str| a["evidence"][k].as_str().unwrap_or("").to_string();
    let rule = a["rule_id"].as_str().unwrap_or("").to_string();
    let indicator = match rule.as_str() {
        "token-never-issued" => ev("token_id"),
        "ioc-ip" => ev("ip"),
        "known-bad-key" => ev("key_id"),
        "consumer-tenant-token" => format!("{}/{}", ev("token_tenant"), ev("client_app_id")),
        _ => a["token_id"].as_str().unwrap_or("").to_string(),
    };
    (rule, indicator)
}

/// A high or critical alert of a [`STRONG`] rule.
pub fn is_strong(a: &serde_json::Value) -> bool {
    STRONG.contains(&a["rule_id"].as_str().unwrap_or(""))
        && matches!(a["severity"].as_str(), Some("high" | "critical"))
}
