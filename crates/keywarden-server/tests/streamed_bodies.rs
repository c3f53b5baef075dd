//! Bodies larger than one piece: parsed in pieces, committed piece by piece in one
//! transaction, detected after the commit from the stored rows, answered once; a body refused
//! part-way (decompression cap) leaves nothing behind, and the bodies queued around it are
//! unaffected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden_ingest::IngestConfig;
use keywarden_model::Timestamp;
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

fn pipeline(dir: &std::path::Path, cap: usize) -> Writer {
    let settings = keywarden_detect::DetectConfig::default().build().unwrap();
    Writer {
        store: keywarden_store::StoreConfig::new(dir).build().unwrap(),
        detector: LiveDetector::new(settings, LiveLimits::default(), LiveState::default()),
        clock: Arc::new(ManualClock::at(Timestamp(1_700_000_000_000_000))),
        metrics: Arc::default(),
        // Pieces of 64 KiB (estimated): every body below but the last is streamed.
        ingest: IngestConfig {
            threads: 1,
            chunk_bytes: 64 * 1024,
            max_input_bytes: 256 * 1024,
            ..IngestConfig::default()
        },
        max_decompressed_bytes: cap,
        state_interval: Duration::from_secs(5),
        retention: None,
        alerts_out: None,
        parse_threads: 2,
        checkpointer: None,
        alert_book: Default::default(),
    }
}

type Reply = oneshot::Receiver<Result<IngestAnswer, IngestFailure>>;

fn submit(
    tx: &std::sync::mpsc::SyncSender<Submission>,
    name: &str,
    key: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let (reply, answer) = oneshot::channel();
    let request_key = key.map(|k| request_key("key:0123456789ab", k, &body));
    tx.send(Submission {
        source: "http".into(),
        name: name.into(),
        body,
        format: None,
        request_key,
        offset: None,
        arrived: Instant::now(),
        reply,
    })
    .unwrap();
    answer
}

#[test]
fn large_bodies_are_committed_in_pieces_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), 1 << 20);
    let (tx, rx) = std::sync::mpsc::sync_channel(16);
    let writer = p.start(rx).unwrap();

    // 3 000 records (~700 KB, a dozen pieces) with a damaged line every 1 000, and a
    // Storm-0558 infrastructure address in the last record: its alert is raised from the
    // stored rows after the commit.
    let mut big = String::new();
    for i in 0..3000 {
        big.push_str(&record(&format!("big-{i}"), "198.51.100.7"));
        if i % 1000 == 0 {
            big.push_str("{damaged\n");
        }
    }
    big.push_str(&record("big-ioc", "146.70.135.182"));
    let r_big = submit(&tx, "big", Some("k-big"), big.clone().into_bytes());
    // Decompresses past the 1 MiB cap after several pieces were written: rolled back whole.
    let over: String = (0..6000)
        .map(|i| record(&format!("over-{i}"), "198.51.100.8"))
        .collect();
    assert!(over.len() > 1 << 20);
    let zst = zstd::stream::encode_all(over.as_bytes(), 3).unwrap();
    let r_over = submit(&tx, "over", None, zst);
    // A JSON array is read whole: past `max_input_bytes` it is refused, not half-read.
    let array = format!(
        "[{}]",
        (0..2000)
            .map(|i| record(&format!("arr-{i}"), "198.51.100.9")
                .trim_end()
                .to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(array.len() > 256 * 1024);
    let r_array = submit(&tx, "array", None, array.into_bytes());
    let r_small = submit(
        &tx,
        "small",
        None,
        record("small-1", "198.51.100.10").into_bytes(),
    );
    let r_again = submit(&tx, "big-retry", Some("k-big"), big.into_bytes());
    drop(tx);

    let big = r_big.blocking_recv().unwrap().unwrap();
    assert_eq!(
        (big.accepted, big.rejected, big.duplicate),
        (3001, 3, false)
    );
    assert_eq!(big.rejections.len(), 3);
    assert!(
        big.rejections
            .iter()
            .all(|r| r.path == "big" && r.line.is_some())
    );
    assert!(matches!(
        r_over.blocking_recv().unwrap(),
        Err(IngestFailure::TooLarge { limit }) if limit == 1 << 20
    ));
    assert!(matches!(
        r_array.blocking_recv().unwrap(),
        Err(IngestFailure::WholeTooLarge { limit }) if limit == 256 * 1024
    ));
    let small = r_small.blocking_recv().unwrap().unwrap();
    assert_eq!(small.accepted, 1);
    assert!(small.batch_id > big.batch_id);
    let again = r_again.blocking_recv().unwrap().unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.batch_id, again.accepted, again.rejected),
        (big.batch_id, 3001, 3)
    );
    writer.join().unwrap();

    let store = keywarden_store::StoreConfig::new(dir.path())
        .reader()
        .unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.events, s.rejected, s.batches), (3002, 3, 2));
    assert_eq!(store.count_record_ref("over-0").unwrap_or(0), 0);
    let ioc: Vec<_> = store
        .all_alerts()
        .unwrap()
        .into_iter()
        .filter(|a| a.rule_id == "ioc-ip")
        .collect();
    assert_eq!(ioc.len(), 1, "the alert of the big body's last record");
}
