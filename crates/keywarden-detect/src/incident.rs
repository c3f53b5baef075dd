//! Incidents.
//!
//! [`assign_incidents`] groups alerts (built-in and Sigma alike) that share a record, a token
//! id, a session id or, between alerts of at least `high` severity, a client IP (not a loopback
//! or unspecified address, which every host logs for its local logons), and sets each
//! alert's `incident_id` (a stable hash of its members' ids). What each incident read is
//! [`crate::exposure`]'s job.
//!
//! A shared record is the strongest link there is: two alerts on the same event are about the
//! same activity, whatever their severities (the Golden SAML sample's one `MailItemsAccessed`
//! record was in a high `app-takeover` incident and in two low incidents of its own before).
//! Only a record id shaped like a GUID links (audit `Id`s, sign-in ids): other record ids are
//! not unique across sources (a Windows event's id, `Computer/Channel/EventRecordID@TimeCreated`,
//! is only as unique as the host names and clocks in the logs; a `path:line` origin names a
//! file, not an event).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use keywarden_model::{Alert, Severity, Timestamp};

use crate::intern::stable_hash;
use crate::prefilter::guid_shaped;

/// Rules whose alerts aggregate many identities and so must not chain incidents together.
const NON_LINKING: &[&str] = &["mailbox-volume-anomaly"];

/// One incident: its id, members and severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub severity: Severity,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Indices into the alert slice.
    pub alerts: Vec<usize>,
}

/// Groups alerts into incidents and sets `incident_id` on every alert. Returns the incidents
/// sorted by (first time, id).
pub fn assign_incidents(alerts: &mut [Alert]) -> Vec<Incident> {
    let n = alerts.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let values = alerts.iter().enumerate();
    join_sharing(
        &mut parent,
        values.flat_map(|(i, a)| value_links(a).into_iter().map(move |l| (i, l))),
    );
    // Records are borrowed, not copied: an alert of `hunt` names every record it covers.
    let records = alerts.iter().enumerate();
    join_sharing(
        &mut parent,
        records.flat_map(|(i, a)| record_links(a).map(move |r| (i, r))),
    );
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut incidents: Vec<Incident> = groups
        .into_values()
        .map(|members| {
            let mut ids: Vec<&str> = members.iter().map(|&i| alerts[i].id.as_str()).collect();
            ids.sort_unstable();
            let strong: BTreeSet<&str> = members
                .iter()
                .map(|&i| &alerts[i])
                .filter(|a| a.severity >= Severity::High)
                .map(|a| a.rule_id.as_str())
                .collect();
            let top = members
                .iter()
                .map(|&i| alerts[i].severity)
                .max()
                .unwrap_or(Severity::Info);
            Incident {
                id: format!("inc-{:016x}", stable_hash(&ids)),
                severity: if strong.len() >= 2 {
                    Severity::Critical
                } else {
                    top
                },
                first: members.iter().filter_map(|&i| alerts[i].time_first).min(),
                last: members
                    .iter()
                    .filter_map(|&i| alerts[i].time_last.or(alerts[i].time_first))
                    .max(),
                alerts: members,
            }
        })
        .collect();
    incidents.sort_by(|a, b| (a.first, &a.id).cmp(&(b.first, &b.id)));
    for inc in &incidents {
        for &i in &inc.alerts {
            alerts[i].incident_id = Some(inc.id.clone());
        }
    }
    incidents
}

/// The values through which an alert joins others: its records, tokens and sessions always,
/// client IPs only at `high` or above (leads behind one office NAT must not chain into one
/// incident). Kinds: 0 token, 1 session, 2 client IP, 3 record.
pub fn links(a: &Alert) -> Vec<(u8, String)> {
    let mut out = value_links(a);
    out.extend(record_links(a).map(|r| (RECORD, r.to_string())));
    out
}

/// The link kind of a shared record.
const RECORD: u8 = 3;

/// The records through which an alert joins others: those with a globally unique (GUID) id;
/// none for aggregate rules.
fn record_links(a: &Alert) -> impl Iterator<Item = &str> {
    let linking = !NON_LINKING.contains(&a.rule_id.as_str());
    a.record_ids
        .iter()
        .filter(move |r| linking && guid_shaped(r))
        .map(String::as_str)
}

/// [`links`] but records: tokens, sessions and (at `high` or above) client IPs.
fn value_links(a: &Alert) -> Vec<(u8, String)> {
    if NON_LINKING.contains(&a.rule_id.as_str()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let ev = |name: &str| a.evidence_strings(name);
    for t in a.token_id.iter().cloned().chain(ev("token_ids")) {
        out.push((0, t));
    }
    for s in a.session_id.iter().cloned().chain(ev("session_ids")) {
        out.push((1, s));
    }
    if a.severity >= Severity::High {
        for ip in a.client_ip.iter().cloned().chain(ev("client_ips")) {
            if names_a_client(&ip) {
                out.push((2, ip));
            }
        }
    }
    out.retain(|(_, v)| !v.trim().is_empty());
    out
}

/// False for an address that names no client: loopback (`127.0.0.1`, `::1`, and IPv4 inside
/// IPv6) and unspecified (`0.0.0.0`, `::`), with or without a port. Windows logs a local
/// logon's `IpAddress` as `127.0.0.1` or `::1` on every host, so linking on it joined two
/// hosts' high alerts into one incident (regression below). Text that is not an address (a
/// host name) still links.
fn names_a_client(ip: &str) -> bool {
    let ip = crate::facts::strip_port(std::borrow::Cow::Borrowed(ip));
    match ip.parse::<std::net::IpAddr>() {
        Ok(addr) => {
            let addr = match addr {
                std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
                v4 => v4,
            };
            !(addr.is_loopback() || addr.is_unspecified())
        }
        Err(_) => !ip.eq_ignore_ascii_case("localhost"),
    }
}

/// Unites every alert with the first alert that named the same link.
fn join_sharing<K: Eq + Hash>(parent: &mut [usize], links: impl Iterator<Item = (usize, K)>) {
    let mut owner: HashMap<K, usize> = HashMap::new();
    for (i, link) in links {
        match owner.entry(link) {
            Entry::Occupied(o) => union(parent, i, *o.get()),
            Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
}

fn find(p: &mut [usize], mut i: usize) -> usize {
    while p[i] != i {
        p[i] = p[p[i]];
        i = p[i];
    }
    i
}

fn union(p: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(p, a), find(p, b));
    if ra != rb {
        // The smaller index becomes the root, so grouping does not depend on link order.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        p[hi] = lo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, sev: Severity, token: Option<&str>, ip: Option<&str>) -> Alert {
        let mut a = Alert::new("r", "t", sev);
        a.id = id.into();
        a.token_id = token.map(Into::into);
        a.client_ip = ip.map(Into::into);
        a
    }

    #[test]
    fn shared_tokens_join_and_low_ips_do_not() {
        let mut alerts = vec![
            alert("a", Severity::High, Some("T1"), Some("1.1.1.1")),
            alert("b", Severity::Low, Some("T1"), None),
            alert("c", Severity::Low, None, Some("1.1.1.1")),
            alert("d", Severity::High, None, Some("1.1.1.1")),
            alert("e", Severity::Medium, None, Some("1.1.1.1")),
        ];
        let inc = assign_incidents(&mut alerts);
        assert_eq!(inc.len(), 3);
        assert_eq!(alerts[0].incident_id, alerts[1].incident_id);
        assert_eq!(alerts[0].incident_id, alerts[3].incident_id);
        assert_ne!(alerts[0].incident_id, alerts[2].incident_id);
        assert_ne!(alerts[0].incident_id, alerts[4].incident_id);
        // Same members → same id, whatever the order.
        let mut rev: Vec<Alert> = alerts.iter().rev().cloned().collect();
        assign_incidents(&mut rev);
        assert_eq!(rev[4].incident_id, alerts[0].incident_id);
    }

    #[test]
    fn regression_alerts_on_one_record_split_into_three_incidents() {
        // The OTRF Golden SAML sample: one MailItemsAccessed record behind a high
        // app-takeover and two low leads, with no token or session id to link them.
        let mut alerts = vec![
            alert("takeover", Severity::High, None, Some("1.2.3.4")),
            alert("first-seen", Severity::Low, None, Some("1.2.3.4")),
            alert("unexpected-app", Severity::Low, None, Some("1.2.3.4")),
            alert("other", Severity::Low, None, Some("1.2.3.4")),
            alert("volume", Severity::Medium, None, None),
        ];
        alerts[0].record_ids = vec![AUDIT_1.into(), MAIL_1.into()];
        alerts[1].record_ids = vec![MAIL_1.into()];
        alerts[2].record_ids = vec![MAIL_1.into()];
        alerts[3].record_ids = vec![MAIL_2.into()];
        alerts[4].rule_id = "mailbox-volume-anomaly".into();
        alerts[4].record_ids = vec![MAIL_1.into(), MAIL_2.into()];
        let inc = assign_incidents(&mut alerts);
        assert_eq!(inc.len(), 3, "{inc:?}");
        assert_eq!(alerts[0].incident_id, alerts[1].incident_id);
        assert_eq!(alerts[0].incident_id, alerts[2].incident_id);
        // A low lead on another record stays apart (the IP links only high alerts), and an
        // aggregate rule's records chain nothing.
        assert_ne!(alerts[0].incident_id, alerts[3].incident_id);
        assert_ne!(alerts[0].incident_id, alerts[4].incident_id);
        assert_ne!(alerts[3].incident_id, alerts[4].incident_id);
        assert!(links(&alerts[1]).contains(&(RECORD, MAIL_1.into())));
        assert!(links(&alerts[4]).is_empty());
    }

    const AUDIT_1: &str = "0f3c2a10-1c53-403e-976f-ce0847a92b44";
    const MAIL_1: &str = "699e0b10-1c53-403e-976f-ce0847a92b44";
    const MAIL_2: &str = "7a1d0c22-1c53-403e-976f-ce0847a92b44";

    #[test]
    fn regression_windows_record_numbers_joined_two_hosts_incidents() {
        // EventRecordID 4126 in two hosts' EVTX files (the EVTX attack samples) is two events;
        // neither it nor a `path:line` origin links. A GUID record id does.
        let mut alerts = vec![
            alert("host-a", Severity::High, None, None),
            alert("host-b", Severity::High, None, None),
            alert("file-a", Severity::Low, None, None),
            alert("file-b", Severity::Low, None, None),
        ];
        alerts[0].record_ids = vec!["4126".into()];
        alerts[1].record_ids = vec!["4126".into()];
        alerts[2].record_ids = vec!["export.csv:12".into()];
        alerts[3].record_ids = vec!["export.csv:12".into()];
        assert_eq!(assign_incidents(&mut alerts).len(), 4);
        assert!(links(&alerts[0]).is_empty());
        alerts[0].record_ids.push(MAIL_1.into());
        alerts[1].record_ids.push(MAIL_1.into());
        assert_eq!(assign_incidents(&mut alerts).len(), 3);
    }

    #[test]
    fn regression_loopback_client_ip_joined_two_hosts_high_alerts() {
        // A local logon carries `IpAddress` 127.0.0.1 (or ::1) on every Windows host: two
        // hosts' high alerts were one incident through it. A real address still joins.
        let mut alerts = vec![
            alert("host-a", Severity::High, None, Some("127.0.0.1")),
            alert("host-b", Severity::High, None, Some("127.0.0.1")),
            alert("host-c", Severity::High, None, Some("::1")),
            alert("host-d", Severity::High, None, Some("::1")),
            alert("host-e", Severity::High, None, Some("::ffff:127.0.0.1")),
            alert("host-f", Severity::High, None, Some("0.0.0.0")),
            alert("host-g", Severity::High, None, Some("0.0.0.0")),
        ];
        assert_eq!(assign_incidents(&mut alerts).len(), 7);
        assert!(links(&alerts[4]).is_empty());
        alerts[5].client_ip = Some("203.0.113.7".into());
        alerts[6].client_ip = Some("203.0.113.7".into());
        assert_eq!(assign_incidents(&mut alerts).len(), 6);
        assert!(names_a_client("[2001:db8::1]:443"));
        assert!(!names_a_client("[::1]:443"));
        assert!(!names_a_client("127.0.0.1:49152"));
        assert!(names_a_client("ws1.corp.example"));
    }

    #[test]
    fn two_strong_rules_make_an_incident_critical() {
        let mut alerts = vec![
            alert("a", Severity::High, Some("T"), None),
            alert("b", Severity::High, Some("T"), None),
        ];
        alerts[1].rule_id = "ioc-ip".into();
        let inc = assign_incidents(&mut alerts);
        assert_eq!(inc[0].severity, Severity::Critical);
    }
}
