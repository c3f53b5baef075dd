//! Baselines: what was normal before the period under judgement.
//!
//! Three sources, one shape ([`Baseline`]):
//! - the look-back inside the input (its first `baseline.days` days, ending earlier at the
//!   first strong evidence), read straight from the [`Scan`] aggregates;
//! - an earlier export (`hunt --baseline PATH`), scanned whole;
//! - a state file that `hunt --save-state` wrote and `--state` reads back (JSON, versioned).
//!
//! A baseline holds app pairs, per-mailbox pairs, per-user client apps (with last use),
//! readers of others' mailboxes, user IPs and per-app daily mail operations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keywarden_model::{TimeWindow, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::keys::Key;
use crate::scan::Scan;

/// The state file version this build reads and writes.
pub(crate) const STATE_VERSION: u32 = 1;

/// Known-normal behaviour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Baseline {
    pub version: u32,
    /// The time the baseline covers.
    pub span: Option<TimeWindow>,
    /// (tenant, AppId, ClientAppId).
    pub pairs: BTreeSet<(String, String, String)>,
    /// (tenant, mailbox, AppId, ClientAppId).
    pub mailbox_pairs: BTreeSet<(String, String, String, String)>,
    /// (user, ClientAppId) → last use.
    pub user_apps: BTreeMap<String, BTreeMap<String, Timestamp>>,
    /// (identity, mailbox it does not own).
    pub readers: BTreeSet<(String, String)>,
    /// (user, ip).
    pub user_ips: BTreeSet<(String, String)>,
    /// tenant → ClientAppId → mean daily `OperationCount` over the baseline days.
    pub app_daily_ops: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Baseline {
    /// The baseline of a scan: keys first used before `before` (all keys when `None`),
    /// except those in `exclude` (keys that alerted must not become normal).
    pub fn from_scan(scan: &Scan, before: Option<Timestamp>, exclude: &BTreeSet<Key>) -> Baseline {
        let inside = |t: Option<Timestamp>| match (before, t) {
            (None, _) => true,
            (Some(b), Some(t)) => t < b,
            (Some(_), None) => false,
        };
        let mut b = Baseline {
            version: STATE_VERSION,
            span: match (scan.first, before.or(scan.last)) {
                (Some(start), Some(end)) if start <= end => Some(TimeWindow { start, end }),
                _ => None,
            },
            ..Baseline::default()
        };
        let s = |x| scan.text(x).to_string();
        let mut day_ops: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (k, u) in &scan.uses {
            if !inside(u.first) || exclude.contains(k) {
                continue;
            }
            match *k {
                Key::Pair(t, a, c) => {
                    b.pairs.insert((s(t), s(a), s(c)));
                }
                Key::MailboxPair(t, m, a, c) => {
                    b.mailbox_pairs.insert((s(t), s(m), s(a), s(c)));
                }
                Key::UserApp(us, c) => {
                    let last = match (before, u.last) {
                        (Some(b), Some(l)) if l >= b => Timestamp(b.0 - 1),
                        (_, Some(l)) => l,
                        (_, None) => continue,
                    };
                    let e = b.user_apps.entry(s(us)).or_default().entry(s(c));
                    let v = e.or_insert(last);
                    *v = (*v).max(last);
                }
                Key::Reader(i, m) => {
                    b.readers.insert((s(i), s(m)));
                }
                Key::UserIp(us, ip) => {
                    b.user_ips.insert((s(us), s(ip)));
                }
                Key::AppDay(t, c, _) => {
                    *day_ops.entry((s(t), s(c))).or_default() += u.ops;
                }
                _ => {}
            }
        }
        let days = b.span.map_or(1.0, |w| {
            ((w.end.0 - w.start.0) as f64 / keywarden_model::time::MICROS_PER_DAY as f64)
                .ceil()
                .max(1.0)
        });
        for ((t, c), ops) in day_ops {
            b.app_daily_ops
                .entry(t)
                .or_default()
                .insert(c, ops as f64 / days);
        }
        b
    }

    /// Adds another baseline (union; later last-use times and larger means win).
    pub fn absorb(&mut self, other: Baseline) {
        self.span = match (self.span, other.span) {
            (Some(a), Some(b)) => Some(TimeWindow {
                start: a.start.min(b.start),
                end: a.end.max(b.end),
            }),
            (a, b) => a.or(b),
        };
        self.pairs.extend(other.pairs);
        self.mailbox_pairs.extend(other.mailbox_pairs);
        for (u, apps) in other.user_apps {
            let mine = self.user_apps.entry(u).or_default();
            for (c, t) in apps {
                let v = mine.entry(c).or_insert(t);
                *v = (*v).max(t);
            }
        }
        self.readers.extend(other.readers);
        self.user_ips.extend(other.user_ips);
        for (t, apps) in other.app_daily_ops {
            let mine = self.app_daily_ops.entry(t).or_default();
            for (c, m) in apps {
                let v = mine.entry(c).or_insert(m);
                *v = v.max(m);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
            && self.mailbox_pairs.is_empty()
            && self.user_apps.is_empty()
            && self.readers.is_empty()
            && self.user_ips.is_empty()
            && self.app_daily_ops.is_empty()
    }

    /// Reads a state file.
    pub fn load(path: &Path) -> Result<Baseline, StateError> {
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let b: Baseline = serde_json::from_str(&text).map_err(|e| StateError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if b.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: b.version,
                expected: STATE_VERSION,
            });
        }
        Ok(b)
    }

    /// Writes a state file (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_string(self).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_checks_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let mut b = Baseline {
            version: STATE_VERSION,
            ..Baseline::default()
        };
        b.pairs.insert(("t".into(), "a".into(), "c".into()));
        b.user_apps
            .entry("u".into())
            .or_default()
            .insert("c".into(), Timestamp(5));
        b.save(&p).unwrap();
        assert_eq!(Baseline::load(&p).unwrap(), b);
        std::fs::write(&p, r#"{"version":99}"#).unwrap();
        assert!(matches!(
            Baseline::load(&p),
            Err(StateError::Version { found: 99, .. })
        ));
        std::fs::write(&p, "not json").unwrap();
        assert!(matches!(Baseline::load(&p), Err(StateError::Format { .. })));
    }

    #[test]
    fn absorb_keeps_latest_use() {
        let mut a = Baseline::default();
        a.user_apps
            .entry("u".into())
            .or_default()
            .insert("c".into(), Timestamp(5));
        let mut b = Baseline::default();
        b.user_apps
            .entry("u".into())
            .or_default()
            .insert("c".into(), Timestamp(9));
        a.absorb(b);
        assert_eq!(a.user_apps["u"]["c"], Timestamp(9));
        assert!(!a.is_empty());
    }
}
