//! A simulated tenant with an intrusion (keywarden-sim), cut into what each API serves:
//! Management API blobs (one per content type and hour, made available 80 minutes after the
//! hour, some records repeated in the next blob, some backfilled in late blobs), Graph
//! sign-ins, Log Analytics `MicrosoftGraphActivityLogs` rows, and the UAL for Purview.

use std::collections::BTreeMap;
use std::path::Path;

use keywarden_collect::Timestamp;
use keywarden_sim::{Attack, Shape, SimConfig, Simulation};
use serde_json::Value;

use super::{Blob, TenantData};

pub const START: &str = "2023-06-05";
pub const DAYS: u32 = 8;

/// Writes the simulation's own export into `dir` and returns the emulator's data.
pub fn simulate(dir: &Path, users: u32) -> TenantData {
    let sim = Simulation::new(&SimConfig {
        seed: 13,
        users,
        days: DAYS,
        start: START.into(),
        attack: Attack::Storm0558,
        shapes: vec![Shape::UalJson, Shape::SigninGraph],
        gzip: false,
        gaps: Vec::new(),
    })
    .unwrap();
    sim.write_to(dir).unwrap();
    load(dir)
}

fn lines(dir: &Path, sub: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
        return out;
    };
    let mut paths: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        if p.extension().is_some_and(|e| e == "json") {
            let doc: Value = serde_json::from_str(&text).unwrap();
            out.extend(doc["value"].as_array().cloned().unwrap_or_default());
        } else {
            out.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()),
            );
        }
    }
    out
}

fn content_type(rec: &Value) -> &'static str {
    match rec["Workload"].as_str().unwrap_or("") {
        "Exchange" => "Audit.Exchange",
        "AzureActiveDirectory" => "Audit.AzureActiveDirectory",
        "SharePoint" | "OneDrive" => "Audit.SharePoint",
        _ => "Audit.General",
    }
}

pub fn load(dir: &Path) -> TenantData {
    let ual = lines(dir, "ual-json");
    assert!(
        ual.iter().all(|r| r["OrganizationId"] == super::TENANT),
        "the emulator serves the simulated tenant under its own id (emulator::TENANT)"
    );
    let sign_ins = lines(dir, "signin-graph");
    let activity = lines(dir, "graph-activity");
    let mut groups: BTreeMap<(&'static str, i64), Vec<Value>> = BTreeMap::new();
    let mut late: BTreeMap<(&'static str, i64), Vec<Value>> = BTreeMap::new();
    for (i, r) in ual.iter().enumerate() {
        let t = Timestamp::parse(r["CreationTime"].as_str().unwrap()).unwrap();
        let hour = t.unix_seconds().div_euclid(3600);
        if i % 23 == 7 {
            // Backfilled: published a day and a half later, in a blob of its own.
            late.entry((content_type(r), hour + 36))
                .or_default()
                .push(r.clone());
        } else {
            groups
                .entry((content_type(r), hour))
                .or_default()
                .push(r.clone());
        }
    }
    let mut blobs = Vec::new();
    let mut previous: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    for ((ct, hour), mut recs) in groups {
        // The API repeats records across blobs: the next blob starts with the previous
        // blob's last two records.
        if let Some(prev) = previous.get(ct) {
            let mut repeated: Vec<Value> = prev.iter().rev().take(2).cloned().collect();
            repeated.append(&mut recs);
            recs = repeated;
        }
        previous.insert(ct, recs.clone());
        blobs.push(blob(ct, hour, "a", recs));
    }
    for ((ct, hour), recs) in late {
        blobs.push(blob(ct, hour, "late", recs));
    }
    let mut la_tables = BTreeMap::new();
    la_tables.insert("MicrosoftGraphActivityLogs".to_owned(), activity);
    for t in [
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "AADServicePrincipalSignInLogs",
        "OfficeActivity",
        "CloudAppEvents",
    ] {
        la_tables.insert(t.to_owned(), Vec::new());
    }
    TenantData {
        blobs,
        sign_ins,
        directory_audits: Vec::new(),
        la_tables,
        ual,
    }
}

fn blob(ct: &str, hour: i64, tag: &str, records: Vec<Value>) -> Blob {
    let created = Timestamp::from_unix_seconds(hour * 3600 + 80 * 60);
    Blob {
        content_type: ct.to_owned(),
        id: format!(
            "{}{hour}${tag}${}",
            20230000 + hour % 10_000,
            ct.replace('.', "_")
        ),
        created,
        records,
        expired: false,
    }
}

/// The end of the simulated period.
pub fn end() -> Timestamp {
    Timestamp::parse(&format!("{START}T00:00:00Z"))
        .unwrap()
        .plus_seconds(i64::from(DAYS) * 86_400)
}

/// A `--since` that holds every simulated record (the simulator's first day can start a few
/// minutes before midnight in UTC).
pub fn since() -> Timestamp {
    Timestamp::parse(&format!("{START}T00:00:00Z"))
        .unwrap()
        .plus_seconds(-86_400)
}
