//! Generation speed: a simulated tenant of about a million records, written to a temporary
//! directory, against a baseline measured in the same run — serialising one pre-built UAL
//! record into a buffered file until as many bytes are written (the floor any JSON writer
//! pays on this file system).
//! Simulated records are realistic, so large (about 2 KB on average: sign-ins carry 40
//! members), which is why the bytes/s ratio is the one to watch.
//!
//! `cargo bench -p keywarden-sim --bench generate` (set `KW_SIM_USERS` / `KW_SIM_DAYS` to
//! change the size; defaults 4200 × 30 ≈ 1 M records).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::{BufWriter, Write};
use std::time::Instant;

use keywarden_sim::{Attack, SimConfig, Simulation};

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let users = env_u32("KW_SIM_USERS", 4200);
    let days = env_u32("KW_SIM_DAYS", 30);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SimConfig {
        seed: 1,
        users,
        days,
        attack: Attack::Storm0558,
        ..SimConfig::default()
    };
    let sim = Simulation::new(&config).expect("config");
    let started = Instant::now();
    let report = sim.write_to(&dir.path().join("sim")).expect("write");
    let sim_secs = started.elapsed().as_secs_f64();
    let bytes: u64 = walk_size(&dir.path().join("sim"));
    std::fs::remove_dir_all(dir.path().join("sim")).expect("clean up");

    // Baseline: serde_json of one fixed record into a buffered file, repeated until as many
    // bytes are written as the simulation wrote (so both pay the same file-system cost).
    let record = serde_json::json!({
        "CreationTime": "2023-06-12T03:04:05", "Id": "180ddf3b-06a9-4146-98be-2a568bf9b3a5",
        "Operation": "MailItemsAccessed", "OrganizationId": "0d08a889-e871-4c06-9a16-ea55e3f5ade7",
        "RecordType": 50, "UserId": "wei.vance11@contoso-2211.com",
        "AppAccessContext": {"UniqueTokenId": "1svXQ_Tly2CTlsN3vUYSUg"},
        "Folders": [{"Id": "LgAAAAA", "Path": "\\Inbox", "FolderItems": [{"InternetMessageId": "<A@B>"}]}],
    });
    let one = serde_json::to_vec(&record).expect("serialise").len() as u64 + 1;
    let base_records = bytes / one;
    let path = dir.path().join("baseline.jsonl");
    let started = Instant::now();
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("baseline file"));
    for _ in 0..base_records {
        serde_json::to_writer(&mut out, &record).expect("serialise");
        out.write_all(b"\n").expect("write");
    }
    out.flush().expect("flush");
    drop(out);
    let base_secs = started.elapsed().as_secs_f64();
    let base_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let rate = report.records as f64 / sim_secs;
    let base_rate = base_records as f64 / base_secs;
    println!(
        "simulate: {} records ({} attacker), {} files, {:.1} MB in {:.2} s = {:.0} records/s, {:.1} MB/s",
        report.records,
        report.attacker_records,
        report.files.len(),
        bytes as f64 / 1e6,
        sim_secs,
        rate,
        bytes as f64 / 1e6 / sim_secs
    );
    let mbps = bytes as f64 / 1e6 / sim_secs;
    let base_mbps = base_bytes as f64 / 1e6 / base_secs;
    println!(
        "baseline (one fixed {}-byte record, serde_json to a buffered file): {:.0} records/s, {:.1} MB/s",
        one, base_rate, base_mbps
    );
    println!(
        "ratio simulate/baseline: records/s {:.2}, bytes/s {:.2}",
        rate / base_rate,
        mbps / base_mbps
    );
}

fn walk_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        total += if p.is_dir() {
            walk_size(&p)
        } else {
            entry.metadata().map(|m| m.len()).unwrap_or(0)
        };
    }
    total
}
