//! The Sigma stage: one compiled engine per logsource target, evaluated inside the ingest
//! workers, with correlation replayed after ingest.
//!
//! [`SigmaConfig::build`] loads the rules, interprets the routing data and compiles, for each
//! routing target, an rsigma `Engine` holding exactly the rules that target admits (narrowed by
//! `--logsource`), with filter rules applied. Each worker routes an event to its target,
//! evaluates that engine only (rsigma's candidate index then skips rules whose fields the event
//! lacks), turns matches into alerts and keeps correlation contributions. [`SigmaStage::finish`]
//! merges the workers' results and runs the correlations.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use keywarden_ingest::{Processor, Stage};
use keywarden_model::{Alert, Event};
use rsigma_eval::Engine;
use rsigma_parser::LogSource;
use serde::Serialize;

use crate::alert::detection_alert;
use crate::correlate::{Contribution, CorrelationPlan, rule_key};
use crate::error::SigmaError;
use crate::event::SigmaEvent;
use crate::gate::Gate;
use crate::load::{LoadReport, LoadedFilter, LoadedRule, RuleSet};
use crate::routing::{Routing, Target};

/// Settings of a Sigma run (`hunt --rules ... --logsource ...`).
#[derive(Debug, Clone, Default)]
pub struct SigmaConfig {
    /// Rule files or directories.
    pub rule_paths: Vec<PathBuf>,
    /// `--logsource`: narrows which rules run (and what generic JSON is taken to be).
    pub logsource: Option<String>,
    /// Routing data in the `data/logsources.toml` format; `None` uses the built-in file.
    pub routing: Option<String>,
}

impl SigmaConfig {
    /// Loads the rules and compiles the stage.
    pub fn build(&self) -> Result<SigmaStage, SigmaError> {
        let rules = RuleSet::load(&self.rule_paths)?;
        self.build_with(rules)
    }

    /// Compiles a stage from rules already loaded.
    pub fn build_with(&self, rules: RuleSet) -> Result<SigmaStage, SigmaError> {
        let routing = match &self.routing {
            Some(text) => Routing::parse(text)?,
            None => Routing::builtin()?,
        };
        let filter = match &self.logsource {
            Some(spec) => Some(LogsourceFilter::parse(spec)?),
            None => None,
        };
        let engines = routing.targets().iter().map(|_| OnceLock::new()).collect();
        let plan = CorrelationPlan::new(&rules.rules, &rules.correlations);
        Ok(SigmaStage {
            report: rules.report,
            routing,
            engines,
            plan,
            logsource: filter,
            rules: rules.rules,
            filters: rules.filters,
            results: Mutex::new(Vec::new()),
            gates: true,
        })
    }
}

/// `--logsource`: `name` (equal to the rule's product, service or category) or
/// `key=value[,key=value]` with keys `product`, `service`, `category`; every part must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsourceFilter {
    parts: Vec<(Option<String>, String)>,
}

impl LogsourceFilter {
    pub fn parse(spec: &str) -> Result<LogsourceFilter, SigmaError> {
        let bad = |reason: &str| SigmaError::LogsourceSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = Vec::new();
        for part in spec.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(bad("empty part"));
            }
            match part.split_once('=') {
                Some((k, v)) => {
                    let k = k.trim().to_ascii_lowercase();
                    if !matches!(k.as_str(), "product" | "service" | "category") {
                        return Err(bad("keys are product, service and category"));
                    }
                    parts.push((Some(k), v.trim().to_string()));
                }
                None => parts.push((None, part.to_string())),
            }
        }
        Ok(LogsourceFilter { parts })
    }

    /// Whether a rule with this logsource is kept.
    pub fn admits(&self, ls: &LogSource) -> bool {
        let eq =
            |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
        self.parts.iter().all(|(k, v)| match k.as_deref() {
            Some("product") => eq(&ls.product, v),
            Some("service") => eq(&ls.service, v),
            Some("category") => eq(&ls.category, v),
            _ => eq(&ls.product, v) || eq(&ls.service, v) || eq(&ls.category, v),
        })
    }
}

/// Counts of one Sigma run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SigmaStats {
    /// Events that reached the stage.
    pub events: u64,
    /// Events evaluated against at least one rule (the others had no applicable rule).
    pub evaluated: u64,
    /// Of those, events the target's gate proved no rule can match (the engine was skipped).
    pub gated: u64,
    /// Detection matches (including those of correlation-only rules).
    pub matches: u64,
    /// Matches of rules referenced by correlations that had no time and so could not count.
    pub untimed_contributions: u64,
    /// Alerts that were copies of another (same id, same time: one event that more than one
    /// input held), merged into it ([`crate::alert::merge_repeats`]).
    pub repeats: u64,
    /// Correlation contributions of an event already counted (same record id, second and
    /// content, from another input), not counted again ([`crate::correlate::in_feed_order`]).
    pub repeated_contributions: u64,
}

/// What a run produced.
#[derive(Debug, Clone, Default)]
pub struct SigmaOutcome {
    pub alerts: Vec<Alert>,
    pub stats: SigmaStats,
}

#[derive(Debug, Default)]
struct WorkerResult {
    alerts: Vec<Alert>,
    contributions: Vec<Contribution>,
    stats: SigmaStats,
}

/// The compiled rules, ready to plug into `keywarden_ingest::ingest` as a [`Stage`].
pub struct SigmaStage {
    report: LoadReport,
    routing: Routing,
    /// One per routing target, compiled when the first event of that target arrives (so memory
    /// and start-up follow the sources actually read); `None` where the target admits no rule.
    engines: Vec<OnceLock<Option<Compiled>>>,
    plan: CorrelationPlan,
    logsource: Option<LogsourceFilter>,
    rules: Vec<LoadedRule>,
    filters: Vec<LoadedFilter>,
    results: Mutex<Vec<WorkerResult>>,
    /// Whether the gates run (off only to prove they change nothing).
    gates: bool,
}

/// One routing target's engine and the gate in front of it.
struct Compiled {
    engine: Engine,
    /// `None`: no exact pre-filter could be derived; every event goes to the engine.
    gate: Option<Gate>,
}

impl std::fmt::Debug for SigmaStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaStage")
            .field("report", &self.report)
            .field(
                "engines",
                &self.engines.iter().filter(|e| e.get().is_some()).count(),
            )
            .finish()
    }
}

impl SigmaStage {
    /// Turns the per-target gates ([`Gate`]) on (the default) or off. They never change what
    /// matches; switching them off only serves to prove that and to measure their effect.
    pub fn with_gates(mut self, on: bool) -> SigmaStage {
        self.gates = on;
        self
    }

    /// The load account of the rules.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Routing targets with the number of rules each runs.
    pub fn targets(&self) -> Vec<(&Target, usize)> {
        self.routing
            .targets()
            .iter()
            .map(|t| (t, self.admitted(t).count()))
            .collect()
    }

    /// The correlation plan (for a streaming correlator).
    pub fn plan(&self) -> &CorrelationPlan {
        &self.plan
    }

    /// Evaluates one event on its own, for streaming use (`serve`): the alerts of its matches
    /// (exactly those [`SigmaStage::finish`] would return for it, correlation-only rules
    /// suppressed) and, when a correlation references a matched rule and the event has a time,
    /// its contribution for a [`StreamingCorrelator`](crate::correlate::StreamingCorrelator).
    pub fn evaluate_one(&self, event: &Event<'_>) -> (Vec<Alert>, Option<Contribution>) {
        let mut out = WorkerResult::default();
        self.evaluate(event, &mut out);
        (out.alerts, out.contributions.pop())
    }

    /// The loaded rules a target runs.
    fn admitted<'s>(&'s self, t: &'s Target) -> impl Iterator<Item = &'s LoadedRule> + 's {
        self.rules
            .iter()
            .filter(move |r| t.admits(&r.rule.logsource))
            .filter(|r| {
                self.logsource
                    .as_ref()
                    .is_none_or(|f| f.admits(&r.rule.logsource))
            })
    }

    /// The engine of target `idx` and its gate, compiled on first use.
    fn engine(&self, idx: usize) -> Option<&Compiled> {
        let cell = self.engines.get(idx)?;
        cell.get_or_init(|| {
            let t = self.routing.targets().get(idx)?;
            let compiled: Vec<_> = self.admitted(t).map(|r| r.compiled.clone()).collect();
            if compiled.is_empty() {
                return None;
            }
            let mut e = Engine::new();
            // The bloom pre-filter is off; do not spend its default 1 MB per engine.
            e.set_bloom_max_bytes(0);
            e.extend_compiled_rules(compiled);
            for f in &self.filters {
                // Compiled at load time, so applying cannot fail.
                let _ = e.apply_filter(&f.rule);
            }
            // Built from the rules as the engine holds them, filters included.
            let gate = Gate::build(e.rules());
            Some(Compiled { engine: e, gate })
        })
        .as_ref()
    }

    /// A processor for one worker (what [`Stage::worker`] returns, with its concrete type).
    pub fn processor(&self) -> SigmaWorker<'_> {
        SigmaWorker {
            stage: self,
            out: WorkerResult::default(),
        }
    }

    /// Merges what the workers handed back, runs the correlations and returns every alert,
    /// sorted by time, rule and record. Takes the results: a second call returns nothing new.
    pub fn finish(&self) -> SigmaOutcome {
        let parts = std::mem::take(&mut *self.results.lock().unwrap_or_else(|e| e.into_inner()));
        let mut outcome = SigmaOutcome::default();
        let mut contributions = Vec::new();
        for p in parts {
            outcome.alerts.extend(p.alerts);
            contributions.extend(p.contributions);
            let s = &mut outcome.stats;
            s.events += p.stats.events;
            s.evaluated += p.stats.evaluated;
            s.gated += p.stats.gated;
            s.matches += p.stats.matches;
            s.untimed_contributions += p.stats.untimed_contributions;
        }
        let (correlated, repeats) = self.plan.run(contributions);
        outcome.alerts.extend(correlated);
        outcome.stats.repeated_contributions = repeats;
        outcome.alerts.sort_by(|a, b| {
            a.time_first
                .cmp(&b.time_first)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.record_ids.cmp(&b.record_ids))
        });
        // Copies meet here in whatever order the workers read their files; merging them does
        // not depend on that order ([`crate::alert::merge_copy`]).
        outcome.stats.repeats = crate::alert::merge_repeats(&mut outcome.alerts);
        outcome
    }

    fn evaluate(&self, event: &Event<'_>, out: &mut WorkerResult) {
        out.stats.events += 1;
        let route = self.routing.route(event);
        let Some(compiled) = self.engine(route.target) else {
            return;
        };
        out.stats.evaluated += 1;
        let view = SigmaEvent::new(event, route.fields).with_folded_spaces(route.fold_spaces);
        if self.gates && compiled.gate.as_ref().is_some_and(|g| !g.admits(&view)) {
            out.stats.gated += 1;
            return;
        }
        let results = compiled.engine.evaluate(&view);
        if results.is_empty() {
            return;
        }
        out.stats.matches += results.len() as u64;
        let target = self
            .routing
            .targets()
            .get(route.target)
            .map_or("", |t| t.name.as_str());
        let mut referenced = Vec::new();
        for r in results {
            let key = rule_key(r.header.rule_id.as_deref(), &r.header.rule_title);
            if !self.plan.is_suppressed(&key) {
                out.alerts.push(detection_alert(&r, event, target));
            }
            if self.plan.is_referenced(&key) {
                referenced.push(r);
            }
        }
        if referenced.is_empty() {
            return;
        }
        match event.fields.time {
            Some(t) => out.contributions.push(Contribution {
                time: t.unix_seconds(),
                record: event.record_ref(),
                identified: event
                    .fields
                    .record_id
                    .as_ref()
                    .is_some_and(|r| !r.is_empty()),
                content: event.content_hash(),
                fields: self.plan.capture(&view),
                detections: referenced,
            }),
            None => out.stats.untimed_contributions += 1,
        }
    }
}

impl Stage for SigmaStage {
    fn worker(&self) -> Box<dyn Processor + '_> {
        Box::new(self.processor())
    }
}

/// The per-worker processor of a [`SigmaStage`].
pub struct SigmaWorker<'s> {
    stage: &'s SigmaStage,
    out: WorkerResult,
}

impl Processor for SigmaWorker<'_> {
    fn process(&mut self, event: &Event<'_>) {
        self.stage.evaluate(event, &mut self.out);
    }

    fn finish(&mut self) {
        let out = std::mem::take(&mut self.out);
        self.stage
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(product: &str, category: &str) -> LogSource {
        LogSource {
            product: Some(product.into()),
            category: Some(category.into()),
            ..LogSource::default()
        }
    }

    #[test]
    fn logsource_filter_forms() {
        let f = LogsourceFilter::parse("windows").expect("spec");
        assert!(f.admits(&ls("windows", "process_creation")));
        assert!(!f.admits(&ls("linux", "process_creation")));
        let f = LogsourceFilter::parse("product=linux, category=process_creation").expect("spec");
        assert!(f.admits(&ls("linux", "process_creation")));
        assert!(!f.admits(&ls("linux", "file_event")));
        assert!(LogsourceFilter::parse("colour=red").is_err());
        assert!(LogsourceFilter::parse("a,,b").is_err());
    }
}
