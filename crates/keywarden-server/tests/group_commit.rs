//! The writer's group commit over a real store: every submission of a group gets its own
//! answer (a body refused before the commit, a duplicate key and an alerting record among them),
//! and bodies queued together are committed in groups, in queue order, each answered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_ingest::IngestConfig;
use keywarden_model::Timestamp;
use keywarden_server::runtime::parse::{ParseStage, Parsed};
use keywarden_server::runtime::queue::request_key;
use keywarden_server::runtime::writer::Writer;
use keywarden_server::{
    IngestAnswer, IngestFailure, LiveDetector, LiveLimits, LiveState, ManualClock, Submission,
};
use tokio::sync::oneshot;

fn record(id: &str, ip: &str) -> String {
    format!(
        concat!(
            r#"{{"Id":"{id}","RecordType":50,"CreationTime":"2023-06-05T10:00:00","#,
            r#""Operation":"MailItemsAccessed","OrganizationId":"tenant-1","#,
            r#""UserId":"alice@contoso.com","ClientIPAddress":"{ip}","Workload":"Exchange"}}"#,
            "\n"
        ),
        id = id,
        ip = ip
    )
}

fn pipeline(dir: &std::path::Path) -> Writer {
    let settings = keywarden_detect::DetectConfig::default().build().unwrap();
    Writer {
        store: keywarden_store::StoreConfig::new(dir).build().unwrap(),
        detector: LiveDetector::new(settings, LiveLimits::default(), LiveState::default()),
        clock: Arc::new(ManualClock::at(Timestamp(1_700_000_000_000_000))),
        metrics: Arc::default(),
        ingest: IngestConfig {
            threads: 1,
            ..IngestConfig::default()
        },
        max_decompressed_bytes: 1 << 20,
        state_interval: Duration::from_secs(5),
        retention: None,
        alerts_out: None,
        parse_threads: 2,
        checkpointer: Some(keywarden_store::StoreConfig::new(dir).reader().unwrap()),
        alert_book: Default::default(),
    }
}

type Reply = oneshot::Receiver<Result<IngestAnswer, IngestFailure>>;

fn parsed(stage: &ParseStage, name: &str, key: Option<&str>, body: &str) -> (Parsed, Reply) {
    let (tx, rx) = oneshot::channel();
    let p = Parsed {
        source: "http".into(),
        name: name.into(),
        request_key: key.map(|k| request_key("key:0123456789ab", k, body.as_bytes())),
        offset: None,
        arrived: Instant::now(),
        reply: tx,
        body: stage.parse(name, body.as_bytes().to_vec(), None),
        rest: None,
    };
    (p, rx)
}

#[test]
fn each_submission_of_a_group_gets_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let stage = p.parse_stage();
    let two = record("a1", "198.51.100.1") + &record("a2", "198.51.100.2");
    let (a, ra) = parsed(&stage, "req-a", Some("k1"), &two);
    // Decompresses past the cap: refused before the commit.
    let big = " ".repeat((1 << 20) + 1);
    let (big, rbig) = parsed(&stage, "req-big", None, &big);
    let mixed = record("b1", "198.51.100.3") + "{not json\n";
    let (b, rb) = parsed(&stage, "req-b", None, &mixed);
    // Storm-0558 infrastructure: raises an alert after the commit.
    let (ioc, rioc) = parsed(&stage, "req-ioc", None, &record("c1", "146.70.135.182"));
    let (again, ragain) = parsed(&stage, "req-a-retry", Some("k1"), &two);
    p.commit_group(vec![a, big, b, ioc, again]);

    let a = ra.blocking_recv().unwrap().unwrap();
    assert_eq!((a.accepted, a.rejected, a.duplicate), (2, 0, false));
    assert!(matches!(
        rbig.blocking_recv().unwrap(),
        Err(IngestFailure::TooLarge { limit }) if limit == 1 << 20
    ));
    let b = rb.blocking_recv().unwrap().unwrap();
    assert_eq!((b.accepted, b.rejected, b.duplicate), (1, 1, false));
    assert_eq!(b.rejections.len(), 1);
    assert_eq!(b.rejections[0].path, "req-b");
    let ioc = rioc.blocking_recv().unwrap().unwrap();
    assert_eq!((ioc.accepted, ioc.duplicate), (1, false));
    let again = ragain.blocking_recv().unwrap().unwrap();
    assert!(again.duplicate);
    assert_eq!((again.batch_id, again.accepted), (a.batch_id, 2));
    assert!(a.batch_id < b.batch_id && b.batch_id < ioc.batch_id);

    let s = p.store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.batches), (4, 1, 3));
    let ioc_alerts: Vec<_> = p
        .store
        .all_alerts()
        .unwrap()
        .into_iter()
        .filter(|a| a.rule_id == "ioc-ip")
        .collect();
    assert_eq!(ioc_alerts.len(), 1);
    let m = &p.metrics;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get(&m.commits), 4);
    assert_eq!(get(&m.ingest_duplicates), 1);
    assert_eq!(get(&m.ingest_events), 4);
    assert_eq!(get(&m.errors), 1);
    assert_eq!(get(&m.commit_groups), 1);
}

#[test]
fn queued_bodies_are_committed_in_queue_order_and_all_answered() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let metrics = p.metrics.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    let mut replies = Vec::new();
    // Queued before the writer starts, so they are coalesced into groups.
    for i in 0..20usize {
        // Body sizes vary so that the parse threads finish out of order; the last five are
        // retries of the first five (same key, same body).
        let n = i % 15;
        let body: String = (0..(20 - n) * 50)
            .map(|j| record(&format!("r{n}-{j}"), "198.51.100.9"))
            .collect();
        let key = request_key("key:0123456789ab", &format!("key-{n}"), body.as_bytes());
        let (reply, answer) = oneshot::channel();
        tx.send(Submission {
            source: "http".into(),
            name: format!("req-{i}"),
            body: body.into_bytes(),
            format: None,
            request_key: Some(key),
            offset: None,
            arrived: Instant::now(),
            reply,
        })
        .unwrap();
        replies.push(answer);
    }
    drop(tx);
    let writer = p.start(rx).unwrap();
    let answers: Vec<IngestAnswer> = replies
        .into_iter()
        .map(|r| r.blocking_recv().unwrap().unwrap())
        .collect();
    writer.join().unwrap();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.accepted, ((20 - i % 15) * 50) as u64, "request {i}");
        assert_eq!(a.duplicate, i >= 15, "request {i}");
    }
    // Batch ids follow queue order.
    let ids: Vec<i64> = answers.iter().take(15).map(|a| a.batch_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Fewer transactions than batches: they were grouped.
    let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get(&metrics.commits), 20);
    let groups = get(&metrics.commit_groups);
    assert!((1..20).contains(&groups), "{groups} transactions");
    let store = keywarden_store::StoreConfig::new(dir.path())
        .reader()
        .unwrap();
    let expected: u64 = (0..15usize).map(|i| ((20 - i) * 50) as u64).sum();
    assert_eq!(store.stats().unwrap().events, expected);
}
