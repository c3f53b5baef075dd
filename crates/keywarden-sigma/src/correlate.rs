//! Correlation rules (Sigma v2: event_count, value_count, temporal, temporal_ordered and the
//! value_* aggregations) over matches gathered by all ingest workers.
//!
//! Correlations need events in time order, but workers see the input in parallel chunks. So a
//! worker keeps, for each event that matched a rule some correlation references, only a
//! [`Contribution`]: the event's time, its record reference, the few fields the correlations
//! read (group-by, value and alias fields) and the detection results. After ingest the
//! contributions are sorted by time and replayed through rsigma's `CorrelationEngine`. Memory is
//! proportional to the matches of referenced rules, not to the input.

use std::collections::{HashMap, HashSet};

use keywarden_model::Alert;
use rsigma_eval::{
    CorrelationConfig, CorrelationEngine, CorrelationEventMode, EvaluationResult, Event as _,
    JsonEvent, TimestampFallback,
};
use rsigma_parser::CorrelationCondition;
use serde_json::{Map, Value as Json};

use crate::alert::correlation_alert;
use crate::event::SigmaEvent;
use crate::load::{LoadedCorrelation, LoadedRule};

/// Contributing events kept per correlation window (their record ids go into the alert).
const MAX_REFS_PER_WINDOW: usize = 1_000;

/// What the correlations of a rule set need from the detection pass.
#[derive(Debug, Default)]
pub struct CorrelationPlan {
    /// Keys (`id`, else title) of detection rules some correlation references.
    referenced: HashSet<String>,
    /// Keys of referenced rules whose own matches must not become alerts (`generate: false`).
    suppressed: HashSet<String>,
    /// Field names the correlations read.
    fields: Vec<String>,
    rules: Vec<LoadedRule>,
    correlations: Vec<LoadedCorrelation>,
}

/// One event's share in the correlations.
#[derive(Debug, Clone)]
pub struct Contribution {
    pub time: i64,
    pub record: String,
    /// `record` is the event's own id (not its position in a file, which several records on
    /// one line share): only then do two contributions with it and one time name one event.
    pub identified: bool,
    /// The whole record's hash ([`keywarden_model::Event::content_hash`]): an id some shapes
    /// share between records (Graph's `correlationId` fallback) names one event only with it.
    pub content: u64,
    pub fields: Json,
    pub detections: Vec<EvaluationResult>,
}

/// Sorts contributions by time, then record, and drops repeats of one event: a record with an
/// id of its own (same id, same second, same content) that two inputs held, as overlapping
/// exports or one EVTX file in two folders do, counts once (regression: it fired an
/// `event_count gte: 2` on one event). Records without an id are never dropped (several on one
/// line share their `path:line`), nor records that share an id but not their content. Both
/// `hunt` ([`CorrelationPlan::run`]) and `serve` (per batch; across batches the
/// [`StreamingCorrelator`] remembers what it fed) feed through it. Returns how many were
/// dropped.
pub fn in_feed_order(contributions: &mut Vec<Contribution>) -> u64 {
    contributions
        .sort_by(|a, b| (a.time, &a.record, a.content).cmp(&(b.time, &b.record, b.content)));
    let before = contributions.len();
    contributions.dedup_by(|a, b| {
        a.identified
            && b.identified
            && a.time == b.time
            && a.record == b.record
            && a.content == b.content
    });
    (before - contributions.len()) as u64
}

impl CorrelationPlan {
    pub fn new(rules: &[LoadedRule], correlations: &[LoadedCorrelation]) -> CorrelationPlan {
        let mut plan = CorrelationPlan {
            correlations: correlations.to_vec(),
            ..CorrelationPlan::default()
        };
        let mut fields: Vec<String> = Vec::new();
        let mut refs_generate: HashMap<&str, bool> = HashMap::new();
        for c in correlations {
            for r in &c.rule.rules {
                let g = refs_generate.entry(r.as_str()).or_insert(false);
                *g |= c.rule.generate;
            }
            fields.extend(c.rule.group_by.iter().cloned());
            if let CorrelationCondition::Threshold { field: Some(f), .. } = &c.rule.condition {
                fields.extend(f.iter().cloned());
            }
            for alias in &c.rule.aliases {
                fields.extend(alias.mapping.values().cloned());
            }
        }
        fields.sort();
        fields.dedup();
        plan.fields = fields;
        for r in rules {
            let refs: Vec<bool> = [r.rule.id.as_deref(), r.rule.name.as_deref()]
                .into_iter()
                .flatten()
                .filter_map(|k| refs_generate.get(k).copied())
                .collect();
            if refs.is_empty() {
                continue;
            }
            let key = rule_key(r.rule.id.as_deref(), &r.rule.title);
            if !refs.iter().any(|g| *g) {
                plan.suppressed.insert(key.clone());
            }
            plan.referenced.insert(key);
            plan.rules.push(r.clone());
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.correlations.is_empty()
    }

    pub fn is_referenced(&self, key: &str) -> bool {
        self.referenced.contains(key)
    }

    /// Whether a detection rule's own matches are kept from the alerts.
    pub fn is_suppressed(&self, key: &str) -> bool {
        self.suppressed.contains(key)
    }

    /// The fields a contribution keeps, read through the event's Sigma view.
    pub fn capture(&self, event: &SigmaEvent<'_, '_>) -> Json {
        let mut m = Map::new();
        for f in &self.fields {
            if let Some(v) = event.get_field(f) {
                m.insert(f.clone(), v.to_json());
            }
        }
        Json::Object(m)
    }

    /// Replays contributions through the correlation engine in feed order ([`in_feed_order`]).
    /// Returns the alerts and how many contributions were repeats of one event.
    pub fn run(&self, mut contributions: Vec<Contribution>) -> (Vec<Alert>, u64) {
        if self.correlations.is_empty() || contributions.is_empty() {
            return (Vec::new(), 0);
        }
        let repeats = in_feed_order(&mut contributions);
        let mut engine = self.engine(CorrelationConfig::default().max_state_entries, None);
        let mut alerts = Vec::new();
        for c in contributions {
            alerts.extend(feed(&mut engine, c));
        }
        (alerts, repeats)
    }

    /// A correlation engine holding this plan's rules, with state capped at `max_state_entries`
    /// (groups) and `max_group_entries` (entries per group window; `None`: unbounded).
    fn engine(
        &self,
        max_state_entries: usize,
        max_group_entries: Option<usize>,
    ) -> CorrelationEngine {
        let config = CorrelationConfig {
            timestamp_fallback: TimestampFallback::Skip,
            correlation_event_mode: CorrelationEventMode::Refs,
            max_correlation_events: MAX_REFS_PER_WINDOW,
            max_state_entries,
            max_group_entries,
            ..CorrelationConfig::default()
        };
        let mut engine = CorrelationEngine::new(config);
        for r in &self.rules {
            // Compiled successfully at load time; a failure here only loses this rule.
            let _ = engine.add_rule(&r.rule);
        }
        for c in &self.correlations {
            let _ = engine.add_correlation(&c.rule);
        }
        engine
    }

    /// A streaming correlator (for `serve`): `None` when the rule set has no correlation.
    pub fn streaming(
        &self,
        max_state_entries: usize,
        max_group_entries: usize,
    ) -> Option<StreamingCorrelator> {
        if self.correlations.is_empty() {
            return None;
        }
        let horizon = self
            .correlations
            .iter()
            .map(|c| window_reach(&c.rule))
            .max()
            .unwrap_or(0);
        Some(StreamingCorrelator {
            engine: self.engine(max_state_entries.max(1), Some(max_group_entries.max(1))),
            seen: SeenEvents::new(horizon),
        })
    }
}

/// How far behind the latest event time a window of `rule` can still hold an event, in
/// seconds: a sliding window its timespan; a tumbling one up to twice that (rsigma drops a
/// tumbling group only when its last event is a timespan old); a session the timespan plus the
/// gap, and without bound when the timespan is zero (rsigma then caps a session's length not
/// at all: it lasts while its events keep within the gap).
fn window_reach(rule: &rsigma_parser::CorrelationRule) -> i64 {
    let secs = |t: &rsigma_parser::Timespan| i64::try_from(t.seconds).unwrap_or(i64::MAX);
    let span = secs(&rule.timespan);
    match rule.window {
        rsigma_parser::WindowMode::Sliding => span,
        rsigma_parser::WindowMode::Tumbling => span.saturating_mul(2),
        rsigma_parser::WindowMode::Session if span == 0 => i64::MAX,
        rsigma_parser::WindowMode::Session => {
            span.saturating_add(rule.gap.as_ref().map_or(span, secs))
        }
    }
}

/// Correlations evaluated incrementally: contributions are fed as they arrive (in time order
/// within a batch), window state lives in rsigma's engine with its caps (groups and entries
/// per group; the oldest go first), and the state exports to JSON to survive a restart.
/// An event fed again in a later batch (a collector re-sending a page, overlapping uploads)
/// counts once ([`StreamingCorrelator::repeats`]).
pub struct StreamingCorrelator {
    engine: CorrelationEngine,
    seen: SeenEvents,
}

/// Events with an id of their own already fed to the streaming correlations, kept as long as
/// a window could still count them (the farthest [`window_reach`] behind the latest event
/// time) and at most [`MAX_SEEN`] of them (the oldest go first): a repeat arriving in a later
/// batch is dropped as [`in_feed_order`] drops one within a batch. An event that arrived late
/// (older than the reach when fed) is forgotten at the next eviction while a sliding window
/// may still hold it: its later repeat would count again.
#[derive(Debug, Default)]
struct SeenEvents {
    /// (unix seconds, record id, content hash).
    events: std::collections::BTreeSet<(i64, String, u64)>,
    /// The farthest window reach, in seconds.
    horizon: i64,
    /// Repeats dropped so far.
    repeats: u64,
    /// Events forgotten by the cap while a window could still count them (their repeats
    /// would count again).
    forgotten: u64,
    /// The latest event time fed (seconds).
    latest: Option<i64>,
}

/// Events remembered for [`SeenEvents`] (about 100 bytes each).
const MAX_SEEN: usize = 200_000;

impl SeenEvents {
    fn new(horizon: i64) -> SeenEvents {
        SeenEvents {
            horizon,
            ..SeenEvents::default()
        }
    }

    /// `true` when `c` is to be fed: not an event (id, second and content) fed before.
    fn first_feed(&mut self, c: &Contribution) -> bool {
        if !c.identified {
            return true;
        }
        if !self.events.insert((c.time, c.record.clone(), c.content)) {
            self.repeats += 1;
            return false;
        }
        self.latest = Some(self.latest.map_or(c.time, |l| l.max(c.time)));
        self.cap();
        true
    }

    /// Keeps at most [`MAX_SEEN`] events: first those no window can count any more go (by the
    /// latest event fed), then the oldest, counted as forgotten.
    fn cap(&mut self) {
        if self.events.len() <= MAX_SEEN {
            return;
        }
        if let Some(latest) = self.latest {
            self.evict(latest);
        }
        while self.events.len() > MAX_SEEN {
            self.events.pop_first();
            self.forgotten += 1;
        }
    }

    /// Forgets events no window open at `now_secs` can count.
    fn evict(&mut self, now_secs: i64) {
        let keep_from = now_secs.saturating_sub(self.horizon);
        self.events = self.events.split_off(&(keep_from, String::new(), 0));
    }
}

impl std::fmt::Debug for StreamingCorrelator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingCorrelator")
            .field("groups", &self.engine.state_count())
            .finish()
    }
}

impl StreamingCorrelator {
    /// Feeds one contribution; returns the correlation alerts it fires (none for an event fed
    /// before: [`StreamingCorrelator::repeats`]).
    pub fn feed(&mut self, c: Contribution) -> Vec<Alert> {
        if !self.seen.first_feed(&c) {
            return Vec::new();
        }
        feed(&mut self.engine, c)
    }

    /// Drops window state that can no longer fire at event time `now_secs`.
    pub fn evict_expired(&mut self, now_secs: i64) {
        self.engine.evict_expired(now_secs);
        self.seen.evict(now_secs);
    }

    /// Events fed again in a later batch and not counted again.
    pub fn repeats(&self) -> u64 {
        self.seen.repeats
    }

    /// Fed events forgotten by the 200 000-event bound while a window could still count them
    /// (since this correlator was made): a repeat of one would count again.
    pub fn forgotten(&self) -> u64 {
        self.seen.forgotten
    }

    /// Groups held.
    pub fn groups(&self) -> usize {
        self.engine.state_count()
    }

    /// The window state as JSON: `{"rsigma": <rsigma's versioned snapshot>, "seen": [[unix
    /// seconds, record id, content hash], ...]}`.
    pub fn export(&self) -> Json {
        let engine = serde_json::to_value(self.engine.export_state()).unwrap_or(Json::Null);
        serde_json::json!({"rsigma": engine, "seen": self.seen.events})
    }

    /// Restores exported state; `false` (and nothing restored) when it is not a snapshot this
    /// rsigma version reads. A bare rsigma snapshot (saved before `seen` was kept), or one
    /// whose `seen` list does not read, restores its windows with no event seen (a repeat of
    /// an event fed before then may count again: the windows matter more).
    pub fn import(&mut self, state: Json) -> bool {
        let (engine, seen) = match state {
            Json::Object(mut m) if m.contains_key("rsigma") => {
                (m.remove("rsigma").unwrap_or(Json::Null), m.remove("seen"))
            }
            other => (other, None),
        };
        let seen: std::collections::BTreeSet<(i64, String, u64)> = seen
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let restored = match serde_json::from_value(engine) {
            Ok(snapshot) => self.engine.import_state(snapshot),
            Err(_) => false,
        };
        if restored {
            self.seen.events = seen;
            self.seen.cap();
        }
        restored
    }
}

fn feed(engine: &mut CorrelationEngine, c: Contribution) -> Vec<Alert> {
    let mut fields = c.fields;
    if let Json::Object(m) = &mut fields {
        let key = if m.contains_key("id") { "_id" } else { "id" };
        m.insert(key.into(), Json::String(c.record.clone()));
    }
    let ev = JsonEvent::owned(fields);
    let mut alerts = Vec::new();
    for r in engine.process_with_detections(&ev, c.detections, c.time) {
        let Some(body) = r.as_correlation() else {
            continue;
        };
        let refs: Vec<(i64, String)> = body
            .event_refs
            .iter()
            .flatten()
            .filter_map(|e| e.id.clone().map(|id| (e.timestamp, id)))
            .collect();
        alerts.push(correlation_alert(&r, &refs));
    }
    alerts
}

/// The key a detection result is known by: its id, else its title.
pub fn rule_key(id: Option<&str>, title: &str) -> String {
    id.unwrap_or(title).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contribution(time: i64, record: &str) -> Contribution {
        Contribution {
            time,
            record: record.to_string(),
            identified: true,
            content: 7,
            fields: Json::Null,
            detections: Vec::new(),
        }
    }

    #[test]
    fn events_forgotten_at_the_bound_are_counted() {
        let mut seen = SeenEvents::new(i64::MAX);
        for i in 0..MAX_SEEN + 3 {
            assert!(seen.first_feed(&contribution(i as i64, "r")));
        }
        assert_eq!(seen.events.len(), MAX_SEEN);
        assert_eq!(seen.forgotten, 3);
        // The oldest went first: its repeat is fed again, a kept one's is not.
        assert!(seen.first_feed(&contribution(0, "r")));
        assert!(!seen.first_feed(&contribution(MAX_SEEN as i64, "r")));
        assert_eq!(seen.repeats, 1);
        // Past the bound, events no window can reach go first, uncounted (one large batch).
        let mut reach = SeenEvents::new(10);
        for i in 0..MAX_SEEN + 5 {
            reach.first_feed(&contribution(i as i64, "r"));
        }
        assert_eq!(reach.forgotten, 0);
        assert!(reach.events.len() < 20, "{}", reach.events.len());
        // Eviction by time is not forgetting: no window can count those any more.
        let mut timed = SeenEvents::new(10);
        timed.first_feed(&contribution(0, "a"));
        timed.evict(100);
        assert!(timed.events.is_empty());
        assert_eq!(timed.forgotten, 0);
    }
}
