//! Several JSON documents in one file, as responders' PowerShell tools write them:
//! `ConvertTo-Json | Out-File -Append` once per time slice (Microsoft-Extractor-Suite's
//! `Get-ADSignInLogsGraph`, `Get-UALAll -Output JSON`), pages of a Graph query concatenated,
//! a one-record slice written as a bare object, byte-order marks between appended parts, and
//! Windows PowerShell 5's default `Out-File` encoding, UTF-16LE with a BOM.
//!
//! Every record must be read, or rejected one by one with its line, offset and reason, whether
//! the input is read whole or split into chunks for the workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};

use keywarden_ingest::{
    IngestConfig, IngestReport, Processor, Quiet, expand_inputs, ingest, ingest_bytes,
};
use keywarden_model::Event;

#[derive(Default)]
struct Collect(Vec<(Option<u64>, u64, i64)>);

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        let n = ev.get("n").and_then(|v| v.as_i64()).unwrap_or(-1);
        self.0.push((ev.origin.line, ev.origin.offset, n));
    }
}

fn run(paths: &[PathBuf], cfg: &IngestConfig) -> (IngestReport, Vec<(Option<u64>, u64, i64)>) {
    let inputs = expand_inputs(paths).unwrap();
    let (report, procs) = ingest(&inputs, cfg, Collect::default, &Quiet);
    let mut seen: Vec<_> = procs.into_iter().flat_map(|c| c.0).collect();
    seen.sort();
    assert!(report.balanced(), "{report:#?}");
    (report, seen)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `ConvertTo-Json` of `n` records as Windows PowerShell 5 prints it (4-space indent, two
/// spaces after the colon); one record is printed as a bare object, as PowerShell unrolls a
/// one-element pipeline.
fn ps5_array(first: i64, n: i64) -> String {
    let record = |i: i64| {
        format!(
            "{{\n        \"n\":  {i},\n        \"UserPrincipalName\":  \"user{i}@contoso.com\",\n        \"DeviceDetail\":  {{\n                             \"Browser\":  \"Edge 120.0.0\",\n                             \"IsCompliant\":  false\n                         }}\n    }}"
        )
    };
    if n == 1 {
        return record(first).replace("\n    ", "\n") + "\n";
    }
    let items: Vec<String> = (first..first + n).map(record).collect();
    format!("[\n    {}\n]\n", items.join(",\n    "))
}

fn numbers(seen: &[(Option<u64>, u64, i64)]) -> Vec<i64> {
    let mut n: Vec<i64> = seen.iter().map(|s| s.2).collect();
    n.sort();
    n
}

#[test]
fn regression_appended_arrays_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    // Three slices appended (the middle one held a single record), with Out-File's UTF-8 BOM
    // at the start of the file.
    let mut pretty = b"\xef\xbb\xbf".to_vec();
    pretty.extend(ps5_array(0, 3).as_bytes());
    pretty.extend(ps5_array(3, 1).as_bytes());
    pretty.extend(ps5_array(4, 2).as_bytes());
    write(dir.path(), "1-pretty.json", &pretty);
    // `-Compress` output appended without a newline, and a BOM between two parts.
    write(
        dir.path(),
        "2-compact.json",
        "[{\"n\":0},{\"n\":1}][{\"n\":2}]\n\u{feff}[{\"n\":3},{\"n\":4}]".as_bytes(),
    );
    // Graph pages concatenated, one per line and back to back.
    write(
        dir.path(),
        "3-pages.json",
        concat!(
            "{\"@odata.context\":\"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns\",\"value\":[{\"n\":0},{\"n\":1}],\"@odata.nextLink\":\"https://graph.microsoft.com/beta/auditLogs/signIns?$skiptoken=a\"}",
            "{\"value\":[{\"n\":2}]}\n",
            "{\"value\":[{\"n\":3},{\"n\":4}]}\n"
        )
        .as_bytes(),
    );
    // Pretty pages and arrays mixed in one file.
    write(
        dir.path(),
        "4-mixed.json",
        b"{\n  \"value\": [\n    {\"n\": 0},\n    {\"n\": 1}\n  ]\n}\n[\n  {\"n\": 2}\n]\n{\"n\": 3}\n[{\"n\": 4}]\n",
    );
    let (report, seen) = run(&[dir.path().to_path_buf()], &IngestConfig::default());
    let per: Vec<(u64, u64, u64)> = report
        .inputs
        .iter()
        .map(|i| (i.records, i.events, i.rejected))
        .collect();
    assert_eq!(per, vec![(6, 6, 0), (5, 5, 0), (5, 5, 0), (5, 5, 0)]);
    assert_eq!(
        numbers(&seen),
        [
            0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5
        ]
    );

    // Lines and offsets of the pretty file: each record where its `{` is.
    let (_, seen) = run(
        &[dir.path().join("1-pretty.json")],
        &IngestConfig::default(),
    );
    for (line, offset, _) in &seen {
        let before = &pretty[..*offset as usize];
        assert_eq!(pretty[*offset as usize], b'{');
        let expect = before.iter().filter(|&&c| c == b'\n').count() as u64 + 1;
        assert_eq!(*line, Some(expect));
    }
}

#[test]
fn regression_damaged_element_of_appended_arrays_costs_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = ps5_array(0, 3);
    text.push_str(&ps5_array(3, 3));
    // An unescaped quote in record 1 (the scanner loses track of strings from there on, and
    // finds its footing again at the next element's line), and a doubled comma in record 4
    // (structure intact, the parser refuses it).
    let text = text
        .replace("\"user1@contoso.com\"", "\"user\"1@contoso.com\"")
        .replace("\"n\":  4,", "\"n\":  4,,");
    let p = write(dir.path(), "signins.json", text.as_bytes());
    let (report, seen) = run(&[p], &IngestConfig::default());
    assert_eq!(numbers(&seen), [0, 2, 3, 5]);
    assert_eq!((report.records, report.rejected), (6, 2));
    for r in &report.rejections {
        assert_eq!(r.code, "invalid-json", "{r:?}");
        let offset = r.offset.unwrap() as usize;
        assert_eq!(text.as_bytes()[offset], b'{', "{r:?}");
        let line = text[..offset].matches('\n').count() as u64 + 1;
        assert_eq!(r.line, Some(line));
        assert!(r.path.ends_with("signins.json"));
    }
    // The reason is the parser's, pointing into the damaged record.
    assert!(
        report.rejections[0].reason.contains("line 3"),
        "{:?}",
        report.rejections[0]
    );
}

#[test]
fn regression_appended_arrays_chunked_match_whole_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut next = 0;
    for slice in 0..40 {
        let n = 1 + slice % 7;
        text.push_str(&ps5_array(next, n));
        next += n;
        if slice % 9 == 4 {
            text.push_str("{\"value\":[{\"n\":-2},{\"n\":-3}]}\n");
        }
    }
    text.push_str("[\n    {\n        \"n\":  \"unterminated\n    }\n]\n");
    let p = write(dir.path(), "big.json", text.as_bytes());
    let whole = run(std::slice::from_ref(&p), &IngestConfig::default());
    let chunked = run(
        &[p],
        &IngestConfig {
            chunk_bytes: 700,
            threads: 3,
            ..IngestConfig::default()
        },
    );
    assert_eq!(whole.1, chunked.1);
    assert_eq!(whole.0.rejections, chunked.0.rejections);
    assert_eq!(whole.0.records, next as u64 + 4 * 2 + 1);
    assert_eq!(whole.0.rejected, 1);
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    for u in text.encode_utf16() {
        out.extend(u.to_le_bytes());
    }
    out
}

#[test]
fn regression_utf16_out_file_exports_are_read() {
    let text = format!("{}{}", ps5_array(0, 2), ps5_array(2, 2)).replace("Edge", "Edge ✓ é");
    let cfg = IngestConfig::default();
    let mut be = vec![0xfe, 0xff];
    for u in text.encode_utf16() {
        be.extend(u.to_be_bytes());
    }
    for (name, bytes) in [
        ("le-bom.json", utf16le(&text, true)),
        ("le-no-bom.json", utf16le(&text, false)),
        ("be-bom.json", be),
    ] {
        let mut c = Collect::default();
        let out = ingest_bytes(name, bytes, &cfg, &mut c);
        assert_eq!((out.counts.records, out.counts.events), (4, 4), "{name}");
        // Lines are those of the text; offsets count its UTF-8 bytes.
        let first = c.0.iter().map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(first, [Some(2), Some(10), Some(20), Some(28)], "{name}");
    }
    // A gzip-compressed UTF-16 file read from disk, large enough to take the streaming path's
    // prefix check: it is decoded, not streamed as lines.
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::new();
    for k in 0..400 {
        big.push_str(&ps5_array(k * 10, 10));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &utf16le(&big, true)).unwrap();
    let p = write(dir.path(), "signins.json.gz", &gz.finish().unwrap());
    let cfg = IngestConfig {
        chunk_bytes: 64 * 1024,
        ..IngestConfig::default()
    };
    let (report, seen) = run(&[p], &cfg);
    assert_eq!((report.records, report.rejected), (4000, 0));
    assert_eq!(numbers(&seen), (0..4000).collect::<Vec<_>>());
}
