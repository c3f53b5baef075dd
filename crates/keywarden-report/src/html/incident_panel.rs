//! One panel per incident: the entities involved, what each mailbox exposed (Microsoft's
//! MailItemsAccessed procedure: Bind → messages, Sync → whole folders, throttling → 24 h
//! unaudited), and every alert with its evidence and the records it covers.

use std::collections::BTreeSet;

use keywarden_model::{Alert, MailboxExposure, Severity};

use super::{push_severity, push_tags};
use crate::display::{compact_time, plural};
use crate::escape::{push_html, push_html_multiline};
use crate::incident::{IncidentView, start_of};

/// Record ids listed per alert; the rest are counted (all are in `alerts.jsonl`).
const MAX_RECORD_IDS: usize = 200;

/// Entity values listed per fact line before `+N more`.
const FACT_MAX: usize = 12;

pub(super) fn push_incident(out: &mut String, index: usize, v: &IncidentView<'_>) {
    out.push_str(&format!(
        "<article class=\"incident b-{}\" id=\"inc-{index}\">\n<h3>",
        v.severity.as_str()
    ));
    push_severity(out, v.severity);
    out.push_str(if v.id.is_some() {
        " Incident <span class=\"mono\">"
    } else {
        " Alert without incident <span class=\"mono\">"
    });
    push_html(out, v.label());
    out.push_str(&format!(
        "</span> <span class=\"muted\">· {} alert{} · ",
        v.alerts.len(),
        plural(v.alerts.len())
    ));
    push_html(out, &compact_time(v.first));
    out.push_str(" → ");
    push_html(out, &compact_time(v.last));
    out.push_str(" UTC</span></h3>\n");
    push_facts(out, v);
    push_exposure(out, v);
    out.push_str("<h4>Alerts and evidence</h4>\n");
    if v.alerts.is_empty() {
        out.push_str("<p class=\"muted\">No alert in this report belongs to this incident.</p>\n");
    }
    for (j, a) in v.alerts.iter().enumerate() {
        push_alert(out, index, j, a);
    }
    out.push_str("</article>\n");
}

fn push_facts(out: &mut String, v: &IncidentView<'_>) {
    let distinct = |f: fn(&Alert) -> Option<&str>| -> Vec<&str> {
        let set: BTreeSet<&str> = v.alerts.iter().filter_map(|a| f(a)).collect();
        set.into_iter().collect()
    };
    let tenants = distinct(|a| a.tenant.as_deref());
    let sessions = distinct(|a| a.session_id.as_deref());
    let tokens = distinct(|a| a.token_id.as_deref());
    let client_apps = crate::incident::app_labels(&v.client_app_ids);
    let client_apps: Vec<&str> = client_apps.iter().map(String::as_str).collect();
    let resource_apps = crate::incident::app_labels(&v.app_ids);
    let resource_apps: Vec<&str> = resource_apps.iter().map(String::as_str).collect();
    let facts: [(&str, &[&str]); 9] = [
        ("Users", &v.users),
        ("Client IPs", &v.client_ips),
        ("Client apps", &client_apps),
        ("Resource apps", &resource_apps),
        ("Mailboxes", &v.mailboxes),
        ("Tenants", &tenants),
        ("Sessions", &sessions),
        ("Token ids", &tokens),
        ("Rules", &v.rule_ids),
    ];
    out.push_str("<dl class=\"facts\">\n");
    for (name, values) in facts {
        if values.is_empty() {
            continue;
        }
        out.push_str(&format!("<dt>{name}</dt><dd>"));
        push_tags(out, values, FACT_MAX, usize::MAX);
        out.push_str("</dd>\n");
    }
    out.push_str("</dl>\n");
}

fn push_exposure(out: &mut String, v: &IncidentView<'_>) {
    out.push_str("<h4>Exposure per mailbox</h4>\n");
    let Some(exposure) = v.exposure.filter(|e| !e.mailboxes.is_empty()) else {
        out.push_str("<p class=\"muted\">No mailbox exposure recorded for this incident.</p>\n");
        return;
    };
    out.push_str(
        "<table>\n<thead><tr><th>Mailbox</th><th class=\"num\">Messages read (Bind)</th>\
         <th class=\"num\">Folders synced (Sync)</th><th>Throttled windows (assume unaudited access)</th>\
         </tr></thead>\n<tbody>\n",
    );
    for m in &exposure.mailboxes {
        out.push_str("<tr><td class=\"mono\">");
        push_html(out, &m.mailbox);
        out.push_str(&format!(
            "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">",
            m.messages.len(),
            m.folders_synced.len()
        ));
        if m.throttled_windows.is_empty() {
            out.push_str("<span class=\"muted\">none</span>");
        }
        for w in &m.throttled_windows {
            push_html(out, &compact_time(Some(w.start)));
            out.push_str(" → ");
            push_html(out, &compact_time(Some(w.end)));
            out.push_str("<br>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    for m in &exposure.mailboxes {
        push_mailbox_lists(out, m);
    }
}

/// The exact message ids and folder paths, collapsed under the mailbox name.
fn push_mailbox_lists(out: &mut String, m: &MailboxExposure) {
    if m.messages.is_empty() && m.folders_synced.is_empty() {
        return;
    }
    out.push_str("<details><summary><span class=\"mono\">");
    push_html(out, &m.mailbox);
    out.push_str(&format!(
        "</span>: {} message{} and {} folder{}</summary>\n",
        m.messages.len(),
        plural(m.messages.len()),
        m.folders_synced.len(),
        plural(m.folders_synced.len())
    ));
    for (title, items) in [
        ("Folders synced in full", &m.folders_synced),
        ("InternetMessageIds read", &m.messages),
    ] {
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<p class=\"muted\">{title}</p>\n<ul class=\"ids mono\">\n"
        ));
        for item in items {
            out.push_str("<li>");
            push_html(out, item);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</details>\n");
}

fn push_alert(out: &mut String, index: usize, j: usize, a: &Alert) {
    let open = if a.severity >= Severity::High {
        " open"
    } else {
        ""
    };
    out.push_str(&format!(
        "<div class=\"alert\" id=\"inc-{index}-alert-{j}\"><details{open}><summary>"
    ));
    push_severity(out, a.severity);
    out.push(' ');
    push_html(out, &a.title);
    out.push_str(" <span class=\"muted mono\">");
    push_html(out, &a.rule_id);
    out.push_str(" · ");
    push_html(out, &compact_time(start_of(a)));
    out.push_str("</span></summary>\n<dl class=\"facts\">\n");
    let score = if a.score.is_finite() { a.score } else { 0.0 };
    let time_range = format!(
        "{} → {}",
        compact_time(a.time_first),
        compact_time(a.time_last)
    );
    let attack = a.attack.join(", ");
    let client_app = a.client_app_id.as_deref().map(crate::app_label);
    let resource_app = a.app_id.as_deref().map(crate::app_label);
    let facts: [(&str, Option<&str>); 12] = [
        ("Alert id", Some(a.id.as_str())),
        ("Time (UTC)", Some(time_range.as_str())),
        ("User", a.user.as_deref()),
        ("Mailbox", a.mailbox.as_deref()),
        ("Client IP", a.client_ip.as_deref()),
        ("Client app", client_app.as_deref()),
        ("Resource app", resource_app.as_deref()),
        ("Tenant", a.tenant.as_deref()),
        ("Session", a.session_id.as_deref()),
        ("Token id", a.token_id.as_deref()),
        ("ATT&CK", Some(attack.as_str()).filter(|s| !s.is_empty())),
        ("Incident", a.incident_id.as_deref()),
    ];
    out.push_str(&format!("<dt>Score</dt><dd>{score}</dd>\n"));
    for (name, value) in facts {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        out.push_str("<dt>");
        push_html(out, name);
        out.push_str("</dt><dd class=\"mono\">");
        push_html(out, value);
        out.push_str("</dd>\n");
    }
    out.push_str("</dl>\n<pre>");
    let evidence = serde_json::to_string_pretty(&a.evidence).unwrap_or_else(|_| "{}".into());
    push_html_multiline(out, &evidence);
    out.push_str("</pre>\n");
    push_record_ids(out, &a.record_ids);
    out.push_str("</details></div>\n");
}

fn push_record_ids(out: &mut String, ids: &[String]) {
    out.push_str(&format!(
        "<details><summary>{} source record{}</summary>\n<ul class=\"ids mono\">\n",
        ids.len(),
        plural(ids.len())
    ));
    for id in ids.iter().take(MAX_RECORD_IDS) {
        out.push_str("<li>");
        push_html(out, id);
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
    if ids.len() > MAX_RECORD_IDS {
        out.push_str(&format!(
            "<p class=\"muted\">… and {} more in <code>alerts.jsonl</code> / <code>alerts.csv</code>.</p>\n",
            ids.len() - MAX_RECORD_IDS
        ));
    }
    out.push_str("</details>\n");
}
