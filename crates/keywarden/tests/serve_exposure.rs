//! `keywarden serve`'s incident exposure equals `hunt`'s `exposure.json`: a simulated tenant
//! with a Storm-0558-style intrusion is streamed into the real binary over loopback (JSON
//! shapes, and CSV + diagnostic shapes, whose stored raw records are re-read differently), and
//! hunt's critical incident is one live incident with the same strong findings and severity,
//! whose `GET /api/v1/incidents/{id}` gives per mailbox exactly the `messages`,
//! `folders_synced` and `throttled_windows` of `exposure.json` for the same files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keywarden_model::{MailboxExposure, TimeWindow};
use serde_json::Value;
use serve_support::*;

/// Per mailbox: (messages, folders_synced, throttled_windows), mailboxes with nothing exposed
/// left out (as `exposure.json` leaves them out).
type Exposed = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>, Vec<TimeWindow>)>;

/// Adds a list of mailboxes (`exposure.json`'s or the API's, which carries the same fields
/// beside its counts) to `into`, merging throttled windows as `hunt` does.
fn add_exposed(into: &mut Exposed, mailboxes: &Value) {
    let list: Vec<MailboxExposure> =
        serde_json::from_value(mailboxes.clone()).expect("mailbox exposure list");
    for m in list {
        if m.messages.is_empty() && m.folders_synced.is_empty() && m.throttled_windows.is_empty() {
            continue;
        }
        let e = into.entry(m.mailbox).or_default();
        e.0.extend(m.messages);
        e.1.extend(m.folders_synced);
        e.2.extend(m.throttled_windows);
        e.2 = TimeWindow::merge_all(std::mem::take(&mut e.2));
    }
}

fn exposed(mailboxes: &Value) -> Exposed {
    let mut out = Exposed::new();
    add_exposed(&mut out, mailboxes);
    out
}

/// Runs `hunt` on the logs: (alerts, exposure.json).
fn hunt(logs: &Path, out: &Path) -> (Vec<Value>, Value) {
    let alerts = hunt_alerts(logs, &[], out);
    let exposure = serde_json::from_str(
        &std::fs::read_to_string(out.join("exposure.json")).expect("exposure.json"),
    )
    .expect("exposure JSON");
    (alerts, exposure)
}

/// A simulated tenant whose intrusion reads messages, syncs folders and is throttled (seed 3;
/// `serve_support::simulate`'s seed 7 has no throttled read in its critical incident).
fn simulate_with_throttling(out: &Path, shapes: &str) -> PathBuf {
    serve_support::simulate_seed(out, shapes, 3)
}

/// Waits until the live alerts holding `findings` exist and lie in one live incident whose
/// strong findings are exactly `findings` and whose exposure is `want`; returns its view.
///
/// Live alerts carry the linking values of all their records, as `hunt`'s do, so `hunt`'s
/// critical incident is one live incident with the same strong findings (leads, which both
/// learn from different baselines, never count in exposure).
fn live_incident_with(addr: &str, findings: &BTreeSet<Finding>, want: &Exposed) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alerts = get(addr, "/api/v1/alerts?limit=10000").json();
        let alerts = alerts["alerts"].as_array().unwrap();
        let incidents: BTreeSet<&str> = alerts
            .iter()
            .filter(|a| findings.contains(&finding(a)))
            .filter_map(|a| a["incident_id"].as_str())
            .collect();
        let last = match incidents.iter().collect::<Vec<_>>().as_slice() {
            [id] => {
                let members: BTreeSet<Finding> = alerts
                    .iter()
                    .filter(|a| is_strong(a) && a["incident_id"] == **id)
                    .map(finding)
                    .collect();
                let view = get(addr, &format!("/api/v1/incidents/{id}")).json();
                let got = exposed(&view["exposure"]);
                if members == *findings && got == *want {
                    return view;
                }
                format!("strong findings {members:?}, exposure {got:?}")
            }
            many => format!("{} live incidents: {many:?}", many.len()),
        };
        assert!(
            Instant::now() < deadline,
            "serve's incident never matched hunt's.\nhunt: {findings:?} {want:?}\nserve: {last}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn same_exposure_as_hunt(shapes: &str) {
    let dir = tempfile::tempdir().unwrap();
    let logs = simulate_with_throttling(dir.path(), shapes);
    let (hunt_alerts, hunt_exposure) = hunt(&logs, &dir.path().join("hunt"));
    let critical: Vec<&Value> = hunt_exposure["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "critical")
        .collect();
    assert!(
        !critical.is_empty(),
        "hunt finds a critical incident: {hunt_exposure}"
    );
    // The comparison must be able to fail: the intrusion read messages, synced folders and
    // was throttled.
    let all: Vec<Exposed> = critical.iter().map(|i| exposed(&i["mailboxes"])).collect();
    for (k, what) in ["messages", "folders_synced", "throttled_windows"]
        .iter()
        .enumerate()
    {
        let any = all.iter().flat_map(|e| e.values()).any(|l| match k {
            0 => !l.0.is_empty(),
            1 => !l.1.is_empty(),
            _ => !l.2.is_empty(),
        });
        assert!(
            any,
            "hunt's critical incidents have no {what}: {critical:?}"
        );
    }

    let srv = serve(
        dir.path(),
        Some("[server]\nsign_in_stream_idle_seconds = 1\n"),
    );
    for f in files_by_day(&logs) {
        let body = std::fs::read(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let r = ingest(&srv.addr, &name, &body, None).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    for (incident, want) in critical.iter().zip(&all) {
        let findings: BTreeSet<Finding> = hunt_alerts
            .iter()
            .filter(|a| a["incident_id"] == incident["id"] && is_strong(a))
            .map(finding)
            .collect();
        assert!(!findings.is_empty(), "{incident}");
        let view = live_incident_with(&srv.addr, &findings, want);
        assert_eq!(view["severity"], incident["severity"], "{view}");
        // Exactly `exposure.json`'s lists, in its order (the API also lists mailboxes reached
        // only by records that expose nothing, with empty lists, and adds counts).
        let lists = |v: &Value| {
            let list: Vec<MailboxExposure> = serde_json::from_value(v.clone()).unwrap();
            list.into_iter()
                .filter(|m| {
                    !(m.messages.is_empty()
                        && m.folders_synced.is_empty()
                        && m.throttled_windows.is_empty())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(lists(&view["exposure"]), lists(&incident["mailboxes"]));
        let scope = &view["exposure_scope"];
        assert_eq!(scope["truncated"], false, "{scope}");
        assert_eq!(scope["unreadable"], 0, "{scope}");
        assert!(scope["records_read"].as_u64().unwrap() > 0, "{scope}");
        // The counts are still there beside hunt's fields, and agree with them.
        for m in view["exposure"].as_array().unwrap() {
            let n = |k: &str| m[k].as_array().map_or(0, Vec::len);
            assert!(m["events"].as_u64().unwrap() > 0, "{m}");
            if n("messages") > 0 {
                assert!(m["bind"].as_u64().unwrap() > 0, "{m}");
            }
            if n("folders_synced") > 0 {
                assert!(m["sync"].as_u64().unwrap() > 0, "{m}");
            }
        }
    }
}

#[test]
fn json_shapes_give_hunts_exposure() {
    same_exposure_as_hunt("ual-json,signin-graph");
}

#[test]
fn csv_and_diagnostic_shapes_give_hunts_exposure() {
    same_exposure_as_hunt("purview-csv,azure-diagnostic");
}
