//! Same seed, same bytes; another seed, another tenant; and the benign part of a run does not
//! depend on whether an attack is staged.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{files, read_back, simulate};
use keywarden_sim::{Attack, Shape};

/// Relative path and contents of every file.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("under dir")
                .display()
                .to_string();
            let bytes = std::fs::read(&p).expect("read");
            (rel, bytes)
        })
        .collect()
}

#[test]
fn same_seed_same_bytes() {
    let (a, ra) = simulate(42, 10, 8, Attack::Storm0558, &[]);
    let (b, rb) = simulate(42, 10, 8, Attack::Storm0558, &[]);
    assert_eq!(snapshot(a.path()), snapshot(b.path()));
    assert_eq!(ra.truth, rb.truth);
    let (c, rc) = simulate(43, 10, 8, Attack::Storm0558, &[]);
    assert_ne!(snapshot(a.path()), snapshot(c.path()));
    assert_ne!(ra.truth.tenant, rc.truth.tenant);
}

#[test]
fn benign_records_do_not_depend_on_the_attack() {
    let shapes = [Shape::UalJson, Shape::SigninGraph];
    let (with, report) = simulate(9, 10, 9, Attack::Storm0558, &shapes);
    let (without, _) = simulate(9, 10, 9, Attack::None, &shapes);
    let ids = |d: &Path| -> BTreeSet<String> { read_back(d).events.into_keys().collect() };
    let with_ids = ids(with.path());
    let attacker: BTreeSet<String> = report.truth.attacker_record_ids.iter().cloned().collect();
    let benign: BTreeSet<String> = with_ids.difference(&attacker).cloned().collect();
    assert_eq!(benign, ids(without.path()));
    assert!(attacker.is_subset(&with_ids));
}

#[test]
fn every_day_is_written_in_its_rotated_shape() {
    let (dir, report) = simulate(5, 6, 9, Attack::None, &[]);
    let shapes: BTreeSet<&str> = report.files.iter().map(|f| f.shape).collect();
    for s in Shape::ALL {
        assert!(shapes.contains(s.as_str()), "{s} missing from a mixed run");
    }
    let on_disk = files(dir.path()).len();
    assert_eq!(on_disk, report.files.len());
    let total: u64 = report.files.iter().map(|f| f.records).sum();
    assert_eq!(total, report.records);
}
