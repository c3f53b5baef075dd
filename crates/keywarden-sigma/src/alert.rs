//! Sigma matches as keywarden [`Alert`]s (the `alerts.jsonl` contract): `rule_id` is the Sigma
//! `id`, `severity` comes from `level`, `attack` from `attack.tNNNN[.NNN]` tags, `record_ids`
//! are the matched records, and the evidence carries the matched selections and fields.

use keywarden_model::{Alert, Event, Severity, Timestamp};
use rsigma_eval::{EvaluationResult, ResultBody, RuleHeader};
use rsigma_parser::Level;
use serde_json::{Map, Value as Json, json};

/// The alert for one detection match on `event` (routed to logsource target `target`).
pub fn detection_alert(result: &EvaluationResult, event: &Event<'_>, target: &str) -> Alert {
    let h = &result.header;
    let mut a = base(h);
    let f = &event.fields;
    a.time_first = f.time;
    a.time_last = f.time;
    a.tenant = f.tenant.as_deref().map(str::to_string);
    a.user = f.user.as_deref().map(str::to_string);
    a.mailbox = f
        .mailbox_owner
        .as_deref()
        .or(f.mailbox_guid.as_deref())
        .map(str::to_string);
    a.client_ip = f.client_ip.as_deref().map(str::to_string);
    a.app_id = f.app_id.as_deref().map(str::to_string);
    a.client_app_id = f.client_app_id.as_deref().map(str::to_string);
    a.session_id = f.session_id.as_deref().map(str::to_string);
    a.token_id = f.token_id.as_deref().map(str::to_string);
    let record = event.record_ref();
    a.id = format!("sigma:{}:{}", a.rule_id, record);
    a.record_ids.push(record);
    let mut ev = Map::new();
    ev.insert("engine".into(), json!("sigma"));
    ev.insert("logsource".into(), json!(target));
    if let Some(level) = h.level {
        ev.insert("level".into(), json!(level_name(level)));
    }
    ev.insert("tags".into(), json!(h.tags));
    ev.insert("source".into(), json!(event.origin.reference()));
    if let ResultBody::Detection(d) = &result.body {
        // Sorted: the evaluator's order of selections and fields varies from run to run, and
        // two runs over the same input must write the same alerts.
        let mut selections = d.matched_selections.clone();
        selections.sort();
        ev.insert("matched_selections".into(), json!(selections));
        let mut fields: Vec<(String, Json)> = d
            .matched_fields
            .iter()
            .map(|m| (m.field.to_string(), json!(m.value)))
            .collect();
        fields.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
        });
        let fields: Vec<Json> = fields
            .into_iter()
            .map(|(field, value)| json!({"field": field, "value": value}))
            .collect();
        ev.insert("matched_fields".into(), Json::Array(fields));
    }
    a.evidence = Json::Object(ev);
    a
}

/// The alert for one correlation firing. `refs` are `(unix seconds, record id)` of the
/// contributing events (as far as the engine kept them).
pub fn correlation_alert(result: &EvaluationResult, refs: &[(i64, String)]) -> Alert {
    let h = &result.header;
    let mut a = base(h);
    let mut ev = Map::new();
    ev.insert("engine".into(), json!("sigma"));
    if let Some(level) = h.level {
        ev.insert("level".into(), json!(level_name(level)));
    }
    ev.insert("tags".into(), json!(h.tags));
    if let ResultBody::Correlation(c) = &result.body {
        ev.insert("correlation_type".into(), json!(c.correlation_type));
        let group: Map<String, Json> = c
            .group_key
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        for (k, v) in &c.group_key {
            match k.to_ascii_lowercase().as_str() {
                "user" | "username" | "userprincipalname" | "userid" | "targetusername" => {
                    a.user.get_or_insert_with(|| v.to_ascii_lowercase());
                }
                "clientip" | "ipaddress" | "sourceip" | "client_ip" => {
                    a.client_ip.get_or_insert_with(|| v.clone());
                }
                _ => {}
            }
        }
        ev.insert("group".into(), Json::Object(group.clone()));
        ev.insert("aggregated_value".into(), json!(c.aggregated_value));
        ev.insert("timespan_secs".into(), json!(c.timespan_secs));
        let key: Vec<String> = c
            .group_key
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        a.id = format!("sigma:{}:{}", a.rule_id, key.join(","));
    }
    a.time_first = refs
        .iter()
        .map(|r| r.0)
        .min()
        .map(Timestamp::from_unix_seconds);
    a.time_last = refs
        .iter()
        .map(|r| r.0)
        .max()
        .map(Timestamp::from_unix_seconds);
    if let Some(t) = a.time_last {
        a.id = format!("{}@{}", a.id, t.unix_seconds());
    }
    a.record_ids = refs.iter().map(|r| r.1.clone()).collect();
    a.evidence = Json::Object(ev);
    a
}

/// The most sources an alert lists in `evidence.also_in` (the first by sort order); `copies`
/// counts them all.
pub const ALSO_IN_MAX: usize = 100;

/// Merges the copies of one alert: alerts with the same id **and** the same time, i.e. one
/// rule's match on one event that more than one input held (overlapping exports, one EVTX file
/// in two folders) or one correlation firing seen twice ([`merge_copy`]). Alerts with one id
/// but different times are different events (forged or damaged records): both are kept.
/// Returns how many were merged away.
pub fn merge_repeats(alerts: &mut Vec<Alert>) -> u64 {
    let mut first: std::collections::HashMap<(String, Option<Timestamp>), usize> =
        std::collections::HashMap::with_capacity(alerts.len());
    let mut kept: Vec<Alert> = Vec::with_capacity(alerts.len());
    let mut merged = 0;
    for a in alerts.drain(..) {
        let key = (a.id.clone(), a.time_first);
        match first.get(&key) {
            Some(&i) => {
                merged += 1;
                merge_copy(&mut kept[i], a);
            }
            None => {
                first.insert(key, kept.len());
                kept.push(a);
            }
        }
    }
    *alerts = kept;
    merged
}

/// True when `b` is a copy of `a` ([`merge_repeats`]): same id, same time.
pub fn is_copy(a: &Alert, b: &Alert) -> bool {
    a.id == b.id && a.time_first == b.time_first
}

/// Merges `copy` into `kept` (a copy of it: [`is_copy`]), whichever came first, so that `hunt`
/// and `serve` (which meets copies in arrival order) agree: the evidence is that of the copy
/// whose `source` sorts first, the other sources are listed sorted in `evidence.also_in` (at
/// most [`ALSO_IN_MAX`]), `evidence.copies` counts every copy (absent: one), records are the
/// union, `time_last` the latest.
pub fn merge_copy(kept: &mut Alert, mut copy: Alert) {
    let copy_first = matches!(
        (source_of(&copy.evidence), source_of(&kept.evidence)),
        (Some(c), Some(k)) if c < k
    );
    if copy_first {
        std::mem::swap(&mut kept.evidence, &mut copy.evidence);
    }
    kept.time_last = kept.time_last.max(copy.time_last);
    for r in copy.record_ids {
        if !kept.record_ids.contains(&r) {
            kept.record_ids.push(r);
        }
    }
    let (mut sources, copies_a) = sources_of(&kept.evidence);
    let (more, copies_b) = sources_of(&copy.evidence);
    sources.extend(more);
    sources.sort_unstable();
    sources.dedup();
    let Json::Object(ev) = &mut kept.evidence else {
        return;
    };
    ev.insert("copies".into(), json!(copies_a.saturating_add(copies_b)));
    let mut sources = sources.into_iter();
    if let Some(first) = sources.next() {
        ev.insert("source".into(), Json::String(first));
    }
    let also: Vec<Json> = sources.take(ALSO_IN_MAX).map(Json::String).collect();
    if !also.is_empty() {
        ev.insert("also_in".into(), Json::Array(also));
    }
}

/// A detection alert's `source` (file and position of the matched record).
fn source_of(evidence: &Json) -> Option<&str> {
    evidence.get("source").and_then(Json::as_str)
}

/// An alert's sources (`source` and `also_in`) and how many copies it stands for.
fn sources_of(evidence: &Json) -> (Vec<String>, u64) {
    let mut out: Vec<String> = source_of(evidence).map(str::to_owned).into_iter().collect();
    if let Some(Json::Array(also)) = evidence.get("also_in") {
        out.extend(also.iter().filter_map(Json::as_str).map(str::to_owned));
    }
    let copies = evidence.get("copies").and_then(Json::as_u64).unwrap_or(1);
    (out, copies)
}

fn base(h: &RuleHeader) -> Alert {
    let severity = h.level.map_or(Severity::Medium, severity_of);
    let rule_id = h
        .rule_id
        .clone()
        .unwrap_or_else(|| format!("sigma:{}", h.rule_title));
    let mut a = Alert::new(rule_id, h.rule_title.clone(), severity);
    a.score = score_of(severity);
    a.attack = attack_ids(&h.tags);
    a
}

/// `informational` is `info`; the other Sigma levels keep their names.
pub fn severity_of(level: Level) -> Severity {
    match level {
        Level::Informational => Severity::Info,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

/// The Sigma spelling of a level.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Informational => "informational",
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    }
}

fn score_of(s: Severity) -> f64 {
    match s {
        Severity::Info => 0.1,
        Severity::Low => 0.3,
        Severity::Medium => 0.5,
        Severity::High => 0.8,
        Severity::Critical => 1.0,
    }
}

/// ATT&CK technique ids from Sigma tags: `attack.t1059.001` -> `T1059.001`. Tactic names
/// (`attack.execution`), groups (`attack.g0016`) and software (`attack.s0002`) are not
/// techniques and are skipped.
pub fn attack_ids(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let Some(rest) = t.strip_prefix("attack.") else {
            continue;
        };
        let Some(num) = rest.strip_prefix(['t', 'T']) else {
            continue;
        };
        let (main, sub) = num.split_once('.').unwrap_or((num, ""));
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(main, 4) || !(sub.is_empty() || digits(sub, 3)) {
            continue;
        }
        let id = format!("T{}", num.to_ascii_uppercase());
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_become_technique_ids() {
        let tags: Vec<String> = [
            "attack.execution",
            "attack.t1059.001",
            "attack.T1550",
            "attack.g0016",
            "attack.t1059.001",
            "attack.t12",
            "cve.2023-36884",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(attack_ids(&tags), vec!["T1059.001", "T1550"]);
    }

    #[test]
    fn regression_one_record_in_two_files_gave_two_alerts_with_one_id() {
        // EVTX-ATTACK-SAMPLES holds UACME_59_Sysmon.evtx twice (top level and
        // `Privilege Escalation/`): one event, two alerts `sigma:3d7679bd-…:…/2164892`.
        let alert = |id: &str, source: &str, t: i64| {
            let mut a = Alert::new("r", "t", Severity::High);
            a.id = id.into();
            a.time_first = Some(Timestamp::from_unix_seconds(t));
            a.time_last = a.time_first;
            a.record_ids = vec![id.trim_start_matches("sigma:r:").into()];
            a.evidence = json!({"engine": "sigma", "source": source});
            a
        };
        let mut alerts = vec![
            alert("sigma:r:H/S/1", "a/x.evtx#7", 10),
            alert("sigma:r:H/S/2", "a/x.evtx#8", 11),
            alert("sigma:r:H/S/1", "b/x.evtx#7", 10),
            alert("sigma:r:H/S/1", "c/x.evtx#7", 10),
            alert("sigma:r:H/S/1", "a/x.evtx#7", 10),
            // One id at another time: another event (a forged or damaged record), kept.
            alert("sigma:r:H/S/1", "d/y.evtx#1", 99),
        ];
        assert_eq!(merge_repeats(&mut alerts), 3);
        assert_eq!(alerts.len(), 3);
        let a = &alerts[0];
        assert_eq!(a.id, "sigma:r:H/S/1");
        assert_eq!(a.record_ids, ["H/S/1"]);
        assert_eq!(a.time_first, Some(Timestamp::from_unix_seconds(10)));
        assert_eq!(a.evidence["source"], "a/x.evtx#7");
        assert_eq!(a.evidence["also_in"], json!(["b/x.evtx#7", "c/x.evtx#7"]));
        assert_eq!(a.evidence["copies"], 4);
        assert!(alerts[1].evidence.get("also_in").is_none());
        assert_eq!(alerts[2].evidence["source"], "d/y.evtx#1");

        // Met in another order (as `serve` meets them), the same alert.
        let mut rev = vec![
            alert("sigma:r:H/S/1", "c/x.evtx#7", 10),
            alert("sigma:r:H/S/1", "b/x.evtx#7", 10),
            alert("sigma:r:H/S/1", "a/x.evtx#7", 10),
            alert("sigma:r:H/S/1", "b/x.evtx#7", 10),
        ];
        rev[2].evidence["matched_fields"] = json!(["from a"]);
        merge_repeats(&mut rev);
        assert_eq!(rev.len(), 1);
        // The evidence is the first-sorting copy's, whatever came first.
        assert_eq!(rev[0].evidence["matched_fields"], json!(["from a"]));
        rev[0]
            .evidence
            .as_object_mut()
            .unwrap()
            .remove("matched_fields");
        assert_eq!(rev[0].evidence, a.evidence);
    }

    #[test]
    fn a_record_repeated_many_times_merges_in_linear_time_with_a_capped_list() {
        // One record re-shipped 20 000 times (quadratic before: 1.1 s in a debug build).
        let mut alerts: Vec<Alert> = (0..20_000)
            .map(|i| {
                let mut a = Alert::new("r", "t", Severity::Low);
                a.id = "sigma:r:x".into();
                a.time_first = Some(Timestamp::from_unix_seconds(1));
                a.evidence = json!({"source": format!("f{i:05}.jsonl:1")});
                a
            })
            .collect();
        assert_eq!(merge_repeats(&mut alerts), 19_999);
        assert_eq!(alerts[0].evidence["copies"], 20_000);
        assert_eq!(
            alerts[0].evidence["also_in"].as_array().map(Vec::len),
            Some(ALSO_IN_MAX)
        );
    }

    #[test]
    fn levels_map_to_severities() {
        assert_eq!(severity_of(Level::Informational), Severity::Info);
        assert_eq!(severity_of(Level::Critical), Severity::Critical);
        assert_eq!(level_name(Level::High), "high");
    }
}
