//! [`LiveDetector`]: `serve`'s adapter to the detection pack's incremental driver
//! ([`keywarden_detect::incremental::Engine`], which holds every rule, its state and its
//! caps). This module only turns stored rows into the driver's records ([`record_of`]),
//! observes events while they are read ([`observe`]), runs the Sigma rules of `--rules`
//! ([`sigma`]: detections matched while the batch is read, correlations incrementally), and
//! saves and restores the state as one JSON row of the store's baselines table ([`LiveState`]:
//! the driver's state with the Sigma correlation windows and the replay counters beside it, the
//! format `serve` has always written).

use std::sync::Arc;

use keywarden_detect::Settings;
use keywarden_detect::incremental::{self, Engine, Record};
use keywarden_model::{Alert, Timestamp};
use keywarden_sigma::SigmaStage;
use keywarden_store::EventRow;
use serde::{Deserialize, Serialize};

pub use keywarden_detect::incremental::{LiveLimits, Revision, RevisionAction};

pub mod observe;
pub mod sigma;

use observe::{LiveCollector, Observed, Observer};
use sigma::{CorrelationLimits, LiveSigma};

/// The saved state: the driver's, with `serve`'s own beside it (flattened into one JSON
/// object, so rows saved before the driver moved into `keywarden-detect` load unchanged).
/// Read it with [`LiveState::from_json`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveState {
    /// The incremental driver's state (rules, baseline, pending tokens, alerts).
    #[serde(flatten)]
    pub engine: incremental::LiveState,
    /// Sigma correlation windows (rsigma's snapshot), written when the state is saved.
    correlation: Option<serde_json::Value>,
    /// Replayed rows whose raw record could no longer be read (strong rules only).
    pub unreadable_replay: u64,
    /// Saved correlation windows that could not be restored (they restarted empty).
    pub correlation_lost: u64,
}

impl LiveState {
    /// Reads a saved state: the driver's part parsed straight from the text, then `serve`'s
    /// three fields in a second pass that skips everything else. (A derived `Deserialize`
    /// with `#[serde(flatten)]` buffers the whole object in serde's intermediate form first:
    /// about half as much memory again at restart, +73 MB for a 58 MB state of 1 M tokens.)
    pub fn from_json(text: &str) -> Result<LiveState, serde_json::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ServeFields {
            correlation: Option<serde_json::Value>,
            unreadable_replay: u64,
            correlation_lost: u64,
        }
        let engine: incremental::LiveState = serde_json::from_str(text)?;
        let own: ServeFields = serde_json::from_str(text)?;
        Ok(LiveState {
            engine,
            correlation: own.correlation,
            unreadable_replay: own.unreadable_replay,
            correlation_lost: own.correlation_lost,
        })
    }
}

/// The state as it is written (borrowing the driver's state instead of copying it).
#[derive(Serialize)]
struct SavedState<'a> {
    #[serde(flatten)]
    engine: &'a incremental::LiveState,
    correlation: Option<serde_json::Value>,
    unreadable_replay: u64,
    correlation_lost: u64,
}

/// The live detector: the incremental driver, the Sigma rules, the replay counters.
pub struct LiveDetector {
    engine: Engine,
    sigma: Option<LiveSigma>,
    /// Saved correlation windows not yet handed to the Sigma rules.
    correlation: Option<serde_json::Value>,
    unreadable_replay: u64,
    correlation_lost: u64,
}

impl LiveDetector {
    pub fn new(settings: Settings, limits: LiveLimits, state: LiveState) -> LiveDetector {
        let mut d = LiveDetector {
            engine: Engine::new(
                Arc::new(settings),
                limits,
                incremental::LiveState::default(),
            ),
            sigma: None,
            correlation: None,
            unreadable_replay: 0,
            correlation_lost: 0,
        };
        d.set_state(state);
        d
    }

    /// Adds Sigma rules (detections matched per event, correlations incrementally).
    pub fn with_sigma(mut self, stage: SigmaStage) -> LiveDetector {
        let limits = self.engine.limits();
        let limits = CorrelationLimits {
            max_groups: limits.max_correlation_groups,
            max_group_entries: limits.max_correlation_entries,
        };
        self.sigma = Some(LiveSigma::new(stage, limits));
        self.import_correlation();
        self
    }

    /// Replaces the state (restored from the store), keeping settings, limits and rules.
    pub fn set_state(&mut self, state: LiveState) {
        self.engine.set_state(state.engine);
        self.correlation = state.correlation;
        self.unreadable_replay = state.unreadable_replay;
        self.correlation_lost = state.correlation_lost;
        self.import_correlation();
    }

    fn import_correlation(&mut self) {
        if let Some(sigma) = self.sigma.as_mut()
            && let Some(saved) = self.correlation.take()
            && !sigma.import(saved)
        {
            self.correlation_lost += 1;
        }
    }

    /// The driver's state.
    pub fn state(&self) -> &incremental::LiveState {
        self.engine.state()
    }

    /// Replayed rows whose raw record could no longer be read.
    pub fn unreadable_replay(&self) -> u64 {
        self.unreadable_replay
    }

    /// Saved correlation windows that could not be restored.
    pub fn correlation_lost(&self) -> u64 {
        self.correlation_lost
    }

    /// The state as JSON for the store, with the current correlation windows.
    pub fn save_json(&mut self) -> Result<String, serde_json::Error> {
        let correlation = self.sigma.as_ref().and_then(LiveSigma::export);
        serde_json::to_string(&SavedState {
            engine: self.engine.state(),
            correlation,
            unreadable_replay: self.unreadable_replay,
            correlation_lost: self.correlation_lost,
        })
    }

    /// The Sigma rules, if any.
    pub fn sigma(&self) -> Option<&LiveSigma> {
        self.sigma.as_ref()
    }

    /// An observer for events read outside an ingest run.
    pub fn observer(&self) -> Observer {
        let stage = self.sigma.as_ref().map(|s| s.stage().clone());
        Observer::new(self.engine.shared_settings().clone(), stage)
    }

    /// The ingest processor for one batch: store rows plus what the live rules observe.
    pub fn collector(&self) -> LiveCollector {
        LiveCollector::new(self.observer())
    }

    pub fn settings(&self) -> &Settings {
        self.engine.settings()
    }

    pub fn limits(&self) -> LiveLimits {
        self.engine.limits()
    }

    /// Pending tokens (waiting for coverage).
    pub fn pending(&self) -> usize {
        self.engine.pending()
    }

    /// The verdicts revised since the last call (late sign-ins), for the audit trail.
    pub fn take_revisions(&mut self) -> Vec<Revision> {
        self.engine.take_revisions()
    }

    /// Folds a batch of stored events in (ids ascending) and returns the alerts raised or
    /// extended by it. The rows are re-read for the lead and Sigma rules (restart replay); the
    /// ingest path hands its observations to [`LiveDetector::process_observed`] instead.
    pub fn process(&mut self, rows: &[(i64, EventRow)], now: Timestamp) -> Vec<Alert> {
        let mut observer = self.observer();
        let last = self.engine.state().last_event;
        let mut observed = Vec::with_capacity(rows.len());
        for (id, row) in rows {
            if *id <= last {
                observed.push(Observed::default());
                continue;
            }
            observed.push(observer.observe_row(row).unwrap_or_else(|| {
                self.unreadable_replay += 1;
                Observed::default()
            }));
        }
        self.process_observed(rows, observed, now)
    }

    /// Folds a batch in with what was observed of each row while it was read (`observed[i]`
    /// belongs to `rows[i]`; missing observations count as none): the driver's alerts, then
    /// the Sigma rules' detections and correlations.
    pub fn process_observed(
        &mut self,
        rows: &[(i64, EventRow)],
        observed: Vec<Observed>,
        now: Timestamp,
    ) -> Vec<Alert> {
        let last = self.engine.state().last_event;
        let mut sigma_alerts = Vec::new();
        let mut contributions = Vec::new();
        let mut rules = Vec::with_capacity(rows.len());
        let mut observed = observed.into_iter();
        for (id, _) in rows {
            let obs = observed.next().unwrap_or_default();
            if *id > last {
                sigma_alerts.extend(obs.sigma);
                contributions.extend(obs.contribution);
            }
            rules.push(obs.rules);
        }
        let records: Vec<(i64, Record<'_>)> =
            rows.iter().map(|(id, row)| (*id, record_of(row))).collect();
        let mut out = self.engine.process(&records, rules, now);
        if let Some(sigma) = self.sigma.as_mut() {
            sigma_alerts.extend(sigma.correlate(contributions, now.unix_seconds()));
        }
        out.extend(sigma_alerts);
        out
    }

    /// Judges pending tokens without new events (called periodically: streams go idle, pending
    /// tokens expire).
    pub fn tick(&mut self, now: Timestamp) -> Vec<Alert> {
        self.process(&[], now)
    }

    /// Makes stored alerts extendable again after a restart.
    pub fn adopt(&mut self, alerts: Vec<Alert>) {
        self.engine.adopt(alerts);
    }
}

/// The driver's record of a stored row (borrowed).
pub fn record_of(row: &EventRow) -> Record<'_> {
    Record {
        format: &row.format,
        role: &row.role,
        record_ref: &row.record_ref,
        time: row.time,
        tenant: row.tenant.as_deref(),
        user: row.user.as_deref(),
        client_ip: row.client_ip.as_deref(),
        app_id: row.app_id.as_deref(),
        client_app_id: row.client_app_id.as_deref(),
        session_id: row.session_id.as_deref(),
        token_id: row.token_id.as_deref(),
        token_tenant: row.token_tenant.as_deref(),
        mailbox: row.mailbox.as_deref(),
        logon_type: row.logon_type,
        signing_key_id: row.signing_key_id.as_deref(),
        category: row.category.as_deref(),
        token_issued_at: row.token_issued_at,
    }
}

#[cfg(test)]
mod tests;
