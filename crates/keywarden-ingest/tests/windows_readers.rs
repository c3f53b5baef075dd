//! Windows readers: EVTX files (real samples from EVTX-ATTACK-SAMPLES, GPL-3.0, read from
//! `shared/datasets/evtx-attack-samples/`), damaged copies of them built here, Sentinel
//! `SecurityEvent` rows (OTRF Security-Datasets, MIT) and Winlogbeat documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::PathBuf;

use keywarden_ingest::{
    BytesOutcome, IngestConfig, Processor, Quiet, Rejection, expand_inputs, ingest, ingest_bytes,
};
use keywarden_model::Event;
use serde_json::{Value as Json, json};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/evtx-attack-samples"
);
const GOLDEN_SAML: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/otrf-goldensaml-mail-access"
);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/windows");

/// A small real EVTX file: Security channel, 4624/4672/4688 logons of a lateral movement.
const LOGONS: &str = "Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx";
/// A one-chunk file of 30 records (5145 share access), for damage tests.
const SHARES: &str = "Lateral Movement/LM_REMCOM_5145_TargetHost.evtx";

/// What a test needs from each event.
#[derive(Default)]
struct Collect(Vec<Json>);

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        self.0.push(json!({
            "source": ev.source.as_str(),
            "format": ev.format,
            "line": ev.origin.line,
            "record_number": ev.origin.record_number,
            "fields": serde_json::to_value(&ev.fields).unwrap(),
            "sigma": {
                "EventID": ev.get("EventID").map(|v| v.to_json()),
                "Channel": ev.get("Channel").map(|v| v.to_json()),
                "Provider_Name": ev.get("Provider_Name").map(|v| v.to_json()),
                "Computer": ev.get("Computer").map(|v| v.to_json()),
                "TimeCreated": ev.get("TimeCreated").map(|v| v.to_json()),
                "EventRecordID": ev.get("EventRecordID").map(|v| v.to_json()),
            },
        }));
    }
}

fn read(name: &str, bytes: Vec<u8>) -> (BytesOutcome, Vec<Json>) {
    let mut c = Collect::default();
    let out = ingest_bytes(name, bytes, &IngestConfig::default(), &mut c);
    assert_eq!(
        out.counts.records,
        out.counts.events + out.counts.rejected,
        "{out:#?}"
    );
    assert_eq!(out.counts.events as usize, c.0.len());
    (out, c.0)
}

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{rel}")).unwrap()
}

fn positions(rejections: &[Rejection]) -> Vec<(Option<u64>, Option<u64>, &'static str)> {
    rejections
        .iter()
        .map(|r| (r.record_number, r.offset, r.code))
        .collect()
}

#[test]
fn evtx_records_are_flattened_for_sigma() {
    let (out, events) = read("logons.evtx", sample(LOGONS));
    assert_eq!(out.container, "evtx");
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert!(!events.is_empty());
    // Every record carries its EventRecordID as record number and the flattened names.
    for ev in &events {
        assert_eq!(ev["source"], "windows-event");
        assert_eq!(ev["format"], "evtx");
        assert!(ev["record_number"].is_u64());
        assert!(ev["sigma"]["EventID"].is_u64(), "{ev}");
        assert!(ev["sigma"]["Channel"].is_string(), "{ev}");
        assert!(ev["sigma"]["Provider_Name"].is_string(), "{ev}");
    }
    insta::assert_json_snapshot!("evtx_logons_first_records", &events[..events.len().min(3)]);
}

#[test]
fn every_attack_sample_parses_without_rejections() {
    let inputs = expand_inputs(&[PathBuf::from(SAMPLES)]).unwrap();
    let (report, procs) = ingest(&inputs, &IngestConfig::default(), Collect::default, &Quiet);
    assert!(report.balanced(), "{report:#?}");
    assert_eq!(report.rejected, 0, "{:#?}", report.rejections);
    let evtx: Vec<_> = report
        .inputs
        .iter()
        .filter(|i| i.format == "evtx")
        .collect();
    assert_eq!(evtx.len(), 277);
    assert!(
        evtx.iter()
            .all(|i| i.events > 0 && i.shapes.keys().all(|k| k == "evtx"))
    );
    // The licence and README beside the samples are listed as skipped, not read.
    assert_eq!(report.inputs.len() - evtx.len(), 2);
    let events: u64 = evtx.iter().map(|i| i.events).sum();
    assert_eq!(events, report.events);
    assert_eq!(
        procs.iter().map(|c| c.0.len() as u64).sum::<u64>(),
        report.events
    );
}

#[test]
fn truncated_evtx_keeps_what_it_can_and_rejects_the_cut() {
    let whole = sample(SHARES);
    let (_, original) = read("whole.evtx", whole.clone());
    let n = original.len() as u64;
    assert_eq!(n, 30);
    // Cut in the middle of the first chunk's records.
    let cut = 4096 + 65536 / 4;
    let (out, events) = read("cut.evtx", whole[..cut].to_vec());
    assert_eq!(out.container, "evtx");
    // The records before the cut are read (numbered 1..k, the same as in the whole file); the
    // cut itself is one rejection at the cut chunk's offset.
    let k = events.len();
    assert!(k > 0 && (k as u64) < n, "{k} of {n}");
    assert_eq!(&events[..], &original[..k]);
    let at_cut = &out.rejections;
    assert_eq!(at_cut.len(), 1, "{at_cut:#?}");
    assert_eq!(at_cut[0].record_number, Some(k as u64 + 1));
    assert!(at_cut[0].offset.is_some_and(|o| o > 4096 && o < cut as u64));
    assert!(
        at_cut[0].reason.contains("truncated"),
        "{}",
        at_cut[0].reason
    );
    // A file that ends 100 bytes into a second chunk (inside its header) loses no readable
    // record, but the damage is still reported at that chunk's offset.
    let mut longer = whole.clone();
    longer.extend_from_slice(&whole[4096..4196]);
    let (out, events) = read("cut2.evtx", longer);
    assert_eq!(events, original);
    assert_eq!(
        positions(&out.rejections),
        vec![(None, Some(4096 + 65536), "evtx")]
    );
    // A file cut inside its header is one rejection.
    let (out, events) = read("stub.evtx", whole[..100].to_vec());
    assert!(events.is_empty());
    assert_eq!(positions(&out.rejections), vec![(None, Some(0), "evtx")]);
}

#[test]
fn bit_flipped_evtx_records_are_rejected_not_trusted() {
    let whole = sample(SHARES);
    let (_, original) = read("whole.evtx", whole.clone());
    let n = original.len() as u64;
    // Flip one bit in the middle of the first chunk's records: the chunk's CRC32 no longer
    // matches, so each of its records is a rejection (its JSON kept), none an event.
    let mut flipped = whole.clone();
    flipped[4096 + 512 + 1000] ^= 0x10;
    let (out, events) = read("flipped.evtx", flipped);
    assert!(events.is_empty(), "{events:#?}");
    assert_eq!(out.counts.rejected, n);
    assert!(
        out.rejections
            .iter()
            .all(|r| r.code == "evtx" && r.reason.contains("CRC32"))
    );
    let numbers: Vec<u64> = out
        .rejections
        .iter()
        .filter_map(|r| r.record_number)
        .collect();
    assert_eq!(numbers, (1..=n).collect::<Vec<_>>());
    assert!(
        out.rejections
            .iter()
            .all(|r| r.offset.is_some_and(|o| o > 4096))
    );
    // A broken chunk magic makes the chunk unreadable: one rejection at its offset.
    let mut bad_magic = whole.clone();
    bad_magic[4096] = b'X';
    let (out, events) = read("magic.evtx", bad_magic);
    assert!(events.is_empty());
    assert_eq!(positions(&out.rejections), vec![(None, Some(4096), "evtx")]);
}

#[test]
fn sentinel_security_event_rows() {
    let bytes = std::fs::read(format!("{GOLDEN_SAML}/WindowsEvents.json")).unwrap();
    let (out, events) = read("WindowsEvents.json", bytes);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(events.len(), 38);
    assert!(events.iter().all(|e| e["source"] == "windows-event"));
    let logon = events
        .iter()
        .find(|e| e["fields"]["operation"] == "4624")
        .unwrap();
    insta::assert_json_snapshot!("sentinel_security_event_4624", logon);
}

#[test]
fn winlogbeat_documents() {
    let bytes = std::fs::read(format!("{FIXTURES}/winlogbeat.jsonl")).unwrap();
    let (out, events) = read("winlogbeat.jsonl", bytes);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(out.counts.shapes.get("windows-event-json"), Some(&2));
    insta::assert_json_snapshot!("winlogbeat_documents", events);
}
