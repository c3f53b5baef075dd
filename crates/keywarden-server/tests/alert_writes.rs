//! The writer's incremental alert writes ([`AlertBook`]) leave the store exactly as the full
//! rewrite did (read every stored alert, apply the changes, regroup with `assign_incidents`,
//! upsert every alert and replace the incident table): the same alert bodies in the same
//! paging order and the same incident rows, batch after batch — through new alerts, an
//! extended alert, two incidents merged by a later alert, a regroup that splits one, and a
//! restart (a fresh book loaded from the store) — while writing only the rows that changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]
use keywarden_detect::assign_incidents;
use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_server::runtime::alert_book::{AlertBook, WriteCounts};
use keywarden_store::{IncidentRow, Store, StoreConfig};

fn alert(id: &str, sev: Severity, token: Option<&str>, ip: Option<&str>, t: i64) -> Alert {
    let mut a = Alert::new("ioc-ip", "test", sev);
    a.id = id.into();
    a.token_id = token.map(Into::into);
    a.client_ip = ip.map(Into::into);
    a.time_first = Some(Timestamp(t));
    a.time_last = Some(Timestamp(t));
    a
}

/// The writer's code before the book: everything read, regrouped and written again.
fn full_rewrite(store: &mut Store, changed: &[Alert], now: i64) {
    let mut all = store.all_alerts().unwrap();
    for a in changed {
        match all.iter().position(|b| b.id == a.id) {
            Some(i) => all[i] = a.clone(),
            None => all.push(a.clone()),
        }
    }
    let rows: Vec<IncidentRow> = assign_incidents(&mut all)
        .iter()
        .map(|i| IncidentRow {
            id: i.id.clone(),
            severity: i.severity,
            time_first: i.first,
            time_last: i.last,
            alerts: i.alerts.len() as u64,
        })
        .collect();
    store.write_detections(&all, &rows, now).unwrap();
}

fn same_tables(new: &Store, old: &Store) {
    assert_eq!(new.all_alerts().unwrap(), old.all_alerts().unwrap());
    assert_eq!(new.all_incidents().unwrap(), old.all_incidents().unwrap());
}

fn incident_of(store: &Store, id: &str) -> Option<String> {
    store
        .all_alerts()
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .and_then(|a| a.incident_id)
}

#[test]
fn incremental_writes_equal_the_full_rewrite_batch_after_batch() {
    let (d_new, d_old) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut new = StoreConfig::new(d_new.path()).build().unwrap();
    let mut old = StoreConfig::new(d_old.path()).build().unwrap();
    let mut book = AlertBook::default();
    let high = Severity::High;
    let batches: Vec<Vec<Alert>> = vec![
        // Two incidents: token t1, token t2.
        vec![
            alert("a", high, Some("t1"), None, 10),
            alert("b", high, Some("t2"), None, 20),
        ],
        // An unrelated lead (medium: its IP does not link).
        vec![alert("c", Severity::Medium, None, Some("203.0.113.9"), 30)],
        // `a` extended; a new alert joins t2's incident.
        vec![
            alert("a", high, Some("t1"), None, 40),
            alert("d", high, Some("t2"), Some("198.51.100.7"), 50),
        ],
        // A later alert on t1 sharing d's IP: the two incidents merge.
        vec![alert("e", high, Some("t1"), Some("198.51.100.7"), 60)],
        // `e` regraded to medium: its IP no longer links, the merged incident splits again.
        vec![alert(
            "e",
            Severity::Medium,
            Some("t1"),
            Some("198.51.100.7"),
            70,
        )],
        // Regrade back (merge again), plus a new standalone alert, in one batch.
        vec![
            alert("e", high, Some("t1"), Some("198.51.100.7"), 80),
            alert("f", high, Some("t9"), None, 90),
        ],
        // Nothing regroups: only `f` is rewritten.
        vec![alert("f", high, Some("t9"), None, 100)],
    ];
    let mut counts = Vec::new();
    for (n, batch) in batches.iter().enumerate() {
        let now = n as i64 + 1;
        // A restart half-way: a fresh book reads the store back.
        if n == 5 {
            book = AlertBook::default();
        }
        let (out, c) = book.write(&mut new, batch, now).unwrap();
        full_rewrite(&mut old, batch, now);
        same_tables(&new, &old);
        // Each changed alert comes back with its stored incident.
        for a in &out {
            assert_eq!(a.incident_id, incident_of(&new, &a.id));
        }
        assert_eq!(
            out.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            batch.iter().map(|a| a.id.as_str()).collect::<Vec<_>>()
        );
        counts.push(c);
    }
    // The merge (batch 4) rewrote the alerts of both former incidents (a; b, d) and the new
    // one, not the unrelated lead, and replaced their two incident rows with one; the last
    // batch touched one alert and updated one incident's times.
    assert_eq!(
        counts[3],
        WriteCounts {
            alerts: 4,
            incidents: 1,
            removed: 2
        }
    );
    assert_eq!(
        counts[6],
        WriteCounts {
            alerts: 1,
            incidents: 1,
            removed: 0
        }
    );
    assert_eq!(incident_of(&new, "a"), incident_of(&new, "b"));
    assert_ne!(incident_of(&new, "a"), incident_of(&new, "c"));
    // And the store agrees with a regroup of its own alerts.
    let mut stored = new.all_alerts().unwrap();
    let regrouped = assign_incidents(&mut stored);
    assert_eq!(stored, new.all_alerts().unwrap());
    assert_eq!(regrouped.len(), new.all_incidents().unwrap().len());
    assert_eq!(book.len(), 6);
}

#[test]
fn a_stale_incident_table_is_corrected_on_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreConfig::new(dir.path()).build().unwrap();
    let a = alert("a", Severity::High, Some("t1"), None, 1);
    // Written without a regroup: no incident id, and an incident row that matches nothing.
    let ghost = IncidentRow {
        id: "inc-ghost".into(),
        severity: Severity::Low,
        time_first: None,
        time_last: None,
        alerts: 3,
    };
    store.write_detections(&[a], &[ghost], 1).unwrap();
    let mut book = AlertBook::default();
    let b = alert("b", Severity::High, Some("t2"), None, 2);
    let (_, c) = book.write(&mut store, &[b], 2).unwrap();
    assert_eq!(
        c,
        WriteCounts {
            alerts: 2,
            incidents: 2,
            removed: 1
        }
    );
    let mut all = store.all_alerts().unwrap();
    let rows = assign_incidents(&mut all);
    assert_eq!(all, store.all_alerts().unwrap());
    let ids: Vec<String> = store
        .all_incidents()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut want: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    want.sort();
    assert_eq!(ids, want);
}

/// Alerts that share a record are one incident whatever their severity (link kind 3 in
/// `incident_links`): the book merges and splits through records exactly as the full rewrite
/// does, and an aggregate rule's records link nothing.
#[test]
fn shared_records_merge_and_split_as_in_the_full_rewrite() {
    let (d_new, d_old) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut new = StoreConfig::new(d_new.path()).build().unwrap();
    let mut old = StoreConfig::new(d_old.path()).build().unwrap();
    let mut book = AlertBook::default();
    let low = |id: &str, records: &[u64], t: i64| {
        let mut a = alert(id, Severity::Low, None, None, t);
        a.record_ids = records.iter().map(|&r| record(r)).collect();
        a
    };
    let mut volume = low("v", &[1, 2], 50);
    volume.rule_id = "mailbox-volume-anomaly".into();
    let batches: Vec<Vec<Alert>> = vec![
        // Two leads on different records: two incidents.
        vec![low("p", &[1], 10), low("q", &[2], 20)],
        // A lead on both records: one incident of three.
        vec![low("s", &[1, 2], 30)],
        // `s` now names another record only: the incident splits into three.
        vec![low("s", &[3], 40)],
        // An aggregate over both records joins nothing.
        vec![volume],
    ];
    let mut counts = Vec::new();
    for (n, batch) in batches.iter().enumerate() {
        let now = n as i64 + 1;
        let (_, c) = book.write(&mut new, batch, now).unwrap();
        full_rewrite(&mut old, batch, now);
        same_tables(&new, &old);
        counts.push(c);
        if n == 1 {
            assert_eq!(incident_of(&new, "p"), incident_of(&new, "q"));
            assert_eq!(incident_of(&new, "p"), incident_of(&new, "s"));
        }
    }
    assert_eq!(counts[1].removed, 2, "{counts:?}");
    for (x, y) in [("p", "q"), ("p", "s"), ("q", "s"), ("p", "v"), ("q", "v")] {
        assert_ne!(incident_of(&new, x), incident_of(&new, y), "{x} {y}");
    }
    assert_eq!(new.all_incidents().unwrap().len(), 4);
}

/// Pseudo-random batches (a fixed LCG seed): alerts created and changed at random over small
/// pools of tokens, sessions, IPs and record ids, with severities that turn IP links on and off, so
/// incidents merge and split in every way; after every batch the store must equal the full
/// rewrite's, with a restart every 25 batches.
#[test]
fn random_batches_equal_the_full_rewrite() {
    let (d_new, d_old) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut new = StoreConfig::new(d_new.path()).build().unwrap();
    let mut old = StoreConfig::new(d_old.path()).build().unwrap();
    let mut book = AlertBook::default();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let sevs = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    let mut merges = 0;
    for n in 0..100u64 {
        if n % 25 == 24 {
            book = AlertBook::default();
        }
        let mut batch = Vec::new();
        for _ in 0..1 + next(4) {
            let id = format!("a{}", next(80));
            let token = (next(3) > 0).then(|| format!("t{}", next(40)));
            let ip = (next(2) == 0).then(|| format!("198.51.100.{}", next(15)));
            let mut a = alert(
                &id,
                sevs[next(4) as usize],
                token.as_deref(),
                ip.as_deref(),
                n as i64,
            );
            if next(4) == 0 {
                a.session_id = Some(format!("s{}", next(20)));
            }
            if next(3) == 0 {
                a.record_ids = (0..1 + next(3)).map(|_| record(next(60))).collect();
            }
            if next(10) == 0 {
                a.rule_id = "mailbox-volume-anomaly".into();
            }
            batch.push(a);
        }
        let (_, c) = book.write(&mut new, &batch, n as i64).unwrap();
        if c.removed >= 2 {
            merges += 1;
        }
        full_rewrite(&mut old, &batch, n as i64);
        same_tables(&new, &old);
    }
    assert!(merges > 0, "no batch merged incidents");
}

/// A record id that links (shaped like a GUID, as audit and sign-in ids are): number `n`.
fn record(n: u64) -> String {
    format!("{n:08x}-1c53-403e-976f-ce0847a92b44")
}
