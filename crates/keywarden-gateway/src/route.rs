//! Route policies: per host and path prefix, the audience, scope and role a valid token must
//! carry. The path is normalised first (query cut, `%2e` decoded, `//` collapsed, `.`/`..`
//! resolved) so that `/public/../admin` is judged as `/admin`, as the proxy will route it; a
//! path with an encoded slash or a backslash is ambiguous between proxies and refused when
//! any route is configured.

use crate::config::{RouteConfig, Unmatched};
use crate::identity::Grants;

/// Why a route refused a valid token (the decision's reason code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteDenial {
    NoRoute,
    RouteDenied,
    AmbiguousPath,
    Audience,
    Scope,
    Role,
}

impl RouteDenial {
    pub fn code(self) -> &'static str {
        match self {
            RouteDenial::NoRoute => "no-route",
            RouteDenial::RouteDenied => "route-denied",
            RouteDenial::AmbiguousPath => "ambiguous-path",
            RouteDenial::Audience => "route-audience",
            RouteDenial::Scope => "route-scope",
            RouteDenial::Role => "route-role",
        }
    }
}

pub struct Routes {
    routes: Vec<RouteConfig>,
    unmatched: Unmatched,
}

impl Routes {
    pub fn new(routes: Vec<RouteConfig>, unmatched: Unmatched) -> Routes {
        Routes { routes, unmatched }
    }

    /// Whether `id` may reach `host` + `path` (the original request's).
    pub fn authorize(&self, host: &str, path: &str, id: &Grants) -> Result<(), RouteDenial> {
        if self.routes.is_empty() {
            return match self.unmatched {
                Unmatched::Allow => Ok(()),
                Unmatched::Deny => Err(RouteDenial::NoRoute),
            };
        }
        let Some(path) = normalise_path(path) else {
            return Err(RouteDenial::AmbiguousPath);
        };
        let host = host_only(host);
        let route = self
            .routes
            .iter()
            .filter(|r| match r.host.as_deref() {
                None | Some("*") => true,
                Some(h) => h.eq_ignore_ascii_case(host),
            })
            .filter(|r| path.starts_with(r.path_prefix.as_str()))
            // The most specific: longest prefix, then a named host over a wildcard.
            .max_by_key(|r| {
                (
                    r.path_prefix.len(),
                    r.host.as_deref().is_some_and(|h| h != "*"),
                )
            });
        let Some(r) = route else {
            return match self.unmatched {
                Unmatched::Allow => Ok(()),
                Unmatched::Deny => Err(RouteDenial::NoRoute),
            };
        };
        if r.deny {
            return Err(RouteDenial::RouteDenied);
        }
        let any = |want: &[String], have: &[String]| {
            want.is_empty() || want.iter().any(|w| have.iter().any(|h| h == w))
        };
        if !any(&r.audiences, &id.aud) {
            return Err(RouteDenial::Audience);
        }
        if !any(&r.scopes, &id.scp) {
            return Err(RouteDenial::Scope);
        }
        if !any(&r.roles, &id.roles) {
            return Err(RouteDenial::Role);
        }
        Ok(())
    }
}

/// `host[:port]` → `host` (IPv6 literals keep their brackets).
fn host_only(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// The path as a proxy routes it, or `None` when proxies could disagree about it.
pub fn normalise_path(raw: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || path.contains('\\') {
        return None;
    }
    let decoded = path.replace("%2e", ".").replace("%2E", ".");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = String::with_capacity(decoded.len() + 1);
    for s in &out {
        p.push('/');
        p.push_str(s);
    }
    if out.is_empty() || decoded.ends_with('/') {
        p.push('/');
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    fn id(aud: &str, scp: &[&str], roles: &[&str]) -> Grants {
        Grants {
            aud: vec![aud.into()],
            scp: scp.iter().map(|s| s.to_string()).collect(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn paths_normalise_like_a_proxy() {
        assert_eq!(normalise_path("/a/../b?x=/admin").unwrap(), "/b");
        assert_eq!(normalise_path("/public/%2e%2e/admin/").unwrap(), "/admin/");
        assert_eq!(normalise_path("//admin").unwrap(), "/admin");
        assert_eq!(normalise_path("/../..").unwrap(), "/");
        assert_eq!(normalise_path("").unwrap(), "/");
        assert_eq!(normalise_path("/a%2Fb"), None);
        assert_eq!(normalise_path("/a\\b"), None);
    }

    #[test]
    fn the_most_specific_route_decides() {
        let c = GatewayConfig::from_toml(
            r#"
unmatched = "deny"
[[route]]
path_prefix = "/"
audiences = ["api://webmail"]
[[route]]
host = "mail.example"
path_prefix = "/admin/"
roles = ["Mail.Admin"]
[[route]]
path_prefix = "/closed/"
deny = true
[[route]]
host = "mail.example"
path_prefix = "/api/"
scopes = ["Mail.Read", "Mail.ReadWrite"]
"#,
        )
        .unwrap();
        let r = Routes::new(c.routes, c.unmatched);
        let reader = id("api://webmail", &["Mail.Read"], &[]);
        let admin = id("api://webmail", &[], &["Mail.Admin"]);
        assert_eq!(r.authorize("mail.example", "/api/x", &reader), Ok(()));
        assert_eq!(
            r.authorize("mail.example:443", "/admin/users", &reader),
            Err(RouteDenial::Role)
        );
        assert_eq!(
            r.authorize("MAIL.example", "/public/../admin/users", &reader),
            Err(RouteDenial::Role)
        );
        assert_eq!(r.authorize("mail.example", "/admin/users", &admin), Ok(()));
        assert_eq!(
            r.authorize("mail.example", "/api/x", &admin),
            Err(RouteDenial::Scope)
        );
        assert_eq!(
            r.authorize("other.example", "/x", &id("api://other", &[], &[])),
            Err(RouteDenial::Audience)
        );
        assert_eq!(
            r.authorize("x", "/closed/a", &admin),
            Err(RouteDenial::RouteDenied)
        );
        assert_eq!(
            r.authorize("x", "/a%2fb", &admin),
            Err(RouteDenial::AmbiguousPath)
        );
        let none = Routes::new(vec![], Unmatched::Deny);
        assert_eq!(none.authorize("x", "/", &admin), Err(RouteDenial::NoRoute));
    }
}
