//! The terminal incident table `keywarden hunt` prints: one row per incident, most severe
//! first, with who, from where, through which client apps (Microsoft first-party apps by name), how
//! many alerts and what was read.
//!
//! Every log-derived cell goes through [`escape_terminal`] before it is measured, truncated
//! and padded, so a hostile value can neither inject escape sequences nor break alignment by
//! hiding characters. Colour (severity cells and the header) is only used when the caller says
//! the destination is a terminal.

use std::io::Write;

use keywarden_model::{Alert, Exposure, Severity};

use crate::display::{compact_time, cut, plural};
use crate::error::ReportError;
use crate::escape::escape_terminal;
use crate::incident::{IncidentView, incident_views};

/// Cells wider than this are cut with `…`.
const MAX_CELL: usize = 34;

const HEADER: [&str; 10] = [
    "SEVERITY",
    "INCIDENT",
    "FIRST SEEN (UTC)",
    "LAST SEEN (UTC)",
    "USER(S)",
    "IP(S)",
    "CLIENT APP(S)",
    "ALERTS",
    "MAILBOXES",
    "EXPOSED",
];

/// Columns whose values are numbers and align right.
const NUMERIC: [bool; 10] = [
    false, false, false, false, false, false, false, true, true, false,
];

/// Prints the incident table for `alerts` and `exposure` to `w`. `color` turns on ANSI
/// colours (pass `true` only when `w` is a terminal and `NO_COLOR` is unset).
pub fn print_incident_table(
    alerts: &[Alert],
    exposure: &Exposure,
    color: bool,
    mut w: impl Write,
) -> Result<(), ReportError> {
    let views = incident_views(alerts, exposure);
    let text = render(&views, color);
    w.write_all(text.as_bytes())
        .and_then(|_| w.flush())
        .map_err(ReportError::write("incident table"))
}

fn render(views: &[IncidentView<'_>], color: bool) -> String {
    let paint = |code: &str, t: &str| {
        if color {
            format!("\x1b[{code}m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    if views.is_empty() {
        return format!("{}\n", paint("32", "No incidents."));
    }
    let rows: Vec<(Severity, [String; 10])> = views.iter().map(|v| (v.severity, row(v))).collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for (_, cells) in &rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = HEADER
        .iter()
        .zip(widths)
        .zip(NUMERIC)
        .map(|((h, w), n)| pad(h, w, n))
        .collect();
    out.push_str(&paint("1", header.join("  ").trim_end()));
    out.push('\n');
    for (severity, cells) in &rows {
        let mut line: Vec<String> = Vec::with_capacity(cells.len());
        for (i, ((c, w), n)) in cells.iter().zip(widths).zip(NUMERIC).enumerate() {
            let padded = pad(c, w, n);
            line.push(if i == 0 {
                // Pad first, then paint, so escape codes do not count towards the width.
                paint(severity_colour(*severity), &padded)
            } else {
                padded
            });
        }
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&footer(views));
    out
}

/// The cells of one incident, escaped and cut to width.
fn row(v: &IncidentView<'_>) -> [String; 10] {
    let incident = match v.id {
        Some(id) => cell(id),
        None => format!("(alert {})", cell(v.label())),
    };
    // The Microsoft app's name where known (the ids are in alerts.csv and report.html).
    let client_apps: Vec<&str> = v
        .client_app_ids
        .iter()
        .map(|id| crate::microsoft_app_name(id).unwrap_or(id))
        .collect();
    [
        v.severity.as_str().to_string(),
        incident,
        compact_time(v.first),
        compact_time(v.last),
        list(&v.users),
        list(&v.client_ips),
        list(&client_apps),
        v.alerts.len().to_string(),
        v.mailboxes.len().to_string(),
        exposed(v),
    ]
}

/// What was read: messages, plus synced folders and throttled windows when there are any.
fn exposed(v: &IncidentView<'_>) -> String {
    let mut s = format!("{} msgs", v.messages_exposed());
    let folders = v.folders_synced();
    if folders > 0 {
        s.push_str(&format!(" +{folders} folder{}", plural(folders)));
    }
    let throttled = v.throttled_windows();
    if throttled > 0 {
        s.push_str(&format!(" +{throttled} throttled"));
    }
    s
}

fn footer(views: &[IncidentView<'_>]) -> String {
    let alerts: usize = views.iter().map(|v| v.alerts.len()).sum();
    let messages: usize = views.iter().map(|v| v.messages_exposed()).sum();
    let folders: usize = views.iter().map(|v| v.folders_synced()).sum();
    format!(
        "{} incident{}, {alerts} alert{}; {messages} message{} and {folders} folder{} exposed\n",
        views.len(),
        plural(views.len()),
        plural(alerts),
        plural(messages),
        plural(folders),
    )
}

/// `a, +2 more` style: the first value and how many others.
fn list(values: &[&str]) -> String {
    match values {
        [] => "-".to_string(),
        [one] => cell(one),
        [first, rest @ ..] => {
            let more = format!(" +{}", rest.len());
            let room = MAX_CELL.saturating_sub(more.chars().count());
            format!("{}{more}", cut(&escape_terminal(first), room))
        }
    }
}

/// A log-derived value, escaped then cut to the cell width.
fn cell(s: &str) -> String {
    cut(&escape_terminal(s), MAX_CELL)
}

fn pad(s: &str, width: usize, right_align: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    if right_align {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "97;41;1",
        Severity::High => "31;1",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        let long = "a".repeat(100);
        let c = cell(&long);
        assert_eq!(c.chars().count(), MAX_CELL);
        assert!(c.ends_with('…'));
        assert_eq!(list(&["x@y", "z@y", "w@y"]), "x@y +2");
        assert_eq!(list(&[]), "-");
    }

    #[test]
    fn no_incidents_says_so() {
        assert_eq!(render(&[], false), "No incidents.\n");
    }
}
