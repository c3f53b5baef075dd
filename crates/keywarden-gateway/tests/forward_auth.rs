//! Traefik `forwardAuth` and Envoy HTTP-service semantics over real HTTP on loopback: the
//! held corpus of forged tokens is refused with its reason code, valid tokens pass with
//! identity headers, missing or malformed credentials get 401 `Bearer` (never 400), routes
//! give 403, and the decision log records each decision without the token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_gateway::LogTarget;
use support::*;

const TRAEFIK: &[(&str, &str)] = &[
    ("X-Forwarded-Method", "GET"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "mail.contoso.example"),
    ("X-Forwarded-Uri", "/owa/inbox?access_token=SECRET"),
    ("X-Forwarded-For", "198.51.100.23"),
];

fn traefik(addr: std::net::SocketAddr, auth: Option<&str>) -> Resp {
    let mut h: Vec<(&str, &str)> = TRAEFIK.to_vec();
    if let Some(a) = auth {
        h.push(("Authorization", a));
    }
    // Traefik sends the check as GET to the configured address, whatever the original method.
    http(addr, "GET", "/", &h)
}

#[test]
fn forged_tokens_are_refused_and_valid_ones_carry_identity() {
    let k = keys();
    let log = k.dir.path().join("decisions.jsonl");
    let gw = start(&k.policy, "", Some(LogTarget::File(log.clone())));
    let ok = traefik(gw.addr, Some(&format!("Bearer {}", k.valid("uti-valid-1"))));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("x-keywarden-sub"), Some("alice-sub"));
    assert_eq!(
        ok.header("x-keywarden-oid"),
        Some("0f1e2d3c-0000-4000-8000-00000000a11c")
    );
    assert_eq!(ok.header("x-keywarden-tid"), Some(token::TENANT));
    assert_eq!(ok.header("x-keywarden-aud"), Some("api://webmail"));
    assert_eq!(ok.header("x-keywarden-scp"), Some("Mail.Read"));
    assert_eq!(ok.header("x-keywarden-roles"), None);
    assert_eq!(
        ok.header("x-envoy-auth-headers-to-remove"),
        Some("X-Keywarden-Roles")
    );
    let forged = k.forged();
    for (what, token, code) in &forged {
        let r = traefik(gw.addr, Some(&format!("Bearer {token}")));
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{code}\"").as_str()),
            "{what}"
        );
        assert_eq!(r.header("x-keywarden-sub"), None, "{what}");
    }
    let lines = log_lines(&log, 1 + forged.len());
    assert_eq!(lines.len(), 1 + forged.len());
    let first = &lines[0];
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["reason"], "ok");
    assert_eq!(first["client"], "198.51.100.23");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["host"], "mail.contoso.example");
    assert_eq!(
        first["path"], "/owa/inbox",
        "query strings are never logged"
    );
    assert_eq!(first["uti"], "uti-valid-1");
    assert_eq!(first["appid"], "d3590ed6-52b3-4102-aeff-aad2292ab01c");
    assert_eq!(first["kid"], "ec1");
    assert_eq!(first["alg"], "ES256");
    assert_eq!(first["tid"], token::TENANT);
    assert!(first["latency_us"].as_u64().is_some());
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "time",
            "mode",
            "client",
            "method",
            "host",
            "path",
            "kid",
            "alg",
            "iss",
            "tid",
            "aud",
            "sub",
            "oid",
            "upn",
            "appid",
            "uti",
            "decision",
            "status",
            "reason",
            "latency_us"
        ]
    );
    for (line, (what, token, code)) in lines[1..].iter().zip(&forged) {
        assert_eq!(line["reason"], *code, "{what}");
        assert_eq!(line["decision"], "deny");
        let text = line.to_string();
        let sig = token.rsplit('.').next().unwrap();
        assert!(
            sig.is_empty() || !text.contains(sig),
            "{what}: signature in the log"
        );
        assert!(!text.contains(token.as_str()) && !text.contains("SECRET"));
    }
    // The Storm-0558 token's claims are reported (for hunting), though never trusted.
    assert_eq!(lines[1]["uti"], "forged");
    assert_eq!(lines[1]["kid"], "msa1");
}

#[test]
fn missing_or_malformed_credentials_get_a_bare_bearer_challenge() {
    let k = keys();
    let gw = start(&k.policy, "", None);
    for auth in [
        None,
        Some("Bearer"),
        Some("Bearer "),
        Some("Basic YWxpY2U6cGFzcw=="),
        Some("Negotiate abc"),
        Some("Bearer a b"),
    ] {
        let r = traefik(gw.addr, auth);
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{auth:?}");
    }
    // Garbage that looks like a token is an invalid token, never a 400 or 500.
    for junk in ["abc", "a.b.c", "....", "eyJ.eyJ.x", &"A".repeat(20_000)] {
        let r = traefik(gw.addr, Some(&format!("Bearer {junk}")));
        assert_eq!(r.status, 401, "{junk:.20}: {r:?}");
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\""),
            "{r:?}"
        );
    }
}

#[test]
fn every_method_and_path_is_a_check_except_the_gateways_own() {
    let k = keys();
    let gw = start(&k.policy, "", None);
    for (m, p) in [
        ("POST", "/"),
        ("DELETE", "/anything/at/all"),
        ("PUT", "/.keywarden/healthz"),
    ] {
        assert_eq!(http(gw.addr, m, p, &[]).status, 401, "{m} {p}");
    }
    let h = http(gw.addr, "GET", "/.keywarden/healthz", &[]);
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    // Proxied to us as an original request, the health path is checked like any other.
    let proxied = http(
        gw.addr,
        "GET",
        "/.keywarden/healthz",
        &[("X-Forwarded-For", "203.0.113.5")],
    );
    assert_eq!(proxied.status, 401);
    let m = http(gw.addr, "GET", "/.keywarden/metrics", &[]);
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains(
            "keywarden_gateway_decisions_total{status=\"401\",reason=\"missing-credentials\"} 4"
        ),
        "{}",
        m.body
    );
}

#[test]
fn envoy_http_service_mode_reads_the_original_request_from_the_check_itself() {
    let k = keys();
    let gw = start(
        &k.policy,
        r#"
http_path_prefix = "/check"
unmatched = "deny"
[[route]]
host = "mail.contoso.example"
path_prefix = "/owa/"
scopes = ["Mail.Read"]
[[route]]
host = "mail.contoso.example"
path_prefix = "/admin/"
roles = ["Exchange.Admin"]
"#,
        None,
    );
    let bearer = format!("Bearer {}", k.valid("u-envoy"));
    let envoy = |method: &str, path: &str| {
        http(
            gw.addr,
            method,
            path,
            &[
                ("Authorization", bearer.as_str()),
                ("X-Forwarded-Host", "mail.contoso.example"),
            ],
        )
    };
    assert_eq!(envoy("POST", "/check/owa/send").status, 200);
    let admin = envoy("GET", "/check/admin/users");
    assert_eq!(admin.status, 403, "{admin:?}");
    assert_eq!(admin.header("x-keywarden-reason"), Some("route-role"));
    assert_eq!(envoy("GET", "/check/owa/../admin/x").status, 403);
    assert_eq!(envoy("GET", "/check/elsewhere").status, 403);
}

#[test]
fn identity_values_that_are_not_printable_ascii_are_percent_encoded() {
    let k = keys();
    let gw = start(&k.policy, "[identity_headers]\nsub = \"X-User\"", None);
    let t = k.ec.token(
        "ES256",
        &claims("u2", "").replace("alice-sub", "Jos\\u00e9\\r\\nX-Evil: 1"),
    );
    let r = traefik(gw.addr, Some(&format!("Bearer {t}")));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-user"), Some("Jos%C3%A9%0D%0AX-Evil: 1"));
    assert_eq!(r.header("x-evil"), None);
}

/// Whether the peer closed `s` (EOF or reset) within `within`; `false` if it stayed open.
fn closed_within(s: &mut std::net::TcpStream, within: std::time::Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or similar before the close is still a close.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn regression_gateway_no_header_read_timeout() {
    // Before: the gateway ran on `axum::serve`, which has no header-read or idle timeout and
    // no connection cap: these sockets stayed open for good.
    use std::io::Write;
    use std::time::{Duration, Instant};
    let k = keys();
    let config = "[connections]\nheader_read_timeout_seconds = 1\nkeep_alive_idle_seconds = 1\n";
    let gw = start(&k.policy, config, None);
    let t0 = Instant::now();
    let mut idle = std::net::TcpStream::connect(gw.addr).unwrap();
    let mut partial = std::net::TcpStream::connect(gw.addr).unwrap();
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bear")
        .unwrap();
    // An HTTP/2 client that sends the preface and never a request.
    let mut h2 = std::net::TcpStream::connect(gw.addr).unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    // A good client is served meanwhile.
    let ok = traefik(gw.addr, Some(&format!("Bearer {}", k.valid("uti-slow-1"))));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    for (what, s) in [
        ("idle", &mut idle),
        ("partial head", &mut partial),
        ("h2 preface only", &mut h2),
    ] {
        assert!(
            closed_within(s, Duration::from_secs(4)),
            "{what} still open"
        );
        let after = t0.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(4),
            "{what} closed after {after:?}"
        );
    }
    let metrics = http(gw.addr, "GET", "/.keywarden/metrics", &[]).body;
    let timed_out: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("keywarden_gateway_connections_timed_out_total "))
        .and_then(|v| v.parse().ok())
        .expect("the connection series in /.keywarden/metrics");
    assert!(timed_out >= 3, "{metrics}");
}

/// The header-read timeout holds between keep-alive requests too (the connection's watchdog
/// keeps it since hyper's per-request timer was switched off): after a served request, a head
/// dripped a byte at a time, or none at all, is closed at `header_read_timeout_seconds` from
/// the response, long before `keep_alive_idle_seconds`.
#[test]
fn a_head_dripped_after_a_keep_alive_request_is_closed_at_the_header_timeout() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let k = keys();
    let config = "[connections]\nheader_read_timeout_seconds = 1\nkeep_alive_idle_seconds = 30\n";
    let gw = start(&k.policy, config, None);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        k.valid("uti-keepalive")
    );
    let served = |s: &mut std::net::TcpStream| {
        s.write_all(request.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        Instant::now()
    };
    let mut drip = std::net::TcpStream::connect(gw.addr).unwrap();
    let mut quiet = std::net::TcpStream::connect(gw.addr).unwrap();
    let t_drip = served(&mut drip);
    let t_quiet = served(&mut quiet);
    // A byte every 200 ms (the wait for each a read that sees the close): the head is never
    // complete.
    let mut closed = None;
    for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if drip.write_all(&[*b]).is_err() || closed_within(&mut drip, Duration::from_millis(200)) {
            closed = Some(t_drip.elapsed());
            break;
        }
    }
    let after = closed.expect("the dripping head was never closed");
    assert!(
        // From the client's reading of the answer: a little after the server's end of it.
        after >= Duration::from_millis(700) && after < Duration::from_millis(3500),
        "closed {after:?} after the response"
    );
    assert!(
        closed_within(&mut quiet, Duration::from_secs(3)),
        "quiet connection still open"
    );
    assert!(
        t_quiet.elapsed() < Duration::from_secs(5),
        "{:?}",
        t_quiet.elapsed()
    );
}

/// Found by the flood test when the gateway stopped going through axum's router (which set
/// `Content-Length` itself): the body wrapper that keeps a connection busy hid its size, so
/// hyper sent every answer with a body chunked, and a client reading `Content-Length` read the
/// chunk sizes as the next answer. Every answer has its `Content-Length` and no chunking.
#[test]
fn regression_responses_without_a_router_were_sent_chunked() {
    let k = keys();
    let gw = start(&k.policy, "", None);
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("/.keywarden/healthz", &[]),
        ("/.keywarden/metrics", &[]),
        ("/owa/", &[("Authorization", "Bearer e30.e30.x")]),
        ("/owa/", &[("X-Forwarded-Uri", "/owa/")]),
    ];
    for (path, headers) in cases {
        let r = http(gw.addr, "GET", path, headers);
        assert!(r.header("transfer-encoding").is_none(), "{path}: {r:?}");
        let len: usize = r
            .header("content-length")
            .unwrap_or_else(|| panic!("{path}: no Content-Length: {r:?}"))
            .parse()
            .unwrap();
        assert_eq!(len, r.body.len(), "{path}: {r:?}");
    }
    let ok = http(
        gw.addr,
        "GET",
        "/owa/",
        &[(
            "Authorization",
            &format!("Bearer {}", k.valid("uti-length")),
        )],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-length"), Some("0"), "{ok:?}");
}

/// One raw HTTP/2 frame: length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn regression_h2_drip_holds_a_stream_open() {
    // Before: an HTTP/2 request counted as in progress until its response was sent, and nothing
    // bounded how long that took. A client that never grants connection-level flow-control
    // window gets 65 535 bytes of response bodies (about 3 300 401s), then every further
    // response is stuck; dripping PINGs, it kept the connection busy for good: never idle, so
    // neither the keep-alive idle limit nor shedding ever closed it (seen open after 10 s with
    // 1 s timeouts). Now an HTTP/2 request not answered in full within
    // `http2_request_timeout_seconds` of its head closes the connection.
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let k = keys();
    let config = "decision_timeout_ms = 1000\n[connections]\nheader_read_timeout_seconds = 1\n\
                  keep_alive_idle_seconds = 1\nbody_read_timeout_seconds = 1\n\
                  http2_request_timeout_seconds = 3\n";
    let gw = start(&k.policy, config, None);
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(h2_frame(0x4, 0, 0, &[]));
    s.write_all(&out).unwrap();
    // Responses completed so far: DATA frames carrying END_STREAM (a 401 always has a body).
    let (mut buf, mut done, mut eof) = (Vec::new(), 0usize, false);
    let mut pump = |s: &mut std::net::TcpStream, done: &mut usize| {
        let mut chunk = [0u8; 65536];
        match s.read(&mut chunk) {
            Ok(0) => eof = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
        while buf.len() >= 9 {
            let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            if buf[3] == 0x0 && buf[4] & 0x1 != 0 {
                *done += 1;
            }
            buf.drain(..9 + len);
        }
        eof
    };
    // GET / with no credentials, 50 at a time (under the 200 concurrent streams allowed),
    // until responses stop completing. HPACK: :method GET, :path /, :scheme http (static
    // 2, 4, 6), :authority "x" (literal, name 1).
    let (mut sent, mut stream) = (0usize, 1u32);
    let stalled = loop {
        assert!(
            sent < 6000,
            "responses never stalled ({done} of {sent} done)"
        );
        let mut batch = Vec::new();
        for _ in 0..50 {
            batch.extend(h2_frame(
                0x1,
                0x5,
                stream,
                &[0x82, 0x84, 0x86, 0x01, 0x01, b'x'],
            ));
            stream += 2;
            sent += 1;
        }
        s.write_all(&batch).unwrap();
        let t = Instant::now();
        while done < sent && t.elapsed() < Duration::from_millis(500) {
            assert!(
                !pump(&mut s, &mut done),
                "closed while requests were answered"
            );
        }
        if done < sent {
            // When the stuck batch was sent: its requests' heads reached the gateway after it.
            break t;
        }
    };
    assert!(
        done > 3000,
        "{done} of {sent} answered before the window ran out"
    );
    // Drip: a PING every 200 ms for 8 s, or until the gateway closes the connection.
    let mut closed_after = None;
    let mut n = 0u64;
    while stalled.elapsed() < Duration::from_secs(8) {
        let ping = h2_frame(0x6, 0, 0, &n.to_be_bytes());
        n += 1;
        if s.write_all(&ping).is_err() || closed_within(&mut s, Duration::from_millis(200)) {
            closed_after = Some(stalled.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("stuck HTTP/2 streams kept their connection open");
    // The oldest unanswered request is in the stuck batch, whose heads arrived after it was
    // sent: the 3 s deadline cannot close the connection earlier than 3 s after the send (the
    // 1 s idle and header timeouts would have), and the watchdog closes it soon after (the
    // upper bound leaves room for a loaded machine).
    assert!(
        closed_after >= Duration::from_millis(2950) && closed_after < Duration::from_secs(7),
        "closed {closed_after:?} after the stuck batch was sent"
    );
    // A good client is still served, and the close is counted.
    let ok = traefik(
        gw.addr,
        Some(&format!("Bearer {}", k.valid("uti-after-drip"))),
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    let metrics = http(gw.addr, "GET", "/.keywarden/metrics", &[]).body;
    assert!(
        metrics.contains("keywarden_gateway_connections_timed_out_total 1\n"),
        "{metrics}"
    );
}
