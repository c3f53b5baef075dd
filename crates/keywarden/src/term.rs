//! Terminal helpers: colour only when writing to a terminal, and escaping of
//! attacker-controlled strings before they reach one.

use std::io::IsTerminal;

/// ANSI styling that is a no-op when the stream is not a terminal (or `NO_COLOR` is set).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    pub enabled: bool,
}

impl Style {
    pub(crate) fn stdout() -> Style {
        Style {
            enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub(crate) fn red(&self, t: &str) -> String {
        self.paint("31;1", t)
    }
    pub(crate) fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub(crate) fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub(crate) fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Makes a log-derived string safe to print: control characters (ESC, CR, BEL...), zero-width
/// and bidi characters are shown as `\u{..}` escapes so that a hostile record cannot move the
/// cursor, recolour the screen or hide text. Lives in `keywarden-report`, which the reports
/// share.
pub(crate) use keywarden_report::escape_terminal as escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_sequences() {
        assert_eq!(escape("a\x1b[31mb\r\n"), "a\\u{1b}[31mb\\u{d}\\u{a}");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape("plain é"), "plain é");
    }
}
