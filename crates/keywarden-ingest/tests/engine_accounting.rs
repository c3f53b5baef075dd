//! The engine's promise: every record is an event or a rejection with its position, whatever
//! the container, the chunking or the damage. These tests use generic JSON records so that
//! they exercise containers and accounting, not shape extraction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};

use keywarden_ingest::{
    Format, IngestConfig, IngestReport, InputSource, Processor, Quiet, expand_inputs, ingest,
    ingest_bytes,
};
use keywarden_model::Event;

#[derive(Default)]
struct Collect(Vec<Seen>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    path: String,
    line: Option<u64>,
    offset: u64,
    n: Option<i64>,
}

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        self.0.push(Seen {
            path: ev.origin.path.to_string(),
            line: ev.origin.line,
            offset: ev.origin.offset,
            n: ev.get("n").and_then(|v| v.as_i64()),
        });
    }
}

fn run(paths: &[PathBuf], cfg: &IngestConfig) -> (IngestReport, Vec<Seen>) {
    let inputs = expand_inputs(paths).unwrap();
    let (report, procs) = ingest(&inputs, cfg, Collect::default, &Quiet);
    let mut seen: Vec<Seen> = procs.into_iter().flat_map(|c| c.0).collect();
    seen.sort();
    assert!(report.balanced(), "{report:#?}");
    (report, seen)
}

fn small_chunks() -> IngestConfig {
    IngestConfig {
        chunk_bytes: 1000,
        threads: 3,
        ..IngestConfig::default()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn codes(report: &IngestReport) -> Vec<(Option<u64>, &'static str)> {
    report.rejections.iter().map(|r| (r.line, r.code)).collect()
}

#[test]
fn json_lines_split_into_chunks_keep_exact_lines_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut offsets = Vec::new();
    for i in 0..5000 {
        offsets.push(text.len() as u64);
        text.push_str(&format!(
            "{{\"n\":{i},\"pad\":\"{}\"}}\n",
            "x".repeat(i % 50)
        ));
    }
    let p = write(dir.path(), "a.jsonl", text.as_bytes());
    let (report, seen) = run(&[p], &small_chunks());
    assert_eq!(
        (report.records, report.events, report.rejected),
        (5000, 5000, 0)
    );
    assert_eq!(seen.len(), 5000);
    let mut by_n = seen.clone();
    by_n.sort_by_key(|s| s.n);
    for (i, s) in by_n.iter().enumerate() {
        assert_eq!(s.n, Some(i as i64));
        assert_eq!(s.line, Some(i as u64 + 1));
        assert_eq!(s.offset, offsets[i]);
    }
}

#[test]
fn hostile_json_lines_are_each_rejected_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(b"{\"n\":1}\r\n"); // 1 ok (CRLF)
    b.extend_from_slice(b"{\"n\":2,}\n"); // 2 invalid json
    b.extend_from_slice(b"\n"); // 3 blank: not a record
    b.extend_from_slice(b"{\"n\":\"\xff\xfe\"}\n"); // 4 invalid utf-8
    b.extend_from_slice(format!("{}\n", "[".repeat(150) + &"]".repeat(150)).as_bytes()); // 5 too deep
    b.extend_from_slice(b"42\n"); // 6 not an object
    b.extend_from_slice(format!("{{\"n\":7,\"big\":\"{}\"}}\n", "y".repeat(500)).as_bytes()); // 7 too large
    b.extend_from_slice(b"{\"n\":8}\n"); // 8 ok
    b.extend_from_slice(b"{\"n\":9, \"cut\": \"abc"); // 9 truncated at EOF
    let p = write(dir.path(), "h.jsonl", &b);
    let cfg = IngestConfig {
        max_record_bytes: 400,
        ..IngestConfig::default()
    };
    let (report, seen) = run(&[p], &cfg);
    assert_eq!((report.records, report.events, report.rejected), (8, 2, 6));
    assert_eq!(
        seen.iter().map(|s| s.line).collect::<Vec<_>>(),
        vec![Some(1), Some(8)]
    );
    assert_eq!(
        codes(&report),
        vec![
            (Some(2), "invalid-json"),
            (Some(4), "invalid-utf8"),
            (Some(5), "too-deep"),
            (Some(6), "not-an-object"),
            (Some(7), "too-large"),
            (Some(9), "invalid-json"),
        ]
    );
}

#[test]
fn arrays_pages_envelopes_and_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let array = write(
        dir.path(),
        "1-array.json",
        b"[\n {\"n\":1},\n {\"n\":2,},\n {\"n\":3}\n]\n",
    );
    let page = write(
        dir.path(),
        "2-page.json",
        b"{\"@odata.context\":\"x\",\"value\":[{\"n\":1},{\"n\":2}],\"@odata.nextLink\":\"y\"}",
    );
    let envelopes = write(
        dir.path(),
        "3-envelopes.jsonl",
        b"{\"records\":[{\"n\":1},{\"n\":2}]}\n{\"records\":[{\"n\":3}]}\n",
    );
    let sequence = write(
        dir.path(),
        "4-seq.json",
        b"{\n \"n\": 1\n}\n{\n \"n\": 2\n}\n",
    );
    let broken = write(dir.path(), "5-broken.json", b"[{\"n\":1},{\"n\":2},{\"n\":");
    let garbage_after = write(dir.path(), "6-after.json", b"[{\"n\":1}] trailing");
    let (report, _) = run(&[dir.path().to_path_buf()], &IngestConfig::default());
    let per: Vec<(u64, u64, u64)> = report
        .inputs
        .iter()
        .map(|i| (i.records, i.events, i.rejected))
        .collect();
    assert_eq!(
        per,
        vec![
            (3, 2, 1),
            (2, 2, 0),
            (3, 3, 0),
            (2, 2, 0),
            (3, 2, 1),
            (2, 1, 1)
        ]
    );
    let _ = (array, page, envelopes, sequence, broken, garbage_after);
    assert_eq!(
        codes(&report),
        vec![
            (Some(3), "invalid-json"),
            (Some(1), "truncated"),
            (Some(1), "invalid-json")
        ]
    );
}

#[test]
fn large_arrays_are_chunked_without_losing_elements() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[\n");
    for i in 0..3000 {
        if i > 0 {
            text.push_str(",\n");
        }
        if i == 1500 {
            text.push_str("{\"n\": oops}");
        } else {
            text.push_str(&format!("{{\"n\":{i}}}"));
        }
    }
    text.push_str("\n]\n");
    let p = write(dir.path(), "big.json", text.as_bytes());
    let (report, seen) = run(&[p], &small_chunks());
    assert_eq!(
        (report.records, report.events, report.rejected),
        (3000, 2999, 1)
    );
    assert_eq!(codes(&report), vec![(Some(1502), "invalid-json")]);
    assert!(seen.iter().all(|s| s.line == s.n.map(|n| n as u64 + 2)));
}

#[test]
fn compressed_inputs_and_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = Vec::new();
    for i in 0..1000 {
        writeln!(plain, "{{\"n\":{i}}}").unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    write(dir.path(), "a.jsonl.gz", &gz);
    write(dir.path(), "b.jsonl.zst", &zst);
    write(dir.path(), "c.jsonl.gz", &gz[..gz.len() * 2 / 3]);
    let (report, _) = run(&[dir.path().to_path_buf()], &IngestConfig::default());
    assert_eq!(report.inputs[0].events, 1000);
    assert_eq!(report.inputs[1].events, 1000);
    let cut = &report.inputs[2];
    assert!(cut.events > 0 && cut.events < 1000, "{cut:?}");
    assert!(report.rejections.iter().any(|r| r.code == "decompression"));
}

#[test]
fn non_logs_and_empty_files_hold_no_records() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.bin", b"\x7fELF\x02\x01\x01\0\0\0\0");
    write(
        dir.path(),
        "b.txt",
        b"Dear diary,\ntoday I read some logs.\n",
    );
    write(dir.path(), "c.json", b"  \n\n");
    let (report, _) = run(&[dir.path().to_path_buf()], &IngestConfig::default());
    let fm: Vec<(&str, u64, bool)> = report
        .inputs
        .iter()
        .map(|i| (i.format.as_str(), i.records, i.skipped.is_some()))
        .collect();
    assert_eq!(
        fm,
        vec![
            ("not-a-log", 0, true),
            ("not-a-log", 0, true),
            ("empty", 0, false)
        ]
    );
}

#[test]
fn forced_format_applies_to_every_record() {
    let mut seen = Collect::default();
    let cfg = IngestConfig {
        format: Some(Format::Json),
        ..IngestConfig::default()
    };
    let out = ingest_bytes(
        "mem",
        b"{\"CreationTime\":\"2023-01-01T00:00:00\",\"Operation\":\"x\",\"RecordType\":1}\n"
            .to_vec(),
        &cfg,
        &mut seen,
    );
    assert_eq!(out.counts.events, 1);
    assert_eq!(
        out.counts.shapes.keys().copied().collect::<Vec<_>>(),
        vec!["json"]
    );
}

#[test]
fn missing_path_is_an_error_not_a_silent_skip() {
    let err = expand_inputs(&[PathBuf::from("/definitely/not/here.json")]).unwrap_err();
    assert!(err.to_string().contains("/definitely/not/here.json"));
    let _ = InputSource {
        name: "-".into(),
        path: None,
    };
}

/// Inputs above two chunks are streamed in blocks; positions must stay exact, over-long lines
/// must be rejected without being held, and compressed streams must behave the same.
#[test]
fn streamed_inputs_keep_exact_positions_and_reject_overlong_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut text: Vec<u8> = b"\xef\xbb\xbf".to_vec(); // BOM
    let mut expect = Vec::new(); // (n, line, offset)
    let mut line = 1u64;
    for i in 0..20_000i64 {
        if i == 7000 {
            // 300 KB on one line: over the 100 KB record cap and over a block.
            text.extend_from_slice(
                format!("{{\"n\":-1,\"pad\":\"{}\"}}\n", "z".repeat(300_000)).as_bytes(),
            );
            line += 1;
        }
        expect.push((i, line, text.len() as u64));
        let eol: &[u8] = if i % 3 == 0 { b"\r\n" } else { b"\n" };
        text.extend_from_slice(
            format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}",
                "q".repeat((i % 40) as usize)
            )
            .as_bytes(),
        );
        text.extend_from_slice(eol);
        line += 1;
    }
    let plain = write(dir.path(), "big.jsonl", &text);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    let gz_path = write(dir.path(), "big.jsonl.gz", &gz.finish().unwrap());
    let cfg = IngestConfig {
        chunk_bytes: 64 * 1024,
        threads: 2,
        max_record_bytes: 100_000,
        ..IngestConfig::default()
    };
    for p in [plain, gz_path] {
        let (report, seen) = run(std::slice::from_ref(&p), &cfg);
        assert_eq!(
            (report.records, report.events, report.rejected),
            (20_001, 20_000, 1),
            "{p:?}"
        );
        let r = &report.rejections[0];
        assert_eq!((r.code, r.line), ("too-large", Some(7001)));
        let mut got: Vec<(i64, u64, u64)> = seen
            .iter()
            .map(|s| (s.n.unwrap(), s.line.unwrap(), s.offset))
            .collect();
        got.sort();
        assert_eq!(got, expect, "{p:?}");
    }
}

#[test]
fn streamed_truncated_gzip_keeps_decoded_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = Vec::new();
    for i in 0..200_000 {
        writeln!(plain, "{{\"n\":{i},\"k\":\"{}\"}}", i * 7919 % 100_003).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let p = write(dir.path(), "cut.jsonl.gz", &gz[..gz.len() * 3 / 4]);
    let cfg = IngestConfig {
        chunk_bytes: 64 * 1024,
        ..IngestConfig::default()
    };
    let (report, seen) = run(&[p], &cfg);
    assert!(
        report.events > 100_000 && report.events < 200_000,
        "{}",
        report.events
    );
    assert!(report.rejections.iter().any(|r| r.code == "decompression"));
    // Every event decoded before the damage is a complete, consecutive record.
    let mut ns: Vec<i64> = seen.iter().filter_map(|s| s.n).collect();
    ns.sort();
    assert!(ns.iter().enumerate().all(|(i, n)| *n == i as i64));
}

/// A small compressed file that expands past the input cap (a decompression bomb) costs one
/// `input-too-large` rejection and the records before the cap, not the machine's memory.
#[test]
fn decompression_bombs_stop_at_the_input_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[");
    for i in 0..100_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!("{{\"n\":{i}}}"));
    }
    text.push(']');
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let p = write(dir.path(), "bomb.json.gz", &gz);
    let cfg = IngestConfig {
        chunk_bytes: 64 * 1024,
        max_input_bytes: 300_000,
        ..IngestConfig::default()
    };
    let (report, _) = run(std::slice::from_ref(&p), &cfg);
    assert!(
        report.events > 10_000 && report.events < 100_000,
        "{}",
        report.events
    );
    assert!(
        report
            .rejections
            .iter()
            .any(|r| r.code == "input-too-large")
    );
    // The same body through `ingest_bytes` (the server's path) is capped the same way.
    let mut sink = Collect::default();
    let out = ingest_bytes("bomb", gz, &cfg, &mut sink);
    assert!(out.rejections.iter().any(|r| r.code == "input-too-large"));
    assert!(out.counts.events < 100_000);
    assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
}
