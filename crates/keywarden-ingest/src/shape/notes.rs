//! Shapes recognised only partly: what an input's records lack that detections rely on.
//!
//! A sign-in export without a token id column (the AzureAD module's `Get-AzureADAuditSignInLogs`,
//! a `Select-Object` that dropped `UniqueTokenIdentifier`) is still read as sign-ins, but
//! `token-never-issued` cannot match a token to it; one without a category marker
//! (`signInEventTypes`, the Log Analytics table, the diagnostic category) cannot say which kinds
//! of sign-in it covers; one whose time did not parse cannot place the sign-in. Each event is
//! checked here as it is counted, and `summary.json` lists, per input, each note with how many
//! records it concerns ([`crate::report::InputNote`]).

use keywarden_model::{Event, SourceKind};

/// Something the records of a shape lack. The name (`as_str`) is a contract in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum NoteCode {
    /// Sign-ins without a token id (`uniqueTokenIdentifier`).
    NoTokenId,
    /// Sign-ins without a category marker.
    NoCategory,
    /// Sign-ins whose time is absent or did not parse.
    NoTime,
}

impl NoteCode {
    pub const ALL: [NoteCode; 3] = [NoteCode::NoTokenId, NoteCode::NoCategory, NoteCode::NoTime];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteCode::NoTokenId => "no-token-id",
            NoteCode::NoCategory => "no-category",
            NoteCode::NoTime => "no-time",
        }
    }

    /// What the note means for the verdicts, and what to export instead.
    pub fn message(self) -> &'static str {
        match self {
            NoteCode::NoTokenId => {
                "sign-in records without a token id (uniqueTokenIdentifier): token-never-issued \
                 cannot match tokens to them; export sign-ins with Graph beta \
                 (Get-MgBetaAuditLogSignIn), Log Analytics or diagnostic settings to include it"
            }
            NoteCode::NoCategory => {
                "sign-in records without a category marker (signInEventTypes, Log Analytics \
                 table, diagnostic category): which kinds of sign-in the export covers \
                 (interactive, non-interactive, service principal, managed identity) is unknown"
            }
            NoteCode::NoTime => {
                "sign-in records whose time is absent or did not parse (createdDateTime, \
                 CreatedDateTime, TimeGenerated): they cannot be placed in time"
            }
        }
    }

    /// The records a note is about (`of` in `summary.json`).
    pub fn checked(self) -> &'static str {
        "sign-in records"
    }

    /// Whether the event is one this note checks, and if so whether it lacks the thing.
    fn check(self, ev: &Event<'_>) -> Option<bool> {
        if ev.source != SourceKind::EntraSignIn {
            return None;
        }
        let f = &ev.fields;
        Some(match self {
            NoteCode::NoTokenId => f.token_id.is_none(),
            NoteCode::NoCategory => f.category.is_none(),
            NoteCode::NoTime => f.time.is_none(),
        })
    }

    /// Parses a name written by [`NoteCode::as_str`].
    pub fn from_name(name: &str) -> Option<NoteCode> {
        NoteCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Calls `seen(code, lacking)` for each note that checks this event.
pub(crate) fn check(ev: &Event<'_>, mut seen: impl FnMut(NoteCode, bool)) {
    if ev.source != SourceKind::EntraSignIn {
        return;
    }
    for code in NoteCode::ALL {
        if let Some(lacking) = code.check(ev) {
            seen(code, lacking);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in NoteCode::ALL {
            assert_eq!(NoteCode::from_name(c.as_str()), Some(c));
            assert!(!c.message().is_empty());
        }
        assert_eq!(NoteCode::from_name("nope"), None);
    }
}
