//! Fuzzes the report writers (`alerts.csv`, `report.html`, the terminal incident table) with
//! alerts and exposure whose every string comes from the input: none may panic, the HTML must
//! carry no markup, control or bidi character from the input, the table and the CSV no hidden
//! character, and the CSV must read back as one row per alert with no live formula cell.
#![no_main]

use keywarden_model::{
    Alert, Exposure, IncidentExposure, MailboxExposure, Severity, TimeWindow, Timestamp,
};
use keywarden_report::{
    InputSummary, ReportSummary, is_hidden_char, print_incident_table, render_html_report,
    write_alerts_csv,
};
use libfuzzer_sys::fuzz_target;

const SEVERITIES: [Severity; 5] = [
    Severity::Info,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

/// Cuts the input into strings at `0xff` bytes (lossy UTF-8), cycling when it runs out.
struct Strings {
    parts: Vec<String>,
    next: usize,
}

impl Strings {
    fn new(data: &[u8]) -> Strings {
        let parts = data
            .split(|b| *b == 0xff)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        Strings { parts, next: 0 }
    }

    fn take(&mut self) -> String {
        let s = self.parts.get(self.next % self.parts.len().max(1)).cloned();
        self.next += 1;
        s.unwrap_or_default()
    }

    /// `None` for an empty string, so absent fields are exercised too.
    fn opt(&mut self) -> Option<String> {
        Some(self.take()).filter(|s| !s.is_empty())
    }

    fn time(&mut self) -> Option<Timestamp> {
        let s = self.take();
        let n = s
            .bytes()
            .fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(b as i64));
        match n.rem_euclid(4) {
            0 => None,
            1 => Some(Timestamp(n)),
            _ => Some(Timestamp(n.rem_euclid(4_000_000_000_000_000))),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Strings::new(data);
    let count = data.first().map_or(1, |b| (*b as usize % 6) + 1);
    let mut alerts = Vec::new();
    for i in 0..count {
        let mut a = Alert::new(s.take(), s.take(), SEVERITIES[i % SEVERITIES.len()]);
        a.id = s.take();
        a.score = f64::from_bits(s.take().len() as u64 * 0x0101_0101_0101);
        a.time_first = s.time();
        a.time_last = s.time();
        a.tenant = s.opt();
        a.user = s.opt();
        a.mailbox = s.opt();
        a.client_ip = s.opt();
        a.app_id = s.opt();
        a.client_app_id = s.opt();
        a.session_id = s.opt();
        a.token_id = s.opt();
        a.incident_id = s.opt();
        a.attack = vec![s.take(), s.take()];
        a.evidence = serde_json::json!({ s.take(): s.take(), "list": [s.take()] });
        a.record_ids = vec![s.take(), s.take()];
        alerts.push(a);
    }
    let exposure = Exposure {
        incidents: vec![IncidentExposure {
            id: s.take(),
            severity: SEVERITIES[count % SEVERITIES.len()],
            first: s.time(),
            last: s.time(),
            mailboxes: vec![MailboxExposure {
                mailbox: s.take(),
                messages: vec![s.take(), s.take()],
                folders_synced: vec![s.take()],
                throttled_windows: match (s.time(), s.time()) {
                    (Some(start), Some(end)) => vec![TimeWindow { start, end }],
                    _ => Vec::new(),
                },
                linked_by: [(s.take(), 1)].into(),
                aliases: vec![s.take()],
            }],
        }],
    };
    let mut summary = ReportSummary::new(s.take(), s.time().unwrap_or(Timestamp(0)));
    summary.inputs.push(InputSummary {
        path: s.take(),
        format: s.take(),
        records: u64::MAX,
        events: u64::MAX,
        rejected: 1,
        skipped: s.opt(),
    });

    let html = render_html_report(&alerts, &exposure, &summary);
    assert!(!html.contains("<script"), "script element");
    assert!(!html.contains("<img"), "img element");
    assert!(
        html.chars().all(|c| c == '\n' || !is_hidden_char(c)),
        "hidden character in the HTML"
    );

    let mut table = Vec::new();
    print_incident_table(&alerts, &exposure, false, &mut table).expect("write to a Vec");
    let table = String::from_utf8(table).expect("utf-8");
    assert!(
        table.chars().all(|c| c == '\n' || !is_hidden_char(c)),
        "hidden character in the table"
    );

    let mut csv_bytes = Vec::new();
    write_alerts_csv(&alerts, &mut csv_bytes).expect("write to a Vec");
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let mut rows = 0;
    for record in reader.records() {
        let record = record.expect("alerts.csv reads back");
        for cell in record.iter() {
            assert!(
                !cell.chars().any(is_hidden_char),
                "hidden character in a CSV cell"
            );
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "live formula cell {cell:?}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, alerts.len());
});
