//! The linking values of a live alert: every token id, session id, client IP and user of the
//! records it covers, kept in its evidence as `token_ids`, `session_ids`, `client_ips` and
//! `users`, the lists `hunt`'s collection pass writes and `crate::assign_incidents`
//! reads. With them, live alerts chain into incidents exactly as `hunt`'s do (an `ioc-ip`
//! alert joins the forged-token alerts of every token used from that IP, not only the first).
//!
//! Each list is sorted, unique and capped at [`LINK_LIST_CAP`] values per alert, the cap `hunt`
//! applies: a value beyond it is kept only if it sorts before the largest kept one, so after
//! the same records the list is the same as `hunt`'s (the smallest values), whatever their
//! arrival order. The lists grow with every record folded into an alert, also past the cap of
//! record ids kept per alert, so linking by token, session and IP does not depend on
//! `max_records_per_alert` (linking by a shared record does: it goes through the record ids
//! the alert keeps).

use super::record::Record;
use serde_json::{Map, Value as Json};

/// Values kept per list per alert (`hunt`'s evidence list cap).
pub(crate) const LINK_LIST_CAP: usize = 100;

/// The evidence keys of the linking lists, in the order `hunt` writes them.
pub(crate) const LINK_KEYS: [&str; 4] = ["token_ids", "session_ids", "client_ips", "users"];

/// Adds the linking values of `row` to the lists in `evidence` (made an object if it is not);
/// `true` when a list gained a value.
pub(crate) fn add_row(evidence: &mut Json, row: &Record<'_>) -> bool {
    let values = [&row.token_id, &row.session_id, &row.client_ip, &row.user];
    let Some(obj) = object(evidence) else {
        return false;
    };
    let mut added = false;
    for (key, value) in LINK_KEYS.iter().zip(values) {
        if let Some(v) = value.as_deref() {
            added |= insert(obj, key, v);
        }
    }
    added
}

/// Merges the linking lists of `from` into `into` (both evidence objects); used when a finding
/// rewrites its alert's evidence, and when a pending token becomes an alert.
pub(crate) fn carry(from: &Json, into: &mut Json) {
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
/// values, as in `assign_incidents`); `true` when it was not there and is kept.
fn insert(obj: &mut Map<String, Json>, key: &str, v: &str) -> bool {
    if v.trim().is_empty() {
        return false;
    }
    let slot = obj.entry(key).or_insert_with(|| Json::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Json::Array(Vec::new());
    }
    let Some(list) = slot.as_array_mut() else {
        return false;
    };
    let at = list.binary_search_by(|x| x.as_str().unwrap_or_default().cmp(v));
    match at {
        Err(i) if i < LINK_LIST_CAP => {
            list.insert(i, Json::String(v.to_string()));
            list.truncate(LINK_LIST_CAP);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row<'a>(token: &'a str, session: &'a str, ip: &'a str, user: &'a str) -> Record<'a> {
        Record {
            token_id: Some(token),
            session_id: Some(session),
            client_ip: Some(ip),
            user: Some(user),
            ..Record::default()
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
}
