//! The writer: one thread that owns the store's write connection and the live detector, fed
//! by the parse stage ([`crate::runtime::parse`]: worker threads that decompress and read each queued
//! [`Submission`] into rows, in queue order). The writer takes the next parsed submission and
//! every one already parsed behind it, commits them as one group (one transaction, one WAL
//! fsync under `synchronous=FULL`, each batch under its own savepoint), runs live detection on
//! the committed rows batch by batch, regroups incidents when alerts changed (writing only the
//! rows that changed, see [`crate::runtime::alert_book`]), hands changed
//! alerts to the webhook sender, and only then answers each request.
//!
//! On start it restores the detector state saved in the store and replays the events committed
//! after it, so a restart (even after `kill -9`) resumes exactly where the store stopped. When
//! it stops it saves that state and checkpoints the WAL into the database file (`TRUNCATE`).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use keywarden_ingest::IngestConfig;
use keywarden_model::{Alert, Timestamp, error_chain};
use keywarden_store::{Batch, BatchReceipt, Store, StoreError};

use crate::clock::Clock;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::runtime::alert_book::AlertBook;
use crate::runtime::live::observe::Observed;
use crate::runtime::live::{LiveDetector, LiveState};
use crate::runtime::parse::{BodyPart, ParseStage, Parsed, ParsedQueue};
use crate::runtime::queue::{IngestAnswer, IngestFailure, MAX_LISTED_REJECTIONS, Submission};

/// The baseline key of the saved detector state.
pub const STATE_KEY: &str = "live-state";

/// How often an idle writer ticks the detector.
pub const TICK: Duration = Duration::from_secs(1);

/// Events replayed per store read on start.
const REPLAY_PAGE: usize = 10_000;

/// The most submissions committed in one group.
pub const MAX_GROUP: usize = 16;

/// A group stops growing once it holds this many events.
pub const MAX_GROUP_EVENTS: usize = 100_000;

/// Submissions between the queue and the writer, per parse thread (bounds parsed memory).
pub const PARSE_WINDOW_PER_THREAD: usize = 2;

/// The background checkpointer runs at most this often.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// What the writer needs.
pub struct Writer {
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
    /// Threads reading bodies ahead of the writer.
    pub parse_threads: usize,
    /// A second connection that checkpoints the WAL on its own thread after commits (at most
    /// every [`CHECKPOINT_EVERY`]); `None` leaves all checkpointing to the writer.
    pub checkpointer: Option<Store>,
    /// The stored alerts and incidents as last written (loaded by [`Writer::restore`] or on
    /// first use); `AlertBook::default()` to start.
    pub alert_book: AlertBook,
}

/// Whether alerts come from a restart's replay of stored events ([`AlertBook::write_replayed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    Yes,
    No,
}

/// Adds one alert version to a streamed body's changed alerts ([`crate::runtime::alert_book::fold_alert`]).
fn fold_into(changed: &mut std::collections::BTreeMap<String, Alert>, a: Alert) {
    match changed.entry(a.id.clone()) {
        std::collections::btree_map::Entry::Occupied(mut held) => {
            crate::runtime::alert_book::fold_alert(held.get_mut(), a);
        }
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(a);
        }
    }
}

impl Writer {
    /// Restores saved state and replays the events stored after it.
    pub fn restore(&mut self) -> Result<u64, ServerError> {
        if let Some(text) = self.store.baseline(STATE_KEY)? {
            let state =
                LiveState::from_json(&text).map_err(|e| ServerError::State(e.to_string()))?;
            self.detector.set_state(state);
        }
        self.alert_book.load(&self.store)?;
        let stored = self.alert_book.alerts(&self.store)?.to_vec();
        self.detector.adopt(stored);
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
                self.write_alerts(changed, Replay::Yes)?;
            }
        }
        self.save_state()?;
        Ok(replayed)
    }

    /// Starts the parse stage on `rx` and the writer thread behind it.
    pub fn start(
        mut self,
        rx: std::sync::mpsc::Receiver<Submission>,
    ) -> Result<std::thread::JoinHandle<()>, ServerError> {
        let mut committed = None;
        if let Some(store) = self.checkpointer.take() {
            let (tx, wake) = std::sync::mpsc::sync_channel(1);
            std::thread::Builder::new()
                .name("keywarden-checkpoint".into())
                .spawn(move || checkpoint_loop(&store, &wake))
                .map_err(|source| ServerError::Start {
                    what: "checkpoint thread",
                    source,
                })?;
            committed = Some(tx);
        }
        let threads = self.parse_threads.max(1);
        let parsed = self
            .parse_stage()
            .spawn(threads, threads * PARSE_WINDOW_PER_THREAD, rx)
            .map_err(|source| ServerError::Start {
                what: "parse threads",
                source,
            })?;
        std::thread::Builder::new()
            .name("keywarden-writer".into())
            .spawn(move || self.run(parsed, committed))
            .map_err(|source| ServerError::Start {
                what: "writer thread",
                source,
            })
    }

    /// What the parse workers need: the ingest settings and the live rules' collector parts.
    pub fn parse_stage(&self) -> ParseStage {
        ParseStage {
            settings: Arc::new(self.detector.settings().clone()),
            sigma: self.detector.sigma().map(|s| s.stage().clone()),
            ingest: self.ingest.clone(),
            max_decompressed_bytes: self.max_decompressed_bytes,
            metrics: self.metrics.clone(),
        }
    }

    /// Runs until the parse stage closes (the queue closed and everything queued was
    /// answered), then saves state. It takes the next parsed submission and every one already
    /// parsed behind it (up to [`MAX_GROUP`] submissions, [`MAX_GROUP_EVENTS`] events), commits
    /// them as one group, detects, and answers each. Between groups it ticks the detector every
    /// [`TICK`] (idle streams, expiring pending tokens). After each commit it nudges the
    /// checkpointer through `committed`, if any (its end stops the checkpointer).
    pub fn run(mut self, mut parsed: ParsedQueue, committed: Option<SyncSender<()>>) {
        let mut last_save = Instant::now();
        // A body in several pieces met while growing a group: it goes next, on its own.
        let mut carry: Option<Parsed> = None;
        loop {
            let next = match carry.take() {
                Some(p) => Ok(p),
                None => parsed.recv_timeout(TICK),
            };
            let first = match next {
                Ok(p) => p,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let changed = self.detector.tick(self.clock.now());
                    self.metrics.pending_tokens.store(
                        self.detector.pending() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    self.metrics.record_live(&self.detector);
                    if !changed.is_empty() && self.write_alerts(changed, Replay::No).is_err() {
                        Metrics::add(&self.metrics.errors, 1);
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let t0 = Instant::now();
            if first.rest.is_some() {
                self.commit_streamed(first);
            } else {
                let mut events = first.events();
                let mut group = vec![first];
                while group.len() < MAX_GROUP && events < MAX_GROUP_EVENTS {
                    let Some(p) = parsed.try_next() else {
                        break;
                    };
                    if p.rest.is_some() {
                        carry = Some(p);
                        break;
                    }
                    events += p.events();
                    group.push(p);
                }
                self.commit_group(group);
            }
            if let Some(tx) = &committed {
                // Full: a nudge is already pending.
                let _ = tx.try_send(());
            }
            Metrics::add(
                &self.metrics.commit_micros_total,
                t0.elapsed().as_micros() as u64,
            );
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
        // Stop the checkpointer, then move every acknowledged batch from the WAL into the
        // database file and empty the WAL: the file alone is then the whole store.
        drop(committed);
        match self.store.checkpoint_truncate() {
            Ok(c) if c.complete => {}
            outcome => {
                Metrics::add(&self.metrics.errors, 1);
                // The process is stopping: stderr is the only place left to say it.
                let why = outcome.map_or_else(
                    |e| error_chain(&e),
                    |_| "another connection was reading".into(),
                );
                eprintln!(
                    "keywarden serve: the WAL was not fully checkpointed at stop ({why}): keep {}-wal beside it when copying the store",
                    self.store.path().display()
                );
            }
        }
    }

    /// Commits a group of parsed submissions in one transaction, runs live detection on the
    /// committed batches in order, stores the alerts they changed, then answers each. A
    /// submission refused before the commit, or a batch the store refused, is answered with
    /// its own failure; the others are unaffected. If the transaction fails, every batch of it
    /// is answered with the failure (none is stored). If storing the alerts fails, the batches
    /// that raised or extended one are answered with that failure (as a single batch was).
    pub fn commit_group(&mut self, group: Vec<Parsed>) {
        let received_at = self.clock.now().0;
        let mut ready = Vec::with_capacity(group.len());
        for p in group {
            match p.body {
                Ok(body) => ready.push((
                    p.reply,
                    body.observed,
                    Batch {
                        source: p.source,
                        name: p.name,
                        request_key: p.request_key,
                        received_at,
                        events: body.rows,
                        rejections: body.rejections,
                        offset: p.offset,
                    },
                )),
                Err(failure) => {
                    Metrics::add(&self.metrics.errors, 1);
                    let _ = p.reply.send(Err(failure));
                }
            }
        }
        if ready.is_empty() {
            return;
        }
        let batches: Vec<&Batch> = ready.iter().map(|(_, _, b)| b).collect();
        let outcomes = match self.store.commit_group(&batches) {
            Ok(outcomes) => {
                Metrics::add(&self.metrics.commit_groups, 1);
                outcomes
            }
            Err(e) => {
                for (reply, _, _) in ready {
                    Metrics::add(&self.metrics.errors, 1);
                    let _ = reply.send(Err(IngestFailure::Store(error_chain(&e))));
                }
                return;
            }
        };
        // Live detection, batch by batch in commit order; the alerts they changed are stored
        // (and sent out) once for the group, and only then is each batch answered: when a
        // client hears 200, the alerts its records raised are in the store.
        let mut answers = Vec::with_capacity(ready.len());
        let mut changed: Vec<Alert> = Vec::new();
        for ((reply, observed, batch), outcome) in ready.into_iter().zip(outcomes) {
            match outcome {
                Ok(receipt) => {
                    let answer = self.answer(&receipt);
                    let raised = self.detect(batch, observed, &receipt);
                    answers.push((reply, Ok(answer), !raised.is_empty()));
                    changed.extend(raised);
                }
                Err(StoreError::IdempotencyKeyReused { key, batch_id }) => {
                    Metrics::add(&self.metrics.ingest_key_reused, 1);
                    answers.push((
                        reply,
                        Err(IngestFailure::KeyReused { key, batch_id }),
                        false,
                    ));
                }
                Err(e) => {
                    answers.push((reply, Err(IngestFailure::Store(error_chain(&e))), false));
                }
            }
        }
        let mut alert_failure = None;
        if !changed.is_empty() {
            // One version of each alert: the latest, or a Sigma detection's copies merged.
            let changed = crate::runtime::alert_book::fold_versions(changed);
            alert_failure = self
                .write_alerts(changed, Replay::No)
                .err()
                .map(|e| error_chain(&e));
        }
        for (reply, answer, raised) in answers {
            let answer = match (answer, &alert_failure) {
                // Its records are stored but its alerts are not: a retry with the same
                // idempotency key is answered `duplicate`.
                (Ok(_), Some(e)) if raised => Err(IngestFailure::Store(e.clone())),
                (answer, _) => answer,
            };
            // A reused key is the client's mistake (counted on its own), not a server error.
            if answer
                .as_ref()
                .is_err_and(|e| !matches!(e, IngestFailure::KeyReused { .. }))
            {
                Metrics::add(&self.metrics.errors, 1);
            }
            let _ = reply.send(answer);
        }
    }

    /// Commits a body that came in several pieces ([`Parsed::rest`]) in one transaction,
    /// piece by piece as the parse stage reads them (one piece in memory here, one in the
    /// channel), folding each piece into the live detector as it is written; the alerts they
    /// changed are stored after the commit, and only then is the body answered. A body that
    /// fails part-way (a failing store, a reader that stopped) is rolled back whole: nothing
    /// of it is stored, the answer says why, and the detector is rewound to the store
    /// ([`Writer::rewind`]). Bodies over the decompression cap or the whole-read limit are
    /// refused by the parse stage before their first piece.
    pub fn commit_streamed(&mut self, p: Parsed) {
        let Parsed {
            source,
            name,
            request_key,
            offset,
            reply,
            body,
            rest,
            ..
        } = p;
        let (first, rest) = match (body, rest) {
            (Ok(first), Some(rest)) => (first, rest),
            (Err(f), _) => {
                Metrics::add(&self.metrics.errors, 1);
                let _ = reply.send(Err(f));
                return;
            }
            (Ok(_), None) => {
                Metrics::add(&self.metrics.errors, 1);
                let _ = reply.send(Err(IngestFailure::Internal(
                    "a streamed body lost its pieces".into(),
                )));
                return;
            }
        };
        let mut listed = Vec::new();
        let mut list = |rows: &[keywarden_store::RejectionRow]| {
            let room = MAX_LISTED_REJECTIONS.saturating_sub(listed.len());
            listed.extend(
                rows.iter()
                    .take(room)
                    .map(|r| keywarden_store::RejectionRow {
                        raw: None,
                        ..r.clone()
                    }),
            );
        };
        list(&first.rejections);
        let head = Batch {
            source,
            name,
            request_key,
            received_at: self.clock.now().0,
            events: first.rows,
            rejections: first.rejections,
            offset,
        };
        let now = self.clock.now();
        // The latest version of each alert the pieces changed (bounded by the detector's
        // own alert limit).
        let mut changed: std::collections::BTreeMap<String, Alert> = Default::default();
        let mut detected = false;
        let committed = (|| {
            let mut batch = self.store.begin_streamed(&head).map_err(store_failure)?;
            if batch.receipt().duplicate {
                // The rest is not needed: dropping the channel stops the reader.
                return batch.commit().map_err(store_failure);
            }
            let first_id = batch.receipt().first_event;
            detected = true;
            for a in detect_piece(
                &mut self.detector,
                head.events,
                first_id,
                first.observed,
                now,
            ) {
                fold_into(&mut changed, a);
            }
            loop {
                match rest.recv() {
                    Ok(BodyPart::Rows(piece)) => {
                        list(&piece.rejections);
                        let (first_id, _) = batch
                            .append(&piece.rows, &piece.rejections)
                            .map_err(store_failure)?;
                        let raised = detect_piece(
                            &mut self.detector,
                            piece.rows,
                            first_id,
                            piece.observed,
                            now,
                        );
                        for a in raised {
                            fold_into(&mut changed, a);
                        }
                    }
                    Ok(BodyPart::End(Ok(()))) => break,
                    // Dropping the unfinished batch rolls every piece back.
                    Ok(BodyPart::End(Err(f))) => return Err(f),
                    Err(_) => {
                        return Err(IngestFailure::Internal(
                            "the reader stopped before the end of the body".into(),
                        ));
                    }
                }
            }
            batch.commit().map_err(store_failure)
        })();
        Metrics::add(&self.metrics.commit_groups, 1);
        self.metrics.pending_tokens.store(
            self.detector.pending() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.metrics.record_live(&self.detector);
        let mut receipt = match committed {
            Ok(r) => r,
            Err(f) => {
                if matches!(f, IngestFailure::KeyReused { .. }) {
                    Metrics::add(&self.metrics.ingest_key_reused, 1);
                } else {
                    Metrics::add(&self.metrics.errors, 1);
                }
                if detected && self.rewind().is_err() {
                    Metrics::add(&self.metrics.errors, 1);
                }
                let _ = reply.send(Err(f));
                return;
            }
        };
        if !receipt.duplicate {
            receipt.rejections = listed;
        }
        let answer = self.answer(&receipt);
        let answer = if changed.is_empty() {
            Ok(answer)
        } else {
            match self.write_alerts(changed.into_values().collect(), Replay::No) {
                Ok(()) => Ok(answer),
                // Its records are stored but its alerts are not (as for a group).
                Err(e) => Err(IngestFailure::Store(error_chain(&e))),
            }
        };
        if answer.is_err() {
            Metrics::add(&self.metrics.errors, 1);
        }
        let _ = reply.send(answer);
    }

    /// Brings the detector back to what the store holds after a body it had already seen
    /// part of was rolled back: the saved state (or a fresh one), then the committed events
    /// after it, as on restart.
    pub fn rewind(&mut self) -> Result<u64, ServerError> {
        self.detector.set_state(LiveState::default());
        self.alert_book = AlertBook::default();
        self.restore()
    }

    /// The answer to a committed batch (and its counts in the metrics).
    fn answer(&self, receipt: &BatchReceipt) -> IngestAnswer {
        Metrics::add(&self.metrics.commits, 1);
        Metrics::add(&self.metrics.ingest_requests, 1);
        if receipt.duplicate {
            Metrics::add(&self.metrics.ingest_duplicates, 1);
        } else {
            Metrics::add(&self.metrics.ingest_events, receipt.accepted);
            Metrics::add(&self.metrics.ingest_rejected, receipt.rejected);
        }
        let listed = receipt.rejections.len().min(MAX_LISTED_REJECTIONS);
        IngestAnswer {
            accepted: receipt.accepted,
            rejected: receipt.rejected,
            rejections: receipt
                .rejections
                .get(..listed)
                .unwrap_or_default()
                .to_vec(),
            duplicate: receipt.duplicate,
            batch_id: receipt.batch_id,
        }
    }

    /// Folds a committed batch into the live detector; returns the alerts it changed.
    fn detect(
        &mut self,
        batch: Batch,
        observed: Vec<Observed>,
        receipt: &BatchReceipt,
    ) -> Vec<Alert> {
        let Some(first) = receipt.first_event.filter(|_| !receipt.duplicate) else {
            return Vec::new();
        };
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
        self.metrics.record_live(&self.detector);
        changed
    }

    /// Stores changed alerts, regrouping incidents over every alert (the writer's
    /// [`AlertBook`]: only the rows that changed are written).
    fn write_alerts(&mut self, changed: Vec<Alert>, replay: Replay) -> Result<(), ServerError> {
        Metrics::add(&self.metrics.alerts_changed, changed.len() as u64);
        let now = self.clock.now().0;
        let (with_incidents, _) = match replay {
            Replay::No => self.alert_book.write(&mut self.store, &changed, now)?,
            Replay::Yes => self
                .alert_book
                .write_replayed(&mut self.store, &changed, now)?,
        };
        // Live verdicts revised by late evidence: into the audit trail (a withdrawn alert is
        // closed), after the changed alert itself is stored.
        // One transaction for all of them; a replay's repeats are not written twice.
        let revisions = self.detector.take_revisions();
        let records: Vec<keywarden_store::AlertRevision<'_>> = revisions
            .iter()
            .map(|r| keywarden_store::AlertRevision {
                alert_id: &r.alert_id,
                action: r.action.as_str(),
                close: r.action.closes(),
                note: &r.note,
            })
            .collect();
        self.store.record_revisions(&records, REVISION_ACTOR, now)?;
        if let Some(tx) = &self.alerts_out {
            for a in with_incidents {
                if tx.try_send(a).is_err() {
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

/// The checkpointer: after each nudge (at most every [`CHECKPOINT_EVERY`]), a passive
/// checkpoint from its own connection; ends when the writer does.
/// The audit trail's actor for revisions keywarden makes itself.
const REVISION_ACTOR: &str = "keywarden (live revision)";

fn checkpoint_loop(store: &Store, wake: &Receiver<()>) {
    loop {
        match wake.recv_timeout(TICK) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let t0 = Instant::now();
        // A failure (busy, I/O) leaves the work to the writer's own automatic checkpoint.
        let _ = store.checkpoint();
        std::thread::sleep(CHECKPOINT_EVERY.saturating_sub(t0.elapsed()));
    }
}

/// Folds one written piece (its events numbered from `first_id`) into the detector; returns
/// the alerts it changed.
fn detect_piece(
    detector: &mut LiveDetector,
    rows: Vec<keywarden_store::EventRow>,
    first_id: Option<i64>,
    observed: Vec<Observed>,
    now: Timestamp,
) -> Vec<Alert> {
    let Some(first) = first_id else {
        return Vec::new();
    };
    let numbered: Vec<(i64, keywarden_store::EventRow)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| (first + i as i64, r))
        .collect();
    detector.process_observed(&numbered, observed, now)
}

/// A store failure as the ingest answer gives it (a reused idempotency key is the client's).
fn store_failure(e: StoreError) -> IngestFailure {
    match e {
        StoreError::IdempotencyKeyReused { key, batch_id } => {
            IngestFailure::KeyReused { key, batch_id }
        }
        e => IngestFailure::Store(error_chain(&e)),
    }
}
