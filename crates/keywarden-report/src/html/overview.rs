//! The report's overview sections: headline figures, the incident list and the ingest
//! account per input. Log-derived text is escaped with [`push_html`]; numbers and severities
//! are ours.

use keywarden_model::Severity;

use super::{push_severity, push_tags};
use crate::display::{compact_time, cut};
use crate::escape::{escape_terminal, push_html};
use crate::incident::IncidentView;
use crate::summary::{ReportSummary, Totals};

/// Values shown per cell in the incident list before `+N more`.
const LIST_MAX: usize = 4;

/// Characters shown per value in the incident list (the whole value is in the tooltip).
const CELL_CHARS: usize = 40;

/// The headline figures: how many incidents need an analyst now, and what was read.
pub(super) fn push_cards(out: &mut String, views: &[IncidentView<'_>], totals: &Totals) {
    let urgent = views
        .iter()
        .filter(|v| v.severity >= Severity::High)
        .count();
    let alerts: usize = views.iter().map(|v| v.alerts.len()).sum();
    let messages: usize = views.iter().map(|v| v.messages_exposed()).sum();
    let folders: usize = views.iter().map(|v| v.folders_synced()).sum();
    let throttled: usize = views.iter().map(|v| v.throttled_windows()).sum();
    let mut mailboxes: Vec<&str> = views
        .iter()
        .flat_map(|v| v.mailboxes.iter().copied())
        .collect();
    mailboxes.sort_unstable();
    mailboxes.dedup();
    let cards: [(&str, String, &str); 7] = [
        (
            if urgent > 0 {
                "card alarm"
            } else {
                "card calm"
            },
            urgent.to_string(),
            "high / critical incidents",
        ),
        ("card", views.len().to_string(), "incidents"),
        ("card", alerts.to_string(), "alerts"),
        ("card", mailboxes.len().to_string(), "mailboxes reached"),
        ("card", messages.to_string(), "messages read (Bind)"),
        (
            "card",
            format!("{folders} / {throttled}"),
            "folders synced / throttled windows",
        ),
        ("card", totals.records.to_string(), "records read"),
    ];
    out.push_str("<section class=\"cards\">\n");
    for (class, n, label) in cards {
        out.push_str(&format!(
            "<div class=\"{class}\"><div class=\"n\">{n}</div><div class=\"l\">{label}</div></div>\n"
        ));
    }
    out.push_str("</section>\n");
}

/// One row per incident: severity, id, first/last, how much was read, then who, from where,
/// with what and which rules.
pub(super) fn push_incident_list(out: &mut String, views: &[IncidentView<'_>]) {
    out.push_str("<section id=\"incidents\">\n<h2>Incidents</h2>\n<div class=\"panel\">\n");
    if views.is_empty() {
        out.push_str(
            "<p>No incidents: no detection fired on these inputs.</p>\n</div>\n</section>\n",
        );
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th>Severity</th><th>Incident</th><th>First / last seen (UTC)</th>\
         <th class=\"num\">Alerts</th><th class=\"num\">Mail&shy;boxes</th>\
         <th class=\"num\">Messages</th><th class=\"num\">Folders</th>\
         <th>Users</th><th>Client IPs</th><th>Client apps</th><th>Rules</th></tr></thead>\n<tbody>\n",
    );
    for (index, v) in views.iter().enumerate() {
        out.push_str("<tr><td>");
        push_severity(out, v.severity);
        out.push_str(&format!(
            "</td><td class=\"mono when\"><a href=\"#inc-{index}\">"
        ));
        if v.id.is_none() {
            out.push_str("alert ");
        }
        push_html(out, &cut(&escape_terminal(v.label()), CELL_CHARS));
        out.push_str("</a></td><td class=\"mono when\">");
        push_html(out, &compact_time(v.first));
        out.push_str("<br>");
        push_html(out, &compact_time(v.last));
        out.push_str(&format!(
            "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>",
            v.alerts.len(),
            v.mailboxes.len(),
            v.messages_exposed(),
            v.folders_synced()
        ));
        push_tags(out, &v.users, LIST_MAX, CELL_CHARS);
        out.push_str("</td><td>");
        push_tags(out, &v.client_ips, LIST_MAX, CELL_CHARS);
        out.push_str("</td><td>");
        let apps = crate::incident::app_labels(&v.client_app_ids);
        let apps: Vec<&str> = apps.iter().map(String::as_str).collect();
        push_tags(out, &apps, LIST_MAX, CELL_CHARS);
        out.push_str("</td><td>");
        push_tags(out, &v.rule_ids, LIST_MAX, CELL_CHARS);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

/// The ingest account: per input, records = events + rejected.
pub(super) fn push_inputs(out: &mut String, summary: &ReportSummary) {
    let totals = summary.totals();
    out.push_str("<section id=\"inputs\">\n<h2>Inputs</h2>\n<div class=\"panel\">\n");
    out.push_str(
        "<table>\n<thead><tr><th>Input</th><th>Format</th><th class=\"num\">Records</th>\
         <th class=\"num\">Events</th><th class=\"num\">Rejected</th><th>Note</th></tr></thead>\n<tbody>\n",
    );
    for i in &summary.inputs {
        out.push_str("<tr><td class=\"mono\">");
        push_html(out, &i.path);
        out.push_str("</td><td>");
        push_html(out, &i.format);
        let rejected_class = if i.rejected > 0 { "num warn" } else { "num" };
        out.push_str(&format!(
            "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{rejected_class}\">{}</td><td>",
            i.records, i.events, i.rejected
        ));
        if let Some(why) = &i.skipped {
            out.push_str("skipped: ");
            push_html(out, why);
        } else if i.rejected > 0 {
            out.push_str("see <code>rejected.jsonl</code>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str(&format!(
        "</tbody>\n<tfoot><tr><th>Total ({} input{})</th><th></th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th><th class=\"num\">{}</th><th>{}</th></tr></tfoot>\n</table>\n</div>\n</section>\n",
        totals.inputs,
        crate::display::plural(totals.inputs),
        totals.records,
        totals.events,
        totals.rejected,
        if totals.records == totals.events.saturating_add(totals.rejected) {
            "every record accounted for"
        } else {
            "records ≠ events + rejected"
        }
    ));
}
