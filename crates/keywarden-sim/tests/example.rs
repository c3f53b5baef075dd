//! `examples/storm-0558/` is exactly what its README's command generates: regenerating it
//! gives the same bytes, file for file, and the same `truth.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::path::Path;

use common::files;
use keywarden_sim::{SimConfig, Simulation};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/storm-0558");
const TRUTH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/storm-0558.truth.json"
);

fn relative(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .expect("under dir")
                .display()
                .to_string();
            (rel, std::fs::read(&p).expect("read"))
        })
        .collect()
}

#[test]
fn the_example_is_what_its_readme_command_generates() {
    // keywarden simulate --out examples/storm-0558 --users 8 --days 8 --seed 3 --gzip
    let config = SimConfig {
        seed: 3,
        users: 8,
        days: 8,
        gzip: true,
        ..SimConfig::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let report = Simulation::new(&config)
        .expect("config")
        .write_to(dir.path())
        .expect("write");
    let expected = relative(Path::new(EXAMPLE));
    let fresh = relative(dir.path());
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&fresh),
        names(&expected),
        "regenerate the example (see examples/README.md)"
    );
    for ((name, a), (_, b)) in fresh.iter().zip(&expected) {
        assert!(
            a == b,
            "{name} differs: regenerate the example (see examples/README.md)"
        );
    }
    let truth = serde_json::to_string_pretty(&report.truth).expect("truth") + "\n";
    assert_eq!(truth, std::fs::read_to_string(TRUTH).expect("truth file"));
}
