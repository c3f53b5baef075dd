//! `truth.json`: what the simulator knows and a hunt must find.
//!
//! Built from the attacker's own activities, so it cannot disagree with the logs: every record
//! id the attacker produced, and per mailbox what those records expose under Microsoft's
//! MailItemsAccessed forensics procedure (Bind → the exact `InternetMessageId`s, Sync → the
//! whole folder, `IsThrottled` True → 24 hours of unaudited access from that record's time), in
//! the `exposure.json` shape. Throttling is the mailbox's: a throttled record of another client
//! (the victim's own Outlook) on a mailbox the attacker read opens an unaudited window of the
//! intrusion too, when that window overlaps the attacker's reads of the mailbox.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keywarden_model::{
    Exposure, IncidentExposure, MailboxExposure, Severity, TimeWindow, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::activity::{Activity, MailAccessKind};
use crate::tenant::Tenant;

/// How long a throttled record leaves a mailbox unaudited.
pub use keywarden_model::THROTTLE_WINDOW_SECONDS;

/// The contents of `truth.json` (documented in `docs/SIMULATOR.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Format version of this file.
    pub truth_version: u32,
    /// The generator's settings: `seed`, `users`, `days`, `start`, `attack`, `shapes`.
    pub generator: serde_json::Value,
    pub tenant: String,
    /// Records written, all files together.
    pub records: u64,
    /// Every record id (UAL `Id`, Graph `requestId`) the attacker produced, sorted.
    pub attacker_record_ids: Vec<String>,
    /// What the attacker read, as one incident.
    pub exposure: Exposure,
    /// Benign records whose token's issuing sign-in an export gap (`--gap`) left out: their
    /// tokens cannot be judged, and a hunt must never call them forged. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unjudgeable_record_ids: Vec<String>,
}

/// `truth.json` could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TruthError {
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a keywarden truth.json")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Truth {
    /// Builds the truth from the attacker's activities and the throttled mail records of
    /// everyone else (`throttled`; other activities in it are ignored).
    pub fn from_attack(
        generator: serde_json::Value,
        tenant: &Tenant,
        records: u64,
        attack: &[Activity],
        throttled: &[Activity],
    ) -> Truth {
        let mut ids: Vec<String> = attack.iter().map(|a| a.id().to_string()).collect();
        ids.sort();
        ids.dedup();
        let mut per_mailbox: BTreeMap<String, Exposed> = BTreeMap::new();
        for a in attack {
            let Activity::Mail(m) = a else { continue };
            let Some(owner) = tenant.users.get(m.mailbox) else {
                continue;
            };
            let e = per_mailbox.entry(owner.upn.clone()).or_default();
            e.first = Some(e.first.map_or(m.time, |f| f.min(m.time)));
            e.last = Some(e.last.map_or(m.time, |l| l.max(m.time)));
            match &m.access {
                MailAccessKind::Bind(items) => {
                    for (_, ids) in items {
                        e.messages.extend(ids.iter().cloned());
                    }
                }
                MailAccessKind::Sync(folders) => {
                    for f in folders {
                        if let Some(folder) = owner.folders.get(*f) {
                            e.folders.insert(folder.path.clone());
                        }
                    }
                }
            }
            if m.throttled {
                e.windows.insert(TimeWindow::throttled_at(m.time));
            }
        }
        for a in throttled {
            let Activity::Mail(m) = a else { continue };
            let Some(owner) = tenant.users.get(m.mailbox) else {
                continue;
            };
            let Some(e) = per_mailbox.get_mut(&owner.upn) else {
                continue;
            };
            let w = TimeWindow::throttled_at(m.time);
            if let (true, Some(start), Some(end)) = (m.throttled, e.first, e.last)
                && w.overlaps(&TimeWindow { start, end })
            {
                e.windows.insert(w);
            }
        }
        let incidents = if attack.is_empty() {
            Vec::new()
        } else {
            vec![IncidentExposure {
                id: "truth-1".into(),
                severity: Severity::Critical,
                first: attack.iter().map(Activity::time).min(),
                last: attack.iter().map(Activity::time).max(),
                mailboxes: per_mailbox
                    .into_iter()
                    .map(|(mailbox, e)| MailboxExposure {
                        mailbox,
                        messages: e.messages.into_iter().collect(),
                        folders_synced: e.folders.into_iter().collect(),
                        throttled_windows: e.windows.into_iter().collect(),
                        ..MailboxExposure::default()
                    })
                    .collect(),
            }]
        };
        Truth {
            truth_version: 1,
            generator,
            tenant: tenant.id.clone(),
            records,
            attacker_record_ids: ids,
            exposure: Exposure { incidents },
            unjudgeable_record_ids: Vec::new(),
        }
    }

    /// Reads a `truth.json`.
    pub fn read(path: &Path) -> Result<Truth, TruthError> {
        let text = std::fs::read_to_string(path).map_err(|source| TruthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TruthError::Parse {
            path: path.display().to_string(),
            source,
        })
    }
}

#[derive(Default)]
struct Exposed {
    messages: BTreeSet<String>,
    folders: BTreeSet<String>,
    windows: BTreeSet<TimeWindow>,
    /// The attacker's first and last read of the mailbox.
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::activity::{Actor, MailAccess};

    #[test]
    fn bind_sync_and_throttling_become_messages_folders_and_windows() {
        let tenant = Tenant::generate(&mut ChaCha8Rng::seed_from_u64(2), 4);
        let t = Timestamp::parse("2023-06-12T03:00:00Z").unwrap();
        let mail = |id: &str, access, throttled| mail_at(id, t, access, throttled);
        let attack = [
            mail(
                "b",
                MailAccessKind::Bind(vec![(0, vec!["<m2>".into(), "<m1>".into()])]),
                false,
            ),
            mail("a", MailAccessKind::Sync(vec![1]), true),
        ];
        let truth = Truth::from_attack(serde_json::json!({}), &tenant, 10, &attack, &[]);
        assert_eq!(truth.attacker_record_ids, vec!["a", "b"]);
        let mb = &truth.exposure.incidents[0].mailboxes[0];
        assert_eq!(mb.mailbox, tenant.users[1].upn);
        assert_eq!(mb.messages, vec!["<m1>", "<m2>"]);
        assert_eq!(mb.folders_synced, vec!["\\Sent Items"]);
        assert_eq!(mb.throttled_windows[0].end, t.plus_seconds(86_400));
        let clean = Truth::from_attack(serde_json::json!({}), &tenant, 10, &[], &[]);
        assert!(clean.exposure.incidents.is_empty());
    }

    #[test]
    fn regression_victim_caused_throttling_is_the_intrusions_window() {
        let tenant = Tenant::generate(&mut ChaCha8Rng::seed_from_u64(2), 4);
        let t = Timestamp::parse("2023-06-12T03:00:00Z").unwrap();
        let attack = [mail_at("a", t, MailAccessKind::Sync(vec![1]), false)];
        let victim = [
            // An hour before the attacker's read: its window covers it.
            mail_at(
                "v1",
                t.plus_seconds(-3600),
                MailAccessKind::Sync(vec![0]),
                true,
            ),
            // Two days later: no attacker read in its window.
            mail_at(
                "v2",
                t.plus_seconds(2 * 86_400),
                MailAccessKind::Sync(vec![0]),
                true,
            ),
            // Not throttled.
            mail_at(
                "v3",
                t.plus_seconds(-60),
                MailAccessKind::Sync(vec![0]),
                false,
            ),
        ];
        let truth = Truth::from_attack(serde_json::json!({}), &tenant, 10, &attack, &victim);
        let mb = &truth.exposure.incidents[0].mailboxes[0];
        assert_eq!(
            mb.throttled_windows,
            vec![TimeWindow::throttled_at(t.plus_seconds(-3600))]
        );
        assert_eq!(truth.attacker_record_ids, vec!["a"]);
    }

    fn mail_at(id: &str, t: Timestamp, access: MailAccessKind, throttled: bool) -> Activity {
        Activity::Mail(MailAccess {
            id: id.into(),
            time: t,
            actor: Actor::System,
            mailbox: 1,
            logon_type: 0,
            client: None,
            resource: "",
            client_ip: String::new(),
            client_info: None,
            access,
            throttled,
            operation_count: 1,
        })
    }
}
