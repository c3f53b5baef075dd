//! `keywarden serve` hardening over real HTTP on loopback, with a hand-driven clock: the sixth
//! bad dashboard login from one client is answered 429 with `Retry-After` (and so is a correct
//! key while locked out), a correct key is let in once the backoff is over; an acknowledgement
//! records who made it (`key:` + the key's id for a browser session, `jwt:<sub>` for a JWT on
//! the API, escaped on the incident page); the API's Bearer door shares the lockout;
//! `/metrics` exports the login, bearer and live counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use keywarden_model::Timestamp;
use keywarden_server::{ApiKeys, ManualClock, ServeConfig};

const KEY: &str = "login-test-key-0123456789abcdef";
const SECRET: [u8; 32] = [0x24; 32];
/// A JWT subject with markup: it must reach the audit trail as is and render inert.
const SUBJECT: &str = "<b>analyst</b>@example.com";

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn login(addr: &str, key: &str) -> Resp {
    http(
        addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("key={key}"),
    )
}

fn bearer(addr: &str, method: &str, path: &str, auth: &str, body: &str) -> Resp {
    let auth = format!("Bearer {auth}");
    let h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    http(addr, method, path, &h, body)
}

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

fn jwt(now: i64) -> String {
    let head = b64(br#"{"alg":"HS256","typ":"JWT","kid":"hs1"}"#);
    let claims = serde_json::json!({
        "iss": "https://sso.example.com", "aud": "api://keywarden", "sub": SUBJECT,
        "iat": now - 10, "nbf": now - 10, "exp": now + 3600
    });
    let input = format!("{head}.{}", b64(claims.to_string().as_bytes()));
    let sig = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &SECRET),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(sig.as_ref()))
}

/// A `MailItemsAccessed` record from a Storm-0558 IP: an `ioc-ip` alert.
fn ioc_record(id: &str) -> String {
    serde_json::json!({
        "Id": id, "RecordType": 50, "CreationTime": "2023-06-12T03:00:00",
        "Operation": "MailItemsAccessed", "OrganizationId": "contoso-tenant",
        "UserId": "alice@contoso.com", "MailboxOwnerUPN": "alice@contoso.com",
        "ClientIPAddress": "146.70.135.182", "Workload": "Exchange",
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}]
    })
    .to_string()
        + "\n"
}

fn wait_for(addr: &str, path: &str, field: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = bearer(addr, "GET", path, KEY, "").json();
        if let Some(id) = v[field][0]["id"].as_str() {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "nothing at {path}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + 64].to_string()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn logins_are_throttled_and_actions_record_who_made_them() {
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
        "[[auth.issuer]]\nid = \"soc\"\nissuer = \"https://sso.example.com\"\n\
         audiences = [\"api://keywarden\"]\nalgorithms = [\"HS256\"]\njwks_file = \"hs.json\"\n",
    )
    .unwrap();
    let keys = ApiKeys::parse(KEY).unwrap();
    let key_id = keys.identify(KEY).unwrap();
    let mut cfg = ServeConfig::new("127.0.0.1:0", dir.path().join("data"), keys);
    cfg.apply_file(&config).expect("config with [auth]");
    let now = keywarden_server::Clock::now(&keywarden_server::SystemClock).unix_seconds();
    let clock = Arc::new(ManualClock::at(Timestamp(now * 1_000_000)));
    let server = cfg.build(clock.clone()).expect("server");
    let addr = server.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = std::thread::spawn(move || {
        server.run(async move {
            let _ = stop_rx.await;
        })
    });

    // Five wrong keys: 401 each. The sixth try, even with the right key, is throttled.
    for i in 0..5 {
        let r = login(&addr, &format!("wrong-key-{i:016}"));
        assert_eq!(r.status, 401, "attempt {i}");
        assert_eq!(r.header("retry-after"), None);
    }
    let sixth = login(&addr, "wrong-key-5555555555555555");
    assert_eq!(sixth.status, 429);
    assert_eq!(sixth.header("retry-after"), Some("300"));
    assert!(sixth.body.contains("Too many failed logins"));
    let locked = login(&addr, KEY);
    assert_eq!(
        locked.status, 429,
        "a correct key is refused while locked out"
    );
    assert_eq!(locked.header("set-cookie"), None);
    // The API's Bearer door shares the throttle: the locked-out client's correct key is refused.
    let api = bearer(&addr, "GET", "/api/v1/stats", KEY, "");
    assert_eq!(api.status, 429, "{}", api.body);
    assert_eq!(api.header("retry-after"), Some("300"));

    // After the backoff the right key gets a session.
    clock.advance_seconds(299);
    assert_eq!(login(&addr, KEY).status, 429, "one second left");
    clock.advance_seconds(1);
    let ok = login(&addr, KEY);
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();

    let metrics = bearer(&addr, "GET", "/metrics", KEY, "").body;
    for line in [
        "keywarden_login_failures_total 5\n",
        "keywarden_login_throttled_total 3\n",
        "keywarden_bearer_throttled_total 1\n",
        "# TYPE keywarden_login_throttle_evictions_total counter\n",
        "# TYPE keywarden_live_evicted_pending_tokens_total counter\n",
        "# TYPE keywarden_live_lead_hits_dropped_total counter\n",
        "# TYPE keywarden_live_evicted_baseline_keys_total counter\n",
        "# TYPE keywarden_live_correlation_groups gauge\n",
    ] {
        assert!(metrics.contains(line), "{line}in\n{metrics}");
    }

    // An alert to act on.
    let body = ioc_record("ioc-1");
    let r = bearer(&addr, "POST", "/api/v1/ingest?name=ioc", KEY, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let alert = wait_for(&addr, "/api/v1/alerts", "alerts");
    let incident = wait_for(&addr, "/api/v1/incidents", "incidents");
    let page_path = format!("/ui/incidents/{}", encode(&incident));
    let page = http(&addr, "GET", &page_path, &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);

    // The browser session acknowledges: the audit trail names the key's id, not the key.
    let form = format!(
        "csrf={}&status=acknowledged&note=on+it&back=/",
        csrf_of(&page.body)
    );
    let h = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let acted = http(
        &addr,
        "POST",
        &format!("/ui/alerts/{}/status", encode(&alert)),
        &h,
        &form,
    );
    assert_eq!(acted.status, 303, "{}", acted.body);
    // A JWT on the API closes it: the audit trail names the token's subject.
    let closed = bearer(
        &addr,
        "POST",
        &format!("/api/v1/alerts/{}/status", encode(&alert)),
        &jwt(now),
        r#"{"status":"closed","note":"done"}"#,
    );
    assert_eq!(closed.status, 200, "{}", closed.body);

    let audit = bearer(&addr, "GET", "/api/v1/audit", KEY, "").json();
    assert_eq!(
        audit["audit"][0]["actor"],
        format!("jwt:{SUBJECT}").as_str()
    );
    assert_eq!(audit["audit"][0]["action"], "closed");
    assert_eq!(audit["audit"][1]["actor"], key_id.as_str());
    assert_eq!(audit["audit"][1]["action"], "acknowledged");
    assert!(key_id.starts_with("key:") && key_id.len() == 16, "{key_id}");
    assert!(!audit.to_string().contains(KEY), "never the key itself");

    let page = http(&addr, "GET", &page_path, &[("Cookie", &cookie)], "").body;
    assert!(page.contains(&key_id), "the page names the key id");
    assert!(
        page.contains("jwt:&lt;b&gt;analyst&lt;/b&gt;@example.com"),
        "the subject is escaped"
    );
    assert!(!page.contains(SUBJECT), "no raw markup from a token");

    let _ = stop_tx.send(());
    running.join().unwrap().expect("clean shutdown");
}
