//! `[auth]` in the serve configuration: API calls presenting a JWT the `keywarden-token`
//! validator accepts are let in like API keys; a JWT with a wrong signature, audience or an
//! expired one is refused with 401, and the dashboard's browser login still needs a key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use keywarden_server::{ApiKeys, ServeConfig, SystemClock};

const KEY: &str = "jwt-test-key-0123456789abcdef";
const SECRET: [u8; 32] = [0x42; 32];

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn token(secret: &[u8], claims: &serde_json::Value) -> String {
    let head = b64(br#"{"alg":"HS256","typ":"JWT","kid":"hs1"}"#);
    let body = b64(claims.to_string().as_bytes());
    let input = format!("{head}.{body}");
    let sig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(sig.as_ref()))
}

fn status(addr: &str, path: &str, bearer: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {bearer}\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn jwts_accepted_by_the_trust_policy_are_let_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hs.json"),
        format!(
            r#"{{"keys":[{{"kty":"oct","kid":"hs1","k":"{}"}}]}}"#,
            b64(&SECRET)
        ),
    )
    .unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        r#"
[auth]
leeway_seconds = 60

[[auth.issuer]]
id = "soc"
issuer = "https://sso.example.com"
audiences = ["api://keywarden"]
algorithms = ["HS256"]
jwks_file = "hs.json"
"#,
    )
    .unwrap();
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0",
        dir.path().join("data"),
        ApiKeys::parse(KEY).unwrap(),
    );
    cfg.apply_file(&config).expect("config with [auth]");
    let server = cfg.build(Arc::new(SystemClock)).expect("server");
    let addr = server.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run(async move {
            let _ = stop_rx.await;
        })
    });

    let now = keywarden_server::Clock::now(&SystemClock).unix_seconds();
    let claims = |aud: &str, exp: i64| {
        serde_json::json!({
            "iss": "https://sso.example.com", "aud": aud, "sub": "analyst-1",
            "iat": now - 10, "nbf": now - 10, "exp": exp
        })
    };
    let good = token(&SECRET, &claims("api://keywarden", now + 600));
    assert_eq!(status(&addr, "/api/v1/stats", &good), 200);
    assert_eq!(status(&addr, "/api/v1/stats", KEY), 200, "keys still work");
    for (why, bad) in [
        (
            "wrong key",
            token(&[7; 32], &claims("api://keywarden", now + 600)),
        ),
        (
            "wrong audience",
            token(&SECRET, &claims("api://other", now + 600)),
        ),
        (
            "expired",
            token(&SECRET, &claims("api://keywarden", now - 3600)),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        assert_eq!(status(&addr, "/api/v1/stats", &bad), 401, "{why}");
    }

    let _ = stop_tx.send(());
    running.join().unwrap().expect("clean shutdown");
}

#[test]
fn an_invalid_auth_policy_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "[auth]\nleeway_seconds = -5\n").unwrap();
    let mut cfg = ServeConfig::new("127.0.0.1:0", dir.path(), ApiKeys::parse(KEY).unwrap());
    let err = cfg.apply_file(&config).unwrap_err().to_string();
    assert!(err.contains("[auth]"), "{err}");
}
