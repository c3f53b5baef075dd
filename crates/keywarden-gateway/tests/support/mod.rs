//! Test harness: a trust policy with generated keys (keywarden-token's test key builders), a
//! held corpus of forged tokens, an in-process gateway on a loopback port with a manual
//! clock, a minimal HTTP/1.1 client, and where nginx is.
#![allow(dead_code)]

#[path = "../../../keywarden-token/tests/common/mod.rs"]
pub mod token;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keywarden_gateway::{DecisionLog, Gateway, GatewayConfig, LogTarget};
use keywarden_model::Timestamp;
use keywarden_server::ManualClock;
use keywarden_token::TrustPolicy;
use token::{NOW, OTHER_TENANT, TENANT, TestKey, jwks};

pub const ISS: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
/// Microsoft's consumer (MSA) tenant and its issuer.
pub const MSA_ISS: &str =
    "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
/// The Storm-0558 consumer key id (on the built-in deny list).
pub const STORM_KID: &str = "1LTMzakihiRla_8z2BEJVXeWMqo";

/// Keys and a trust policy on disk.
pub struct Keys {
    pub rsa: TestKey,
    pub ec: TestKey,
    /// Enterprise key retired a day before NOW.
    pub old: TestKey,
    /// The consumer (MSA) issuer's key.
    pub msa: TestKey,
    pub dir: tempfile::TempDir,
    pub policy: PathBuf,
}

pub fn keys() -> Keys {
    let rsa = TestKey::rsa("rsa1");
    let ec = TestKey::p256("ec1");
    let old = TestKey::p256("old1");
    let msa = TestKey::rsa("msa1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("contoso.json"), jwks(&[&rsa, &ec, &old])).unwrap();
    std::fs::write(dir.path().join("msa.json"), jwks(&[&msa])).unwrap();
    let policy = dir.path().join("trust.toml");
    std::fs::write(
        &policy,
        format!(
            r#"leeway_seconds = 60
[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{{tenantid}}/v2.0"
tenants = ["{TENANT}"]
audiences = ["api://webmail", "api://admin"]
algorithms = ["RS256", "ES256"]
jwks_file = "contoso.json"

[[issuer.key]]
kid = "old1"
not_after = {retired}

[[issuer]]
id = "consumer"
issuer = "{MSA_ISS}"
tenants = ["{OTHER_TENANT}"]
audiences = ["api://webmail"]
algorithms = ["RS256"]
jwks_file = "msa.json"
"#,
            retired = NOW - 86_400
        ),
    )
    .unwrap();
    Keys {
        rsa,
        ec,
        old,
        msa,
        dir,
        policy,
    }
}

/// Enterprise claims with a token id; `extra` is spliced into the object.
pub fn claims(uti: &str, extra: &str) -> String {
    format!(
        r#"{{"iss":"{ISS}","tid":"{TENANT}","aud":"api://webmail","sub":"alice-sub","oid":"0f1e2d3c-0000-4000-8000-00000000a11c","upn":"alice@contoso.com","appid":"d3590ed6-52b3-4102-aeff-aad2292ab01c","scp":"Mail.Read","uti":"{uti}","exp":{},"nbf":{},"iat":{}{extra}}}"#,
        NOW + 3600,
        NOW - 60,
        NOW - 60
    )
}

impl Keys {
    /// A valid enterprise token.
    pub fn valid(&self, uti: &str) -> String {
        self.ec.token("ES256", &claims(uti, ""))
    }

    /// The held corpus of forged tokens, each with the reason code it must be refused with.
    pub fn forged(&self) -> Vec<(&'static str, String, &'static str)> {
        let with = |iss: &str, tid: &str| {
            claims("forged", "").replace(ISS, iss).replace(
                &format!("\"tid\":\"{TENANT}\""),
                &format!("\"tid\":\"{tid}\""),
            )
        };
        let sov = |host: &str| with(&format!("https://{host}/{TENANT}/v2.0"), TENANT);
        let rsa_pub = match &self.rsa.priv_ {
            token::Priv::Rsa(k) => {
                use aws_lc_rs::signature::KeyPair;
                k.public_key().as_ref().to_vec()
            }
            _ => unreachable!(),
        };
        let hs_with_rsa_pub = TestKey::hmac("rsa1", &rsa_pub).token("HS256", &claims("f", ""));
        let unsigned = {
            let t = self.ec.token("ES256", &claims("forged", ""));
            let mut parts: Vec<&str> = t.split('.').collect();
            let h = token::b64(br#"{"alg":"none","kid":"ec1","typ":"JWT"}"#);
            parts[0] = &h;
            format!("{}.{}.", parts[0], parts[1])
        };
        let tampered = {
            let t = self.ec.token("ES256", &claims("forged", ""));
            let p: Vec<&str> = t.split('.').collect();
            let evil = token::b64(claims("forged", "").replace("alice", "admin").as_bytes());
            format!("{}.{evil}.{}", p[0], p[2])
        };
        vec![
            (
                "consumer key signing an enterprise tenant's token (Storm-0558)",
                self.msa.token("RS256", &claims("forged", "")),
                "key-not-bound-to-issuer",
            ),
            (
                "consumer issuer and key, enterprise tid",
                self.msa.token("RS256", &with(MSA_ISS, TENANT)),
                "tenant-not-allowed",
            ),
            (
                "the Storm-0558 key id",
                TestKey::rsa(STORM_KID).token("RS256", &claims("forged", "")),
                "denied-key",
            ),
            (
                "enterprise key outside its window",
                self.old.token("ES256", &claims("forged", "")),
                "key-expired",
            ),
            (
                "alg confusion: HS256 keyed with the RSA public key",
                hs_with_rsa_pub,
                "alg-not-allowed",
            ),
            ("alg none", unsigned, "alg-none"),
            (
                "unknown kid",
                TestKey::p256("rotated-away").token("ES256", &claims("forged", "")),
                "unknown-kid",
            ),
            (
                "common endpoint as issuer",
                self.ec.token(
                    "ES256",
                    &with("https://login.microsoftonline.com/common/v2.0", TENANT),
                ),
                "tid-iss-mismatch",
            ),
            (
                "organizations endpoint as issuer",
                self.ec.token(
                    "ES256",
                    &with(
                        "https://login.microsoftonline.com/organizations/v2.0",
                        TENANT,
                    ),
                ),
                "tid-iss-mismatch",
            ),
            (
                "literal {tenantid} in the issuer",
                self.ec.token(
                    "ES256",
                    &with("https://login.microsoftonline.com/{tenantid}/v2.0", TENANT),
                ),
                "tid-iss-mismatch",
            ),
            (
                "US Government cloud issuer",
                self.ec.token("ES256", &sov("login.microsoftonline.us")),
                "untrusted-issuer",
            ),
            (
                "China cloud issuer",
                self.ec.token("ES256", &sov("login.chinacloudapi.cn")),
                "untrusted-issuer",
            ),
            (
                "v1 sts issuer",
                self.ec.token(
                    "ES256",
                    &with(&format!("https://sts.windows.net/{TENANT}/"), TENANT),
                ),
                "untrusted-issuer",
            ),
            ("tampered payload", tampered, "bad-signature"),
            (
                "expired",
                self.ec.token(
                    "ES256",
                    &claims("forged", "").replace(
                        &format!("\"exp\":{}", NOW + 3600),
                        &format!("\"exp\":{}", NOW - 3600),
                    ),
                ),
                "expired",
            ),
        ]
    }
}

/// A gateway running on its own runtime thread, stopped on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub gateway: Arc<Gateway>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn start(policy: &Path, config: &str, log: Option<LogTarget>) -> Running {
    start_with(policy, config, log, None)
}

pub fn start_with(
    policy: &Path,
    config: &str,
    log: Option<LogTarget>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Running {
    start_on("127.0.0.1:0", policy, config, log, tls)
}

/// A gateway listening on `listen` (`HOST:PORT` or `unix:PATH`, bound as `keywarden gateway
/// --listen` binds it); `addr` is the bound TCP address (unspecified for a Unix socket).
pub fn start_on(
    listen: &str,
    policy: &Path,
    config: &str,
    log: Option<LogTarget>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Running {
    let p = TrustPolicy::from_file(policy).unwrap();
    let cfg = GatewayConfig::from_toml(config).unwrap();
    let clock = Arc::new(ManualClock::at(Timestamp::from_unix_seconds(NOW)));
    let log = log.map(|t| DecisionLog::open(t).unwrap());
    let gateway = Arc::new(Gateway::new(&p, cfg, log, clock.clone()).unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let g = gateway.clone();
    let listen = listen.to_owned();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let keywarden_gateway::listen::Bind {
                listener,
                bound,
                socket_file,
            } = keywarden_gateway::listen::bind(&listen).await.unwrap();
            addr_tx
                .send(match bound {
                    keywarden_gateway::listen::Bound::Tcp(a) => a,
                    keywarden_gateway::listen::Bound::Unix(_) => {
                        SocketAddr::from(([0, 0, 0, 0], 0))
                    }
                })
                .unwrap();
            keywarden_gateway::serve(g, listener, tls, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
            drop(socket_file);
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Running {
        addr,
        clock,
        gateway,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// One HTTP/1.1 request over a fresh connection to a Unix socket (`Connection: close`).
pub fn http_unix(path: &Path, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    exchange(s, method, target, "gw", headers)
}

/// Debian's nginx (or one in the usual other places), if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub fn http(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    exchange(s, method, target, &addr.to_string(), headers)
}

/// Writes one `Connection: close` request on `s` and reads the whole answer.
fn exchange(
    mut s: impl Read + Write,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The decision log's lines (waits up to 2 s for `n` lines to be flushed).
pub fn log_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let t0 = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= n || t0.elapsed() > Duration::from_secs(2) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP/1.1 keep-alive connection for load (responses read by `Content-Length`).
pub struct KeepAlive {
    r: std::io::BufReader<TcpStream>,
    w: TcpStream,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        KeepAlive {
            r: std::io::BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// Sends one request and reads its response (status and headers; the body is skipped).
    pub fn request(&mut self, target: &str, headers: &[(&str, &str)]) -> Resp {
        use std::io::BufRead;
        let mut req = format!("GET {target} HTTP/1.1\r\nHost: gw\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.w.write_all(req.as_bytes()).unwrap();
        let mut status = 0;
        let mut hs = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if status == 0 {
                status = l.split_whitespace().nth(1).unwrap().parse().unwrap();
                continue;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
                hs.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0; len];
        self.r.read_exact(&mut body).unwrap();
        Resp {
            status,
            headers: hs,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}
