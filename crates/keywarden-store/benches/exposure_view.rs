//! What an incident view costs now that its exposure reads the linked records back (run with
//! `cargo bench -p keywarden-store --bench exposure_view`).
//!
//! A store on disk holds 20 000 mail reads by one forged token (UAL JSON as ingest stores it:
//! three messages each, every 10th a `Sync`, every 100th throttled) and 20 000 unrelated
//! ones. Timed, median of 7 runs each, in one process:
//! - baseline: `incident_capped(id, 0)`: the counts and the timeline only (what the incident
//!   view cost before it carried `hunt`'s exposure fields);
//! - `incident_capped(id, 5 000)` and `incident(id)` (all 20 000 read back, the default cap).
//!
//! Prints the times and the ratios to the baseline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::time::Instant;

use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_store::{Batch, EventRow, IncidentRow, Store, StoreConfig};

const LINKED: usize = 20_000;
const OTHER: usize = 20_000;
const RUNS: usize = 7;

fn event(n: usize, token: &str) -> EventRow {
    let access = if n.is_multiple_of(10) { "Sync" } else { "Bind" };
    let throttled = if n.is_multiple_of(100) {
        "True"
    } else {
        "False"
    };
    let raw = format!(
        concat!(
            r#"{{"Id":"r{n}","RecordType":50,"CreationTime":"2023-06-12T03:{m:02}:{s:02}","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"t1","MailboxOwnerUPN":"user{u}@contoso.com","#,
            r#""AppAccessContext":{{"UniqueTokenId":"{token}"}},"#,
            r#""OperationProperties":[{{"Name":"MailAccessType","Value":"{access}"}},{{"Name":"IsThrottled","Value":"{throttled}"}}],"#,
            r#""Folders":[{{"Path":"\\Inbox\\f{f}","FolderItems":[{{"InternetMessageId":"<a{n}@contoso.com>"}},"#,
            r#"{{"InternetMessageId":"<b{n}@contoso.com>"}},{{"InternetMessageId":"<c{n}@contoso.com>"}}]}}]}}"#
        ),
        n = n,
        m = n % 60,
        s = (n / 60) % 60,
        u = n % 50,
        f = n % 20,
        token = token,
        access = access,
        throttled = throttled
    );
    EventRow {
        source_kind: "UnifiedAuditLog".into(),
        format: "ual-json".into(),
        role: "mail-access".into(),
        record_ref: format!("r{n}-{token}"),
        time: Timestamp::parse("2023-06-12T03:00:00Z").map(|t| t.0 + n as i64 * 1_000_000),
        tenant: Some("t1".into()),
        token_id: Some(token.into()),
        mailbox: Some(format!("user{}@contoso.com", n % 50)),
        operation: Some("MailItemsAccessed".into()),
        mail_access: Some(access.into()),
        raw,
        ..EventRow::default()
    }
}

fn fill(store: &mut Store) {
    for (token, count) in [("forged", LINKED), ("benign", OTHER)] {
        for chunk in (0..count).collect::<Vec<_>>().chunks(5_000) {
            let events = chunk.iter().map(|&n| event(n, token)).collect();
            store
                .commit_batch(&Batch {
                    source: "bench".into(),
                    name: token.into(),
                    request_key: None,
                    received_at: 1,
                    events,
                    rejections: Vec::new(),
                    offset: None,
                })
                .expect("commit");
        }
    }
    let mut a = Alert::new("token-never-issued", "t", Severity::High);
    a.id = "a1".into();
    a.token_id = Some("forged".into());
    a.incident_id = Some("INC".into());
    let inc = IncidentRow {
        id: "INC".into(),
        severity: Severity::High,
        time_first: None,
        time_last: None,
        alerts: 1,
    };
    store.write_detections(&[a], &[inc], 1).expect("detections");
}

/// Median wall time (ms) of `RUNS` views with this cap, and the last view's read-back count.
fn time(store: &Store, cap: usize) -> (f64, u64, usize) {
    let mut ms = Vec::with_capacity(RUNS);
    let mut read = 0;
    let mut messages = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let v = store
            .incident_capped("INC", cap)
            .expect("view")
            .expect("incident");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        read = v.exposure_scope.records_read;
        messages = v.exposure.iter().map(|m| m.messages.len()).sum();
    }
    ms.sort_by(f64::total_cmp);
    (ms[RUNS / 2], read, messages)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = StoreConfig::new(dir.path());
    let mut store = cfg.build().expect("store");
    let t = Instant::now();
    fill(&mut store);
    eprintln!(
        "filled {} events in {:.1} s",
        LINKED + OTHER,
        t.elapsed().as_secs_f64()
    );
    let reader = cfg.reader().expect("reader");
    let (base, _, _) = time(&reader, 0);
    println!("incident view, counts + timeline only (baseline): {base:.1} ms");
    for cap in [5_000, keywarden_store::MAX_EXPOSURE_RECORDS] {
        let (ms, read, messages) = time(&reader, cap);
        println!(
            "incident view reading back {read} records ({messages} messages): {ms:.1} ms = {:.1} x baseline, {:.1} µs/record over it",
            ms / base.max(1e-9),
            (ms - base) * 1000.0 / read.max(1) as f64
        );
    }
}
