//! Cost of storing one batch's changed alerts as the alert table grows (run with
//! `cargo bench -p keywarden-server --bench alert_writes`).
//!
//! For 1 000 and 20 000 stored alerts (realistic-sized bodies, in incidents of 4 joined by a
//! token), each round changes two alerts — one existing alert extended, one new alert joining
//! an existing incident — and stores them two ways on two stores of the same contents:
//!
//! - baseline, the writer's code before the alert book: read and parse every stored alert,
//!   apply the changes, regroup with `assign_incidents`, upsert every alert and replace the
//!   incident table (`Store::write_detections`);
//! - the [`AlertBook`]: the same regroup over its in-memory copy, writing only the changed
//!   rows (`Store::write_detection_changes`).
//!
//! Prints the median time per write of each and the baseline/book ratio. Both commit with
//! `synchronous=FULL`, so each includes one fsync.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::time::{Duration, Instant};

use keywarden_detect::assign_incidents;
use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_server::runtime::alert_book::AlertBook;
use keywarden_store::{IncidentRow, Store, StoreConfig};

const ROUNDS: usize = 15;

fn alert(i: usize, t: i64) -> Alert {
    let mut a = Alert::new("ioc-ip", "Sign-in from a Storm-0558 IP", Severity::High);
    a.id = format!("live-{i:016x}");
    a.user = Some(format!("user{}@contoso.com", i / 4));
    a.mailbox = a.user.clone();
    a.token_id = Some(format!("token-{}", i / 4));
    a.client_ip = Some(format!("198.51.{}.{}", (i / 250) % 250, i % 250));
    a.time_first = Some(Timestamp(t));
    a.time_last = Some(Timestamp(t + 1));
    a.attack = vec!["T1078.004".into()];
    a.record_ids = (0..8).map(|r| format!("rec-{i}-{r}")).collect();
    a.evidence = serde_json::json!({"ips": [a.client_ip], "count": 8});
    a
}

fn incident_rows(alerts: &mut [Alert]) -> Vec<IncidentRow> {
    assign_incidents(alerts)
        .iter()
        .map(|i| IncidentRow {
            id: i.id.clone(),
            severity: i.severity,
            time_first: i.first,
            time_last: i.last,
            alerts: i.alerts.len() as u64,
        })
        .collect()
}

fn full_rewrite(store: &mut Store, changed: &[Alert], now: i64) {
    let mut all = store.all_alerts().expect("read alerts");
    let index: std::collections::HashMap<String, usize> = all
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    for a in changed {
        match index.get(&a.id) {
            Some(&i) => all[i] = a.clone(),
            None => all.push(a.clone()),
        }
    }
    let rows = incident_rows(&mut all);
    store.write_detections(&all, &rows, now).expect("write");
}

fn seeded(dir: &std::path::Path, n: usize) -> Store {
    let mut store = StoreConfig::new(dir).build().expect("store");
    let mut alerts: Vec<Alert> = (0..n).map(|i| alert(i, i as i64 * 1_000)).collect();
    let rows = incident_rows(&mut alerts);
    store.write_detections(&alerts, &rows, 0).expect("seed");
    store
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    println!("stored alerts | full rewrite (median) | alert book (median) | ratio");
    for n in [1_000usize, 20_000] {
        let (d_old, d_new) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let mut old = seeded(d_old.path(), n);
        let mut new = seeded(d_new.path(), n);
        let mut book = AlertBook::default();
        book.load(&new).expect("load");
        let (mut t_old, mut t_new) = (Vec::new(), Vec::new());
        for r in 0..ROUNDS {
            let now = r as i64 + 1;
            // An existing alert extended, and a new one on an existing incident's token.
            let mut extended = alert((r * 37) % n, 0);
            extended.time_last = Some(Timestamp(10_000_000 + r as i64));
            let mut fresh = alert(n + r, 5_000_000);
            fresh.token_id = Some(format!("token-{}", (r * 53) % (n / 4)));
            let changed = vec![extended, fresh];
            let t0 = Instant::now();
            full_rewrite(&mut old, &changed, now);
            t_old.push(t0.elapsed());
            let t0 = Instant::now();
            book.write(&mut new, &changed, now).expect("book write");
            t_new.push(t0.elapsed());
        }
        assert_eq!(
            old.all_incidents().expect("incidents"),
            new.all_incidents().expect("incidents")
        );
        let (mo, mn) = (median(t_old), median(t_new));
        println!(
            "{n:>13} | {:>18.2} ms | {:>16.2} ms | {:>5.1}x",
            mo.as_secs_f64() * 1e3,
            mn.as_secs_f64() * 1e3,
            mo.as_secs_f64() / mn.as_secs_f64().max(1e-9)
        );
    }
}
