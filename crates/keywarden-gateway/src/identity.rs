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
use crate::decision_log::FactsJson;
use crate::error::ConfigError;

/// A verified token as the verdict cache keeps it, everything a warm decision needs made once
/// per token: what routes judge, the flood-control subject key, the answer to an allowed
/// request, the decision line's token members. Not the whole [`Identity`]: its other claims
/// live on only in the answer and the log members. A cache entry costs about 1.35 KB (about
/// 1 KB when it held the whole identity and neither; `docs/GATEWAY.md`, *Verdict cache*).
#[derive(Debug)]
pub struct Verified {
    /// `aud`, `scp`, `roles`: what route policies judge.
    pub grants: Grants,
    /// [`Identity::subject_key`].
    pub subject_key: Box<str>,
    /// The answer when a route allows it ([`Identity::allowed`]): a warm decision copies no
    /// claim and parses no header value.
    pub allowed: Arc<Allowed>,
    /// The token's members of each decision line ([`TokenFacts::of`] as JSON; `None`: they
    /// could not be serialized, counted as a log error when used).
    pub log_facts: Option<FactsJson>,
}

/// The claims route policies judge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    pub aud: Vec<String>,
    pub scp: Vec<String>,
    pub roles: Vec<String>,
}

impl Verified {
    pub fn new(identity: Identity, names: &HeaderNames) -> Arc<Verified> {
        let subject_key = identity.subject_key().into_boxed_str();
        let allowed = Arc::new(identity.allowed(names));
        let log_facts = FactsJson::of(&TokenFacts::of(&identity))
            .ok()
            .map(FactsJson::shrunk);
        Arc::new(Verified {
            grants: Grants {
                aud: identity.aud,
                scp: identity.scp,
                roles: identity.roles,
            },
            subject_key,
            allowed,
            log_facts,
        })
    }
}

/// The identity header names of `gateway.toml` (sub, oid, tid, aud, scp, roles), as configured
/// and parsed once (names that do not parse are refused when the configuration is checked);
/// every cached answer shares them.
#[derive(Debug, Clone)]
pub struct HeaderNames(Arc<HeaderNamesInner>);

#[derive(Debug, PartialEq, Eq)]
struct HeaderNamesInner {
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
        Ok(HeaderNames(Arc::new(HeaderNamesInner {
            configured,
            parsed,
        })))
    }
}

/// What an allowed request is answered with: the identity headers to pass upstream (in a fixed
/// order: sub, oid, tid, aud, scp, roles; absent claims left out), and the configured names of
/// the identity headers whose claims are absent (to strip). Compact, as every cached token
/// keeps one: the values one after another in one buffer, each header a slice of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    names: Arc<HeaderNamesInner>,
    /// The set headers' values (printable ASCII, [`header_value`]), one after another.
    values: Bytes,
    /// Per header set, in order: (its index in the six names, where its value ends).
    set: Vec<(u8, u32)>,
    /// The absent headers' configured names joined with `, ` (Envoy's
    /// `x-envoy-auth-headers-to-remove`), when any.
    pub absent_header: Option<HeaderValue>,
}

impl Allowed {
    /// The identity headers, `(name, value)` (names lower-case, as HTTP/2 and Envoy's gRPC
    /// answer carry them); each value a slice of the one buffer.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, HeaderValue)> + '_ {
        let mut start = 0usize;
        self.set.iter().filter_map(move |&(i, end)| {
            let (a, b) = (start, usize::try_from(end).ok()?);
            start = b;
            let v = HeaderValue::from_maybe_shared(self.values.slice(a..b)).ok()?;
            Some((self.names.parsed.get(usize::from(i))?, v))
        })
    }

    /// `(name, value)` pairs as text (for the gRPC answer).
    pub fn header_text(&self) -> impl Iterator<Item = (&str, String)> + '_ {
        self.headers().map(|(k, v)| {
            (
                k.as_str(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
    }

    /// The configured names of the identity headers whose claims are absent (case kept).
    pub fn absent(&self) -> impl Iterator<Item = &str> + '_ {
        absent_names(&self.names, &self.set)
    }
}

/// The configured names not in `set`: every header not set is stripped as absent, in the HTTP
/// answer's header and the gRPC answer's list alike.
fn absent_names<'a>(
    names: &'a HeaderNamesInner,
    set: &'a [(u8, u32)],
) -> impl Iterator<Item = &'a str> + 'a {
    (0..names.configured.len())
        .filter(|i| !set.iter().any(|&(s, _)| usize::from(s) == *i))
        .map(|i| names.configured[i].as_str())
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

    /// The answer to an allowed request: the identity headers (sub, oid, tid, aud, scp, roles,
    /// the order of [`IdentityHeaders::all`]; empty claims left out, values made printable
    /// ASCII by [`header_value`]) and the absent names.
    pub fn allowed(&self, names: &HeaderNames) -> Allowed {
        let values = [
            self.sub.clone(),
            self.oid.clone(),
            self.tid.clone(),
            Some(self.aud.join(" ")),
            Some(self.scp.join(" ")),
            Some(self.roles.join(" ")),
        ];
        let mut buf = Vec::new();
        let mut set = Vec::with_capacity(6);
        for (i, v) in values.into_iter().enumerate() {
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                continue;
            };
            let v = header_value_owned(v);
            // Printable ASCII always parses and a token's claims stay far below 4 GiB; a value
            // that did not fit would be left out, and its name stripped as an absent one's.
            let end = buf.len() + v.len();
            let (Ok(end), Ok(_)) = (u32::try_from(end), HeaderValue::from_str(&v)) else {
                continue;
            };
            buf.extend_from_slice(v.as_bytes());
            set.push((i as u8, end));
        }
        set.shrink_to_fit();
        let absent: Vec<&str> = absent_names(&names.0, &set).collect();
        let absent_header = (!absent.is_empty())
            .then(|| HeaderValue::from_str(&absent.join(", ")).ok())
            .flatten();
        Allowed {
            names: names.0.clone(),
            values: Bytes::from(buf),
            set,
            absent_header,
        }
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
    fn a_cached_answer_holds_the_headers_in_order_and_names_the_absent() {
        let names = HeaderNames::new(&IdentityHeaders::default()).unwrap();
        let id = Identity {
            issuer_id: "i".into(),
            kid: "k".into(),
            alg: "ES256",
            iss: "https://i".into(),
            tid: Some("t-1".into()),
            aud: vec!["api://a".into(), "api://b".into()],
            sub: Some("José\r\nX-Evil: 1".into()),
            oid: None,
            appid: None,
            uti: None,
            upn: None,
            scp: vec!["Mail.Read".into()],
            roles: vec![],
            exp: 0,
        };
        let a = id.allowed(&names);
        let got: Vec<(String, String)> = a.header_text().map(|(k, v)| (k.to_owned(), v)).collect();
        let want = [
            ("x-keywarden-sub", "Jos%C3%A9%0D%0AX-Evil: 1"),
            ("x-keywarden-tid", "t-1"),
            ("x-keywarden-aud", "api://a api://b"),
            ("x-keywarden-scp", "Mail.Read"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            got, want,
            "in the order of IdentityHeaders::all, empty claims left out"
        );
        assert_eq!(got[0].1, "Jos%C3%A9%0D%0AX-Evil: 1");
        assert_eq!(
            a.absent().collect::<Vec<_>>(),
            ["X-Keywarden-Oid", "X-Keywarden-Roles"]
        );
        assert_eq!(
            a.absent_header.as_ref().map(|v| v.to_str().unwrap()),
            Some("X-Keywarden-Oid, X-Keywarden-Roles")
        );
        // The values share one buffer.
        let ptrs: Vec<*const u8> = a.headers().map(|(_, v)| v.as_bytes().as_ptr()).collect();
        assert_eq!(ptrs.len(), 4);
        assert!(ptrs.windows(2).all(|w| w[0] < w[1]));
    }

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
