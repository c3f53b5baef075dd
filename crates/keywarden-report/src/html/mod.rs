//! `report.html`: one self-contained file an analyst can open, mail or archive.
//!
//! The page makes no request of any kind: the stylesheet is inline, the timeline is inline SVG,
//! there is no script, no font, no image, and a Content-Security-Policy `<meta>` forbids
//! everything but inline styles and `data:` images, so even a value that slipped past escaping
//! could not load or run anything. Every value taken from the logs goes through
//! [`push_html`](crate::escape::push_html); the only links are `#inc-N` anchors built from
//! positions, never from log text.
//!
//! Sections, top-down: header (version, generation time, what was read), headline figures,
//! incident timeline, incident list, one panel per incident (entities, exposure per mailbox,
//! every alert with its evidence and record ids), and the ingest account per input.

mod incident_panel;
mod overview;
mod timeline;

use std::io::Write;

use keywarden_model::{Alert, Exposure, Severity};

use crate::display::compact_time;
use crate::error::ReportError;
use crate::escape::push_html;
use crate::incident::incident_views;
use crate::summary::ReportSummary;

/// The page's Content-Security-Policy: nothing may load or run; inline styles only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'";

const STYLE: &str = include_str!("style.css");

/// Writes `report.html` for `alerts` and `exposure`, headed by `summary`.
pub fn write_html_report(
    alerts: &[Alert],
    exposure: &Exposure,
    summary: &ReportSummary,
    mut w: impl Write,
) -> Result<(), ReportError> {
    let page = render_html_report(alerts, exposure, summary);
    w.write_all(page.as_bytes())
        .and_then(|_| w.flush())
        .map_err(ReportError::write("report.html"))
}

/// The whole page as a string (what [`write_html_report`] writes).
pub fn render_html_report(
    alerts: &[Alert],
    exposure: &Exposure,
    summary: &ReportSummary,
) -> String {
    let views = incident_views(alerts, exposure);
    let totals = summary.totals();
    let mut out = String::with_capacity(64 * 1024 + alerts.len() * 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n"
    ));
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let urgent = views
        .iter()
        .filter(|v| v.severity >= Severity::High)
        .count();
    out.push_str(&format!(
        "<title>keywarden report: {} incident{}, {urgent} high or critical</title>\n",
        views.len(),
        crate::display::plural(views.len())
    ));
    out.push_str("<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header class=\"top\">\n");
    out.push_str("<h1>keywarden <span>hunt report</span></h1>\n<p>Generated ");
    push_html(&mut out, &compact_time(Some(summary.generated_at)));
    out.push_str(" UTC by keywarden ");
    push_html(&mut out, &summary.keywarden_version);
    out.push_str(&format!(
        " · {} input{} · {} records read: {} events, {} rejected</p>\n",
        totals.inputs,
        crate::display::plural(totals.inputs),
        totals.records,
        totals.events,
        totals.rejected
    ));
    out.push_str(
        "<nav class=\"toc\"><a href=\"#timeline\">Timeline</a><a href=\"#incidents\">Incidents</a>\
         <a href=\"#details\">Details and evidence</a><a href=\"#inputs\">Inputs</a></nav>\n</header>\n<main>\n",
    );
    overview::push_cards(&mut out, &views, &totals);
    out.push_str("<section id=\"timeline\">\n<h2>Incident timeline</h2>\n<div class=\"panel\">\n");
    timeline::push_timeline(&mut out, &views);
    out.push_str("</div>\n</section>\n");
    overview::push_incident_list(&mut out, &views);
    out.push_str("<section id=\"details\">\n<h2>Details and evidence</h2>\n");
    if views.is_empty() {
        out.push_str("<p class=\"muted\">No alerts.</p>\n");
    }
    for (index, view) in views.iter().enumerate() {
        incident_panel::push_incident(&mut out, index, view);
    }
    out.push_str("</section>\n");
    overview::push_inputs(&mut out, summary);
    out.push_str("</main>\n<footer>Every value taken from the logs is shown escaped; control and \
         bidirectional characters appear as <code>\\u{..}</code>. This page loads nothing and runs \
         no script. Machine-readable outputs: <code>alerts.jsonl</code>, <code>exposure.json</code>, \
         <code>alerts.csv</code>, <code>summary.json</code>.</footer>\n</body>\n</html>\n");
    out
}

/// Appends `<span class="tag">` chips for up to `max` values, then `+N more`. A value longer
/// than `max_chars` is cut, with the whole value in the chip's tooltip.
fn push_tags(out: &mut String, values: &[&str], max: usize, max_chars: usize) {
    if values.is_empty() {
        out.push_str("<span class=\"muted\">-</span>");
        return;
    }
    for v in values.iter().take(max) {
        let shown = crate::escape::escape_terminal(v);
        if shown.chars().count() > max_chars {
            out.push_str("<span class=\"tag\" title=\"");
            push_html(out, v);
            out.push_str("\">");
            push_html(out, &crate::display::cut(&shown, max_chars));
        } else {
            out.push_str("<span class=\"tag\">");
            push_html(out, v);
        }
        out.push_str("</span>");
    }
    if values.len() > max {
        out.push_str(&format!(
            "<span class=\"muted\">+{} more</span>",
            values.len() - max
        ));
    }
}

/// Appends a coloured severity badge.
fn push_severity(out: &mut String, s: Severity) {
    out.push_str(&format!(
        "<span class=\"sev sev-{0}\">{0}</span>",
        s.as_str()
    ));
}
