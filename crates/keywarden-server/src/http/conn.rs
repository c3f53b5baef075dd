//! Connections: the accept loop of `keywarden serve` and `keywarden gateway` (plain and TLS;
//! HTTP/1.1, and HTTP/2 when [`ConnLimits::http2`] is set: cleartext prior knowledge, or ALPN
//! `h2` over TLS), and what keeps a hostile or broken client from holding a file descriptor: a
//! TLS handshake timeout, a header-read timeout (on HTTP/1.1, from the moment a request is
//! awaited until its head is complete, so also between keep-alive requests: hyper's timer, one
//! per request, or with [`ConnLimits::heads_by_watchdog`] the connection's watchdog, one per
//! connection; and a first request that has not begun `header_read_timeout` after the
//! connection is ready closes it, whatever the protocol), a keep-alive idle limit, a request-body stall timeout and
//! minimum rate ([`TimedBody`]), on HTTP/2 a deadline for each request in progress (a stream
//! not answered in full within [`ConnLimits::http2_request_timeout`] of its head closes the
//! connection: a request in progress otherwise exempts it from every other deadline), and a
//! cap on open connections with fair shedding: when the
//! cap is reached (or `accept` fails for want of descriptors), the connection idle for longest
//! (no request in progress: handshaking, sending headers or between requests) is closed to
//! make room; only when every connection is busy serving a request is the new one refused.
//! Good clients send their request at once, so a flood of idle sockets sheds itself, and
//! `/healthz` and ingest keep being served.
//!
//! Every connection is its own task; a request in progress marks it busy until its response
//! body has been sent. Shutdown stops accepting, lets requests in progress finish (each bounded
//! by the request timeout) and closes idle connections at once.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use crate::http::throttle::Peer;
use crate::metrics::Metrics;

/// How long and how many connections may be held (`[server]` keys, see `docs/SERVE.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections at most (lowered at start to what the descriptor limit leaves).
    pub max_connections: usize,
    /// From the moment a request is awaited until its head is complete.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress for this long is closed.
    pub keep_alive_idle: Duration,
    /// A TLS handshake not finished in this time is dropped.
    pub tls_handshake_timeout: Duration,
    /// A request body that sends nothing for this long is abandoned (connection closed).
    pub body_read_timeout: Duration,
    /// After the first `body_read_timeout`, a body must average at least this rate.
    pub min_body_bytes_per_second: u64,
    /// Also speak HTTP/2 (cleartext prior knowledge, or ALPN `h2` over TLS); `serve` speaks
    /// HTTP/1.1 only, the gateway both (Envoy's gRPC `ext_authz` client uses HTTP/2).
    pub http2: bool,
    /// HTTP/2: a request (stream) not answered in full this long after its head arrived closes
    /// the connection (a stream held open by a shut flow-control window or a dripped body
    /// would otherwise keep the connection busy, never idle, for good).
    pub http2_request_timeout: Duration,
    /// HTTP/1.1: the header-read timeout between requests is kept by the connection's
    /// watchdog (one timer per connection) instead of hyper's timer (made, armed and dropped
    /// for every request). The watchdog counts from when the last answer's body was handed
    /// over, hyper from when it had been written: right for small answers (the gateway's),
    /// not for large ones to slow readers (`serve` keeps hyper's).
    pub heads_by_watchdog: bool,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_idle: Duration::from_secs(30),
            tls_handshake_timeout: crate::http::tls::HANDSHAKE_TIMEOUT,
            body_read_timeout: Duration::from_secs(10),
            min_body_bytes_per_second: 1024,
            http2: false,
            http2_request_timeout: Duration::from_secs(30),
            heads_by_watchdog: false,
        }
    }
}

/// Descriptors kept free for the store, the watched files and the webhook client when the cap
/// is derived from the process's descriptor limit.
pub const RESERVED_FDS: u64 = 64;
/// The cap never drops below this, whatever the descriptor limit.
pub const MIN_CONNECTIONS: usize = 16;

impl ConnLimits {
    /// `max_connections` lowered so that the open connections plus [`RESERVED_FDS`] fit in
    /// `nofile` (the soft descriptor limit), when known.
    pub fn fitted_to(self, nofile: Option<u64>) -> ConnLimits {
        let Some(n) = nofile else { return self };
        let room = usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        ConnLimits {
            max_connections: self.max_connections.min(room.max(MIN_CONNECTIONS)),
            ..self
        }
    }
}

/// The soft limit on open files of this process (Linux `/proc/self/limits`), if readable.
pub fn soft_fd_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_fd_limit(&text)
}

fn parse_fd_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What the registry knows of one connection's requests.
#[derive(Debug, Clone)]
struct SlotState {
    /// The requests in progress: (request number, when it began), oldest first.
    started: Vec<(u64, Instant)>,
    /// When the last one ended (or the connection was accepted).
    since: Instant,
    /// Requests begun so far.
    requests: u64,
    /// The connection speaks HTTP/2 (seen on its first request): its requests have a deadline.
    http2: bool,
}

/// One open connection, as the registry sees it.
#[derive(Debug)]
struct Slot {
    state: Mutex<SlotState>,
    /// Told to close (shed to make room).
    shed: Notify,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: Mutex::new(SlotState {
                started: Vec::new(),
                since: Instant::now(),
                requests: 0,
                http2: false,
            }),
            shed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Since when the connection has had no request in progress (`None`: busy).
    fn idle_since(&self) -> Option<Instant> {
        let s = self.lock();
        s.started.is_empty().then_some(s.since)
    }
}

/// Marks its connection busy while alive (a request being served, until its body is sent).
struct Busy {
    slot: Arc<Slot>,
    /// The request's number on its connection.
    n: u64,
}

impl Busy {
    fn new(slot: &Arc<Slot>, http2: bool) -> Busy {
        let mut s = slot.lock();
        s.requests += 1;
        let n = s.requests;
        s.started.push((n, Instant::now()));
        s.http2 |= http2;
        drop(s);
        Busy {
            slot: slot.clone(),
            n,
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.slot.lock();
        if let Some(i) = s.started.iter().position(|(n, _)| *n == self.n) {
            s.started.remove(i);
        }
        s.since = Instant::now();
    }
}

/// The open connections, for the cap and shedding.
#[derive(Debug, Default)]
struct Registry {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the connection idle for longest to close and forgets it; false if none is idle.
    fn shed_oldest_idle(map: &mut HashMap<u64, Arc<Slot>>) -> bool {
        let oldest = map
            .iter()
            .filter_map(|(id, s)| s.idle_since().map(|t| (t, *id)))
            .min();
        match oldest.and_then(|(_, id)| map.remove(&id)) {
            Some(slot) => {
                slot.shed.notify_one();
                true
            }
            None => false,
        }
    }

    /// Admits a new connection under `max`, shedding the longest-idle one if full. `None`:
    /// every connection is busy, refuse the new one.
    fn admit(&self, max: usize, metrics: &Metrics) -> Option<(u64, Arc<Slot>)> {
        let mut map = self.lock();
        while map.len() >= max.max(1) {
            if !Self::shed_oldest_idle(&mut map) {
                Metrics::add(&metrics.connections_refused, 1);
                return None;
            }
            Metrics::add(&metrics.connections_shed, 1);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new());
        map.insert(id, slot.clone());
        metrics
            .connections_open
            .store(map.len() as u64, Ordering::Relaxed);
        Some((id, slot))
    }

    fn remove(&self, id: u64, metrics: &Metrics) {
        let mut map = self.lock();
        map.remove(&id);
        metrics
            .connections_open
            .store(map.len() as u64, Ordering::Relaxed);
    }
}

/// Where connections come from: a TCP listener, or a Unix-domain socket (a proxy on the same
/// host: no TCP stack between them). A Unix socket's peer has no address; it is taken to be
/// [`UNIX_PEER`], the IPv4 loopback, so it counts as the local proxy it is (a trusted proxy by
/// default, whose `X-Forwarded-For` names the client).
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// The peer address given to connections accepted on a Unix-domain socket.
pub const UNIX_PEER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Listener {
        Listener::Tcp(l)
    }
}

impl From<UnixListener> for Listener {
    fn from(l: UnixListener) -> Listener {
        Listener::Unix(l)
    }
}

/// An accepted connection.
enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<(Accepted, SocketAddr)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok((Accepted::Tcp(s), peer))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Accepted::Unix(s), UNIX_PEER))
            }
        }
    }
}

/// What answers a connection's requests, told each request's peer address: an axum [`Router`]
/// (the peer reaches its handlers as the `ConnectInfo<Peer>` extension), or a handler of
/// its own that takes the peer as an argument (the gateway: no router, no extension map).
pub trait Handler: Clone + Send + Sync + 'static {
    type Future: Future<Output = axum::response::Response> + Send + 'static;
    fn handle(&self, peer: SocketAddr, req: axum::extract::Request) -> Self::Future;
}

impl Handler for Router {
    type Future = Pin<Box<dyn Future<Output = axum::response::Response> + Send>>;

    fn handle(&self, peer: SocketAddr, mut req: axum::extract::Request) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(Peer(peer)));
        let mut router = self.clone();
        Box::pin(async move {
            match router.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        })
    }
}

/// Everything a connection task needs.
struct Shared<H> {
    router: H,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    registry: Registry,
}

/// Serves `router` on `listener` (TLS when `tls` is set) until `shutdown` resolves, then waits
/// for the requests in progress.
pub async fn serve<H: Handler>(
    listener: impl Into<Listener>,
    router: H,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.into();
    let shared = Arc::new(Shared {
        router,
        tls: tls.map(TlsAcceptor::from),
        limits,
        metrics,
        registry: Registry::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender: when all are gone, `recv` yields `None`.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (accepted, peer) = match accepted {
            Ok(c) => c,
            Err(_) => {
                // Out of descriptors (or a reset before accept): make room, then back off.
                let shed = Registry::shed_oldest_idle(&mut shared.registry.lock());
                if shed {
                    Metrics::add(&shared.metrics.connections_shed, 1);
                }
                tokio::time::sleep(Duration::from_millis(if shed { 1 } else { 50 })).await;
                continue;
            }
        };
        let Some((id, slot)) = shared
            .registry
            .admit(shared.limits.max_connections, &shared.metrics)
        else {
            drop(accepted);
            continue;
        };
        let (shared, stop, alive) = (shared.clone(), stop_rx.clone(), alive_tx.clone());
        tokio::spawn(async move {
            match accepted {
                Accepted::Tcp(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    connection(&shared, tcp, peer, &slot, stop).await;
                }
                Accepted::Unix(unix) => connection(&shared, unix, peer, &slot, stop).await,
            }
            shared.registry.remove(id, &shared.metrics);
            drop(alive);
        });
    }
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// Why a connection ended early.
enum Ended {
    Shed,
    TimedOut,
    Stopped,
}

/// When a connection must end. With no request in progress: `idle` after its last request
/// ended (or it was accepted), and, before its first request has begun, `first` after it was
/// ready (`ready`: the TLS handshake done); on HTTP/1.1 with
/// [`ConnLimits::heads_by_watchdog`] also `first` after its last request ended, the
/// header-read timeout (the next request's head, awaited from then, must be complete by that
/// time: a partial or dripping head is no request in progress; without it hyper's timer keeps
/// that). With requests
/// in progress: on HTTP/2, `request` after the oldest of them began (a stream not answered in
/// full by then, e.g. a client that keeps its flow-control window shut and drips frames,
/// closes the connection); on HTTP/1.1, `None` ([`TimedBody`] bounds the request there).
fn deadline(s: &SlotState, ready: Instant, limits: &ConnLimits) -> Option<Instant> {
    let (idle, first) = (limits.keep_alive_idle, limits.header_read_timeout);
    if let Some((_, oldest)) = s.started.first() {
        return s.http2.then(|| *oldest + limits.http2_request_timeout);
    }
    // HTTP/1.1 between requests: the next head is awaited, so the header timeout applies
    // (here when the watchdog keeps it, else hyper's timer does).
    let between_heads = limits.heads_by_watchdog && !s.http2 && s.requests > 0;
    let deadline = s.since + if between_heads { idle.min(first) } else { idle };
    Some(if s.requests == 0 {
        deadline.min(ready + first)
    } else {
        deadline
    })
}

/// Resolves when the connection must end: shed, idle past the keep-alive limit, no first
/// request within `first` of being ready, an HTTP/2 request not answered within `request`, or
/// shutdown.
async fn watchdog(slot: &Slot, limits: &ConnLimits, stop: &mut watch::Receiver<bool>) -> Ended {
    let (idle, first) = (limits.keep_alive_idle, limits.header_read_timeout);
    let request = limits.http2_request_timeout;
    // A request may begin or end at any moment: look again at least every `request` and
    // `idle` (on a connection that may speak HTTP/2: a request's deadline, or the idle limit
    // from its end) and, when the watchdog keeps the header timeout, every `first` (the end
    // of an HTTP/1.1 request starts it for the next head), so each deadline is kept to the tick.
    let horizon = if limits.http2 {
        request.min(idle)
    } else {
        idle
    };
    let horizon = if limits.heads_by_watchdog {
        horizon.min(first)
    } else {
        horizon
    };
    let ready = Instant::now();
    let mut check = ready + idle.min(first).min(horizon);
    loop {
        tokio::select! {
            () = slot.shed.notified() => return Ended::Shed,
            _ = stop.changed() => return Ended::Stopped,
            () = tokio::time::sleep_until(check) => {
                let now = Instant::now();
                let due = deadline(&slot.lock(), ready, limits);
                match due {
                    Some(deadline) if now >= deadline => return Ended::TimedOut,
                    Some(deadline) => check = deadline.min(now + horizon),
                    None => check = now + horizon,
                }
            }
        }
    }
}

async fn connection<H: Handler, I>(
    shared: &Arc<Shared<H>>,
    io: I,
    peer: SocketAddr,
    slot: &Arc<Slot>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(acceptor) = shared.tls.clone() else {
        http(shared, io, peer, slot, stop).await;
        return;
    };
    let shake = tokio::time::timeout(shared.limits.tls_handshake_timeout, acceptor.accept(io));
    let tls: tokio_rustls::server::TlsStream<I> = tokio::select! {
        r = shake => match r {
            Ok(Ok(tls)) => tls,
            Ok(Err(_)) => return,
            Err(_) => {
                Metrics::add(&shared.metrics.connections_timed_out, 1);
                return;
            }
        },
        () = slot.shed.notified() => return,
        _ = stop.changed() => return,
    };
    let version = match tls.get_ref().1.alpn_protocol() {
        Some(b"h2") if shared.limits.http2 => Version::H2,
        Some(b"h2") | Some(b"http/1.1") => Version::H1,
        _ => Version::Sniff,
    };
    serve_http(shared, tls, peer, slot, stop, version).await;
}

/// Which HTTP a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    H1,
    H2,
    /// HTTP/2 if it opens with the HTTP/2 preface (and [`ConnLimits::http2`] is set), else 1.1.
    Sniff,
}

/// Serves one plain connection (HTTP/1.1, or HTTP/2 by prior knowledge when allowed).
async fn http<H: Handler, I>(
    shared: &Arc<Shared<H>>,
    io: I,
    peer: SocketAddr,
    slot: &Arc<Slot>,
    stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_http(shared, io, peer, slot, stop, Version::Sniff).await;
}

/// Serves HTTP on one connection until it ends, times out, is shed or the server stops.
async fn serve_http<H: Handler, I>(
    shared: &Arc<Shared<H>>,
    io: I,
    peer: SocketAddr,
    slot: &Arc<Slot>,
    mut stop: watch::Receiver<bool>,
    version: Version,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = shared.limits;
    let (router, metrics, busy_slot) =
        (shared.router.clone(), shared.metrics.clone(), slot.clone());
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::new(&busy_slot, req.version() == hyper::Version::HTTP_2);
        let req = req.map(|b| Body::new(TimedBody::new(b, limits, metrics.clone())));
        let answer = router.handle(peer, req);
        async move {
            let resp = answer.await;
            // The connection stays busy until the response body has been sent (or dropped).
            Ok::<_, std::convert::Infallible>(resp.map(|b| {
                Body::new(HoldsBusy {
                    body: b,
                    _busy: busy,
                })
            }))
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Either the watchdog keeps the header-read timeout (`deadline`) or hyper's timer,
        // made, armed and dropped for every request, does.
        .header_read_timeout((!limits.heads_by_watchdog).then_some(limits.header_read_timeout))
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = match version {
        Version::H2 => builder.http2_only(),
        Version::Sniff if limits.http2 => builder,
        Version::H1 | Version::Sniff => builder.http1_only(),
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => {
            let timed_out = r.is_err_and(|e| {
                e.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_timeout)
            });
            if timed_out {
                Metrics::add(&shared.metrics.connections_timed_out, 1);
            }
            return;
        }
        e = watchdog(slot, &limits, &mut stop) => e,
    };
    match ended {
        Ended::Shed => {}
        Ended::TimedOut => Metrics::add(&shared.metrics.connections_timed_out, 1),
        Ended::Stopped => {
            // Idle connections close now; a request in progress is answered first.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A response body that keeps its connection busy until it has been sent or dropped, and is
/// otherwise the body itself: its size and end reach hyper, which then sends a
/// `Content-Length` (a body that hid its size was sent chunked when no router had set the
/// header: `regression_responses_without_a_router_were_sent_chunked`).
struct HoldsBusy {
    body: Body,
    /// Held for its `Drop`.
    _busy: Busy,
}

impl HttpBody for HoldsBusy {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails (and so ends its connection) when the client stalls for
/// `body_read_timeout`, or, after that long, sends slower than `min_body_bytes_per_second`
/// on average. The error is a [`BodyReadTimeout`]; the declared size is passed through.
pub struct TimedBody {
    inner: Incoming,
    /// Fires `body_read_timeout` after the last frame (or the start); made on the first poll
    /// that waits, so that a body never read (a GET's) costs no timer.
    stall: Option<Pin<Box<Sleep>>>,
    /// When the last frame came (or the body was made).
    last: Instant,
    started: Instant,
    bytes: u64,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
}

/// A request body that stalled or trickled (see [`TimedBody`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyReadTimeout {
    #[error("request body stalled: nothing received for {0:?}")]
    Stalled(Duration),
    #[error("request body too slow: {bytes} bytes in {elapsed:?}, under {min} bytes/s")]
    TooSlow {
        bytes: u64,
        elapsed: Duration,
        min: u64,
    },
}

/// Whether `err` (or an error it wraps) is a [`BodyReadTimeout`]: handlers reading a body
/// answer 408 for it rather than blaming the body's size or content.
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<BodyReadTimeout>().is_some() {
            return true;
        }
        cur = e.source();
    }
    false
}

impl TimedBody {
    fn new(inner: Incoming, limits: ConnLimits, metrics: Arc<Metrics>) -> TimedBody {
        let now = Instant::now();
        TimedBody {
            inner,
            stall: None,
            last: now,
            started: now,
            bytes: 0,
            limits,
            metrics,
        }
    }

    fn fail(&self, e: BodyReadTimeout) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        Metrics::add(&self.metrics.body_timeouts, 1);
        Poll::Ready(Some(Err(Box::new(e))))
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let now = Instant::now();
                if let Some(d) = frame.data_ref() {
                    this.bytes = this.bytes.saturating_add(d.len() as u64);
                }
                let elapsed = now.duration_since(this.started);
                let min = this.limits.min_body_bytes_per_second;
                if elapsed > this.limits.body_read_timeout
                    && (this.bytes as f64) < min as f64 * elapsed.as_secs_f64()
                {
                    return this.fail(BodyReadTimeout::TooSlow {
                        bytes: this.bytes,
                        elapsed,
                        min,
                    });
                }
                this.last = now;
                if let Some(stall) = this.stall.as_mut() {
                    stall.as_mut().reset(now + this.limits.body_read_timeout);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.last + this.limits.body_read_timeout;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if stall.as_mut().poll(cx).is_ready() {
                    return this.fail(BodyReadTimeout::Stalled(this.limits.body_read_timeout));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_timeouts_are_recognised_through_wrappers() {
        let inner: axum::BoxError = Box::new(BodyReadTimeout::Stalled(Duration::from_secs(1)));
        let wrapped = axum::Error::new(inner);
        assert!(is_body_timeout(&wrapped));
        let other = axum::Error::new(std::io::Error::other("reset"));
        assert!(!is_body_timeout(&other));
    }

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            128                  4096                 files     \n";
        assert_eq!(parse_fd_limit(text), Some(128));
        assert_eq!(
            parse_fd_limit("Max open files  unlimited unlimited files"),
            None
        );
        let l = ConnLimits::default();
        assert_eq!(l.fitted_to(Some(128)).max_connections, 64);
        assert_eq!(l.fitted_to(Some(20)).max_connections, MIN_CONNECTIONS);
        assert_eq!(l.fitted_to(Some(1_000_000)).max_connections, 1024);
        assert_eq!(l.fitted_to(None), l);
    }

    #[test]
    fn a_connection_without_a_first_request_ends_at_the_header_timeout() {
        let t = Instant::now();
        let (idle, first, request) = (
            Duration::from_secs(30),
            Duration::from_secs(10),
            Duration::from_secs(20),
        );
        let lim = ConnLimits {
            keep_alive_idle: idle,
            header_read_timeout: first,
            http2_request_timeout: request,
            heads_by_watchdog: true,
            ..ConnLimits::default()
        };
        let fresh = SlotState {
            started: Vec::new(),
            since: t,
            requests: 0,
            http2: false,
        };
        // Ready (handshake done) 2 s after accept: 10 s from then, before the idle limit.
        let ready = t + Duration::from_secs(2);
        assert_eq!(deadline(&fresh, ready, &lim), Some(ready + first));
        // After a request on HTTP/1.1: the next head is awaited from its end and must be
        // complete within the header timeout (before the keep-alive idle limit).
        let served = SlotState {
            requests: 1,
            since: t + Duration::from_secs(5),
            ..fresh.clone()
        };
        assert_eq!(
            deadline(&served, ready, &lim),
            Some(t + Duration::from_secs(15))
        );
        // With hyper keeping the header timeout (`serve`): the keep-alive idle limit here.
        let hyper_heads = ConnLimits {
            heads_by_watchdog: false,
            ..lim
        };
        assert_eq!(
            deadline(&served, ready, &hyper_heads),
            Some(t + Duration::from_secs(35))
        );
        // On HTTP/2 (no head awaited between requests): the keep-alive idle limit.
        let served_h2 = SlotState {
            http2: true,
            ..served.clone()
        };
        assert_eq!(
            deadline(&served_h2, ready, &lim),
            Some(t + Duration::from_secs(35))
        );
        // An HTTP/1.1 request in progress never times out here.
        let busy = SlotState {
            started: vec![(2, t + Duration::from_secs(6))],
            ..served.clone()
        };
        assert_eq!(deadline(&busy, ready, &lim), None);
    }

    /// Found in review: the watchdog looked again only every keep-alive idle limit (30 s), so
    /// an HTTP/1.1 request still in progress at one look, ending just after it, left the next
    /// head up to 30 s instead of the header timeout (hyper's per-request timer had kept it).
    #[tokio::test]
    async fn regression_a_request_ending_between_two_looks_kept_its_connection_for_the_idle_limit()
    {
        let limits = ConnLimits {
            header_read_timeout: Duration::from_millis(200),
            keep_alive_idle: Duration::from_secs(30),
            http2: false,
            heads_by_watchdog: true,
            ..ConnLimits::default()
        };
        let slot = Arc::new(Slot::new());
        // The first request begins at once and is still in progress at the first look.
        let busy = Busy::new(&slot, false);
        let (_stop_tx, mut stop) = watch::channel(false);
        let w = slot.clone();
        let dog = tokio::spawn(async move { watchdog(&w, &limits, &mut stop).await });
        tokio::time::sleep(Duration::from_millis(350)).await;
        let ended = Instant::now();
        drop(busy);
        let r = tokio::time::timeout(Duration::from_secs(3), dog).await;
        assert!(
            matches!(r, Ok(Ok(Ended::TimedOut))),
            "no head after the request: closed at the header timeout"
        );
        let after = ended.elapsed();
        assert!(after < Duration::from_millis(1500), "{after:?}");
    }

    #[test]
    fn regression_http2_requests_in_progress_have_a_deadline() {
        // Before: any request in progress exempted its connection from every deadline, so an
        // HTTP/2 stream held open (shut flow-control window, dripped frames) kept it for good.
        let t = Instant::now();
        let (idle, first, request) = (
            Duration::from_secs(30),
            Duration::from_secs(10),
            Duration::from_secs(20),
        );
        let lim = ConnLimits {
            keep_alive_idle: idle,
            header_read_timeout: first,
            http2_request_timeout: request,
            ..ConnLimits::default()
        };
        let busy = SlotState {
            started: vec![
                (3, t + Duration::from_secs(4)),
                (5, t + Duration::from_secs(9)),
            ],
            since: t,
            requests: 5,
            http2: true,
        };
        // The oldest request in progress sets the deadline.
        assert_eq!(deadline(&busy, t, &lim), Some(t + Duration::from_secs(24)));
        // Its end moves the deadline to the next one's.
        let slot = Arc::new(Slot::new());
        let a = Busy::new(&slot, true);
        let b = Busy::new(&slot, true);
        let b_start = slot.lock().started[1].1;
        drop(a);
        assert_eq!(deadline(&slot.lock(), t, &lim), Some(b_start + request));
        drop(b);
        assert!(slot.lock().started.is_empty());
        assert!(slot.idle_since().is_some());
    }

    #[tokio::test]
    async fn a_full_registry_sheds_the_longest_idle_and_refuses_when_all_are_busy() {
        let m = Metrics::default();
        let r = Registry::default();
        let (a, sa) = r.admit(2, &m).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (_b, sb) = r.admit(2, &m).unwrap();
        let busy_b = Busy::new(&sb, false);
        // Full: the idle one (a) is shed, not the busy one.
        let (_c, sc) = r.admit(2, &m).unwrap();
        assert!(!r.lock().contains_key(&a));
        assert!(
            tokio::time::timeout(Duration::from_millis(1), sa.shed.notified())
                .await
                .is_ok(),
            "a was told to close"
        );
        let _busy_c = Busy::new(&sc, false);
        assert!(r.admit(2, &m).is_none(), "all busy: refused");
        drop(busy_b);
        assert!(r.admit(2, &m).is_some(), "b idle again: shed for room");
        assert_eq!(m.connections_shed.load(Ordering::Relaxed), 2);
        assert_eq!(m.connections_refused.load(Ordering::Relaxed), 1);
    }
}
