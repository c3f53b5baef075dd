//! The alert side of the store (writing them is [`crate::detections`]): querying alerts with
//! filters and cursor paging, an incident with its mailbox exposure (computed in
//! [`crate::exposure`]), and analyst actions (acknowledge/close with a note) recorded in the audit trail.

use keywarden_model::{Alert, Severity, Timestamp};
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde::Serialize;

use crate::error::{SqlContext, StoreError};
use crate::exposure::{ExposureScope, MAX_EXPOSURE_RECORDS, MailboxExposureRow};
use crate::store::Store;

/// The most alerts one query returns.
pub const MAX_LIMIT: usize = 10_000;

/// Filters and paging for [`Store::alerts`]. Every filter is an exact match except `since`
/// (alerts whose last activity is at or after it) and `min_severity`.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Any of these severities (empty: all).
    pub severities: Vec<Severity>,
    pub min_severity: Option<Severity>,
    pub rule: Option<String>,
    pub user: Option<String>,
    pub mailbox: Option<String>,
    pub incident: Option<String>,
    pub status: Option<AlertStatus>,
    pub since: Option<Timestamp>,
    /// Page size (clamped to 1..=[`MAX_LIMIT`]).
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of alerts, oldest stored first.
#[derive(Debug, Clone, Serialize)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An analyst's verdict on an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        match s {
            "open" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "closed" => Some(AlertStatus::Closed),
            _ => None,
        }
    }
}

/// One incident as stored by [`Store::write_detections`] and [`Store::write_detection_changes`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    pub id: String,
    pub severity: Severity,
    pub time_first: Option<Timestamp>,
    pub time_last: Option<Timestamp>,
    pub alerts: u64,
}

/// An incident with its alerts, exposure and an hourly timeline of its alerts' records.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    #[serde(flatten)]
    pub incident: IncidentRow,
    pub alerts: Vec<Alert>,
    pub statuses: Vec<(String, AlertStatus)>,
    /// Per mailbox: counts of the linked mail-access events and `hunt`'s exposure fields.
    pub exposure: Vec<MailboxExposureRow>,
    /// How many linked records the exposure fields were read from, and whether that was all.
    pub exposure_scope: ExposureScope,
    /// (hour start, mail reads in that hour) over the exposure.
    pub timeline: Vec<(Timestamp, u64)>,
}

/// One revision keywarden made to a stored alert ([`Store::record_revisions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRevision<'a> {
    pub alert_id: &'a str,
    /// The audit action (`withdrawn`, `downgraded`).
    pub action: &'a str,
    /// Whether the alert is closed by it.
    pub close: bool,
    pub note: &'a str,
}

/// One analyst action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub note: String,
}

pub(crate) fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

impl Store {
    /// Every stored alert (for incident grouping; alerts are few compared with events).
    pub fn all_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached("SELECT body FROM alerts ORDER BY seq")
            .op("read alerts")?;
        let rows = q
            .query_map([], |r| r.get::<_, String>(0))
            .op("read alerts")?;
        rows.map(|b| parse_alert(&b.op("read alerts")?)).collect()
    }

    /// One page of alerts matching the query.
    pub fn alerts(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        let after: i64 = match &q.cursor {
            None => 0,
            Some(c) => c
                .strip_prefix('c')
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| StoreError::InvalidCursor(c.clone()))?,
        };
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let mut sql = String::from("SELECT seq, body FROM alerts WHERE seq > ?");
        let mut args: Vec<rusqlite::types::Value> = vec![after.into()];
        if !q.severities.is_empty() {
            sql.push_str(" AND severity_rank IN (");
            for (i, s) in q.severities.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                args.push(severity_rank(*s).into());
            }
            sql.push(')');
        }
        if let Some(s) = q.min_severity {
            sql.push_str(" AND severity_rank >= ?");
            args.push(severity_rank(s).into());
        }
        for (col, v) in [
            ("rule_id", &q.rule),
            ("user", &q.user),
            ("mailbox", &q.mailbox),
            ("incident_id", &q.incident),
        ] {
            if let Some(v) = v {
                sql.push_str(" AND ");
                sql.push_str(col);
                sql.push_str(" = ?");
                args.push(v.clone().into());
            }
        }
        if let Some(st) = q.status {
            sql.push_str(" AND status = ?");
            args.push(st.as_str().to_string().into());
        }
        if let Some(t) = q.since {
            sql.push_str(" AND time_last >= ?");
            args.push(t.0.into());
        }
        sql.push_str(" ORDER BY seq LIMIT ?");
        args.push((limit as i64 + 1).into());
        let mut stmt = self.conn.prepare(&sql).op("prepare alert query")?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .op("query alerts")?;
        let mut alerts = Vec::new();
        let mut last_seq = None;
        let mut more = false;
        for row in rows {
            let (seq, body) = row.op("query alerts")?;
            if alerts.len() == limit {
                more = true;
                break;
            }
            alerts.push(parse_alert(&body)?);
            last_seq = Some(seq);
        }
        Ok(AlertPage {
            alerts,
            next_cursor: if more {
                last_seq.map(|s| format!("c{s}"))
            } else {
                None
            },
        })
    }

    /// Stored incidents, most recent activity first.
    pub fn incidents(&self, limit: usize) -> Result<Vec<IncidentRow>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT id, severity, time_first, time_last, alerts FROM incidents
                 ORDER BY time_last DESC, id LIMIT ?1",
            )
            .op("read incidents")?;
        let rows = q
            .query_map([limit.clamp(1, MAX_LIMIT) as i64], incident_row)
            .op("read incidents")?;
        rows.collect::<Result<Vec<_>, _>>().op("read incidents")
    }

    /// One incident with its alerts, their statuses, mailbox exposure and timeline (reading
    /// back at most [`MAX_EXPOSURE_RECORDS`] linked records for the exposure fields).
    pub fn incident(&self, id: &str) -> Result<Option<IncidentView>, StoreError> {
        self.incident_capped(id, MAX_EXPOSURE_RECORDS)
    }

    /// [`Store::incident`] reading back at most `max_records` linked records.
    pub fn incident_capped(
        &self,
        id: &str,
        max_records: usize,
    ) -> Result<Option<IncidentView>, StoreError> {
        let Some(incident) = self
            .conn
            .query_row(
                "SELECT id, severity, time_first, time_last, alerts FROM incidents WHERE id = ?1",
                [id],
                incident_row,
            )
            .optional()
            .op("read incident")?
        else {
            return Ok(None);
        };
        let mut q = self
            .conn
            .prepare_cached("SELECT body, status FROM alerts WHERE incident_id = ?1 ORDER BY seq")
            .op("read incident alerts")?;
        let rows = q
            .query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .op("read incident alerts")?;
        let mut alerts = Vec::new();
        let mut statuses = Vec::new();
        for row in rows {
            let (body, status) = row.op("read incident alerts")?;
            let a = parse_alert(&body)?;
            statuses.push((
                a.id.clone(),
                AlertStatus::parse(&status).unwrap_or(AlertStatus::Open),
            ));
            alerts.push(a);
        }
        let exposure = self.exposure(&alerts, max_records)?;
        Ok(Some(IncidentView {
            incident,
            alerts,
            statuses,
            exposure: exposure.mailboxes,
            exposure_scope: exposure.scope,
            timeline: exposure.timeline,
        }))
    }

    /// An analyst acknowledges, closes or reopens an alert; the action and note go to the
    /// audit trail in the same transaction.
    pub fn set_alert_status(
        &mut self,
        alert_id: &str,
        status: AlertStatus,
        actor: &str,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().op("begin status")?;
        let n = tx
            .execute(
                "UPDATE alerts SET status = ?1 WHERE id = ?2",
                params![status.as_str(), alert_id],
            )
            .op("update status")?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "alert",
                id: alert_id.to_string(),
            });
        }
        tx.execute(
            "INSERT INTO audit (at, actor, action, target, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now, actor, status.as_str(), alert_id, note],
        )
        .op("write audit")?;
        tx.commit().op("commit status")
    }

    /// keywarden itself revised alerts (live verdicts whose evidence arrived late): for each,
    /// the audit trail gets its `action` and `note` under `actor`, and a revision that
    /// `close`s also closes the alert. All of them in **one** transaction (none is lost when
    /// another fails), and idempotent: a revision already in the trail (same actor, action and
    /// alert, as a replay after a restart repeats it) is not written again. Alerts that are not
    /// stored are skipped. Returns how many entries were written.
    pub fn record_revisions(
        &mut self,
        revisions: &[AlertRevision<'_>],
        actor: &str,
        now: i64,
    ) -> Result<usize, StoreError> {
        if revisions.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction().op("begin revision")?;
        let mut written = 0;
        for r in revisions {
            let (exists, done): (bool, bool) = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM alerts WHERE id = ?1),
                            EXISTS(SELECT 1 FROM audit
                                   WHERE target = ?1 AND actor = ?2 AND action = ?3)",
                    params![r.alert_id, actor, r.action],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .op("read alert")?;
            if !exists || done {
                continue;
            }
            if r.close {
                tx.execute(
                    "UPDATE alerts SET status = ?1 WHERE id = ?2",
                    params![AlertStatus::Closed.as_str(), r.alert_id],
                )
                .op("update status")?;
            }
            tx.execute(
                "INSERT INTO audit (at, actor, action, target, note) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now, actor, r.action, r.alert_id, r.note],
            )
            .op("write audit")?;
            written += 1;
        }
        tx.commit().op("commit revision")?;
        Ok(written)
    }

    /// The audit trail, newest first (optionally for one target).
    pub fn audit_trail(
        &self,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT at, actor, action, target, note FROM audit
                 WHERE ?1 IS NULL OR target = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .op("read audit")?;
        let rows = q
            .query_map(params![target, limit.clamp(1, MAX_LIMIT) as i64], |r| {
                Ok(AuditEntry {
                    at: Timestamp(r.get(0)?),
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    note: r.get(4)?,
                })
            })
            .op("read audit")?;
        rows.collect::<Result<Vec<_>, _>>().op("read audit")
    }
}

pub(crate) fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    let sev: String = r.get(1)?;
    Ok(IncidentRow {
        id: r.get(0)?,
        severity: Severity::parse(&sev).unwrap_or(Severity::Info),
        time_first: r.get::<_, Option<i64>>(2)?.map(Timestamp),
        time_last: r.get::<_, Option<i64>>(3)?.map(Timestamp),
        alerts: r.get::<_, i64>(4)?.max(0) as u64,
    })
}

pub(crate) fn parse_alert(body: &str) -> Result<Alert, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: "alert",
        reason: e.to_string(),
    })
}
