//! The writer's copy of the stored alerts and incidents, so that a batch that changed a few
//! alerts costs a regroup in memory and a write of what changed — not a read, parse and rewrite
//! of every stored alert and incident.
//!
//! [`AlertBook::write`] applies the changed alerts to the copy (replacing by id, appending new
//! ones in order) and regroups, with the pack's `assign_incidents`, the alerts a change can
//! regroup: the changed ones, their former incidents, and the incidents of every alert sharing
//! a linking value with them now. Incidents merge only through a changed alert's values and
//! split only where a changed alert was, so this is exactly the full regroup `serve` always did
//! (the first write after a load does the full regroup, and builds the link index). It then
//! stores in one transaction only the alerts whose content or incident changed and the
//! incidents that changed, appeared or disappeared. The copy is loaded from the store on first
//! use (or by [`AlertBook::load`] at restore) and dropped when a write fails, so it is read
//! again rather than trusted after a rolled-back transaction.
//!
//! Memory: every stored alert stays resident, with its linking values (retention keeps alerts;
//! see docs/SERVE.md). The full rewrite held the same alerts transiently on every batch.

use std::collections::{BTreeSet, HashMap, HashSet};

use keywarden_detect::{assign_incidents, incident_links};
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
    /// Built by the first write after a load (a full regroup); from then on a write regroups
    /// only the incidents its alerts can touch.
    graph: Option<Graph>,
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
            graph: None,
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
    /// and the rows written. On failure the book is dropped (reloaded on next use). A Sigma
    /// detection met again on a copy of its event merges into the stored one ([`fold_alert`]).
    pub fn write(
        &mut self,
        store: &mut Store,
        changed: &[Alert],
        now: i64,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        self.write_with(store, changed, now, Copies::Merge)
    }

    /// [`AlertBook::write`] for alerts raised again by a restart's replay of stored events:
    /// they replace the stored ones, copies included (a replayed event is not another copy of
    /// it, and its rebuilt `source` names no file).
    pub fn write_replayed(
        &mut self,
        store: &mut Store,
        changed: &[Alert],
        now: i64,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        self.write_with(store, changed, now, Copies::Replace)
    }

    fn write_with(
        &mut self,
        store: &mut Store,
        changed: &[Alert],
        now: i64,
        copies: Copies,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        if self.loaded.is_none() {
            self.load(store)?;
        }
        let Some(book) = self.loaded.as_mut() else {
            return Ok((Vec::new(), WriteCounts::default()));
        };
        let result = book.write(store, changed, now, copies);
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
        copies: Copies,
    ) -> Result<(Vec<Alert>, WriteCounts), StoreError> {
        let mut dirty: BTreeSet<usize> = BTreeSet::new();
        let mut touched: HashSet<String> = HashSet::new();
        let mut positions = Vec::with_capacity(changed.len());
        for a in changed {
            let mut a = a.clone();
            let i = match self.index.get(&a.id) {
                Some(&i) => {
                    // Keep the stored incident: the regroup compares against it.
                    let old = self.alerts.get(i);
                    if let Some(old) = old
                        && copies == Copies::Merge
                        && is_sigma_copy(old, &a)
                    {
                        let mut merged = old.clone();
                        keywarden_sigma::alert::merge_copy(&mut merged, a);
                        a = merged;
                    }
                    a.incident_id = old.and_then(|o| o.incident_id.clone());
                    if let (Some(g), Some(old)) = (self.graph.as_mut(), old) {
                        g.unlink(old, i);
                    }
                    if let Some(id) = &a.incident_id {
                        touched.insert(id.clone());
                    }
                    if let Some(slot) = self.alerts.get_mut(i) {
                        *slot = a;
                    }
                    i
                }
                None => {
                    let i = self.alerts.len();
                    a.incident_id = None;
                    self.index.insert(a.id.clone(), i);
                    self.alerts.push(a);
                    i
                }
            };
            if let (Some(g), Some(a)) = (self.graph.as_mut(), self.alerts.get(i)) {
                g.link(a, i);
            }
            dirty.insert(i);
            positions.push(i);
        }
        let (scope, old): (Vec<usize>, HashSet<String>) = match &self.graph {
            // First write after a load: regroup everything, and compare with every stored
            // incident (the table may hold rows no alert names).
            None => (
                (0..self.alerts.len()).collect(),
                self.incidents.keys().cloned().collect(),
            ),
            Some(g) => {
                let (scope, old) = g.affected(&self.alerts, &positions, touched);
                (scope, old)
            }
        };
        let (upserts, removed) = self.regroup(&scope, &old, &mut dirty);
        let to_write: Vec<&Alert> = dirty.iter().filter_map(|&i| self.alerts.get(i)).collect();
        store.write_detection_changes(&to_write, &upserts, &removed, now)?;
        let counts = WriteCounts {
            alerts: to_write.len(),
            incidents: upserts.len(),
            removed: removed.len(),
        };
        let out = positions
            .into_iter()
            .filter_map(|i| self.alerts.get(i).cloned())
            .collect();
        Ok((out, counts))
    }

    /// Regroups the alerts of `scope` (whole incidents, old and new) with `assign_incidents`,
    /// marks the alerts whose incident changed, and returns the incident rows to upsert and
    /// the ids of `old` that no longer exist.
    fn regroup(
        &mut self,
        scope: &[usize],
        old: &HashSet<String>,
        dirty: &mut BTreeSet<usize>,
    ) -> (Vec<IncidentRow>, Vec<String>) {
        let mut sub: Vec<Alert> = scope
            .iter()
            .filter_map(|&i| self.alerts.get(i).cloned())
            .collect();
        let before: Vec<Option<String>> = sub.iter_mut().map(|a| a.incident_id.take()).collect();
        let grouped = assign_incidents(&mut sub);
        for ((a, was), &i) in sub.iter().zip(&before).zip(scope) {
            if a.incident_id != *was {
                dirty.insert(i);
                if let Some(slot) = self.alerts.get_mut(i) {
                    slot.incident_id = a.incident_id.clone();
                }
            }
        }
        let graph = self.graph.get_or_insert_with(|| Graph::of(&self.alerts));
        for id in old {
            graph.members.remove(id);
        }
        let mut upserts = Vec::new();
        let mut live = HashSet::new();
        for inc in &grouped {
            let row = IncidentRow {
                id: inc.id.clone(),
                severity: inc.severity,
                time_first: inc.first,
                time_last: inc.last,
                alerts: inc.alerts.len() as u64,
            };
            graph.members.insert(
                inc.id.clone(),
                inc.alerts
                    .iter()
                    .filter_map(|&k| scope.get(k).copied())
                    .collect(),
            );
            live.insert(inc.id.clone());
            if self.incidents.get(&row.id) != Some(&row) {
                self.incidents.insert(row.id.clone(), row.clone());
                upserts.push(row);
            }
        }
        let mut removed: Vec<String> = old
            .iter()
            .filter(|id| !live.contains(*id))
            .cloned()
            .collect();
        removed.sort_unstable();
        for id in &removed {
            self.incidents.remove(id);
        }
        (upserts, removed)
    }
}

/// Which alerts hold each linking value, and each incident's members (indices into the book).
#[derive(Debug, Default)]
struct Graph {
    links: HashMap<(u8, String), Vec<usize>>,
    members: HashMap<String, Vec<usize>>,
}

impl Graph {
    /// The link index of every alert (members are filled by the regroup).
    fn of(alerts: &[Alert]) -> Graph {
        let mut g = Graph::default();
        for (i, a) in alerts.iter().enumerate() {
            g.link(a, i);
        }
        g
    }

    fn link(&mut self, a: &Alert, i: usize) {
        for l in incident_links(a) {
            let holders = self.links.entry(l).or_default();
            if !holders.contains(&i) {
                holders.push(i);
            }
        }
    }

    fn unlink(&mut self, a: &Alert, i: usize) {
        for l in incident_links(a) {
            if let Some(holders) = self.links.get_mut(&l) {
                holders.retain(|&h| h != i);
                if holders.is_empty() {
                    self.links.remove(&l);
                }
            }
        }
    }

    /// The alerts a change can regroup: the changed ones, their former incidents, and the
    /// incidents of every alert sharing a linking value with them now (an incident can only
    /// merge through a changed alert's values, or split where a changed alert was). Returns
    /// them in book order with the incidents they formed.
    fn affected(
        &self,
        alerts: &[Alert],
        changed: &[usize],
        mut touched: HashSet<String>,
    ) -> (Vec<usize>, HashSet<String>) {
        let mut scope: BTreeSet<usize> = changed.iter().copied().collect();
        for &i in changed {
            let Some(a) = alerts.get(i) else { continue };
            for l in incident_links(a) {
                for &j in self.links.get(&l).into_iter().flatten() {
                    match alerts.get(j).and_then(|b| b.incident_id.as_ref()) {
                        Some(id) => {
                            touched.insert(id.clone());
                        }
                        None => {
                            scope.insert(j);
                        }
                    }
                }
            }
        }
        for id in &touched {
            scope.extend(self.members.get(id).into_iter().flatten().copied());
        }
        (scope.into_iter().collect(), touched)
    }
}

/// How [`AlertBook::write_with`] treats a Sigma detection's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copies {
    Merge,
    Replace,
}

/// True when `newer` is a Sigma detection met again on a copy of `existing`'s event (another
/// input held the record): same id and time ([`keywarden_sigma::alert::is_copy`]), with a
/// `source` (correlation alerts carry none and are updated, not merged).
fn is_sigma_copy(existing: &Alert, newer: &Alert) -> bool {
    newer.id.starts_with("sigma:")
        && newer.evidence.get("source").is_some()
        && keywarden_sigma::alert::is_copy(existing, newer)
}

/// Folds a newer version of an alert into the one held: a Sigma detection's copy merges as
/// `hunt` merges it ([`keywarden_sigma::alert::merge_copy`]); anything else replaces it.
pub fn fold_alert(existing: &mut Alert, newer: Alert) {
    if is_sigma_copy(existing, &newer) {
        keywarden_sigma::alert::merge_copy(existing, newer);
    } else {
        *existing = newer;
    }
}

/// One version of each alert of `changed` ([`fold_alert`] of its versions in order), in the
/// order of each alert's last version.
pub fn fold_versions(changed: Vec<Alert>) -> Vec<Alert> {
    let mut slots: Vec<Option<Alert>> = Vec::with_capacity(changed.len());
    let mut at: HashMap<String, usize> = HashMap::with_capacity(changed.len());
    for a in changed {
        let merged = match at
            .get(&a.id)
            .and_then(|&i| slots.get_mut(i))
            .and_then(Option::take)
        {
            Some(mut held) => {
                fold_alert(&mut held, a);
                held
            }
            None => a,
        };
        at.insert(merged.id.clone(), slots.len());
        slots.push(Some(merged));
    }
    slots.into_iter().flatten().collect()
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

    /// A Sigma detection on WS1's record 77 as read from the input `source`.
    fn sigma(source: &str) -> Alert {
        let mut a = Alert::new("r", "t", Severity::Low);
        a.id = "sigma:r:WS1/Security/77@2024-03-01T10:00:00Z".into();
        a.time_first = Some(keywarden_model::Timestamp::from_unix_seconds(1));
        a.evidence = serde_json::json!({"engine": "sigma", "source": source});
        a
    }

    #[test]
    fn regression_a_sigma_alert_on_a_copied_record_replaced_the_first() {
        // One event in two inputs (arriving in either order): one alert, as `hunt` gives,
        // its source the one that sorts first and the other in `also_in`.
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let mut book = AlertBook::default();
        book.write(&mut store, &[sigma("b/ws1.jsonl:1")], 1)
            .unwrap();
        let (out, _) = book
            .write(&mut store, &[sigma("a/ws1.jsonl:1")], 2)
            .unwrap();
        assert_eq!(out.len(), 1);
        let ev = &out[0].evidence;
        assert_eq!(ev["source"], "a/ws1.jsonl:1");
        assert_eq!(ev["also_in"], serde_json::json!(["b/ws1.jsonl:1"]));
        assert_eq!(ev["copies"], 2);
        assert_eq!(store.all_alerts().unwrap().len(), 1);
    }

    #[test]
    fn regression_two_copies_in_one_write_group_kept_the_last() {
        // Both copies of one event in one batch group (or one streamed body): folded before
        // the book, as `hunt` merges them, not the later one kept.
        let other = alert("a", "t1", 1.0);
        let newer = alert("a", "t1", 2.0);
        let folded = fold_versions(vec![
            sigma("b/ws1.jsonl:1"),
            other,
            sigma("a/ws1.jsonl:1"),
            newer,
        ]);
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].evidence["source"], "a/ws1.jsonl:1");
        assert_eq!(folded[0].evidence["copies"], 2);
        assert_eq!(folded[1].score, 2.0);

        // A restart's replay replaces instead (its rebuilt source names no file).
        let dir = tempfile::tempdir().unwrap();
        let mut store = StoreConfig::new(dir.path()).build().unwrap();
        let mut book = AlertBook::default();
        book.write(&mut store, &[sigma("a/ws1.jsonl:1")], 1)
            .unwrap();
        let (out, _) = book
            .write_replayed(
                &mut store,
                &[sigma("WS1/Security/77@2024-03-01T10:00:00Z@0")],
                2,
            )
            .unwrap();
        assert!(
            out[0].evidence.get("copies").is_none(),
            "{:?}",
            out[0].evidence
        );
    }
}
