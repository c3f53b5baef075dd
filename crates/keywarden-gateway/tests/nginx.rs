//! A real nginx (Debian's package) with `auth_request` to the gateway in front of a small
//! upstream, configured from the example in `docs/GATEWAY.md`: a valid token reaches the
//! upstream with identity headers; the held corpus of forged tokens never does.
//!
//! Skips with a message when nginx is not installed, except under CI (`CI` set), where
//! `scripts/test.sh` installs it and its absence is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

/// nginx, or `None` with a SKIPPED line for `test` when it is not installed; under CI (`CI`
/// set) its absence is a failure.
fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    let bin = nginx_binary();
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing under CI: scripts/test.sh installs it (KEYWARDEN_APT_PACKAGES)"
        );
        eprintln!("SKIPPED {test}: nginx not installed (apt-get install nginx)");
    }
    bin
}

/// The upstream: answers 200 `upstream` and records each request's head.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

fn upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut head = String::new();
            let mut r = BufReader::new(c.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            s.lock().unwrap().push(head);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nupstream\n",
            );
        }
    });
    Upstream { addr, seen }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The documented nginx example, with the addresses substituted.
pub fn documented_example() -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/GATEWAY.md"),
    )
    .unwrap();
    let start = doc.find("<!-- nginx-example:start -->").unwrap();
    let end = doc.find("<!-- nginx-example:end -->").unwrap();
    let block = &doc[start..end];
    let body = block
        .split_once("```nginx\n")
        .and_then(|(_, b)| b.split_once("```"))
        .map(|(b, _)| b)
        .unwrap();
    body.to_string()
}

struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx on `listen` from the documented example, its gateway upstream `gateway` (an address,
/// or `unix:PATH`).
fn start_nginx(bin: &Path, listen: SocketAddr, gateway: &str, up: SocketAddr) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = documented_example()
        .replace("GATEWAY_ADDR", gateway)
        .replace("UPSTREAM_ADDR", &up.to_string())
        .replace("LISTEN_ADDR", &listen.to_string());
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n{server}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut n = Nginx { child, dir };
    let t0 = Instant::now();
    while TcpStream::connect(listen).is_err() {
        if let Ok(Some(status)) = n.child.try_wait() {
            let log = std::fs::read_to_string(n.dir.path().join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}): {log}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    n
}

#[test]
fn nginx_auth_request_passes_valid_tokens_and_never_forged_ones() {
    let Some(bin) = nginx_or_skip("nginx_auth_request_passes_valid_tokens_and_never_forged_ones")
    else {
        return;
    };
    let k = keys();
    let log = k.dir.path().join("decisions.jsonl");
    let gw = start(
        &k.policy,
        "[flood]\nenabled = false",
        Some(keywarden_gateway::LogTarget::File(log.clone())),
    );
    let up = upstream();
    let listen = free_port();
    let _nginx = start_nginx(&bin, listen, &gw.addr.to_string(), up.addr);

    let ok = http(
        listen,
        "GET",
        "/owa/inbox?x=1",
        &[
            ("Authorization", &format!("Bearer {}", k.valid("nginx-ok"))),
            // A client-sent identity header must not reach the upstream.
            ("X-Keywarden-Roles", "Exchange.Admin"),
        ],
    );
    assert_eq!((ok.status, ok.body.as_str()), (200, "upstream\n"), "{ok:?}");
    {
        let seen = up.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let head = seen[0].to_ascii_lowercase();
        assert!(head.starts_with("get /owa/inbox?x=1 "), "{head}");
        assert!(head.contains("x-keywarden-sub: alice-sub\r\n"), "{head}");
        assert!(
            head.contains(&format!("x-keywarden-tid: {}\r\n", token::TENANT)),
            "{head}"
        );
        assert!(head.contains("x-keywarden-scp: mail.read\r\n"), "{head}");
        assert!(!head.contains("x-keywarden-roles"), "{head}");
    }
    for (what, token, code) in k.forged() {
        let r = http(
            listen,
            "GET",
            "/owa/inbox",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{code}\"").as_str()),
            "{what}"
        );
    }
    let none = http(listen, "POST", "/owa/send", &[]);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        up.seen.lock().unwrap().len(),
        1,
        "no refused request reached the upstream"
    );
    let lines = log_lines(&log, 2 + k.forged().len());
    assert_eq!(lines[0]["path"], "/owa/inbox");
    assert_eq!(lines[0]["client"], "127.0.0.1");
    assert_eq!(lines.last().unwrap()["method"], "POST");
}

/// The same example with the gateway on a Unix socket (`server unix:PATH;` in nginx's upstream,
/// `--listen unix:PATH`): a valid token reaches the upstream with its identity, forged ones
/// never do, and the decision log names the client as nginx saw it.
#[test]
fn nginx_auth_request_to_the_gateway_on_a_unix_socket() {
    let Some(bin) = nginx_or_skip("nginx_auth_request_to_the_gateway_on_a_unix_socket") else {
        return;
    };
    let k = keys();
    let log = k.dir.path().join("decisions.jsonl");
    let sock = k.dir.path().join("gw.sock");
    let unix = format!("unix:{}", sock.display());
    let _gw = start_on(
        &unix,
        &k.policy,
        "[flood]\nenabled = false",
        Some(keywarden_gateway::LogTarget::File(log.clone())),
        None,
    );
    let up = upstream();
    let listen = free_port();
    let _nginx = start_nginx(&bin, listen, &unix, up.addr);

    let ok = http(
        listen,
        "GET",
        "/owa/inbox",
        &[(
            "Authorization",
            &format!("Bearer {}", k.valid("nginx-unix")),
        )],
    );
    assert_eq!((ok.status, ok.body.as_str()), (200, "upstream\n"), "{ok:?}");
    {
        let seen = up.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let head = seen[0].to_ascii_lowercase();
        assert!(head.contains("x-keywarden-sub: alice-sub\r\n"), "{head}");
    }
    for (what, token, code) in k.forged() {
        let r = http(
            listen,
            "GET",
            "/owa/inbox",
            &[("Authorization", &format!("Bearer {token}"))],
        );
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.contains(&format!("error_description=\"{code}\""))),
            "{what}: {r:?}"
        );
    }
    assert_eq!(
        up.seen.lock().unwrap().len(),
        1,
        "no forged token reached the upstream"
    );
    let lines = log_lines(&log, 1 + k.forged().len());
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(
        lines[0]["client"], "127.0.0.1",
        "nginx's client, from X-Forwarded-For"
    );
}
