//! `report.html`: snapshot, HTML validity (html5ever's parse errors), self-containment and
//! escaping of hostile log values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_model::{Alert, Exposure};
use keywarden_report::{
    CONTENT_SECURITY_POLICY, ReportSummary, render_html_report, write_html_report,
};
use scraper::{Html, Selector};

fn page(alerts: &[Alert], exposure: &Exposure, summary: &ReportSummary) -> String {
    let mut out = Vec::new();
    write_html_report(alerts, exposure, summary, &mut out).expect("write to a Vec");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text, render_html_report(alerts, exposure, summary));
    text
}

fn fixture_page() -> String {
    page(
        &support::alerts(),
        &support::exposure(),
        &support::summary(),
    )
}

/// The page with its stylesheet elided, so the snapshot shows structure and content.
fn without_style(html: &str) -> String {
    match (html.find("<style>"), html.find("</style>")) {
        (Some(a), Some(b)) if a < b => format!("{}<style>/* … */{}", &html[..a], &html[b..]),
        _ => html.to_string(),
    }
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

#[test]
fn fixture_report_snapshot() {
    insta::assert_snapshot!(without_style(&fixture_page()));
}

#[test]
fn report_is_valid_html5() {
    for html in [fixture_page(), {
        let (a, e, s) = support::hostile();
        page(&a, &e, &s)
    }] {
        let doc = Html::parse_document(&html);
        assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
        assert_eq!(doc.select(&selector("html > head > title")).count(), 1);
        assert_eq!(doc.select(&selector("main section")).count(), 5);
    }
}

#[test]
fn report_has_every_section_and_value() {
    let html = fixture_page();
    let doc = Html::parse_document(&html);
    for id in ["timeline", "incidents", "details", "inputs"] {
        assert_eq!(
            doc.select(&selector(&format!("section#{id}"))).count(),
            1,
            "{id}"
        );
    }
    // One incident row and one panel per incident (two incidents and one lone alert).
    assert_eq!(doc.select(&selector("#incidents tbody tr")).count(), 3);
    assert_eq!(doc.select(&selector("article.incident")).count(), 3);
    // One timeline mark per alert, each with a tooltip.
    assert_eq!(doc.select(&selector("svg.timeline circle")).count(), 5);
    assert_eq!(doc.select(&selector("svg.timeline g > title")).count(), 5);
    // Exposure and evidence from the fixture are all there.
    for needle in [
        "&lt;CAF=x7Qw9Lm2@mail.gmail.com&gt;",
        "\\Inbox\\Board",
        "2023-06-15 06:41:17 → 2023-06-16 06:41:17",
        "9188040d-6c67-4c5b-b112-36a304b66dad",
        "OfficeActivityEvents.json:212",
        "binary data (PDF)",
        "169389",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

#[test]
fn report_loads_and_runs_nothing() {
    let (a, e, s) = support::hostile();
    for html in [fixture_page(), page(&a, &e, &s)] {
        let doc = Html::parse_document(&html);
        let csp = doc
            .select(&selector("meta[http-equiv=\"Content-Security-Policy\"]"))
            .next()
            .and_then(|m| m.value().attr("content"))
            .expect("CSP meta");
        assert_eq!(csp, CONTENT_SECURITY_POLICY);
        assert!(csp.starts_with("default-src 'none'; style-src 'unsafe-inline'; img-src data:"));
        let active = "script, img, iframe, object, embed, link, form, input, video, audio, source, \
                      image, use, foreignObject, base, meta[http-equiv=refresh]";
        assert_eq!(doc.select(&selector(active)).count(), 0);
        for el in doc.select(&selector("*")) {
            for (name, value) in el.value().attrs() {
                assert!(!name.starts_with("on"), "event handler attribute {name}");
                if matches!(name, "href" | "src" | "xlink:href" | "action") {
                    assert!(value.starts_with('#'), "non-local reference {name}={value}");
                }
                assert!(!name.eq_ignore_ascii_case("style"), "style attribute");
            }
        }
        assert!(!html.contains("url("), "no CSS fetches");
        assert!(!html.contains("@import"));
    }
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    let (alerts, exposure, summary) = support::hostile();
    let html = page(&alerts, &exposure, &summary);
    for raw in [
        "<script",
        "<img",
        "<svg onload",
        "</style><script>",
        "\"><img",
        "'><svg",
        "onerror=alert(1)>",
        "-->]]>",
    ] {
        assert!(!html.contains(raw), "unescaped payload {raw:?}");
    }
    for c in html.chars() {
        assert!(
            c == '\n' || !keywarden_report::is_hidden_char(c),
            "hidden char {c:?} in the page"
        );
    }
    // The payloads are still shown, as text.
    let doc = Html::parse_document(&html);
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("<script>alert(1)</script>"));
    assert!(text.contains("javascript:alert(document.cookie)"));
    assert!(text.contains("evil\\u{1b}[2J"));
    // Attacker text never becomes an element id or a link target.
    for el in doc.select(&selector("[id]")) {
        let id = el.value().id().unwrap_or("");
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "id from log text: {id:?}"
        );
    }
}

#[test]
fn empty_report_is_still_a_report() {
    let html = page(&[], &Exposure::default(), &support::summary());
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    assert!(html.contains("No incidents"));
    assert!(html.contains("nothing to chart"));
    assert!(html.contains("every record accounted for"));
}
