//! Ingest throughput against a parse-only baseline over the same bytes, in the same run.
//!
//! `cargo bench -p keywarden-ingest --bench ingest_throughput [-- RECORDS]`
//!
//! Generates Unified Audit Log JSON lines (MailItemsAccessed Bind/Sync and other Exchange and
//! Entra operations, real field names), then times, on the same number of threads:
//! - `validate`: `serde_json` over each line into `IgnoredAny` (no values kept);
//! - `parse`: each line into a full `serde_json::Value` (the "plain parse-only pass");
//! - `ingest`: keywarden's whole path (load, sniff, chunk, parse, classify, normalise) with a
//!   processor that drops events.
//!
//! The figure that matters is `ingest / parse` (target ≥ 0.5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Write;
use std::time::Instant;

use keywarden_ingest::{Discard, IngestConfig, Quiet, expand_inputs, ingest};

fn record(i: usize) -> String {
    let user = format!("user{}@contoso.com", i % 500);
    let ip = format!("203.0.{}.{}", (i / 250) % 250, i % 250);
    match i % 4 {
        0 | 1 => {
            let access = if i.is_multiple_of(4) { "Bind" } else { "Sync" };
            let items: Vec<String> = (0..(i % 6))
                .map(|k| {
                    format!("{{\"InternetMessageId\":\"<msg{i}-{k}@contoso.prod.outlook.com>\"}}")
                })
                .collect();
            format!(
                concat!(
                    "{{\"CreationTime\":\"2023-06-{:02}T{:02}:{:02}:{:02}\",\"Id\":\"{:08x}-1c53-403e-976f-ce0847a92b44\",",
                    "\"Operation\":\"MailItemsAccessed\",\"OrganizationId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",",
                    "\"RecordType\":50,\"ResultStatus\":\"Succeeded\",\"UserKey\":\"10032001585{}\",\"UserType\":0,",
                    "\"Version\":1,\"Workload\":\"Exchange\",\"ClientIP\":\"{}\",\"UserId\":\"{}\",",
                    "\"AppId\":\"00000002-0000-0ff1-ce00-000000000000\",\"ClientAppId\":\"d3590ed6-52b3-4102-aeff-aad2292ab01c\",",
                    "\"ClientIPAddress\":\"{}\",\"ClientInfoString\":\"Client=OWA;Action=ViaProxy\",",
                    "\"ExternalAccess\":false,\"InternalLogonType\":0,\"LogonType\":0,",
                    "\"LogonUserSid\":\"S-1-5-21-1825954961-3338807533-2873504967-26087451\",",
                    "\"MailboxGuid\":\"d0c5f8ae-9ed7-4e46-bfdf-ea1460f5a31b\",\"MailboxOwnerUPN\":\"{}\",",
                    "\"OperationProperties\":[{{\"Name\":\"MailAccessType\",\"Value\":\"{}\"}},{{\"Name\":\"IsThrottled\",\"Value\":\"False\"}}],",
                    "\"OrganizationName\":\"contoso.onmicrosoft.com\",\"OriginatingServer\":\"AB1CD23EF4567 (15.20.4200.000)\\r\\n\",",
                    "\"SessionId\":\"{:08x}-aaaa-bbbb-cccc-000000000000\",",
                    "\"AppAccessContext\":{{\"AADSessionId\":\"{:08x}-aaaa-bbbb-cccc-000000000000\",\"IssuedAtTime\":\"2023-06-01T00:00:00\",\"UniqueTokenId\":\"tok{}\"}},",
                    "\"Folders\":[{{\"FolderItems\":[{}],\"Id\":\"LgAAAAAM7KyTTmWeRac2KXBEz/7aAQARGHK+grzLTpRJraC1QR6kAAAAAAEMAAAB\",\"Path\":\"\\\\Inbox\"}}],",
                    "\"OperationCount\":{}}}"
                ),
                1 + i % 28,
                i % 24,
                i % 60,
                (i * 7) % 60,
                i,
                i % 10,
                ip,
                user,
                ip,
                user,
                access,
                i / 10,
                i / 10,
                i / 3,
                items.join(","),
                1 + i % 3
            )
        }
        2 => format!(
            concat!(
                "{{\"CreationTime\":\"2023-06-{:02}T{:02}:00:00\",\"Id\":\"{:08x}-2222-403e-976f-ce0847a92b44\",",
                "\"Operation\":\"UserLoggedIn\",\"OrganizationId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",",
                "\"RecordType\":15,\"ResultStatus\":\"Success\",\"UserKey\":\"aead923d-498b-4f64-a66c-2af91447a8b6\",",
                "\"UserType\":0,\"Version\":1,\"Workload\":\"AzureActiveDirectory\",\"ClientIP\":\"{}\",\"ObjectId\":\"00000002-0000-0ff1-ce00-000000000000\",",
                "\"UserId\":\"{}\",\"AzureActiveDirectoryEventType\":1,",
                "\"ExtendedProperties\":[{{\"Name\":\"ResultStatusDetail\",\"Value\":\"Redirect\"}},{{\"Name\":\"UserAgent\",\"Value\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"}},{{\"Name\":\"RequestType\",\"Value\":\"OAuth2:Authorize\"}}],",
                "\"ModifiedProperties\":[],\"Actor\":[{{\"ID\":\"{}\",\"Type\":5}}],\"ActorContextId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",",
                "\"ActorIpAddress\":\"{}\",\"InterSystemsId\":\"4f4a8d0e-0f8c-4c7b-9d56-4c9b1e1f0c11\",\"IntraSystemId\":\"9b1e1f0c-0000-4c7b-9d56-4c9b1e1f0c11\",",
                "\"Target\":[{{\"ID\":\"00000002-0000-0ff1-ce00-000000000000\",\"Type\":0}}],\"TargetContextId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",",
                "\"ApplicationId\":\"00000002-0000-0ff1-ce00-000000000000\",\"ErrorNumber\":\"0\"}}"
            ),
            1 + i % 28,
            i % 24,
            i,
            ip,
            user,
            user,
            ip
        ),
        _ => format!(
            concat!(
                "{{\"CreationTime\":\"2023-06-{:02}T{:02}:30:00\",\"Id\":\"{:08x}-3333-403e-976f-ce0847a92b44\",",
                "\"Operation\":\"Send\",\"OrganizationId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",\"RecordType\":2,",
                "\"ResultStatus\":\"Succeeded\",\"UserKey\":\"100320015858B802\",\"UserType\":0,\"Version\":1,\"Workload\":\"Exchange\",",
                "\"ClientIP\":\"{}\",\"UserId\":\"{}\",\"AppId\":\"00000002-0000-0ff1-ce00-000000000000\",",
                "\"ClientIPAddress\":\"{}\",\"ClientInfoString\":\"Client=MSExchangeRPC\",\"ExternalAccess\":false,",
                "\"InternalLogonType\":0,\"LogonType\":0,\"MailboxGuid\":\"d0c5f8ae-9ed7-4e46-bfdf-ea1460f5a31b\",",
                "\"MailboxOwnerUPN\":\"{}\",\"Item\":{{\"Id\":\"RgAAAAAM7KyTTmWeRac2KXBEz\",\"InternetMessageId\":\"<sent{}@contoso.com>\",",
                "\"ParentFolder\":{{\"Id\":\"LgAAAAAM7KyT\",\"Path\":\"\\\\Sent Items\"}},\"SizeInBytes\":{},\"Subject\":\"Quarterly report {}\"}}}}"
            ),
            1 + i % 28,
            i % 24,
            i,
            ip,
            user,
            ip,
            user,
            i,
            1000 + i % 9000,
            i
        ),
    }
}

fn time_threads<F: Fn(&[u8]) -> u64 + Sync>(bytes: &[u8], threads: usize, f: F) -> (f64, u64) {
    // Cut into `threads` parts at newlines.
    let mut parts = Vec::new();
    let mut s = 0;
    for t in 1..=threads {
        let target = bytes.len() * t / threads;
        let e = if t == threads {
            bytes.len()
        } else {
            memchr::memchr(b'\n', &bytes[target..]).map_or(bytes.len(), |k| target + k + 1)
        };
        parts.push(&bytes[s..e]);
        s = e;
    }
    let start = Instant::now();
    let n: u64 = std::thread::scope(|sc| {
        let hs: Vec<_> = parts.iter().map(|p| sc.spawn(|| f(p))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (start.elapsed().as_secs_f64(), n)
}

fn main() {
    let records: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ual.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for i in 0..records {
            writeln!(f, "{}", record(i)).expect("write");
        }
    }
    let bytes = std::fs::read(&path).expect("read");
    let mb = bytes.len() as f64 / 1e6;
    println!("ingest_throughput: {records} UAL records, {mb:.1} MB, {threads} threads");

    let lines = |p: &[u8], f: &dyn Fn(&[u8]) -> bool| -> u64 {
        p.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty() && f(l))
            .count() as u64
    };
    let mut results = Vec::new();
    for round in 0..3 {
        let (t_val, n_val) = time_threads(&bytes, threads, |p| {
            lines(p, &|l| {
                serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
            })
        });
        let (t_parse, n_parse) = time_threads(&bytes, threads, |p| {
            lines(p, &|l| {
                serde_json::from_slice::<serde_json::Value>(l).is_ok()
            })
        });
        let inputs = expand_inputs(std::slice::from_ref(&path)).expect("inputs");
        let cfg = IngestConfig {
            threads,
            ..IngestConfig::default()
        };
        let start = Instant::now();
        let (report, _) = ingest(&inputs, &cfg, || Discard, &Quiet);
        let t_ingest = start.elapsed().as_secs_f64();
        assert_eq!(
            report.events as usize,
            records,
            "{:?}",
            report.rejections.first()
        );
        assert_eq!((n_val as usize, n_parse as usize), (records, records));
        if round > 0 {
            results.push((t_val, t_parse, t_ingest));
        }
    }
    let best = |k: fn(&(f64, f64, f64)) -> f64| results.iter().map(k).fold(f64::MAX, f64::min);
    let (v, p, i) = (best(|r| r.0), best(|r| r.1), best(|r| r.2));
    let row = |name: &str, t: f64| {
        println!(
            "  {name:<28} {:>8.1} MB/s {:>10.0} records/s",
            mb / t,
            records as f64 / t
        );
    };
    row("validate (IgnoredAny)", v);
    row("parse-only (serde_json::Value)", p);
    row("keywarden ingest+normalise", i);
    println!(
        "  ratio ingest / parse-only    {:.2}  (target >= 0.50)",
        p / i
    );
    println!("  ratio ingest / validate      {:.2}", v / i);
}
