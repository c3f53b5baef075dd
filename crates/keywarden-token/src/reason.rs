//! Why a token was refused, and why a policy could not be loaded.
//!
//! Every [`Rejection`] variant has one stable kebab-case code ([`Rejection::code`]) that scripts
//! and the `keywarden verify --json` output depend on; `docs/TOKEN.md` lists them all. Variants
//! carry the evidence that led to the decision (the offending value, truncated where it could be
//! large) so that an operator can see *what* was wrong, not only that something was.

use thiserror::Error;

/// Longest piece of attacker-controlled text copied into a rejection as evidence.
pub const EVIDENCE_MAX: usize = 96;

/// Copies at most [`EVIDENCE_MAX`] characters of `s`, replacing control characters, so that
/// evidence can be printed safely.
pub fn evidence(s: &str) -> String {
    // Short printable ASCII (nearly every value) is kept as is.
    if s.len() <= EVIDENCE_MAX && s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_owned();
    }
    let mut out: String = s
        .chars()
        .take(EVIDENCE_MAX)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if s.chars().count() > EVIDENCE_MAX {
        out.push('…');
    }
    out
}

/// Why a token was rejected. One variant, one stable code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("token is {len} bytes, more than the {max}-byte cap")]
    TooLarge { len: usize, max: usize },
    #[error("JWS JSON serialisation is not accepted; only compact JWS")]
    JsonSerialization,
    #[error("not a compact JWS: expected 3 dot-separated parts, found {parts}")]
    Malformed { parts: usize },
    #[error("the {part} is not strict unpadded base64url")]
    BadBase64 { part: &'static str },
    #[error("the {part} is not a JSON object: {detail}")]
    BadJson { part: &'static str, detail: String },
    #[error("the {part} repeats the member {key:?}")]
    DuplicateKey { part: &'static str, key: String },
    #[error("header member {member:?} is missing or has the wrong type")]
    BadHeader { member: &'static str },
    #[error("alg \"none\" is never accepted")]
    AlgNone,
    #[error("alg {alg:?} is not a supported signature algorithm")]
    UnsupportedAlg { alg: String },
    #[error("alg {alg} is not allowed for key {kid:?} of issuer block {issuer_id:?}")]
    AlgNotAllowed {
        alg: String,
        kid: String,
        issuer_id: String,
    },
    #[error("header carries {member:?}; header-supplied keys are never trusted")]
    EmbeddedKey { member: &'static str },
    #[error("header lists critical extensions {names:?}, none of which are understood")]
    Crit { names: Vec<String> },
    #[error("b64=false (unencoded payload) is not accepted")]
    UnencodedPayload,
    #[error("kid is missing")]
    MissingKid,
    #[error("kid {kid:?} is malformed (empty, too long or has control characters)")]
    BadKid { kid: String },
    #[error("typ {typ:?} is not an accepted token type")]
    BadTyp { typ: String },
    #[error("nested JWTs (cty=JWT) are not accepted")]
    NestedJwt,
    #[error("key {kid:?} is on the deny list")]
    DeniedKey { kid: String },
    #[error("iss is missing or not a string")]
    MissingIssuer,
    #[error("issuer {iss:?} is not trusted by the policy")]
    UntrustedIssuer { iss: String },
    #[error("no key {kid:?} for issuer block {issuer_id:?}")]
    UnknownKid { kid: String, issuer_id: String },
    #[error(
        "key {kid:?} belongs to issuer block {owner:?}, not to {issuer_id:?} that the token claims"
    )]
    KeyNotBoundToIssuer {
        kid: String,
        owner: String,
        issuer_id: String,
    },
    #[error("key {kid:?} is bound to issuer {key_issuer:?}, the token claims {iss:?}")]
    KeyIssuerMismatch {
        kid: String,
        key_issuer: String,
        iss: String,
    },
    #[error("key {kid:?} is not valid before {not_before}")]
    KeyNotYetValid { kid: String, not_before: i64 },
    #[error("key {kid:?} was valid only until {not_after}")]
    KeyExpired { kid: String, not_after: i64 },
    #[error("signature is empty")]
    EmptySignature,
    #[error("signature is {len} bytes; {alg} needs {expected}")]
    BadSignatureLength {
        alg: String,
        len: usize,
        expected: usize,
    },
    #[error("ECDSA signature has r or s equal to zero (psychic signature)")]
    PsychicSignature,
    #[error("signature does not verify with key {kid:?} ({alg})")]
    BadSignature { kid: String, alg: String },
    #[error("tid is required by issuer block {issuer_id:?} and missing")]
    MissingTenant { issuer_id: String },
    #[error("tid {tid:?} is not a lower-case GUID string")]
    BadTenant { tid: String },
    #[error("tenant {tid:?} is not allowed for issuer block {issuer_id:?}")]
    TenantNotAllowed { tid: String, issuer_id: String },
    #[error("tid {tid:?} differs from the tenant {iss_tenant:?} in iss")]
    TenantIssuerMismatch { tid: String, iss_tenant: String },
    #[error("aud is missing")]
    MissingAudience,
    #[error("aud must be a string or an array of strings")]
    BadAudience,
    #[error("no audience in {aud:?} is allowed")]
    AudienceMismatch { aud: Vec<String> },
    #[error("claim {claim} is missing")]
    MissingClaim { claim: &'static str },
    #[error("claim {claim} is not a number of seconds within range")]
    BadTime { claim: &'static str },
    #[error("token expired at {exp} (now {now}, leeway {leeway}s)")]
    Expired { exp: i64, now: i64, leeway: i64 },
    #[error("token not valid before {nbf} (now {now}, leeway {leeway}s)")]
    NotYetValid { nbf: i64, now: i64, leeway: i64 },
    #[error("token issued in the future at {iat} (now {now}, leeway {leeway}s)")]
    IssuedInFuture { iat: i64, now: i64, leeway: i64 },
    #[error("claim {claim} has the wrong type")]
    BadClaimType { claim: &'static str },
}

impl Rejection {
    /// The stable kebab-case reason code (documented in `docs/TOKEN.md`).
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            TooLarge { .. } => "too-large",
            JsonSerialization => "json-serialization",
            Malformed { .. } => "malformed",
            BadBase64 { .. } => "bad-base64",
            BadJson { .. } => "bad-json",
            DuplicateKey { .. } => "duplicate-key",
            BadHeader { .. } => "bad-header",
            AlgNone => "alg-none",
            UnsupportedAlg { .. } => "unsupported-alg",
            AlgNotAllowed { .. } => "alg-not-allowed",
            EmbeddedKey { .. } => "embedded-key",
            Crit { .. } => "crit-unsupported",
            UnencodedPayload => "b64-false",
            MissingKid => "missing-kid",
            BadKid { .. } => "bad-kid",
            BadTyp { .. } => "bad-typ",
            NestedJwt => "nested-jwt",
            DeniedKey { .. } => "denied-key",
            MissingIssuer => "missing-iss",
            UntrustedIssuer { .. } => "untrusted-issuer",
            UnknownKid { .. } => "unknown-kid",
            KeyNotBoundToIssuer { .. } => "key-not-bound-to-issuer",
            KeyIssuerMismatch { .. } => "key-issuer-mismatch",
            KeyNotYetValid { .. } => "key-not-yet-valid",
            KeyExpired { .. } => "key-expired",
            EmptySignature => "empty-signature",
            BadSignatureLength { .. } => "bad-signature-length",
            PsychicSignature => "psychic-signature",
            BadSignature { .. } => "bad-signature",
            MissingTenant { .. } => "missing-tid",
            BadTenant { .. } => "bad-tid",
            TenantNotAllowed { .. } => "tenant-not-allowed",
            TenantIssuerMismatch { .. } => "tid-iss-mismatch",
            MissingAudience => "missing-aud",
            BadAudience => "bad-aud",
            AudienceMismatch { .. } => "audience-mismatch",
            MissingClaim { .. } => "missing-claim",
            BadTime { .. } => "bad-time",
            Expired { .. } => "expired",
            NotYetValid { .. } => "not-yet-valid",
            IssuedInFuture { .. } => "iat-in-future",
            BadClaimType { .. } => "bad-claim-type",
        }
    }
}

/// Every reason code, in documentation order (used by tests to keep `docs/TOKEN.md` honest).
pub const ALL_CODES: &[&str] = &[
    "too-large",
    "json-serialization",
    "malformed",
    "bad-base64",
    "bad-json",
    "duplicate-key",
    "bad-header",
    "alg-none",
    "unsupported-alg",
    "alg-not-allowed",
    "embedded-key",
    "crit-unsupported",
    "b64-false",
    "missing-kid",
    "bad-kid",
    "bad-typ",
    "nested-jwt",
    "denied-key",
    "missing-iss",
    "untrusted-issuer",
    "unknown-kid",
    "key-not-bound-to-issuer",
    "key-issuer-mismatch",
    "key-not-yet-valid",
    "key-expired",
    "empty-signature",
    "bad-signature-length",
    "psychic-signature",
    "bad-signature",
    "missing-tid",
    "bad-tid",
    "tenant-not-allowed",
    "tid-iss-mismatch",
    "missing-aud",
    "bad-aud",
    "audience-mismatch",
    "missing-claim",
    "bad-time",
    "expired",
    "not-yet-valid",
    "iat-in-future",
    "bad-claim-type",
];

/// Why a trust policy (or one of its key sets) could not be loaded as a whole.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy is not valid TOML: {0}")]
    Toml(String),
    #[error("policy is invalid: {0}")]
    Invalid(String),
    #[error("issuer block {issuer_id:?}: {detail}")]
    Issuer { issuer_id: String, detail: String },
    #[error("key set for issuer block {issuer_id:?} is unusable: {detail}")]
    KeySet { issuer_id: String, detail: String },
    #[error("fetching {url}: {detail}")]
    Fetch { url: String, detail: String },
}

/// A single key refused at load; the rest of the policy still loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWarning {
    pub issuer_id: String,
    pub kid: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for KeyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "issuer block {:?}: key {:?} refused: {}",
            self.issuer_id,
            self.kid.as_deref().unwrap_or("<no kid>"),
            self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL_CODES {
            assert!(seen.insert(*c), "duplicate code {c}");
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch.is_ascii_digit())
            );
        }
        assert_eq!(Rejection::AlgNone.code(), "alg-none");
        assert!(ALL_CODES.contains(&Rejection::PsychicSignature.code()));
    }

    #[test]
    fn evidence_is_truncated_and_sanitised() {
        let long = "a".repeat(500);
        assert_eq!(evidence(&long).chars().count(), EVIDENCE_MAX + 1);
        assert_eq!(evidence("a\0b"), "a\u{fffd}b");
        // The printable-ASCII fast path keeps exactly the slow path's results at its edges.
        let max = "b".repeat(EVIDENCE_MAX);
        assert_eq!(evidence(&max), max);
        assert_eq!(evidence(&format!("{max}c")), format!("{max}…"));
        assert_eq!(evidence("a\u{7f}b"), "a\u{fffd}b");
        assert_eq!(evidence("a\u{85}b"), "a\u{fffd}b");
        assert_eq!(evidence("José"), "José");
    }
}
