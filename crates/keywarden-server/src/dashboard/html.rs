//! HTML for the dashboard, built as plain strings: every value that may come from a log
//! passes through [`esc`] (the report's `keywarden_report::escape_html`, for text and quoted
//! attributes alike; evidence blocks through `push_html_multiline`) or [`url_component`]
//! (query strings and paths), and nothing is ever written into a script, style or event
//! handler. The pages use no JavaScript; the stylesheet is served by the binary itself.

use std::fmt::Write as _;

use keywarden_model::{Alert, Timestamp};
use keywarden_report::{escape_html as esc, push_html_multiline};
use keywarden_store::{AlertStatus, AuditEntry, IncidentRow, IncidentView};

/// Pretty-printed evidence JSON for a `<pre>` block: line breaks of our own formatting kept,
/// everything else escaped as by [`esc`] (string values are already JSON-escaped).
fn evidence_block(evidence: &serde_json::Value) -> String {
    let mut out = String::new();
    push_html_multiline(
        &mut out,
        &serde_json::to_string_pretty(evidence).unwrap_or_default(),
    );
    out
}

/// Percent-encodes everything but unreserved characters (for a path segment or query value).
pub fn url_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), |t| esc(&t.to_string()))
}

fn severity(s: keywarden_model::Severity) -> String {
    let name = format!("{s:?}").to_ascii_lowercase();
    format!("<span class=\"sev-{name}\">{name}</span>")
}

/// A whole page: the header with navigation and logout (a CSRF-protected POST), then `body`.
pub fn page(title: &str, csrf: &str, body: &str) -> String {
    format!(
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"referrer\" content=\"no-referrer\">",
            "<title>{title} · keywarden</title>",
            "<link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n<body>",
            "<header><strong>keywarden</strong><a href=\"/\">Alerts and incidents</a>",
            "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">",
            "<button type=\"submit\">Log out</button></form></header>\n<main>{body}</main></body></html>\n"
        ),
        title = esc(title),
        csrf = esc(csrf),
        body = body
    )
}

/// The login page (`error` is a fixed message, never request data).
pub fn login_page(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<title>Log in · keywarden</title>",
            "<link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n<body>",
            "<header><strong>keywarden</strong></header><main><h1>Log in</h1>{error}",
            "<form method=\"post\" action=\"/login\"><label>API key ",
            "<input type=\"password\" name=\"key\" autocomplete=\"current-password\" required></label> ",
            "<button type=\"submit\">Log in</button></form></main></body></html>\n"
        ),
        error = error
    )
}

/// The filters of the alert list, as submitted (echoed back escaped).
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub severity: String,
    pub rule: String,
    pub user: String,
    pub mailbox: String,
}

/// The home page: incidents, the filter form and the filtered alerts grouped by status.
pub fn home(
    incidents: &[IncidentRow],
    alerts: &[(AlertStatus, Vec<Alert>)],
    filters: &Filters,
    csrf: &str,
) -> String {
    let mut b = String::new();
    let _ = write!(b, "<h1>Incidents</h1>");
    if incidents.is_empty() {
        b.push_str("<p>No incidents.</p>");
    } else {
        b.push_str("<table><tr><th>Incident</th><th>Severity</th><th>Alerts</th><th>First</th><th>Last</th></tr>");
        for i in incidents {
            let _ = write!(
                b,
                "<tr><td><a href=\"/ui/incidents/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                url_component(&i.id),
                esc(&i.id),
                severity(i.severity),
                i.alerts,
                time(i.time_first),
                time(i.time_last)
            );
        }
        b.push_str("</table>");
    }
    b.push_str("<h1>Alerts</h1><form class=\"filters\" method=\"get\" action=\"/\">");
    let sel = |v: &str| {
        if filters.severity == v {
            " selected"
        } else {
            ""
        }
    };
    let _ = write!(
        b,
        "<label>Severity <select name=\"severity\"><option value=\"\"{}>any</option>",
        sel("")
    );
    for s in ["critical", "high", "medium", "low", "info"] {
        let _ = write!(b, "<option value=\"{s}\"{}>{s}</option>", sel(s));
    }
    b.push_str("</select></label>");
    for (name, value) in [
        ("rule", &filters.rule),
        ("user", &filters.user),
        ("mailbox", &filters.mailbox),
    ] {
        let _ = write!(
            b,
            "<label>{name} <input name=\"{name}\" value=\"{}\"></label>",
            esc(value)
        );
    }
    b.push_str("<button type=\"submit\">Filter</button></form>");
    for (status, list) in alerts {
        let _ = write!(b, "<h2>{} ({})</h2>", status.as_str(), list.len());
        if list.is_empty() {
            b.push_str("<p>No alerts match.</p>");
        }
        for a in list {
            alert_block(&mut b, a, Some(*status), csrf, "/");
        }
    }
    page("Alerts and incidents", csrf, &b)
}

/// One alert: summary line, then evidence and the acknowledge/close form in a `<details>`.
pub fn alert_block(b: &mut String, a: &Alert, status: Option<AlertStatus>, csrf: &str, back: &str) {
    let status = status.map_or("open", AlertStatus::as_str);
    let incident = a.incident_id.as_deref().map_or_else(String::new, |i| {
        format!(
            " · incident <a href=\"/ui/incidents/{}\">{}</a>",
            url_component(i),
            esc(i)
        )
    });
    let _ = write!(
        b,
        concat!(
            "<details class=\"alert\"><summary>{sev} <strong>{title}</strong> · {rule} · user {user}",
            " · mailbox {mailbox} · IP {ip} · {first} → {last} · <em>{status}</em>{incident}</summary>",
            "<table><tr><th>Alert</th><td>{id}</td></tr><tr><th>Token</th><td>{token}</td></tr>",
            "<tr><th>Session</th><td>{session}</td></tr><tr><th>App</th><td>{app}</td></tr>",
            "<tr><th>ATT&amp;CK</th><td>{attack}</td></tr><tr><th>Records</th><td>{records}</td></tr></table>",
            "<pre>{evidence}</pre>",
            "<form method=\"post\" action=\"/ui/alerts/{id_url}/status\">",
            "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">",
            "<input type=\"hidden\" name=\"back\" value=\"{back}\">",
            "<label>Note <input name=\"note\" maxlength=\"4000\"></label> ",
            "<button name=\"status\" value=\"acknowledged\">Acknowledge</button> ",
            "<button name=\"status\" value=\"closed\">Close</button> ",
            "<button name=\"status\" value=\"open\">Reopen</button></form></details>\n"
        ),
        sev = severity(a.severity),
        title = esc(&a.title),
        rule = esc(&a.rule_id),
        user = esc(a.user.as_deref().unwrap_or("-")),
        mailbox = esc(a.mailbox.as_deref().unwrap_or("-")),
        ip = esc(a.client_ip.as_deref().unwrap_or("-")),
        first = time(a.time_first),
        last = time(a.time_last),
        status = status,
        incident = incident,
        id = esc(&a.id),
        token = esc(a.token_id.as_deref().unwrap_or("-")),
        session = esc(a.session_id.as_deref().unwrap_or("-")),
        app = esc(&keywarden_report::app_label(
            a.client_app_id
                .as_deref()
                .or(a.app_id.as_deref())
                .unwrap_or("-")
        )),
        attack = esc(&a.attack.join(", ")),
        records = esc(&a
            .record_ids
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")),
        evidence = evidence_block(&a.evidence),
        id_url = url_component(&a.id),
        csrf = esc(csrf),
        back = esc(back),
    );
}

/// The incident page: summary, timeline chart, exposure per mailbox, alerts, audit trail.
pub fn incident_page(v: &IncidentView, audit: &[AuditEntry], csrf: &str) -> String {
    let i = &v.incident;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Incident {}</h1><p>{} · {} alerts · {} → {}</p><h2>Timeline (mail reads per hour)</h2>",
        esc(&i.id),
        severity(i.severity),
        i.alerts,
        time(i.time_first),
        time(i.time_last)
    );
    b.push_str(&timeline_svg(&v.timeline));
    exposure(&mut b, v);
    b.push_str("<h2>Alerts</h2>");
    let back = format!("/ui/incidents/{}", url_component(&i.id));
    for a in &v.alerts {
        let st = v
            .statuses
            .iter()
            .find(|(id, _)| *id == a.id)
            .map(|(_, s)| *s);
        alert_block(&mut b, a, st, csrf, &back);
    }
    b.push_str("<h2>Analyst actions</h2>");
    if audit.is_empty() {
        b.push_str("<p>None yet.</p>");
    } else {
        b.push_str(
            "<table><tr><th>At</th><th>Actor</th><th>Action</th><th>Alert</th><th>Note</th></tr>",
        );
        for e in audit {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.at.to_string()),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.target),
                esc(&e.note)
            );
        }
        b.push_str("</table>");
    }
    page(&format!("Incident {}", i.id), csrf, &b)
}

/// The most values of one list (messages, folders, windows) shown per mailbox; the API
/// gives them all.
pub const MAX_LISTED: usize = 1000;

/// Exposure per mailbox: a table of counts, then per mailbox a `<details>` with `hunt`'s
/// exposure (messages read, folders synced, throttled windows), every value escaped.
fn exposure(b: &mut String, v: &IncidentView) {
    b.push_str("<h2>Exposure per mailbox</h2>");
    if v.exposure.is_empty() {
        b.push_str("<p>No mail reads linked to this incident's tokens or sessions.</p>");
        return;
    }
    let scope = &v.exposure_scope;
    if scope.truncated {
        let _ = write!(
            b,
            "<p class=\"error\">Partial exposure: messages, folders and windows and counts come from the first {} linked records only.</p>",
            scope.records_read
        );
    }
    if scope.unreadable > 0 {
        let _ = write!(
            b,
            "<p class=\"error\">{} linked records could not be read back and are not in the lists.</p>",
            scope.unreadable
        );
    }
    b.push_str(concat!(
        "<table><tr><th>Mailbox</th><th>Mail access events</th><th>Bind</th><th>Sync</th>",
        "<th>Messages read</th><th>Folders synced</th><th>Throttled windows</th>",
        "<th>First</th><th>Last</th></tr>"
    ));
    for e in &v.exposure {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.mailbox),
            e.events,
            e.bind,
            e.sync,
            e.messages.len(),
            e.folders_synced.len(),
            e.throttled_windows.len(),
            time(e.time_first),
            time(e.time_last)
        );
    }
    b.push_str("</table>");
    for e in &v.exposure {
        if e.messages.is_empty() && e.folders_synced.is_empty() && e.throttled_windows.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<details class=\"exposure\"><summary>{}: {} messages read, {} folders synced, {} throttled windows</summary>",
            esc(&e.mailbox),
            e.messages.len(),
            e.folders_synced.len(),
            e.throttled_windows.len()
        );
        let windows: Vec<String> = e
            .throttled_windows
            .iter()
            .map(|w| format!("{} → {}", w.start, w.end))
            .collect();
        for (title, list) in [
            ("Messages read (Bind, InternetMessageId)", &e.messages),
            ("Folders synced in full (Sync)", &e.folders_synced),
            ("Unaudited access after throttling (24 h windows)", &windows),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = write!(b, "<h3>{title}</h3><ul>");
            for item in list.iter().take(MAX_LISTED) {
                let _ = write!(b, "<li><code>{}</code></li>", esc(item));
            }
            if list.len() > MAX_LISTED {
                let _ = write!(
                    b,
                    "<li>… and {} more (in <code>GET /api/v1/incidents/{{id}}</code>)</li>",
                    list.len() - MAX_LISTED
                );
            }
            b.push_str("</ul>");
        }
        b.push_str("</details>\n");
    }
}

/// An inline SVG bar chart of (hour, count): no script, numbers and escaped labels only.
pub fn timeline_svg(points: &[(Timestamp, u64)]) -> String {
    const W: u64 = 720;
    const H: u64 = 160;
    if points.is_empty() {
        return "<p>No mail reads to chart.</p>".to_string();
    }
    let max = points.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let n = points.len() as u64;
    let bar = (W / n).max(1);
    let mut s = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\" role=\"img\">",
        H + 20,
        H + 20
    );
    for (k, (t, count)) in points.iter().enumerate() {
        let h = (count * H / max).max(1);
        let x = k as u64 * bar;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{}: {count}</title></rect>",
            H - h,
            bar.saturating_sub(1).max(1),
            esc(&t.to_string())
        );
    }
    let first = points
        .first()
        .map(|(t, _)| t.to_string())
        .unwrap_or_default();
    let last = points
        .last()
        .map(|(t, _)| t.to_string())
        .unwrap_or_default();
    let _ = write!(
        s,
        "<text x=\"0\" y=\"{}\">{}</text><text x=\"{W}\" y=\"{}\" text-anchor=\"end\">{} (max {max}/h)</text></svg>",
        H + 14,
        esc(&first),
        H + 14,
        esc(&last)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_attribute_breakout() {
        let hostile = "\"><img src=x onerror=alert(1)><script>alert('x')</script>`&";
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert_eq!(
            e,
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;`&amp;"
        );
        assert_eq!(esc("a\u{202e}b\u{1b}c"), "a\\u{202e}b\\u{1b}c");
    }

    /// The dashboard's own escaper let line/paragraph separators, the BOM and zero-width
    /// characters through; it now uses the report's, which shows them.
    #[test]
    fn regression_dashboard_shows_separators_bom_and_zero_width_chars() {
        assert_eq!(
            esc("a\u{2028}b\u{2029}c\u{feff}d\u{200b}e\u{200d}f\u{2060}g"),
            "a\\u{2028}b\\u{2029}c\\u{feff}d\\u{200b}e\\u{200d}f\\u{2060}g"
        );
        let block = evidence_block(&serde_json::json!({"user": "x\u{2028}</pre><script>"}));
        assert!(block.contains('\n'), "layout kept: {block}");
        assert!(
            !block.contains("</pre>") && !block.contains('\u{2028}'),
            "{block}"
        );
    }

    #[test]
    fn url_components_cannot_leave_their_segment() {
        assert_eq!(url_component("inc-1"), "inc-1");
        assert_eq!(url_component("../x?y=\"<"), "..%2Fx%3Fy%3D%22%3C");
    }

    #[test]
    fn timeline_scales_bars_and_escapes_nothing_but_numbers() {
        let svg = timeline_svg(&[(Timestamp(0), 2), (Timestamp(3_600_000_000), 8)]);
        assert!(
            svg.contains("height=\"40\"") && svg.contains("height=\"160\""),
            "{svg}"
        );
        assert!(!svg.contains("<script"));
        assert_eq!(timeline_svg(&[]), "<p>No mail reads to chart.</p>");
    }
}
