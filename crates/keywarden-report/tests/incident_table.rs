//! The terminal incident table: snapshot without colour, colour only on request, and no
//! terminal control sequence from the logs ever reaches the screen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_model::Exposure;
use keywarden_report::print_incident_table;

fn table(alerts: &[keywarden_model::Alert], exposure: &Exposure, color: bool) -> String {
    let mut out = Vec::new();
    print_incident_table(alerts, exposure, color, &mut out).expect("write to a Vec");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn fixture_table_snapshot() {
    let text = table(&support::alerts(), &support::exposure(), false);
    assert!(!text.contains('\u{1b}'), "no colour when color is false");
    insta::assert_snapshot!(text);
}

#[test]
fn colour_marks_severity_and_header() {
    let text = table(&support::alerts(), &support::exposure(), true);
    assert!(text.contains("\u{1b}[97;41;1mcritical"));
    assert!(text.contains("\u{1b}[1mSEVERITY"));
    let plain = table(&support::alerts(), &support::exposure(), false);
    assert_eq!(strip_ansi(&text), plain);
}

#[test]
fn hostile_values_cannot_drive_the_terminal() {
    let (alerts, exposure, _) = support::hostile();
    for color in [false, true] {
        let text = table(&alerts, &exposure, color);
        let ours = if color {
            strip_ansi(&text)
        } else {
            text.clone()
        };
        for c in ours.chars() {
            assert!(
                c == '\n' || !keywarden_report::is_hidden_char(c),
                "hidden char {c:?} reached the terminal"
            );
        }
        assert!(ours.contains("\\u{1b}"), "escape shown visibly");
    }
}

#[test]
fn empty_hunt_says_no_incidents() {
    assert_eq!(table(&[], &Exposure::default(), false), "No incidents.\n");
}

/// Removes the SGR sequences this crate emits (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
