//! `collect` against the API emulator vs a naive sequential pager, in the same run, on the same
//! simulated tenant (Management API content; every blob answer delayed 5 ms like a real
//! round trip). Reports records/s, requests per 1 000 records and peak resident memory growth
//! of each. Bounded: one tenant, one pass each (well under two minutes).
//!
//! The naive pager is what many collection scripts do: list each 24 h window page by page,
//! then fetch every blob one after another, holding the window's records in memory, no
//! dedupe, no retry budget.
//!
//! cargo bench -p keywarden-collect --bench collect_throughput
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::{CLIENT_ID, Emulator, Faults, SimClock, TENANT, tenant};
use keywarden_collect::{
    Cloud, CollectConfig, CredentialSource, Endpoints, Pacing, SourceKind, Timestamp, UreqTransport,
};
use serde_json::Value;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn naive(emu: &Emulator, since: Timestamp, until: Timestamp) -> (u64, u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let form = format!(
        "client_id={CLIENT_ID}&scope=https%3A%2F%2Fmanage.office.com%2F.default&grant_type=client_credentials&client_secret={}",
        emulator::SECRET
    );
    let mut requests = 1;
    let tok: Value = agent
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", emu.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .unwrap()
        .body_mut()
        .read_to_vec()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let bearer = format!("Bearer {}", tok["access_token"].as_str().unwrap());
    let feed = format!("{}/api/v1.0/{TENANT}/activity/feed", emu.base);
    for ct in keywarden_collect::CONTENT_TYPES {
        requests += 1;
        agent
            .post(format!("{feed}/subscriptions/start?contentType={ct}"))
            .header("authorization", &bearer)
            .send(&[][..])
            .unwrap();
    }
    let mut records = 0u64;
    for ct in keywarden_collect::CONTENT_TYPES {
        let mut at = since;
        while at < until {
            let end = at.plus_seconds(86_400).min(until);
            let fmt = |t: Timestamp| t.to_rfc3339().trim_end_matches('Z').to_owned();
            let mut url = Some(format!(
                "{feed}/subscriptions/content?contentType={ct}&startTime={}&endTime={}",
                fmt(at),
                fmt(end)
            ));
            let mut window: Vec<Value> = Vec::new();
            while let Some(u) = url.take() {
                requests += 1;
                let mut resp = agent
                    .get(&u)
                    .header("authorization", &bearer)
                    .call()
                    .unwrap();
                url = resp
                    .headers()
                    .get("NextPageUri")
                    .or_else(|| resp.headers().get("NextPageUrl"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let list: Vec<Value> =
                    serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
                for c in list {
                    requests += 1;
                    let mut body = Vec::new();
                    agent
                        .get(c["contentUri"].as_str().unwrap())
                        .header("authorization", &bearer)
                        .call()
                        .unwrap()
                        .into_body()
                        .into_reader()
                        .read_to_end(&mut body)
                        .unwrap();
                    let recs: Vec<Value> = serde_json::from_slice(&body).unwrap();
                    window.extend(recs);
                }
            }
            records += window.len() as u64;
            at = end;
        }
    }
    (records, requests)
}

fn main() {
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 120);
    let unique = data.ual.len();
    let now = tenant::end().plus_seconds(2 * 3600);
    let since = now.plus_seconds(-6 * 86_400);
    let faults = Faults {
        blob_delay: Duration::from_millis(5),
        ..Faults::default()
    };
    let emu = Emulator::start(data, faults, SimClock::new(now));

    reset_peak();
    let base_rss = peak_rss_kib();
    let t = Instant::now();
    let (naive_records, naive_requests) = naive(&emu, since, now);
    let naive_secs = t.elapsed().as_secs_f64();
    let naive_peak = peak_rss_kib().saturating_sub(base_rss);

    let out = tempfile::tempdir().unwrap();
    let secret = out.path().join("secret");
    std::fs::write(&secret, emulator::SECRET).unwrap();
    let mut endpoints = Endpoints::of(Cloud::Public);
    for e in emu.endpoints() {
        endpoints.set(&e).unwrap();
    }
    let cfg = CollectConfig {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        credential: CredentialSource::SecretFile(secret),
        sources: vec![SourceKind::O365],
        workspace: None,
        since,
        until: now,
        out: out.path().join("c"),
        endpoints,
        max_requests_per_minute: None,
        concurrency: 4,
        pacing: Pacing::default(),
        cancel: None,
    };
    reset_peak();
    let base_rss = peak_rss_kib();
    let before = emu.requests().len();
    let t = Instant::now();
    let m = keywarden_collect::collect(
        &cfg,
        Arc::new(UreqTransport::new(Duration::from_secs(30), 8)),
        Arc::new(emu.clock().clone()),
        &|_| {},
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_kib().saturating_sub(base_rss);
    let requests = (emu.requests().len() - before) as u64;
    let records: u64 = m.sources.iter().map(|s| s.records).sum();
    let dropped: u64 = m.sources.iter().map(|s| s.duplicates_dropped).sum();
    println!("tenant: {unique} unique UAL records; window {since} .. {now}");
    println!(
        "naive sequential pager: {naive_records} records (duplicates kept) in {naive_secs:.2} s = {:.0} records/s, {:.1} requests per 1000 records, peak RSS +{naive_peak} KiB",
        naive_records as f64 / naive_secs,
        naive_requests as f64 * 1000.0 / naive_records.max(1) as f64
    );
    println!(
        "keywarden collect:      {records} records ({dropped} duplicates dropped) in {secs:.2} s = {:.0} records/s, {:.1} requests per 1000 records, peak RSS +{peak} KiB",
        records as f64 / secs,
        requests as f64 * 1000.0 / records.max(1) as f64
    );
    println!(
        "speed-up {:.2}x (records/s, unique records for collect)",
        (records as f64 / secs) / (naive_records as f64 / naive_secs)
    );
}
