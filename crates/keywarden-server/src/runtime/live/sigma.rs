//! [`LiveSigma`]: the Sigma rules of `serve --rules`, live.
//!
//! Detection rules are matched on each event while the ingest engine reads it (the pipeline's
//! [`LiveCollector`](super::observe::LiveCollector)); their alerts, named `sigma:<rule>:<record>`
//! exactly as `hunt` names them, are stored once the batch has committed. Correlation rules run
//! incrementally through a [`StreamingCorrelator`]: each batch's contributions are fed in event
//! time order, window state is capped (groups and entries per group, oldest first) and expired
//! by event time, and it is saved with the detector state. An event with an id of its own fed
//! again (same id, same second, same content), in the same batch or a later one, is not
//! counted again ([`LiveSigma::repeats`]). Events of a later batch that are older than a
//! window already closed do not reopen it (`hunt`, which sorts the whole input first, may then
//! find a correlation that `serve` does not).

use std::sync::Arc;

use keywarden_model::Alert;
use keywarden_sigma::{Contribution, SigmaStage, StreamingCorrelator};
use serde_json::Value as Json;

/// Caps of the correlation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationLimits {
    /// Groups (correlation × group-by key) held.
    pub max_groups: usize,
    /// Entries held per group window.
    pub max_group_entries: usize,
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits {
            max_groups: 100_000,
            max_group_entries: 10_000,
        }
    }
}

/// The loaded rules and the running correlation state.
pub struct LiveSigma {
    stage: Arc<SigmaStage>,
    correlator: Option<StreamingCorrelator>,
    /// Latest event time (seconds) fed to the correlator.
    latest: i64,
    /// Repeats of one event within a batch, dropped before feeding.
    batch_repeats: u64,
}

impl std::fmt::Debug for LiveSigma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSigma")
            .field("stage", &self.stage)
            .field("correlator", &self.correlator)
            .finish()
    }
}

impl LiveSigma {
    pub fn new(stage: SigmaStage, limits: CorrelationLimits) -> LiveSigma {
        let correlator = stage
            .plan()
            .streaming(limits.max_groups, limits.max_group_entries);
        LiveSigma {
            stage: Arc::new(stage),
            correlator,
            latest: i64::MIN,
            batch_repeats: 0,
        }
    }

    /// The compiled rules (shared with the ingest-side observer).
    pub fn stage(&self) -> &Arc<SigmaStage> {
        &self.stage
    }

    /// Whether correlation rules are evaluated.
    pub fn correlates(&self) -> bool {
        self.correlator.is_some()
    }

    /// Correlation groups held.
    pub fn groups(&self) -> usize {
        self.correlator
            .as_ref()
            .map_or(0, StreamingCorrelator::groups)
    }

    /// Events fed again (same id, second and content) and not counted again, in one batch or
    /// across batches (since this process started).
    pub fn repeats(&self) -> u64 {
        self.batch_repeats
            + self
                .correlator
                .as_ref()
                .map_or(0, StreamingCorrelator::repeats)
    }

    /// Fed events the correlator forgot at its bound while a window could still count them
    /// (since this process started).
    pub fn forgotten(&self) -> u64 {
        self.correlator
            .as_ref()
            .map_or(0, StreamingCorrelator::forgotten)
    }

    /// Feeds one batch's contributions (sorted here by time, then record, one event's repeats
    /// dropped: [`keywarden_sigma::correlate::in_feed_order`]; an event fed in an earlier
    /// batch is dropped by the correlator) and returns the
    /// correlation alerts they fire. Windows expire by the latest event time, but never past
    /// `now` (clock, Unix seconds) plus a day: one record dated in the future cannot flush
    /// every window.
    pub fn correlate(&mut self, mut batch: Vec<Contribution>, now: i64) -> Vec<Alert> {
        let Some(c) = self.correlator.as_mut() else {
            return Vec::new();
        };
        if batch.is_empty() {
            return Vec::new();
        }
        self.batch_repeats += keywarden_sigma::correlate::in_feed_order(&mut batch);
        let mut alerts = Vec::new();
        for contribution in batch {
            self.latest = self.latest.max(contribution.time);
            alerts.extend(c.feed(contribution));
        }
        c.evict_expired(self.latest.min(now.saturating_add(86_400)));
        alerts
    }

    /// The correlation state to save (`None` without correlations).
    pub fn export(&self) -> Option<Json> {
        self.correlator.as_ref().map(StreamingCorrelator::export)
    }

    /// Restores saved correlation state; `false` when it could not be read (the windows then
    /// start empty).
    pub fn import(&mut self, state: Json) -> bool {
        match self.correlator.as_mut() {
            Some(c) => c.import(state),
            None => true,
        }
    }
}
