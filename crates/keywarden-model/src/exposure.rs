//! Exposure: "what did they read". The JSON shape of [`Exposure`] is `exposure.json`'s
//! contract (documented in `docs/OUTPUTS.md`): never renamed, only extended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::Severity;
use crate::time::Timestamp;

/// How long a throttled `MailItemsAccessed` record leaves its mailbox unaudited: Exchange
/// Online stops auditing `MailItemsAccessed` for the mailbox for 24 hours after throttling.
pub const THROTTLE_WINDOW_SECONDS: i64 = 24 * 3600;

/// `exposure.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exposure {
    pub incidents: Vec<IncidentExposure>,
}

/// One incident and the mailboxes its sessions reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentExposure {
    pub id: String,
    pub severity: Severity,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub mailboxes: Vec<MailboxExposure>,
}

/// What one mailbox lost, following Microsoft's MailItemsAccessed forensics procedure:
/// `Bind` gives exact messages, `Sync` exposes whole folders, a throttled record means up to
/// 24 hours of unaudited access.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MailboxExposure {
    pub mailbox: String,
    /// `InternetMessageId`s read (Bind), sorted and unique.
    pub messages: Vec<String>,
    /// Folder paths synchronised in full (Sync), sorted and unique.
    pub folders_synced: Vec<String>,
    /// Windows in which access went unaudited because of throttling. Throttling is a property
    /// of the mailbox: a window counts when it overlaps the incident's linked activity,
    /// whichever client's records caused it.
    pub throttled_windows: Vec<TimeWindow>,
    /// How this mailbox's records were tied to the incident: link kind (`token`, `session`,
    /// `ip+app`, `app`) → number of records. Absent in files written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub linked_by: BTreeMap<String, u64>,
    /// The other spellings of this mailbox merged into it by identity resolution (a user
    /// object id, another case), sorted. Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A closed time interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl TimeWindow {
    /// The unaudited window a throttled record at `at` opens.
    pub fn throttled_at(at: Timestamp) -> TimeWindow {
        TimeWindow {
            start: at,
            end: at.plus_seconds(THROTTLE_WINDOW_SECONDS),
        }
    }

    /// Whether the two closed intervals share an instant.
    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// The windows sorted, with those that overlap or touch merged.
    pub fn merge_all(windows: impl IntoIterator<Item = TimeWindow>) -> Vec<TimeWindow> {
        let mut v: Vec<TimeWindow> = windows.into_iter().collect();
        v.sort();
        let mut out: Vec<TimeWindow> = Vec::with_capacity(v.len());
        for w in v {
            match out.last_mut() {
                Some(last) if w.start <= last.end => last.end = last.end.max(w.end),
                _ => out.push(w),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: i64, e: i64) -> TimeWindow {
        TimeWindow {
            start: Timestamp::from_unix_seconds(s),
            end: Timestamp::from_unix_seconds(e),
        }
    }

    #[test]
    fn windows_merge_when_they_overlap_or_touch() {
        let m = TimeWindow::merge_all([w(50, 60), w(0, 10), w(10, 20), w(15, 30)]);
        assert_eq!(m, vec![w(0, 30), w(50, 60)]);
        assert!(w(0, 10).overlaps(&w(10, 20)));
        assert!(!w(0, 10).overlaps(&w(11, 20)));
        assert_eq!(
            TimeWindow::throttled_at(Timestamp::from_unix_seconds(0)),
            w(0, THROTTLE_WINDOW_SECONDS)
        );
    }

    #[test]
    fn files_without_the_new_keys_still_read() {
        let old = r#"{"mailbox":"a@x","messages":[],"folders_synced":[],"throttled_windows":[]}"#;
        let m: MailboxExposure = serde_json::from_str(old).unwrap();
        assert!(m.linked_by.is_empty() && m.aliases.is_empty());
        assert_eq!(serde_json::to_string(&m).unwrap(), old);
    }
}
