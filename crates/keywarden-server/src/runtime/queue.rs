//! The bounded ingest queue: every source puts log bodies in through one interface, an
//! [`Ingestor`] handle. The HTTP endpoint uses [`Ingestor::try_submit`] (a full queue is
//! answered 429, never buffered); a [`crate::runtime::source::Source`] running on its own (the file
//! tail, the collector, later Kafka) uses [`Ingestor::submit`], which waits for room:
//! back-pressure instead of memory. A [`Submission`] is answered with an [`IngestAnswer`] or
//! an [`IngestFailure`] once the writer ([`crate::runtime::writer`]) has committed it.

use std::sync::Arc;
use std::time::Instant;

use keywarden_ingest::Format;
use keywarden_store::{RejectionRow, RequestKey};
use serde::Serialize;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// One body to ingest, with where to send the answer.
pub struct Submission {
    /// Which source delivered it (`http`, `watch`...).
    pub source: String,
    /// The input name used in rejections (`http:<request>`, a file path).
    pub name: String,
    pub body: Vec<u8>,
    /// Forced shape (`?format=`); `None` sniffs.
    pub format: Option<Format>,
    /// Client idempotency key (with its credential and body digest, see [`request_key`]): a
    /// retried request with the same key and body is stored once; the same key with another
    /// body is refused.
    pub request_key: Option<RequestKey>,
    /// For file tails: (path, file id, offset after this body), committed with the batch.
    pub offset: Option<(String, String, u64)>,
    pub arrived: Instant,
    pub reply: oneshot::Sender<Result<IngestAnswer, IngestFailure>>,
}

/// The answer to an acknowledged ingest: everything in it is durably committed.
#[derive(Debug, Clone, Serialize)]
pub struct IngestAnswer {
    pub accepted: u64,
    pub rejected: u64,
    /// Rejections (at most [`MAX_LISTED_REJECTIONS`]; all are counted and stored).
    pub rejections: Vec<RejectionRow>,
    /// True when the request's idempotency key had already been committed.
    pub duplicate: bool,
    pub batch_id: i64,
}

/// An `Idempotency-Key` as the store keeps it: scoped to `credential` (the sender's non-secret
/// id: `key:` + 12 hex digits of an API key's digest, or `jwt:<sub>`) and bound to the
/// lower-case hex SHA-256 of `body`, the request body exactly as received (before any
/// `Content-Encoding` is undone: a retry must resend the same bytes).
pub fn request_key(credential: &str, key: &str, body: &[u8]) -> RequestKey {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let body_sha256 = digest.as_ref().iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    });
    RequestKey {
        credential: credential.to_string(),
        key: key.to_string(),
        body_sha256,
    }
}

/// At most this many rejections are listed in one answer.
pub const MAX_LISTED_REJECTIONS: usize = 1_000;

/// Why an ingest was not acknowledged.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IngestFailure {
    #[error(
        "body decompresses to more than {limit} bytes (max_decompressed_bytes; the output of every gzip/zstd layer counts)"
    )]
    TooLarge { limit: usize },
    /// Still gzip/zstd after this many layers were unwrapped (415).
    #[error(
        "body is still compressed after {layers} layers of gzip/zstd were unwrapped; at most {layers} are"
    )]
    TooDeep { layers: usize },
    /// A document that can only be read whole (JSON array, Graph page, CSV, EVTX, UTF-16
    /// text) decompresses past the whole-read limit (413).
    #[error(
        "body is a document read whole (JSON array, Graph page, CSV, EVTX or UTF-16 text) larger than {limit} bytes; send it as JSON lines (streamed) or in smaller bodies"
    )]
    WholeTooLarge { limit: u64 },
    #[error("the store failed: {0}")]
    Store(String),
    /// The credential already used this `Idempotency-Key` for another body (422).
    #[error(
        "Idempotency-Key {key:?} was already used by this credential for a different body (stored as batch {batch_id}); nothing was stored: send new data under a new key"
    )]
    KeyReused { key: String, batch_id: i64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Reading the body failed unexpectedly (the body is answered, the server keeps going).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a submission was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// The queue is full: retry later (429).
    QueueFull,
    /// The pipeline has stopped (503).
    Closed,
}

/// A handle on the bounded ingest queue.
#[derive(Clone)]
pub struct Ingestor {
    pub(crate) tx: mpsc::SyncSender<Submission>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Ingestor {
    /// Queues without waiting; a full queue sheds.
    pub fn try_submit(&self, s: Submission) -> Result<(), Shed> {
        match self.tx.try_send(s) {
            Ok(()) => {
                Metrics::add(&self.metrics.queue_depth, 1);
                Ok(())
            }
            Err(mpsc::TrySendError::Full(_)) => Err(Shed::QueueFull),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(Shed::Closed),
        }
    }

    /// Queues, waiting for room (call from a source's own thread, not from async code).
    pub fn submit(&self, s: Submission) -> Result<(), Shed> {
        self.tx.send(s).map_err(|_| Shed::Closed)?;
        Metrics::add(&self.metrics.queue_depth, 1);
        Ok(())
    }
}
