//! What a verified token says about its holder, and how it reaches the upstream: identity
//! headers whose values are percent-encoded unless they are printable ASCII (so a hostile
//! `sub` can neither split a header nor make the proxy fail), and the facts the decision log
//! records about any token, valid or not (read for the report, never for a decision).

use std::sync::Arc;

use keywarden_token::jose::{b64_decode, parse_object, split};
use keywarden_token::reason::evidence;
use keywarden_token::{TokenSummary, VerifiedToken, summarize};
use serde_json::{Map, Value};

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};

use crate::config::IdentityHeaders;
use crate::error::ConfigError;

/// A verified token as the verdict cache keeps it: the identity and its flood-control subject
/// key (built once, not per decision).
#[derive(Debug)]
pub struct Verified {
    pub identity: Identity,
    /// [`Identity::subject_key`].
    pub subject_key: Box<str>,
    /// The answer when a route allows it ([`Identity::allowed`]), made once per token: a warm
    /// decision then copies no claim and parses no header value.
    pub allowed: Arc<Allowed>,
}

impl Verified {
    pub fn new(identity: Identity, names: &HeaderNames) -> Arc<Verified> {
        Arc::new(Verified {
            subject_key: identity.subject_key().into_boxed_str(),
            allowed: Arc::new(identity.allowed(names)),
            identity,
        })
    }
}

/// The identity header names of `gateway.toml` (sub, oid, tid, aud, scp, roles), as configured
/// and parsed once (names that do not parse are refused when the configuration is checked).
#[derive(Debug, Clone)]
pub struct HeaderNames {
    configured: [String; 6],
    parsed: [HeaderName; 6],
}

impl HeaderNames {
    pub fn new(names: &IdentityHeaders) -> Result<HeaderNames, ConfigError> {
        let configured = names.all().map(str::to_owned);
        let mut parsed = Vec::with_capacity(6);
        for name in &configured {
            parsed.push(HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::Invalid(format!(
                    "identity header name {name:?} is not a header name"
                ))
            })?);
        }
        let parsed = parsed
            .try_into()
            .map_err(|_| ConfigError::Invalid("identity header names: six expected".into()))?;
        Ok(HeaderNames { configured, parsed })
    }
}

/// What an allowed request is answered with: the identity headers to pass upstream (in a fixed
/// order: sub, oid, tid, aud, scp, roles; absent claims left out), and the configured names of
/// the identity headers whose claims are absent (to strip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Names lower-case (as HTTP/2 and Envoy's gRPC answer carry them); values printable ASCII
    /// ([`header_value`]).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// As configured (case kept).
    pub absent: Vec<String>,
    /// `absent` joined with `, ` (Envoy's `x-envoy-auth-headers-to-remove`), when any.
    pub absent_header: Option<HeaderValue>,
}

impl Allowed {
    /// `(name, value)` pairs as text (for the gRPC answer).
    pub fn header_text(&self) -> impl Iterator<Item = (&str, std::borrow::Cow<'_, str>)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes())))
    }
}

/// The verified identity of a token (what the cache holds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer_id: String,
    pub kid: String,
    pub alg: &'static str,
    pub iss: String,
    pub tid: Option<String>,
    pub aud: Vec<String>,
    pub sub: Option<String>,
    pub oid: Option<String>,
    pub appid: Option<String>,
    pub uti: Option<String>,
    pub upn: Option<String>,
    pub scp: Vec<String>,
    pub roles: Vec<String>,
    pub exp: i64,
}

impl Identity {
    /// The identity of a verified token, from the holder claims the validator kept in its one
    /// parse of the payload (not a second parse).
    pub fn from_verified(t: &VerifiedToken) -> Identity {
        let claims = &t.holder;
        Identity {
            issuer_id: t.issuer_id.clone(),
            kid: t.kid.clone(),
            alg: t.alg.name(),
            iss: t.iss.clone(),
            tid: t.tid.clone(),
            aud: t.aud.clone(),
            sub: t.sub.clone(),
            oid: claim_text(claims.get("oid")),
            appid: claim_text(claims.get("appid")).or_else(|| claim_text(claims.get("azp"))),
            uti: claim_text(claims.get("uti")).or_else(|| claim_text(claims.get("jti"))),
            upn: claim_text(claims.get("upn"))
                .or_else(|| claim_text(claims.get("preferred_username"))),
            scp: words(claims.get("scp")),
            roles: words(claims.get("roles")),
            exp: t.exp,
        }
    }

    /// The key of the per-subject flood bucket: issuer block and `oid`, else `sub`.
    pub fn subject_key(&self) -> String {
        let who = self.oid.as_deref().or(self.sub.as_deref()).unwrap_or("");
        format!("{}\u{1f}{who}", self.issuer_id)
    }

    /// The answer to an allowed request: the identity headers (as [`Identity::headers`], names
    /// and values parsed without copying the names) and the absent names.
    pub fn allowed(&self, names: &HeaderNames) -> Allowed {
        let values = [
            self.sub.clone(),
            self.oid.clone(),
            self.tid.clone(),
            Some(self.aud.join(" ")),
            Some(self.scp.join(" ")),
            Some(self.roles.join(" ")),
        ];
        let mut headers = Vec::with_capacity(6);
        let mut set: Vec<&str> = Vec::with_capacity(6);
        for (i, v) in values.into_iter().enumerate() {
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                continue;
            };
            set.push(&names.configured[i]);
            let v = Bytes::from(header_value_owned(v));
            // Printable ASCII always parses; a value that did not would be left out (as before).
            if let Ok(v) = HeaderValue::from_maybe_shared(v) {
                headers.push((names.parsed[i].clone(), v));
            }
        }
        let absent: Vec<String> = names
            .configured
            .iter()
            .filter(|n| !set.contains(&n.as_str()))
            .cloned()
            .collect();
        let absent_header = (!absent.is_empty())
            .then(|| HeaderValue::from_str(&absent.join(", ")).ok())
            .flatten();
        Allowed {
            headers,
            absent,
            absent_header,
        }
    }

    /// The identity headers for the upstream, in a fixed order; absent claims are left out.
    pub fn headers(&self, names: &IdentityHeaders) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(6);
        let mut push = |name: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push((name.to_owned(), header_value(&v)));
            }
        };
        push(&names.sub, self.sub.clone());
        push(&names.oid, self.oid.clone());
        push(&names.tid, self.tid.clone());
        push(&names.aud, Some(self.aud.join(" ")));
        push(&names.scp, Some(self.scp.join(" ")));
        push(&names.roles, Some(self.roles.join(" ")));
        out
    }
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    claim_text(m.get(k))
}

fn claim_text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// `scp` is a space-separated string (Entra); `roles` an array. Either shape is read.
fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A header value: printable ASCII (and space) as is, `%` and every other byte of the UTF-8
/// encoding as `%XX`, so any claim text becomes a valid header value.
pub fn header_value(v: &str) -> String {
    if is_plain(v) {
        return v.to_owned();
    }
    encode(v)
}

/// [`header_value`] of an owned string (returned as is when it needs no encoding).
fn header_value_owned(v: String) -> String {
    if is_plain(&v) { v } else { encode(&v) }
}

fn is_plain(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%')
}

fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for b in v.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the decision log records about a token: readable from any token, trusted for none.
/// Every string is capped and stripped of control characters ([`evidence`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub aud: Option<Value>,
    pub sub: Option<String>,
    pub oid: Option<String>,
    pub appid: Option<String>,
    pub uti: Option<String>,
    pub upn: Option<String>,
}

impl TokenFacts {
    /// Reads what a (possibly forged) token claims, without validating it.
    pub fn read(token: &str, max_len: usize) -> TokenFacts {
        let TokenSummary {
            kid,
            alg,
            iss,
            tid,
            aud,
            sub,
            ..
        } = summarize(token, max_len);
        let claims = split(token, max_len)
            .ok()
            .and_then(|c| b64_decode(c.payload_b64, "payload").ok())
            .and_then(|b| parse_object(&b, "payload").ok())
            .unwrap_or_default();
        let t = |k: &str| text(&claims, k).map(|s| evidence(&s));
        TokenFacts {
            kid,
            alg,
            iss,
            tid,
            aud: aud.map(cap_aud),
            sub,
            oid: t("oid"),
            appid: t("appid").or_else(|| t("azp")),
            uti: t("uti").or_else(|| t("jti")),
            upn: t("upn").or_else(|| t("preferred_username")),
        }
    }

    /// The facts of a verified identity (the same fields, from validated claims).
    pub fn of(id: &Identity) -> TokenFacts {
        let e = |s: &Option<String>| s.as_deref().map(evidence);
        TokenFacts {
            kid: Some(evidence(&id.kid)),
            alg: Some(id.alg.to_owned()),
            iss: Some(evidence(&id.iss)),
            tid: e(&id.tid),
            aud: Some(match id.aud.as_slice() {
                [one] => Value::String(evidence(one)),
                many => Value::Array(many.iter().map(|a| Value::String(evidence(a))).collect()),
            }),
            sub: e(&id.sub),
            oid: e(&id.oid),
            appid: e(&id.appid),
            uti: e(&id.uti),
            upn: e(&id.upn),
        }
    }
}

/// At most 16 audiences of a forged token are logged, each as evidence.
fn cap_aud(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(evidence(&s)),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .take(16)
                .map(|x| match x {
                    Value::String(s) => Value::String(evidence(&s)),
                    other => Value::String(evidence(&other.to_string())),
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_printable_ascii() {
        assert_eq!(header_value("alice@contoso.com"), "alice@contoso.com");
        assert_eq!(header_value("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_value("José"), "Jos%C3%A9");
        assert_eq!(header_value("100%"), "100%25");
        assert_eq!(header_value("\u{7f}"), "%7F");
        for v in ["\0", "é", "\u{202e}", "a\tb"] {
            let h = header_value(v);
            assert!(axum::http::HeaderValue::from_str(&h).is_ok(), "{h}");
            assert!(h.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }

    #[test]
    fn facts_of_garbage_are_empty_and_never_panic() {
        for junk in ["", "a.b.c", "..", "e30.e30.", "x.eyJ1dGkiOjF9.y"] {
            assert_eq!(TokenFacts::read(junk, 100).uti, None);
        }
        // {"uti":"u\u0000","aud":["a",1]}
        let t = "e30.eyJ1dGkiOiJ1XHUwMDAwIiwiYXVkIjpbImEiLDFdfQ.x";
        let f = TokenFacts::read(t, 1000);
        assert_eq!(f.uti.as_deref(), Some("u\u{fffd}"));
    }
}
