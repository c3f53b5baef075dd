//! Differential proof for the byte-level JSON parser: `Value::parse` must give exactly what
//! `Value::parse_reference` (serde_json) gives, on every fixture of the workspace, the shared
//! datasets, a sample of the simulated UAL file when present, generated edge cases, every
//! truncation of valid texts and random byte mutations. Equal means: same variants, floats
//! equal bit for bit, strings borrowed in both or owned in both, errors equal as text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use keywarden_model::Value;

/// Deep comparison, stricter than `PartialEq`: float bits and `Cow` borrowing must match.
fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::UInt(x), Value::UInt(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => same_str(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.0.len() == y.0.len()
                && x.0
                    .iter()
                    .zip(&y.0)
                    .all(|((kx, vx), (ky, vy))| same_str(kx, ky) && same(vx, vy))
        }
        _ => false,
    }
}

#[allow(clippy::ptr_arg)] // the Cow variant is what is compared
fn same_str(a: &Cow<'_, str>, b: &Cow<'_, str>) -> bool {
    a == b && matches!(a, Cow::Borrowed(_)) == matches!(b, Cow::Borrowed(_))
}

/// Checks one text; returns whether it parsed.
fn check(text: &str) -> bool {
    let fast = Value::parse(text);
    let reference = Value::parse_reference(text);
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => {
            assert!(same(a, b), "values differ for {text:?}:\n{a:?}\n{b:?}");
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "errors differ for {text:?}");
            false
        }
        _ => panic!("one parser accepted, the other rejected {text:?}: {fast:?} / {reference:?}"),
    }
}

/// A tiny deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\"\\{}[],:0123456789eE.+- \t\n\r\x01\x1ftfnuaxX/bd";

/// Every prefix, then `flips` mutations that replace, insert or delete an ASCII byte.
fn mutate_and_check(text: &str, flips: usize, rng: &mut Rng) {
    for end in 0..=text.len() {
        if let Some(prefix) = text.get(..end) {
            check(prefix);
        }
    }
    let bytes = text.as_bytes();
    for _ in 0..flips {
        let mut m = bytes.to_vec();
        let i = rng.below(m.len() + 1);
        let b = INTERESTING[rng.below(INTERESTING.len())];
        match rng.below(3) {
            0 if i < m.len() => m[i] = b,
            1 if i < m.len() => {
                m.remove(i);
            }
            _ => m.insert(i, b),
        }
        if let Ok(s) = std::str::from_utf8(&m) {
            check(s);
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// JSON-looking pieces of a text: the whole text, each line, and in CSV lines each `{...}`
/// span with `""` unescaped (UAL's AuditData column).
fn pieces(text: &str) -> Vec<String> {
    let mut out = vec![text.to_string()];
    for line in text.lines() {
        out.push(line.to_string());
        if let (Some(a), Some(b)) = (line.find('{'), line.rfind('}'))
            && a < b
        {
            out.push(line[a..=b].replace("\"\"", "\""));
        }
    }
    out
}

#[test]
fn fast_parser_matches_serde_json_on_every_fixture_and_dataset() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for c in std::fs::read_dir(root.join("crates"))
        .expect("crates dir")
        .flatten()
    {
        files_under(&c.path().join("tests/fixtures"), &mut files);
    }
    let shared = root.join("../shared/datasets");
    let mut datasets = Vec::new();
    files_under(&shared, &mut datasets);
    files.extend(datasets.into_iter().filter(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "jsonl" | "ndjson" | "log" | "csv")
        )
    }));
    assert!(files.len() > 20, "fixtures found: {}", files.len());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut texts, mut parsed, mut mutated) = (0usize, 0usize, 0usize);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue; // binary fixture (gzip, evtx)
        };
        for piece in pieces(&text) {
            texts += 1;
            if check(&piece) {
                parsed += 1;
                if piece.len() <= 4096 && mutated < 400 {
                    mutated += 1;
                    mutate_and_check(&piece, 200, &mut rng);
                }
            }
        }
    }
    eprintln!(
        "{} files, {texts} pieces, {parsed} parsed, {mutated} mutated",
        files.len()
    );
    assert!(parsed > 500, "only {parsed} of {texts} pieces parsed");
}

#[test]
fn fast_parser_matches_serde_json_on_simulated_ual_sample() {
    // The benchmark's input when present (see docs); 20 000 lines and 50 mutated.
    let Ok(text) = std::fs::read_to_string("/tmp/ual1.jsonl") else {
        return;
    };
    let mut rng = Rng(7);
    for (i, line) in text.lines().take(20_000).enumerate() {
        assert!(check(line), "line {i} rejected");
        if i % 400 == 0 {
            mutate_and_check(line, 100, &mut rng);
        }
    }
}

fn generated_cases() -> Vec<String> {
    let mut v: Vec<String> = [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1",
        "-1",
        "0.0",
        "-0.0",
        "1.0",
        "1e2",
        "1E2",
        "1e+2",
        "1e-2",
        "-1.5e-3",
        "0e0",
        "0e-400",
        "0e400",
        "1e400",
        "-1e400",
        "1e-400",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "4.9e-324",
        "2.2250738585072014e-308",
        "0.1",
        "0.2",
        "0.30000000000000004",
        "123456789012345678",
        "1234567890123456789012345",
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "9007199254740993.0",
        "900719925474099.3",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-18446744073709551616",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "123456789e-22",
        "0.000000000000000000001",
        "3.141592653589793238462643383279",
        "1e2147483647",
        "1e2147483648",
        "1e-2147483648",
        "0e99999999999",
        "1.0e-99999999999",
        "00",
        "01",
        "-01",
        "1.",
        ".1",
        "+1",
        "1e",
        "1e+",
        "-",
        "--1",
        "1.e1",
        "0x10",
        "Infinity",
        "NaN",
        "\"\"",
        "\"a\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u0000\"",
        "\"\\u001F\"",
        "\"\\u00e9\\u00C9\"",
        "\"\\u20AC\"",
        "\"\\uD83D\\uDE00\"",
        "\"\\ud83d\\ude00\"",
        "\"\\uD83D\"",
        "\"\\uDE00\"",
        "\"\\uD83D\\u0041\"",
        "\"\\uD83D\\uD83D\\uDE00\"",
        "\"\\uD83Dx\"",
        "\"\\uD83D\\n\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\\x41\"",
        "\"\\'\"",
        "\"tab\there\"",
        "\"nl\nhere\"",
        "\"del\u{7f}ok\"",
        "\"é€😀\"",
        "\"unterminated",
        "[]",
        "{}",
        "[ ]",
        "{ }",
        " [1 , 2 ] ",
        "\t\n\r{\"a\"\t:\n1\r}\n",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{1:1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2}",
        "[1]x",
        "[1] [2]",
        "// c\n1",
        "/* c */1",
        "\u{feff}1",
        "1\u{a0}",
        "tru",
        "truee",
        "nulll",
        "[true,false,null]",
        "{\"k\\u0041y\":\"v\\u0042\"}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for depth in [1, 2, 126, 127, 128, 129, 1000] {
        v.push("[".repeat(depth) + &"]".repeat(depth));
        v.push("{\"a\":".repeat(depth) + "1" + &"}".repeat(depth));
        v.push("[{\"a\":".repeat(depth / 2 + 1) + "[]" + &"}]".repeat(depth / 2 + 1));
        v.push("[".repeat(depth)); // unterminated
    }
    for ws in [" ", "\t", "\n", "\r", "\u{b}", "\u{c}", "\u{a0}"] {
        v.push(format!(
            "{ws}{{{ws}\"a\"{ws}:{ws}[{ws}1{ws},{ws}2{ws}]{ws}}}{ws}"
        ));
    }
    for c in 0u32..0x80 {
        if let Some(ch) = char::from_u32(c) {
            v.push(format!("\"x{ch}y\""));
            v.push(format!("\"x\\{ch}y\""));
            v.push(format!("[1{ch}]"));
        }
    }
    // Escapes at every position of an eight-byte word, and long strings.
    for pad in 0..17 {
        let p = "a".repeat(pad);
        v.push(format!("\"{p}\\n{p}\\u00e9{p}\""));
        v.push(format!("\"{p}\u{1}\""));
        v.push(format!("\"{p}é\\\"\""));
    }
    v
}

#[test]
fn fast_parser_matches_serde_json_on_generated_edge_cases() {
    let mut rng = Rng(42);
    let mut rng_numbers = Rng(99);
    let cases = generated_cases();
    for c in &cases {
        check(c);
        if c.len() < 300 {
            mutate_and_check(c, 50, &mut rng);
        }
    }
    // Random numbers: digits, fraction, exponent of every length.
    for _ in 0..200_000 {
        let mut s = String::new();
        if rng_numbers.below(2) == 0 {
            s.push('-');
        }
        for _ in 0..=rng_numbers.below(22) {
            s.push(char::from(b'0' + rng_numbers.below(10) as u8));
        }
        if rng_numbers.below(2) == 0 {
            s.push('.');
            for _ in 0..rng_numbers.below(22) {
                s.push(char::from(b'0' + rng_numbers.below(10) as u8));
            }
        }
        if rng_numbers.below(2) == 0 {
            s.push(['e', 'E'][rng_numbers.below(2)]);
            s.push_str(["", "+", "-"][rng_numbers.below(3)]);
            for _ in 0..rng_numbers.below(4) {
                s.push(char::from(b'0' + rng_numbers.below(10) as u8));
            }
        }
        check(&s);
        check(&format!("[{s}]"));
    }
    // The deep-nesting limit is serde_json's: 127 levels parse, 128 do not.
    assert!(check(&("[".repeat(127) + &"]".repeat(127))));
    assert!(!check(&("[".repeat(128) + &"]".repeat(128))));
}
