//! What to collect and from where: clouds and their hosts, `--endpoint` overrides, sources,
//! the time range, budgets. Plain data filled by the CLI; validated by [`CollectConfig::check`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use keywarden_model::Timestamp;

use crate::error::CollectError;

/// A Microsoft cloud: which hosts serve it and which resources tokens are requested for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cloud {
    Public,
    /// GCC: commercial Entra ID, `manage-gcc.office.com`.
    UsGov,
    /// GCC High.
    UsGovHigh,
    Dod,
    /// Operated by 21Vianet.
    China,
}

impl FromStr for Cloud {
    type Err = CollectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Cloud::Public),
            "usgov" => Ok(Cloud::UsGov),
            "usgov-high" => Ok(Cloud::UsGovHigh),
            "dod" => Ok(Cloud::Dod),
            "china" => Ok(Cloud::China),
            _ => Err(CollectError::Usage(format!(
                "unknown cloud {s:?}; known: public, usgov, usgov-high, dod, china"
            ))),
        }
    }
}

/// The four services `collect` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// The identity platform (token endpoint).
    Login,
    /// Office 365 Management Activity API.
    Manage,
    /// Microsoft Graph.
    Graph,
    /// Azure Monitor Logs query API.
    LogAnalytics,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Login => "login",
            Service::Manage => "manage",
            Service::Graph => "graph",
            Service::LogAnalytics => "loganalytics",
        }
    }
}

/// Base URLs (no trailing slash) of every service, and the resource each token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub login: String,
    pub manage: String,
    pub graph: String,
    pub loganalytics: String,
    /// Resources (audiences) tokens are requested for: `{resource}/.default`. They stay the
    /// cloud's even when `--endpoint` points a service at a proxy.
    pub manage_resource: String,
    pub graph_resource: String,
    pub loganalytics_resource: String,
}

impl Endpoints {
    /// The hosts of a cloud, from Microsoft's national-cloud tables.
    pub fn of(cloud: Cloud) -> Endpoints {
        let (login, manage, graph, la) = match cloud {
            Cloud::Public => (
                "https://login.microsoftonline.com",
                "https://manage.office.com",
                "https://graph.microsoft.com",
                "https://api.loganalytics.io",
            ),
            Cloud::UsGov => (
                "https://login.microsoftonline.com",
                "https://manage-gcc.office.com",
                "https://graph.microsoft.com",
                "https://api.loganalytics.io",
            ),
            Cloud::UsGovHigh => (
                "https://login.microsoftonline.us",
                "https://manage.office365.us",
                "https://graph.microsoft.us",
                "https://api.loganalytics.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://manage.protection.apps.mil",
                "https://dod-graph.microsoft.us",
                "https://api.loganalytics.us",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://manage.office.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://api.loganalytics.azure.cn",
            ),
        };
        Endpoints {
            login: login.into(),
            manage: manage.into(),
            graph: graph.into(),
            loganalytics: la.into(),
            manage_resource: manage.into(),
            graph_resource: graph.into(),
            loganalytics_resource: la.into(),
        }
    }

    /// Applies one `--endpoint NAME=URL`: https, or http to a loopback address only.
    pub fn set(&mut self, spec: &str) -> Result<(), CollectError> {
        let (name, url) = spec.split_once('=').ok_or_else(|| {
            CollectError::Usage(format!("--endpoint {spec:?}: expected NAME=URL"))
        })?;
        keywarden_token::fetch::check_url(url, false)
            .map_err(|e| CollectError::Usage(format!("--endpoint {name}: {e}")))?;
        let url = url.trim_end_matches('/').to_owned();
        match name {
            "login" => self.login = url,
            "manage" => self.manage = url,
            "graph" => self.graph = url,
            "loganalytics" => self.loganalytics = url,
            _ => {
                return Err(CollectError::Usage(format!(
                    "--endpoint {name:?}: known names are login, manage, graph, loganalytics"
                )));
            }
        }
        Ok(())
    }

    pub fn base(&self, service: Service) -> &str {
        match service {
            Service::Login => &self.login,
            Service::Manage => &self.manage,
            Service::Graph => &self.graph,
            Service::LogAnalytics => &self.loganalytics,
        }
    }

    /// The `scope` a token for `service` is requested with.
    pub fn scope(&self, service: Service) -> String {
        let resource = match service {
            Service::Manage => &self.manage_resource,
            Service::LogAnalytics => &self.loganalytics_resource,
            Service::Graph | Service::Login => &self.graph_resource,
        };
        format!("{resource}/.default")
    }
}

/// A log source (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SourceKind {
    /// Office 365 Management Activity API.
    O365,
    /// Graph `auditLogs/signIns` (beta), every sign-in event type.
    GraphSignins,
    /// Graph `auditLogs/directoryAudits`.
    GraphAudit,
    /// Azure Monitor Logs query API (Log Analytics / Sentinel workspace).
    LogAnalytics,
    /// Purview audit search (Graph `security/auditLog/queries`).
    Purview,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::O365,
        SourceKind::GraphSignins,
        SourceKind::GraphAudit,
        SourceKind::LogAnalytics,
        SourceKind::Purview,
    ];

    /// The name used on the command line and in `collect.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::O365 => "o365",
            SourceKind::GraphSignins => "graph-signins",
            SourceKind::GraphAudit => "graph-audit",
            SourceKind::LogAnalytics => "loganalytics",
            SourceKind::Purview => "purview",
        }
    }

    /// The streams of a source, in `collect.json` order.
    pub fn streams(self) -> &'static [&'static str] {
        match self {
            SourceKind::O365 => &crate::o365::CONTENT_TYPES,
            SourceKind::GraphSignins => &crate::graph::SIGN_IN_EVENT_TYPES,
            SourceKind::GraphAudit => &["directoryAudits"],
            SourceKind::LogAnalytics => &crate::loganalytics::TABLES,
            SourceKind::Purview => &["auditLogRecords"],
        }
    }

    /// Records with the same id in these sources are the same record (UAL records keep their
    /// `Id` in both the Management API and Purview), so they share one dedupe scope.
    pub fn dedupe_family(self) -> &'static str {
        match self {
            SourceKind::O365 | SourceKind::Purview => "ual",
            SourceKind::GraphSignins => "signins",
            SourceKind::GraphAudit => "directory-audits",
            SourceKind::LogAnalytics => "loganalytics",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = CollectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                CollectError::Usage(format!(
                    "unknown source {s:?}; known: o365, graph-signins, graph-audit, loganalytics, purview"
                ))
            })
    }
}

/// A request budget: at most `requests` starts in any `per` interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub requests: u32,
    pub per: Duration,
}

impl Budget {
    /// Management Activity API: about 2 000 requests per minute per tenant.
    pub const MANAGE: Budget = Budget {
        requests: 2000,
        per: Duration::from_secs(60),
    };
    /// Graph identity and access reports: 5 requests per 10 seconds per app per tenant.
    pub const GRAPH_REPORTS: Budget = Budget {
        requests: 5,
        per: Duration::from_secs(10),
    };
    /// Log Analytics query API: 200 requests per 30 s per user / app.
    pub const LOG_ANALYTICS: Budget = Budget {
        requests: 200,
        per: Duration::from_secs(30),
    };
}

/// Retry and pacing settings (injectable so tests run in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Pacing {
    /// Retries of one request after 429/5xx/transport errors before its unit becomes a gap.
    pub max_retries: u32,
    /// First backoff delay; doubled per attempt, capped at `backoff_cap`, with full jitter
    /// between half and the whole of it.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Seed of the jitter generator.
    pub jitter_seed: u64,
    /// Purview: delay between two polls of a query's status.
    pub purview_poll: Duration,
    /// Purview: polls before a query that never finishes becomes a gap.
    pub purview_max_polls: u32,
    /// Renew a token this long before it expires.
    pub token_renew_before: Duration,
    /// Re-list Management API windows ending this close to `until` on the next run (the API
    /// can list a blob in an already-listed window a little late).
    pub relist_recent: Duration,
    /// HTTP timeout of one request.
    pub request_timeout: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            max_retries: 8,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(60),
            jitter_seed: 0x6b65_7977_6172_6465,
            purview_poll: Duration::from_secs(10),
            purview_max_polls: 360,
            token_renew_before: Duration::from_secs(300),
            relist_recent: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// How to authenticate (the secret itself is read by `auth.rs` and never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    SecretFile(std::path::PathBuf),
    /// A PEM file with the private key (PKCS#8 or PKCS#1 RSA) and the certificate.
    CertificateFile(std::path::PathBuf),
}

/// One collection run.
#[derive(Debug, Clone)]
pub struct CollectConfig {
    pub tenant: String,
    pub client_id: String,
    pub credential: CredentialSource,
    pub sources: Vec<SourceKind>,
    pub workspace: Option<String>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub out: std::path::PathBuf,
    pub endpoints: Endpoints,
    /// Overrides every API's default budget with `N` per minute when set.
    pub max_requests_per_minute: Option<u32>,
    pub concurrency: usize,
    pub pacing: Pacing,
    /// Set by an embedder that must stop (`serve` shutting down): from then on no request
    /// starts and none is retried; what is left of the run becomes gaps ("cancelled") and the
    /// next run resumes there. `None`: the run is never cancelled.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl CollectConfig {
    /// The budget applied to `service`.
    pub fn budget(&self, service: Service) -> Budget {
        if let Some(n) = self.max_requests_per_minute {
            return Budget {
                requests: n.max(1),
                per: Duration::from_secs(60),
            };
        }
        match service {
            Service::Manage | Service::Login => Budget::MANAGE,
            Service::Graph => Budget::GRAPH_REPORTS,
            Service::LogAnalytics => Budget::LOG_ANALYTICS,
        }
    }

    /// Rejects what cannot work before any request is sent.
    pub fn check(&self) -> Result<(), CollectError> {
        let guid_like = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        if !guid_like(&self.tenant) {
            return Err(CollectError::Usage(format!(
                "--tenant {:?}: expected a tenant id (GUID) or domain",
                self.tenant
            )));
        }
        if !guid_like(&self.client_id) {
            return Err(CollectError::Usage(format!(
                "--client-id {:?}: expected an application (client) id",
                self.client_id
            )));
        }
        if self.since >= self.until {
            return Err(CollectError::Usage(format!(
                "--since {} is not before --until {}",
                self.since, self.until
            )));
        }
        if self.sources.contains(&SourceKind::LogAnalytics) {
            match &self.workspace {
                Some(w) if guid_like(w) => {}
                Some(w) => {
                    return Err(CollectError::Usage(format!(
                        "--workspace {w:?}: expected a Log Analytics workspace id"
                    )));
                }
                None => {
                    return Err(CollectError::Usage(
                        "--source loganalytics needs --workspace WORKSPACE_ID".into(),
                    ));
                }
            }
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return Err(CollectError::Usage(
                "--concurrency must be between 1 and 64".into(),
            ));
        }
        Ok(())
    }
}

/// `--since`/`--until`: RFC 3339, or a duration before `now` (`90m`, `36h`, `7d`, `2w`).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, CollectError> {
    let t = text.trim();
    let digits = t.len().saturating_sub(1);
    let is_duration = digits > 0 && t.as_bytes()[..digits].iter().all(u8::is_ascii_digit);
    if let Some(unit) = t.chars().last().filter(|_| is_duration) {
        let n: i64 = t[..digits].parse().map_err(|_| bad_time(text))?;
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad_time(text)),
        };
        return Ok(now.plus_seconds(-n.saturating_mul(secs)));
    }
    if t.len() >= 20
        && (t.ends_with('Z') || t[19..].contains(['+', '-']))
        && let Some(ts) = Timestamp::parse(t)
    {
        return Ok(ts);
    }
    Err(bad_time(text))
}

fn bad_time(text: &str) -> CollectError {
    CollectError::Usage(format!(
        "time {text:?}: expected RFC 3339 (2026-06-01T00:00:00Z) or a duration (90m, 36h, 7d)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_duration() {
        let now = Timestamp::parse("2026-06-08T12:00:00Z").unwrap();
        assert_eq!(
            parse_time("7d", now).unwrap(),
            Timestamp::parse("2026-06-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time("90m", now).unwrap(),
            Timestamp::parse("2026-06-08T10:30:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2026-06-01T00:00:00Z", now).unwrap(),
            Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
        );
        assert!(parse_time("2026-06-01", now).is_err());
        assert!(parse_time("7y", now).is_err());
        assert!(parse_time("-3d", now).is_err());
        assert!(parse_time("", now).is_err());
    }

    #[test]
    fn endpoints_refuse_plain_http_except_loopback() {
        let mut e = Endpoints::of(Cloud::Public);
        assert!(e.set("graph=http://127.0.0.1:9999/").is_ok());
        assert_eq!(e.graph, "http://127.0.0.1:9999");
        assert_eq!(
            e.scope(Service::Graph),
            "https://graph.microsoft.com/.default"
        );
        assert!(e.set("manage=http://proxy.example").is_err());
        assert!(e.set("manage=https://proxy.example").is_ok());
        assert!(e.set("nope=https://x.example").is_err());
        assert!(e.set("login").is_err());
    }
}
