//! `alerts.csv`: one row per alert for spreadsheets and Timesketch.
//!
//! RFC 4180 (comma-separated, CRLF line ends, fields quoted when they contain a comma, quote
//! or line break, quotes doubled). The first three columns are the ones Timesketch's CSV
//! importer requires (`datetime`, `timestamp_desc`, `message`); then every `Alert` field in
//! the `alerts.jsonl` order. Lists (`attack`, `record_ids`) are joined with `;`; `evidence` is
//! compact JSON; absent values are empty cells. Every cell has its hidden characters (control,
//! zero-width, bidi) shown as `\u{..}` ([`escape_terminal`]), so the file is safe to print and
//! shows what a spreadsheet would hide, and then goes through [`spreadsheet_safe`], so a log
//! value such as `=HYPERLINK(...)` is shown, never run. `alerts.jsonl` keeps exact values.

use std::borrow::Cow;
use std::io::Write;

use keywarden_model::{Alert, Timestamp};

use crate::error::ReportError;
use crate::escape::{escape_terminal, spreadsheet_safe};

/// The header row: Timesketch's columns, then the `alerts.jsonl` fields in contract order, then
/// (added, at the end so that readers by position keep working) the Microsoft app names of
/// `app_id` and `client_app_id` (empty when the id is not a known Microsoft app).
pub const ALERTS_CSV_COLUMNS: [&str; 24] = [
    "datetime",
    "timestamp_desc",
    "message",
    "id",
    "rule_id",
    "title",
    "severity",
    "score",
    "time_first",
    "time_last",
    "tenant",
    "user",
    "mailbox",
    "client_ip",
    "app_id",
    "client_app_id",
    "session_id",
    "token_id",
    "incident_id",
    "attack",
    "evidence",
    "record_ids",
    "app_name",
    "client_app_name",
];

/// `timestamp_desc` for every row: what `datetime` means.
pub const TIMESTAMP_DESC: &str = "Alert first seen";

/// Writes `alerts.csv`: a header and one row per alert, in the order given.
pub fn write_alerts_csv(alerts: &[Alert], w: impl Write) -> Result<(), ReportError> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(w);
    out.write_record(ALERTS_CSV_COLUMNS)
        .map_err(|source| ReportError::Csv { row: 0, source })?;
    for (i, a) in alerts.iter().enumerate() {
        let csv_error = |source| ReportError::Csv { row: i + 1, source };
        for cell in &alert_row(a) {
            let shown = escape_terminal(cell);
            out.write_field(spreadsheet_safe(&shown).as_bytes())
                .map_err(csv_error)?;
        }
        // An empty record after `write_field`s ends the row.
        out.write_record(None::<&[u8]>).map_err(csv_error)?;
    }
    out.flush().map_err(ReportError::write("alerts.csv"))
}

/// The cells of one row, before the formula defence.
fn alert_row(a: &Alert) -> [Cow<'_, str>; 24] {
    fn opt(v: &Option<String>) -> Cow<'_, str> {
        Cow::Borrowed(v.as_deref().unwrap_or(""))
    }
    fn time(t: Option<Timestamp>) -> Cow<'static, str> {
        t.map(|t| Cow::Owned(t.to_string()))
            .unwrap_or(Cow::Borrowed(""))
    }
    [
        time(a.time_first.or(a.time_last)),
        Cow::Borrowed(TIMESTAMP_DESC),
        Cow::Owned(message(a)),
        Cow::Borrowed(&a.id),
        Cow::Borrowed(&a.rule_id),
        Cow::Borrowed(&a.title),
        Cow::Borrowed(a.severity.as_str()),
        Cow::Owned(format_score(a.score)),
        time(a.time_first),
        time(a.time_last),
        opt(&a.tenant),
        opt(&a.user),
        opt(&a.mailbox),
        opt(&a.client_ip),
        opt(&a.app_id),
        opt(&a.client_app_id),
        opt(&a.session_id),
        opt(&a.token_id),
        opt(&a.incident_id),
        Cow::Owned(a.attack.join(";")),
        Cow::Owned(a.evidence.to_string()),
        Cow::Owned(a.record_ids.join(";")),
        app_name(&a.app_id),
        app_name(&a.client_app_id),
    ]
}

fn app_name(id: &Option<String>) -> Cow<'static, str> {
    Cow::Borrowed(
        id.as_deref()
            .and_then(crate::app_names::microsoft_app_name)
            .unwrap_or(""),
    )
}

/// Timesketch's `message`: `[severity] title` and the key entities that are present.
pub fn message(a: &Alert) -> String {
    let mut m = format!("[{}] {}", a.severity.as_str(), a.title);
    let entities = [
        ("user", &a.user),
        ("mailbox", &a.mailbox),
        ("ip", &a.client_ip),
        ("client_app", &a.client_app_id),
        ("app", &a.app_id),
        ("incident", &a.incident_id),
    ];
    for (name, value) in entities {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            m.push_str(&format!(" {name}={v}"));
        }
    }
    m
}

/// The score as written: shortest round-trip form, `0` for values that are not finite.
fn format_score(score: f64) -> String {
    if score.is_finite() {
        score.to_string()
    } else {
        "0".to_string()
    }
}

#[cfg(test)]
mod tests {
    use keywarden_model::Severity;

    use super::*;

    #[test]
    fn message_names_present_entities_only() {
        let mut a = Alert::new("ioc-ip", "Storm-0558 IP", Severity::High);
        a.user = Some("alice@contoso.com".into());
        a.client_ip = Some("1.2.3.4".into());
        a.mailbox = Some(String::new());
        assert_eq!(
            message(&a),
            "[high] Storm-0558 IP user=alice@contoso.com ip=1.2.3.4"
        );
    }

    #[test]
    fn score_is_always_a_number() {
        assert_eq!(format_score(72.5), "72.5");
        assert_eq!(format_score(f64::NAN), "0");
        assert_eq!(format_score(f64::INFINITY), "0");
    }

    #[test]
    fn header_matches_row_width() {
        let a = Alert::new("r", "t", Severity::Low);
        assert_eq!(alert_row(&a).len(), ALERTS_CSV_COLUMNS.len());
    }
}
