//! The trust policy: which issuers are trusted, for which tenants and audiences, with which
//! algorithms and which keys. Deserialised from TOML and checked as a whole before anything is
//! loaded; see `docs/TOKEN.md` for every field and its default.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::crypto::Alg;
use crate::reason::PolicyError;

/// The Storm-0558 consumer signing key (kid and x5t; the hex SHA-1 thumbprint too).
pub const BUILTIN_DENY: &[&str] = &[
    "1LTMzakihiRla_8z2BEJVXeWMqo",
    "d4b4cccda9228624656bff33d8110955779632aa",
];

/// Hard ceiling on `leeway_seconds`.
pub const MAX_LEEWAY: i64 = 300;

fn d_leeway() -> i64 {
    60
}
fn d_min_rsa() -> usize {
    2048
}
fn d_max_token() -> usize {
    16 * 1024
}
fn d_refresh() -> i64 {
    300
}
fn d_ttl() -> i64 {
    3600
}
fn d_timeout() -> u64 {
    10
}
fn d_types() -> Vec<String> {
    vec!["JWT".into(), "at+jwt".into()]
}

/// The whole trust policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicy {
    #[serde(default = "d_leeway")]
    pub leeway_seconds: i64,
    #[serde(default)]
    pub deny_kids: Vec<String>,
    #[serde(default = "d_min_rsa")]
    pub min_rsa_bits: usize,
    #[serde(default = "d_max_token")]
    pub max_token_bytes: usize,
    /// Minimum seconds between two refreshes of one remote key set caused by unknown `kid`s.
    #[serde(default = "d_refresh")]
    pub refresh_interval_seconds: i64,
    /// Seconds a fetched key set is used before it is refetched.
    #[serde(default = "d_ttl")]
    pub jwks_cache_ttl_seconds: i64,
    #[serde(default = "d_timeout")]
    pub fetch_timeout_seconds: u64,
    /// Allow plain `http://` key URLs for non-loopback hosts. Never in production.
    #[serde(default)]
    pub dangerous_allow_http: bool,
    #[serde(default, rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
    /// Directory that relative `jwks_file` paths resolve against (the policy file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One `[[issuer]]` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    pub id: String,
    pub issuer: String,
    #[serde(default)]
    pub tenants: Vec<String>,
    pub audiences: Vec<String>,
    pub algorithms: Vec<String>,
    pub jwks_file: Option<PathBuf>,
    pub jwks_uri: Option<String>,
    pub discovery: Option<String>,
    /// Accepted `typ` header values (compared as media types); an absent `typ` is accepted.
    #[serde(default = "d_types")]
    pub token_types: Vec<String>,
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyConfig>,
}

/// One `[[issuer.key]]`: narrows one key of the issuer's set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub kid: String,
    pub algorithms: Option<Vec<String>>,
    pub not_before: Option<TimeValue>,
    pub not_after: Option<TimeValue>,
}

/// Unix seconds or an RFC 3339 timestamp.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeValue {
    Unix(i64),
    Text(String),
}

impl TimeValue {
    pub fn resolve(&self) -> Option<i64> {
        match self {
            TimeValue::Unix(s) => Some(*s),
            TimeValue::Text(t) => parse_time(t),
        }
    }
}

/// Parses unix seconds or RFC 3339 (`2026-01-01T00:00:00Z`, fractional seconds and numeric
/// offsets allowed) into unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let b = s.as_bytes();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6
            && (o.starts_with('+') || o.starts_with('-'))
            && o.as_bytes()[3] == b':' =>
        {
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Is `s` a lower-case GUID (8-4-4-4-12 hex)?
pub fn is_lower_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// Placeholder for the tenant segment in issuer templates.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Matches `iss` against an exact or `{tenantid}`-templated issuer. Returns `Some(None)` for an
/// exact match, `Some(Some(tenant))` for a template match, `None` otherwise. Exact byte
/// comparison: no case folding, no trailing-slash tolerance, no normalisation.
pub fn match_issuer<'a>(template: &str, iss: &'a str) -> Option<Option<&'a str>> {
    match template.split_once(TENANT_PLACEHOLDER) {
        None => (template == iss).then_some(None),
        Some((pre, post)) => {
            let mid = iss.strip_prefix(pre)?.strip_suffix(post)?;
            if mid.is_empty() || mid.contains('/') {
                return None;
            }
            Some(Some(mid))
        }
    }
}

impl TrustPolicy {
    /// Reads and checks a policy file; relative `jwks_file`s resolve beside it.
    pub fn from_file(path: &Path) -> Result<TrustPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut p = TrustPolicy::from_toml(&text)?;
        p.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(p)
    }

    /// Parses and checks policy text.
    pub fn from_toml(text: &str) -> Result<TrustPolicy, PolicyError> {
        let p: TrustPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// Whole-policy checks: anything here makes the policy unusable (exit code 2 in the CLI).
    pub fn check(&self) -> Result<(), PolicyError> {
        let inv = |m: String| Err(PolicyError::Invalid(m));
        if !(0..=MAX_LEEWAY).contains(&self.leeway_seconds) {
            return inv(format!(
                "leeway_seconds must be 0..={MAX_LEEWAY}, got {}",
                self.leeway_seconds
            ));
        }
        if self.min_rsa_bits < 2048 {
            return inv(format!(
                "min_rsa_bits must be at least 2048, got {}",
                self.min_rsa_bits
            ));
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > 1 << 20 {
            return inv("max_token_bytes must be 1..=1048576".into());
        }
        if self.refresh_interval_seconds < 1 || self.jwks_cache_ttl_seconds < 1 {
            return inv(
                "refresh_interval_seconds and jwks_cache_ttl_seconds must be positive".into(),
            );
        }
        if self.issuers.is_empty() {
            return inv("no [[issuer]] block".into());
        }
        let mut ids = HashSet::new();
        for b in &self.issuers {
            let err = |detail: String| {
                Err(PolicyError::Issuer {
                    issuer_id: b.id.clone(),
                    detail,
                })
            };
            if b.id.is_empty() || !ids.insert(b.id.as_str()) {
                return err("id must be non-empty and unique".into());
            }
            if b.issuer.is_empty() || b.issuer.matches(TENANT_PLACEHOLDER).count() > 1 {
                return err("issuer must be non-empty with at most one {tenantid}".into());
            }
            if b.issuer.contains(TENANT_PLACEHOLDER) && b.tenants.is_empty() {
                return err("a templated issuer requires `tenants`".into());
            }
            if let Some(t) = b.tenants.iter().find(|t| !is_lower_guid(t)) {
                return err(format!("tenant {t:?} is not a lower-case GUID"));
            }
            if b.audiences.is_empty() || b.audiences.iter().any(String::is_empty) {
                return err("audiences must list at least one non-empty audience".into());
            }
            let sources = [
                b.jwks_file.is_some(),
                b.jwks_uri.is_some(),
                b.discovery.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return err("exactly one of jwks_file, jwks_uri, discovery is required".into());
            }
            let algs = b.parsed_algorithms().map_err(|d| PolicyError::Issuer {
                issuer_id: b.id.clone(),
                detail: d,
            })?;
            if algs.is_empty() {
                return err("algorithms must not be empty".into());
            }
            if b.jwks_file.is_none()
                && algs
                    .iter()
                    .any(|a| a.family() == crate::crypto::Family::Hmac)
            {
                return err("HMAC algorithms are allowed only with a local jwks_file".into());
            }
            for k in &b.keys {
                if let Some(a) = &k.algorithms {
                    parse_algs(a).map_err(|d| PolicyError::Issuer {
                        issuer_id: b.id.clone(),
                        detail: d,
                    })?;
                }
                for (name, v) in [("not_before", &k.not_before), ("not_after", &k.not_after)] {
                    if v.as_ref().is_some_and(|t| t.resolve().is_none()) {
                        return err(format!(
                            "key {:?}: {name} is neither unix seconds nor RFC 3339",
                            k.kid
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Built-in and configured deny lists together.
    pub fn deny_set(&self) -> HashSet<String> {
        BUILTIN_DENY
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.deny_kids.iter().cloned())
            .collect()
    }
}

/// Parses algorithm names; `none` and unknown names are policy errors.
pub fn parse_algs(names: &[String]) -> Result<Vec<Alg>, String> {
    names
        .iter()
        .map(|n| Alg::parse(n).ok_or_else(|| format!("unsupported algorithm {n:?}")))
        .collect()
}

impl IssuerConfig {
    pub fn parsed_algorithms(&self) -> Result<Vec<Alg>, String> {
        parse_algs(&self.algorithms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
tenants = ["72f988bf-86f1-41af-91ab-2d7cd011db47"]
audiences = ["api://webmail"]
algorithms = ["RS256", "ES256", "EdDSA"]
jwks_file = "contoso.jwks.json"
"#;

    #[test]
    fn defaults() {
        let p = TrustPolicy::from_toml(BASE).unwrap();
        assert_eq!(p.leeway_seconds, 60);
        assert_eq!(p.min_rsa_bits, 2048);
        assert_eq!(p.max_token_bytes, 16384);
        assert_eq!(p.refresh_interval_seconds, 300);
        assert!(p.deny_set().contains("1LTMzakihiRla_8z2BEJVXeWMqo"));
        assert_eq!(p.issuers[0].token_types, vec!["JWT", "at+jwt"]);
    }

    #[test]
    fn refusals() {
        let bad = |s: &str| TrustPolicy::from_toml(s).unwrap_err().to_string();
        assert!(bad(&format!("leeway_seconds = 301\n{BASE}")).contains("leeway"));
        assert!(
            bad(&BASE.replace("tenants = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\"]", ""))
                .contains("tenants")
        );
        assert!(bad(&BASE.replace("72f988bf", "72F988BF")).contains("GUID"));
        assert!(bad(&BASE.replace("\"EdDSA\"", "\"none\"")).contains("unsupported"));
        assert!(
            bad(&BASE.replace("\"EdDSA\"", "\"HS256\"").replace(
                "jwks_file = \"contoso.jwks.json\"",
                "jwks_uri = \"https://x\""
            ))
            .contains("HMAC")
        );
        assert!(bad(&format!("{BASE}jwks_uri = \"https://x\"\n")).contains("exactly one"));
        assert!(bad(&format!("bogus = 1\n{BASE}")).contains("TOML"));
        assert!(bad("").contains("no [[issuer]]"));
    }

    #[test]
    fn issuer_matching_is_exact() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert_eq!(
            match_issuer(t, "https://login.microsoftonline.com/abc/v2.0"),
            Some(Some("abc"))
        );
        assert_eq!(
            match_issuer(t, "https://login.microsoftonline.com/a/b/v2.0"),
            None
        );
        assert_eq!(
            match_issuer(t, "https://login.microsoftonline.com//v2.0"),
            None
        );
        assert_eq!(
            match_issuer(t, "https://LOGIN.microsoftonline.com/abc/v2.0"),
            None
        );
        assert_eq!(
            match_issuer("https://a.example", "https://a.example/"),
            None
        );
        assert_eq!(
            match_issuer("https://a.example", "https://a.example.evil"),
            None
        );
        assert_eq!(
            match_issuer("https://a.example", "https://a.example"),
            Some(None)
        );
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1767139200"), Some(1_767_139_200));
        assert_eq!(parse_time("2025-12-31T00:00:00Z"), Some(1_767_139_200));
        assert_eq!(
            parse_time("2025-12-31T01:00:00.5+01:00"),
            Some(1_767_139_200)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2025-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert!(is_lower_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_lower_guid("72F988BF-86f1-41af-91ab-2d7cd011db47"));
    }
}
