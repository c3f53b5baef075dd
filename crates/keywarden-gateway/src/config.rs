//! `gateway.toml`: route policies, identity header names, flood-control rates, trusted proxies,
//! the verdict cache and the decision timeout. Every field has a documented default
//! (`docs/GATEWAY.md`); unknown fields are errors so that a typo never weakens a route.

use std::path::Path;

use serde::Deserialize;

use crate::client::ProxyNet;
use crate::error::ConfigError;

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Peers whose `X-Forwarded-For` is believed (CIDR or single addresses).
    pub trusted_proxies: Vec<String>,
    /// A check not decided within this many milliseconds is refused (503, `timeout`).
    pub decision_timeout_ms: u64,
    /// What a valid token gets on a host and path that no `[[route]]` matches:
    /// `"allow"` (the trust policy alone decides) or `"deny"` (403 `no-route`).
    pub unmatched: Unmatched,
    /// Envoy's HTTP service `path_prefix`: cut from the check's own path to get the original
    /// path when no `X-Forwarded-Uri`/`X-Original-URI` header is present.
    pub http_path_prefix: String,
    pub identity_headers: IdentityHeaders,
    pub cache: CacheConfig,
    pub flood: FloodConfig,
    pub connections: ConnectionsConfig,
    #[serde(rename = "route")]
    pub routes: Vec<RouteConfig>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1/128".into()],
            decision_timeout_ms: 2_000,
            unmatched: Unmatched::Allow,
            http_path_prefix: String::new(),
            identity_headers: IdentityHeaders::default(),
            cache: CacheConfig::default(),
            flood: FloodConfig::default(),
            connections: ConnectionsConfig::default(),
            routes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unmatched {
    Allow,
    Deny,
}

/// Names of the headers that carry the verified identity to the upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityHeaders {
    pub sub: String,
    pub oid: String,
    pub tid: String,
    pub aud: String,
    pub scp: String,
    pub roles: String,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            sub: "X-Keywarden-Sub".into(),
            oid: "X-Keywarden-Oid".into(),
            tid: "X-Keywarden-Tid".into(),
            aud: "X-Keywarden-Aud".into(),
            scp: "X-Keywarden-Scp".into(),
            roles: "X-Keywarden-Roles".into(),
        }
    }
}

impl IdentityHeaders {
    pub(crate) fn all(&self) -> [&str; 6] {
        [
            &self.sub,
            &self.oid,
            &self.tid,
            &self.aud,
            &self.scp,
            &self.roles,
        ]
    }
}

/// The verdict cache: accepted tokens by SHA-256, until their expiry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Most verdicts held; beyond it the oldest is evicted. `0` disables the cache.
    pub max_entries: usize,
    /// A verdict is re-checked after at most this many seconds even if the token lives longer
    /// (so a key removed from the JWKS, or past its window, stops being honoured).
    pub max_age_seconds: i64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 100_000,
            max_age_seconds: 300,
        }
    }
}

/// One token bucket: `rate` tokens per second, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
}

/// `[connections]`: what keeps clients that open sockets and never finish a request from
/// holding them (the same accept loop, cap and timeouts as `keywarden serve`,
/// `keywarden_server::http::conn`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// Open connections at most (lowered at start to the soft open-file limit minus 64);
    /// when full, the connection idle for longest is closed to make room.
    pub max_connections: usize,
    /// A request head (or, on HTTP/2, a first request) not complete within this many seconds
    /// of being awaited closes the connection.
    pub header_read_timeout_seconds: u64,
    /// A connection with no request in progress for this long is closed.
    pub keep_alive_idle_seconds: u64,
    /// A TLS handshake not finished in this time is dropped.
    pub tls_handshake_timeout_seconds: u64,
    /// A request body that sends nothing for this long is abandoned.
    pub body_read_timeout_seconds: u64,
    /// After the first `body_read_timeout_seconds`, a body must average at least this rate.
    pub min_body_bytes_per_second: u64,
    /// HTTP/2: a request (stream) not answered in full this many seconds after its head
    /// arrived closes the connection.
    pub http2_request_timeout_seconds: u64,
}

/// Headers an identity header may not be named: the gateway's answer sets them itself, or the
/// proxy's HTTP framing depends on them.
const RESERVED_HEADERS: &[&str] = &[
    "x-envoy-auth-headers-to-remove",
    "x-keywarden-reason",
    "www-authenticate",
    "retry-after",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "date",
    "authorization",
    "host",
];

impl Default for ConnectionsConfig {
    fn default() -> Self {
        let d = keywarden_server::http::conn::ConnLimits::default();
        ConnectionsConfig {
            max_connections: d.max_connections,
            header_read_timeout_seconds: d.header_read_timeout.as_secs(),
            keep_alive_idle_seconds: d.keep_alive_idle.as_secs(),
            tls_handshake_timeout_seconds: d.tls_handshake_timeout.as_secs(),
            body_read_timeout_seconds: d.body_read_timeout.as_secs(),
            min_body_bytes_per_second: d.min_body_bytes_per_second,
            http2_request_timeout_seconds: d.http2_request_timeout.as_secs(),
        }
    }
}

impl ConnectionsConfig {
    /// The accept loop's limits (HTTP/1.1 and HTTP/2; the cap not yet fitted to the
    /// descriptor limit).
    pub fn limits(&self) -> keywarden_server::http::conn::ConnLimits {
        let secs = std::time::Duration::from_secs;
        keywarden_server::http::conn::ConnLimits {
            max_connections: self.max_connections,
            header_read_timeout: secs(self.header_read_timeout_seconds),
            keep_alive_idle: secs(self.keep_alive_idle_seconds),
            tls_handshake_timeout: secs(self.tls_handshake_timeout_seconds),
            body_read_timeout: secs(self.body_read_timeout_seconds),
            min_body_bytes_per_second: self.min_body_bytes_per_second,
            http2: true,
            http2_request_timeout: secs(self.http2_request_timeout_seconds),
            // Small answers: the watchdog keeps the header timeout, no timer per request.
            heads_by_watchdog: true,
        }
    }
}

/// Flood control: token buckets per client address, per client network and per token subject.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodConfig {
    pub enabled: bool,
    pub per_client: Rate,
    /// Shared by the addresses of one IPv4 /24 or IPv6 /56.
    pub per_network: Rate,
    pub per_subject: Rate,
    /// Buckets held per kind; clients beyond it share one overflow bucket.
    pub max_tracked: usize,
    /// The bucket shared by clients (or subjects) that do not fit in `max_tracked`.
    pub overflow: Rate,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            enabled: true,
            per_client: Rate {
                rate: 50.0,
                burst: 100.0,
            },
            per_network: Rate {
                rate: 500.0,
                burst: 1000.0,
            },
            per_subject: Rate {
                rate: 100.0,
                burst: 200.0,
            },
            max_tracked: 65_536,
            overflow: Rate {
                rate: 200.0,
                burst: 400.0,
            },
        }
    }
}

/// A route policy: for requests to `host` (exact, case-insensitive; `*` or absent: any host)
/// whose path starts with `path_prefix`, the token must carry one of `audiences`, one of
/// `scopes` (`scp`) and one of `roles`, for each list that is non-empty. `deny = true` refuses
/// every request on the route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "slash")]
    pub path_prefix: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub deny: bool,
}

fn slash() -> String {
    "/".into()
}

impl GatewayConfig {
    /// Reads and checks a `gateway.toml`.
    pub fn from_file(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and checks a configuration text.
    pub fn from_toml(text: &str) -> Result<GatewayConfig, ConfigError> {
        let cfg: GatewayConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks values that TOML types alone cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |s: String| Err(ConfigError::Invalid(s));
        self.trusted_networks()?;
        if self.decision_timeout_ms == 0 || self.decision_timeout_ms > 60_000 {
            return invalid("decision_timeout_ms must be 1..=60000".into());
        }
        let mut seen = std::collections::HashSet::new();
        for name in self.identity_headers.all() {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return invalid(format!(
                    "identity header name {name:?} is not a header name"
                ));
            }
            // A header the gateway's own answer or the proxy's framing uses is no identity.
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return invalid(format!(
                    "identity header name {name:?} is a header the gateway's answer uses itself"
                ));
            }
            // One name for two claims would be both set and stripped as absent.
            if !seen.insert(lower) {
                return invalid(format!(
                    "identity header name {name:?} is given to two claims"
                ));
            }
        }
        if self.cache.max_age_seconds < 1 {
            return invalid("cache.max_age_seconds must be at least 1".into());
        }
        let f = &self.flood;
        for (what, r) in [
            ("per_client", f.per_client),
            ("per_network", f.per_network),
            ("per_subject", f.per_subject),
            ("overflow", f.overflow),
        ] {
            if !(r.rate.is_finite() && r.rate > 0.0 && r.burst.is_finite() && r.burst >= 1.0) {
                return invalid(format!(
                    "flood.{what}: rate must be > 0 and burst >= 1 (got rate {}, burst {})",
                    r.rate, r.burst
                ));
            }
        }
        if f.max_tracked == 0 {
            return invalid("flood.max_tracked must be at least 1".into());
        }
        let c = &self.connections;
        for (what, v) in [
            ("max_connections", c.max_connections as u64),
            ("header_read_timeout_seconds", c.header_read_timeout_seconds),
            ("keep_alive_idle_seconds", c.keep_alive_idle_seconds),
            (
                "tls_handshake_timeout_seconds",
                c.tls_handshake_timeout_seconds,
            ),
            ("body_read_timeout_seconds", c.body_read_timeout_seconds),
            (
                "http2_request_timeout_seconds",
                c.http2_request_timeout_seconds,
            ),
        ] {
            if v == 0 {
                return invalid(format!("connections.{what} must be at least 1"));
            }
        }
        if c.http2_request_timeout_seconds.saturating_mul(1000) <= self.decision_timeout_ms {
            return invalid(format!(
                "connections.http2_request_timeout_seconds ({}) must be longer than decision_timeout_ms ({} ms)",
                c.http2_request_timeout_seconds, self.decision_timeout_ms
            ));
        }
        if !(self.http_path_prefix.is_empty() || self.http_path_prefix.starts_with('/')) {
            return invalid("http_path_prefix must be empty or start with '/'".into());
        }
        for (i, r) in self.routes.iter().enumerate() {
            if !r.path_prefix.starts_with('/') {
                return invalid(format!(
                    "route {}: path_prefix {:?} must start with '/'",
                    i + 1,
                    r.path_prefix
                ));
            }
        }
        Ok(())
    }

    /// `trusted_proxies` parsed.
    pub fn trusted_networks(&self) -> Result<Vec<ProxyNet>, ConfigError> {
        crate::client::parse_networks(&self.trusted_proxies).map_err(ConfigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_header_named_as_a_header_of_the_answer_is_refused() {
        let e = GatewayConfig::from_toml("[identity_headers]\nroles = \"Content-Length\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("answer uses itself"), "{e}");
    }

    #[test]
    fn one_identity_header_name_for_two_claims_is_refused() {
        let e =
            GatewayConfig::from_toml("[identity_headers]\nsub = \"X-User\"\noid = \"x-user\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("two claims"), "{e}");
    }

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = GatewayConfig::from_toml("").unwrap();
        assert!(c.flood.enabled);
        assert_eq!(c.flood.per_client.rate, 50.0);
        assert_eq!(c.identity_headers.sub, "X-Keywarden-Sub");
        assert_eq!(c.trusted_networks().unwrap().len(), 2);
        assert_eq!(c.unmatched, Unmatched::Allow);
        assert_eq!(
            c.connections.limits().http2_request_timeout,
            std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(GatewayConfig::from_toml("trusted_proxy = []").is_err());
        assert!(GatewayConfig::from_toml("trusted_proxies = ['10.0.0.0/33']").is_err());
        assert!(GatewayConfig::from_toml("[identity_headers]\nsub = 'a b'").is_err());
        assert!(GatewayConfig::from_toml("[flood.per_client]\nrate = 0.0\nburst = 1.0").is_err());
        assert!(GatewayConfig::from_toml("[[route]]\npath_prefix = 'api'").is_err());
        let c = GatewayConfig::from_toml(
            "unmatched = 'deny'\n[[route]]\nhost = 'mail.example'\npath_prefix = '/api/'\nscopes = ['Mail.Read']",
        )
        .unwrap();
        assert_eq!(c.routes[0].scopes, ["Mail.Read"]);
        assert_eq!(c.unmatched, Unmatched::Deny);
        // An HTTP/2 request must be allowed longer than a decision may take.
        let h2 = |t: &str| GatewayConfig::from_toml(t);
        assert!(h2("[connections]\nhttp2_request_timeout_seconds = 0").is_err());
        assert!(h2("[connections]\nhttp2_request_timeout_seconds = 2").is_err());
        assert!(
            h2("decision_timeout_ms = 1999\n[connections]\nhttp2_request_timeout_seconds = 2")
                .is_ok()
        );
    }
}
