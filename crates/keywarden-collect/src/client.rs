//! One API call, done right: a token for the service's scope, the per-API gate (budget and
//! `Retry-After`), retries of 429/5xx/transport failures with backoff, one re-authentication on
//! 401, and counters of requests, throttled responses and retries per stream.
//!
//! A bearer token is only ever sent to the base URL of its service: a paging link that points
//! anywhere else is refused (it could exfiltrate the token).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth::TokenProvider;
use crate::clock::Clock;
use crate::config::{CollectConfig, Endpoints, Service};
use crate::error::CallError;
use crate::http::{Request, Response, Transport};
use crate::throttle::{ApiGate, Backoff, parse_retry_after};

/// Largest error body read to find the service's error code.
const MAX_ERROR_BODY: u64 = 256 * 1024;

/// Request counters of one stream (this run).
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.throttled.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        )
    }
}

/// Shared by every worker of a run.
pub struct Client {
    transport: Arc<dyn Transport>,
    tokens: TokenProvider,
    pub(crate) clock: Arc<dyn Clock>,
    gates: BTreeMap<Service, ApiGate>,
    backoff: Backoff,
    max_retries: u32,
    pub(crate) endpoints: Endpoints,
    cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Client {
    pub fn new(
        config: &CollectConfig,
        transport: Arc<dyn Transport>,
        tokens: TokenProvider,
        clock: Arc<dyn Clock>,
    ) -> Client {
        let gates = [Service::Manage, Service::Graph, Service::LogAnalytics]
            .into_iter()
            .map(|s| (s, ApiGate::new(config.budget(s))))
            .collect();
        Client {
            transport,
            tokens,
            clock,
            gates,
            backoff: Backoff::new(
                config.pacing.backoff_base,
                config.pacing.backoff_cap,
                config.pacing.jitter_seed,
            ),
            max_retries: config.pacing.max_retries,
            endpoints: config.endpoints.clone(),
            cancel: config.cancel.clone(),
        }
    }

    /// Gets a token for every service the run needs, so bad credentials fail before anything
    /// else happens (exit 2).
    pub fn authenticate(&self, service: Service) -> Result<(), CallError> {
        self.tokens
            .token(&self.endpoints.scope(service))
            .map(|_| ())
    }

    /// The tenant id named by the tokens' `tid` claim ([`TokenProvider::tenant_id`]).
    pub fn token_tenant_id(&self) -> Option<String> {
        self.tokens.tenant_id()
    }

    /// Sends a request to `service`, retrying as the module says. `url` must lie under the
    /// service's base URL. Returns a 2xx response; any other final status is an error that
    /// carries the service's error code.
    pub fn send(
        &self,
        service: Service,
        method: &'static str,
        url: &str,
        body: Option<&serde_json::Value>,
        counters: &Counters,
    ) -> Result<Response, CallError> {
        let base = self.endpoints.base(service);
        let under_base = url
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        if !under_base {
            return Err(CallError::Shape {
                url: url.to_owned(),
                detail: format!("link outside {base}: refused (it would carry the token)"),
            });
        }
        let scope = self.endpoints.scope(service);
        let gate = self.gates.get(&service);
        let body_bytes = body.map(|b| b.to_string().into_bytes());
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            if self.cancelled() {
                return Err(CallError::Cancelled {
                    url: url.to_owned(),
                });
            }
            let token = self.tokens.token(&scope)?;
            if let Some(g) = gate {
                g.acquire(self.clock.as_ref());
            }
            Counters::bump(&counters.requests);
            let mut headers = vec![
                ("authorization", token.bearer()),
                ("accept", "application/json".to_owned()),
            ];
            if body_bytes.is_some() {
                headers.push(("content-type", "application/json".to_owned()));
            }
            let req = Request {
                method,
                url: url.to_owned(),
                headers,
                body: body_bytes.clone(),
            };
            let retry_in = match self.transport.send(&req) {
                Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(resp) if resp.status == 401 && !reauthenticated => {
                    self.tokens.invalidate(&scope, &token);
                    reauthenticated = true;
                    Counters::bump(&counters.retries);
                    continue;
                }
                Ok(resp) if resp.status == 429 || resp.status >= 500 => {
                    if resp.status == 429 {
                        Counters::bump(&counters.throttled);
                    }
                    let now = self.clock.now();
                    let after = resp
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(v, now));
                    if attempt >= self.max_retries {
                        return Err(status_error(resp, url));
                    }
                    let wait = after.unwrap_or_else(|| self.backoff.delay(attempt));
                    if resp.status == 429 || after.is_some() {
                        // The service asked the whole API to wait: hold every worker.
                        if let Some(g) = gate {
                            g.block_until(now.plus_micros(wait));
                        }
                        None
                    } else {
                        Some(wait)
                    }
                }
                Ok(resp) => return Err(status_error(resp, url)),
                Err(detail) => {
                    if attempt >= self.max_retries {
                        return Err(CallError::Transport {
                            url: url.to_owned(),
                            detail,
                        });
                    }
                    Some(self.backoff.delay(attempt))
                }
            };
            attempt += 1;
            Counters::bump(&counters.retries);
            if let Some(d) = retry_in
                && !self.cancelled()
            {
                self.clock.sleep(d);
            }
        }
    }

    /// True once the embedder asked the run to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

trait PlusMicros {
    fn plus_micros(self, d: std::time::Duration) -> Self;
}

impl PlusMicros for keywarden_model::Timestamp {
    fn plus_micros(self, d: std::time::Duration) -> Self {
        keywarden_model::Timestamp(self.0.saturating_add(crate::clock::micros(d)))
    }
}

/// The error of a non-2xx response, with the service's `error.code`/`error.message`
/// (Management API, Graph and Log Analytics all use `{"error": {"code", "message"}}`).
fn status_error(resp: Response, url: &str) -> CallError {
    let status = resp.status;
    let body = resp.read_body(MAX_ERROR_BODY).unwrap_or_default();
    let (code, message) = error_code(&body);
    CallError::Status {
        status,
        url: url.to_owned(),
        code,
        message,
    }
}

/// `error.code` and `error.message` of an error body (empty when absent).
pub(crate) fn error_code(body: &[u8]) -> (String, String) {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let err = doc.get("error");
    let s = |k: &str| {
        err.and_then(|e| e.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>()
    };
    (s("code"), s("message"))
}
