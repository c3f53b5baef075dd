//! UAL CSV reader throughput against baselines over the same records, in the same run.
//!
//! `cargo run --release -p keywarden-ingest --example ual_csv_throughput [-- RECORDS]`
//!
//! Generates UAL records (MailItemsAccessed Bind with folders and message ids, Sync,
//! UserLoggedIn with ExtendedProperties, SharePoint FileAccessed; real field names), writes them
//! as a Purview 8-column CSV (`AuditData` quoted with `""` escapes, CRLF, locale dates) and as
//! Management API JSON lines, then times on one thread:
//! - `parse`: each record's JSON text into a full `serde_json::Value` (parse-only baseline);
//! - `jsonl`: keywarden ingest of the JSON lines (parse, classify, normalise);
//! - `csv`: keywarden ingest of the CSV (row scan, unquote, parse `AuditData`, normalise).
//!
//! The figures that matter are `csv / jsonl` (the cost of the CSV container; target ≥ 0.5) and
//! `csv / parse`. CSV inputs are read on one worker (they are not split into chunks), so the
//! single-thread comparison is the fair one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Write;
use std::time::Instant;

use keywarden_ingest::{Discard, IngestConfig, Quiet, expand_inputs, ingest};

fn record(i: usize) -> String {
    let user = format!("user{}@contoso.com", i % 500);
    let ip = format!("203.0.{}.{}", (i / 250) % 250, i % 250);
    let id = format!("{:08x}-1c53-403e-976f-{:012x}", i, i * 7919);
    match i % 4 {
        0 | 1 => {
            let access = if i.is_multiple_of(4) { "Bind" } else { "Sync" };
            let items: Vec<String> = (0..(i % 6))
                .map(|k| format!(r#"{{"InternetMessageId":"<msg{i}-{k}@contoso.prod.outlook.com>","SizeInBytes":{}}}"#, 1000 + k))
                .collect();
            format!(
                r#"{{"CreationTime":"2023-07-11T08:{:02}:{:02}","Id":"{id}","Operation":"MailItemsAccessed","OrganizationId":"4a5b6c7d-1111-2222-3333-444455556666","RecordType":50,"ResultStatus":"Succeeded","UserKey":"10032002C3A4B5D6","UserType":0,"Version":1,"Workload":"Exchange","ClientIP":"{ip}:443","UserId":"{user}","AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"a7c1e3d5-7b2f-4e1b-9a61-3c4d5e6f7a8b","ClientInfoString":"Client=REST;Client=RESTSystem;;","LogonType":0,"MailboxGuid":"0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7","MailboxOwnerUPN":"{user}","OperationProperties":[{{"Name":"MailAccessType","Value":"{access}"}},{{"Name":"IsThrottled","Value":"False"}}],"AppAccessContext":{{"AADSessionId":"0b5e2e34-8f4b-4d2e-9c3b-61a9e1e0c0aa","IssuedAtTime":"2023-07-11T08:01:12","UniqueTokenId":"tok{i}"}},"Folders":[{{"FolderItems":[{}],"Id":"LgAAAAAbcdEFGhijKLMNopqRSTUvwxyz0AQAA","Path":"\\Inbox"}}],"OperationCount":{}}}"#,
                (i / 60) % 60,
                i % 60,
                items.join(","),
                (i % 6).max(1)
            )
        }
        2 => format!(
            r#"{{"CreationTime":"2023-07-11T07:{:02}:{:02}","Id":"{id}","Operation":"UserLoggedIn","OrganizationId":"4a5b6c7d-1111-2222-3333-444455556666","RecordType":15,"ResultStatus":"Success","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"{ip}","ObjectId":"00000003-0000-0000-c000-000000000000","UserId":"{user}","AzureActiveDirectoryEventType":1,"ExtendedProperties":[{{"Name":"ResultStatusDetail","Value":"Success"}},{{"Name":"UserAgent","Value":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/114.0.0.0"}},{{"Name":"RequestType","Value":"OAuth2:Token"}}],"ActorIpAddress":"{ip}","ApplicationId":"d3590ed6-52b3-4102-aeff-aad2292ab01c","ErrorNumber":"0"}}"#,
            (i / 60) % 60,
            i % 60
        ),
        _ => format!(
            r#"{{"CreationTime":"2023-07-11T09:{:02}:{:02}","Id":"{id}","Operation":"FileAccessed","OrganizationId":"4a5b6c7d-1111-2222-3333-444455556666","RecordType":6,"UserType":0,"Version":1,"Workload":"SharePoint","ClientIP":"{ip}","ObjectId":"https://contoso.sharepoint.com/sites/finance/Shared Documents/q{i}.xlsx","UserId":"{user}","UserAgent":"OneDriveMpc-Transform_Thumbnail/1.0","SourceFileName":"q{i}.xlsx"}}"#,
            (i / 60) % 60,
            i % 60
        ),
    }
}

/// One Purview 8-column row for `json` (the `AuditData`), with its locale date.
fn csv_row(i: usize, json: &str) -> String {
    let (op, rt) = match i % 4 {
        0 | 1 => ("MailItemsAccessed", 50),
        2 => ("UserLoggedIn", 15),
        _ => ("FileAccessed", 6),
    };
    format!(
        "{:08x}-1c53-403e-976f-{:012x},7/11/2023 8:{:02}:{:02} AM,{rt},{op},user{}@contoso.com,\"{}\",,\r\n",
        i,
        i * 7919,
        (i / 60) % 60,
        i % 60,
        i % 500,
        json.replace('"', "\"\"")
    )
}

fn time<T>(label: &str, bytes: u64, records: usize, f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{label:<6} {:>9.1} MB/s {:>11.0} records/s ({secs:.3} s)",
        bytes as f64 / secs / 1e6,
        records as f64 / secs
    );
    (out, secs)
}

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let jsonl = dir.path().join("ual.jsonl");
    let csv = dir.path().join("purview.csv");
    let records: Vec<String> = (0..n).map(record).collect();
    {
        let mut j = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
        let mut c = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        c.write_all(b"\xEF\xBB\xBFRecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n")?;
        for (i, r) in records.iter().enumerate() {
            j.write_all(r.as_bytes())?;
            j.write_all(b"\n")?;
            c.write_all(csv_row(i, r).as_bytes())?;
        }
    }
    let json_bytes = std::fs::metadata(&jsonl)?.len();
    let csv_bytes = std::fs::metadata(&csv)?.len();
    println!("{n} UAL records: JSON lines {json_bytes} bytes, Purview CSV {csv_bytes} bytes");

    let one = IngestConfig {
        threads: 1,
        ..IngestConfig::default()
    };
    let (_, parse) = time("parse", json_bytes, n, || {
        records
            .iter()
            .filter(|r| serde_json::from_str::<serde_json::Value>(r).is_ok())
            .count()
    });
    let run = |path: &std::path::Path| {
        let inputs = expand_inputs(&[path.to_path_buf()]).expect("input");
        let (report, _) = ingest(&inputs, &one, || Discard, &Quiet);
        assert_eq!(report.events as usize, n, "every record became an event");
    };
    let ((), jsonl_secs) = time("jsonl", json_bytes, n, || run(&jsonl));
    let ((), csv_secs) = time("csv", csv_bytes, n, || run(&csv));
    println!(
        "records/s ratios: csv/jsonl {:.2}  csv/parse {:.2}  jsonl/parse {:.2}",
        jsonl_secs / csv_secs,
        parse / csv_secs,
        parse / jsonl_secs
    );
    Ok(())
}
