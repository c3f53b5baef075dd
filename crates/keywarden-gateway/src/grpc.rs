//! Envoy `ext_authz` over gRPC: `envoy.service.auth.v3.Authorization/Check` served with tonic
//! on the gateway's listener (HTTP/2, told apart from HTTP checks by its path and
//! `content-type: application/grpc`).
//!
//! The downstream client's address is the `source` Envoy reports, believed only when the gRPC
//! caller itself is a trusted proxy. An allowed request gets `OkHttpResponse` headers (identity
//! headers overwritten, absent ones removed) and gRPC status OK; a refused one gets a non-OK
//! status and a `DeniedHttpResponse` with the HTTP status, `WWW-Authenticate` or `Retry-After`,
//! and the reason code as body. Envoy denies on any non-OK status, so every failure is closed.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use tonic::server::{Grpc, UnaryService};
use tonic_prost::ProstCodec;

use crate::check::{CheckRequest, Decision, Gateway, Outcome};
use crate::client::ProxyNet;
use crate::envoy::{self, HeaderValue, HeaderValueOption, OVERWRITE_IF_EXISTS_OR_ADD};

/// The gRPC method path.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// gRPC status codes used in answers.
const OK: i32 = 0;
const PERMISSION_DENIED: i32 = 7;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

#[derive(Clone)]
struct CheckService {
    gateway: Arc<Gateway>,
    caller: IpAddr,
    trusted: Arc<Vec<ProxyNet>>,
}

impl UnaryService<envoy::CheckRequest> for CheckService {
    type Response = envoy::CheckResponse;
    type Future = Pin<
        Box<dyn Future<Output = Result<tonic::Response<Self::Response>, tonic::Status>> + Send>,
    >;

    fn call(&mut self, request: tonic::Request<envoy::CheckRequest>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let req = this.to_check(request.into_inner());
            let decision = this.gateway.check(req).await;
            Ok(tonic::Response::new(answer(&decision)))
        })
    }
}

impl CheckService {
    fn to_check(&self, r: envoy::CheckRequest) -> CheckRequest {
        let attrs = r.attributes.unwrap_or_default();
        let http = attrs.request.and_then(|r| r.http).unwrap_or_default();
        let trusted = self.trusted.iter().any(|n| n.contains(self.caller));
        let source = attrs
            .source
            .and_then(|p| p.address)
            .and_then(|a| a.socket_address)
            .and_then(|s| s.address.parse::<IpAddr>().ok());
        let peer = match (trusted, source) {
            (true, Some(s)) => s,
            _ => self.caller,
        };
        let host = if http.host.is_empty() {
            http.header_values(":authority")
                .into_iter()
                .next()
                .unwrap_or_default()
        } else {
            http.host.clone()
        };
        CheckRequest {
            mode: "grpc",
            peer: Some(peer),
            forwarded_for: if trusted {
                http.header_values("x-forwarded-for")
            } else {
                Vec::new()
            },
            method: http.method.clone(),
            host,
            uri: http.path.clone(),
            authorization: http.header_values("authorization"),
        }
    }
}

fn header(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value,
            raw_value: Vec::new(),
        }),
        append_action: OVERWRITE_IF_EXISTS_OR_ADD,
    }
}

/// The `CheckResponse` for a decision.
pub fn answer(d: &Decision) -> envoy::CheckResponse {
    let status = |code: i32| {
        Some(envoy::RpcStatus {
            code,
            message: d.reason.to_owned(),
        })
    };
    if let Outcome::Allow(allowed) = &d.outcome {
        return envoy::CheckResponse {
            status: status(OK),
            http_response: Some(envoy::HttpResponse::OkResponse(envoy::OkHttpResponse {
                // Names already lower-case (parsed header names).
                headers: allowed.header_text().map(|(k, v)| header(k, v)).collect(),
                headers_to_remove: allowed.absent().map(|h| h.to_ascii_lowercase()).collect(),
            })),
        };
    }
    let code = match d.outcome {
        Outcome::Unauthorized { .. } => UNAUTHENTICATED,
        Outcome::Forbidden => PERMISSION_DENIED,
        Outcome::TooManyRequests { .. } => RESOURCE_EXHAUSTED,
        _ => UNAVAILABLE,
    };
    let mut headers = Vec::new();
    if let Some(w) = d.www_authenticate() {
        headers.push(header("www-authenticate", w));
    }
    if let Outcome::TooManyRequests { retry_after } = d.outcome {
        headers.push(header("retry-after", retry_after.to_string()));
    }
    envoy::CheckResponse {
        status: status(code),
        http_response: Some(envoy::HttpResponse::DeniedResponse(
            envoy::DeniedHttpResponse {
                status: Some(envoy::HttpStatus {
                    code: i32::from(d.status()),
                }),
                headers,
                body: d.reason.to_owned(),
            },
        )),
    }
}

/// Serves one gRPC `Check` call.
pub async fn serve_check(
    gateway: Arc<Gateway>,
    trusted: Arc<Vec<ProxyNet>>,
    caller: SocketAddr,
    req: axum::extract::Request,
) -> axum::response::Response {
    let svc = CheckService {
        gateway,
        caller: caller.ip(),
        trusted,
    };
    let mut grpc = Grpc::new(ProstCodec::<envoy::CheckResponse, envoy::CheckRequest>::default());
    grpc.unary(svc, req).await.map(axum::body::Body::new)
}
