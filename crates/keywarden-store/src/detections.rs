//! Writing detections: alerts with their incidents, atomically. [`Store::write_detections`]
//! writes every alert it is given and replaces the whole incident table (a full regroup);
//! [`Store::write_detection_changes`] writes only what a regroup changed — the alerts whose
//! content or incident changed, the incidents that changed or appeared, and the deletion of
//! the incidents that no longer exist — so `serve`'s writer does not pay for every stored alert
//! on each batch. [`Store::all_incidents`] reads the incident table back whole, for the
//! writer's copy of it.

use keywarden_model::Alert;
use rusqlite::{Transaction, params};

use crate::alerts::{IncidentRow, incident_row, severity_rank};
use crate::error::{SqlContext, StoreError};
use crate::store::Store;

/// Inserts an alert, or updates it keeping its status and paging position (a no-op when the
/// body is unchanged).
const ALERT_UPSERT: &str =
    "INSERT INTO alerts (id, rule_id, severity, severity_rank, user, mailbox,
     time_first, time_last, incident_id, created_at, updated_at, body)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)
     ON CONFLICT(id) DO UPDATE SET severity = excluded.severity,
     severity_rank = excluded.severity_rank, user = excluded.user,
     mailbox = excluded.mailbox, time_first = excluded.time_first,
     time_last = excluded.time_last, incident_id = excluded.incident_id,
     updated_at = excluded.updated_at, body = excluded.body
     WHERE body <> excluded.body";

/// Inserts an incident or replaces its figures.
const INCIDENT_UPSERT: &str =
    "INSERT INTO incidents (id, severity, time_first, time_last, alerts, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT(id) DO UPDATE SET severity = excluded.severity,
     time_first = excluded.time_first, time_last = excluded.time_last,
     alerts = excluded.alerts, updated_at = excluded.updated_at";

impl Store {
    /// Writes alerts (insert, or update keeping their status and paging position) and replaces
    /// the incident table, in one transaction.
    pub fn write_detections(
        &mut self,
        alerts: &[Alert],
        incidents: &[IncidentRow],
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().op("begin detections")?;
        upsert_alerts(&tx, alerts, now)?;
        tx.execute("DELETE FROM incidents", [])
            .op("clear incidents")?;
        upsert_incidents(&tx, incidents, now)?;
        tx.commit().op("commit detections")
    }

    /// Writes what a regroup changed, in one transaction: `alerts` are upserted as by
    /// [`Store::write_detections`] (in the order given, so new ones page in that order),
    /// `incidents` are inserted or updated, and the incidents `removed` are deleted. Incidents
    /// not named keep their row (and its `updated_at`).
    pub fn write_detection_changes(
        &mut self,
        alerts: &[&Alert],
        incidents: &[IncidentRow],
        removed: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().op("begin detection changes")?;
        upsert_alerts(&tx, alerts.iter().copied(), now)?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM incidents WHERE id = ?1")
                .op("prepare incident delete")?;
            for id in removed {
                del.execute([id]).op("delete incident")?;
            }
        }
        upsert_incidents(&tx, incidents, now)?;
        tx.commit().op("commit detection changes")
    }

    /// Every stored incident, by id.
    pub fn all_incidents(&self) -> Result<Vec<IncidentRow>, StoreError> {
        let mut q = self
            .conn
            .prepare_cached(
                "SELECT id, severity, time_first, time_last, alerts FROM incidents ORDER BY id",
            )
            .op("read incidents")?;
        let rows = q.query_map([], incident_row).op("read incidents")?;
        rows.collect::<Result<Vec<_>, _>>().op("read incidents")
    }
}

fn upsert_alerts<'a>(
    tx: &Transaction<'_>,
    alerts: impl IntoIterator<Item = &'a Alert>,
    now: i64,
) -> Result<(), StoreError> {
    let mut up = tx.prepare_cached(ALERT_UPSERT).op("prepare alert upsert")?;
    for a in alerts {
        let body = serde_json::to_string(a).map_err(|e| StoreError::Corrupt {
            what: "alert",
            reason: e.to_string(),
        })?;
        up.execute(params![
            a.id,
            a.rule_id,
            a.severity.as_str(),
            severity_rank(a.severity),
            a.user,
            a.mailbox,
            a.time_first.map(|t| t.0),
            a.time_last.map(|t| t.0),
            a.incident_id,
            now,
            body
        ])
        .op("upsert alert")?;
    }
    Ok(())
}

fn upsert_incidents(
    tx: &Transaction<'_>,
    incidents: &[IncidentRow],
    now: i64,
) -> Result<(), StoreError> {
    let mut ins = tx
        .prepare_cached(INCIDENT_UPSERT)
        .op("prepare incident upsert")?;
    for i in incidents {
        ins.execute(params![
            i.id,
            i.severity.as_str(),
            i.time_first.map(|t| t.0),
            i.time_last.map(|t| t.0),
            i.alerts as i64,
            now
        ])
        .op("upsert incident")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use keywarden_model::{Severity, Timestamp};

    use super::*;
    use crate::store::StoreConfig;

    fn alert(id: &str, incident: &str) -> Alert {
        let mut a = Alert::new("ioc-ip", "t", Severity::High);
        a.id = id.into();
        a.incident_id = Some(incident.into());
        a
    }

    fn incident(id: &str, alerts: u64) -> IncidentRow {
        IncidentRow {
            id: id.into(),
            severity: Severity::High,
            time_first: Some(Timestamp(1)),
            time_last: Some(Timestamp(2)),
            alerts,
        }
    }

    #[test]
    fn changes_upsert_and_delete_only_what_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let (a, b) = (alert("A", "i1"), alert("B", "i2"));
        store
            .write_detections(&[a.clone(), b], &[incident("i1", 1), incident("i2", 1)], 1)
            .unwrap();
        let c = alert("C", "i1");
        let merged = incident("i1", 2);
        store
            .write_detection_changes(&[&c], std::slice::from_ref(&merged), &["i2".into()], 2)
            .unwrap();
        assert_eq!(store.all_incidents().unwrap(), vec![merged]);
        let ids: Vec<String> = store
            .all_alerts()
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["A", "B", "C"]);
        // Nothing named: nothing changes.
        store.write_detection_changes(&[], &[], &[], 3).unwrap();
        assert_eq!(store.all_incidents().unwrap().len(), 1);
        assert_eq!(store.all_alerts().unwrap()[0], a);
    }
}
