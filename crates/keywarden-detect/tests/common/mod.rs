//! Helpers shared by the integration tests: fixture paths, running the pack, finding alerts.
#![allow(dead_code)]

use std::path::PathBuf;

use keywarden_detect::{
    Baseline, DetectConfig, Detections, Detector, Incident, Plan, assign_incidents,
};
use keywarden_ingest::{IngestConfig, InputSource};
use keywarden_model::{Alert, Exposure};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

pub fn shared(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")).join(rel)
}

pub fn detector() -> Detector {
    Detector::new(
        DetectConfig::default()
            .build()
            .expect("default config builds"),
    )
}

/// Everything a hunt produces from the detection pack.
pub struct Run {
    pub plan: Plan,
    pub detections: Detections,
    pub alerts: Vec<Alert>,
    pub incidents: Vec<Incident>,
    pub exposure: Exposure,
}

/// Runs both passes over fixture files on the calling thread, then groups and scopes.
pub fn run(files: &[&str], external: Option<&Baseline>) -> Run {
    let data: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let p = fixture(f);
            (
                p.display().to_string(),
                std::fs::read(&p).expect("fixture readable"),
            )
        })
        .collect();
    let inputs: Vec<(&str, &[u8])> = data
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let d = detector();
    let cfg = IngestConfig::default();
    let (plan, detections) = d.run_bytes(&inputs, &cfg, external);
    finish(plan, detections, |p, a, i| {
        d.exposure_bytes(p, a, i, &inputs, &cfg)
    })
}

/// Runs both passes over paths with the worker pool.
pub fn run_pool(paths: &[PathBuf], threads: usize, external: Option<&Baseline>) -> Run {
    let inputs: Vec<InputSource> = keywarden_ingest::expand_inputs(paths).expect("inputs exist");
    let cfg = IngestConfig {
        threads,
        chunk_bytes: 4096,
        ..IngestConfig::default()
    };
    let d = detector();
    let (plan, detections) = d.run_files(&inputs, &cfg, external);
    finish(plan, detections, |p, a, i| {
        d.exposure_files(p, a, i, &inputs, &cfg)
    })
}

/// Groups the alerts into incidents and scopes their exposure with `exposure`.
fn finish(
    plan: Plan,
    detections: Detections,
    exposure: impl FnOnce(&Plan, &[Alert], &[Incident]) -> Exposure,
) -> Run {
    let mut alerts = detections.alerts.clone();
    let incidents = assign_incidents(&mut alerts);
    let exposure = exposure(&plan, &alerts, &incidents);
    Run {
        plan,
        detections,
        alerts,
        incidents,
        exposure,
    }
}

impl Run {
    pub fn by_rule(&self, rule: &str) -> Vec<&Alert> {
        self.alerts.iter().filter(|a| a.rule_id == rule).collect()
    }

    pub fn high(&self) -> Vec<&Alert> {
        self.alerts
            .iter()
            .filter(|a| a.severity >= keywarden_model::Severity::High)
            .collect()
    }
}
