//! The writer's copy of the stored alerts and incidents, so that a batch that changed a few
//! alerts costs a regroup in memory and a write of what changed — not a read, parse and rewrite
//! of every stored alert and incident.
//!
//! [`AlertBook::write`] applies the changed alerts to the copy (replacing by id, appending new
//! ones in order), regroups every alert with the pack's `assign_incidents` (exactly the full
//! regroup `serve` always did), and stores in one transaction only the alerts whose content or
//! incident changed and the incidents that changed, appeared or disappeared. The copy is loaded
//! from the store on first use (or by [`AlertBook::load`] at restore) and dropped when a write
//! fails, so it is read again rather than trusted after a rolled-back transaction.
//!
//! Memory: every stored alert stays resident (retention keeps alerts; see docs/SERVE.md). The
//! full rewrite held the same set transiently on every batch, so the peak is unchanged.

use std::collections::HashMap;

use keywarden_detect::assign_incidents;
use keywarden_model::Alert;
use keywarden_store::{IncidentRow, Store, StoreError};

/// The stored alerts (in store order) and incidents, as last written.
#[derive(Debug, Default)]
pub struct AlertBook {
    loaded: Option<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    alerts: Vec<Alert>,
    index: HashMap<String, usize>,
    incidents: HashMap<String, IncidentRow>,
}

/// What one [`AlertBook::write`] stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Alert rows upserted (changed content, new, or a new incident).
    pub alerts: usize,
    /// Incident rows inserted or updated.
    pub incidents: usize,
    /// Incident rows deleted (merged away or regrouped).
    pub removed: usize,
}

impl AlertBook {
    /// Reads every stored alert and incident into the book.
    pub fn load(&mut self, store: &Store) -> Result<(), StoreError> {
        let alerts = store.all_alerts()?;
        let index = alerts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let incidents = store
            .all_incidents()?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        self.loaded = Some(Loaded {
            alerts,
            index,
            incidents,
        });
        Ok(())
    }

    /// Every alert in the book (loading it first if needed), in store order.
    pub fn alerts(&mut self, store: &Store) -> Result<&[Alert], StoreError> {
        if self.loaded.is_none() {
            self.load(store)?;
        }
        Ok(self.loaded.as_ref().map_or(&[][..], |l| &l.alerts[..]))
    }

    /// How many alerts the book holds (0 before it is loaded).
    pub fn len(&self) -> usize {
        self.loaded.as_ref().map_or(0, |l| l.alerts.len())
    }

    /// Whether the book holds no alert.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `changed`, regroups incidents over every alert and stores what changed, in one
    /// transaction at `now`. Returns each changed alert with its incident (in the order given)
    /// and the rows written. On failure the book is dropped (reloaded on next use).
    pub fn write(
        &mut self,
        store: &mut Store,
        changed: &[Alert],
        now: i64,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        if self.loaded.is_none() {
            self.load(store)?;
        }
        let Some(book) = self.loaded.as_mut() else {
            return Ok((Vec::new(), WriteCounts::default()));
        };
        let result = book.write(store, changed, now);
        if result.is_err() {
            self.loaded = None;
        }
        result
    }
}

impl Loaded {
    fn write(
        &mut self,
        store: &mut Store,
        changed: &[Alert],
        now: i64,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        let mut dirty = vec![false; self.alerts.len()];
        let mut positions = Vec::with_capacity(changed.len());
        for a in changed {
            let i = match self.index.get(&a.id) {
                Some(&i) => i,
                None => {
                    let i = self.alerts.len();
                    self.index.insert(a.id.clone(), i);
                    self.alerts.push(a.clone());
                    dirty.push(false);
                    i
                }
            };
            if let Some(slot) = self.alerts.get_mut(i) {
                *slot = a.clone();
            }
            if let Some(d) = dirty.get_mut(i) {
                *d = true;
            }
            positions.push(i);
        }
        // The stored incident of each alert; the regroup sets every one anew.
        let before: Vec<Option<String>> = self
            .alerts
            .iter_mut()
            .map(|a| a.incident_id.take())
            .collect();
        let grouped = assign_incidents(&mut self.alerts);
        for ((a, old), d) in self.alerts.iter().zip(&before).zip(dirty.iter_mut()) {
            if a.incident_id != *old {
                *d = true;
            }
        }
        let rows: Vec<IncidentRow> = grouped
            .iter()
            .map(|i| IncidentRow {
                id: i.id.clone(),
                severity: i.severity,
                time_first: i.first,
                time_last: i.last,
                alerts: i.alerts.len() as u64,
            })
            .collect();
        let upserts: Vec<IncidentRow> = rows
            .iter()
            .filter(|r| self.incidents.get(&r.id) != Some(*r))
            .cloned()
            .collect();
        let live: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut removed: Vec<String> = self
            .incidents
            .keys()
            .filter(|id| !live.contains(id.as_str()))
            .cloned()
            .collect();
        removed.sort_unstable();
        let to_write: Vec<&Alert> = self
            .alerts
            .iter()
            .zip(&dirty)
            .filter_map(|(a, d)| d.then_some(a))
            .collect();
        store.write_detection_changes(&to_write, &upserts, &removed, now)?;
        let counts = WriteCounts {
            alerts: to_write.len(),
            incidents: upserts.len(),
            removed: removed.len(),
        };
        self.incidents = rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        let out = positions
            .into_iter()
            .filter_map(|i| self.alerts.get(i).cloned())
            .collect();
        Ok((out, counts))
    }
}

#[cfg(test)]
mod tests {
    use keywarden_model::Severity;
    use keywarden_store::StoreConfig;

    use super::*;

    fn alert(id: &str, token: &str, score: f64) -> Alert {
        let mut a = Alert::new("ioc-ip", "t", Severity::High);
        a.id = id.into();
        a.token_id = Some(token.into());
        a.score = score;
        a
    }

    #[test]
    fn loads_on_first_use_and_returns_each_changed_alert_with_its_incident() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let mut book = AlertBook::default();
        assert!(book.is_empty());
        // The same alert twice in one batch: both entries come back as its latest version.
        let changed = [alert("a", "t1", 1.0), alert("a", "t1", 2.0)];
        let (out, counts) = book.write(&mut store, &changed, 1).unwrap();
        assert_eq!(out.len(), 2);
        assert!(
            out.iter()
                .all(|a| a.score == 2.0 && a.incident_id.is_some())
        );
        assert_eq!(
            counts,
            WriteCounts {
                alerts: 1,
                incidents: 1,
                removed: 0
            }
        );
        assert_eq!(store.all_alerts().unwrap(), out[..1]);
        // Nothing changed: nothing written.
        let (out, counts) = book.write(&mut store, &[], 2).unwrap();
        assert!(out.is_empty());
        assert_eq!(counts, WriteCounts::default());
        // A fresh book reads the store back.
        let mut again = AlertBook::default();
        assert_eq!(again.alerts(&store).unwrap(), store.all_alerts().unwrap());
        assert_eq!(again.len(), 1);
    }
}
