//! `alerts.csv`: snapshot of the fixture, RFC 4180 round trip, Timesketch columns and the
//! formula-injection defence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_report::{ALERTS_CSV_COLUMNS, write_alerts_csv};

fn csv_of(alerts: &[keywarden_model::Alert]) -> String {
    let mut out = Vec::new();
    write_alerts_csv(alerts, &mut out).expect("write to a Vec");
    String::from_utf8(out).expect("utf-8")
}

fn read_back(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn fixture_csv_snapshot() {
    insta::assert_snapshot!(csv_of(&support::alerts()));
}

#[test]
fn one_row_per_alert_with_every_field() {
    let alerts = support::alerts();
    let text = csv_of(&alerts);
    assert!(text.ends_with("\r\n"), "RFC 4180 line ends");
    let (header, rows) = read_back(&text);
    assert_eq!(header, ALERTS_CSV_COLUMNS);
    assert_eq!(rows.len(), alerts.len());
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    for (row, a) in rows.iter().zip(&alerts) {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[col("id")], a.id);
        assert_eq!(row[col("severity")], a.severity.as_str());
        assert_eq!(row[col("timestamp_desc")], "Alert first seen");
        assert!(row[col("message")].contains(&a.title));
        assert_eq!(row[col("record_ids")], a.record_ids.join(";"));
        let evidence: serde_json::Value =
            serde_json::from_str(&row[col("evidence")]).expect("evidence is JSON");
        assert_eq!(evidence, a.evidence);
        let first = a.time_first.map(|t| t.to_string()).unwrap_or_default();
        assert_eq!(row[col("datetime")], first);
    }
}

#[test]
fn formula_cells_are_neutralised_and_nothing_is_lost() {
    let (alerts, _, _) = support::hostile();
    let text = csv_of(&alerts);
    let (header, rows) = read_back(&text);
    assert_eq!(rows.len(), alerts.len());
    for (row, payload) in rows.iter().zip(support::PAYLOADS) {
        let user = &row[header.iter().position(|h| h == "user").expect("user")];
        if payload.starts_with(['=', '+', '-', '@']) {
            assert_eq!(user, &format!("'{payload}"));
        } else {
            let shown = keywarden_report::escape_terminal(payload);
            assert_eq!(
                user, &shown,
                "other values are kept, hidden characters made visible"
            );
        }
        for cell in row {
            assert!(
                !cell.chars().any(keywarden_report::is_hidden_char),
                "{cell:?}"
            );
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "live formula cell {cell:?}"
            );
        }
    }
}

#[test]
fn no_alerts_gives_a_header_only() {
    let text = csv_of(&[]);
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("datetime,timestamp_desc,message,id,rule_id"));
}
