//! Report writing speed, as ratios against writing `alerts.jsonl` with serde_json in the same
//! run (the cheapest possible output of the same alerts).
//!
//! `cargo bench -p keywarden-report --bench report_throughput [-- ALERTS]`
//!
//! Alerts are generated here (deterministic, real-shaped: Storm-0558 style ids, evidence
//! objects, a few record ids each), spread over 1 incident per 25 alerts with exposure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use keywarden_model::{
    Alert, Exposure, IncidentExposure, MailboxExposure, Severity, TimeWindow, Timestamp,
};
use keywarden_report::{
    InputSummary, ReportSummary, print_incident_table, write_alerts_csv, write_html_report,
};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50_000);
    let (alerts, exposure) = generate(n);
    let mut summary = ReportSummary::new("bench", Timestamp::from_unix_seconds(1_689_325_200));
    summary.inputs.push(InputSummary {
        path: "bench.jsonl".into(),
        format: "ual-json".into(),
        records: n as u64 * 20,
        events: n as u64 * 20,
        rejected: 0,
        skipped: None,
    });
    println!(
        "report_throughput: {n} alerts in {} incidents",
        exposure.incidents.len()
    );
    let (base, base_bytes) = measure(|w| {
        for a in &alerts {
            serde_json::to_writer(&mut *w, a).expect("json");
            w.write_all(b"\n").expect("write");
        }
    });
    report("alerts.jsonl (baseline)", n, base, base_bytes, base);
    let (t, b) = measure(|w| write_alerts_csv(&alerts, w).expect("csv"));
    report("alerts.csv", n, t, b, base);
    let (t, b) = measure(|w| write_html_report(&alerts, &exposure, &summary, w).expect("html"));
    report("report.html", n, t, b, base);
    let (t, b) = measure(|w| print_incident_table(&alerts, &exposure, true, w).expect("table"));
    report("incident table", n, t, b, base);
}

/// Best of 3 runs into an in-memory buffer: (time, bytes written).
fn measure(mut f: impl FnMut(&mut Vec<u8>)) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..3 {
        let mut buf = Vec::with_capacity(bytes);
        let start = Instant::now();
        f(&mut buf);
        best = best.min(start.elapsed());
        bytes = black_box(buf).len();
    }
    (best, bytes)
}

fn report(name: &str, n: usize, t: Duration, bytes: usize, base: Duration) {
    let secs = t.as_secs_f64().max(1e-9);
    println!(
        "  {name:<24} {:>10.0} alerts/s {:>8.1} MB/s {:>8.1} MB  {:>5.2}x baseline time",
        n as f64 / secs,
        bytes as f64 / 1e6 / secs,
        bytes as f64 / 1e6,
        secs / base.as_secs_f64().max(1e-9)
    );
}

fn generate(n: usize) -> (Vec<Alert>, Exposure) {
    let t0 = Timestamp::parse("2023-06-15T04:05:03Z").unwrap_or(Timestamp(0));
    let rules = [
        ("token-never-issued", Severity::Critical),
        ("ioc-ip", Severity::High),
        ("unexpected-mailbox-app", Severity::Medium),
        ("first-seen-client-app", Severity::Low),
    ];
    let mut alerts = Vec::with_capacity(n);
    let mut incidents = Vec::new();
    for i in 0..n {
        let (rule, severity) = rules[i % rules.len()];
        let incident = format!("INC-{:06}", i / 25);
        let mut a = Alert::new(rule, format!("{rule} on mailbox {}", i % 500), severity);
        a.id = format!("KW-{i:08}");
        a.score = 40.0 + (i % 60) as f64;
        a.time_first = Some(t0.plus_seconds(i as i64 * 37));
        a.time_last = Some(t0.plus_seconds(i as i64 * 37 + 600));
        a.tenant = Some("f1c2a3b4-5d6e-4f70-8a91-b2c3d4e5f607".into());
        a.user = Some(format!("user{}@contoso.com", i % 500));
        a.mailbox = a.user.clone();
        a.client_ip = Some(format!("185.236.{}.{}", i % 250, (i / 250) % 250));
        a.app_id = Some("00000002-0000-0ff1-ce00-000000000000".into());
        a.client_app_id = Some("d3590ed6-52b3-4102-aeff-aad2292ab01c".into());
        a.session_id = Some(format!("0b7c3a5e-9d41-4c8f-a6e2-{:012x}", i / 25));
        a.token_id = Some(format!("Xk2v9QyZtUu1mQ7p{:06x}", i));
        a.incident_id = Some(incident.clone());
        a.attack = vec!["T1550.001".into()];
        a.evidence = serde_json::json!({"token_id": a.token_id, "records": i % 17, "coverage": {"first": "2023-06-01T00:00:00Z"}});
        a.record_ids = (0..4)
            .map(|k| format!("5f1e0c84-7a1b-4c21-9b6c-{:012x}", i * 4 + k))
            .collect();
        if i % 25 == 0 {
            incidents.push(IncidentExposure {
                id: incident,
                severity,
                first: a.time_first,
                last: a.time_last,
                mailboxes: vec![MailboxExposure {
                    mailbox: a.user.clone().unwrap_or_default(),
                    messages: (0..10)
                        .map(|k| format!("<BN6PR11MB{i:06}{k:02}@namprd11.prod.outlook.com>"))
                        .collect(),
                    folders_synced: vec!["\\Inbox".into()],
                    throttled_windows: vec![TimeWindow {
                        start: t0,
                        end: t0.plus_seconds(86_400),
                    }],
                    linked_by: [("token".to_string(), 10)].into_iter().collect(),
                    aliases: Vec::new(),
                }],
            });
        }
        alerts.push(a);
    }
    (alerts, Exposure { incidents })
}
