//! Helpers shared by the simulator's integration tests: run a simulation into a temporary
//! directory and read every file it wrote back through `keywarden_ingest`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keywarden_ingest::{IngestConfig, Processor, ingest_bytes};
use keywarden_model::{Event, SourceKind, Timestamp};
use keywarden_sim::{Attack, Shape, SimConfig, SimReport, Simulation};

/// The owned fields of one event that the tests look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub source: SourceKind,
    pub format: &'static str,
    pub time: Option<Timestamp>,
    pub token_id: Option<String>,
    pub token_tenant: Option<String>,
    pub operation: Option<String>,
    pub mail_access_type: Option<String>,
    pub throttled: Option<bool>,
    pub mailbox_owner: Option<String>,
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub logon_type: Option<i64>,
    /// `(folder path, message ids)`.
    pub folders: Vec<(Option<String>, Vec<String>)>,
}

#[derive(Default)]
struct Collect {
    events: Vec<(String, Seen)>,
}

impl Processor for Collect {
    fn process(&mut self, e: &Event<'_>) {
        let f = &e.fields;
        let s = |t: &Option<std::borrow::Cow<'_, str>>| t.as_deref().map(str::to_string);
        self.events.push((
            e.record_ref(),
            Seen {
                source: e.source,
                format: e.format,
                time: f.time,
                token_id: s(&f.token_id),
                token_tenant: s(&f.token_tenant),
                operation: s(&f.operation),
                mail_access_type: s(&f.mail_access_type),
                throttled: f.throttled,
                mailbox_owner: s(&f.mailbox_owner),
                user: s(&f.user),
                client_ip: s(&f.client_ip),
                logon_type: f.logon_type,
                folders: f
                    .folders
                    .iter()
                    .map(|x| {
                        (
                            s(&x.path),
                            x.message_ids.iter().map(|m| m.to_string()).collect(),
                        )
                    })
                    .collect(),
            },
        ));
    }
}

/// Every file under `dir`, sorted, relative paths.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The result of reading a simulation back.
pub struct ReadBack {
    /// Record id → what the reader extracted (ids are unique across the whole run).
    pub events: BTreeMap<String, Seen>,
    pub records: u64,
    pub rejections: Vec<String>,
    /// Records per reader format name.
    pub formats: BTreeMap<&'static str, u64>,
}

/// Reads every file under `dir` through the real readers.
pub fn read_back(dir: &Path) -> ReadBack {
    let cfg = IngestConfig::default();
    let mut back = ReadBack {
        events: BTreeMap::new(),
        records: 0,
        rejections: Vec::new(),
        formats: BTreeMap::new(),
    };
    for path in files(dir) {
        let bytes = std::fs::read(&path).expect("read");
        let name = path.display().to_string();
        let mut c = Collect::default();
        let outcome = ingest_bytes(&name, bytes, &cfg, &mut c);
        assert!(
            outcome.skipped.is_none(),
            "{name} skipped: {:?}",
            outcome.skipped
        );
        back.records += outcome.counts.records;
        for r in outcome.rejections {
            back.rejections.push(format!("{name}: {r:?}"));
        }
        for (id, seen) in c.events {
            *back.formats.entry(seen.format).or_default() += 1;
            let dup = back.events.insert(id.clone(), seen);
            assert!(dup.is_none(), "record id {id} appears twice");
        }
    }
    back
}

/// Simulates into a fresh temporary directory.
pub fn simulate(
    seed: u64,
    users: u32,
    days: u32,
    attack: Attack,
    shapes: &[Shape],
) -> (tempfile::TempDir, SimReport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SimConfig {
        seed,
        users,
        days,
        attack,
        shapes: shapes.to_vec(),
        ..SimConfig::default()
    };
    let report = Simulation::new(&config)
        .expect("valid config")
        .write_to(dir.path())
        .expect("simulation writes");
    (dir, report)
}
