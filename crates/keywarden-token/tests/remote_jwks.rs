//! Keys from the network, against a real HTTP server on 127.0.0.1: rotation (the new key
//! appears, the old one is evicted), TTL refresh, OIDC discovery, and the rate limit on
//! refreshes caused by unknown `kid`s (driven by an injected clock via `validate_at`), and a
//! slow key server not stalling the tokens whose keys are cached.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use keywarden_token::{PolicyError, TrustPolicy, Validator};

/// A tiny loopback HTTP/1.1 server with a swappable body per path.
struct Server {
    port: u16,
    routes: Arc<Mutex<Vec<(String, String)>>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Milliseconds every answer is held back (a slow identity provider).
    delay_ms: Arc<AtomicU64>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (r, h, s, d) = (routes.clone(), hits.clone(), stop.clone(), delay_ms.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&buf);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                h.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(d.load(Ordering::SeqCst)));
                let body = r
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, b)| b.clone());
                let resp = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .into()
                    }
                };
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        Server {
            port,
            routes,
            hits,
            stop,
            delay_ms,
        }
    }
    fn set(&self, path: &str, body: String) {
        let mut r = self.routes.lock().unwrap();
        r.retain(|(p, _)| p != path);
        r.push((path.into(), body));
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

const ISS: &str = "https://idp.example";

fn policy(source: &str, extra: &str) -> TrustPolicy {
    TrustPolicy::from_toml(&format!(
        "{extra}\n[[issuer]]\nid='idp'\nissuer='{ISS}'\naudiences=['api']\nalgorithms=['ES256','EdDSA']\n{source}\n"
    ))
    .unwrap()
}

fn claims_idp() -> String {
    format!(r#"{{"iss":"{ISS}","aud":"api","exp":{}}}"#, NOW + 10_000)
}

fn check(v: &Validator, token: &str, now: i64) -> String {
    match v.validate_at(token, now) {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

fn load(p: &TrustPolicy) -> Validator {
    let fetcher = Arc::new(keywarden_token::HttpFetcher::new(
        std::time::Duration::from_secs(5),
    ));
    Validator::from_policy_with(p, fetcher, NOW).unwrap()
}

#[test]
fn rotation_new_key_appears_old_key_is_evicted() {
    let srv = Server::start();
    let (a, b) = (TestKey::p256("key-a"), TestKey::ed("key-b"));
    srv.set("/jwks", jwks(&[&a]));
    let v = load(&policy(&format!("jwks_uri='{}'", srv.url("/jwks")), ""));
    let (ta, tb) = (
        a.token("ES256", &claims_idp()),
        b.token("EdDSA", &claims_idp()),
    );
    assert_eq!(check(&v, &ta, NOW), "ok");
    srv.set("/jwks", jwks(&[&b]));
    // Within the refresh interval an unknown kid does not refetch.
    assert_eq!(check(&v, &tb, NOW + 10), "unknown-kid");
    assert_eq!(v.remote_fetch_count("idp"), Some(1));
    assert_eq!(
        check(&v, &ta, NOW + 20),
        "ok",
        "the cached set still has key-a"
    );
    // After the interval the unknown kid triggers one refresh: key-b appears, key-a is gone.
    assert_eq!(check(&v, &tb, NOW + 301), "ok");
    assert_eq!(v.remote_fetch_count("idp"), Some(2));
    assert_eq!(check(&v, &ta, NOW + 302), "unknown-kid");
}

#[test]
fn unknown_kid_flood_is_rate_limited() {
    let srv = Server::start();
    let a = TestKey::p256("key-a");
    srv.set("/jwks", jwks(&[&a]));
    let v = load(&policy(
        &format!("jwks_uri='{}'", srv.url("/jwks")),
        "refresh_interval_seconds = 60",
    ));
    let hits_after_load = srv.hits();
    let attacker = TestKey::p256("x");
    for i in 0..500 {
        let h = format!(r#"{{"alg":"ES256","kid":"random-{i}"}}"#);
        let t = attacker.sign(&h, &claims_idp());
        // 500 tokens over 100 simulated seconds: at most one refresh per 60 s.
        assert_eq!(check(&v, &t, NOW + 1 + i / 5), "unknown-kid");
    }
    assert_eq!(
        v.remote_fetch_count("idp"),
        Some(2),
        "one refresh at NOW+60, none other"
    );
    assert_eq!(srv.hits() - hits_after_load, 1);
    assert_eq!(check(&v, &a.token("ES256", &claims_idp()), NOW + 100), "ok");
}

#[test]
fn ttl_expiry_refetches_even_for_known_kids() {
    let srv = Server::start();
    let (a, b) = (TestKey::p256("key-a"), TestKey::p256("key-b"));
    srv.set("/jwks", jwks(&[&a]));
    let v = load(&policy(
        &format!("jwks_uri='{}'", srv.url("/jwks")),
        "jwks_cache_ttl_seconds = 600",
    ));
    srv.set("/jwks", jwks(&[&b]));
    let ta = a.token("ES256", &claims_idp());
    assert_eq!(check(&v, &ta, NOW + 599), "ok");
    assert_eq!(
        check(&v, &ta, NOW + 600),
        "unknown-kid",
        "TTL refresh evicted key-a"
    );
    assert_eq!(check(&v, &b.token("ES256", &claims_idp()), NOW + 601), "ok");
}

#[test]
fn discovery_document() {
    let srv = Server::start();
    let a = TestKey::p256("key-a");
    srv.set("/keys", jwks(&[&a]));
    srv.set(
        "/.well-known/openid-configuration",
        format!(r#"{{"issuer":"{ISS}","jwks_uri":"{}"}}"#, srv.url("/keys")),
    );
    let v = load(&policy(
        &format!(
            "discovery='{}'",
            srv.url("/.well-known/openid-configuration")
        ),
        "",
    ));
    assert_eq!(check(&v, &a.token("ES256", &claims_idp()), NOW), "ok");
    // A discovery document for another issuer is refused.
    srv.set(
        "/.well-known/openid-configuration",
        format!(
            r#"{{"issuer":"https://evil.example","jwks_uri":"{}"}}"#,
            srv.url("/keys")
        ),
    );
    let p = policy(
        &format!(
            "discovery='{}'",
            srv.url("/.well-known/openid-configuration")
        ),
        "",
    );
    let fetcher = Arc::new(keywarden_token::HttpFetcher::new(
        std::time::Duration::from_secs(5),
    ));
    let e = Validator::from_policy_with(&p, fetcher, NOW).unwrap_err();
    assert!(e.to_string().contains("differs"), "{e}");
    // jwks_uri pointing at plain http on a non-loopback host is refused without fetching.
    srv.set(
        "/.well-known/openid-configuration",
        format!(r#"{{"issuer":"{ISS}","jwks_uri":"http://idp.example/keys"}}"#),
    );
    let fetcher = Arc::new(keywarden_token::HttpFetcher::new(
        std::time::Duration::from_secs(5),
    ));
    let e = Validator::from_policy_with(&p, fetcher, NOW).unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
}

#[test]
fn plain_http_and_tls_rules() {
    // Non-loopback http is refused before any connection is attempted.
    let p = policy("jwks_uri='http://idp.example/jwks'", "");
    let fetcher = Arc::new(keywarden_token::HttpFetcher::new(
        std::time::Duration::from_secs(1),
    ));
    let e = Validator::from_policy_with(&p, fetcher, NOW).unwrap_err();
    assert!(matches!(e, PolicyError::Fetch { .. }), "{e}");
    // https really speaks TLS: a plain-HTTP server on loopback fails the handshake.
    let srv = Server::start();
    srv.set("/jwks", jwks(&[&TestKey::p256("k")]));
    let p = policy(
        &format!("jwks_uri='https://127.0.0.1:{}/jwks'", srv.port),
        "",
    );
    let fetcher = Arc::new(keywarden_token::HttpFetcher::new(
        std::time::Duration::from_millis(500),
    ));
    assert!(Validator::from_policy_with(&p, fetcher, NOW).is_err());
    // A remote set never yields symmetric keys.
    srv.set(
        "/jwks",
        r#"{"keys":[{"kty":"oct","kid":"h","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#
            .into(),
    );
    let v = load(&policy(&format!("jwks_uri='{}'", srv.url("/jwks")), ""));
    assert!(v.warnings()[0].reason.contains("symmetric"));
}

#[test]
fn regression_jwks_refetch_blocks_other_requests() {
    use std::time::{Duration, Instant};
    let srv = Server::start();
    let a = TestKey::p256("key-a");
    srv.set("/jwks", jwks(&[&a]));
    // A one-second refresh interval: only single-flight keeps a second fetch from starting.
    let v = Arc::new(load(&policy(
        &format!("jwks_uri='{}'", srv.url("/jwks")),
        "refresh_interval_seconds = 1",
    )));
    srv.delay_ms.store(2_000, Ordering::SeqCst);
    let attacker = TestKey::p256("x");
    let random = attacker.sign(r#"{"alg":"ES256","kid":"random-1"}"#, &claims_idp());
    let slow = {
        let v = v.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            (check(&v, &random, NOW + 10), started.elapsed())
        })
    };
    // Wait until the unknown kid's refetch is in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    while v.remote_fetch_count("idp") != Some(2) {
        assert!(Instant::now() < deadline, "the unknown kid never refetched");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let good = a.token("ES256", &claims_idp());
    let started = Instant::now();
    assert_eq!(check(&v, &good, NOW + 11), "ok");
    let good_took = started.elapsed();
    assert!(
        good_took < Duration::from_millis(500),
        "a cached kid waited {good_took:?} behind the refetch"
    );
    // Another unknown kid while the fetch is in flight fails closed at once, fetching nothing.
    let other = attacker.sign(r#"{"alg":"ES256","kid":"random-2"}"#, &claims_idp());
    let started = Instant::now();
    assert_eq!(check(&v, &other, NOW + 12), "unknown-kid");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(v.remote_fetch_count("idp"), Some(2), "single flight");
    let (code, slow_took) = slow.join().unwrap();
    assert_eq!(
        code, "unknown-kid",
        "unknown kid fails closed after the fetch"
    );
    assert!(slow_took >= Duration::from_millis(1_500), "{slow_took:?}");
    // Once the fetch is over a refresh may start again (after the interval).
    srv.delay_ms.store(0, Ordering::SeqCst);
    assert_eq!(check(&v, &good, NOW + 20), "ok");
    let third = attacker.sign(r#"{"alg":"ES256","kid":"random-3"}"#, &claims_idp());
    assert_eq!(check(&v, &third, NOW + 30), "unknown-kid");
    assert_eq!(v.remote_fetch_count("idp"), Some(3));
}

/// `validate_cached_at` (the gateway's path on its async workers) never fetches: it answers from
/// the cached set, and hands back (`None`) exactly the lookups `validate_at` would refresh for:
/// a set past its TTL, or an unknown kid once the minimum interval has passed.
#[test]
fn cached_validation_never_fetches_and_defers_refreshes() {
    let srv = Server::start();
    let (a, b) = (TestKey::p256("key-a"), TestKey::p256("key-b"));
    srv.set("/jwks", jwks(&[&a]));
    let v = load(&policy(
        &format!("jwks_uri='{}'", srv.url("/jwks")),
        "jwks_cache_ttl_seconds = 600\nrefresh_interval_seconds = 60",
    ));
    let hits = srv.hits();
    let (ta, tb) = (
        a.token("ES256", &claims_idp()),
        b.token("ES256", &claims_idp()),
    );
    let cached = |t: &str, now: i64| {
        v.validate_cached_at(t, now)
            .map(|r| r.map_or_else(|e| e.code().to_owned(), |_| "ok".to_owned()))
    };
    // Fresh set, known kid: the same verdict as validate_at.
    assert_eq!(cached(&ta, NOW + 1).as_deref(), Some("ok"));
    // Unknown kid within the minimum interval: answered from the cache, as validate_at would.
    assert_eq!(cached(&tb, NOW + 30).as_deref(), Some("unknown-kid"));
    // Unknown kid after the interval: validate_at would refresh, so cached defers.
    assert_eq!(cached(&tb, NOW + 61), None);
    // Past the TTL even a known kid defers.
    assert_eq!(cached(&ta, NOW + 600), None);
    // A refused token is refused whatever the key set says (no lookup needed).
    assert_eq!(
        cached("e30.e30.", NOW + 600).as_deref(),
        Some(check(&v, "e30.e30.", NOW).as_str())
    );
    assert_eq!(srv.hits(), hits, "validate_cached_at fetched");
    assert_eq!(v.remote_fetch_count("idp"), Some(1));
    // validate_at does the refresh; afterwards the cached path answers again.
    srv.set("/jwks", jwks(&[&a, &b]));
    assert_eq!(check(&v, &tb, NOW + 61), "ok");
    assert_eq!(cached(&tb, NOW + 62).as_deref(), Some("ok"));
    assert_eq!(cached(&ta, NOW + 62).as_deref(), Some("ok"));
}
