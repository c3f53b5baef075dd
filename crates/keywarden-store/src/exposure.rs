//! An incident's mailbox exposure when it is viewed: the store only reads, the detection pack
//! computes ([`keywarden_detect::ExposureBuilder`], the same module `hunt`'s `exposure.json`
//! comes from).
//!
//! The incident's alerts give its [`IncidentLinks`] (token and session ids, client IP + app
//! pairs, app-only clients of its decisive alerts). The store selects the mail-access events
//! that may carry one of them (indexes on token, session and, for mail access, client IP),
//! reads their raw records back in store order, at most [`MAX_EXPOSURE_RECORDS`] of them,
//! through `keywarden-ingest`'s shape reader, and feeds them to an [`ExposureBuilder`], which
//! decides what is linked and by what. Then the throttled records of the mailboxes reached
//! (whoever's client caused the throttling) are fed the same way, for the unaudited windows.
//! Nothing is added to ingest but two partial indexes on mail-access rows; the cost is paid per
//! incident view, and bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use keywarden_detect::{Directory, ExposureBuilder, ExposureScope as Scope, IncidentLinks};
use keywarden_ingest::Format;
use keywarden_model::{Alert, Origin, Severity, TimeWindow, Timestamp, Value};
use rusqlite::params_from_iter;
use serde::Serialize;

use crate::error::{SqlContext, StoreError};
use crate::store::Store;

/// The most linked mail-access records whose raw form one incident view reads again.
pub const MAX_EXPOSURE_RECORDS: usize = 20_000;

/// The most link values (of each kind) an exposure query looks up.
pub const MAX_LINKS: usize = 500;

/// The most throttled records of the reached mailboxes one view reads.
const MAX_THROTTLED_RECORDS: usize = 2_000;

/// The path given to records read back from the store (their origin is not kept).
const STORED: &str = "store";

/// Mail read in one mailbox by an incident's linked records.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MailboxExposureRow {
    pub mailbox: String,
    /// Linked mail-access records read back.
    pub events: u64,
    pub bind: u64,
    pub sync: u64,
    pub time_first: Option<Timestamp>,
    pub time_last: Option<Timestamp>,
    /// `InternetMessageId`s read (`Bind`), sorted and unique: `exposure.json`'s `messages`.
    pub messages: Vec<String>,
    /// Folder paths synchronised in full (`Sync`), sorted and unique.
    pub folders_synced: Vec<String>,
    /// Windows of unaudited access after throttling of this mailbox, merged.
    pub throttled_windows: Vec<TimeWindow>,
    /// Link kind (`token`, `session`, `ip+app`, `app`) → linked records.
    pub linked_by: BTreeMap<String, u64>,
    /// Other spellings of this mailbox merged into it (object id, case).
    pub aliases: Vec<String>,
}

/// How much of the linked records the details were built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ExposureScope {
    /// Candidate mail-access records read back for the details.
    pub records_read: u64,
    /// Records read back that no longer parse as their stored shape (counted, not used).
    pub unreadable: u64,
    /// True when the details cover only part of the linked records: more than
    /// [`MAX_EXPOSURE_RECORDS`] of them, or more than [`MAX_LINKS`] link values of a kind.
    pub truncated: bool,
}

/// Everything [`Store::exposure`] gives for one incident.
#[derive(Debug, Clone, Default)]
pub struct IncidentExposure {
    pub mailboxes: Vec<MailboxExposureRow>,
    /// (hour start, linked mail reads in that hour).
    pub timeline: Vec<(Timestamp, u64)>,
    pub scope: ExposureScope,
}

/// A `WHERE` clause and its arguments.
struct Query {
    sql: String,
    args: Vec<String>,
}

/// The mail-access rows that may be linked: `id IN` a union of one indexed look-up per link
/// kind (token, session, mail-access client IP; app-only clients, rare, have no index), so
/// that SQLite never scans the table for an `OR` of them.
fn candidates(l: &IncidentLinks) -> Query {
    let marks = |n: usize| vec!["?"; n].join(", ");
    let mut terms = Vec::new();
    let mut args = Vec::new();
    for (column, values) in [
        ("token_id", &l.tokens),
        ("session_id", &l.sessions),
        ("client_app_id", &l.apps),
    ] {
        if !values.is_empty() {
            terms.push(format!(
                "SELECT id FROM events WHERE {column} IN ({})",
                marks(values.len())
            ));
            args.extend(values.iter().cloned());
        }
    }
    let ips: BTreeSet<&String> = l.ip_apps.iter().map(|(ip, _)| ip).collect();
    if !ips.is_empty() {
        terms.push(format!(
            "SELECT id FROM events WHERE role = 'mail-access' AND client_ip IN ({})",
            marks(ips.len())
        ));
        args.extend(ips.into_iter().cloned());
    }
    let any = if terms.is_empty() {
        "0".to_string()
    } else {
        format!("id IN ({})", terms.join(" UNION "))
    };
    Query {
        sql: format!("role = 'mail-access' AND {any}"),
        args,
    }
}

impl Store {
    /// Mail read through an incident's alerts' links, per mailbox and per hour, computed by
    /// the detection pack over at most `max_records` stored records read back.
    pub fn exposure(
        &self,
        alerts: &[Alert],
        max_records: usize,
    ) -> Result<IncidentExposure, StoreError> {
        let mut links = IncidentLinks::of_alerts(alerts);
        // The store keeps no index on record ids: alerts' records join through their tokens,
        // sessions and addresses only.
        links.records.clear();
        let links_cut = links.truncate(MAX_LINKS);
        let mut scope = ExposureScope {
            truncated: links_cut,
            ..ExposureScope::default()
        };
        if links.is_empty() {
            return Ok(IncidentExposure {
                scope,
                ..IncidentExposure::default()
            });
        }
        let q = candidates(&links);
        let issued = self.issued_tokens(&q)?;
        let directory = self.directory_of(&q)?;
        let mut builder = ExposureBuilder::new(vec![Scope {
            id: String::new(),
            severity: Severity::Info,
            first: None,
            last: None,
            links,
        }]);
        // Pick the ids first, so that the raw JSON of records beyond the cap is never copied.
        let sql = format!(
            "SELECT format, raw FROM events WHERE id IN
             (SELECT id FROM events WHERE {} ORDER BY id LIMIT {}) ORDER BY id",
            q.sql,
            max_records as u64 + 1
        );
        let (read, unreadable, cut) =
            self.feed(&sql, &q.args, max_records, &mut builder, &issued)?;
        scope.records_read = read;
        scope.unreadable = unreadable;
        scope.truncated |= cut;
        // Throttling is the mailbox's: read the throttled records of every mailbox reached
        // (into a builder of its own, which only notes throttling, so that a record read twice
        // counts once).
        let reached = builder.reached_mailboxes();
        if !reached.is_empty() {
            let sql = format!(
                "SELECT format, raw FROM events WHERE role = 'mail-access' AND mailbox IN ({})
                 AND raw LIKE '%IsThrottled%' ORDER BY id LIMIT {}",
                vec!["?"; reached.len()].join(", "),
                MAX_THROTTLED_RECORDS + 1
            );
            let args = reached;
            let mut throttling = ExposureBuilder::default();
            let (_, _, cut) =
                self.feed(&sql, &args, MAX_THROTTLED_RECORDS, &mut throttling, &issued)?;
            scope.truncated |= cut;
            builder.add_throttling(throttling.throttling());
        }
        let Some(found) = builder.finish_scoped(&directory).into_iter().next() else {
            return Ok(IncidentExposure {
                scope,
                ..IncidentExposure::default()
            });
        };
        let mailboxes = found
            .exposure
            .mailboxes
            .into_iter()
            .map(|m| {
                let f = found.figures.get(&m.mailbox).cloned().unwrap_or_default();
                MailboxExposureRow {
                    mailbox: m.mailbox,
                    events: f.records,
                    bind: f.bind,
                    sync: f.sync,
                    time_first: f.first,
                    time_last: f.last,
                    messages: m.messages,
                    folders_synced: m.folders_synced,
                    throttled_windows: m.throttled_windows,
                    linked_by: m.linked_by,
                    aliases: m.aliases,
                }
            })
            .collect();
        Ok(IncidentExposure {
            mailboxes,
            timeline: found.timeline,
            scope,
        })
    }

    /// Reads `(format, raw)` rows and feeds them to `builder`: (records read, unreadable,
    /// whether more than `max` matched).
    fn feed(
        &self,
        sql: &str,
        args: &[String],
        max: usize,
        builder: &mut ExposureBuilder,
        issued: &BTreeSet<String>,
    ) -> Result<(u64, u64, bool), StoreError> {
        let mut stmt = self.conn.prepare(sql).op("prepare exposure records")?;
        let mut rows = stmt
            .query(params_from_iter(args.iter()))
            .op("query exposure records")?;
        let (mut read, mut unreadable) = (0u64, 0u64);
        while let Some(row) = rows.next().op("read exposure records")? {
            if read as usize == max {
                return Ok((read, unreadable, true));
            }
            read += 1;
            let format: String = row.get(0).op("read exposure records")?;
            let raw: String = row.get(1).op("read exposure records")?;
            if !feed_record(builder, &format, &raw, issued) {
                unreadable += 1;
            }
        }
        Ok((read, unreadable, false))
    }

    /// The candidates' token ids that a stored sign-in issued (an IP + app link holds only
    /// for tokens no sign-in issued).
    fn issued_tokens(&self, q: &Query) -> Result<BTreeSet<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT token_id FROM events WHERE role = 'sign-in' AND token_id IN
             (SELECT token_id FROM events WHERE {} AND token_id IS NOT NULL)",
            q.sql
        );
        let mut stmt = self.conn.prepare(&sql).op("prepare issued tokens")?;
        stmt.query_map(params_from_iter(q.args.iter()), |r| r.get::<_, String>(0))
            .op("query issued tokens")?
            .collect::<Result<BTreeSet<_>, _>>()
            .op("query issued tokens")
    }

    /// Identity resolution for the candidates: the stored sign-ins that issued their tokens
    /// name their users (UPN and object id) and apps. A forged token has no such sign-in, so
    /// an object id seen only with forged tokens stays as it is.
    fn directory_of(&self, q: &Query) -> Result<Directory, StoreError> {
        let sql = format!(
            "SELECT raw FROM events WHERE role = 'sign-in' AND token_id IN
             (SELECT token_id FROM events WHERE {} AND token_id IS NOT NULL) LIMIT 1000",
            q.sql
        );
        let mut stmt = self.conn.prepare(&sql).op("prepare directory")?;
        let mut rows = stmt
            .query(params_from_iter(q.args.iter()))
            .op("query directory")?;
        let mut d = Directory::default();
        while let Some(row) = rows.next().op("read directory")? {
            let raw: String = row.get(0).op("read directory")?;
            if let Ok(v) = Value::parse(&raw) {
                d.observe_sign_in(&v);
            }
        }
        Ok(d)
    }
}

/// Feeds one stored record to the builder through its stored shape's reader. False when the
/// record no longer reads as that shape.
fn feed_record(
    builder: &mut ExposureBuilder,
    format: &str,
    raw: &str,
    issued: &BTreeSet<String>,
) -> bool {
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
    builder.add(&ev, issued);
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
    fn candidates_query_one_term_per_link_kind() {
        let mut a = alert(Severity::High, Some("tok"), Some("ses"));
        a.client_ip = Some("203.0.113.9".into());
        a.client_app_id = Some("app".into());
        let q = candidates(&IncidentLinks::of_alerts([&a]));
        assert!(
            q.sql.starts_with("role = 'mail-access' AND id IN ("),
            "{}",
            q.sql
        );
        assert!(q.sql.contains("token_id IN (?) UNION") && q.sql.contains("client_ip IN (?)"));
        assert_eq!(q.args, ["tok", "ses", "203.0.113.9"]);
        let none = candidates(&IncidentLinks::default());
        assert!(none.sql.ends_with("AND 0"));
    }

    #[test]
    fn damaged_records_are_counted_not_used() {
        let mut b = ExposureBuilder::default();
        let issued = BTreeSet::new();
        assert!(!feed_record(&mut b, "no-such-format", "{}", &issued));
        assert!(!feed_record(&mut b, "ual-json", "{not json", &issued));
        assert!(!feed_record(&mut b, "ual-json", "[1]", &issued));
        assert!(b.reached_mailboxes().is_empty());
    }
}
