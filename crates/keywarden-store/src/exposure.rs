//! An incident's mailbox exposure, computed when it is asked for, from the stored events.
//!
//! The incident's *decisive* alerts (those at `high` or above when it has any, else all, as in
//! `hunt`'s `exposure.json`) give a set of token and session ids. The mail-access events that
//! carry one of them are counted per mailbox in SQL (events, `Bind`, `Sync`, first/last, and
//! an hourly timeline), and their stored raw records are read again, in store order and at
//! most [`MAX_EXPOSURE_RECORDS`] of them, through `keywarden-ingest`'s shape reader and the
//! detection pack's own `Facts`/`folders`, so that each mailbox gets exactly `hunt`'s fields:
//! `messages` (`Bind` → `InternetMessageId`s), `folders_synced` (`Sync` → folder paths) and
//! `throttled_windows` (`IsThrottled` → 24 h of unaudited access). Nothing is added to ingest:
//! the cost is paid per incident view, and bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use keywarden_detect::facts::{Access, Facts, Role, folders};
use keywarden_detect::finalize::{THROTTLE_WINDOW_SECONDS, merge_windows};
use keywarden_ingest::Format;
use keywarden_model::{Alert, Origin, Severity, TimeWindow, Timestamp, Value};
use rusqlite::params_from_iter;
use serde::Serialize;

use crate::error::{SqlContext, StoreError};
use crate::store::Store;

/// The most linked mail-access records whose raw form one incident view reads again.
pub const MAX_EXPOSURE_RECORDS: usize = 20_000;

/// The most token/session values an exposure query looks up (each).
pub const MAX_LINKS: usize = 500;

/// The path given to records read back from the store (their origin is not kept).
const STORED: &str = "store";

/// Mail read in one mailbox by an incident's tokens or sessions.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MailboxExposureRow {
    pub mailbox: String,
    /// Linked mail-access events (all of them, not only those read back).
    pub events: u64,
    pub bind: u64,
    pub sync: u64,
    pub time_first: Option<Timestamp>,
    pub time_last: Option<Timestamp>,
    /// `InternetMessageId`s read (`Bind`), sorted and unique: `exposure.json`'s `messages`.
    pub messages: Vec<String>,
    /// Folder paths synchronised in full (`Sync`), sorted and unique.
    pub folders_synced: Vec<String>,
    /// Windows of unaudited access after throttled records, merged.
    pub throttled_windows: Vec<TimeWindow>,
}

/// How much of the linked records the details were built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ExposureScope {
    /// Linked mail-access records read back for the details.
    pub records_read: u64,
    /// Records read back that no longer parse as their stored shape (counted, not used).
    pub unreadable: u64,
    /// True when the details cover only part of the linked records: more than
    /// [`MAX_EXPOSURE_RECORDS`] of them, or more than [`MAX_LINKS`] tokens or sessions.
    pub truncated: bool,
}

/// Everything [`Store::exposure`] computes for one incident.
#[derive(Debug, Clone, Default)]
pub struct IncidentExposure {
    pub mailboxes: Vec<MailboxExposureRow>,
    /// (hour start, mail reads in that hour).
    pub timeline: Vec<(Timestamp, u64)>,
    pub scope: ExposureScope,
}

/// Messages, synced folders and throttled times of one mailbox, accumulated.
#[derive(Default)]
struct Acc {
    messages: BTreeSet<String>,
    folders: BTreeSet<String>,
    throttled: BTreeSet<Timestamp>,
}

/// The token and session ids through which the decisive alerts reach mail.
fn link_values(alerts: &[Alert]) -> (Vec<String>, Vec<String>, bool) {
    let strong = alerts.iter().any(|a| a.severity >= Severity::High);
    let decisive = alerts
        .iter()
        .filter(|a| !strong || a.severity >= Severity::High);
    let mut tokens = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    for a in decisive {
        tokens.extend(
            a.token_id
                .iter()
                .cloned()
                .chain(a.evidence_strings("token_ids")),
        );
        sessions.extend(
            a.session_id
                .iter()
                .cloned()
                .chain(a.evidence_strings("session_ids")),
        );
    }
    let keep = |set: BTreeSet<String>| -> (Vec<String>, bool) {
        let mut v: Vec<String> = set.into_iter().filter(|s| !s.trim().is_empty()).collect();
        let cut = v.len() > MAX_LINKS;
        v.truncate(MAX_LINKS);
        (v, cut)
    };
    let (tokens, cut_t) = keep(tokens);
    let (sessions, cut_s) = keep(sessions);
    (tokens, sessions, cut_t || cut_s)
}

impl Store {
    /// Mail reads by the decisive alerts' tokens and sessions: per mailbox (counts and
    /// `hunt`'s exposure fields) and per hour. At most `max_records` raw records are read back.
    pub fn exposure(
        &self,
        alerts: &[Alert],
        max_records: usize,
    ) -> Result<IncidentExposure, StoreError> {
        let (tokens, sessions, links_cut) = link_values(alerts);
        if tokens.is_empty() && sessions.is_empty() {
            return Ok(IncidentExposure {
                scope: ExposureScope {
                    truncated: links_cut,
                    ..ExposureScope::default()
                },
                ..IncidentExposure::default()
            });
        }
        let marks = |n: usize| vec!["?"; n].join(", ");
        let link = format!(
            "role = 'mail-access' AND mailbox IS NOT NULL AND (token_id IN ({}) OR session_id IN ({}))",
            marks(tokens.len().max(1)),
            marks(sessions.len().max(1))
        );
        let mut args: Vec<String> = tokens.clone();
        if tokens.is_empty() {
            args.push(String::new());
        }
        args.extend(sessions.iter().cloned());
        if sessions.is_empty() {
            args.push(String::new());
        }
        let mut mailboxes = self.exposure_counts(&link, &args)?;
        let timeline = self.exposure_timeline(&link, &args)?;
        let (details, mut scope) = self.exposure_details(&link, &args, max_records)?;
        scope.truncated |= links_cut;
        for row in &mut mailboxes {
            if let Some(acc) = details.get(&row.mailbox) {
                row.messages = acc.messages.iter().cloned().collect();
                row.folders_synced = acc.folders.iter().cloned().collect();
                row.throttled_windows = merge_windows(acc.throttled.iter().map(|t| TimeWindow {
                    start: *t,
                    end: t.plus_seconds(THROTTLE_WINDOW_SECONDS),
                }));
            }
        }
        Ok(IncidentExposure {
            mailboxes,
            timeline,
            scope,
        })
    }

    fn exposure_counts(
        &self,
        link: &str,
        args: &[String],
    ) -> Result<Vec<MailboxExposureRow>, StoreError> {
        let sql = format!(
            "SELECT mailbox, count(*), sum(mail_access = 'Bind'), sum(mail_access = 'Sync'),
             min(time), max(time) FROM events WHERE {link} GROUP BY mailbox ORDER BY mailbox"
        );
        let mut stmt = self.conn.prepare(&sql).op("prepare exposure")?;
        stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok(MailboxExposureRow {
                mailbox: r.get(0)?,
                events: r.get::<_, i64>(1)?.max(0) as u64,
                bind: r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
                sync: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
                time_first: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                time_last: r.get::<_, Option<i64>>(5)?.map(Timestamp),
                ..MailboxExposureRow::default()
            })
        })
        .op("query exposure")?
        .collect::<Result<Vec<_>, _>>()
        .op("query exposure")
    }

    fn exposure_timeline(
        &self,
        link: &str,
        args: &[String],
    ) -> Result<Vec<(Timestamp, u64)>, StoreError> {
        let sql = format!(
            "SELECT (time / 3600000000) * 3600000000 AS hour, count(*) FROM events
             WHERE {link} AND time IS NOT NULL GROUP BY hour ORDER BY hour LIMIT 2000"
        );
        let mut stmt = self.conn.prepare(&sql).op("prepare timeline")?;
        stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok((Timestamp(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
        })
        .op("query timeline")?
        .collect::<Result<Vec<_>, _>>()
        .op("query timeline")
    }

    /// Reads the linked records back, in store order, and gathers `hunt`'s exposure per
    /// mailbox from them.
    fn exposure_details(
        &self,
        link: &str,
        args: &[String],
        max_records: usize,
    ) -> Result<(BTreeMap<String, Acc>, ExposureScope), StoreError> {
        // Pick the ids first, so that the raw JSON of records beyond the cap is never copied.
        let sql = format!(
            "SELECT mailbox, format, raw FROM events WHERE id IN
             (SELECT id FROM events WHERE {link} ORDER BY id LIMIT {}) ORDER BY id",
            max_records as u64 + 1
        );
        let mut stmt = self.conn.prepare(&sql).op("prepare exposure records")?;
        let mut rows = stmt
            .query(params_from_iter(args.iter()))
            .op("query exposure records")?;
        let mut per: BTreeMap<String, Acc> = BTreeMap::new();
        let mut scope = ExposureScope::default();
        while let Some(row) = rows.next().op("read exposure records")? {
            if scope.records_read as usize == max_records {
                scope.truncated = true;
                break;
            }
            scope.records_read += 1;
            let mailbox: String = row.get(0).op("read exposure records")?;
            let format: String = row.get(1).op("read exposure records")?;
            let raw: String = row.get(2).op("read exposure records")?;
            if !gather(&mut per, mailbox, &format, &raw) {
                scope.unreadable += 1;
            }
        }
        Ok((per, scope))
    }
}

/// Adds one stored record's exposure to its mailbox, exactly as `hunt`'s collection pass does.
/// False when the record no longer reads as its stored shape.
fn gather(per: &mut BTreeMap<String, Acc>, mailbox: String, format: &str, raw: &str) -> bool {
    let Ok(format) = Format::from_str(format) else {
        return false;
    };
    let Ok(value) = Value::parse(raw) else {
        return false;
    };
    let origin = Origin {
        path: STORED,
        line: None,
        offset: 0,
        record_number: None,
    };
    let Ok(ev) = keywarden_ingest::shape::normalise(format, value, origin) else {
        return false;
    };
    let f = Facts::of(&ev);
    let Role::MailAccess(access) = f.role else {
        // Stored as a mail access by this same reading: a record that changed role is damaged.
        return false;
    };
    let acc = per.entry(mailbox).or_default();
    for (path, ids) in folders(&ev) {
        match access {
            Access::Sync => acc.folders.extend(path),
            Access::Bind | Access::Other => acc.messages.extend(ids),
        }
    }
    if f.throttled
        && let Some(t) = f.time
    {
        acc.throttled.insert(t);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(sev: Severity, token: Option<&str>, session: Option<&str>) -> Alert {
        let mut a = Alert::new("r", "t", sev);
        a.token_id = token.map(Into::into);
        a.session_id = session.map(Into::into);
        a
    }

    #[test]
    fn only_decisive_alerts_link_when_there_are_any() {
        let mut lead = alert(Severity::Medium, Some("lead-token"), Some("lead-session"));
        lead.evidence = serde_json::json!({"token_ids": ["lead-2", " "]});
        let strong = alert(Severity::High, Some("forged"), None);
        let (t, s, cut) = link_values(&[lead.clone(), strong]);
        assert_eq!(t, vec!["forged".to_string()]);
        assert!(s.is_empty() && !cut);
        let (t, s, _) = link_values(&[lead]);
        assert_eq!(t, vec!["lead-2".to_string(), "lead-token".to_string()]);
        assert_eq!(s, vec!["lead-session".to_string()]);
    }

    #[test]
    fn too_many_links_are_cut_and_said() {
        let alerts: Vec<Alert> = (0..=MAX_LINKS)
            .map(|i| alert(Severity::High, Some(&format!("t{i}")), None))
            .collect();
        let (t, _, cut) = link_values(&alerts);
        assert_eq!(t.len(), MAX_LINKS);
        assert!(cut);
    }

    #[test]
    fn gathers_bind_sync_and_throttling_like_hunt() {
        let mut per = BTreeMap::new();
        let bind = r#"{"CreationTime":"2023-06-12T03:00:00","Operation":"MailItemsAccessed","RecordType":50,
            "MailboxOwnerUPN":"a@x","OperationProperties":[{"Name":"MailAccessType","Value":"Bind"},
            {"Name":"IsThrottled","Value":"True"}],
            "Folders":[{"Path":"\\Inbox","FolderItems":[{"InternetMessageId":"<m2@x>"},{"InternetMessageId":"<m1@x>"}]}]}"#;
        let sync = r#"{"CreationTime":"2023-06-12T04:00:00","Operation":"MailItemsAccessed","RecordType":50,
            "MailboxOwnerUPN":"a@x","OperationProperties":[{"Name":"MailAccessType","Value":"Sync"}],
            "Folders":[{"Path":"\\Sent Items","FolderItems":[{"InternetMessageId":"<m3@x>"}]}]}"#;
        assert!(gather(&mut per, "a@x".into(), "ual-json", bind));
        assert!(gather(&mut per, "a@x".into(), "ual-json", sync));
        let acc = &per["a@x"];
        assert_eq!(
            acc.messages.iter().collect::<Vec<_>>(),
            vec!["<m1@x>", "<m2@x>"]
        );
        assert_eq!(acc.folders.iter().collect::<Vec<_>>(), vec!["\\Sent Items"]);
        assert_eq!(
            acc.throttled.iter().collect::<Vec<_>>(),
            vec![&Timestamp::parse("2023-06-12T03:00:00Z").unwrap()]
        );
    }

    #[test]
    fn damaged_records_are_counted_not_used() {
        let mut per = BTreeMap::new();
        assert!(!gather(&mut per, "a".into(), "no-such-format", "{}"));
        assert!(!gather(&mut per, "a".into(), "ual-json", "{not json"));
        assert!(!gather(&mut per, "a".into(), "ual-json", "[1]"));
        assert!(!gather(
            &mut per,
            "a".into(),
            "ual-json",
            r#"{"Operation":"FileAccessed","RecordType":6,"CreationTime":"2023-06-12T03:00:00"}"#
        ));
        assert!(per.is_empty());
    }
}
