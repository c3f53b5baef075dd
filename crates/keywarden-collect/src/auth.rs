//! OAuth 2.0 client credentials against `{login}/{tenant}/oauth2/v2.0/token`: with a client
//! secret, or with a certificate (a client-assertion JWT signed PS256 whose header carries
//! `x5t#S256`, the base64url SHA-256 thumbprint of the certificate's DER, as the identity
//! platform's certificate-credentials page specifies).
//!
//! Tokens are cached per scope and renewed before they expire (at the later of
//! `expires_in - renew_before` and half their lifetime) and whenever an API answers 401.
//! Secrets, assertions and access tokens are never printed, logged or written: the types that
//! hold them redact themselves in `Debug`, and errors carry only the identity platform's own
//! error code and description.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SecureRandom;
use aws_lc_rs::signature::RsaKeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keywarden_model::Timestamp;

use crate::clock::{Clock, micros};
use crate::config::CredentialSource;
use crate::error::{CallError, CollectError};
use crate::http::{Request, Transport};

/// Largest token response accepted.
const MAX_TOKEN_RESPONSE: u64 = 64 * 1024;

enum Secret {
    ClientSecret(String),
    Certificate { key: RsaKeyPair, x5t_s256: String },
}

/// The application's credentials.
pub struct Credentials {
    client_id: String,
    secret: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.secret {
            Secret::ClientSecret(_) => "client secret",
            Secret::Certificate { .. } => "certificate",
        };
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("kind", &kind)
            .finish()
    }
}

impl Credentials {
    /// Reads the secret file (first line, trimmed) or the PEM file (private key + certificate).
    pub fn load(source: &CredentialSource, client_id: &str) -> Result<Credentials, CollectError> {
        let (path, text) = match source {
            CredentialSource::SecretFile(p) | CredentialSource::CertificateFile(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| CollectError::Credential {
                    path: p.display().to_string(),
                    detail: e.to_string(),
                })?;
                (p.display().to_string(), text)
            }
        };
        let fail = |detail: &str| CollectError::Credential {
            path: path.clone(),
            detail: detail.to_owned(),
        };
        let secret = match source {
            CredentialSource::SecretFile(_) => {
                let s = text.lines().next().unwrap_or("").trim();
                if s.is_empty() {
                    return Err(fail("the first line holds no secret"));
                }
                Secret::ClientSecret(s.to_owned())
            }
            CredentialSource::CertificateFile(_) => {
                let cert =
                    pem_block(&text, "CERTIFICATE").ok_or_else(|| fail("no CERTIFICATE block"))?;
                let key = if let Some(der) = pem_block(&text, "PRIVATE KEY") {
                    RsaKeyPair::from_pkcs8(&der)
                } else if let Some(der) = pem_block(&text, "RSA PRIVATE KEY") {
                    RsaKeyPair::from_der(&der)
                } else {
                    return Err(fail(
                        "no PRIVATE KEY or RSA PRIVATE KEY block (the identity platform signs with RSA)",
                    ));
                }
                .map_err(|e| fail(&format!("private key refused: {e}")))?;
                let thumb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &cert);
                Secret::Certificate {
                    key,
                    x5t_s256: URL_SAFE_NO_PAD.encode(thumb.as_ref()),
                }
            }
        };
        Ok(Credentials {
            client_id: client_id.to_owned(),
            secret,
        })
    }

    /// The form body of a token request for `scope`.
    fn form(&self, token_url: &str, scope: &str, now: Timestamp) -> Result<Vec<u8>, String> {
        let mut f = form_urlencoded::Serializer::new(String::new());
        f.append_pair("client_id", &self.client_id)
            .append_pair("scope", scope)
            .append_pair("grant_type", "client_credentials");
        match &self.secret {
            Secret::ClientSecret(s) => {
                f.append_pair("client_secret", s);
            }
            Secret::Certificate { key, x5t_s256 } => {
                let jwt = client_assertion(&self.client_id, key, x5t_s256, token_url, now)?;
                f.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", &jwt);
            }
        }
        Ok(f.finish().into_bytes())
    }
}

/// The body of the first PEM block with this label.
fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

/// A signed client assertion: PS256, `x5t#S256`; `aud` the token endpoint, `iss` = `sub` =
/// client id, a random `jti`, valid from now for 10 minutes.
fn client_assertion(
    client_id: &str,
    key: &RsaKeyPair,
    x5t_s256: &str,
    token_url: &str,
    now: Timestamp,
) -> Result<String, String> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut id = [0u8; 16];
    rng.fill(&mut id).map_err(|_| "no randomness for jti")?;
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let jti = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    let iat = now.unix_seconds();
    let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256});
    let claims = serde_json::json!({
        "aud": token_url, "iss": client_id, "sub": client_id, "jti": jti,
        "nbf": iat, "iat": iat, "exp": iat + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PSS_SHA256,
        &rng,
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing the client assertion failed")?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// An access token. Never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

struct Cached {
    token: AccessToken,
    renew_at: Timestamp,
}

/// Gets and caches tokens per scope.
pub struct TokenProvider {
    credentials: Credentials,
    token_url: String,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    renew_before: std::time::Duration,
    cache: Mutex<HashMap<String, Cached>>,
    /// The `tid` claim of the last token that carried one (see [`tenant_id_claim`]).
    tenant_id: Mutex<Option<String>>,
}

impl TokenProvider {
    pub fn new(
        credentials: Credentials,
        login_base: &str,
        tenant: &str,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        renew_before: std::time::Duration,
    ) -> TokenProvider {
        TokenProvider {
            credentials,
            token_url: format!("{login_base}/{tenant}/oauth2/v2.0/token"),
            transport,
            clock,
            renew_before,
            cache: Mutex::new(HashMap::new()),
            tenant_id: Mutex::new(None),
        }
    }

    /// The directory (tenant) id the identity platform issued the tokens for, read from a
    /// token's `tid` claim; `None` until a token carrying one has been fetched.
    pub fn tenant_id(&self) -> Option<String> {
        self.tenant_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A valid token for `scope`, from the cache or fresh.
    pub fn token(&self, scope: &str) -> Result<AccessToken, CallError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now();
        if let Some(c) = cache.get(scope).filter(|c| now < c.renew_at) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.request(scope, now)?;
        let renew_after = lifetime
            .saturating_sub(micros(self.renew_before))
            .max(lifetime / 2);
        cache.insert(
            scope.to_owned(),
            Cached {
                token: token.clone(),
                renew_at: Timestamp(now.0.saturating_add(renew_after)),
            },
        );
        Ok(token)
    }

    /// Forgets `token` (an API answered 401 with it), so the next call fetches a new one.
    pub fn invalidate(&self, scope: &str, token: &AccessToken) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.get(scope).is_some_and(|c| &c.token == token) {
            cache.remove(scope);
        }
    }

    /// One token request; returns the token and its lifetime in microseconds.
    fn request(&self, scope: &str, now: Timestamp) -> Result<(AccessToken, i64), CallError> {
        let fail = |detail: String| CallError::Token {
            scope: scope.to_owned(),
            detail,
        };
        let body = self
            .credentials
            .form(&self.token_url, scope, now)
            .map_err(fail)?;
        let req = Request {
            method: "POST",
            url: self.token_url.clone(),
            headers: vec![(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(body),
        };
        let resp = self
            .transport
            .send(&req)
            .map_err(|e| fail(format!("{}: {e}", self.token_url)))?;
        let status = resp.status;
        let bytes = resp.read_body(MAX_TOKEN_RESPONSE).map_err(fail)?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| fail(format!("HTTP {status}: the answer is not JSON")))?;
        if status != 200 {
            let code = doc.get("error").and_then(|v| v.as_str()).unwrap_or("");
            let desc = doc
                .get("error_description")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let first_line = desc.lines().next().unwrap_or("");
            return Err(fail(format!("HTTP {status}: {code} {first_line}")));
        }
        let token = doc
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("no access_token in the answer".into()))?;
        let expires_in = doc
            .get("expires_in")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .filter(|s| *s > 0)
            .ok_or_else(|| fail("no positive expires_in in the answer".into()))?;
        if let Some(tid) = tenant_id_claim(token) {
            *self
                .tenant_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tid);
        }
        Ok((
            AccessToken(token.to_owned()),
            expires_in.saturating_mul(1_000_000),
        ))
    }
}

/// Largest token payload read for its `tid` claim.
const MAX_CLAIMS: usize = 16 * 1024;

/// The `tid` claim of an access token the identity platform just issued to us, if the token
/// is a JWS (Graph's and the Management API's are) whose payload names a GUID `tid`. Read, not
/// verified: it came over TLS from the token endpoint, and it only names the tenant that
/// `--tenant` (a GUID or a domain) already designated. An opaque or encrypted token gives
/// `None`; nothing of the token is kept or shown.
pub(crate) fn tenant_id_claim(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    if payload.len() > MAX_CLAIMS {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let tid = claims.get("tid")?.as_str()?.to_ascii_lowercase();
    keywarden_token::policy::is_lower_guid(&tid).then_some(tid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tenant_id_is_read_from_a_jws_tokens_tid_claim() {
        let b64 = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let jws = |claims: &str| format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims));
        assert_eq!(
            super::tenant_id_claim(&jws(
                r#"{"aud":"https://manage.office.com","tid":"1FFE8190-7D5A-4F46-AC82-0AB724907C43"}"#
            ))
            .as_deref(),
            Some("1ffe8190-7d5a-4f46-ac82-0ab724907c43")
        );
        // No tid, a tid that is not a GUID, an opaque token, damaged base64: none.
        assert_eq!(super::tenant_id_claim(&jws(r#"{"aud":"x"}"#)), None);
        assert_eq!(
            super::tenant_id_claim(&jws(r#"{"tid":"contoso.com"}"#)),
            None
        );
        assert_eq!(super::tenant_id_claim("tok-1-30"), None);
        assert_eq!(super::tenant_id_claim("a.!!!.b"), None);
        use keywarden_token::policy::is_lower_guid;
        assert!(is_lower_guid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_lower_guid("00000000-0000-0000-0000-00000000000"));
        assert!(!is_lower_guid("contoso.onmicrosoft.com"));
    }

    use super::*;

    #[test]
    fn pem_blocks_are_found_by_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_block(text, "CERTIFICATE"), Some(vec![0, 1, 2, 3]));
        assert_eq!(pem_block(text, "PRIVATE KEY"), None);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = Credentials {
            client_id: "app".into(),
            secret: Secret::ClientSecret("s3cr3t-value".into()),
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let t = AccessToken("eyJ.token.sig".into());
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
