//! The browser dashboard at `/`: login with an API key (a session cookie, see [`session`]),
//! incidents and alerts with filters, an incident page with its timeline chart, evidence and
//! exposure per mailbox, and acknowledge/close with a note (a POST form carrying the
//! session's CSRF token, recorded in the store's audit trail under the session's actor, the
//! key's non-secret id). Failed logins are throttled per client address ([`throttle`], shared with the API: 429 with
//! `Retry-After`). Pages are rendered on the server ([`html`]), use no JavaScript, and are
//! served under a strict Content-Security-Policy (set for every response by the API guard).

pub mod html;
pub mod session;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form};
use keywarden_model::Severity;
use keywarden_store::{AlertQuery, AlertStatus};
use serde::Deserialize;

use crate::http::api::{AppState, read};
use crate::http::throttle;
use crate::metrics::Metrics;
pub use session::{Session, Sessions};

/// The stylesheet, compiled into the binary (no CDN, no other asset).
pub const STYLE: &str = include_str!("style.css");

/// Alerts shown per status on the home page.
const PAGE_ALERTS: usize = 200;

/// The dashboard's routes (authentication is the API guard's: see [`is_dashboard_path`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/ui/incidents/{id}", get(incident))
        .route("/ui/alerts/{id}/status", post(set_status))
        .route("/static/style.css", get(style))
}

/// Paths anyone may fetch: the login form and the stylesheet.
pub fn is_public_path(path: &str) -> bool {
    path == "/login" || path == "/static/style.css"
}

/// Paths a browser session may reach (an API key may too).
pub fn is_dashboard_path(path: &str) -> bool {
    path == "/" || path == "/logout" || path.starts_with("/ui/")
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Where an unauthenticated browser is sent.
pub fn to_login() -> Response {
    see_other("/login")
}

async fn style() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        STYLE,
    )
        .into_response()
}

async fn login_form() -> Response {
    html(StatusCode::OK, html::login_page(None))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    key: String,
}

fn throttled(retry_after: u64) -> Response {
    let mut r = html(
        StatusCode::TOO_MANY_REQUESTS,
        html::login_page(Some(
            "Too many failed logins from this address. Wait and try again.",
        )),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

async fn login(
    State(st): State<AppState>,
    peer: Option<Extension<ConnectInfo<throttle::Peer>>>,
    headers: axum::http::HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    // The TCP peer, or the client a trusted proxy names (`[server] trusted_proxies`).
    let ip = st.client_ip(
        peer.map(|Extension(ConnectInfo(throttle::Peer(a)))| a),
        &headers,
    );
    let now = st.clock.now().0;
    let limiter = &st.sessions.throttle;
    if let throttle::Verdict::Throttled { retry_after } = limiter.check(ip, now) {
        Metrics::add(&st.metrics.login_throttled, 1);
        return throttled(retry_after);
    }
    let Some(actor) = st.keys.identify(f.key.trim()) else {
        Metrics::add(&st.metrics.auth_failures, 1);
        Metrics::add(&st.metrics.login_failures, 1);
        limiter.fail(ip, now);
        st.metrics
            .login_clients_evicted
            .store(limiter.evictions(), std::sync::atomic::Ordering::Relaxed);
        return html(
            StatusCode::UNAUTHORIZED,
            html::login_page(Some("That key is not valid.")),
        );
    };
    limiter.succeed(ip);
    let Some((id, _)) = st.sessions.create(now, &actor) else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            html::login_page(Some("No random source: cannot create a session.")),
        );
    };
    let mut r = see_other("/");
    if let Ok(v) = HeaderValue::from_str(&st.sessions.cookie(&id)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The session and its id, put in the request by the guard when a cookie authenticated it.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub id: String,
    pub session: Session,
}

fn csrf_rejected() -> Response {
    html(
        StatusCode::FORBIDDEN,
        "<!DOCTYPE html><title>Forbidden</title><p>Form expired or forged (CSRF token mismatch). Go back, reload and try again.</p>\n".into(),
    )
}

async fn logout(
    State(st): State<AppState>,
    login: Option<Extension<LoggedIn>>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let Some(Extension(l)) = login else {
        return csrf_rejected();
    };
    if !session::csrf_matches(&l.session, &f.csrf) {
        return csrf_rejected();
    }
    st.sessions.remove(&l.id);
    let mut r = see_other("/login");
    if let Ok(v) = HeaderValue::from_str(&st.sessions.clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn csrf_of(login: &Option<Extension<LoggedIn>>) -> String {
    login
        .as_ref()
        .map(|Extension(l)| l.session.csrf.clone())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, Default)]
struct HomeParams {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    mailbox: String,
}

async fn home(
    State(st): State<AppState>,
    login: Option<Extension<LoggedIn>>,
    Query(p): Query<HomeParams>,
) -> Response {
    let csrf = csrf_of(&login);
    let filters = html::Filters {
        severity: p.severity.trim().to_string(),
        rule: p.rule.trim().to_string(),
        user: p.user.trim().to_string(),
        mailbox: p.mailbox.trim().to_string(),
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let base = AlertQuery {
        severities: Severity::parse(&filters.severity).into_iter().collect(),
        rule: some(&filters.rule),
        user: some(&filters.user.to_ascii_lowercase()),
        mailbox: some(&filters.mailbox),
        limit: PAGE_ALERTS,
        ..AlertQuery::default()
    };
    let found = read(&st, move |s| {
        let incidents = s.incidents(200)?;
        let mut groups = Vec::new();
        for status in [
            AlertStatus::Open,
            AlertStatus::Acknowledged,
            AlertStatus::Closed,
        ] {
            let q = AlertQuery {
                status: Some(status),
                ..base.clone()
            };
            groups.push((status, s.alerts(&q)?.alerts));
        }
        Ok((incidents, groups))
    })
    .await;
    match found {
        Ok((incidents, groups)) => html(
            StatusCode::OK,
            html::home(&incidents, &groups, &filters, &csrf),
        ),
        Err(r) => r,
    }
}

async fn incident(
    State(st): State<AppState>,
    login: Option<Extension<LoggedIn>>,
    Path(id): Path<String>,
) -> Response {
    let csrf = csrf_of(&login);
    let found = read(&st, move |s| {
        let Some(view) = s.incident(&id)? else {
            return Ok(None);
        };
        let mut audit = Vec::new();
        for a in &view.alerts {
            audit.extend(s.audit_trail(Some(&a.id), 100)?);
        }
        audit.sort_by_key(|e| std::cmp::Reverse(e.at));
        Ok(Some((view, audit)))
    })
    .await;
    match found {
        Ok(Some((view, audit))) => html(StatusCode::OK, html::incident_page(&view, &audit, &csrf)),
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            html::page("Not found", &csrf, "<h1>No such incident</h1>"),
        ),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    back: String,
}

/// A same-site path to return to after a form (never another origin).
fn safe_back(back: &str) -> &str {
    let ok = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && back.bytes().all(|b| b.is_ascii_graphic());
    if ok { back } else { "/" }
}

async fn set_status(
    State(st): State<AppState>,
    login: Option<Extension<LoggedIn>>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let Some(Extension(l)) = login else {
        return csrf_rejected();
    };
    if !session::csrf_matches(&l.session, &f.csrf) {
        return csrf_rejected();
    }
    let Some(status) = AlertStatus::parse(&f.status) else {
        return html(
            StatusCode::BAD_REQUEST,
            html::page(
                "Bad request",
                &l.session.csrf,
                "<h1>Status must be open, acknowledged or closed</h1>",
            ),
        );
    };
    let note = crate::runtime::convert::cut(&f.note, 4000).to_string();
    let now = st.clock.now().0;
    let back = safe_back(&f.back).to_string();
    let actor = l.session.actor.clone();
    match read(&st, move |s| {
        s.set_alert_status(&id, status, &actor, &note, now)
    })
    .await
    {
        Ok(()) => see_other(&back),
        Err(_) => html(
            StatusCode::NOT_FOUND,
            html::page("Not found", &l.session.csrf, "<h1>No such alert</h1>"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_back("/ui/incidents/inc-1"), "/ui/incidents/inc-1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "/a b",
        ] {
            assert_eq!(safe_back(bad), "/", "{bad}");
        }
    }

    #[test]
    fn path_classes() {
        assert!(is_public_path("/login") && is_public_path("/static/style.css"));
        assert!(!is_public_path("/"));
        assert!(is_dashboard_path("/") && is_dashboard_path("/ui/incidents/x"));
        assert!(!is_dashboard_path("/api/v1/alerts"));
    }
}
