//! Escaping of attacker-controlled text for each place keywarden shows it.
//!
//! Every string that comes from a log (user names, IPs, app ids, folder paths, message ids,
//! evidence) may have been written by the attacker. Before it reaches a destination it goes
//! through the helper for that destination:
//!
//! - [`escape_terminal`]: control characters (ESC, CR, BEL...), zero-width and bidirectional
//!   override code points become visible `\u{..}` escapes, so a record cannot move the cursor,
//!   recolour the screen or reorder what the analyst reads.
//! - [`escape_html`] / [`push_html`]: the same visible escapes, plus the five HTML-significant
//!   characters as entities, so text is safe both between tags and inside quoted attributes.
//! - [`spreadsheet_safe`]: a leading `'` for cells a spreadsheet would run as a formula.
//! - [`escape_slack`] / [`escape_teams`]: chat messages (webhook payloads): no mention,
//!   link or markup can be smuggled in (`<!channel>`, `<http://x|click>`, `[click](http://x)`).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must never reach an analyst's screen as itself: control characters, invisible
/// formatting and bidi overrides (the "Trojan Source" set), and Unicode noncharacters (which
/// HTML parsers also flag as errors).
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fdd0}'..='\u{fdef}'
        )
        || (c as u32 & 0xfffe) == 0xfffe
}

/// Makes a log-derived string safe to print on a terminal: hidden characters (see
/// [`is_hidden_char`]) are shown as `\u{..}` escapes; everything else is unchanged.
pub fn escape_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_visible(&mut out, c);
    }
    out
}

/// Makes a log-derived string safe anywhere in an HTML document outside `<script>`/`<style>`
/// (text content and double- or single-quoted attribute values).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push_html(&mut out, s);
    out
}

/// Appends `s` to `out`, HTML-escaped as by [`escape_html`].
pub fn push_html(out: &mut String, s: &str) {
    push_html_inner(out, s, false);
}

/// Like [`push_html`], but line feeds are kept (for `<pre>` blocks of our own formatting,
/// such as pretty-printed evidence JSON, whose string values are already JSON-escaped).
pub fn push_html_multiline(out: &mut String, s: &str) {
    push_html_inner(out, s, true);
}

fn push_html_inner(out: &mut String, s: &str, keep_newlines: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if keep_newlines => out.push('\n'),
            c => push_visible(out, c),
        }
    }
}

fn push_visible(out: &mut String, c: char) {
    if is_hidden_char(c) {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

/// Makes a log-derived string safe inside a Slack `text`: `&`, `<` and `>` as the entities
/// Slack documents (no `<!channel>` mention, no `<url|label>` link), hidden characters visible.
pub fn escape_slack(s: &str) -> String {
    escape_chat(s, false)
}

/// Makes a log-derived string safe inside a Microsoft Teams markdown `text`: as
/// [`escape_slack`], plus a backslash before every markdown-significant character (no link,
/// image or emphasis can be built from log text).
pub fn escape_teams(s: &str) -> String {
    escape_chat(s, true)
}

/// The chat escaper both flavours share; `markdown` adds the backslashes Teams needs.
fn escape_chat(s: &str, markdown: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '*' | '_' | '~' | '`' | '[' | ']' | '(' | ')' | '#' | '|' | '!' if markdown => {
                out.push('\\');
                out.push(c);
            }
            c => push_visible(&mut out, c),
        }
    }
    out
}

/// Spreadsheet formula-injection defence (CSV injection): a cell that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return (or the full-width `＝＋－＠` that some spreadsheets
/// also accept) gets a leading `'`, which makes Excel, LibreOffice and Google Sheets treat it as
/// text. The original text is kept after the quote; nothing else changes.
pub fn spreadsheet_safe(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠') => {
            Cow::Owned(format!("'{s}"))
        }
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_control_sequences_become_visible() {
        assert_eq!(
            escape_terminal("a\x1b[31mb\r\n"),
            "a\\u{1b}[31mb\\u{d}\\u{a}"
        );
        assert_eq!(escape_terminal("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(
            escape_terminal("bell\u{7}\u{9b}31m"),
            "bell\\u{7}\\u{9b}31m"
        );
        assert_eq!(escape_terminal("plain é ✓"), "plain é ✓");
    }

    #[test]
    fn html_escapes_markup_quotes_and_hidden_chars() {
        assert_eq!(
            escape_html(r#""><img src=x onerror=alert(1)>"#),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape_html("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape_html("a&b\u{0}\u{ffff}"), "a&amp;b\\u{0}\\u{ffff}");
        assert_eq!(escape_html("line\nbreak"), "line\\u{a}break");
        let mut pre = String::new();
        push_html_multiline(&mut pre, "{\n  \"k\": \"<b>\"\n}");
        assert_eq!(pre, "{\n  &quot;k&quot;: &quot;&lt;b&gt;&quot;\n}");
    }

    #[test]
    fn chat_text_cannot_mention_link_or_format() {
        assert_eq!(
            escape_slack("<!channel> <http://evil|click> a&b\u{202e}"),
            "&lt;!channel&gt; &lt;http://evil|click&gt; a&amp;b\\u{202e}"
        );
        assert_eq!(
            escape_teams("[click](http://evil) **x** <b>"),
            "\\[click\\]\\(http://evil\\) \\*\\*x\\*\\* &lt;b&gt;"
        );
    }

    #[test]
    fn noncharacters_are_hidden() {
        assert!(is_hidden_char('\u{fffe}'));
        assert!(is_hidden_char('\u{1ffff}'));
        assert!(is_hidden_char('\u{fdd0}'));
        assert!(!is_hidden_char('\u{fffd}'));
        assert!(!is_hidden_char('a'));
    }

    #[test]
    fn formula_cells_get_a_leading_quote() {
        for bad in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "＝1"] {
            assert_eq!(spreadsheet_safe(bad), format!("'{bad}"), "{bad:?}");
        }
        for ok in ["alice@contoso.com", "1.2.3.4", "", "'quoted", "a=b"] {
            assert_eq!(spreadsheet_safe(ok), ok);
        }
    }
}
