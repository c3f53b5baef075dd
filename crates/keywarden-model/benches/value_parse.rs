//! JSON parsing speed: the byte-level parser (`Value::parse`) against the serde_json path
//! (`Value::parse_reference`), same lines, same run; the ratio is the figure to quote.
//!
//! `cargo bench -p keywarden-model --bench value_parse`
//!
//! Environment: `KW_BENCH_UAL` (a JSON-lines file; default `/tmp/ual1.jsonl`, the simulated
//! UAL export of issue 3, falling back to the UAL fixtures of keywarden-ingest repeated),
//! `KW_BENCH_LINES` (default 100 000 lines), `KW_BENCH_ROUNDS` (default 5: the two parsers
//! alternate and the best round of each is compared).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use keywarden_model::Value;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Parses every line with `parse` (returning the top-level member count, so nothing is
/// optimised away); returns the time taken.
fn run(lines: &[&str], parse: impl Fn(&str) -> usize) -> Duration {
    let t = Instant::now();
    let mut members = 0usize;
    for line in lines {
        members += parse(black_box(line));
    }
    black_box(members);
    t.elapsed()
}

fn members(v: Result<Value<'_>, keywarden_model::JsonError>) -> usize {
    match v {
        Ok(Value::Object(o)) => o.len(),
        _ => 0,
    }
}

fn main() {
    let max_lines = env_usize("KW_BENCH_LINES", 100_000);
    let rounds = env_usize("KW_BENCH_ROUNDS", 5).max(1);
    let path = std::env::var("KW_BENCH_UAL").unwrap_or_else(|_| "/tmp/ual1.jsonl".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let dir = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../keywarden-ingest/tests/fixtures/ual"
            );
            eprintln!("{path}: {e}; using the UAL fixtures of keywarden-ingest, repeated");
            let mut t = String::new();
            for f in [
                "management-api.jsonl",
                "defender-cloud-app-events.jsonl",
                "sentinel-office-activity.jsonl",
            ] {
                t.push_str(&std::fs::read_to_string(format!("{dir}/{f}")).expect("UAL fixture"));
            }
            t.repeat(max_lines / t.lines().count().max(1) + 1)
        }
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(max_lines)
        .collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    println!(
        "value_parse: {} lines, {:.1} MB",
        lines.len(),
        bytes as f64 / 1e6
    );
    let (mut best_fast, mut best_ref) = (Duration::MAX, Duration::MAX);
    for round in 1..=rounds {
        let r = run(&lines, |l| members(Value::parse_reference(l)));
        let f = run(&lines, |l| members(Value::parse(l)));
        println!(
            "  round {round}: serde_json {:.3} s, byte-level {:.3} s",
            r.as_secs_f64(),
            f.as_secs_f64()
        );
        best_ref = best_ref.min(r);
        best_fast = best_fast.min(f);
    }
    let rate = |d: Duration| lines.len() as f64 / d.as_secs_f64();
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "serde_json path: {:.0} lines/s ({:.0} MB/s); byte-level: {:.0} lines/s ({:.0} MB/s)",
        rate(best_ref),
        mbps(best_ref),
        rate(best_fast),
        mbps(best_fast)
    );
    println!(
        "speed-up (best round each): {:.2}x",
        best_ref.as_secs_f64() / best_fast.as_secs_f64()
    );
}
