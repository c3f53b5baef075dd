//! Fuzzes the readers' damage paths on real files: a real EVTX file (its header and first
//! chunk, from `../shared/datasets/evtx-attack-samples`), real UAL CSV exports (the crate's
//! fixtures and a slice of `../shared/datasets/huntress-ctf-2023-purview`) and a truncated
//! gzip export are cut short and have bytes overwritten where the input says, then read
//! sniffed and with their format forced. Arbitrary bytes rarely get past an EVTX chunk header
//! or a CSV export header; these inputs start valid and are damaged the way disks and partial
//! copies damage them. Every record must be an event or a rejection, and no damage may add
//! events: a cut file yields at most the events of the whole one.
//!
//! Input: byte 0 picks the sample, bytes 1..4 the cut (a fraction of its length, `0xffffff`
//! keeps it whole), then 4-byte patches (a 24-bit offset into the sample, then a byte to XOR).
#![no_main]

use std::sync::OnceLock;

use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;

/// EVTX samples: the file header (4096 bytes) and the first chunk (65536 bytes).
const EVTX: [&str; 3] = [
    "../shared/datasets/evtx-attack-samples/Execution/exec_sysmon_1_ftp.evtx",
    "../shared/datasets/evtx-attack-samples/Defense Evasion/DE_1102_security_log_cleared.evtx",
    "../shared/datasets/evtx-attack-samples/Execution/temp_scheduled_task_4698_4699.evtx",
];
const EVTX_PREFIX: usize = 4096 + 65536;
/// CSV exports and the size of the slice kept of each.
const CSV: [(&str, usize); 5] = [
    (
        "crates/keywarden-ingest/tests/fixtures/ual/purview-8col.csv",
        8192,
    ),
    (
        "crates/keywarden-ingest/tests/fixtures/ual/purview-4col.csv",
        8192,
    ),
    (
        "crates/keywarden-ingest/tests/fixtures/ual/search-unifiedauditlog.csv",
        8192,
    ),
    (
        "crates/keywarden-ingest/tests/fixtures/ual/sentinel-office-activity.csv",
        8192,
    ),
    (
        "../shared/datasets/huntress-ctf-2023-purview/purview.csv",
        16_384,
    ),
];
const GZIP: &str = "crates/keywarden-ingest/tests/fixtures/hostile/ual-truncated.csv.gz";

struct Sample {
    bytes: Vec<u8>,
    format: Format,
    /// Events read from the undamaged sample.
    events: u64,
}

fn config(format: Option<Format>) -> IngestConfig {
    IngestConfig {
        format,
        max_record_bytes: 64 * 1024,
        threads: 1,
        ..IngestConfig::default()
    }
}

/// The samples, read once; a path that is missing (no `../shared` checkout) is skipped.
fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        // Paths are relative to the repository root; `../shared` is beside it.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
        let mut wanted: Vec<(String, usize, Format)> = EVTX
            .iter()
            .map(|p| (format!("{root}{p}"), EVTX_PREFIX, Format::Evtx))
            .collect();
        for (p, len) in CSV {
            wanted.push((format!("{root}{p}"), len, Format::PurviewCsv));
        }
        wanted.push((format!("{root}{GZIP}"), usize::MAX, Format::PurviewCsv));
        wanted
            .into_iter()
            .filter_map(|(path, len, format)| {
                let mut bytes = std::fs::read(path).ok()?;
                bytes.truncate(len);
                let events = ingest_bytes("whole", bytes.clone(), &config(None), &mut Discard)
                    .counts
                    .events;
                Some(Sample {
                    bytes,
                    format,
                    events,
                })
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let samples = samples();
    let [pick, c0, c1, c2, patches @ ..] = data else {
        return;
    };
    let Some(sample) = samples.get(usize::from(*pick) % samples.len().max(1)) else {
        return;
    };
    let mut bytes = sample.bytes.clone();
    let cut = u32::from_le_bytes([*c0, *c1, *c2, 0]);
    let whole = cut == 0xff_ffff;
    if !whole {
        bytes.truncate((bytes.len() as u64 * u64::from(cut) / 0xff_ffff) as usize);
    }
    for p in patches.chunks_exact(4).take(64) {
        let at = u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize;
        if let Some(b) = bytes.get_mut(at) {
            *b ^= p[3];
        }
    }
    for format in [None, Some(sample.format)] {
        let out = ingest_bytes("damaged", bytes.clone(), &config(format), &mut Discard);
        assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
        assert_eq!(out.counts.rejected as usize, out.rejections.len());
        if format.is_none() && patches.len() < 4 && sample.format == Format::Evtx {
            assert!(
                out.counts.events <= sample.events,
                "cutting an EVTX file added events: {} > {}",
                out.counts.events,
                sample.events
            );
        }
    }
});
