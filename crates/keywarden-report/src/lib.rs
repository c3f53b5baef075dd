//! # keywarden-report
//!
//! The human-facing outputs of `keywarden hunt`, built from the alerts and the exposure the
//! detection stage produced:
//!
//! - [`write_alerts_csv`]: `alerts.csv`, one RFC 4180 row per alert with every `Alert` field
//!   plus Timesketch's `datetime`/`timestamp_desc`/`message` columns, defended against
//!   spreadsheet formula injection ([`spreadsheet_safe`]).
//! - [`write_html_report`]: `report.html`, one self-contained page (inline CSS and SVG, no
//!   script, a locked-down Content-Security-Policy): headline figures, incident timeline,
//!   incident list, exposure per mailbox, every alert's evidence, the ingest account.
//! - [`print_incident_table`]: the coloured incident table on the terminal.
//!
//! Wherever an app id is shown, a Microsoft first-party app's name goes beside it
//! ([`app_label`], [`microsoft_app_name`]: a shipped table; a label, never evidence).
//!
//! [`IncidentView`] joins alerts and [`Exposure`](keywarden_model::Exposure) per incident for
//! the last two; [`ReportSummary`] is what the report header says about the run.
//!
//! Everything shown comes from attacker-controlled logs, so this crate must never emit a
//! log-derived string without the escaping for its destination ([`escape_terminal`],
//! [`escape_html`], [`spreadsheet_safe`]), never build a link or an element id from log text,
//! never make the HTML page fetch or run anything, and never panic on any alert value. It reads
//! no clock and no environment: time, colour and writers are passed in.
#![forbid(unsafe_code)]

mod alerts_csv;
mod app_names;
mod app_names_table;
mod display;
mod error;
mod escape;
mod html;
mod incident;
mod summary;
mod table;

pub use alerts_csv::{
    ALERTS_CSV_COLUMNS, TIMESTAMP_DESC, message as csv_message, write_alerts_csv,
};
pub use app_names::{app_label, microsoft_app_name};
pub use display::compact_time;
pub use error::ReportError;
pub use escape::{
    escape_html, escape_slack, escape_teams, escape_terminal, is_hidden_char, push_html,
    push_html_multiline, spreadsheet_safe,
};
pub use html::{CONTENT_SECURITY_POLICY, render_html_report, write_html_report};
pub use incident::{IncidentView, incident_views};
pub use summary::{InputSummary, ReportSummary, Totals};
pub use table::print_incident_table;
