//! Sigma throughput, measured in one run against its baselines:
//!
//! 1. ingest only (`Discard`): the ceiling, decoding included;
//! 2. keywarden with the SigmaHQ `rules/` folder (each event against its applicable rules);
//! 3. the `rsigma` 0.23 CLI (`rsigma engine eval`) on a pre-flattened JSON-lines copy of the
//!    same events with the same rules, if `RSIGMA` (default `/tmp/rsigma/bin/rsigma`) exists.
//!
//! Corpora: the EVTX attack samples, and M365 audit records (a Purview export and Sentinel
//! `OfficeActivity` rows) exported as JSON lines and repeated to a measurable size.
//! Run: `cargo bench -p keywarden-sigma --bench sigma_throughput` (env `THREADS`, `ROUNDS`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use keywarden_ingest::{
    Discard, IngestConfig, InputSource, Processor, Quiet, expand_inputs, ingest,
};
use keywarden_model::Event;
use keywarden_sigma::{RuleSet, SigmaConfig};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

/// Collects every event's record as one JSON line (the pre-flattened copy rsigma reads).
struct Export<'a>(&'a Mutex<Vec<u8>>, Vec<u8>);

impl Processor for Export<'_> {
    fn process(&mut self, event: &Event<'_>) {
        if serde_json::to_writer(&mut self.1, &event.raw).is_ok() {
            self.1.push(b'\n');
        }
    }
    fn finish(&mut self) {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(&self.1);
        }
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("at least one round"))
}

fn corpus(name: &str, inputs: &[InputSource], cfg: &IngestConfig, rules: &Path, rounds: usize) {
    println!("== {name}");
    let (t_ingest, events) = best(rounds, || ingest(inputs, cfg, || Discard, &Quiet).0.events);
    println!(
        "  ingest only ({} threads): {events} events in {t_ingest:.3} s = {:.0} events/s",
        cfg.threads,
        events as f64 / t_ingest
    );
    let t = Instant::now();
    let set = RuleSet::load(&[rules.to_path_buf()]).expect("rules load");
    let loaded = set.report.loaded;
    let t_load = t.elapsed().as_secs_f64();
    // Cold: a fresh stage per round, so the per-target engine compilation (done on the first
    // event of each target) is inside the timing. Warm: engines already compiled.
    let (t_cold, _) = best(rounds, || {
        let stage = SigmaConfig::default()
            .build_with(set.clone())
            .expect("stage");
        let (r, _) = ingest(inputs, cfg, || stage.processor(), &Quiet);
        (r.events, stage.finish().alerts.len())
    });
    let stage = SigmaConfig::default().build_with(set).expect("stage");
    ingest(inputs, cfg, || stage.processor(), &Quiet);
    let _ = stage.finish();
    let (t_sigma, (ev, alerts)) = best(rounds, || {
        let (r, _) = ingest(inputs, cfg, || stage.processor(), &Quiet);
        (r.events, stage.finish().alerts.len())
    });
    println!(
        "  keywarden + {loaded} Sigma rules (load {t_load:.2} s): cold (engines compiled on first use) {t_cold:.3} s = {:.0} events/s; warm {ev} events in {t_sigma:.3} s = {:.0} events/s, {alerts} alerts; warm is {:.2} of the ingest-only rate; peak RSS so far {:.0} MB",
        ev as f64 / t_cold,
        ev as f64 / t_sigma,
        t_ingest / t_sigma,
        peak_rss_mb()
    );

    let rsigma = std::env::var("RSIGMA").unwrap_or_else(|_| "/tmp/rsigma/bin/rsigma".into());
    if !Path::new(&rsigma).exists() {
        println!("  rsigma: not found at {rsigma}; skipped");
        return;
    }
    let all = Mutex::new(Vec::new());
    ingest(inputs, cfg, || Export(&all, Vec::new()), &Quiet);
    let flat = std::env::temp_dir().join(format!("kw-bench-{}-{name}.jsonl", std::process::id()));
    let bytes = all.into_inner().unwrap_or_default();
    std::fs::write(&flat, &bytes).expect("write flattened copy");
    let empty = flat.with_extension("empty");
    std::fs::write(&empty, b"").expect("write empty input");
    let (t_rload, _) = best(rounds, || run_rsigma(&rsigma, rules, &empty));
    let (t_total, (matches, peak)) = best(rounds, || run_rsigma(&rsigma, rules, &flat));
    let _ = std::fs::remove_file(&flat);
    let _ = std::fs::remove_file(&empty);
    let t_rsigma = (t_total - t_rload).max(1e-6);
    println!(
        "  rsigma 0.23 CLI (pre-flattened, 1 reader): {t_total:.3} s total, {t_rload:.3} s of it loading rules; {ev} events in {t_rsigma:.3} s = {:.0} events/s, {matches} matches, peak RSS {peak}",
        ev as f64 / t_rsigma
    );
    println!(
        "  keywarden / rsigma: warm evaluation (rule loading and compiling excluded on both sides) {:.2}x; end to end (load + cold run vs rsigma total) {:.2}x",
        t_rsigma / t_sigma,
        t_total / (t_load + t_cold)
    );
}

/// Runs `rsigma engine eval` over a JSON-lines file; returns matches and its peak RSS.
fn run_rsigma(bin: &str, rules: &Path, events: &Path) -> (usize, String) {
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args([
        "--output-format",
        "ndjson",
        "engine",
        "eval",
        "--no-stats",
        "-r",
    ])
    .arg(rules)
    .stdin(std::fs::File::open(events).expect("open flattened copy"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let out = cmd.output().expect("rsigma runs");
    let matches = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<f64>().ok())
        .map_or("n/a".to_string(), |kb| format!("{:.0} MB", kb / 1024.0));
    (matches, peak)
}

/// The M365 records as JSON lines, repeated `times` (distinct files so all cores share them).
fn m365_corpus(cfg: &IngestConfig, times: usize) -> Vec<PathBuf> {
    let data = PathBuf::from(SHARED).join("datasets");
    let inputs = expand_inputs(&[
        data.join("huntress-ctf-2023-purview/purview.csv"),
        data.join("otrf-goldensaml-mail-access/OfficeActivityEvents.json"),
    ])
    .expect("m365 inputs");
    let all = Mutex::new(Vec::new());
    ingest(&inputs, cfg, || Export(&all, Vec::new()), &Quiet);
    let lines = all.into_inner().unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("kw-bench-m365-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut paths = Vec::new();
    for part in 0..4 {
        let p = dir.join(format!("ual-{part}.jsonl"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).expect("create"));
        for _ in 0..times / 4 {
            f.write_all(&lines).expect("write");
        }
        f.flush().expect("flush");
        paths.push(p);
    }
    paths
}

fn main() {
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    let cfg = IngestConfig {
        threads,
        ..IngestConfig::default()
    };
    let rules = PathBuf::from(SHARED).join("sigma/rules");
    let evtx = expand_inputs(&[PathBuf::from(SHARED).join("datasets/evtx-attack-samples")])
        .expect("evtx inputs");
    corpus("EVTX attack samples", &evtx, &cfg, &rules, rounds);
    let m365 = m365_corpus(&cfg, 200);
    let inputs = expand_inputs(&m365).expect("m365 copies");
    corpus("M365 audit JSON lines", &inputs, &cfg, &rules, rounds);
    if let Some(dir) = m365.first().and_then(|p| p.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}
