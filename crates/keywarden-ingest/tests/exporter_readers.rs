//! Files written by the community exporters responders use (Microsoft-Extractor-Suite, the
//! AzureAD module through it, CISA Untitled Goose Tool, ANSSI DFIR-O365RC, Hawk): every
//! record read into the same fields as the native shapes, or the input says what it lacks.
//! The fixtures and where their shapes come from: `tests/fixtures/exporters/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::path::PathBuf;

use keywarden_ingest::{IngestConfig, IngestReport, Processor, Quiet, expand_inputs, ingest};
use keywarden_model::Event;
use serde_json::{Value as Json, json};

const EXPORTERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exporters");

#[derive(Default)]
struct Collect(Vec<Json>);

impl Processor for Collect {
    fn process(&mut self, ev: &Event<'_>) {
        let mut fields = serde_json::to_value(&ev.fields).unwrap();
        if let Some(o) = fields.as_object_mut() {
            o.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty())));
        }
        self.0.push(json!({
            "path": relative(ev.origin.path),
            "line": ev.origin.line,
            "source": ev.source.as_str(),
            "format": ev.format,
            "fields": fields,
        }));
    }
}

fn relative(path: &str) -> String {
    path.strip_prefix(EXPORTERS)
        .unwrap_or(path)
        .trim_start_matches('/')
        .to_string()
}

/// Reads one exporter's directory; returns the per-input account and the events in file and
/// line order.
fn read(dir: &str) -> (IngestReport, Json) {
    let inputs = expand_inputs(&[PathBuf::from(EXPORTERS).join(dir)]).unwrap();
    let (report, procs) = ingest(&inputs, &IngestConfig::default(), Collect::default, &Quiet);
    assert!(report.balanced(), "{report:#?}");
    let mut events: Vec<Json> = procs.into_iter().flat_map(|c| c.0).collect();
    events.sort_by_key(|e| (e["path"].as_str().unwrap().to_string(), e["line"].as_u64()));
    let inputs: Vec<Json> = report
        .inputs
        .iter()
        .map(|i| {
            json!({
                "path": relative(&i.path),
                "format": i.format,
                "records": i.records,
                "events": i.events,
                "rejected": i.rejected,
                "notes": i.notes.iter().map(|n| json!({"code": n.code, "records": n.records, "of": n.of})).collect::<Vec<_>>(),
            })
        })
        .collect();
    (report, json!({"inputs": inputs, "events": events}))
}

fn notes(report: &IngestReport) -> Vec<(&'static str, u64, u64)> {
    report
        .inputs
        .iter()
        .flat_map(|i| i.notes.iter().map(|n| (n.code, n.records, n.of)))
        .collect()
}

fn events(out: &Json) -> &Vec<Json> {
    out["events"].as_array().unwrap()
}

#[test]
fn regression_pascal_case_signins_are_signins() {
    let (report, out) = read("extractor-suite");
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let signins: Vec<&Json> = events(&out)
        .iter()
        .filter(|e| e["path"].as_str().unwrap().contains("SignInLogsGraph"))
        .collect();
    assert_eq!(signins.len(), 5);
    for e in &signins {
        assert_eq!(e["source"], "entra-sign-in", "{e}");
        assert_eq!(e["format"], "signin-graph", "{e}");
        let f = &e["fields"];
        for key in [
            "time",
            "token_id",
            "user",
            "client_ip",
            "app_id",
            "client_app_id",
            "category",
            "result",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {e}");
        }
    }
    // The one-record interval (a bare object between two arrays) and the failed sign-in.
    assert_eq!(signins[2]["fields"]["time"], "2023-07-01T14:15:09Z");
    assert_eq!(signins[2]["fields"]["result"], "50126");
    assert_eq!(signins[1]["fields"]["token_id"], "Pq7dR2nE5uG8hJ1kL3mN0A");
    assert_eq!(signins[1]["fields"]["category"], "nonInteractiveUser");
    // Nothing lacking: no notes.
    assert_eq!(notes(&report), vec![]);
    insta::assert_json_snapshot!("extractor_suite", out);
}

#[test]
fn regression_pascal_case_directory_audits_are_audits() {
    let (_, out) = read("extractor-suite");
    let audits: Vec<&Json> = events(&out)
        .iter()
        .filter(|e| e["path"].as_str().unwrap().contains("AuditlogsGraph"))
        .collect();
    assert_eq!(audits.len(), 2);
    for e in audits {
        assert_eq!(e["format"], "entra-audit");
        assert_eq!(e["fields"]["user"], "admin@contoso.com");
        assert_eq!(e["fields"]["client_ip"], "203.0.113.66");
        assert!(e["fields"]["user_agent"].is_string(), "{e}");
        assert!(e["fields"]["time"].is_string(), "{e}");
    }
}

#[test]
fn regression_ual_search_results_saved_as_json_are_ual() {
    let (_, out) = read("extractor-suite");
    let ual: Vec<&Json> = events(&out)
        .iter()
        .filter(|e| e["path"].as_str().unwrap().contains("UAL-"))
        .collect();
    assert_eq!(ual.len(), 3);
    for e in &ual {
        assert_eq!(e["source"], "unified-audit-log");
        assert_eq!(e["format"], "ual-search-json");
        assert_eq!(e["fields"]["operation"], "MailItemsAccessed");
        assert_eq!(e["fields"]["mailbox_owner"], "bob@contoso.com");
    }
    assert_eq!(ual[2]["fields"]["token_id"], "NeverIssued0000000000A");
}

#[test]
fn regression_signins_without_token_id_say_so() {
    // The AzureAD module (UTF-16LE, `IpAddress`), DFIR-O365RC (Graph v1.0) and Hawk (v1.0 SDK
    // objects, UTF-16LE, `\/Date(...)\/`) export no token id. Their `isInteractive` names
    // the category (the coverage model reads it), so no `no-category` note.
    let (report, out) = read("azuread-module");
    assert_eq!(notes(&report), vec![("no-token-id", 2, 2)]);
    assert_eq!(events(&out)[0]["fields"]["client_ip"], "203.0.113.10");
    insta::assert_json_snapshot!("azuread_module", out);

    let (report, out) = read("dfir-o365rc");
    assert_eq!(
        notes(&report),
        vec![("no-token-id", 2, 2), ("no-token-id", 1, 1)]
    );
    assert_eq!(report.inputs[0].format, "entra-audit");
    insta::assert_json_snapshot!("dfir_o365rc", out);

    let (report, out) = read("hawk");
    assert_eq!(notes(&report), vec![("no-token-id", 2, 2)]);
    assert_eq!(events(&out)[0]["fields"]["time"], "2023-07-01T10:02:11Z");
    insta::assert_json_snapshot!("hawk", out);
}

#[test]
fn goose_lines_are_graph_signins_and_audits() {
    let (report, out) = read("goose");
    assert_eq!((report.records, report.rejected), (3, 0));
    assert_eq!(notes(&report), vec![]);
    insta::assert_json_snapshot!("goose", out);
}
