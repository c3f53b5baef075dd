//! The linking values of a live alert: every token id, session id, client IP and user of the
//! records it covers, kept in its evidence as `token_ids`, `session_ids`, `client_ips` and
//! `users`, the lists `hunt`'s collection pass writes and `keywarden_detect::assign_incidents`
//! reads. With them, live alerts chain into incidents exactly as `hunt`'s do (an `ioc-ip`
//! alert joins the forged-token alerts of every token used from that IP, not only the first).
//!
//! Each list is sorted, unique and capped at [`LINK_LIST_CAP`] values per alert, the cap `hunt`
//! applies: a value beyond it is kept only if it sorts before the largest kept one, so after
//! the same records the list is the same as `hunt`'s (the smallest values), whatever their
//! arrival order. The lists grow with every record folded into an alert, also past the cap of
//! record ids kept per alert, so linking does not depend on `max_records_per_alert`.

use keywarden_store::EventRow;
use serde_json::{Map, Value as Json};

/// Values kept per list per alert (`hunt`'s evidence list cap).
pub const LINK_LIST_CAP: usize = 100;

/// The evidence keys of the linking lists, in the order `hunt` writes them.
pub const LINK_KEYS: [&str; 4] = ["token_ids", "session_ids", "client_ips", "users"];

/// Adds the linking values of `row` to the lists in `evidence` (made an object if it is not).
pub fn add_row(evidence: &mut Json, row: &EventRow) {
    let values = [&row.token_id, &row.session_id, &row.client_ip, &row.user];
    let Some(obj) = object(evidence) else {
        return;
    };
    for (key, value) in LINK_KEYS.iter().zip(values) {
        if let Some(v) = value.as_deref() {
            insert(obj, key, v);
        }
    }
}

/// Merges the linking lists of `from` into `into` (both evidence objects); used when a finding
/// rewrites its alert's evidence, and when a pending token becomes an alert.
pub fn carry(from: &Json, into: &mut Json) {
    let Some(obj) = object(into) else {
        return;
    };
    for key in LINK_KEYS {
        let values = from.get(key).and_then(Json::as_array).into_iter().flatten();
        for v in values.filter_map(Json::as_str) {
            insert(obj, key, v);
        }
    }
}

/// The evidence as an object: `null` becomes an empty object; any other non-object value is
/// left alone (and gets no lists).
fn object(evidence: &mut Json) -> Option<&mut Map<String, Json>> {
    if evidence.is_null() {
        *evidence = Json::Object(Map::new());
    }
    evidence.as_object_mut()
}

/// Inserts `v` into the sorted, capped list `key` of `obj` (blank values are not linking
/// values, as in `assign_incidents`).
fn insert(obj: &mut Map<String, Json>, key: &str, v: &str) {
    if v.trim().is_empty() {
        return;
    }
    let slot = obj.entry(key).or_insert_with(|| Json::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Json::Array(Vec::new());
    }
    let Some(list) = slot.as_array_mut() else {
        return;
    };
    let at = list.binary_search_by(|x| x.as_str().unwrap_or_default().cmp(v));
    if let Err(i) = at
        && i < LINK_LIST_CAP
    {
        list.insert(i, Json::String(v.to_string()));
        list.truncate(LINK_LIST_CAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(token: &str, session: &str, ip: &str, user: &str) -> EventRow {
        let some = |s: &str| Some(s.to_string());
        EventRow {
            token_id: some(token),
            session_id: some(session),
            client_ip: some(ip),
            user: some(user),
            ..EventRow::default()
        }
    }

    #[test]
    fn lists_are_sorted_unique_and_skip_blanks() {
        let mut ev = json!({"ip": "1.2.3.4"});
        add_row(&mut ev, &row("T2", "S1", "9.9.9.9", "bob"));
        add_row(&mut ev, &row("T1", "S1", "1.1.1.1", "alice"));
        add_row(&mut ev, &row("T2", " ", "9.9.9.9", "alice"));
        assert_eq!(ev["ip"], "1.2.3.4");
        assert_eq!(ev["token_ids"], json!(["T1", "T2"]));
        assert_eq!(ev["session_ids"], json!(["S1"]));
        assert_eq!(ev["client_ips"], json!(["1.1.1.1", "9.9.9.9"]));
        assert_eq!(ev["users"], json!(["alice", "bob"]));
    }

    #[test]
    fn the_cap_keeps_the_smallest_values_whatever_the_order() {
        let n = LINK_LIST_CAP + 50;
        let values: Vec<String> = (0..n).map(|i| format!("T{i:04}")).collect();
        let mut up = Json::Null;
        let mut down = Json::Null;
        for v in &values {
            add_row(&mut up, &row(v, "", "", ""));
        }
        for v in values.iter().rev() {
            add_row(&mut down, &row(v, "", "", ""));
        }
        let want: Vec<&String> = values.iter().take(LINK_LIST_CAP).collect();
        assert_eq!(up["token_ids"], json!(want));
        assert_eq!(down["token_ids"], json!(want));
        assert!(up.get("session_ids").is_none());
    }

    #[test]
    fn carry_merges_into_rewritten_evidence() {
        let mut old = Json::Null;
        add_row(&mut old, &row("T1", "S1", "1.1.1.1", "alice"));
        let mut new = json!({"operations": 3});
        add_row(&mut new, &row("T0", "S1", "2.2.2.2", "alice"));
        carry(&old, &mut new);
        assert_eq!(new["operations"], 3);
        assert_eq!(new["token_ids"], json!(["T0", "T1"]));
        assert_eq!(new["client_ips"], json!(["1.1.1.1", "2.2.2.2"]));
        // A non-object evidence is left as it is.
        let mut text = json!("x");
        carry(&old, &mut text);
        add_row(&mut text, &row("T", "S", "I", "U"));
        assert_eq!(text, json!("x"));
    }

    // --- In the detector ------------------------------------------------------------------

    use crate::live::{LiveDetector, LiveLimits, LiveState};
    use keywarden_detect::assign_incidents;
    use keywarden_model::{Alert, Timestamp};

    const MIN: i64 = 60_000_000;
    const CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    fn detector(limits: LiveLimits, state: LiveState) -> LiveDetector {
        LiveDetector::new(crate::live::tests::settings(), limits, state)
    }

    fn access(token: &str, session: &str, ip: &str, minute: i64) -> EventRow {
        EventRow {
            role: "mail-access".into(),
            tenant: Some("t1".into()),
            user: Some("alice".into()),
            time: Some(1_689_000_000_000_000 + minute * MIN),
            record_ref: format!("r-{token}-{minute}"),
            client_app_id: Some("d3590ed6-52b3-4102-aeff-aad2292ab01c".into()),
            ..row(token, session, ip, "alice")
        }
    }

    fn sign_in(token: &str, minute: i64) -> EventRow {
        EventRow {
            role: "sign-in".into(),
            format: "signin-graph".into(),
            record_ref: format!("s-{token}-{minute}"),
            ..access(token, "", "", minute)
        }
    }

    fn feed(d: &mut LiveDetector, rows: Vec<EventRow>, now_min: i64) -> Vec<Alert> {
        let start = d.state().last_event;
        let batch: Vec<(i64, EventRow)> = (start + 1..).zip(rows).collect();
        d.process(&batch, Timestamp(1_700_000_000_000_000 + now_min * MIN))
    }

    #[test]
    fn an_alert_links_every_records_values_past_the_record_cap() {
        let limits = LiveLimits {
            max_records_per_alert: 1,
            ..LiveLimits::default()
        };
        let mut d = detector(limits, LiveState::default());
        let mut rows = vec![
            access("T2", "S2", "2.2.2.2", 1),
            access("T1", "S1", "1.1.1.1", 0),
        ];
        for r in &mut rows {
            r.token_tenant = Some(CONSUMER.into());
        }
        let a = feed(&mut d, rows, 0);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].rule_id, "consumer-tenant-token");
        assert_eq!(a[0].record_ids.len(), 1);
        assert_eq!(
            a[0].token_id.as_deref(),
            Some("T2"),
            "entities: first record"
        );
        assert_eq!(a[0].evidence["token_ids"], json!(["T1", "T2"]));
        assert_eq!(a[0].evidence["session_ids"], json!(["S1", "S2"]));
        assert_eq!(a[0].evidence["client_ips"], json!(["1.1.1.1", "2.2.2.2"]));
        assert_eq!(a[0].evidence["users"], json!(["alice"]));
        assert_eq!(a[0].evidence["record_ids_truncated_at"], 1);
    }

    #[test]
    fn a_pending_tokens_links_survive_a_restart_and_chain_its_alert() {
        let mut d = detector(LiveLimits::default(), LiveState::default());
        feed(&mut d, vec![sign_in("good", 0)], 0);
        // Token F is used from two sessions and IPs, then the server restarts.
        let uses = vec![
            access("F", "S1", "1.1.1.1", 200),
            access("F", "S2", "2.2.2.2", 201),
        ];
        assert!(feed(&mut d, uses, 1).is_empty());
        let saved = d.save_json().unwrap();
        let state: LiveState = serde_json::from_str(&saved).unwrap();
        let mut d = detector(LiveLimits::default(), state);
        assert_eq!(d.pending(), 1);
        // Coverage reaches past the lag tolerance: F is judged forged.
        let forged = feed(&mut d, vec![sign_in("other", 240)], 2);
        assert_eq!(forged.len(), 1);
        assert_eq!(forged[0].rule_id, "token-never-issued");
        assert_eq!(forged[0].session_id.as_deref(), Some("S1"));
        assert_eq!(forged[0].evidence["session_ids"], json!(["S1", "S2"]));
        assert_eq!(
            forged[0].evidence["client_ips"],
            json!(["1.1.1.1", "2.2.2.2"])
        );
        // An alert reaching only the second session joins its incident through the list.
        let mut other = Alert::new("consumer-tenant-token", "t", forged[0].severity);
        other.id = "other".into();
        other.session_id = Some("S2".into());
        let mut all = vec![forged[0].clone(), other];
        assert_eq!(assign_incidents(&mut all).len(), 1);
    }
}
