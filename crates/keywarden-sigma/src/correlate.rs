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
    pub fields: Json,
    pub detections: Vec<EvaluationResult>,
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

    /// Replays time-sorted contributions through the correlation engine.
    pub fn run(&self, mut contributions: Vec<Contribution>) -> Vec<Alert> {
        if self.correlations.is_empty() || contributions.is_empty() {
            return Vec::new();
        }
        contributions.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.record.cmp(&b.record)));
        let config = CorrelationConfig {
            timestamp_fallback: TimestampFallback::Skip,
            correlation_event_mode: CorrelationEventMode::Refs,
            max_correlation_events: MAX_REFS_PER_WINDOW,
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
        let mut alerts = Vec::new();
        for c in contributions {
            let mut fields = c.fields;
            if let Json::Object(m) = &mut fields {
                let key = if m.contains_key("id") { "_id" } else { "id" };
                m.insert(key.into(), Json::String(c.record.clone()));
            }
            let ev = JsonEvent::owned(fields);
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
        }
        alerts
    }
}

/// The key a detection result is known by: its id, else its title.
pub fn rule_key(id: Option<&str>, title: &str) -> String {
    id.unwrap_or(title).to_string()
}
