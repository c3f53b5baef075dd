//! The HTTP API (axum): routing, API-key authentication on everything but `GET /healthz`,
//! request timeouts, security headers, and the handlers. Store reads run on blocking threads
//! over a small pool of read connections; ingest goes through the bounded queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keywarden_ingest::Format;
use keywarden_model::{Severity, Timestamp};
use keywarden_store::{AlertQuery, AlertStatus, Store, StoreError};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot};

use crate::http::auth::ApiKeys;
use crate::metrics::Metrics;
use crate::runtime::queue::{IngestFailure, Ingestor, Shed, Submission};

/// The most characters of an `Idempotency-Key` header.
const MAX_KEY_LEN: usize = 200;

/// Read connections, used round-robin.
pub struct Readers {
    conns: Vec<Mutex<Store>>,
    next: AtomicUsize,
}

impl Readers {
    pub fn new(conns: Vec<Store>) -> Readers {
        Readers {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> Option<R> {
        let n = self.conns.len();
        if n == 0 {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let conn = self.conns.get(i)?;
        let mut g = conn.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut g))
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub keys: Arc<ApiKeys>,
    pub ingestor: Ingestor,
    pub readers: Arc<Readers>,
    pub metrics: Arc<Metrics>,
    /// Ingest bodies being read or waiting for their commit.
    pub inflight: Arc<Semaphore>,
    /// The memory budget's body pool, in KiB: each body holds its declared length (or
    /// `max_body_bytes`) from before it is read until it is answered
    /// ([`crate::runtime::memory_budget`]).
    pub body_pool: Arc<Semaphore>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Dashboard sessions of logged-in browsers.
    pub sessions: Arc<crate::dashboard::Sessions>,
    /// `[auth]`: JWTs this validator accepts are let in like API keys.
    pub jwt: Option<Arc<keywarden_token::Validator>>,
    /// Peers whose `X-Forwarded-For` names the client (`[server] trusted_proxies`).
    pub trusted_proxies: Arc<[crate::http::client::ProxyNet]>,
}

impl AppState {
    /// The client a request is counted under by the failed-key throttle: the TCP peer, or the
    /// `X-Forwarded-For` hop a trusted proxy names.
    pub(crate) fn client_ip(
        &self,
        req_peer: Option<std::net::SocketAddr>,
        headers: &HeaderMap,
    ) -> std::net::IpAddr {
        crate::http::client::request_client(req_peer, headers, &self.trusted_proxies)
    }
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/ingest", post(ingest))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/{id}/status", post(set_status))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{id}", get(incident))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/audit", get(audit))
        .route("/metrics", get(metrics))
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Authentication, timeout and security headers for every request. A request presenting
/// `Authorization: Bearer` is throttled like the dashboard login (one throttle, per client):
/// a client locked out gets 429 with `Retry-After` before its credential is even looked at,
/// and every failed Bearer credential counts toward the lockout.
async fn guard(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let open = (req.method() == Method::GET && path == "/healthz")
        || crate::dashboard::is_public_path(path);
    if !open {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bearer = value.as_deref().is_some_and(|v| v.starts_with("Bearer "));
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<crate::http::throttle::Peer>>()
            .map(|c| c.0.0);
        let client = st.client_ip(peer, req.headers());
        let limiter = &st.sessions.throttle;
        let now = st.clock.now().0;
        if bearer
            && let crate::http::throttle::Verdict::Throttled { retry_after } =
                limiter.check(client, now)
        {
            Metrics::add(&st.metrics.bearer_throttled, 1);
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed API keys from this address; wait and try again",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return secure(r);
        }
        let path = req.uri().path();
        let dashboard = crate::dashboard::is_dashboard_path(path);
        let logged_in = dashboard
            .then(|| browser_session(&st, req.headers()))
            .flatten();
        let actor = match st.keys.identify_header(value.as_deref()) {
            Some(a) => Some(a),
            None => jwt_actor(&st, value.as_deref()).await,
        };
        let has_key = actor.is_some();
        if bearer {
            if has_key {
                limiter.succeed(client);
            } else {
                Metrics::add(&st.metrics.bearer_failures, 1);
                limiter.fail(client, now);
                st.metrics
                    .login_clients_evicted
                    .store(limiter.evictions(), std::sync::atomic::Ordering::Relaxed);
            }
        }
        if let Some(a) = actor {
            req.extensions_mut().insert(crate::http::auth::Actor(a));
        }
        if let Some(l) = logged_in {
            req.extensions_mut().insert(l);
        } else if !has_key && dashboard && req.method() == Method::GET {
            return secure(crate::dashboard::to_login());
        } else if !has_key {
            Metrics::add(&st.metrics.auth_failures, 1);
            let mut r = error(StatusCode::UNAUTHORIZED, "missing or invalid API key");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keywarden\""),
            );
            return secure(r);
        }
    }
    let resp = match tokio::time::timeout(st.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => retry_later(StatusCode::SERVICE_UNAVAILABLE, "request timed out", 1),
    };
    secure(resp)
}

/// The audit actor (`jwt:<sub>`) if `[auth]` is configured and the bearer token is a JWT it
/// accepts (validated on a blocking thread: a remote key set may be fetched).
async fn jwt_actor(st: &AppState, header_value: Option<&str>) -> Option<String> {
    let (Some(v), Some(token)) = (
        st.jwt.clone(),
        header_value.and_then(|h| h.strip_prefix("Bearer ")),
    ) else {
        return None;
    };
    let token = token.trim().to_string();
    if token.len() > v.max_token_bytes() {
        return None;
    }
    let now = st.clock.now().0.div_euclid(1_000_000);
    tokio::task::spawn_blocking(move || {
        let t = v.validate_at(&token, now).ok()?;
        Some(crate::http::auth::jwt_actor(t.sub.as_deref(), &t.issuer_id))
    })
    .await
    .ok()
    .flatten()
}

/// The live dashboard session named by the request's cookie.
fn browser_session(st: &AppState, headers: &HeaderMap) -> Option<crate::dashboard::LoggedIn> {
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    let id = crate::dashboard::session::session_id(cookie)?;
    let session = st.sessions.get(id, st.clock.now().0)?;
    Some(crate::dashboard::LoggedIn {
        id: id.to_string(),
        session,
    })
}

/// The policy of every response: no script at all, styles and images from this origin only,
/// forms post only here, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn retry_later(status: StatusCode, message: &str, seconds: u32) -> Response {
    let mut r = error(status, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

#[derive(Debug, Deserialize)]
struct IngestParams {
    format: Option<String>,
    name: Option<String>,
}

async fn ingest(
    State(st): State<AppState>,
    actor: Option<axum::Extension<crate::http::auth::Actor>>,
    Query(q): Query<IngestParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let format = match q.format.as_deref().map(str::parse::<Format>) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let request_key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_KEY_LEN => Some(k),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key must be 1 to 200 visible ASCII characters",
            );
        }
    };
    // A declared length over the limit is refused before anything is read or held.
    let declared = match declared_length(&headers) {
        Ok(d) => d,
        Err(()) => return error(StatusCode::BAD_REQUEST, "invalid Content-Length"),
    };
    if let Some(n) = declared.filter(|&n| n > st.max_body_bytes as u64) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "body of {n} bytes (Content-Length) is larger than {} bytes",
                st.max_body_bytes
            ),
        );
    }
    // Bound memory: a body is only read while holding a permit and its share of the memory
    // budget's body pool, both held until its answer.
    let Ok(permit) = st.inflight.clone().try_acquire_owned() else {
        Metrics::add(&st.metrics.shed_busy, 1);
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many ingest requests in flight",
            1,
        );
    };
    let limit = declared.map_or(st.max_body_bytes, |n| n as usize);
    let share = crate::runtime::memory_budget::body_kib(limit as u64);
    let Ok(memory) = st.body_pool.clone().try_acquire_many_owned(share) else {
        Metrics::add(&st.metrics.shed_busy, 1);
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "ingest memory budget in use by other bodies",
            1,
        );
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) if crate::http::conn::is_body_timeout(&e) => {
            return error(StatusCode::REQUEST_TIMEOUT, &e.to_string());
        }
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body larger than {} bytes", st.max_body_bytes),
            );
        }
    };
    let name = match q.name {
        Some(n) => format!("http:{}", crate::runtime::convert::cut(&n, 200)),
        None => format!("http:{}", st.clock.now()),
    };
    // Keys are per credential (the guard let only authenticated requests in; the fallback
    // never matches a real credential's id) and bound to the body as received.
    let credential = actor.map_or_else(|| "unidentified".to_string(), |a| a.0.0);
    let request_key =
        request_key.map(|k| crate::runtime::queue::request_key(&credential, k, &bytes));
    let (tx, rx) = oneshot::channel();
    let sub = Submission {
        source: "http".into(),
        name,
        body: Vec::from(bytes),
        format,
        request_key,
        offset: None,
        arrived,
        reply: tx,
    };
    match st.ingestor.try_submit(sub) {
        Ok(()) => {}
        Err(Shed::QueueFull) => {
            Metrics::add(&st.metrics.shed_queue_full, 1);
            return retry_later(StatusCode::TOO_MANY_REQUESTS, "ingest queue full", 1);
        }
        Err(Shed::Closed) => {
            return retry_later(StatusCode::SERVICE_UNAVAILABLE, "shutting down", 5);
        }
    }
    let answer = rx.await;
    drop(permit);
    drop(memory);
    match answer {
        Ok(Ok(a)) => (StatusCode::OK, axum::Json(a)).into_response(),
        Ok(Err(e @ (IngestFailure::TooLarge { .. } | IngestFailure::WholeTooLarge { .. }))) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Ok(Err(e @ IngestFailure::TooDeep { .. })) => {
            error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e.to_string())
        }
        Ok(Err(e @ IngestFailure::KeyReused { .. })) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Ok(Err(e @ IngestFailure::Store(_))) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
        Ok(Err(_)) | Err(_) => retry_later(StatusCode::SERVICE_UNAVAILABLE, "shutting down", 5),
    }
}

/// The request's `Content-Length`, if it declares one (`Err` when it is not a number).
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, ()> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or(()),
    }
}

#[derive(Debug, Deserialize, Default)]
struct AlertParams {
    severity: Option<String>,
    min_severity: Option<String>,
    rule: Option<String>,
    user: Option<String>,
    mailbox: Option<String>,
    incident: Option<String>,
    status: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn alert_query(p: AlertParams) -> Result<AlertQuery, String> {
    let severity = |s: &str| Severity::parse(s).ok_or_else(|| format!("unknown severity {s:?}"));
    let severities = match &p.severity {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| severity(s.trim()))
            .collect::<Result<_, _>>()?,
    };
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > keywarden_store::alerts::MAX_LIMIT {
        return Err(format!(
            "limit must be between 1 and {}",
            keywarden_store::alerts::MAX_LIMIT
        ));
    }
    Ok(AlertQuery {
        severities,
        min_severity: p.min_severity.as_deref().map(severity).transpose()?,
        rule: p.rule,
        user: p.user.map(|u| u.to_ascii_lowercase()),
        mailbox: p.mailbox,
        incident: p.incident,
        status: p
            .status
            .as_deref()
            .map(|s| AlertStatus::parse(s).ok_or_else(|| format!("unknown status {s:?}")))
            .transpose()?,
        since: p
            .since
            .as_deref()
            .map(|s| Timestamp::parse(s).ok_or_else(|| format!("unparseable time {s:?}")))
            .transpose()?,
        limit,
        cursor: p.cursor,
    })
}

/// Runs a store read on a blocking thread.
pub(crate) async fn read<R: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
) -> Result<R, Response> {
    let readers = st.readers.clone();
    match tokio::task::spawn_blocking(move || readers.with(f)).await {
        Ok(Some(Ok(r))) => Ok(r),
        Ok(Some(Err(StoreError::InvalidCursor(c)))) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("invalid cursor {c:?}"),
        )),
        Ok(Some(Err(e))) => {
            Metrics::add(&st.metrics.errors, 1);
            Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &keywarden_model::error_chain(&e),
            ))
        }
        _ => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store unavailable",
        )),
    }
}

async fn alerts(State(st): State<AppState>, Query(p): Query<AlertParams>) -> Response {
    let q = match alert_query(p) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match read(&st, move |s| s.alerts(&q)).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct StatusBody {
    status: String,
    #[serde(default)]
    note: String,
}

async fn set_status(
    State(st): State<AppState>,
    actor: Option<axum::Extension<crate::http::auth::Actor>>,
    Path(id): Path<String>,
    axum::Json(b): axum::Json<StatusBody>,
) -> Response {
    let actor = actor.map_or_else(|| "api-key".to_string(), |a| a.0.0);
    let Some(status) = AlertStatus::parse(&b.status) else {
        return error(
            StatusCode::BAD_REQUEST,
            "status must be open, acknowledged or closed",
        );
    };
    let note = crate::runtime::convert::cut(&b.note, 4000).to_string();
    let now = st.clock.now().0;
    let target = id.clone();
    match read(&st, move |s| {
        s.set_alert_status(&target, status, &actor, &note, now)
    })
    .await
    {
        Ok(()) => axum::Json(json!({ "id": id, "status": status })).into_response(),
        Err(r) if r.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            error(StatusCode::NOT_FOUND, "no such alert")
        }
        Err(r) => r,
    }
}

/// The audit trail of analyst actions, newest first.
async fn audit(State(st): State<AppState>) -> Response {
    match read(&st, |s| s.audit_trail(None, 1000)).await {
        Ok(list) => axum::Json(json!({ "audit": list })).into_response(),
        Err(r) => r,
    }
}

async fn incidents(State(st): State<AppState>) -> Response {
    match read(&st, |s| s.incidents(1000)).await {
        Ok(list) => axum::Json(json!({ "incidents": list })).into_response(),
        Err(r) => r,
    }
}

async fn incident(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match read(&st, move |s| s.incident(&id)).await {
        Ok(Some(view)) => axum::Json(view).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such incident"),
        Err(r) => r,
    }
}

async fn stats(State(st): State<AppState>) -> Response {
    match read(&st, |s| s.stats()).await {
        Ok(s) => {
            let mut v = serde_json::to_value(&s).unwrap_or_else(|_| json!({}));
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "queue_depth".into(),
                    json!(st.metrics.queue_depth.load(Ordering::Relaxed)),
                );
                o.insert(
                    "pending_tokens".into(),
                    json!(st.metrics.pending_tokens.load(Ordering::Relaxed)),
                );
                let collect = st.metrics.collect.snapshot(st.clock.now());
                if !collect.is_empty() {
                    o.insert("collect".into(), json!(collect));
                }
            }
            axum::Json(v).into_response()
        }
        Err(r) => r,
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    let s = read(&st, |s| s.stats()).await.ok();
    let text = st.metrics.render(s.as_ref());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_query_validates_its_parameters() {
        let ok = alert_query(AlertParams {
            severity: Some("high,critical".into()),
            user: Some("Alice@Contoso.com".into()),
            since: Some("2023-06-01T00:00:00Z".into()),
            limit: Some(10_000),
            ..AlertParams::default()
        })
        .unwrap();
        assert_eq!(ok.severities, vec![Severity::High, Severity::Critical]);
        assert_eq!(ok.user.as_deref(), Some("alice@contoso.com"));
        for bad in [
            AlertParams {
                limit: Some(10_001),
                ..AlertParams::default()
            },
            AlertParams {
                severity: Some("urgent".into()),
                ..AlertParams::default()
            },
            AlertParams {
                since: Some("yesterday".into()),
                ..AlertParams::default()
            },
        ] {
            assert!(alert_query(bad).is_err());
        }
    }
}
