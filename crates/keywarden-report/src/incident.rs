//! [`IncidentView`]: alerts and exposure joined per incident, the unit every human-facing
//! output (HTML report, terminal table) is organised by.
//!
//! The detection stage sets `Alert.incident_id` and writes one [`IncidentExposure`] per
//! incident; this module only joins them. An alert without an incident id stands alone as a
//! view of its own (`id` is `None`), and an exposure entry without alerts still gets a view, so
//! nothing handed to a report is ever dropped from it.

use std::collections::{BTreeMap, BTreeSet};

use keywarden_model::{Alert, Exposure, IncidentExposure, Severity, Timestamp};

/// One incident as shown to an analyst.
#[derive(Debug, Clone)]
pub struct IncidentView<'a> {
    /// The incident id; `None` for an alert that belongs to no incident.
    pub id: Option<&'a str>,
    /// The highest severity of its alerts and of its exposure entry.
    pub severity: Severity,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Its alerts, by first-seen time then id.
    pub alerts: Vec<&'a Alert>,
    /// What its sessions read, when the exposure has an entry for it.
    pub exposure: Option<&'a IncidentExposure>,
    /// Distinct values over the alerts, sorted.
    pub users: Vec<&'a str>,
    pub client_ips: Vec<&'a str>,
    pub client_app_ids: Vec<&'a str>,
    pub app_ids: Vec<&'a str>,
    pub rule_ids: Vec<&'a str>,
    /// Mailboxes named by the alerts or the exposure, sorted and distinct.
    pub mailboxes: Vec<&'a str>,
}

impl IncidentView<'_> {
    /// The name shown for it: the incident id, or the alert id for a lone alert.
    pub fn label(&self) -> &str {
        match (self.id, self.alerts.first()) {
            (Some(id), _) => id,
            (None, Some(a)) => &a.id,
            (None, None) => "",
        }
    }

    /// `InternetMessageId`s read (Bind), summed over its mailboxes.
    pub fn messages_exposed(&self) -> usize {
        self.exposure
            .map(|e| e.mailboxes.iter().map(|m| m.messages.len()).sum())
            .unwrap_or(0)
    }

    /// Folders synchronised in full (Sync), summed over its mailboxes.
    pub fn folders_synced(&self) -> usize {
        self.exposure
            .map(|e| e.mailboxes.iter().map(|m| m.folders_synced.len()).sum())
            .unwrap_or(0)
    }

    /// Throttled (unaudited) windows, summed over its mailboxes.
    pub fn throttled_windows(&self) -> usize {
        self.exposure
            .map(|e| e.mailboxes.iter().map(|m| m.throttled_windows.len()).sum())
            .unwrap_or(0)
    }
}

/// Joins alerts and exposure into incidents, most severe first, then earliest first.
pub fn incident_views<'a>(alerts: &'a [Alert], exposure: &'a Exposure) -> Vec<IncidentView<'a>> {
    let mut grouped: BTreeMap<&'a str, Vec<&'a Alert>> = BTreeMap::new();
    let mut lone: Vec<&'a Alert> = Vec::new();
    for a in alerts {
        match a.incident_id.as_deref() {
            Some(id) => grouped.entry(id).or_default().push(a),
            None => lone.push(a),
        }
    }
    let mut by_id: BTreeMap<&'a str, &'a IncidentExposure> = BTreeMap::new();
    for inc in &exposure.incidents {
        // The first entry wins if an exposure repeats an id.
        by_id.entry(inc.id.as_str()).or_insert(inc);
    }
    let mut views: Vec<IncidentView<'a>> = Vec::new();
    for (id, members) in &grouped {
        views.push(build(Some(id), members.clone(), by_id.get(id).copied()));
    }
    for (id, inc) in &by_id {
        if !grouped.contains_key(id) {
            views.push(build(Some(id), Vec::new(), Some(inc)));
        }
    }
    for a in lone {
        views.push(build(None, vec![a], None));
    }
    views.sort_by(|x, y| {
        y.severity
            .cmp(&x.severity)
            .then(x.first.is_none().cmp(&y.first.is_none()))
            .then(x.first.cmp(&y.first))
            .then(x.label().cmp(y.label()))
    });
    views
}

fn build<'a>(
    id: Option<&'a str>,
    mut alerts: Vec<&'a Alert>,
    exposure: Option<&'a IncidentExposure>,
) -> IncidentView<'a> {
    alerts.sort_by(|x, y| {
        start_of(x)
            .is_none()
            .cmp(&start_of(y).is_none())
            .then(start_of(x).cmp(&start_of(y)))
            .then(x.id.cmp(&y.id))
    });
    let severity = alerts
        .iter()
        .map(|a| a.severity)
        .chain(exposure.map(|e| e.severity))
        .max()
        .unwrap_or(Severity::Info);
    let first = alerts
        .iter()
        .filter_map(|a| start_of(a))
        .chain(exposure.and_then(|e| e.first))
        .min();
    let last = alerts
        .iter()
        .filter_map(|a| a.time_last.or(a.time_first))
        .chain(exposure.and_then(|e| e.last))
        .max();
    let distinct = |f: fn(&'a Alert) -> Option<&'a str>| -> Vec<&'a str> {
        let set: BTreeSet<&'a str> = alerts.iter().filter_map(|a| f(a)).collect();
        set.into_iter().collect()
    };
    let users = distinct(|a| a.user.as_deref());
    let client_ips = distinct(|a| a.client_ip.as_deref());
    let client_app_ids = distinct(|a| a.client_app_id.as_deref());
    let app_ids = distinct(|a| a.app_id.as_deref());
    let rule_ids = distinct(|a| Some(a.rule_id.as_str()));
    let mut mailboxes: BTreeSet<&'a str> =
        alerts.iter().filter_map(|a| a.mailbox.as_deref()).collect();
    if let Some(e) = exposure {
        mailboxes.extend(e.mailboxes.iter().map(|m| m.mailbox.as_str()));
    }
    IncidentView {
        id,
        severity,
        first,
        last,
        alerts,
        exposure,
        users,
        client_ips,
        client_app_ids,
        app_ids,
        rule_ids,
        mailboxes: mailboxes.into_iter().collect(),
    }
}

/// When an alert starts: its first-seen time, or its last-seen time when that is all it has.
pub(crate) fn start_of(a: &Alert) -> Option<Timestamp> {
    a.time_first.or(a.time_last)
}

/// App ids as people read them (`Name (id)` for known Microsoft apps: [`crate::app_label`]).
pub(crate) fn app_labels(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| crate::app_label(id).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use keywarden_model::MailboxExposure;

    use super::*;

    fn alert(id: &str, incident: Option<&str>, sev: Severity, t: i64) -> Alert {
        let mut a = Alert::new("ioc-ip", "t", sev);
        a.id = id.into();
        a.incident_id = incident.map(str::to_string);
        a.time_first = Some(Timestamp::from_unix_seconds(t));
        a.user = Some(format!("u{}", t % 2));
        a
    }

    #[test]
    fn groups_by_incident_and_orders_by_severity_then_time() {
        let alerts = vec![
            alert("a1", Some("INC-2"), Severity::Low, 50),
            alert("a2", Some("INC-1"), Severity::Medium, 20),
            alert("a3", Some("INC-1"), Severity::Critical, 10),
            alert("a4", None, Severity::High, 5),
        ];
        let exposure = Exposure {
            incidents: vec![IncidentExposure {
                id: "INC-3".into(),
                severity: Severity::Low,
                first: Some(Timestamp::from_unix_seconds(1)),
                last: None,
                mailboxes: vec![MailboxExposure {
                    mailbox: "m@x".into(),
                    messages: vec!["<1@x>".into(), "<2@x>".into()],
                    ..MailboxExposure::default()
                }],
            }],
        };
        let views = incident_views(&alerts, &exposure);
        let labels: Vec<&str> = views.iter().map(|v| v.label()).collect();
        assert_eq!(labels, ["INC-1", "a4", "INC-3", "INC-2"]);
        let inc1 = &views[0];
        assert_eq!(inc1.severity, Severity::Critical);
        assert_eq!(inc1.alerts[0].id, "a3");
        assert_eq!(inc1.first, Some(Timestamp::from_unix_seconds(10)));
        assert_eq!(inc1.last, Some(Timestamp::from_unix_seconds(20)));
        assert_eq!(inc1.users, ["u0"]);
        assert_eq!(views[2].messages_exposed(), 2);
        assert_eq!(views[2].mailboxes, ["m@x"]);
        assert!(views[1].id.is_none());
        let total: usize = views.iter().map(|v| v.alerts.len()).sum();
        assert_eq!(total, alerts.len());
    }
}
