//! A loopback emulator of the Microsoft APIs `keywarden collect` reads, written from
//! Microsoft's public reference (not from the client): the identity platform's token endpoint
//! (client secret, or a PS256 client assertion whose `x5t#S256` must match the registered
//! certificate), the Office 365 Management Activity API (subscriptions, content listing by
//! `contentCreated` with a 24 h / 7 day check and `NextPageUri` paging, blobs), Graph
//! `beta/auditLogs/signIns` and `v1.0/auditLogs/directoryAudits` (`$filter`, `$top`,
//! `@odata.nextLink`), the Log Analytics query API (`tables`/`columns`/`rows`, `PartialError`
//! over the row cap) and Purview audit queries (create, poll, page, `isRecordCountLimitExceeded`).
//!
//! It misbehaves like the real services when told to: 429 with `Retry-After` every Nth request
//! per API, 500s, short-lived tokens (401 when expired), records repeated across blobs, blobs
//! listed late, expired blobs (AF20051), truncated answers. It logs every request so tests can
//! check that none started inside a `Retry-After` window.
#![allow(dead_code)]

pub mod tenant;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keywarden_collect::Timestamp;
use serde_json::{Value, json};

/// The emulator's clock: sim time = base + real time elapsed (shared with the client in tests).
#[derive(Clone)]
pub struct SimClock {
    pub base: Arc<Mutex<(Timestamp, Instant)>>,
}

impl SimClock {
    pub fn new(base: Timestamp) -> SimClock {
        SimClock {
            base: Arc::new(Mutex::new((base, Instant::now()))),
        }
    }
    pub fn set(&self, t: Timestamp) {
        *self.base.lock().unwrap() = (t, Instant::now());
    }
}

impl keywarden_collect::Clock for SimClock {
    fn now(&self) -> Timestamp {
        let (b, at) = *self.base.lock().unwrap();
        Timestamp(b.0 + at.elapsed().as_micros() as i64)
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A Management API content blob.
#[derive(Debug, Clone)]
pub struct Blob {
    pub content_type: String,
    pub id: String,
    pub created: Timestamp,
    pub records: Vec<Value>,
    pub expired: bool,
}

/// How the services misbehave.
#[derive(Debug, Clone)]
pub struct Faults {
    pub token_lifetime_s: i64,
    /// Every Nth request to an API answers 429 (0: never).
    pub throttle_every: u64,
    pub retry_after_s: u64,
    /// Every Nth request to an API answers 500 (0: never).
    pub error_every: u64,
    pub content_page: usize,
    pub graph_page: usize,
    pub la_row_cap: usize,
    pub purview_limit: usize,
    pub purview_page: usize,
    /// Delay added to each blob answer (to let tests kill a run mid-way).
    pub blob_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            token_lifetime_s: 3600,
            throttle_every: 0,
            retry_after_s: 1,
            error_every: 0,
            content_page: 100,
            graph_page: 1000,
            la_row_cap: 500_000,
            purview_limit: 50_000,
            purview_page: 1000,
            blob_delay: Duration::ZERO,
        }
    }
}

/// The tenant's data.
#[derive(Debug, Clone, Default)]
pub struct TenantData {
    pub blobs: Vec<Blob>,
    pub sign_ins: Vec<Value>,
    pub directory_audits: Vec<Value>,
    pub la_tables: BTreeMap<String, Vec<Value>>,
    /// UAL records Purview searches (by `CreationTime`).
    pub ual: Vec<Value>,
}

/// The simulated tenant's id (keywarden-sim, seed 13): the tenant collected is the one the
/// records name, so `collect.json`'s declared coverage applies to them (checked by
/// `tenant::load`).
pub const TENANT: &str = "1ffe8190-7d5a-4f46-ac82-0ab724907c43";
/// The tenant's verified domain: the identity platform takes it in place of the id in the
/// token endpoint's path (the APIs' URLs take the id only).
pub const DOMAIN: &str = "contoso-sim.onmicrosoft.com";
pub const CLIENT_ID: &str = "0b6f2f9a-1111-4c2b-9d3e-6a0c5b7e8f10";
pub const SECRET: &str = "emulator-secret~value";
pub const WORKSPACE: &str = "5a1b2c3d-0000-4000-8000-00000000feed";

/// One request seen.
#[derive(Debug, Clone)]
pub struct Seen {
    pub api: &'static str,
    pub at: Instant,
    pub method: String,
    pub path: String,
}

#[derive(Default)]
struct Log {
    requests: Vec<Seen>,
    /// (api, from, until) of every 429 sent.
    throttles: Vec<(&'static str, Instant, Instant)>,
    per_api: HashMap<&'static str, u64>,
    tokens_issued: u64,
}

struct Query {
    status_polls: u32,
    records: Vec<Value>,
    exceeded: bool,
    start: String,
    end: String,
}

struct State {
    data: TenantData,
    faults: Faults,
    subscriptions: BTreeMap<String, bool>,
    tokens: HashMap<String, (Instant, String)>,
    queries: HashMap<String, Query>,
    cert_thumbprint: Option<String>,
    log: Log,
}

pub struct Emulator {
    pub base: String,
    state: Arc<Mutex<State>>,
    clock: SimClock,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Emulator {
    pub fn start(data: TenantData, faults: Faults, clock: SimClock) -> Emulator {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            data,
            faults,
            subscriptions: BTreeMap::new(),
            tokens: HashMap::new(),
            queries: HashMap::new(),
            cert_thumbprint: None,
            log: Log::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let state = state.clone();
            let stop = stop.clone();
            let clock = clock.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = state.clone();
                    let clock = clock.clone();
                    std::thread::spawn(move || serve_connection(conn, &state, &clock));
                }
            });
        }
        Emulator {
            base: format!("http://{addr}"),
            state,
            clock,
            stop,
            addr,
        }
    }

    /// `--endpoint` values pointing every service here.
    pub fn endpoints(&self) -> Vec<String> {
        ["login", "manage", "graph", "loganalytics"]
            .iter()
            .map(|n| format!("{n}={}", self.base))
            .collect()
    }

    pub fn register_certificate(&self, pem: &str) {
        let b64: String = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .and_then(|r| r.split("-----END CERTIFICATE-----").next())
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        self.state.lock().unwrap().cert_thumbprint =
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref()));
    }

    pub fn with_state<T>(&self, f: impl FnOnce(&mut TenantData, &mut Faults) -> T) -> T {
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        f(&mut st.data, &mut st.faults)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.requests.clone()
    }

    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().unwrap().log.tokens_issued
    }

    pub fn throttles(&self) -> Vec<(&'static str, Instant, Instant)> {
        self.state.lock().unwrap().log.throttles.clone()
    }

    /// Requests that started inside a `Retry-After` window of their API, allowing `grace` for
    /// requests already in flight when the 429 was sent.
    pub fn requests_inside_retry_after(&self, grace: Duration) -> Vec<Seen> {
        let st = self.state.lock().unwrap();
        st.log
            .requests
            .iter()
            .filter(|r| {
                st.log.throttles.iter().any(|(api, from, until)| {
                    *api == r.api && r.at > *from + grace && r.at < *until
                })
            })
            .cloned()
            .collect()
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

struct HttpRequest {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    raw_target: String,
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json_response(status: u16, v: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![(
            "Content-Type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: serde_json::to_vec(v).unwrap(),
    }
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn serve_connection(conn: TcpStream, state: &Arc<Mutex<State>>, clock: &SimClock) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, q) = target.split_once('?').unwrap_or((&target, ""));
        let req = HttpRequest {
            method,
            path: path.to_owned(),
            query: form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
            headers,
            body,
            raw_target: target.clone(),
        };
        let host = req.headers.get("host").cloned().unwrap_or_default();
        let resp = handle(&req, state, clock, &format!("http://{host}"));
        let mut out = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            resp.status,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        if writer.write_all(out.as_bytes()).is_err() || writer.write_all(&resp.body).is_err() {
            return;
        }
        let _ = writer.flush();
    }
}

fn api_of(path: &str) -> &'static str {
    if path.contains("/oauth2/") {
        "login"
    } else if path.starts_with("/api/v1.0/") {
        "manage"
    } else if path.starts_with("/v1/workspaces/") {
        "loganalytics"
    } else {
        "graph"
    }
}

fn handle(
    req: &HttpRequest,
    state: &Arc<Mutex<State>>,
    clock: &SimClock,
    base: &str,
) -> HttpResponse {
    let api = api_of(&req.path);
    let now_i = Instant::now();
    let delay;
    {
        let mut st = state.lock().unwrap();
        st.log.requests.push(Seen {
            api,
            at: now_i,
            method: req.method.clone(),
            path: req.raw_target.clone(),
        });
        if api == "login" {
            return token(req, &mut st);
        }
        // Authentication first, as the services do.
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        let tok = auth.strip_prefix("Bearer ").unwrap_or("");
        let want_scope = match api {
            "manage" => "https://manage.office.com/.default",
            "loganalytics" => "https://api.loganalytics.io/.default",
            _ => "https://graph.microsoft.com/.default",
        };
        match st.tokens.get(tok) {
            Some((exp, scope)) if *exp > now_i && scope == want_scope => {}
            Some((exp, _)) if *exp <= now_i => {
                return error(
                    401,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                );
            }
            _ => {
                return error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token validation failure.",
                );
            }
        }
        // Throttling: a request inside an active window is throttled again.
        if let Some((_, _, until)) = st
            .log
            .throttles
            .iter()
            .rev()
            .find(|(a, _, u)| *a == api && *u > now_i)
        {
            let left = until.duration_since(now_i).as_secs().max(1);
            return HttpResponse {
                status: 429,
                headers: vec![("Retry-After".into(), left.to_string())],
                body: serde_json::to_vec(
                    &json!({"error": {"code": "TooManyRequests", "message": "still throttled"}}),
                )
                .unwrap(),
            };
        }
        let n = {
            let c = st.log.per_api.entry(api).or_default();
            *c += 1;
            *c
        };
        let f = st.faults.clone();
        if f.throttle_every > 0 && n % f.throttle_every == 0 {
            let until = now_i + Duration::from_secs(f.retry_after_s);
            st.log.throttles.push((api, now_i, until));
            let code = if api == "manage" {
                "AF429"
            } else {
                "TooManyRequests"
            };
            return HttpResponse {
                status: 429,
                headers: vec![("Retry-After".into(), f.retry_after_s.to_string())],
                body: serde_json::to_vec(
                    &json!({"error": {"code": code, "message": "Too many requests."}}),
                )
                .unwrap(),
            };
        }
        if f.error_every > 0 && n % f.error_every == 0 {
            return error(500, "AF50000", "An internal error occurred.");
        }
        delay = if req.path.contains("/activity/feed/audit/") {
            f.blob_delay
        } else {
            Duration::ZERO
        };
    }
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let now = keywarden_collect::Clock::now(clock);
    let mut st = state.lock().unwrap();
    match api {
        "manage" => manage(req, &mut st, now, base),
        "loganalytics" => log_analytics(req, &st),
        _ => graph(req, &mut st, base),
    }
}

fn token(req: &HttpRequest, st: &mut State) -> HttpResponse {
    let path_ok = [TENANT, DOMAIN].iter().any(|t| {
        req.path
            .eq_ignore_ascii_case(&format!("/{t}/oauth2/v2.0/token"))
    });
    if req.method != "POST" || !path_ok {
        return json_response(
            400,
            &json!({"error": "invalid_request", "error_description": "AADSTS900144: unknown tenant or path"}),
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" || get("client_id") != CLIENT_ID {
        return json_response(
            400,
            &json!({"error": "unauthorized_client", "error_description": "AADSTS700016: application not found"}),
        );
    }
    let ok = if form.contains_key("client_secret") {
        get("client_secret") == SECRET
    } else {
        get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            && assertion_ok(get("client_assertion"), st.cert_thumbprint.as_deref())
    };
    if !ok {
        return json_response(
            401,
            &json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    let scope = get("scope").to_owned();
    st.log.tokens_issued += 1;
    // A JWS as the identity platform issues for Graph and the Management API: its payload
    // names the tenant (`tid`) whatever the path named it by. Not signed: the APIs here only
    // look the token up.
    let tok = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = json!({"aud": scope, "tid": TENANT, "appid": CLIENT_ID,
                            "jti": format!("tok-{}", st.log.tokens_issued)});
        format!(
            "{}.{}.emulator",
            b64.encode(r#"{"typ":"JWT","alg":"RS256"}"#),
            b64.encode(claims.to_string())
        )
    };
    let life = st.faults.token_lifetime_s;
    st.tokens.insert(
        tok.clone(),
        (Instant::now() + Duration::from_secs(life as u64), scope),
    );
    json_response(
        200,
        &json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok}),
    )
}

/// The identity platform's checks of a certificate assertion: PS256, `x5t#S256` of the
/// registered certificate, `aud` the token endpoint, `iss` = `sub` = client id.
fn assertion_ok(jwt: &str, thumbprint: Option<&str>) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let header: Value = b64
        .decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let claims: Value = b64
        .decode(parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    header["alg"] == "PS256"
        && thumbprint.is_some_and(|t| header["x5t#S256"] == t)
        && claims["iss"] == CLIENT_ID
        && claims["sub"] == CLIENT_ID
        && claims["aud"].as_str().is_some_and(|a| {
            [TENANT, DOMAIN].iter().any(|t| {
                a.to_ascii_lowercase()
                    .ends_with(&format!("/{t}/oauth2/v2.0/token"))
            })
        })
        && claims["jti"].as_str().is_some_and(|j| j.len() == 36)
        && b64.decode(parts[2]).is_ok_and(|s| s.len() == 256)
}

fn q<'a>(req: &'a HttpRequest, k: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

fn manage(req: &HttpRequest, st: &mut State, now: Timestamp, base: &str) -> HttpResponse {
    let feed = format!("/api/v1.0/{TENANT}/activity/feed/");
    let Some(op) = req.path.strip_prefix(&feed) else {
        return error(404, "AF10001", "unknown tenant");
    };
    match (req.method.as_str(), op) {
        ("GET", "subscriptions/list") => {
            let v: Vec<Value> = st
                .subscriptions
                .iter()
                .map(|(ct, on)| json!({"contentType": ct, "status": if *on {"enabled"} else {"disabled"}, "webhook": null}))
                .collect();
            json_response(200, &Value::Array(v))
        }
        ("POST", "subscriptions/start") => {
            let ct = q(req, "contentType").unwrap_or("");
            if !CONTENT_TYPES.contains(&ct) {
                return error(400, "AF20011", "invalid content type");
            }
            st.subscriptions.insert(ct.to_owned(), true);
            json_response(
                200,
                &json!({"contentType": ct, "status": "enabled", "webhook": null}),
            )
        }
        ("GET", "subscriptions/content") => {
            let ct = q(req, "contentType").unwrap_or("");
            if st.subscriptions.get(ct) != Some(&true) {
                return error(
                    400,
                    "AF20022",
                    "No subscription found for the specified content type",
                );
            }
            let (Some(s), Some(e)) = (q(req, "startTime"), q(req, "endTime")) else {
                return error(
                    400,
                    "AF20030",
                    "Start time and end time must both be specified (or both omitted)",
                );
            };
            let (Some(s), Some(e)) = (Timestamp::parse(s), Timestamp::parse(e)) else {
                return error(400, "AF20030", "invalid time");
            };
            if e <= s || e.0 - s.0 > 86_400_000_000 || s.0 < now.0 - 7 * 86_400_000_000 {
                return error(
                    400,
                    "AF20030",
                    "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.",
                );
            }
            let all: Vec<&Blob> = st
                .data
                .blobs
                .iter()
                .filter(|b| {
                    b.content_type == ct && b.created >= s && b.created < e && b.created <= now
                })
                .collect();
            let page: usize = q(req, "nextPage").and_then(|p| p.parse().ok()).unwrap_or(0);
            let size = st.faults.content_page;
            let chunk: Vec<Value> = all
                .iter()
                .skip(page * size)
                .take(size)
                .map(|b| {
                    json!({
                        "contentType": b.content_type,
                        "contentId": b.id,
                        "contentUri": format!("{base}{feed}audit/{}", b.id),
                        "contentCreated": b.created.to_rfc3339(),
                        "contentExpiration": b.created.plus_seconds(7 * 86_400).to_rfc3339(),
                    })
                })
                .collect();
            let mut resp = json_response(200, &Value::Array(chunk));
            if (page + 1) * size < all.len() {
                let next = format!(
                    "{base}{feed}subscriptions/content?contentType={ct}&startTime={}&endTime={}&nextPage={}",
                    q(req, "startTime").unwrap_or(""),
                    q(req, "endTime").unwrap_or(""),
                    page + 1
                );
                // Both spellings are seen in the wild.
                let name = if page.is_multiple_of(2) {
                    "NextPageUri"
                } else {
                    "NextPageUrl"
                };
                resp.headers.push((name.into(), next));
            }
            resp
        }
        ("GET", p) if p.starts_with("audit/") => {
            let id = &p["audit/".len()..];
            match st.data.blobs.iter().find(|b| b.id == id) {
                Some(b) if b.expired => error(
                    400,
                    "AF20051",
                    &format!(
                        "Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved."
                    ),
                ),
                Some(b) => json_response(200, &Value::Array(b.records.clone())),
                None => error(404, "AF20050", "The specified content does not exist."),
            }
        }
        _ => error(404, "AF10001", "unknown operation"),
    }
}

/// Parses `f ge T and f lt T and signInEventTypes/any(t: t eq 'x')` filters.
fn filter_bounds(
    filter: &str,
    field: &str,
) -> (Option<Timestamp>, Option<Timestamp>, Option<String>) {
    let (mut ge, mut lt, mut et) = (None, None, None);
    for clause in filter.split(" and ") {
        let c = clause.trim();
        if let Some(v) = c.strip_prefix(&format!("{field} ge ")) {
            ge = Timestamp::parse(v);
        } else if let Some(v) = c.strip_prefix(&format!("{field} lt ")) {
            lt = Timestamp::parse(v);
        } else if let Some(rest) = c.strip_prefix("signInEventTypes/any(t: t eq '") {
            et = rest.strip_suffix("')").map(str::to_owned);
        }
    }
    (ge, lt, et)
}

fn page_of(
    records: Vec<Value>,
    skip: usize,
    size: usize,
    next: impl Fn(usize) -> String,
) -> HttpResponse {
    let total = records.len();
    let value: Vec<Value> = records.into_iter().skip(skip).take(size).collect();
    let mut doc = json!({"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "value": value});
    if skip + size < total {
        doc["@odata.nextLink"] = Value::String(next(skip + size));
    }
    json_response(200, &doc)
}

fn graph(req: &HttpRequest, st: &mut State, base: &str) -> HttpResponse {
    let skip: usize = q(req, "$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let filter = q(req, "$filter").unwrap_or("").to_owned();
    let next = |path: &str, top: Option<usize>| {
        let filter = filter.clone();
        let path = path.to_owned();
        let base = base.to_owned();
        move |k: usize| {
            let enc: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
            match top {
                Some(t) => format!("{base}{path}?$filter={enc}&$top={t}&$skiptoken={k}"),
                None => format!("{base}{path}?$filter={enc}&$skiptoken={k}"),
            }
        }
    };
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/beta/auditLogs/signIns") => {
            let (ge, lt, et) = filter_bounds(&filter, "createdDateTime");
            let top = q(req, "$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(1000usize)
                .min(1000);
            let size = top.min(st.faults.graph_page);
            let mut recs: Vec<Value> = st
                .data
                .sign_ins
                .iter()
                .filter(|r| {
                    let t = r["createdDateTime"].as_str().and_then(Timestamp::parse);
                    let types: Vec<&str> = r["signInEventTypes"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    ge.is_none_or(|g| t.is_some_and(|t| t >= g))
                        && lt.is_none_or(|l| t.is_some_and(|t| t < l))
                        && match &et {
                            Some(e) => types.contains(&e.as_str()),
                            None => types.contains(&"interactiveUser") || types.is_empty(),
                        }
                })
                .cloned()
                .collect();
            recs.sort_by(|a, b| {
                b["createdDateTime"]
                    .as_str()
                    .cmp(&a["createdDateTime"].as_str())
            });
            page_of(recs, skip, size, next("/beta/auditLogs/signIns", Some(top)))
        }
        ("GET", "/v1.0/auditLogs/directoryAudits") => {
            let (ge, lt, _) = filter_bounds(&filter, "activityDateTime");
            let recs: Vec<Value> = st
                .data
                .directory_audits
                .iter()
                .filter(|r| {
                    let t = r["activityDateTime"].as_str().and_then(Timestamp::parse);
                    ge.is_none_or(|g| t.is_some_and(|t| t >= g))
                        && lt.is_none_or(|l| t.is_some_and(|t| t < l))
                })
                .cloned()
                .collect();
            let size = st.faults.graph_page;
            page_of(
                recs,
                skip,
                size,
                next("/v1.0/auditLogs/directoryAudits", None),
            )
        }
        ("POST", "/beta/security/auditLog/queries") => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let (Some(s), Some(e)) = (
                body["filterStartDateTime"]
                    .as_str()
                    .and_then(Timestamp::parse),
                body["filterEndDateTime"]
                    .as_str()
                    .and_then(Timestamp::parse),
            ) else {
                return error(
                    400,
                    "BadRequest",
                    "filterStartDateTime and filterEndDateTime are required",
                );
            };
            let matched: Vec<Value> = st
                .data
                .ual
                .iter()
                .filter(|r| r["CreationTime"].as_str().and_then(Timestamp::parse).is_some_and(|t| t >= s && t < e))
                .map(|r| {
                    json!({
                        "id": r["Id"], "createdDateTime": r["CreationTime"], "auditLogRecordType": r["RecordType"],
                        "operation": r["Operation"], "organizationId": r["OrganizationId"], "userType": "regular",
                        "userId": r["UserKey"], "service": r["Workload"], "objectId": r["ObjectId"],
                        "userPrincipalName": r["UserId"], "clientIp": r["ClientIP"], "administrativeUnits": [],
                        "auditData": r,
                    })
                })
                .collect();
            let limit = st.faults.purview_limit;
            let exceeded = matched.len() > limit;
            let id = format!(
                "{:08x}-0000-4000-8000-{:012x}",
                st.queries.len() + 1,
                st.queries.len() + 1
            );
            st.queries.insert(
                id.clone(),
                Query {
                    status_polls: 0,
                    records: matched.into_iter().take(limit).collect(),
                    exceeded,
                    start: body["filterStartDateTime"].as_str().unwrap_or("").into(),
                    end: body["filterEndDateTime"].as_str().unwrap_or("").into(),
                },
            );
            json_response(
                201,
                &json!({"@odata.type": "#microsoft.graph.security.auditLogQuery", "id": id, "displayName": body["displayName"], "filterStartDateTime": body["filterStartDateTime"], "filterEndDateTime": body["filterEndDateTime"], "status": "notStarted"}),
            )
        }
        ("GET", p) if p.starts_with("/beta/security/auditLog/queries/") => {
            let rest = &p["/beta/security/auditLog/queries/".len()..];
            let (id, records) = match rest.strip_suffix("/records") {
                Some(id) => (id, true),
                None => (rest, false),
            };
            let size = st.faults.purview_page;
            let Some(qry) = st.queries.get_mut(id) else {
                return error(404, "NotFound", "no such query");
            };
            if records {
                let recs = qry.records.clone();
                let path = format!("/beta/security/auditLog/queries/{id}/records");
                let base = base.to_owned();
                return page_of(recs, skip, size, move |k| {
                    format!("{base}{path}?$skiptoken={k}")
                });
            }
            qry.status_polls += 1;
            let status = if qry.status_polls < 2 {
                "running"
            } else {
                "succeeded"
            };
            json_response(
                200,
                &json!({"id": id, "filterStartDateTime": qry.start, "filterEndDateTime": qry.end, "status": status,
                "isRecordCountLimitExceeded": status == "succeeded" && qry.exceeded}),
            )
        }
        _ => error(404, "ResourceNotFound", "unknown resource"),
    }
}

fn log_analytics(req: &HttpRequest, st: &State) -> HttpResponse {
    if req.method != "POST" || req.path != format!("/v1/workspaces/{WORKSPACE}/query") {
        return error(404, "WorkspaceNotFoundError", "unknown workspace");
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let kql = body["query"].as_str().unwrap_or("");
    let table = kql.split('|').next().unwrap_or("").trim();
    let bounds: Vec<Timestamp> = kql
        .split("datetime(")
        .skip(1)
        .filter_map(|p| p.split(')').next().and_then(Timestamp::parse))
        .collect();
    let Some(rows) = st.data.la_tables.get(table) else {
        return error(
            400,
            "BadArgumentError",
            &format!("'{table}' could not be resolved to a table"),
        );
    };
    let (s, e) = (bounds.first().copied(), bounds.get(1).copied());
    let mut columns: Vec<String> = Vec::new();
    for r in rows {
        if let Some(o) = r.as_object() {
            for k in o.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let matched: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            let t = r["TimeGenerated"].as_str().and_then(Timestamp::parse);
            s.is_none_or(|s| t.is_some_and(|t| t >= s))
                && e.is_none_or(|e| t.is_some_and(|t| t < e))
        })
        .collect();
    let cap = st.faults.la_row_cap;
    let out_rows: Vec<Value> = matched
        .iter()
        .take(cap)
        .map(|r| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    let mut doc = json!({"tables": [{"name": "PrimaryResult", "columns": columns.iter().map(|c| json!({"name": c, "type": "string"})).collect::<Vec<_>>(), "rows": out_rows}]});
    if matched.len() > cap {
        doc["error"] = json!({"code": "PartialError", "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196800", "message": "Query result set has exceeded the internal record count limit", "innererror": {"code": "E_QUERY_RESULT_SET_TOO_LARGE"}}}]});
    }
    json_response(200, &doc)
}

/// Every record written under `out`, by source family: id → times seen.
pub fn written(out: &Path) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut by: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for source in ["o365", "purview", "graph-signins", "loganalytics"] {
        let fam = match source {
            "o365" | "purview" => "ual",
            s => s,
        };
        let dir = out.join(source);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for stream in rd {
            for f in std::fs::read_dir(stream.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                let text = std::fs::read_to_string(&p).unwrap();
                let recs: Vec<Value> = if p.extension().unwrap() == "jsonl" {
                    text.lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect()
                } else {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    match v {
                        Value::Array(a) => a,
                        v => v["value"].as_array().unwrap().clone(),
                    }
                };
                for r in recs {
                    let id = ["Id", "id", "RequestId"]
                        .iter()
                        .find_map(|k| r[k].as_str())
                        .unwrap()
                        .to_owned();
                    *by.entry(fam.into()).or_default().entry(id).or_default() += 1;
                }
            }
        }
    }
    by
}
