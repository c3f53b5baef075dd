//! `keywarden serve` end to end over real HTTP on loopback: a simulated tenant with a
//! Storm-0558-style intrusion is streamed in (in two export-shape sets, one file gzipped), and
//! the high-severity alerts and incidents that appear through the API are the ones `hunt`
//! finds in the same files. Also: 401 on every endpoint but `/healthz`, cursor paging,
//! incident exposure, idempotent retries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serve_support::*;

/// (rule, token, ip) of an alert: what identifies the same finding in `hunt` and `serve`.
type Finding = (String, String, String);

fn finding(a: &serde_json::Value) -> Finding {
    let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
    (s("rule_id"), s("token_id"), s("client_ip"))
}

const STRONG: &[&str] = &[
    "token-never-issued",
    "consumer-tenant-token",
    "known-bad-key",
    "ioc-ip",
];

/// Findings and incident groups (as sets of findings) from a list of alerts.
fn summarise(alerts: &[serde_json::Value]) -> (BTreeSet<Finding>, BTreeSet<BTreeSet<Finding>>) {
    let strong: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| STRONG.contains(&a["rule_id"].as_str().unwrap_or("")))
        .filter(|a| matches!(a["severity"].as_str(), Some("high" | "critical")))
        .collect();
    let findings = strong.iter().map(|a| finding(a)).collect();
    let mut groups: BTreeMap<String, BTreeSet<Finding>> = BTreeMap::new();
    for a in &strong {
        let inc = a["incident_id"].as_str().unwrap_or("none").to_string();
        groups.entry(inc).or_default().insert(finding(a));
    }
    (findings, groups.into_values().collect())
}

/// Incident id → severity from `exposure.json` (one entry per incident).
fn hunt_severities(out: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(out.join("exposure.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn same_findings_as_hunt(shapes: &str) {
    let dir = tempfile::tempdir().unwrap();
    let logs = simulate(dir.path(), shapes);
    let hunt_dir = dir.path().join("hunt");
    let hunt_alerts = hunt_alerts(&logs, &[], &hunt_dir);
    let hunt_incidents = hunt_severities(&hunt_dir);
    let (want, want_groups) = summarise(&hunt_alerts);
    assert!(
        want.iter().any(|f| f.0 == "token-never-issued"),
        "the simulated intrusion has a forged token: {want:?}"
    );
    // Idle sign-in streams stop holding judgements back after 1 s (the default is 15 min).
    let srv = serve(
        dir.path(),
        Some("[server]\nsign_in_stream_idle_seconds = 1\n"),
    );
    let mut accepted = 0;
    let mut rejected = 0;
    for (i, f) in files_by_day(&logs).iter().enumerate() {
        let mut body = std::fs::read(f).unwrap();
        if i == 0 {
            body = gzip(&body);
        }
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let r = ingest(&srv.addr, &name, &body, Some(&format!("{shapes}-{name}"))).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        accepted += v["accepted"].as_u64().unwrap();
        rejected += v["rejected"].as_u64().unwrap();
        if i == 0 {
            // A retried request (same idempotency key) is answered from the store, not re-stored.
            let again = ingest(&srv.addr, &name, &body, Some(&format!("{shapes}-{name}"))).unwrap();
            assert_eq!(again.json()["duplicate"], true);
            assert_eq!(again.json()["accepted"], v["accepted"]);
        }
    }
    assert!(accepted > 300);
    let stats = get(&srv.addr, "/api/v1/stats").json();
    assert_eq!(stats["events"].as_u64(), Some(accepted));
    assert_eq!(stats["rejected"].as_u64(), Some(rejected));
    wait_for(30, "the live alerts to match hunt's", || {
        (summarise(&all_alerts(&srv.addr, 1000)).0 == want).then_some(())
    });
    // Incidents are regrouped after every batch that changes alerts; once the last pending
    // token is judged and the alerts stop changing, the grouping is final. Live alerts carry
    // the linking values of all their records, so the high/critical incidents are hunt's: the
    // same groups of findings.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut previous = None;
    let (alerts, got_groups) = loop {
        let alerts = all_alerts(&srv.addr, 1000);
        let (got, got_groups) = summarise(&alerts);
        assert_eq!(got, want);
        let pending = get(&srv.addr, "/api/v1/stats").json()["pending_tokens"].as_u64();
        let snapshot: Vec<String> = alerts
            .iter()
            .map(|a| format!("{} {} {}", a["id"], a["incident_id"], a["record_ids"]))
            .collect();
        let settled = pending == Some(0) && previous.as_ref() == Some(&snapshot);
        if settled || Instant::now() > deadline {
            break (alerts, got_groups);
        }
        previous = Some(snapshot);
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(got_groups, want_groups, "live incidents differ from hunt's");
    assert!(!want_groups.is_empty());
    // Each of hunt's high/critical incidents has the same severity live.
    for group in &want_groups {
        let incident_of = |alerts: &[serde_json::Value]| {
            let a = alerts.iter().find(|a| group.contains(&finding(a)));
            a.expect("a member of the incident")["incident_id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // A lead alert arriving meanwhile changes the incident's members and so its id:
        // read the alerts and the incident again until they agree.
        let live = wait_for(30, "the live incident", || {
            let alerts = all_alerts(&srv.addr, 1000);
            let r = get(
                &srv.addr,
                &format!("/api/v1/incidents/{}", incident_of(&alerts)),
            );
            (r.status == 200).then(|| r.json()["severity"].as_str().unwrap().to_string())
        });
        assert_eq!(
            live,
            hunt_incidents[&incident_of(&hunt_alerts)],
            "{group:?}"
        );
    }
    // Paging with a small page gives the same alerts in the same order (lead alerts may still
    // be arriving: they come after, in store order, never in between or twice).
    let ids = |list: &[serde_json::Value]| list.iter().map(|a| a["id"].clone()).collect::<Vec<_>>();
    let paged = ids(&all_alerts(&srv.addr, 2));
    assert!(paged.starts_with(&ids(&alerts)), "{paged:?}");
    let unique: BTreeSet<String> = paged.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), paged.len());
    // Filters.
    let high = get(
        &srv.addr,
        "/api/v1/alerts?severity=high&rule=token-never-issued",
    )
    .json();
    assert!(
        high["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["rule_id"] == "token-never-issued")
    );
    assert_eq!(get(&srv.addr, "/api/v1/alerts?limit=10001").status, 400);
    assert_eq!(get(&srv.addr, "/api/v1/alerts?cursor=zzz").status, 400);
    // The forged token's incident: exposure per mailbox from its mail reads.
    let forged = alerts
        .iter()
        .find(|a| a["rule_id"] == "token-never-issued")
        .unwrap();
    let inc = forged["incident_id"].as_str().unwrap();
    let view = get(&srv.addr, &format!("/api/v1/incidents/{inc}")).json();
    assert_eq!(view["id"], inc);
    let exposure = view["exposure"].as_array().unwrap();
    assert!(!exposure.is_empty(), "{view}");
    assert!(exposure.iter().all(|m| m["events"].as_u64().unwrap() > 0));
    assert_eq!(get(&srv.addr, "/api/v1/incidents/inc-nope").status, 404);
    // An analyst acknowledges the alert with a note; the note is kept in the audit trail.
    let auth = format!("Bearer {KEY}");
    let id = forged["id"].as_str().unwrap();
    let note = r#"seen <script>alert(1)</script> "><img src=x onerror=alert(1)>"#;
    let body = serde_json::json!({ "status": "acknowledged", "note": note }).to_string();
    let r = request(
        &srv.addr,
        "POST",
        &format!("/api/v1/alerts/{id}/status"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let acked = get(&srv.addr, "/api/v1/alerts?status=acknowledged").json();
    assert_eq!(acked["alerts"][0]["id"], id);
    let trail = get(&srv.addr, "/api/v1/audit").json();
    assert_eq!(trail["audit"][0]["target"], id);
    assert_eq!(trail["audit"][0]["note"], note);
    assert_eq!(trail["audit"][0]["action"], "acknowledged");
    let missing = request(
        &srv.addr,
        "POST",
        "/api/v1/alerts/no-such-alert/status",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(missing.status, 404);
    let metrics = get(&srv.addr, "/metrics");
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains(&format!("keywarden_store_events {accepted}\n")));
}

#[test]
fn json_shapes_give_the_same_findings_as_hunt() {
    same_findings_as_hunt("ual-json,signin-graph");
}

#[test]
fn csv_and_diagnostic_shapes_give_the_same_findings_as_hunt() {
    same_findings_as_hunt("purview-csv,azure-diagnostic");
}

#[test]
fn every_endpoint_but_healthz_needs_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // Each try comes from its own client (named by the trusted loopback proxy's
    // X-Forwarded-For), so the failed-key throttle never answers 429 here.
    let srv = serve(
        dir.path(),
        Some("[server]\ntrusted_proxies = [\"127.0.0.1\"]\n"),
    );
    let health = request(&srv.addr, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(health.status, 200);
    let endpoints = [
        ("POST", "/api/v1/ingest"),
        ("GET", "/api/v1/alerts"),
        ("POST", "/api/v1/alerts/x/status"),
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/x"),
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/audit"),
        ("GET", "/metrics"),
        ("POST", "/ui/alerts/x/status"),
        ("POST", "/logout"),
        ("GET", "/no/such/path"),
        ("POST", "/healthz"),
    ];
    let wrong = format!("Bearer {}x", KEY);
    for (n, (method, path)) in endpoints.into_iter().enumerate() {
        for (m, auth) in [None, Some("Bearer nope"), Some(wrong.as_str()), Some(KEY)]
            .into_iter()
            .enumerate()
        {
            let client = format!("198.51.{n}.{m}");
            let mut h: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
            h.push(("X-Forwarded-For", &client));
            let r = request(&srv.addr, method, path, &h, b"{}").unwrap();
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}");
            assert!(r.header("www-authenticate").is_some());
        }
    }
    // The dashboard sends a browser without a session to the login form.
    for path in ["/", "/ui/incidents/x"] {
        let r = request(&srv.addr, "GET", path, &[], b"").unwrap();
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"));
    }
    // Nothing was stored by the refused requests.
    assert_eq!(get(&srv.addr, "/api/v1/stats").json()["events"], 0);
}
