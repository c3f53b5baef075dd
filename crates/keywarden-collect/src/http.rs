//! The HTTP transport: one request in, status + headers + a streaming body out. Injected as a
//! trait so embedders can substitute it; the production one is ureq over rustls (aws-lc-rs,
//! webpki roots), keep-alive, no redirects (a redirect could carry the bearer token elsewhere).

use std::io::Read;
use std::time::Duration;

/// A request. Header values may hold a bearer token: never log a `Request`.
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn Read + Send>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub fn read_body(self, limit: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.body
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() as u64 > limit {
            return Err(format!("response body larger than {limit} bytes"));
        }
        Ok(out)
    }
}

/// Sends requests.
pub trait Transport: Send + Sync {
    fn send(&self, req: &Request) -> Result<Response, String>;
}

/// ureq over rustls with the aws-lc-rs provider.
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    pub fn new(timeout: Duration, max_idle: usize) -> UreqTransport {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .max_idle_connections(max_idle.max(1))
            .max_idle_connections_per_host(max_idle.max(1))
            .tls_config(keywarden_token::fetch::tls_config())
            .build()
            .new_agent();
        UreqTransport { agent }
    }
}

impl Transport for UreqTransport {
    fn send(&self, req: &Request) -> Result<Response, String> {
        let result = match (req.method, &req.body) {
            ("GET", _) => {
                let mut b = self.agent.get(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(*k, v);
                }
                b.call()
            }
            (_, body) => {
                let mut b = self.agent.post(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(*k, v);
                }
                b.send(body.as_deref().unwrap_or(&[]))
            }
        };
        let resp = result.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Box::new(resp.into_body().into_reader());
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}
