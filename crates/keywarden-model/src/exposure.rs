//! Exposure: "what did they read". The JSON shape of [`Exposure`] is `exposure.json`'s
//! contract (documented in `docs/OUTPUTS.md`): never renamed, only extended.

use serde::{Deserialize, Serialize};

use crate::alert::Severity;
use crate::time::Timestamp;

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
    /// Windows in which access went unaudited because of throttling.
    pub throttled_windows: Vec<TimeWindow>,
}

/// A closed time interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: Timestamp,
    pub end: Timestamp,
}
