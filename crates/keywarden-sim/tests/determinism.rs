//! Same seed, same bytes; another seed, another tenant; and the benign part of a run does not
//! depend on whether an attack is staged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

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

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "decodes the simulator's own small output, not input"
)]
fn gzip_output_is_the_plain_output_compressed() {
    use std::io::Read;
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let gz_dir = tempfile::tempdir().expect("tempdir");
    let config = keywarden_sim::SimConfig {
        seed: 4,
        users: 6,
        days: 8,
        ..keywarden_sim::SimConfig::default()
    };
    let sim = keywarden_sim::Simulation::new(&config).expect("config");
    let plain = sim.write_to(plain_dir.path()).expect("plain");
    let gz_sim = keywarden_sim::Simulation::new(&keywarden_sim::SimConfig {
        gzip: true,
        ..config
    })
    .expect("config");
    let gz = gz_sim.write_to(gz_dir.path()).expect("gzip");
    assert_eq!(
        plain.truth.attacker_record_ids,
        gz.truth.attacker_record_ids
    );
    let plain_files = snapshot(plain_dir.path());
    let gz_files = snapshot(gz_dir.path());
    assert_eq!(plain_files.len(), gz_files.len());
    for ((p_name, p_bytes), (g_name, g_bytes)) in plain_files.iter().zip(&gz_files) {
        assert_eq!(format!("{p_name}.gz"), *g_name);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(g_bytes.as_slice())
            .read_to_end(&mut out)
            .expect("valid gzip");
        assert_eq!(&out, p_bytes, "{g_name}");
    }
    let back = read_back(gz_dir.path());
    assert!(back.rejections.is_empty());
    assert_eq!(back.records, plain.records);
}
