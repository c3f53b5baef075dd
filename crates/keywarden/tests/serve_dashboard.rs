//! The dashboard of the real `keywarden serve` binary over loopback: login and sessions, CSRF,
//! acknowledge with a note into the audit trail, escaping of a hostile record, and the same
//! pages opened in Debian's headless chromium (playwright-core) to prove the payload is inert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serve_support::{KEY, Resp, Served, get, ingest, request, serve};

/// Values an attacker controls in a mail-access record.
const USER: &str = "\"><img src=x onerror=alert(1)>@contoso.com";
const MAILBOX: &str = "<script>alert(2)</script>@contoso.com";
const AGENT: &str = "<script>alert(3)</script>\"><img src=x onerror=alert(4)>";
const FOLDER: &str = "\\Inbox\"><img src=x onerror=alert(5)>";
const SUBJECT: &str = "<script>alert(6)</script>";
const MESSAGE: &str = "<\"><img src=x onerror=alert(7)>@evil.example>";

/// Two `MailItemsAccessed` records from a Storm-0558 IP (an `ioc-ip` alert) full of payloads:
/// a `Bind` of a message with a hostile `InternetMessageId`, and a `Sync` of a hostile folder
/// (both land in the incident's exposure lists).
fn hostile_record() -> Vec<u8> {
    let record = |id: &str, access: &str| {
        serde_json::json!({
            "Id": id,
            "RecordType": 50,
            "CreationTime": "2023-06-12T03:00:00",
            "Operation": "MailItemsAccessed",
            "OrganizationId": "contoso-tenant",
            "UserId": USER,
            "MailboxOwnerUPN": MAILBOX,
            "ClientIPAddress": "146.70.135.182",
            "ClientInfoString": AGENT,
            "AppAccessContext": {"AADSessionId": "sess-hostile-1"},
            "Workload": "Exchange",
            "OperationProperties": [{"Name": "MailAccessType", "Value": access}],
            "Folders": [{"Path": FOLDER, "FolderItems": [
                {"InternetMessageId": MESSAGE, "Subject": SUBJECT}
            ]}]
        })
    };
    format!(
        "{}\n{}\n",
        record("hostile-1", "Bind"),
        record("hostile-2", "Sync")
    )
    .into_bytes()
}

/// Starts serve, ingests the hostile record and waits for its alert and incident.
fn served_with_hostile_alert(dir: &Path) -> (Served, String) {
    let srv = serve(dir, None);
    let r = ingest(&srv.addr, "hostile", &hostile_record(), None).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["accepted"], 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let inc = get(&srv.addr, "/api/v1/incidents").json();
        if let Some(id) = inc["incidents"][0]["id"].as_str() {
            return (srv, id.to_string());
        }
        assert!(Instant::now() < deadline, "no incident: {inc}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn login(addr: &str) -> String {
    let r = form(addr, "/login", None, &format!("key={KEY}"));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").expect("session cookie").to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");
    cookie.split(';').next().unwrap().to_string()
}

fn form(addr: &str, path: &str, cookie: Option<&str>, body: &str) -> Resp {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    request(addr, "POST", path, &h, body.as_bytes()).unwrap()
}

fn page(addr: &str, path: &str, cookie: &str) -> Resp {
    request(addr, "GET", path, &[("Cookie", cookie)], b"").unwrap()
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + 64].to_string()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn login_sessions_csrf_and_escaping() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, incident) = served_with_hostile_alert(dir.path());
    let addr = srv.addr.as_str();

    // Not logged in: the browser is sent to the login form; a wrong key is refused.
    assert_eq!(page(addr, "/", "kw_session=nope").status, 303);
    let bad = form(addr, "/login", None, "key=not-the-key-at-all");
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    let login_page = request(addr, "GET", "/login", &[], b"").unwrap();
    assert_eq!(login_page.status, 200);
    assert!(
        login_page
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );

    let cookie = login(addr);
    let home = page(addr, "/", &cookie);
    assert_eq!(home.status, 200);
    let csp = home.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let html = text(&home);
    assert!(
        html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;@contoso.com"),
        "{html}"
    );
    for raw in ["<img", "<script", "onerror=alert(1)>"] {
        assert!(!html.contains(raw), "raw {raw:?} in the page");
    }
    // Filters narrow the list and are echoed back escaped.
    let filtered = text(&page(addr, "/?user=%22%3E%3Cb%3Ex&severity=high", &cookie));
    assert!(filtered.contains("value=\"&quot;&gt;&lt;b&gt;x\""));
    assert!(
        !filtered.contains("onerror=alert(1)&gt;@"),
        "the hostile user's alert is filtered out"
    );

    let inc_page = page(
        addr,
        &format!("/ui/incidents/{}", url_encode(&incident)),
        &cookie,
    );
    assert_eq!(inc_page.status, 200);
    let inc_html = text(&inc_page);
    assert!(inc_html.contains("<svg class=\"timeline\""));
    assert!(!inc_html.contains("<img") && !inc_html.contains("<script"));
    // The exposure lists carry the hostile message id and folder, escaped.
    assert!(
        inc_html.contains("<details class=\"exposure\">"),
        "{inc_html}"
    );
    assert!(
        inc_html.contains(
            "<code>&lt;&quot;&gt;&lt;img src=x onerror=alert(7)&gt;@evil.example&gt;</code>"
        ),
        "{inc_html}"
    );
    assert!(
        inc_html.contains("<code>\\Inbox&quot;&gt;&lt;img src=x onerror=alert(5)&gt;</code>"),
        "{inc_html}"
    );

    // Acknowledge: a forged or missing CSRF token is refused, the right one is recorded.
    let alert_id = get(addr, "/api/v1/alerts").json()["alerts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let target = format!("/ui/alerts/{}/status", url_encode(&alert_id));
    let note = "<b>seen</b> by analyst";
    let forged = format!("csrf={}&status=acknowledged&note=x", "0".repeat(64));
    assert_eq!(form(addr, &target, Some(&cookie), &forged).status, 403);
    assert_eq!(
        form(addr, &target, Some(&cookie), "status=closed").status,
        403
    );
    assert_eq!(form(addr, &target, None, "status=closed").status, 401);
    let csrf = csrf_of(&html);
    let ok = form(
        addr,
        &target,
        Some(&cookie),
        &format!(
            "csrf={csrf}&status=acknowledged&note={}&back=//evil.example/",
            url_encode(note)
        ),
    );
    assert_eq!(ok.status, 303);
    assert_eq!(
        ok.header("location"),
        Some("/"),
        "never redirected off-site"
    );
    let audit = get(addr, "/api/v1/audit").json();
    assert_eq!(audit["audit"][0]["note"], note);
    assert_eq!(audit["audit"][0]["action"], "acknowledged");
    // Who: the key's non-secret id (`key:` + 12 hex of its SHA-256), never the key.
    let key_id = keywarden_server::ApiKeys::parse(KEY)
        .unwrap()
        .identify(KEY)
        .unwrap();
    assert_eq!(audit["audit"][0]["actor"], key_id.as_str());
    assert!(!audit.to_string().contains(KEY));
    let after = text(&page(
        addr,
        &format!("/ui/incidents/{}", url_encode(&incident)),
        &cookie,
    ));
    assert!(after.contains("&lt;b&gt;seen&lt;/b&gt; by analyst"));

    // Logout needs the CSRF token, then the session is gone.
    assert_eq!(form(addr, "/logout", Some(&cookie), "csrf=x").status, 403);
    let out = form(addr, "/logout", Some(&cookie), &format!("csrf={csrf}"));
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(page(addr, "/", &cookie).status, 303);
}

/// Whether the browser test can run here; in CI it must.
fn browser_ready(dir: &Path) -> bool {
    let ready = Path::new("/usr/bin/chromium").exists()
        && dir.join("node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: the dashboard browser test needs /usr/bin/chromium, node and \
             `npm ci --prefix crates/keywarden-server/tests/browser` (scripts/test.sh installs them)"
        );
        eprintln!(
            "\n!!!!! SKIPPED the real-browser dashboard test: chromium, node or {}/node_modules \
             is missing (run scripts/test.sh, or apt-get install chromium && npm ci --prefix {})\n",
            dir.display(),
            dir.display()
        );
    }
    ready
}

#[test]
fn hostile_record_renders_inert_in_headless_chromium() {
    let browser_dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keywarden-server/tests/browser"
    ));
    if !browser_ready(browser_dir) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (srv, incident) = served_with_hostile_alert(dir.path());
    let pages = serde_json::json!([
        "/",
        format!("/ui/incidents/{}", url_encode(&incident)),
        "/?severity=high"
    ]);
    let browse = |pages: &serde_json::Value, payloads: &serde_json::Value| {
        let out = Command::new("node")
            .arg("dashboard.mjs")
            .current_dir(browser_dir)
            .env("KW_URL", format!("http://{}", srv.addr))
            .env("KW_KEY", KEY)
            .env("KW_PAGES", pages.to_string())
            .env("KW_PAYLOADS", payloads.to_string())
            .output()
            .expect("run node");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "browser checks failed:\n{log}");
        assert!(log.contains("browser checks passed"), "{log}");
        log
    };
    let log = browse(&pages, &serde_json::json!([USER]));
    assert_eq!(log.matches("checked ").count(), 3, "{log}");
    // The incident page's exposure lists show the hostile message id and folder as text.
    let exposure_page = serde_json::json!([format!("/ui/incidents/{}", url_encode(&incident))]);
    let log = browse(&exposure_page, &serde_json::json!([USER, MESSAGE, FOLDER]));
    assert_eq!(log.matches("checked ").count(), 1, "{log}");
}
