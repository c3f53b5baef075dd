//! Keys from the network: `jwks_uri` and OIDC `discovery` documents fetched over HTTPS (rustls
//! with the aws-lc-rs provider, Mozilla roots, no redirects), cached with a TTL, and refreshed on
//! an unknown `kid` at most once per `refresh_interval_seconds`, so that a flood of random `kid`s
//! cannot hammer the identity provider. A refresh replaces the whole set: keys removed upstream
//! are evicted. The fetch runs outside the cache lock and one at a time (single-flight): while
//! it is in flight every other lookup is answered from the cached set at once, so a token with
//! a random `kid` cannot stall the requests that carry a known one; an unknown `kid` still fails
//! closed. Plain `http://` is accepted only for loopback hosts, or when the policy sets
//! `dangerous_allow_http`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::crypto::Alg;
use crate::jose::parse_object;
use crate::jwks::{KeyContext, KeySet, LoadedKey, load_jwks};
use crate::policy::{KeyConfig, match_issuer};
use crate::reason::{KeyWarning, PolicyError};

/// Largest key document accepted, in bytes.
pub const MAX_DOCUMENT: u64 = 1 << 20;

/// A key lookup that would have to refresh a remote key set first (see
/// [`RemoteKeys::get_cached`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WouldRefresh;

/// Fetches a URL's body. Injected so that tests and embedders can substitute transport.
pub trait Fetch: Send + Sync {
    fn get(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// The TLS settings of every outbound HTTPS client keywarden runs (this fetcher, `collect`'s
/// transport, `serve`'s webhooks): rustls with the aws-lc-rs provider and the webpki (Mozilla)
/// roots. Callers add their own agent settings; all of them refuse redirects.
pub fn tls_config() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::WebPki)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build()
}

/// The production fetcher: ureq over rustls (aws-lc-rs provider), webpki roots, no redirects.
pub struct HttpFetcher {
    agent: ureq::Agent,
}

impl HttpFetcher {
    pub fn new(timeout: Duration) -> HttpFetcher {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .tls_config(tls_config())
            .build()
            .new_agent();
        HttpFetcher { agent }
    }
}

impl Fetch for HttpFetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        resp.body_mut()
            .with_config()
            .limit(MAX_DOCUMENT)
            .read_to_vec()
            .map_err(|e| e.to_string())
    }
}

/// HTTPS always; `http://` only for loopback hosts or with `dangerous_allow_http`.
pub fn check_url(url: &str, dangerous_allow_http: bool) -> Result<(), String> {
    let (scheme_ok_always, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{url:?} is not an https:// URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{url:?} has no plain host"));
    }
    if scheme_ok_always || dangerous_allow_http {
        return Ok(());
    }
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or("").to_owned()
    };
    let loopback = host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "{url:?}: plain http is allowed only for loopback hosts (or dangerous_allow_http)"
        ))
    }
}

/// Owned copy of what key loading needs for one block.
#[derive(Debug, Clone)]
pub struct OwnedKeyContext {
    pub issuer_id: String,
    pub block_issuer: String,
    pub algorithms: Vec<Alg>,
    pub min_rsa_bits: usize,
    pub deny: std::collections::HashSet<String>,
    pub overrides: Vec<KeyConfig>,
}

impl OwnedKeyContext {
    fn borrow(&self) -> KeyContext<'_> {
        KeyContext {
            issuer_id: &self.issuer_id,
            block_issuer: &self.block_issuer,
            algorithms: &self.algorithms,
            min_rsa_bits: self.min_rsa_bits,
            deny: &self.deny,
            overrides: &self.overrides,
            allow_symmetric: false,
        }
    }
}

/// Where a remote set comes from.
#[derive(Debug, Clone)]
pub enum RemoteSource {
    Jwks(String),
    Discovery(String),
}

struct State {
    set: Arc<KeySet>,
    fetched_at: i64,
    last_attempt: i64,
    warnings: Vec<KeyWarning>,
    fetches: u64,
    /// A refresh is being fetched (by the lookup that claimed it) outside the lock.
    fetching: bool,
}

/// The claim of the one refresh in flight; released when dropped (also if the fetch panics).
struct FetchClaim<'a>(&'a RemoteKeys);

impl Drop for FetchClaim<'_> {
    fn drop(&mut self) {
        self.0.lock().fetching = false;
    }
}

/// A cached remote key set.
pub struct RemoteKeys {
    source: RemoteSource,
    ctx: OwnedKeyContext,
    fetcher: Arc<dyn Fetch>,
    ttl: i64,
    min_interval: i64,
    allow_http: bool,
    state: Mutex<State>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("source", &self.source)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Cache timing for a remote set.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub ttl: i64,
    pub min_refresh_interval: i64,
    pub dangerous_allow_http: bool,
}

impl RemoteKeys {
    /// Creates the cache and performs the first fetch at `now`; a failing first fetch is an error.
    pub fn load(
        source: RemoteSource,
        ctx: OwnedKeyContext,
        fetcher: Arc<dyn Fetch>,
        cache: CachePolicy,
        now: i64,
    ) -> Result<RemoteKeys, PolicyError> {
        let url = match &source {
            RemoteSource::Jwks(u) | RemoteSource::Discovery(u) => u.clone(),
        };
        check_url(&url, cache.dangerous_allow_http).map_err(|detail| PolicyError::Fetch {
            url: url.clone(),
            detail,
        })?;
        let r = RemoteKeys {
            source,
            ctx,
            fetcher,
            ttl: cache.ttl,
            min_interval: cache.min_refresh_interval,
            allow_http: cache.dangerous_allow_http,
            state: Mutex::new(State {
                set: Arc::default(),
                fetched_at: 0,
                last_attempt: 0,
                warnings: vec![],
                fetches: 0,
                fetching: false,
            }),
        };
        let (set, warnings) = r.fetch_set()?;
        {
            let mut st = r.lock();
            *st = State {
                set: Arc::new(set),
                fetched_at: now,
                last_attempt: now,
                warnings,
                fetches: 1,
                fetching: false,
            };
        }
        Ok(r)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fetch_set(&self) -> Result<(KeySet, Vec<KeyWarning>), PolicyError> {
        let jwks_url = match &self.source {
            RemoteSource::Jwks(u) => u.clone(),
            RemoteSource::Discovery(u) => {
                let fe = |detail: String| PolicyError::Fetch {
                    url: u.clone(),
                    detail,
                };
                let body = self.fetcher.get(u).map_err(fe)?;
                let doc =
                    parse_object(&body, "discovery document").map_err(|e| fe(e.to_string()))?;
                let iss = doc
                    .get("issuer")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fe("no issuer".into()))?;
                let agrees = iss == self.ctx.block_issuer
                    || match_issuer(&self.ctx.block_issuer, iss).is_some();
                if !agrees {
                    return Err(fe(format!(
                        "discovery issuer {iss:?} differs from the block's issuer"
                    )));
                }
                let j = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fe("no jwks_uri".into()))?;
                check_url(j, self.allow_http).map_err(fe)?;
                j.to_owned()
            }
        };
        let body = self
            .fetcher
            .get(&jwks_url)
            .map_err(|detail| PolicyError::Fetch {
                url: jwks_url.clone(),
                detail,
            })?;
        load_jwks(&body, &self.ctx.borrow())
    }

    /// Looks `kid` up at time `now`, refreshing when the cache is older than its TTL or the kid is
    /// unknown — either at most once per minimum refresh interval, and never while another
    /// refresh is in flight. The refresh is fetched without holding the cache lock: only the
    /// lookup that started it waits for it, every other lookup is answered from the cached set.
    /// A failed refresh keeps the previous keys.
    pub fn get(&self, kid: &str, now: i64) -> Option<Arc<LoadedKey>> {
        let claim = {
            let mut st = self.lock();
            let stale = now.saturating_sub(st.fetched_at) >= self.ttl;
            let unknown = !st.set.keys.contains_key(kid);
            let may_refresh = now.saturating_sub(st.last_attempt) >= self.min_interval;
            if !((stale || unknown) && may_refresh) || st.fetching {
                return st.set.keys.get(kid).cloned();
            }
            st.last_attempt = now;
            st.fetches += 1;
            st.fetching = true;
            FetchClaim(self)
        };
        let fetched = self.fetch_set();
        let key = {
            let mut st = self.lock();
            if let Ok((set, warnings)) = fetched {
                st.set = Arc::new(set);
                st.warnings = warnings;
                st.fetched_at = now;
            }
            st.set.keys.get(kid).cloned()
        };
        drop(claim);
        key
    }

    /// As [`RemoteKeys::get`] but never fetching: `Err(WouldRefresh)` when `get` would start a
    /// refresh (the set is past its TTL, or `kid` is unknown, and the minimum interval since the
    /// last attempt has passed, and no refresh is in flight). An async caller answers from here
    /// on its own thread and hands only those lookups to a thread that may wait on the network.
    pub fn get_cached(&self, kid: &str, now: i64) -> Result<Option<Arc<LoadedKey>>, WouldRefresh> {
        let st = self.lock();
        let stale = now.saturating_sub(st.fetched_at) >= self.ttl;
        let unknown = !st.set.keys.contains_key(kid);
        let may_refresh = now.saturating_sub(st.last_attempt) >= self.min_interval;
        if (stale || unknown) && may_refresh && !st.fetching {
            return Err(WouldRefresh);
        }
        Ok(st.set.keys.get(kid).cloned())
    }

    /// The current keys, without refreshing.
    pub fn current(&self) -> Arc<KeySet> {
        self.lock().set.clone()
    }

    /// Warnings from the latest successful load.
    pub fn warnings(&self) -> Vec<KeyWarning> {
        self.lock().warnings.clone()
    }

    /// How many fetches were attempted so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.lock().fetches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        assert!(check_url("https://login.example/keys", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/keys", false).is_ok());
        assert!(check_url("http://localhost/keys", false).is_ok());
        assert!(check_url("http://[::1]:99/keys", false).is_ok());
        assert!(check_url("http://login.example/keys", false).is_err());
        assert!(check_url("http://login.example/keys", true).is_ok());
        assert!(check_url("http://127.0.0.1@evil.example/", false).is_err());
        assert!(check_url("http://127.0.0.1.evil.example/", false).is_err());
        assert!(check_url("ftp://x/", true).is_err());
        assert!(check_url("file:///etc/passwd", true).is_err());
    }
}
