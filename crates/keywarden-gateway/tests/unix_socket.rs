//! The gateway on a Unix-domain socket (`--listen unix:PATH`), as a proxy on the same host
//! calls it: the same decisions as over TCP, the peer taken to be the loopback address (so
//! the local proxy's `X-Forwarded-For` names the client), the socket file gone when the
//! gateway stops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use support::*;

#[test]
fn checks_over_a_unix_socket_decide_as_over_tcp() {
    let k = keys();
    let log = k.dir.path().join("decisions.jsonl");
    let sock = k.dir.path().join("gw.sock");
    let gw = start_on(
        &format!("unix:{}", sock.display()),
        &k.policy,
        "[flood]\nenabled = false",
        Some(keywarden_gateway::LogTarget::File(log.clone())),
        None,
    );
    let health = http_unix(&sock, "GET", "/.keywarden/healthz", &[]);
    assert_eq!(health.status, 200, "{health:?}");

    let ok = http_unix(
        &sock,
        "GET",
        "/owa/inbox",
        &[("Authorization", &format!("Bearer {}", k.valid("unix-ok")))],
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("x-keywarden-sub"), Some("alice-sub"));
    for (what, token, code) in k.forged() {
        let r = http_unix(
            &sock,
            "GET",
            "/owa/inbox",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("X-Forwarded-For", "203.0.113.9"),
            ],
        );
        assert_eq!(r.status, 401, "{what}: {r:?}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(format!("Bearer error=\"invalid_token\", error_description=\"{code}\"").as_str()),
            "{what}"
        );
    }
    let lines = log_lines(&log, 1 + k.forged().len());
    // No X-Forwarded-For: the peer itself, the loopback address a Unix socket stands for.
    assert_eq!(lines[0]["client"], "127.0.0.1");
    assert_eq!(lines[0]["decision"], "allow");
    // The local proxy is trusted (the default `trusted_proxies`): the client it names.
    assert_eq!(lines[1]["client"], "203.0.113.9");
    drop(gw);
    assert!(
        !sock.exists(),
        "the socket file is removed when the gateway stops"
    );
}
