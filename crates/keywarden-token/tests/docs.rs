//! `docs/TOKEN.md` documents every reason code, and every code is produced by some rejection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_token::reason::ALL_CODES;

#[test]
fn every_reason_code_is_documented() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/TOKEN.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let table: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|c| {
            c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch.is_ascii_digit())
        })
        .filter(|c| c.contains('-') || ALL_CODES.contains(c))
        .collect();
    for code in ALL_CODES {
        assert!(
            table.contains(code),
            "{code} is not in the reason table of docs/TOKEN.md"
        );
    }
    for code in &table {
        assert!(
            ALL_CODES.contains(code),
            "docs/TOKEN.md lists unknown code {code}"
        );
    }
}
