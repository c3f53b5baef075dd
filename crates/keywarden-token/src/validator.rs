//! The validator: one pass over a compact JWS that fails closed at the first broken rule.
//!
//! Order: size cap → compact split → header (alg, embedded keys, crit, b64, kid) → deny list →
//! claims JSON → issuer block from `iss` → key of *that* block by exact `kid` → `typ` → the
//! key's algorithms → the key's own `issuer` binding → key validity window → signature →
//! tenant → audience → `exp`/`nbf`/`iat`. A key can only ever verify tokens of the block it was
//! loaded for.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::crypto::Alg;
use crate::fetch::{
    CachePolicy, Fetch, HttpFetcher, OwnedKeyContext, RemoteKeys, RemoteSource, WouldRefresh,
};
use crate::jose::{
    Header, Members, b64_decode, b64_decode_buf, media_type_is, numeric_date, parse_claims, split,
};
use crate::jwks::{KeyContext, KeySet, LoadedKey, load_jwks};
#[cfg(doc)]
use crate::policy::match_issuer;
use crate::policy::{TENANT_PLACEHOLDER, TrustPolicy, is_lower_guid};
use crate::reason::{KeyWarning, PolicyError, Rejection, evidence};

/// Signatures up to this many bytes (RSA-8192 is 1024) are decoded on the stack.
const SIGNATURE_INLINE: usize = 1056;

/// A token that passed every check, with the claims that were checked.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub issuer_id: String,
    pub kid: String,
    pub alg: Alg,
    pub iss: String,
    pub tid: Option<String>,
    pub aud: Vec<String>,
    pub sub: Option<String>,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    /// `aud` exactly as the token carried it (string or array).
    pub aud_raw: Value,
    /// The decoded payload (a JSON object without duplicate members); see [`VerifiedToken::claims`].
    pub payload: Vec<u8>,
    /// The holder claims ([`crate::jose::HOLDER_CLAIMS`]: `oid`, `upn`, `scp`, `roles`, ...) the
    /// payload carries, read in the validator's one parse of it (the same values
    /// [`VerifiedToken::claims`] gives for those names, without a second parse).
    pub holder: Members,
}

/// Whatever could be read from a token, valid or not (for reports; never for decisions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenSummary {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub aud: Option<Value>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
}

/// Reads what can be read from a token without validating it. Never panics; parts that are
/// not strict base64url JSON objects without duplicate members are skipped.
pub fn summarize(token: &str, max_len: usize) -> TokenSummary {
    let mut out = TokenSummary::default();
    let Ok(c) = split(token, max_len) else {
        return out;
    };
    let obj = |b64: &str| {
        b64_decode(b64, "part")
            .ok()
            .and_then(|b| crate::jose::parse_object(&b, "part").ok())
    };
    let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(evidence);
    if let Some(h) = obj(c.header_b64) {
        out.kid = text(&h, "kid");
        out.alg = text(&h, "alg");
    }
    if let Some(p) = obj(c.payload_b64) {
        out.iss = text(&p, "iss");
        out.tid = text(&p, "tid");
        out.sub = text(&p, "sub");
        out.aud = p
            .get("aud")
            .filter(|a| a.is_string() || a.is_array())
            .cloned();
        out.exp = numeric_date(p.get("exp"), "exp").ok().flatten();
    }
    out
}

impl VerifiedToken {
    /// Every claim, parsed on demand from the validated payload.
    pub fn claims(&self) -> Map<String, Value> {
        crate::jose::parse_object(&self.payload, "payload").unwrap_or_default()
    }

    pub fn summary(&self) -> TokenSummary {
        TokenSummary {
            kid: Some(self.kid.clone()),
            alg: Some(self.alg.name().to_owned()),
            iss: Some(self.iss.clone()),
            tid: self.tid.clone(),
            aud: Some(self.aud_raw.clone()),
            sub: self.sub.clone(),
            exp: Some(self.exp),
        }
    }
}

enum Keys {
    Static(KeySet),
    Remote(Box<RemoteKeys>),
}

struct Block {
    id: String,
    issuer: String,
    /// `issuer` cut at `{tenantid}` once at load (prefix, suffix), for [`Block::match_issuer`].
    issuer_template: Option<(String, String)>,
    tenants: Vec<String>,
    audiences: Vec<String>,
    token_types: Vec<String>,
    keys: Keys,
}

impl Block {
    /// [`match_issuer`] against this block's issuer, with the template cut once at load.
    fn match_issuer<'t>(&self, iss: &'t str) -> Option<Option<&'t str>> {
        match &self.issuer_template {
            None => (self.issuer == iss).then_some(None),
            Some((pre, post)) => {
                let mid = iss
                    .strip_prefix(pre.as_str())?
                    .strip_suffix(post.as_str())?;
                if mid.is_empty() || mid.contains('/') {
                    return None;
                }
                Some(Some(mid))
            }
        }
    }
    /// The key `kid` at `now`; with `fetch` false, `Err` instead of refreshing a remote set.
    fn lookup(
        &self,
        kid: &str,
        now: i64,
        fetch: bool,
    ) -> Result<Option<Arc<LoadedKey>>, WouldRefresh> {
        match &self.keys {
            Keys::Static(s) => Ok(s.keys.get(kid).cloned()),
            Keys::Remote(r) if fetch => Ok(r.get(kid, now)),
            Keys::Remote(r) => r.get_cached(kid, now),
        }
    }
    /// Lookup that never touches the network (used only to explain a rejection).
    fn holds(&self, kid: &str) -> bool {
        match &self.keys {
            Keys::Static(s) => s.keys.contains_key(kid),
            Keys::Remote(r) => r.current().keys.contains_key(kid),
        }
    }
}

/// Why [`Validator::validate_inner`] stopped short of a verdict: a rejection, or (lookups that
/// may not fetch) a key set that would have to be refreshed first.
enum Halt {
    Rejected(Rejection),
    WouldRefresh,
}

impl From<Rejection> for Halt {
    fn from(r: Rejection) -> Halt {
        Halt::Rejected(r)
    }
}

/// Validates tokens against a loaded [`TrustPolicy`]. Cheap to share across threads.
pub struct Validator {
    leeway: i64,
    max_token_bytes: usize,
    deny: HashSet<String>,
    blocks: Vec<Block>,
    warnings: Vec<KeyWarning>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field(
                "blocks",
                &self
                    .blocks
                    .iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("warnings", &self.warnings.len())
            .finish()
    }
}

impl Validator {
    /// Loads every key set of the policy, fetching remote ones over HTTPS now; `now` (unix
    /// seconds, from the caller's clock: this crate never reads the wall clock) is the load time
    /// that remote key caches age from.
    pub fn from_policy(policy: &TrustPolicy, now: i64) -> Result<Validator, PolicyError> {
        let fetcher = Arc::new(HttpFetcher::new(std::time::Duration::from_secs(
            policy.fetch_timeout_seconds,
        )));
        Validator::from_policy_with(policy, fetcher, now)
    }

    /// As [`Validator::from_policy`], with an injected fetcher and load time.
    pub fn from_policy_with(
        policy: &TrustPolicy,
        fetcher: Arc<dyn Fetch>,
        now: i64,
    ) -> Result<Validator, PolicyError> {
        policy.check()?;
        let deny = policy.deny_set();
        let mut blocks = Vec::new();
        let mut warnings = Vec::new();
        for b in &policy.issuers {
            let algorithms = b
                .parsed_algorithms()
                .map_err(|detail| PolicyError::Issuer {
                    issuer_id: b.id.clone(),
                    detail,
                })?;
            let keys = if let Some(file) = &b.jwks_file {
                let path = policy.base_dir.join(file);
                let bytes = std::fs::read(&path).map_err(|source| PolicyError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                let ctx = KeyContext {
                    issuer_id: &b.id,
                    block_issuer: &b.issuer,
                    algorithms: &algorithms,
                    min_rsa_bits: policy.min_rsa_bits,
                    deny: &deny,
                    overrides: &b.keys,
                    allow_symmetric: true,
                };
                let (set, w) = load_jwks(&bytes, &ctx)?;
                warnings.extend(w);
                Keys::Static(set)
            } else {
                let source = match (&b.jwks_uri, &b.discovery) {
                    (Some(u), _) => RemoteSource::Jwks(u.clone()),
                    (None, Some(d)) => RemoteSource::Discovery(d.clone()),
                    (None, None) => {
                        return Err(PolicyError::Issuer {
                            issuer_id: b.id.clone(),
                            detail: "no key source".into(),
                        });
                    }
                };
                let ctx = OwnedKeyContext {
                    issuer_id: b.id.clone(),
                    block_issuer: b.issuer.clone(),
                    algorithms: algorithms.clone(),
                    min_rsa_bits: policy.min_rsa_bits,
                    deny: deny.clone(),
                    overrides: b.keys.clone(),
                };
                let cache = CachePolicy {
                    ttl: policy.jwks_cache_ttl_seconds,
                    min_refresh_interval: policy.refresh_interval_seconds,
                    dangerous_allow_http: policy.dangerous_allow_http,
                };
                let r = RemoteKeys::load(source, ctx, fetcher.clone(), cache, now)?;
                warnings.extend(r.warnings());
                Keys::Remote(Box::new(r))
            };
            blocks.push(Block {
                id: b.id.clone(),
                issuer: b.issuer.clone(),
                issuer_template: b
                    .issuer
                    .split_once(TENANT_PLACEHOLDER)
                    .map(|(pre, post)| (pre.to_owned(), post.to_owned())),
                tenants: b.tenants.clone(),
                audiences: b.audiences.clone(),
                token_types: b.token_types.clone(),
                keys,
            });
        }
        Ok(Validator {
            leeway: policy.leeway_seconds,
            max_token_bytes: policy.max_token_bytes,
            deny,
            blocks,
            warnings,
        })
    }

    /// Keys refused individually at load.
    pub fn warnings(&self) -> &[KeyWarning] {
        &self.warnings
    }

    /// The token size cap in bytes.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// How many fetches a remote block has attempted (None for local or unknown blocks).
    pub fn remote_fetch_count(&self, issuer_id: &str) -> Option<u64> {
        self.blocks
            .iter()
            .find(|b| b.id == issuer_id)
            .and_then(|b| match &b.keys {
                Keys::Remote(r) => Some(r.fetch_count()),
                Keys::Static(_) => None,
            })
    }

    /// Validates at time `now` (unix seconds): the caller's clock, never the wall clock read
    /// here, so that a verdict is reproducible (`keywarden verify --now`) and tests drive time.
    pub fn validate_at(&self, token: &str, now: i64) -> Result<VerifiedToken, Rejection> {
        self.validate_inner(token, now, true)
            .map_err(|halt| match halt {
                Halt::Rejected(r) => r,
                // Unreachable with `fetch` true; refuse rather than trust, if it ever were not.
                Halt::WouldRefresh => Rejection::UnknownKid {
                    kid: String::new(),
                    issuer_id: String::new(),
                },
            })
    }

    /// As [`Validator::validate_at`], but never waiting on the network: `None` when the token's
    /// key lookup would first have to refresh a remote key set (past its TTL, or an unknown
    /// `kid`, see [`RemoteKeys::get_cached`]); call `validate_at` where blocking is allowed then.
    /// Otherwise the same verdict `validate_at` gives. For async callers (`keywarden gateway`):
    /// a validation is tens of microseconds of CPU, cheaper than a hop to a blocking pool.
    pub fn validate_cached_at(
        &self,
        token: &str,
        now: i64,
    ) -> Option<Result<VerifiedToken, Rejection>> {
        match self.validate_inner(token, now, false) {
            Ok(v) => Some(Ok(v)),
            Err(Halt::Rejected(r)) => Some(Err(r)),
            Err(Halt::WouldRefresh) => None,
        }
    }

    fn validate_inner(&self, token: &str, now: i64, fetch: bool) -> Result<VerifiedToken, Halt> {
        let c = split(token, self.max_token_bytes)?;
        let header = Header::parse(c.header_b64)?;
        let alg = Alg::parse(&header.alg).ok_or_else(|| Rejection::UnsupportedAlg {
            alg: evidence(&header.alg),
        })?;
        let kid = header.kid.as_str();
        if self.deny.contains(kid) {
            return Err(Halt::Rejected(Rejection::DeniedKey { kid: evidence(kid) }));
        }
        let (mut claims, payload) = parse_claims(c.payload_b64)?;
        let iss = match claims.take("iss") {
            Some(Value::String(s)) => s,
            _ => return Err(Halt::Rejected(Rejection::MissingIssuer)),
        };
        let mut candidates = self
            .blocks
            .iter()
            .filter_map(|b| b.match_issuer(&iss).map(|t| (b, t)));
        let Some(first) = candidates.next() else {
            return Err(Halt::Rejected(Rejection::UntrustedIssuer {
                iss: evidence(&iss),
            }));
        };
        let mut found = None;
        for (b, t) in std::iter::once(first).chain(candidates) {
            if let Some(k) = b.lookup(kid, now, fetch).map_err(|_| Halt::WouldRefresh)? {
                found = Some((b, t, k));
                break;
            }
        }
        let Some((block, iss_tenant, key)) = found else {
            let issuer_id = first.0.id.clone();
            if let Some(owner) = self.blocks.iter().find(|b| b.holds(kid)) {
                return Err(Halt::Rejected(Rejection::KeyNotBoundToIssuer {
                    kid: evidence(kid),
                    owner: owner.id.clone(),
                    issuer_id,
                }));
            }
            return Err(Halt::Rejected(Rejection::UnknownKid {
                kid: evidence(kid),
                issuer_id,
            }));
        };
        if let Some(typ) = &header.typ
            && !block.token_types.iter().any(|t| media_type_is(typ, t))
        {
            return Err(Halt::Rejected(Rejection::BadTyp { typ: evidence(typ) }));
        }
        if !key.key.allows(alg) {
            return Err(Halt::Rejected(Rejection::AlgNotAllowed {
                alg: alg.name().into(),
                kid: evidence(kid),
                issuer_id: block.id.clone(),
            }));
        }
        let tid = match claims.take("tid") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(Halt::Rejected(Rejection::BadClaimType { claim: "tid" })),
        };
        if let Some(ki) = &key.issuer {
            let agrees = match ki.split_once(TENANT_PLACEHOLDER) {
                None => *ki == iss,
                Some((pre, post)) => tid.as_deref().is_some_and(|t| {
                    iss.len() == pre.len() + t.len() + post.len()
                        && iss.starts_with(pre)
                        && iss.ends_with(post)
                        && iss[pre.len()..iss.len() - post.len()] == *t
                }),
            };
            if !agrees {
                return Err(Halt::Rejected(Rejection::KeyIssuerMismatch {
                    kid: evidence(kid),
                    key_issuer: evidence(ki),
                    iss: evidence(&iss),
                }));
            }
        }
        if let Some(nb) = key.not_before
            && now < nb
        {
            return Err(Halt::Rejected(Rejection::KeyNotYetValid {
                kid: evidence(kid),
                not_before: nb,
            }));
        }
        if let Some(na) = key.not_after
            && now > na
        {
            return Err(Halt::Rejected(Rejection::KeyExpired {
                kid: evidence(kid),
                not_after: na,
            }));
        }
        let (mut buf, mut spill) = ([0u8; SIGNATURE_INLINE], Vec::new());
        let signature = b64_decode_buf(c.signature_b64, "signature", &mut buf, &mut spill)?;
        key.key
            .verify(alg, c.signing_input.as_bytes(), signature, kid)?;

        // Claims, now that we know who signed them.
        if !block.tenants.is_empty() {
            let t = tid.as_deref().ok_or_else(|| Rejection::MissingTenant {
                issuer_id: block.id.clone(),
            })?;
            if !is_lower_guid(t) {
                return Err(Halt::Rejected(Rejection::BadTenant { tid: evidence(t) }));
            }
            if !block.tenants.iter().any(|x| x == t) {
                return Err(Halt::Rejected(Rejection::TenantNotAllowed {
                    tid: evidence(t),
                    issuer_id: block.id.clone(),
                }));
            }
            if let Some(it) = iss_tenant
                && it != t
            {
                return Err(Halt::Rejected(Rejection::TenantIssuerMismatch {
                    tid: evidence(t),
                    iss_tenant: evidence(it),
                }));
            }
        }
        let aud_raw = claims.take("aud").ok_or(Rejection::MissingAudience)?;
        let aud: Vec<String> = match &aud_raw {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(Rejection::BadAudience)?,
            _ => return Err(Halt::Rejected(Rejection::BadAudience)),
        };
        if !aud.iter().any(|a| block.audiences.contains(a)) {
            return Err(Halt::Rejected(Rejection::AudienceMismatch {
                aud: aud.iter().take(8).map(|a| evidence(a)).collect(),
            }));
        }
        let leeway = self.leeway;
        let exp = numeric_date(claims.take("exp").as_ref(), "exp")?
            .ok_or(Rejection::MissingClaim { claim: "exp" })?;
        if now.saturating_sub(leeway) >= exp {
            return Err(Halt::Rejected(Rejection::Expired { exp, now, leeway }));
        }
        let nbf = numeric_date(claims.take("nbf").as_ref(), "nbf")?;
        if let Some(nbf) = nbf
            && nbf > now.saturating_add(leeway)
        {
            return Err(Halt::Rejected(Rejection::NotYetValid { nbf, now, leeway }));
        }
        let iat = numeric_date(claims.take("iat").as_ref(), "iat")?;
        if let Some(iat) = iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Halt::Rejected(Rejection::IssuedInFuture {
                iat,
                now,
                leeway,
            }));
        }
        let sub = match claims.take("sub") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(Halt::Rejected(Rejection::BadClaimType { claim: "sub" })),
        };
        let issuer_id = block.id.clone();
        Ok(VerifiedToken {
            issuer_id,
            kid: header.kid,
            alg,
            iss,
            tid,
            aud,
            sub,
            exp,
            nbf,
            iat,
            aud_raw,
            payload,
            // Every checked claim was taken out above: what is left are the holder claims.
            holder: claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::B64;
    use base64::Engine as _;

    struct Stub;
    impl Fetch for Stub {
        fn get(&self, _: &str) -> Result<Vec<u8>, String> {
            Ok(br#"{"keys":[{"kty":"EC","kid":"ec1","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw"}]}"#.to_vec())
        }
    }

    fn unsigned(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            B64.encode(header),
            B64.encode(payload),
            B64.encode([1u8; 64])
        )
    }

    #[test]
    fn rejections_before_and_after_key_lookup() {
        let p = TrustPolicy::from_toml(
            "[[issuer]]\nid='i'\nissuer='https://i.example'\naudiences=['a']\nalgorithms=['ES256']\njwks_uri='https://i.example/k'\n",
        )
        .unwrap();
        let v = Validator::from_policy_with(&p, Arc::new(Stub), 0).unwrap();
        let h = r#"{"alg":"ES256","kid":"ec1"}"#;
        let code = |t: &str| v.validate_at(t, 0).unwrap_err().code();
        assert_eq!(
            code(&unsigned(h, r#"{"iss":"https://j.example"}"#)),
            "untrusted-issuer"
        );
        assert_eq!(
            code(&unsigned(h, r#"{"iss":"https://i.example"}"#)),
            "bad-signature"
        );
        assert_eq!(
            code(&unsigned(
                r#"{"alg":"ES256","kid":"zz"}"#,
                r#"{"iss":"https://i.example"}"#
            )),
            "unknown-kid"
        );
        assert_eq!(
            code(&unsigned(
                r#"{"alg":"PS256","kid":"ec1"}"#,
                r#"{"iss":"https://i.example"}"#
            )),
            "alg-not-allowed"
        );
        assert_eq!(
            v.remote_fetch_count("i"),
            Some(1),
            "unknown kid within the interval: no refetch"
        );
    }

    #[test]
    fn summaries_read_what_they_can_and_never_panic() {
        let s = summarize(
            &unsigned(
                r#"{"alg":"ES256","kid":"k\u0000"}"#,
                r#"{"iss":7,"aud":["a"],"exp":"x"}"#,
            ),
            1000,
        );
        assert_eq!(s.kid.as_deref(), Some("k\u{fffd}"));
        assert_eq!((s.iss, s.exp), (None, None));
        assert_eq!(s.aud, Some(serde_json::json!(["a"])));
        for junk in ["", ".", "..", "a.b.c", "e30.e30.", "\u{feff}.\u{0}.x"] {
            assert_eq!(summarize(junk, 1000).kid, None);
        }
    }
}
