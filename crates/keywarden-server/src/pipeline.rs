//! The writer: one thread that owns the store's write connection and the live detector. For
//! each queued [`Submission`] it decompresses (capped), reads every record with the ingest
//! engine, commits events and rejections in one transaction (`synchronous=FULL`), runs live
//! detection on the committed rows, regroups incidents when alerts changed, hands changed
//! alerts to the webhook sender, and only then answers the request.
//!
//! On start it restores the detector state saved in the store and replays the events committed
//! after it, so a restart (even after `kill -9`) resumes exactly where the store stopped.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_detect::assign_incidents;
use keywarden_ingest::{IngestConfig, ingest_bytes};
use keywarden_model::{Alert, Timestamp};
use keywarden_store::{Batch, IncidentRow, Store};

use crate::clock::Clock;
use crate::convert::rejection_row;
use crate::error::ServerError;
use crate::live::{LiveDetector, LiveState};
use crate::metrics::Metrics;
use crate::source::{IngestAnswer, IngestFailure, MAX_LISTED_REJECTIONS, Submission};

/// The baseline key of the saved detector state.
pub const STATE_KEY: &str = "live-state";

/// How often an idle writer ticks the detector.
pub const TICK: Duration = Duration::from_secs(1);

/// Events replayed per store read on start.
const REPLAY_PAGE: usize = 10_000;

/// What the writer needs.
pub struct Pipeline {
    pub store: Store,
    pub detector: LiveDetector,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub ingest: IngestConfig,
    /// Bodies decompressing to more than this are refused.
    pub max_decompressed_bytes: usize,
    /// Detector state is saved at most this often (and on shutdown).
    pub state_interval: Duration,
    /// Events received longer ago than this are purged (checked every `state_interval`).
    pub retention: Option<Duration>,
    /// Changed alerts go here (webhooks); a full channel drops them (counted).
    pub alerts_out: Option<std::sync::mpsc::SyncSender<Alert>>,
}

impl Pipeline {
    /// Restores saved state and replays the events stored after it.
    pub fn restore(&mut self) -> Result<u64, ServerError> {
        if let Some(text) = self.store.baseline(STATE_KEY)? {
            let state: LiveState =
                serde_json::from_str(&text).map_err(|e| ServerError::State(e.to_string()))?;
            self.detector.set_state(state);
        }
        self.detector.adopt(self.store.all_alerts()?);
        let mut replayed = 0u64;
        loop {
            let after = self.detector.state().last_event;
            let rows = self.store.events_after(after, REPLAY_PAGE)?;
            if rows.is_empty() {
                break;
            }
            replayed += rows.len() as u64;
            let changed = self.detector.process(&rows, self.clock.now());
            if !changed.is_empty() {
                self.write_alerts(changed)?;
            }
        }
        self.save_state()?;
        Ok(replayed)
    }

    /// Runs until the queue closes (every sender dropped), then saves state. Between batches
    /// it ticks the detector every [`TICK`] (idle streams, expiring pending tokens).
    pub fn run(mut self, rx: std::sync::mpsc::Receiver<Submission>) {
        let mut last_save = Instant::now();
        loop {
            let sub = match rx.recv_timeout(TICK) {
                Ok(sub) => sub,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let changed = self.detector.tick(self.clock.now());
                    self.metrics.pending_tokens.store(
                        self.detector.pending() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    if !changed.is_empty() && self.write_alerts(changed).is_err() {
                        Metrics::add(&self.metrics.errors, 1);
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            self.metrics
                .queue_depth
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let t0 = Instant::now();
            let reply = sub.reply;
            let answer = self.handle(
                sub.source,
                sub.name,
                sub.body,
                sub.format,
                sub.request_key,
                sub.offset,
            );
            if answer.is_err() {
                Metrics::add(&self.metrics.errors, 1);
            }
            Metrics::add(
                &self.metrics.commit_micros_total,
                t0.elapsed().as_micros() as u64,
            );
            let _ = reply.send(answer);
            if last_save.elapsed() >= self.state_interval {
                last_save = Instant::now();
                if self.save_state().is_err() {
                    Metrics::add(&self.metrics.errors, 1);
                }
                if self.apply_retention().is_err() {
                    Metrics::add(&self.metrics.errors, 1);
                }
            }
        }
        if self.save_state().is_err() {
            Metrics::add(&self.metrics.errors, 1);
        }
    }

    fn handle(
        &mut self,
        source: String,
        name: String,
        body: Vec<u8>,
        format: Option<keywarden_ingest::Format>,
        request_key: Option<String>,
        offset: Option<(String, String, u64)>,
    ) -> Result<IngestAnswer, IngestFailure> {
        let body = decompress_capped(body, self.max_decompressed_bytes)?;
        let cfg = IngestConfig {
            format,
            ..self.ingest.clone()
        };
        // Rows for the store, plus what the live rules observe (Sigma matches) while the
        // events are in hand.
        let mut rows = self.detector.collector();
        let outcome = ingest_bytes(&name, body, &cfg, &mut rows);
        let observed = std::mem::take(&mut rows.observed);
        let batch = Batch {
            source,
            name,
            request_key,
            received_at: self.clock.now().0,
            events: rows.rows,
            rejections: outcome.rejections.iter().map(rejection_row).collect(),
            offset,
        };
        let receipt = self
            .store
            .commit_batch(&batch)
            .map_err(|e| IngestFailure::Store(e.to_string()))?;
        Metrics::add(&self.metrics.commits, 1);
        if receipt.duplicate {
            Metrics::add(&self.metrics.ingest_duplicates, 1);
        } else {
            Metrics::add(&self.metrics.ingest_events, receipt.accepted);
            Metrics::add(&self.metrics.ingest_rejected, receipt.rejected);
            if let Some(first) = receipt.first_event {
                let numbered: Vec<(i64, keywarden_store::EventRow)> = batch
                    .events
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| (first + i as i64, r))
                    .collect();
                let changed = self
                    .detector
                    .process_observed(&numbered, observed, self.clock.now());
                self.metrics.pending_tokens.store(
                    self.detector.pending() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if !changed.is_empty() {
                    self.write_alerts(changed)
                        .map_err(|e| IngestFailure::Store(e.to_string()))?;
                }
            }
        }
        Metrics::add(&self.metrics.ingest_requests, 1);
        let mut rejections = receipt.rejections;
        rejections.truncate(MAX_LISTED_REJECTIONS);
        Ok(IngestAnswer {
            accepted: receipt.accepted,
            rejected: receipt.rejected,
            rejections,
            duplicate: receipt.duplicate,
            batch_id: receipt.batch_id,
        })
    }

    /// Stores changed alerts, regrouping incidents over every stored alert.
    fn write_alerts(&mut self, changed: Vec<Alert>) -> Result<(), ServerError> {
        Metrics::add(&self.metrics.alerts_changed, changed.len() as u64);
        let mut all = self.store.all_alerts()?;
        let mut index: std::collections::HashMap<String, usize> = all
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        for a in &changed {
            match index.get(&a.id) {
                Some(&i) => {
                    if let Some(slot) = all.get_mut(i) {
                        *slot = a.clone();
                    }
                }
                None => {
                    index.insert(a.id.clone(), all.len());
                    all.push(a.clone());
                }
            }
        }
        let incidents = assign_incidents(&mut all);
        let rows: Vec<IncidentRow> = incidents
            .iter()
            .map(|i| IncidentRow {
                id: i.id.clone(),
                severity: i.severity,
                time_first: i.first,
                time_last: i.last,
                alerts: i.alerts.len() as u64,
            })
            .collect();
        self.store
            .write_detections(&all, &rows, self.clock.now().0)?;
        if let Some(tx) = &self.alerts_out {
            for a in changed {
                let with_incident = index
                    .get(&a.id)
                    .and_then(|&i| all.get(i))
                    .cloned()
                    .unwrap_or(a);
                if tx.try_send(with_incident).is_err() {
                    Metrics::add(&self.metrics.webhook_dead, 1);
                }
            }
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<(), ServerError> {
        let text = self
            .detector
            .save_json()
            .map_err(|e| ServerError::State(e.to_string()))?;
        self.store
            .put_baseline(STATE_KEY, &text, self.clock.now().0)?;
        Ok(())
    }

    fn apply_retention(&mut self) -> Result<(), ServerError> {
        if let Some(keep) = self.retention {
            let cutoff = Timestamp(
                self.clock
                    .now()
                    .0
                    .saturating_sub(keep.as_micros().min(i64::MAX as u128) as i64),
            );
            self.store.purge_before(cutoff.0)?;
        }
        Ok(())
    }
}

/// Gzip/zstd bodies are decompressed here with a cap (a small body must not become gigabytes);
/// plain bodies pass through. A corrupt stream is handed on as it is, so that the ingest
/// engine rejects it with its decompression reason.
pub fn decompress_capped(body: Vec<u8>, cap: usize) -> Result<Vec<u8>, IngestFailure> {
    const GZIP: &[u8] = &[0x1f, 0x8b];
    const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
    let gzip = body.starts_with(GZIP);
    if !gzip && !body.starts_with(ZSTD) {
        if body.len() > cap {
            return Err(IngestFailure::TooLarge { limit: cap });
        }
        return Ok(body);
    }
    let mut out = Vec::new();
    let read = if gzip {
        flate2::read::MultiGzDecoder::new(&body[..])
            .take(cap as u64 + 1)
            .read_to_end(&mut out)
    } else {
        zstd::stream::read::Decoder::new(&body[..])
            .and_then(|d| d.take(cap as u64 + 1).read_to_end(&mut out))
    };
    match read {
        Ok(_) if out.len() > cap => Err(IngestFailure::TooLarge { limit: cap }),
        Ok(_) => Ok(out),
        Err(_) if out.len() > cap => Err(IngestFailure::TooLarge { limit: cap }),
        Err(_) => Ok(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_bombs_are_refused_and_plain_bodies_pass() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 4 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            decompress_capped(bomb.clone(), 1 << 20),
            Err(IngestFailure::TooLarge { .. })
        ));
        assert_eq!(decompress_capped(bomb, 8 << 20).unwrap().len(), 4 << 20);
        assert_eq!(decompress_capped(b"{}".to_vec(), 10).unwrap(), b"{}");
        // A corrupt stream is passed on for the engine to reject.
        let corrupt = vec![0x1f, 0x8b, 0, 0, 0];
        assert_eq!(decompress_capped(corrupt.clone(), 10).unwrap(), corrupt);
    }
}
