//! Throughput of the identity, HTTP and Windows readers against baselines over the same bytes,
//! in the same run, all on one thread (`ingest_bytes`).
//!
//! `cargo bench -p keywarden-ingest --bench identity_throughput [-- RECORDS]`
//!
//! - EVTX: the 277 files of `shared/datasets/evtx-attack-samples/`. Baseline `render`: the `evtx`
//!   crate rendering every record to JSON bytes and nothing else. `ingest`: keywarden's whole path
//!   (chunk walk, CRC checks, render, parse, flatten, normalise). Figure: `ingest / render`.
//! - Sign-ins: generated Log Analytics `SigninLogs` rows (embedded `Status`, `DeviceDetail`,
//!   `LocationDetails` JSON text). Baseline `parse`: each line into a `serde_json::Value`.
//!   Figure: `ingest / parse`.
//! - Access log: generated combined-format lines. Baseline `parse`: the same requests as nginx
//!   JSON lines into `serde_json::Value`. Figure: `ingest / parse`.
//!
//! Figures are throughput ratios (1.0 = as fast as the baseline; higher is faster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use keywarden_ingest::{Discard, IngestConfig, ingest_bytes};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/evtx-attack-samples"
);

fn main() {
    let records: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    evtx_figures();
    let signins = sign_in_rows(records);
    let parse = best(|| parse_lines(&signins));
    let ingest = best(|| ingest_one("signins.jsonl", &signins));
    report(
        "sign-in rows",
        signins.len(),
        records,
        parse,
        ingest,
        "parse",
    );
    let (text, json) = access_lines(records);
    let parse = best(|| parse_lines(&json));
    let ingest = best(|| ingest_one("access.log", &text));
    report("access log", text.len(), records, parse, ingest, "parse");
}

fn evtx_figures() {
    let mut files = Vec::new();
    collect(std::path::Path::new(SAMPLES), &mut files);
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .map(|p| std::fs::read(p).expect("sample"))
        .collect();
    let total: usize = bytes.iter().map(Vec::len).sum();
    let mut n = 0;
    let render = best(|| {
        n = 0;
        for b in &bytes {
            let Ok(mut p) = evtx::EvtxParser::from_read_seek(Cursor::new(&b[..])) else {
                continue;
            };
            n += p.records_json_bytes().filter(Result::is_ok).count();
        }
    });
    let ingest = best(|| {
        for (i, b) in bytes.iter().enumerate() {
            ingest_one(&format!("{i}.evtx"), b);
        }
    });
    report(
        &format!("evtx ({} files)", bytes.len()),
        total,
        n,
        render,
        ingest,
        "render",
    );
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("samples dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn ingest_one(name: &str, bytes: &[u8]) {
    let cfg = IngestConfig {
        threads: 1,
        ..IngestConfig::default()
    };
    let out = ingest_bytes(name, bytes.to_vec(), &cfg, &mut Discard);
    assert_eq!(out.counts.rejected, 0, "{:?}", out.rejections.first());
}

fn parse_lines(text: &[u8]) {
    for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("json");
        std::hint::black_box(v);
    }
}

/// Best of three runs.
fn best(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn report(what: &str, bytes: usize, records: usize, base: Duration, ingest: Duration, name: &str) {
    let mb = bytes as f64 / 1e6;
    println!(
        "{what}: {records} records, {mb:.1} MB; {name} {:.0} MB/s, ingest {:.0} MB/s ({:.0} records/s); ingest / {name} = {:.2}",
        mb / base.as_secs_f64(),
        mb / ingest.as_secs_f64(),
        records as f64 / ingest.as_secs_f64(),
        base.as_secs_f64() / ingest.as_secs_f64()
    );
}

fn sign_in_rows(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            concat!(
                "{{\"TenantId\":\"5f6a3c0e-0000-0000-0000-000000000000\",\"TimeGenerated\":\"2023-07-{:02}T{:02}:{:02}:{:02}.4469853Z\",",
                "\"OperationName\":\"Sign-in activity\",\"Category\":\"SignInLogs\",\"ResultType\":\"{}\",",
                "\"CorrelationId\":\"{:08x}-5860-4832-928f-3133e22ae912\",\"AADTenantId\":\"84841066-274d-4ec0-a5c1-276be684bdd3\",",
                "\"AppDisplayName\":\"Microsoft Office\",\"AppId\":\"d3590ed6-52b3-4102-aeff-aad2292ab01c\",",
                "\"DeviceDetail\":\"{{\\\"deviceId\\\":\\\"\\\",\\\"operatingSystem\\\":\\\"Windows 10\\\",\\\"browser\\\":\\\"Edge 114\\\"}}\",",
                "\"Id\":\"{:08x}-0001-4ee5-be62-ff5a759b0100\",\"IPAddress\":\"203.0.{}.{}\",",
                "\"LocationDetails\":\"{{\\\"city\\\":\\\"Amsterdam\\\",\\\"countryOrRegion\\\":\\\"NL\\\"}}\",",
                "\"ResourceIdentity\":\"00000002-0000-0ff1-ce00-000000000000\",\"SessionId\":\"{:08x}-4c0d-4b57-9f5a-0c1d2e3f4a5b\",",
                "\"Status\":\"{{\\\"errorCode\\\":{}}}\",\"UniqueTokenIdentifier\":\"tok{:012x}\",",
                "\"UserAgent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\",",
                "\"UserPrincipalName\":\"user{}@contoso.com\",\"Type\":\"SigninLogs\"}}\n"
            ),
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60,
            if i % 7 == 0 { 50126 } else { 0 },
            i,
            i,
            (i / 250) % 250,
            i % 250,
            i,
            if i % 7 == 0 { 50126 } else { 0 },
            i,
            i % 500
        ));
    }
    out.into_bytes()
}

fn access_lines(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut text = String::new();
    let mut json = String::new();
    for i in 0..n {
        let ip = format!("198.51.{}.{}", (i / 250) % 250, i % 250);
        let date = format!(
            "{:02}/Jul/2023:{:02}:{:02}:{:02} +0000",
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 60) % 60
        );
        let uri = format!("/owa/service.svc?action=GetItem&id={i}");
        let status = if i % 9 == 0 { 404 } else { 200 };
        text.push_str(&format!(
            "{ip} - - [{date}] \"GET {uri} HTTP/1.1\" {status} {} \"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"\n",
            512 + i % 4096
        ));
        json.push_str(&format!(
            "{{\"time_local\":\"{date}\",\"remote_addr\":\"{ip}\",\"request\":\"GET {uri} HTTP/1.1\",\"status\":{status},\"body_bytes_sent\":{},\"http_referer\":\"-\",\"http_user_agent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"}}\n",
            512 + i % 4096
        ));
    }
    (text.into_bytes(), json.into_bytes())
}
