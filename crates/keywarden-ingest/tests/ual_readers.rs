//! The Unified Audit Log readers: Management Activity API JSON, Purview CSV (8- and 4-column),
//! `Search-UnifiedAuditLog | Export-Csv`, Sentinel `OfficeActivity` and Defender
//! `CloudAppEvents`, against small real-shaped fixtures, the real public samples in
//! `shared/datasets/`, and a hostile corpus whose every row must be accounted for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::PathBuf;

use keywarden_ingest::{
    BytesOutcome, Format, IngestConfig, Processor, Quiet, expand_inputs, ingest, ingest_bytes,
};
use keywarden_model::Event;
use serde_json::{Value as Json, json};

/// What a test keeps of each event.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    format: &'static str,
    line: Option<u64>,
    offset: u64,
    fields: Json,
    raw: Json,
}

#[derive(Default)]
struct Collect(Vec<Seen>);

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        self.0.push(Seen {
            format: ev.format,
            line: ev.origin.line,
            offset: ev.origin.offset,
            fields: serde_json::to_value(&ev.fields).expect("fields serialise"),
            raw: ev.raw.to_json(),
        });
    }
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(rel)
}

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets"
    ))
    .join(rel)
}

fn read_with(path: &PathBuf, cfg: &IngestConfig) -> (BytesOutcome, Vec<Seen>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut c = Collect::default();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let out = ingest_bytes(&name.unwrap_or_default(), bytes, cfg, &mut c);
    assert_eq!(
        out.counts.records,
        out.counts.events + out.counts.rejected,
        "{out:#?}"
    );
    assert_eq!(out.counts.events as usize, c.0.len());
    (out, c.0)
}

fn read(path: &PathBuf) -> (BytesOutcome, Vec<Seen>) {
    read_with(path, &IngestConfig::default())
}

fn rejections(out: &BytesOutcome) -> Vec<(Option<u64>, &'static str)> {
    out.rejections.iter().map(|r| (r.line, r.code)).collect()
}

/// `(line, fields)` of every event, for snapshots.
fn field_table(seen: &[Seen]) -> Json {
    Json::Array(
        seen.iter()
            .map(|s| json!({"line": s.line, "format": s.format, "fields": s.fields}))
            .collect(),
    )
}

#[test]
fn management_api_array_and_lines_agree() {
    let (out, array) = read(&fixture("ual/management-api.json"));
    assert_eq!(out.container, "json");
    assert_eq!(out.counts.events, 4);
    assert!(out.rejections.is_empty());
    let (_, lines) = read(&fixture("ual/management-api.jsonl"));
    let fields = |s: &[Seen]| s.iter().map(|e| e.fields.clone()).collect::<Vec<_>>();
    assert_eq!(fields(&array), fields(&lines));
    assert_eq!(
        lines.iter().map(|s| s.line).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3), Some(4)]
    );
    insta::assert_json_snapshot!("management_api_fields", field_table(&array));
}

#[test]
fn purview_csv_current_layout() {
    let (out, seen) = read(&fixture("ual/purview-8col.csv"));
    assert_eq!(out.container, "csv");
    assert!(out.rejections.is_empty(), "{:?}", out.rejections);
    // Header on line 1; the FileAccessed row has a quoted CRLF, so the next row is on line 7.
    let lines: Vec<_> = seen.iter().map(|s| s.line).collect();
    assert_eq!(lines, [Some(2), Some(3), Some(4), Some(5), Some(7)]);
    assert!(seen.iter().all(|s| s.format == "purview-csv"));
    // Offsets count the BOM: the first row starts after it and the header.
    let header_len = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n".len() as u64;
    assert_eq!(seen[0].offset, 3 + header_len);
    // raw is the AuditData object, in the Management API shape.
    assert_eq!(seen[0].raw["Operation"], "MailItemsAccessed");
    assert_eq!(
        seen[0].raw["AppAccessContext"]["UniqueTokenId"],
        "Y2xvc2VkX3Rva2VuX2lk0"
    );
    // The same records as the Management API fixture give the same fields.
    let (_, api) = read(&fixture("ual/management-api.json"));
    for (csv, api) in seen.iter().zip(&api) {
        assert_eq!(csv.fields, api.fields);
        assert_eq!(csv.raw, api.raw);
    }
    // The last row's AuditData has no CreationTime: the locale CreationDate column is used.
    assert_eq!(seen[4].fields["time"], "2023-07-11T21:05:00Z");
    insta::assert_json_snapshot!("purview_8col_fields", field_table(&seen));
}

#[test]
fn purview_csv_legacy_layout() {
    let (out, seen) = read(&fixture("ual/purview-4col.csv"));
    assert!(out.rejections.is_empty(), "{:?}", out.rejections);
    assert_eq!(out.counts.events, 3);
    assert!(seen.iter().all(|s| s.format == "purview-csv-legacy"));
    let (_, api) = read(&fixture("ual/management-api.json"));
    for (csv, api) in seen.iter().zip(&api) {
        assert_eq!(csv.fields, api.fields);
    }
}

#[test]
fn search_unified_audit_log_export() {
    let (out, seen) = read(&fixture("ual/search-unifiedauditlog.csv"));
    assert_eq!(out.container, "csv");
    assert!(out.rejections.is_empty(), "{:?}", out.rejections);
    assert_eq!(out.counts.events, 4);
    // `#TYPE` on line 1, header on line 2.
    assert_eq!(seen[0].line, Some(3));
    assert!(seen.iter().all(|s| s.format == "ual-search-csv"));
    let (_, api) = read(&fixture("ual/management-api.json"));
    for (csv, api) in seen.iter().zip(&api) {
        assert_eq!(csv.fields, api.fields);
    }
}

#[test]
fn forced_csv_format_labels_every_row() {
    let cfg = IngestConfig {
        format: Some(Format::PurviewCsv),
        ..IngestConfig::default()
    };
    let (out, seen) = read_with(&fixture("ual/purview-4col.csv"), &cfg);
    assert_eq!(out.counts.events, 3);
    assert!(seen.iter().all(|s| s.format == "purview-csv"));
}

#[test]
fn sentinel_office_activity_rows() {
    let (out, seen) = read(&fixture("ual/sentinel-office-activity.jsonl"));
    assert!(out.rejections.is_empty());
    assert!(seen.iter().all(|s| s.format == "sentinel-office-activity"));
    // JSON-string members are decoded in raw.
    assert_eq!(seen[0].raw["OperationProperties"][0]["Value"], "Bind");
    insta::assert_json_snapshot!("sentinel_fields", field_table(&seen));
}

#[test]
fn defender_cloud_app_events_rows() {
    let (out, seen) = read(&fixture("ual/defender-cloud-app-events.jsonl"));
    assert!(out.rejections.is_empty());
    assert!(seen.iter().all(|s| s.format == "defender-cloud-app-events"));
    // RawEventData given as a string is decoded; PowerShell text inside it too.
    assert_eq!(
        seen[1].raw["RawEventData"]["AppAccessContext"]["UniqueTokenId"],
        "dG9rZW4tc3luYy0x"
    );
    insta::assert_json_snapshot!("defender_fields", field_table(&seen));
}

#[test]
fn table_exports_as_csv_read_like_their_json_rows() {
    // Log Analytics "Export to CSV": `TimeGenerated [UTC]` in locale form, nested members as
    // JSON text. The same rows as the JSON lines fixture give the same fields.
    let (out, csv) = read(&fixture("ual/sentinel-office-activity.csv"));
    assert_eq!(out.container, "csv");
    assert!(out.rejections.is_empty(), "{:?}", out.rejections);
    let (_, json) = read(&fixture("ual/sentinel-office-activity.jsonl"));
    assert_eq!(csv.len(), 2);
    for (c, j) in csv.iter().zip(&json) {
        assert_eq!(c.format, "sentinel-office-activity");
        assert_eq!(c.fields, j.fields);
    }
    // Defender advanced hunting CSV: RawEventData is a JSON string column.
    let (out, csv) = read(&fixture("ual/defender-cloud-app-events.csv"));
    assert!(out.rejections.is_empty(), "{:?}", out.rejections);
    let (_, json) = read(&fixture("ual/defender-cloud-app-events.jsonl"));
    assert_eq!(csv.len(), 2);
    for (c, j) in csv.iter().zip(&json) {
        assert_eq!(c.format, "defender-cloud-app-events");
        assert_eq!(c.fields, j.fields);
        assert_eq!(c.raw["RawEventData"], j.raw["RawEventData"]);
    }
}

#[test]
fn real_purview_export_loads_completely() {
    // Huntress CTF 2023 Purview export: 219 rows, current layout, locale dates.
    let (out, seen) = read(&shared("huntress-ctf-2023-purview/purview.csv"));
    assert_eq!(out.container, "csv");
    assert_eq!(
        (out.counts.records, out.counts.events, out.counts.rejected),
        (219, 219, 0),
        "{:?}",
        out.rejections
    );
    assert!(seen.iter().all(|s| s.fields["time"].is_string()));
    assert!(seen.iter().all(|s| s.fields["record_id"].is_string()));
    // Empty UniqueTokenId values mean "unknown", never an empty token id.
    assert!(seen.iter().all(|s| s.fields["token_id"] != ""));
    let logins: Vec<_> = seen
        .iter()
        .filter(|s| s.fields["operation"] == "UserLoggedIn")
        .collect();
    assert_eq!(logins.len(), 20);
    assert!(logins.iter().all(|s| s.fields["user_agent"].is_string()));
    assert!(logins.iter().all(|s| s.fields["client_ip"].is_string()));
}

#[test]
fn real_purview_export_through_the_engine() {
    let inputs = expand_inputs(&[shared("huntress-ctf-2023-purview/purview.csv")]).expect("input");
    let cfg = IngestConfig {
        threads: 2,
        ..IngestConfig::default()
    };
    let (report, procs) = ingest(&inputs, &cfg, Collect::default, &Quiet);
    assert!(report.balanced());
    let events: usize = procs.iter().map(|c| c.0.len()).sum();
    assert_eq!(events, 219);
}

#[test]
fn real_sentinel_mail_items_accessed_bind() {
    // OTRF Golden SAML lab: the attacker app's MailItemsAccessed Bind.
    let (out, seen) = read(&shared(
        "otrf-goldensaml-mail-access/OfficeActivityEvents.json",
    ));
    assert_eq!((out.counts.events, out.counts.rejected), (1, 0));
    let f = &seen[0].fields;
    assert_eq!(seen[0].format, "sentinel-office-activity");
    assert_eq!(f["operation"], "MailItemsAccessed");
    assert_eq!(f["mail_access_type"], "Bind");
    assert_eq!(f["throttled"], false);
    assert_eq!(f["client_app_id"], "5a95e683-08ad-424e-a441-1d1aec52c02c");
    assert_eq!(f["app_id"], "00000003-0000-0000-c000-000000000000");
    assert_eq!(f["logon_type"], 0);
    assert_eq!(f["client_ip"], "1.2.3.4");
    assert_eq!(f["user"], "pgustavo@simulandlabs.com");
    assert_eq!(f["record_id"], "699e0b10-1c53-403e-976f-ce0847a92b44");
    assert_eq!(f["folders"][0]["path"], "\\Inbox");
    assert_eq!(
        f["folders"][0]["message_ids"].as_array().map(Vec::len),
        Some(7)
    );
}

#[test]
fn real_defender_union_reads_every_row_as_its_table() {
    let (out, seen) = read(&shared(
        "otrf-goldensaml-mail-access/Microsoft365DefenderEvents.json",
    ));
    assert_eq!((out.counts.records, out.counts.rejected), (9, 0));
    // A union of three tables: every row is read as its own table, none as generic JSON.
    assert_eq!(out.counts.shapes.get("defender-cloud-app-events"), Some(&2));
    assert_eq!(out.counts.shapes.get("defender-device-events"), Some(&5));
    assert_eq!(
        out.counts.shapes.get("defender-identity-directory-events"),
        Some(&2)
    );
    assert_eq!(out.counts.shapes.get("json"), None);
    let ldap = seen
        .iter()
        .find(|s| s.fields["operation"] == "LdapSearch")
        .expect("an LdapSearch row");
    assert!(
        ldap.raw["AdditionalFields"]["DistinguishedName"]
            .as_str()
            .is_some_and(|dn| dn.contains("CN=ADFS,CN=Microsoft,CN=Program Data"))
    );
    assert_eq!(ldap.fields["user"], "wardog@simulandlabs.com");
    let mail = seen
        .iter()
        .find(|s| s.fields["operation"] == "MailItemsAccessed")
        .expect("the MailItemsAccessed row");
    assert_eq!(mail.fields["mail_access_type"], "Bind");
    assert_eq!(
        mail.fields["client_app_id"],
        "5a95e683-08ad-424e-a441-1d1aec52c02c"
    );
    assert_eq!(mail.fields["operation_count"], 7);
    assert_eq!(
        mail.fields["record_id"],
        "699e0b10-1c53-403e-976f-ce0847a92b44"
    );
    assert_eq!(mail.fields["folders"][0]["path"], "\\Inbox");
}

#[test]
fn hostile_rows_are_each_accounted_for() {
    let (out, seen) = read(&fixture("hostile/ual-broken-rows.csv"));
    assert_eq!(
        rejections(&out),
        [
            (Some(3), "malformed-csv"),
            (Some(5), "malformed-csv"),
            (Some(6), "csv-field-count"),
            (Some(7), "invalid-embedded-json"),
            (Some(8), "not-an-object"),
            (Some(9), "too-deep"),
            (Some(10), "invalid-embedded-json"),
            (Some(12), "invalid-utf8"),
        ]
    );
    let lines: Vec<_> = seen.iter().map(|s| s.line).collect();
    assert_eq!(lines, [Some(2), Some(4), Some(14)]);
    // The broken quote is reported on the row it opened, with where the damage showed.
    assert_eq!(
        out.rejections[0].reason,
        "malformed CSV row: unexpected character after a closing quote (found on line 4, \
         inside a quoted field opened here); resuming at the next line"
    );
    // Every rejection carries the file and the raw row for rejected.jsonl.
    assert!(
        out.rejections
            .iter()
            .all(|r| r.path == "ual-broken-rows.csv" && r.raw.is_some())
    );
}

#[test]
fn hostile_unterminated_quote_that_swallows_rows() {
    let (out, seen) = read(&fixture("hostile/ual-swallowed-rows.csv"));
    assert_eq!(
        rejections(&out),
        [(Some(2), "malformed-csv"), (Some(4), "malformed-csv")]
    );
    let lines: Vec<_> = seen.iter().map(|s| s.line).collect();
    assert_eq!(lines, [Some(3), Some(5)]);
}

#[test]
fn hostile_unterminated_quote_at_the_end() {
    let (out, seen) = read(&fixture("hostile/ual-unterminated-last.csv"));
    assert_eq!(
        rejections(&out),
        [(Some(3), "malformed-csv"), (Some(4), "csv-field-count")]
    );
    assert_eq!(seen.len(), 1);
}

#[test]
fn hostile_oversized_row_is_capped() {
    let cfg = IngestConfig {
        max_record_bytes: 1024,
        ..IngestConfig::default()
    };
    let (out, seen) = read_with(&fixture("hostile/ual-oversized-row.csv"), &cfg);
    assert_eq!(rejections(&out), [(Some(3), "too-large")]);
    assert!(
        out.rejections[0]
            .raw
            .as_ref()
            .is_some_and(|r| r.len() <= 1024)
    );
    assert_eq!(seen.len(), 2);
}

#[test]
fn hostile_truncated_gzip_csv() {
    let (out, seen) = read(&fixture("hostile/ual-truncated.csv.gz"));
    assert_eq!(out.container, "csv");
    let codes = rejections(&out);
    // The damage is counted once where decoding stopped, and the cut-off last row on its own.
    assert_eq!(codes.iter().filter(|c| c.1 == "decompression").count(), 1);
    assert!(!seen.is_empty());
    assert_eq!(out.counts.events + out.counts.rejected, out.counts.records);
    insta::assert_json_snapshot!(
        "truncated_gzip_accounting",
        json!({"events": seen.iter().map(|s| s.line).collect::<Vec<_>>(), "rejections": codes})
    );
}

#[test]
fn hostile_nul_byte_costs_one_row_not_the_export() {
    let (out, seen) = read(&fixture("hostile/ual-nul-byte.csv"));
    assert_eq!(out.container, "csv");
    assert_eq!(rejections(&out), [(Some(3), "invalid-embedded-json")]);
    assert_eq!(
        seen.iter().map(|s| s.line).collect::<Vec<_>>(),
        [Some(2), Some(4)]
    );
}

#[test]
fn defender_union_as_csv_reads_every_row_as_its_table() {
    let (out, seen) = read(&fixture("defender/union.csv"));
    assert_eq!((out.counts.records, out.counts.rejected), (4, 0));
    let formats: Vec<&str> = seen.iter().map(|s| s.format).collect();
    assert_eq!(
        formats,
        [
            "defender-device-process-events",
            "defender-device-network-events",
            "defender-identity-directory-events",
            "defender-device-events",
        ]
    );
    assert_eq!(seen[0].fields["record_id"], "5e0a1f2b3c4d:101");
    assert_eq!(seen[0].fields["user"], "admin@contoso.com");
    assert_eq!(seen[2].raw["AdditionalFields"]["FROM.DEVICE"], "ADFS01");
    assert_eq!(seen[2].fields["client_ip"], "10.0.0.5");
}
