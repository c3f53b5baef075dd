//! An error and its causes on one line. keywarden's error enums print only their own context
//! (`writing alerts.csv`) and return the cause as `source()`, so that `{e:#}` (anyhow) or a
//! `caused by:` walk prints each cause once. Where an error must become one string (a JSON
//! field, a rejection reason, a log line), [`ErrorChain`] joins the levels with `: `.

use std::error::Error;
use std::fmt;

/// Displays an error followed by every `source()` below it, joined by `: `
/// (`writing out/alerts.csv: No space left on device (os error 28)`).
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An error and its causes as one string (see [`ErrorChain`]).
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    ErrorChain(e).to_string()
}

/// Each level's own message, top first (for tests asserting that no cause is printed twice).
pub fn error_levels(e: &(dyn Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push(c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing {path}")]
    struct Outer {
        path: &'static str,
        source: std::io::Error,
    }

    #[test]
    fn joins_each_level_once() {
        let e = Outer {
            path: "out/alerts.csv",
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(error_chain(&e), "writing out/alerts.csv: disk full");
        assert_eq!(error_levels(&e), ["writing out/alerts.csv", "disk full"]);
    }
}
