//! `collect` against the API emulator (tests/emulator): a simulated tenant with an intrusion,
//! served by misbehaving APIs. Every record lands exactly once, `collect.json` says exactly
//! what was covered, no request starts inside a `Retry-After` window, tokens are renewed, and a
//! second run fetches only what is new.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod emulator;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use emulator::{CLIENT_ID, Emulator, Faults, SimClock, TENANT, WORKSPACE, tenant};
use keywarden_collect::{
    Cloud, CollectConfig, CredentialSource, Endpoints, Manifest, Pacing, SourceKind, Timestamp,
    UreqTransport,
};
use serde_json::Value;

fn config(
    emu: &Emulator,
    out: &Path,
    secret: &Path,
    sources: Vec<SourceKind>,
    since: Timestamp,
) -> CollectConfig {
    let mut endpoints = Endpoints::of(Cloud::Public);
    for e in emu.endpoints() {
        endpoints.set(&e).unwrap();
    }
    CollectConfig {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        credential: CredentialSource::SecretFile(secret.to_owned()),
        sources,
        workspace: Some(WORKSPACE.into()),
        since,
        until: Timestamp(i64::MAX),
        out: out.to_owned(),
        endpoints,
        max_requests_per_minute: Some(60_000),
        concurrency: 4,
        pacing: Pacing {
            backoff_base: Duration::from_millis(20),
            backoff_cap: Duration::from_millis(200),
            purview_poll: Duration::from_millis(5),
            relist_recent: Duration::from_secs(6 * 3600),
            ..Pacing::default()
        },
        cancel: None,
    }
}

fn run(emu: &Emulator, cfg: &CollectConfig) -> Manifest {
    let transport = Arc::new(UreqTransport::new(Duration::from_secs(30), 8));
    keywarden_collect::collect(cfg, transport, Arc::new(emu.clock().clone()), &|_| {}).unwrap()
}

#[test]
fn every_record_exactly_once_through_throttling_errors_expiring_tokens_and_a_resume() {
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 6);
    let ual_ids: std::collections::BTreeSet<String> = data
        .ual
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    let sign_in_ids: std::collections::BTreeSet<String> = data
        .sign_ins
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let activity = data.la_tables["MicrosoftGraphActivityLogs"].len();
    // "Now" is two hours after the simulated period; late blobs are published later.
    let first_now = tenant::end().plus_seconds(2 * 3600);
    let clock = SimClock::new(first_now);
    let faults = Faults {
        token_lifetime_s: 2,
        throttle_every: 13,
        retry_after_s: 1,
        error_every: 17,
        content_page: 7,
        graph_page: 40,
        la_row_cap: 150,
        purview_limit: 400,
        purview_page: 90,
        ..Faults::default()
    };
    let emu = Emulator::start(data.clone(), faults, clock.clone());
    let out = tempfile::tempdir().unwrap();
    let secret = out.path().join("secret.txt");
    std::fs::write(&secret, format!("{}\n", emulator::SECRET)).unwrap();
    let collected = out.path().join("collected");
    let since = tenant::since();
    let all = SourceKind::ALL.to_vec();
    let cfg = config(&emu, &collected, &secret, all.clone(), since);

    let first = run(&emu, &cfg);
    assert!(first.complete, "{first:#?}");
    let got = emulator::written(&collected);
    // Late blobs are not published yet, but Purview (searching by event time) has every UAL
    // record: each exactly once across both sources.
    let missing: Vec<&Value> = data
        .ual
        .iter()
        .filter(|r| !got["ual"].contains_key(r["Id"].as_str().unwrap()))
        .collect();
    assert!(missing.is_empty(), "missing {missing:#?}");
    assert_eq!(got["ual"].len(), ual_ids.len());
    assert!(got["ual"].values().all(|n| *n == 1));
    assert_eq!(
        got["graph-signins"]
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        sign_in_ids
    );
    assert!(got["graph-signins"].values().all(|n| *n == 1));
    assert_eq!(got["loganalytics"].len(), activity);

    let entry = |m: &Manifest, s: &str, st: &str| {
        m.sources
            .iter()
            .find(|e| e.source == s && e.stream == st)
            .unwrap()
            .clone()
    };
    let ex = entry(&first, "o365", "Audit.Exchange");
    assert!(
        ex.duplicates_dropped > 0,
        "records repeated across blobs are dropped"
    );
    assert!(
        ex.windows
            .iter()
            .all(|w| w.complete && w.end.0 - w.start.0 <= 86_400_000_000)
    );
    let la = entry(&first, "loganalytics", "MicrosoftGraphActivityLogs");
    assert!(
        la.windows.len() > 8,
        "truncated answers halve windows: {:?}",
        la.windows.len()
    );
    let pv = entry(&first, "purview", "auditLogRecords");
    assert!(pv.windows.len() > 8, "record-limited queries are split");
    let files: usize = first.sources.iter().map(|e| e.files.len()).sum();
    assert!(
        files > 0
            && first
                .sources
                .iter()
                .all(|e| e.files.iter().all(|f| collected.join(f).is_file()))
    );
    let total: u64 = first.sources.iter().map(|e| e.records).sum();
    assert_eq!(total as usize, ual_ids.len() + sign_in_ids.len() + activity);
    let throttled: u64 = first.sources.iter().map(|e| e.throttled).sum();
    assert!(throttled > 0 && first.sources.iter().map(|e| e.retries).sum::<u64>() > throttled);
    assert!(emu.tokens_issued() > 3, "short-lived tokens were renewed");
    assert!(!emu.throttles().is_empty());
    let inside = emu.requests_inside_retry_after(Duration::from_millis(150));
    assert!(
        inside.is_empty(),
        "requests inside a Retry-After window: {inside:?}"
    );
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(collected.join("collect.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, serde_json::to_value(&first).unwrap());
    assert_eq!(on_disk["keywarden_collect"], 1);
    assert_eq!(on_disk["tenant"], TENANT);

    // Two days later the backfilled blobs are published; a second run over o365 alone lists
    // only the new windows and writes nothing twice.
    clock.set(tenant::end().plus_seconds(2 * 86_400));
    let before = emu.requests().len();
    let since2 = tenant::end().plus_seconds(-4 * 86_400);
    let cfg2 = config(&emu, &collected, &secret, vec![SourceKind::O365], since2);
    let second = run(&emu, &cfg2);
    assert!(second.complete, "{second:#?}");
    let got2 = emulator::written(&collected);
    assert_eq!(got2["ual"].len(), ual_ids.len());
    assert!(
        got2["ual"].values().all(|n| *n == 1),
        "no record written twice"
    );
    let new_blob_fetches = emu.requests()[before..]
        .iter()
        .filter(|r| r.path.contains("/activity/feed/audit/"))
        .count();
    let late_blobs = data
        .blobs
        .iter()
        .filter(|b| b.id.contains("$late$"))
        .count();
    assert!(
        new_blob_fetches <= late_blobs,
        "{new_blob_fetches} blob fetches for {late_blobs} late blobs"
    );
}

#[test]
fn expired_content_makes_the_run_partial_and_names_the_blob() {
    let export = tempfile::tempdir().unwrap();
    let mut data = tenant::simulate(export.path(), 4);
    let clock = SimClock::new(tenant::end().plus_seconds(2 * 3600));
    let victim = data
        .blobs
        .iter_mut()
        .rev()
        .find(|b| b.content_type == "Audit.Exchange" && b.created < tenant::end())
        .unwrap();
    victim.expired = true;
    let victim_id = victim.id.clone();
    let emu = Emulator::start(data, Faults::default(), clock);
    let out = tempfile::tempdir().unwrap();
    let secret = out.path().join("secret.txt");
    std::fs::write(&secret, emulator::SECRET).unwrap();
    let since = tenant::end().plus_seconds(-3 * 86_400);
    let m = run(
        &emu,
        &config(
            &emu,
            &out.path().join("c"),
            &secret,
            vec![SourceKind::O365],
            since,
        ),
    );
    assert!(!m.complete);
    let ex = m
        .sources
        .iter()
        .find(|e| e.stream == "Audit.Exchange")
        .unwrap();
    assert!(!ex.complete);
    assert_eq!(ex.gaps.len(), 1, "{:?}", ex.gaps);
    assert_eq!(ex.gaps[0].blob.as_deref(), Some(victim_id.as_str()));
    assert!(ex.gaps[0].reason.contains("AF20051"));
    assert!(ex.windows.iter().any(|w| !w.complete));
    assert!(
        m.sources
            .iter()
            .filter(|e| e.stream != "Audit.Exchange")
            .all(|e| e.complete)
    );
}

/// `--tenant` given as the tenant's domain: the token endpoint takes it, but the Management
/// API's URLs need the tenant id (the emulator, like the service, knows the feed only under
/// the id), and hunt matches `collect.json`'s declared coverage to records by the id they
/// carry. Before the fix every Management API request went to `/api/v1.0/<domain>/...` and
/// `collect.json` named only the domain.
#[test]
fn regression_tenant_given_as_a_domain_addressed_the_apis_by_the_domain() {
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 4);
    let clock = SimClock::new(tenant::end().plus_seconds(2 * 3600));
    let emu = Emulator::start(data, Faults::default(), clock);
    let out = tempfile::tempdir().unwrap();
    let secret = out.path().join("secret.txt");
    std::fs::write(&secret, emulator::SECRET).unwrap();
    let mut cfg = config(
        &emu,
        &out.path().join("c"),
        &secret,
        vec![SourceKind::O365, SourceKind::GraphSignins],
        tenant::end().plus_seconds(-86_400),
    );
    cfg.tenant = emulator::DOMAIN.into();
    let m = run(&emu, &cfg);
    assert!(m.complete, "{m:#?}");
    assert_eq!(m.tenant, emulator::DOMAIN);
    assert_eq!(m.tenant_id.as_deref(), Some(TENANT));
    assert!(
        m.sources
            .iter()
            .all(|e| e.records > 0 || e.stream != "Audit.Exchange")
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("c/collect.json")).unwrap())
            .unwrap();
    assert_eq!(written["tenant_id"], TENANT);
    // A tenant id given as such is kept (lower case), whatever the tokens say.
    let mut by_id = cfg.clone();
    by_id.tenant = TENANT.to_ascii_uppercase();
    by_id.out = out.path().join("d");
    assert_eq!(run(&emu, &by_id).tenant_id.as_deref(), Some(TENANT));
}

#[test]
fn certificate_credentials_sign_an_assertion_the_identity_platform_accepts() {
    let pem = include_str!("fixtures/test-app-certificate.pem");
    let export = tempfile::tempdir().unwrap();
    let data = tenant::simulate(export.path(), 4);
    let clock = SimClock::new(tenant::end().plus_seconds(3600));
    let emu = Emulator::start(data, Faults::default(), clock);
    emu.register_certificate(pem);
    let out = tempfile::tempdir().unwrap();
    let cert = out.path().join("app.pem");
    std::fs::write(&cert, pem).unwrap();
    let mut cfg = config(
        &emu,
        &out.path().join("c"),
        &cert,
        vec![SourceKind::GraphSignins],
        tenant::end().plus_seconds(-86_400),
    );
    cfg.credential = CredentialSource::CertificateFile(cert);
    let m = run(&emu, &cfg);
    assert!(m.complete);
    assert!(m.sources.iter().map(|e| e.records).sum::<u64>() > 0);
    // A wrong secret is an authentication error, reported before anything is collected.
    let bad = out.path().join("bad.txt");
    std::fs::write(&bad, "wrong").unwrap();
    let mut cfg = config(
        &emu,
        &out.path().join("d"),
        &bad,
        vec![SourceKind::GraphSignins],
        tenant::end().plus_seconds(-86_400),
    );
    cfg.credential = CredentialSource::SecretFile(bad);
    let transport = Arc::new(UreqTransport::new(Duration::from_secs(30), 8));
    let err = keywarden_collect::collect(&cfg, transport, Arc::new(emu.clock().clone()), &|_| {})
        .unwrap_err();
    assert!(err.is_usage_or_auth(), "{err}");
    assert!(!err.to_string().contains("wrong"));
}
