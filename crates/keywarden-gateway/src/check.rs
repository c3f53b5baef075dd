//! One authorization check, whatever the proxy: the [`Gateway`] takes a [`CheckRequest`]
//! (built by the HTTP front for nginx/Traefik/Envoy-HTTP, or by the gRPC front for Envoy) and
//! returns a [`Decision`], logging it and counting it.
//!
//! Order: client address → client and network buckets (429) → credentials (`Bearer`, else
//! 401 with a bare `WWW-Authenticate: Bearer`) → verdict cache → strict validation, on the
//! async worker when the key is at hand, else (a remote key set to refresh first) on the
//! blocking pool bounded by `decision_timeout_ms` (401 `invalid_token` with the reason code;
//! 503 `timeout` or `internal-error` when it cannot finish) → subject bucket (429) → route
//! policy (403) → 200 with identity headers. Every path that is not a positive verdict refuses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_server::Clock;
use keywarden_token::{TrustPolicy, Validator};

use crate::cache::{VerdictCache, token_hash};
use crate::client::{ProxyNet, client_address};
use crate::config::GatewayConfig;
use crate::decision_log::{DecisionLog, FactsJson, Line};
use crate::error::GatewayError;
use crate::flood::FloodControl;
use crate::identity::{Allowed, HeaderNames, Identity, TokenFacts, Verified};
use crate::metrics::Metrics;
use crate::route::Routes;

/// Longest request path kept in the decision log, in bytes.
const PATH_LOG_MAX: usize = 2048;

/// What a proxy asks about one original request.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// `http` or `grpc`.
    pub mode: &'static str,
    /// The address the check came from (or that Envoy reports as the downstream peer, when
    /// the gRPC caller is a trusted proxy).
    pub peer: Option<IpAddr>,
    /// Every `X-Forwarded-For` value, in order.
    pub forwarded_for: Vec<String>,
    pub method: String,
    pub host: String,
    /// The original request target (path and query).
    pub uri: String,
    /// Every `Authorization` value (more than one is malformed).
    pub authorization: Vec<String>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200: headers to pass upstream, and identity header names to strip (claims absent).
    Allow(Arc<Allowed>),
    /// 401; `invalid_token` false for missing or malformed credentials (bare `Bearer`).
    Unauthorized { invalid_token: bool },
    /// 403: a valid token the route does not admit.
    Forbidden,
    /// 429 with `Retry-After` seconds.
    TooManyRequests { retry_after: u64 },
    /// 503: the check could not be completed (timeout, internal error); fail closed.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The stable reason code (`ok`, a `keywarden-token` rejection code, or a gateway code).
    pub reason: &'static str,
}

impl Decision {
    pub fn status(&self) -> u16 {
        match self.outcome {
            Outcome::Allow(_) => 200,
            Outcome::Unauthorized { .. } => 401,
            Outcome::Forbidden => 403,
            Outcome::TooManyRequests { .. } => 429,
            Outcome::Unavailable => 503,
        }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn www_authenticate(&self) -> Option<String> {
        match self.outcome {
            Outcome::Unauthorized {
                invalid_token: true,
            } => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                self.reason
            )),
            Outcome::Unauthorized {
                invalid_token: false,
            } => Some("Bearer".into()),
            _ => None,
        }
    }
}

/// The shared state of a running gateway.
pub struct Gateway {
    validator: Arc<Validator>,
    leeway: i64,
    max_token_bytes: usize,
    /// `not_after` of keys that have one, by (issuer block, kid): caps cached verdicts.
    key_not_after: HashMap<(String, String), i64>,
    trusted: Vec<ProxyNet>,
    http_path_prefix: String,
    timeout: Duration,
    /// `[identity_headers]`, parsed once.
    names: HeaderNames,
    routes: Routes,
    cache: VerdictCache,
    flood: FloodControl,
    metrics: Metrics,
    /// The accept loop's limits and counters (`[connections]`).
    connections: keywarden_server::http::conn::ConnLimits,
    conn_metrics: Arc<keywarden_server::Metrics>,
    log: Option<DecisionLog>,
    clock: Arc<dyn Clock>,
}

impl Gateway {
    /// Loads the validator from the policy (fetching remote key sets now, at the injected
    /// clock's time: a key source that cannot be read stops the gateway from starting).
    pub fn new(
        policy: &TrustPolicy,
        config: GatewayConfig,
        log: Option<DecisionLog>,
        clock: Arc<dyn Clock>,
    ) -> Result<Gateway, GatewayError> {
        let now = clock.now().unix_seconds();
        let validator = Validator::from_policy(policy, now).map_err(GatewayError::Policy)?;
        Self::with_validator(policy, Arc::new(validator), config, log, clock)
    }

    /// As [`Gateway::new`] with a validator built by the caller (injected fetcher or time).
    pub fn with_validator(
        policy: &TrustPolicy,
        validator: Arc<Validator>,
        config: GatewayConfig,
        log: Option<DecisionLog>,
        clock: Arc<dyn Clock>,
    ) -> Result<Gateway, GatewayError> {
        config.check()?;
        let key_not_after = policy
            .issuers
            .iter()
            .flat_map(|b| {
                b.keys.iter().filter_map(|k| {
                    let t = k.not_after.as_ref()?.resolve()?;
                    Some(((b.id.clone(), k.kid.clone()), t))
                })
            })
            .collect();
        Ok(Gateway {
            max_token_bytes: validator.max_token_bytes(),
            validator,
            leeway: policy.leeway_seconds,
            key_not_after,
            trusted: config.trusted_networks()?,
            http_path_prefix: config.http_path_prefix.clone(),
            timeout: Duration::from_millis(config.decision_timeout_ms),
            names: HeaderNames::new(&config.identity_headers)?,
            routes: Routes::new(config.routes.clone(), config.unmatched),
            cache: VerdictCache::new(config.cache.max_entries, config.cache.max_age_seconds),
            flood: FloodControl::new(&config.flood),
            metrics: Metrics::default(),
            connections: config.connections.limits(),
            conn_metrics: Arc::default(),
            log,
            clock,
        })
    }

    /// Decides one check, logs it and counts it.
    pub async fn check(&self, req: CheckRequest) -> Decision {
        let started = Instant::now();
        let now = self.clock.now();
        let client = req.peer.map(|p| {
            let xff: Vec<&str> = req.forwarded_for.iter().map(String::as_str).collect();
            client_address(p, &xff, &self.trusted)
        });
        let (decision, facts) = self.decide(&req, client, now.0).await;
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics
            .record(decision.status(), decision.reason, latency_us);
        if let Some(log) = &self.log {
            self.log_decision(log, &req, client, &decision, &facts, now, latency_us);
        }
        decision
    }

    async fn decide(
        &self,
        req: &CheckRequest,
        client: Option<IpAddr>,
        now_us: i64,
    ) -> (Decision, Facts) {
        let deny = |outcome, reason| Decision { outcome, reason };
        if let Some(ip) = client
            && let Err(r) = self.flood.admit_client(ip, now_us)
        {
            let d = deny(
                Outcome::TooManyRequests {
                    retry_after: r.retry_after,
                },
                r.by.code(),
            );
            return (d, Facts::None);
        }
        let token = match bearer(&req.authorization) {
            Ok(t) => t,
            Err(reason) => {
                let d = deny(
                    Outcome::Unauthorized {
                        invalid_token: false,
                    },
                    reason,
                );
                return (d, Facts::None);
            }
        };
        let now = now_us.div_euclid(1_000_000);
        let hash = token_hash(token);
        let verified = match self.cache.get(&hash, now) {
            Some(v) => v,
            None => match self.validate(token, now).await {
                Ok(id) => {
                    let mut until = id.exp.saturating_add(self.leeway);
                    if let Some(na) = self
                        .key_not_after
                        .get(&(id.issuer_id.clone(), id.kid.clone()))
                    {
                        until = until.min(na.saturating_add(1));
                    }
                    let v = Verified::new(id, &self.names);
                    self.cache.put(hash, v.clone(), until, now);
                    v
                }
                Err(d) => {
                    let facts = TokenFacts::read(token, self.max_token_bytes);
                    return (d, Facts::Read(Box::new(facts)));
                }
            },
        };
        if let Err(r) = self.flood.admit_subject(&verified.subject_key, now_us) {
            let d = deny(
                Outcome::TooManyRequests {
                    retry_after: r.retry_after,
                },
                r.by.code(),
            );
            return (d, Facts::Verified(verified));
        }
        if let Err(r) = self.routes.authorize(&req.host, &req.uri, &verified.grants) {
            return (
                deny(Outcome::Forbidden, r.code()),
                Facts::Verified(verified),
            );
        }
        let d = Decision {
            outcome: Outcome::Allow(verified.allowed.clone()),
            reason: "ok",
        };
        (d, Facts::Verified(verified))
    }

    /// Validates here, on the async worker, when the keys are at hand (static keys, or a remote
    /// set that needs no refresh): tens of microseconds of CPU, less than a hop to the blocking
    /// pool costs. Only a validation that would first refresh a remote key set (and so may wait
    /// on the network) goes to the blocking pool, bounded by the decision timeout.
    async fn validate(&self, token: &str, now: i64) -> Result<Identity, Decision> {
        if let Some(verdict) = self.validator.validate_cached_at(token, now) {
            return verdict
                .map(|ok| Identity::from_verified(&ok))
                .map_err(|rejection| Decision {
                    outcome: Outcome::Unauthorized {
                        invalid_token: true,
                    },
                    reason: rejection.code(),
                });
        }
        let v = self.validator.clone();
        let t = token.to_owned();
        let job = tokio::task::spawn_blocking(move || {
            v.validate_at(&t, now)
                .map(|ok| Identity::from_verified(&ok))
        });
        match tokio::time::timeout(self.timeout, job).await {
            Ok(Ok(Ok(id))) => Ok(id),
            Ok(Ok(Err(rejection))) => Err(Decision {
                outcome: Outcome::Unauthorized {
                    invalid_token: true,
                },
                reason: rejection.code(),
            }),
            Ok(Err(_join)) => Err(Decision {
                outcome: Outcome::Unavailable,
                reason: "internal-error",
            }),
            Err(_elapsed) => Err(Decision {
                outcome: Outcome::Unavailable,
                reason: "timeout",
            }),
        }
    }

    /// Queues the decision's line (the layout of [`crate::DecisionRecord`], written without
    /// building one).
    #[allow(clippy::too_many_arguments)]
    fn log_decision(
        &self,
        log: &DecisionLog,
        req: &CheckRequest,
        client: Option<IpAddr>,
        d: &Decision,
        facts: &Facts,
        now: keywarden_model::Timestamp,
        latency_us: u64,
    ) {
        let made;
        let facts = match facts {
            Facts::Verified(v) => v.log_facts.as_ref(),
            Facts::Read(f) => {
                made = FactsJson::of(f).ok();
                made.as_ref()
            }
            Facts::None => {
                made = FactsJson::of(&TokenFacts::default()).ok();
                made.as_ref()
            }
        };
        let Some(facts) = facts else {
            log.count_error();
            return;
        };
        let path = req.uri.split(['?', '#']).next().unwrap_or("");
        let client = client.map_or_else(String::new, |c| c.to_string());
        let status = d.status();
        log.log_line(&Line {
            time: now,
            mode: req.mode,
            client: &client,
            method: &keywarden_token::reason::evidence(&req.method),
            host: &keywarden_token::reason::evidence(&req.host),
            path: cap(path, PATH_LOG_MAX),
            facts,
            decision: if status == 200 { "allow" } else { "deny" },
            status,
            reason: d.reason,
            latency_us,
        });
    }

    /// The metrics page.
    pub fn metrics_text(&self) -> String {
        self.metrics.render(
            self.cache.stats(),
            self.flood.stats(),
            &self.conn_metrics,
            self.log
                .as_ref()
                .map(DecisionLog::stats)
                .unwrap_or_default(),
        )
    }

    /// The connection cap and timeouts (`[connections]`, the cap not yet fitted to the
    /// descriptor limit).
    pub fn connection_limits(&self) -> keywarden_server::http::conn::ConnLimits {
        self.connections
    }

    /// Where the accept loop counts connections (shown in the metrics page).
    pub fn connection_metrics(&self) -> Arc<keywarden_server::Metrics> {
        self.conn_metrics.clone()
    }

    /// `trusted_proxies`, parsed.
    pub fn trusted(&self) -> &[ProxyNet] {
        &self.trusted
    }

    /// `http_path_prefix` from the configuration.
    pub fn http_path_prefix(&self) -> &str {
        &self.http_path_prefix
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn flood_stats(&self) -> crate::flood::FloodStats {
        self.flood.stats()
    }

    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        self.cache.stats()
    }

    /// Flushes and closes the decision log (at shutdown).
    pub fn close_log(&mut self) {
        if let Some(l) = &mut self.log {
            l.close();
        }
    }
}

/// What the decision line says about the token: nothing (no credentials read), what a refused
/// token claims, or the verified token (its facts written when the line is).
enum Facts {
    None,
    Read(Box<TokenFacts>),
    Verified(Arc<Verified>),
}

/// RFC 6750 b64token bytes: ASCII letters, digits and `-._~+/=`.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
        b += 1;
    }
    t
};

/// The token of a single `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer(values: &[String]) -> Result<&str, &'static str> {
    let [v] = values else {
        return Err(if values.is_empty() {
            "missing-credentials"
        } else {
            "malformed-credentials"
        });
    };
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("malformed-credentials");
    }
    let token = rest.trim();
    // RFC 6750 b64token characters (a JWS only uses base64url and '.').
    let b64token = |b: u8| B64TOKEN[usize::from(b)];
    if token.is_empty() || !token.bytes().all(b64token) {
        return Err("malformed-credentials");
    }
    Ok(token)
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_parsed_strictly() {
        let b = |v: &[&str]| {
            bearer(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(str::to_owned)
        };
        assert_eq!(b(&["Bearer abc.def.ghi"]).as_deref(), Ok("abc.def.ghi"));
        assert_eq!(b(&["bearer  abc"]).as_deref(), Ok("abc"));
        assert_eq!(b(&[]), Err("missing-credentials"));
        assert_eq!(b(&["Bearer"]), Err("malformed-credentials"));
        assert_eq!(b(&["Bearer "]), Err("malformed-credentials"));
        assert_eq!(b(&["Basic dXNlcjpwYXNz"]), Err("malformed-credentials"));
        assert_eq!(b(&["Bearer a b"]), Err("malformed-credentials"));
        assert_eq!(b(&["Bearer a", "Bearer b"]), Err("malformed-credentials"));
        assert_eq!(b(&["Bearer a\"b"]), Err("malformed-credentials"));
    }

    #[test]
    fn www_authenticate_values() {
        let d = Decision {
            outcome: Outcome::Unauthorized {
                invalid_token: true,
            },
            reason: "key-not-bound-to-issuer",
        };
        assert_eq!(
            d.www_authenticate().unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"key-not-bound-to-issuer\""
        );
        assert_eq!(cap("ééé", 3), "é");
    }
}
