//! Identity, Graph and HTTP readers: Entra sign-ins (Graph pages, Log Analytics rows,
//! diagnostic-settings envelopes), Graph activity logs, Entra audit logs and web server access
//! logs (text and JSON).
//!
//! Real samples come from `shared/datasets/` (elastic/integrations test fixtures, Elastic
//! License 2.0; OTRF Security-Datasets GoldenSAMLADFSMailAccess, MIT); the small fixtures in
//! `tests/fixtures/{signin,graph,audit,http}` are real-shaped and cover what the samples lack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_ingest::{BytesOutcome, IngestConfig, Processor, Rejection, ingest_bytes};
use keywarden_model::Event;
use serde_json::{Value as Json, json};

const ELASTIC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/elastic-azure-fixtures"
);
const GOLDEN_SAML: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/otrf-goldensaml-mail-access"
);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// What a test needs from each event; `with_raw` adds the raw record (for HTTP, whose raw
/// object is built by the reader).
#[derive(Default)]
struct Collect {
    with_raw: bool,
    seen: Vec<Json>,
}

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        let mut j = json!({
            "source": ev.source.as_str(),
            "format": ev.format,
            "line": ev.origin.line,
            "fields": compact(serde_json::to_value(&ev.fields).unwrap()),
        });
        if self.with_raw {
            j["raw"] = ev.raw.to_json();
        }
        self.seen.push(j);
    }
}

/// Fields without their empty members, so that snapshots show what was extracted.
fn compact(mut fields: Json) -> Json {
    if let Some(o) = fields.as_object_mut() {
        o.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty())));
    }
    fields
}

fn read_bytes(name: &str, bytes: Vec<u8>, with_raw: bool) -> (BytesOutcome, Vec<Json>) {
    let mut c = Collect {
        with_raw,
        ..Collect::default()
    };
    let out = ingest_bytes(name, bytes, &IngestConfig::default(), &mut c);
    assert_eq!(
        out.counts.records,
        out.counts.events + out.counts.rejected,
        "{out:#?}"
    );
    assert_eq!(out.counts.events as usize, c.seen.len());
    assert_eq!(out.counts.rejected as usize, out.rejections.len());
    (out, c.seen)
}

fn read(path: &str, with_raw: bool) -> (BytesOutcome, Vec<Json>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    read_bytes(path.rsplit('/').next().unwrap_or(path), bytes, with_raw)
}

fn positions(rejections: &[Rejection]) -> Vec<(Option<u64>, &'static str)> {
    rejections.iter().map(|r| (r.line, r.code)).collect()
}

fn all(events: &[Json], key: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e[key].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn elastic_graph_activity_envelopes() {
    let (out, events) = read(&format!("{ELASTIC}/test-activitylogs-raw.log"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(events.len(), 6);
    assert_eq!(all(&events, "source"), vec!["graph-activity"; 6]);
    assert_eq!(all(&events, "format"), vec!["azure-diagnostic"; 6]);
    insta::assert_json_snapshot!("elastic_graph_activity", events);
}

#[test]
fn elastic_non_interactive_sign_in_envelope() {
    let (out, events) = read(
        &format!("{ELASTIC}/test-non-interactive-user-signin.log"),
        false,
    );
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(events.len(), 1);
    let f = &events[0]["fields"];
    assert_eq!(f["user"], "nikhita.sethi@cyberfortgroup.com");
    assert_eq!(
        f["token_id"],
        "MDg4YjQ0MDktOWU2My00MjVkLWI3NzctMmM4YzZjMzgwYjAw"
    );
    assert_eq!(f["app_id"], "f920ab6b-8a48-4438-9255-1650179a3a0f");
    assert_eq!(f["category"], "NonInteractiveUserSignInLogs");
    // correlationId is never taken for a session id.
    assert!(f.get("session_id").is_none());
    insta::assert_json_snapshot!("elastic_non_interactive_sign_in", events);
}

#[test]
fn otrf_entra_audit_rows() {
    let (out, events) = read(&format!("{GOLDEN_SAML}/AADAuditEvents.json"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(events.len(), 4);
    assert_eq!(all(&events, "source"), vec!["entra-audit"; 4]);
    insta::assert_json_snapshot!("otrf_entra_audit", events);
}

#[test]
fn graph_sign_in_page() {
    let (out, events) = read(&format!("{FIXTURES}/signin/graph-page.json"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(all(&events, "format"), vec!["signin-graph"; 2]);
    insta::assert_json_snapshot!("graph_sign_in_page", events);
}

#[test]
fn log_analytics_sign_in_rows() {
    let (out, events) = read(&format!("{FIXTURES}/signin/log-analytics.jsonl"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(all(&events, "format"), vec!["signin-log-analytics"; 3]);
    // The workspace `TenantId` is never the tenant.
    assert!(
        events
            .iter()
            .all(|e| e["fields"]["tenant"] == "84841066-274d-4ec0-a5c1-276be684bdd3")
    );
    insta::assert_json_snapshot!("log_analytics_sign_ins", events);
}

#[test]
fn envelope_records_dispatch_on_category() {
    let (out, events) = read(&format!("{FIXTURES}/signin/envelope.json"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(
        all(&events, "source"),
        vec![
            "entra-sign-in",
            "graph-activity",
            "entra-audit",
            "azure-activity"
        ]
    );
    assert_eq!(all(&events, "format"), vec!["azure-diagnostic"; 4]);
    let graph = &events[1]["fields"];
    assert_eq!(graph["mailbox_owner"], "adelev@contoso.onmicrosoft.com");
    assert_eq!(graph["operation"], "GraphMailRead");
    insta::assert_json_snapshot!("envelope_dispatch", events);
}

#[test]
fn hostile_envelopes_are_counted_exactly() {
    let (out, events) = read(&format!("{FIXTURES}/signin/envelopes-hostile.jsonl"), false);
    // Line 1: one good record. Line 2: two sign-in records whose properties are a non-JSON
    // string and a number. Line 3: a cut line. Line 4: properties as JSON text (decoded) and a
    // bare number in `records`.
    assert_eq!(
        (out.counts.records, out.counts.events, out.counts.rejected),
        (6, 2, 4)
    );
    assert_eq!(
        positions(&out.rejections),
        vec![
            (Some(2), "missing-field"),
            (Some(2), "missing-field"),
            (Some(3), "invalid-json"),
            (Some(4), "not-an-object"),
        ]
    );
    let offsets: Vec<_> = out.rejections.iter().map(|r| r.offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    assert!(out.rejections[0].reason.contains("found string"));
    assert!(out.rejections[1].reason.contains("found number"));
    assert_eq!(
        all(&events, "source"),
        vec!["entra-sign-in", "entra-sign-in"]
    );
    assert_eq!(events[1]["fields"]["client_ip"], "192.0.2.2");
}

#[test]
fn graph_activity_rows_name_the_mailbox() {
    let (out, events) = read(&format!("{FIXTURES}/graph/log-analytics.jsonl"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(all(&events, "format"), vec!["graph-activity"; 3]);
    let owners: Vec<_> = events
        .iter()
        .map(|e| e["fields"]["mailbox_owner"].clone())
        .collect();
    assert_eq!(
        owners,
        vec![
            json!("adelev@contoso.onmicrosoft.com"),
            json!("d7cc485d-2c1b-422c-98fd-5ce52859a4a3"),
            Json::Null
        ]
    );
    insta::assert_json_snapshot!("graph_activity_rows", events);
}

#[test]
fn graph_directory_audit_page() {
    let (out, events) = read(&format!("{FIXTURES}/audit/directory-audits.json"), false);
    assert!(out.rejections.is_empty(), "{:#?}", out.rejections);
    assert_eq!(all(&events, "source"), vec!["entra-audit"; 2]);
    insta::assert_json_snapshot!("graph_directory_audits", events);
}

#[test]
fn access_log_text_lines() {
    let (out, events) = read(&format!("{FIXTURES}/http/access.log"), true);
    assert_eq!(out.container, "http-combined");
    // Line 4 is blank (not a record); lines 6, 8 and 10 are not access-log lines.
    assert_eq!(
        (out.counts.records, out.counts.events, out.counts.rejected),
        (9, 6, 3)
    );
    assert_eq!(
        positions(&out.rejections),
        vec![
            (Some(6), "unparseable-line"),
            (Some(8), "unparseable-line"),
            (Some(10), "unparseable-line"),
        ]
    );
    assert!(out.rejections[1].reason.contains("32/Jul/2023"));
    assert!(out.rejections.iter().all(|r| r.raw.is_some()));
    insta::assert_json_snapshot!("access_log_text", events);
}

#[test]
fn access_log_json_lines() {
    let (out, events) = read(&format!("{FIXTURES}/http/access.jsonl"), true);
    assert_eq!(positions(&out.rejections), vec![(Some(5), "invalid-json")]);
    assert_eq!(all(&events, "format"), vec!["http-json"; 4]);
    assert_eq!(all(&events, "source"), vec!["http-access"; 4]);
    insta::assert_json_snapshot!("access_log_json", events);
}

#[test]
fn garbage_after_a_good_access_line_is_rejected_line_by_line() {
    let mut text =
        b"192.0.2.1 - - [12/Jul/2023:14:05:21 +0000] \"GET / HTTP/1.1\" 200 1\n".to_vec();
    text.extend_from_slice(b"\xff\xfe binary\n");
    text.extend_from_slice(&[b'x'; 300]);
    text.push(b'\n');
    let (out, events) = read_bytes("mixed.log", text, false);
    assert_eq!(events.len(), 1);
    assert_eq!(
        positions(&out.rejections),
        vec![(Some(2), "invalid-utf8"), (Some(3), "unparseable-line")]
    );
}

#[test]
fn an_access_log_copied_from_mid_line_is_still_read() {
    // A partial copy starting inside a line: the cut line is rejected, the log is still read.
    let text = concat!(
        "HTTP/1.1\" 200 5123 \"-\" \"Mozilla/5.0\"\n",
        "192.0.2.1 - - [12/Jul/2023:14:05:21 +0000] \"GET / HTTP/1.1\" 200 1\n",
        "192.0.2.2 - - [12/Jul/2023:14:05:22 +0000] \"GET /a HTTP/1.1\" 404 2\n",
    );
    let (out, events) = read_bytes("partial.log", text.as_bytes().to_vec(), false);
    assert_eq!(out.container, "http-combined");
    assert_eq!(events.len(), 2);
    assert_eq!(
        positions(&out.rejections),
        vec![(Some(1), "unparseable-line")]
    );
}
