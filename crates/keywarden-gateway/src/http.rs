//! The HTTP front: nginx `auth_request`, Traefik `forwardAuth` and Envoy's `ext_authz` HTTP
//! service all send the check as an HTTP request. Every request is a check, whatever its
//! method and path, except the gateway's own `GET /.keywarden/healthz` and
//! `GET /.keywarden/metrics` (answered only when the request carries no credentials and no
//! forwarding headers, so that a proxied original request for those paths is still checked);
//! gRPC `Check` calls on the same listener go to [`crate::grpc`].
//!
//! The original request is read from `X-Forwarded-Method`/`X-Original-Method`,
//! `X-Forwarded-Host` (else `Host`), `X-Forwarded-Uri`/`X-Original-URI` (else the check's own
//! path, less `http_path_prefix`, as Envoy's HTTP service sends it) and `X-Forwarded-For`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use keywarden_server::http::conn::Handler;

use crate::check::{CheckRequest, Decision, Gateway, Outcome};
use crate::client::ProxyNet;
use crate::grpc::{CHECK_PATH, serve_check};

pub const HEALTHZ: &str = "/.keywarden/healthz";
pub const METRICS: &str = "/.keywarden/metrics";

/// Shared by every handler.
#[derive(Clone)]
pub struct Front {
    pub gateway: Arc<Gateway>,
    pub trusted: Arc<Vec<ProxyNet>>,
    /// Stripped from the check's own path when no forwarded URI header is present.
    pub http_path_prefix: Arc<str>,
}

/// What the accept loop hands every request to, with its peer address: [`dispatch`], with no
/// router in between (every request but two is a check, so there is nothing to route) and no
/// per-request extension map for the peer.
#[derive(Clone)]
pub struct FrontHandler(Arc<Front>);

/// The handler for `front`.
pub fn handler(front: Front) -> FrontHandler {
    FrontHandler(Arc::new(front))
}

impl Handler for FrontHandler {
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn handle(&self, peer: SocketAddr, req: Request) -> Self::Future {
        Box::pin(dispatch(self.0.clone(), peer, req))
    }
}

async fn dispatch(front: Arc<Front>, peer: SocketAddr, req: Request) -> Response {
    let headers = req.headers();
    let path = req.uri().path();
    let grpc = path == CHECK_PATH
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/grpc"));
    if grpc {
        return serve_check(front.gateway.clone(), front.trusted.clone(), peer, req).await;
    }
    // The path first: the proxy-header lookups only for the gateway's own two paths.
    if req.method() == Method::GET && (path == HEALTHZ || path == METRICS) && own_request(headers) {
        if path == HEALTHZ {
            return (StatusCode::OK, "ok\n").into_response();
        }
        if path == METRICS {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                front.gateway.metrics_text(),
            )
                .into_response();
        }
    }
    let check = to_check(&front, peer, &req);
    let decision = front.gateway.check(check).await;
    respond(&decision)
}

/// A request with neither credentials nor any header a proxy adds is the gateway's own.
fn own_request(h: &HeaderMap) -> bool {
    const PROXY_HEADERS: &[&str] = &[
        "authorization",
        "x-forwarded-for",
        "x-forwarded-uri",
        "x-forwarded-host",
        "x-forwarded-method",
        "x-original-uri",
        "x-original-method",
        "x-envoy-internal",
        "x-envoy-expected-rq-timeout-ms",
        "x-request-id",
    ];
    !PROXY_HEADERS.iter().any(|n| h.contains_key(*n))
}

fn first(h: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| h.get(*n).map(owned))
}

fn all(h: &HeaderMap, name: HeaderName) -> Vec<String> {
    h.get_all(name).iter().map(owned).collect()
}

/// A header's value as text: copied when it is UTF-8 (checked at SIMD speed), else with
/// U+FFFD for each invalid sequence.
fn owned(v: &HeaderValue) -> String {
    match std::str::from_utf8(v.as_bytes()) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
    }
}

fn to_check(front: &Front, peer: SocketAddr, req: &Request) -> CheckRequest {
    let h = req.headers();
    let own_target = || {
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        match pq.strip_prefix(&*front.http_path_prefix) {
            Some(rest) if !front.http_path_prefix.is_empty() => {
                if rest.starts_with('/') {
                    rest.to_owned()
                } else {
                    format!("/{rest}")
                }
            }
            _ => pq,
        }
    };
    CheckRequest {
        mode: "http",
        peer: Some(peer.ip()),
        forwarded_for: all(h, HeaderName::from_static("x-forwarded-for")),
        method: first(h, &["x-forwarded-method", "x-original-method"])
            .unwrap_or_else(|| req.method().as_str().to_owned()),
        host: first(h, &["x-forwarded-host", "host"])
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .unwrap_or_default(),
        uri: first(h, &["x-forwarded-uri", "x-original-uri"]).unwrap_or_else(own_target),
        authorization: all(h, header::AUTHORIZATION),
    }
}

/// The HTTP answer for a decision.
pub fn respond(d: &Decision) -> Response {
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut resp = match &d.outcome {
        Outcome::Allow(_) => status.into_response(),
        _ => (status, format!("{}\n", d.reason)).into_response(),
    };
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("x-keywarden-reason"),
        HeaderValue::from_static(d.reason),
    );
    match &d.outcome {
        Outcome::Allow(allowed) => {
            for (k, v) in allowed.headers() {
                h.insert(k.clone(), v);
            }
            if let Some(v) = &allowed.absent_header {
                // Envoy's HTTP service: strip client-sent copies of identity headers we did not set.
                h.insert(
                    HeaderName::from_static("x-envoy-auth-headers-to-remove"),
                    v.clone(),
                );
            }
        }
        Outcome::TooManyRequests { retry_after } => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    if let Some(w) = d.www_authenticate()
        && let Ok(v) = HeaderValue::from_str(&w)
    {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}
