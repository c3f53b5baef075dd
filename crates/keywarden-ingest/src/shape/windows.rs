//! Windows event records: EVTX records rendered as JSON (`{"Event": {"System": ...,
//! "EventData": ...}}`, from `container::evtx` or `evtx_dump` JSON lines), Winlogbeat documents
//! (`winlog.*`) and flat exported rows (Sentinel `SecurityEvent` / `Event`).
//!
//! Every shape is flattened to the field names Sigma rules for Windows use (as Chainsaw, Zircolite
//! and rsigma do), added at the top level of `raw` next to the original keys:
//!
//! | top-level key | EVTX JSON | Winlogbeat |
//! |---|---|---|
//! | `EventID` | `Event.System.EventID` (or its `#text`) | `winlog.event_id` |
//! | `Channel` | `Event.System.Channel` | `winlog.channel` |
//! | `Provider_Name` | `Event.System.Provider.#attributes.Name` | `winlog.provider_name` |
//! | `Provider_Guid` | `Event.System.Provider.#attributes.Guid` | `winlog.provider_guid` |
//! | `Computer` | `Event.System.Computer` | `winlog.computer_name` |
//! | `TimeCreated` | `Event.System.TimeCreated.#attributes.SystemTime` | `@timestamp` |
//! | `EventRecordID` | `Event.System.EventRecordID` | `winlog.record_id` |
//! | `Level`, `Task`, `Opcode`, `Keywords`, `Version` | `Event.System.*` | - |
//! | `Execution_ProcessID`, `Execution_ThreadID` | `Event.System.Execution.#attributes.*` | `winlog.process.pid` |
//! | `Security_UserID` | `Event.System.Security.#attributes.UserID` | `winlog.user.identifier` |
//! | every named data field | `Event.EventData.<Name>`, `Event.UserData.<Element>.<Name>` | `winlog.event_data.<Name>` |
//!
//! A data field whose name is already taken at the top level is added as `EventData_<Name>`.
//! Flat rows keep their keys; `Provider_Name` comes from `EventSourceName`/`Source`, `Channel`
//! from `EventLog` and `TimeCreated` from `TimeGenerated` when missing.

use std::borrow::Cow;

use keywarden_model::{
    Event, Fields, Object, Origin, SourceKind, Text, Timestamp, Value, ascii_fold,
};

use super::common::{event, text, time};
use crate::format::Format;
use crate::reject::RejectReason;

/// Normalises one Windows event record (any of the shapes above).
pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    let raw = flatten(raw);
    let fields = fields(&raw);
    Ok(event(SourceKind::WindowsEvent, format, raw, origin, fields))
}

/// Fields from a flattened record.
fn fields<'a>(raw: &Value<'a>) -> Fields<'a> {
    let meaningful = |paths: &[&str]| {
        paths
            .iter()
            .find_map(|p| text(raw, &[p]).filter(|t| t.trim() != "-"))
    };
    let time = time(
        raw,
        &["TimeCreated", "TimeGenerated", "@timestamp", "UtcTime"],
    );
    Fields {
        time,
        record_id: record_id(raw, time),
        user: meaningful(&["TargetUserName", "SubjectUserName", "UserName", "User"])
            .map(ascii_fold),
        client_ip: meaningful(&["IpAddress"]),
        operation: text(raw, &["EventID"]),
        category: text(raw, &["Channel"]),
        ..Fields::default()
    }
}

/// The record's id. `EventRecordID` counts per channel on one computer and starts again at 1
/// when a log is cleared, so two hosts (or two channels, or one channel before and after a
/// clear) reuse the same numbers: `Computer/Channel/EventRecordID@TimeCreated` (`-` for a
/// part the record lacks, no `@…` without a time) names one event, and a copy of it (the same
/// file in two folders, overlapping exports) the same one. Regressions: two hosts' record 77
/// had one Sigma alert id (`serve` kept one of the two alerts); in EVTX-ATTACK-SAMPLES 19
/// `Computer/Channel/EventRecordID` triples are held by two different events.
/// Sentinel's `EventOriginId`, a GUID, names one record as it is.
fn record_id<'a>(raw: &Value<'a>, time: Option<Timestamp>) -> Option<Text<'a>> {
    let Some(number) = text(raw, &["EventRecordID"]) else {
        return text(raw, &["EventOriginId"]);
    };
    let computer = text(raw, &["Computer"]);
    let channel = text(raw, &["Channel"]);
    let mut id = format!(
        "{}/{}/{number}",
        computer.as_deref().unwrap_or("-"),
        channel.as_deref().unwrap_or("-"),
    );
    if let Some(t) = time {
        id.push('@');
        id.push_str(&t.to_string());
    }
    Some(Cow::Owned(id))
}

/// Adds the Sigma field names at the top level (see the module documentation).
pub(crate) fn flatten(raw: Value<'_>) -> Value<'_> {
    let Value::Object(o) = raw else { return raw };
    let mut flat = Object::default();
    if let Some(ev) = o.get("Event").filter(|e| e.get("System").is_some()) {
        from_evtx_json(ev, &mut flat);
    } else if let Some(w) = o.get("winlog").filter(|w| w.as_object().is_some()) {
        from_winlogbeat(w, o.get("@timestamp"), &mut flat);
    } else {
        for (key, aliases) in [
            ("Provider_Name", &["EventSourceName", "Source"][..]),
            ("Channel", &["EventLog"][..]),
            ("TimeCreated", &["TimeGenerated"][..]),
        ] {
            if o.get(key).is_none()
                && let Some(v) = aliases.iter().find_map(|a| o.get(a))
            {
                flat.insert(key, v.clone());
            }
        }
    }
    // Original keys win over flattened ones of the same name.
    let mut out = Object(Vec::with_capacity(flat.len() + o.len()));
    for (k, v) in flat.0 {
        if o.get(&k).is_none() {
            out.0.push((k, v));
        }
    }
    out.0.extend(o.0);
    Value::Object(out)
}

/// `{"Event": {"System": ..., "EventData"/"UserData": ...}}` as the `evtx` crate renders it.
fn from_evtx_json<'a>(ev: &Value<'a>, flat: &mut Object<'a>) {
    let sys = ev.get("System").unwrap_or(&Value::Null);
    let simple = [
        "EventID",
        "Version",
        "Level",
        "Task",
        "Opcode",
        "Keywords",
        "EventRecordID",
        "Channel",
        "Computer",
    ];
    for key in simple {
        if let Some(v) = sys.get(key).and_then(text_node) {
            flat.insert(key, v.clone());
        }
    }
    if let Some(q) = attr(sys, "EventID", "Qualifiers") {
        flat.insert("EventID_Qualifiers", q.clone());
    }
    let attrs = [
        ("Provider", "Name", "Provider_Name"),
        ("Provider", "Guid", "Provider_Guid"),
        ("Provider", "EventSourceName", "Provider_EventSourceName"),
        ("TimeCreated", "SystemTime", "TimeCreated"),
        ("Execution", "ProcessID", "Execution_ProcessID"),
        ("Execution", "ThreadID", "Execution_ThreadID"),
        ("Security", "UserID", "Security_UserID"),
        ("Correlation", "ActivityID", "Correlation_ActivityID"),
    ];
    for (element, name, key) in attrs {
        if let Some(v) = attr(sys, element, name) {
            flat.insert(key, v.clone());
        }
    }
    if let Some(Value::Object(data)) = ev.get("EventData") {
        add_data(data, flat);
    }
    if let Some(Value::Object(user_data)) = ev.get("UserData") {
        for (k, v) in &user_data.0 {
            match v {
                Value::Object(inner) => add_data(inner, flat),
                other if !k.starts_with('#') => add_field(k, other, flat),
                _ => {}
            }
        }
    }
}

/// Winlogbeat's `winlog` object.
fn from_winlogbeat<'a>(w: &Value<'a>, timestamp: Option<&Value<'a>>, flat: &mut Object<'a>) {
    let map = [
        ("EventID", "event_id"),
        ("Channel", "channel"),
        ("Provider_Name", "provider_name"),
        ("Provider_Guid", "provider_guid"),
        ("Computer", "computer_name"),
        ("EventRecordID", "record_id"),
        ("Task", "task"),
        ("Opcode", "opcode"),
        ("Execution_ProcessID", "process.pid"),
        ("Execution_ThreadID", "process.thread.id"),
        ("Security_UserID", "user.identifier"),
    ];
    for (key, path) in map {
        if let Some(v) = w.path(path) {
            flat.insert(key, v.clone());
        }
    }
    if let Some(t) = timestamp {
        flat.insert("TimeCreated", t.clone());
    }
    for section in ["event_data", "user_data"] {
        if let Some(Value::Object(data)) = w.get(section) {
            add_data(data, flat);
        }
    }
}

/// Adds the named members of an `EventData`-like object.
fn add_data<'a>(data: &Object<'a>, flat: &mut Object<'a>) {
    for (k, v) in &data.0 {
        if k.starts_with('#') {
            continue;
        }
        add_field(k, v, flat);
    }
}

fn add_field<'a>(key: &Text<'a>, v: &Value<'a>, flat: &mut Object<'a>) {
    let v = text_node(v).unwrap_or(v).clone();
    let key: Text<'a> = if flat.get(key).is_some() {
        Cow::Owned(format!("EventData_{key}"))
    } else {
        key.clone()
    };
    flat.0.push((key, v));
}

/// The content of an element: the value itself, or its `#text` when it also has attributes.
fn text_node<'v, 'a>(v: &'v Value<'a>) -> Option<&'v Value<'a>> {
    match v {
        Value::Object(o) if o.get("#attributes").is_some() => o.get("#text"),
        Value::Null => None,
        other => Some(other),
    }
}

/// `element.#attributes.name` (or `element_attributes.name` when attributes were rendered
/// separately).
fn attr<'v, 'a>(sys: &'v Value<'a>, element: &str, name: &str) -> Option<&'v Value<'a>> {
    sys.get(element)
        .and_then(|e| e.get("#attributes"))
        .and_then(|a| a.get(name))
        .or_else(|| {
            let o = sys.as_object()?;
            let (_, a) = o
                .iter()
                .find(|(k, _)| k.strip_suffix("_attributes") == Some(element))?;
            a.get(name)
        })
        .filter(|v| !v.is_null())
}

/// True for a JSON record that is a Windows event (flat row, EVTX JSON or Winlogbeat).
pub(crate) fn looks_like_windows_json(o: &Object<'_>) -> bool {
    (o.get("EventID").is_some() && (o.get("Channel").is_some() || o.get("Computer").is_some()))
        || o.get("Event").is_some_and(|e| e.get("System").is_some())
        || o.get("winlog").is_some_and(|w| w.get("event_id").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evtx_json_is_flattened() {
        let text = r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{
            "Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{g}"}},
            "EventID":{"#attributes":{"Qualifiers":0},"#text":4624},"Channel":"Security",
            "Computer":"DC01","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:24.868519Z"}},
            "EventRecordID":77,"Security":null},
            "EventData":{"TargetUserName":"Bob","IpAddress":"10.0.0.5","Channel":"dup"}}}"##;
        let raw = flatten(Value::parse(text).unwrap());
        assert_eq!(raw.get("EventID"), Some(&Value::Int(4624)));
        assert_eq!(
            raw.get("Provider_Name").and_then(Value::as_str),
            Some("Microsoft-Windows-Security-Auditing")
        );
        assert_eq!(
            raw.get("EventData_Channel").and_then(Value::as_str),
            Some("dup")
        );
        assert!(raw.path("Event.System.Computer").is_some());
        let f = fields(&raw);
        assert_eq!(f.user.as_deref(), Some("bob"));
        assert_eq!(f.client_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(f.operation.as_deref(), Some("4624"));
        assert_eq!(
            f.record_id.as_deref(),
            Some("DC01/Security/77@2019-03-19T23:34:24.868519Z")
        );
        assert_eq!(f.time.unwrap().to_string(), "2019-03-19T23:34:24.868519Z");
    }

    #[test]
    fn winlogbeat_is_flattened() {
        let text = r#"{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"event_id":4625,
            "channel":"Security","computer_name":"WS1","record_id":9,
            "event_data":{"SubjectUserName":"-","TargetUserName":"-","IpAddress":"-"}}}"#;
        let raw = Value::parse(text).unwrap();
        assert!(looks_like_windows_json(raw.as_object().unwrap()));
        let raw = flatten(raw);
        let f = fields(&raw);
        assert_eq!(f.operation.as_deref(), Some("4625"));
        assert_eq!(f.user, None);
        assert_eq!(f.client_ip, None);
        assert_eq!(f.category.as_deref(), Some("Security"));
        assert_eq!(
            f.record_id.as_deref(),
            Some("WS1/Security/9@2024-01-01T00:00:00Z")
        );
    }

    #[test]
    fn regression_windows_record_ids_collided_across_hosts() {
        let id = |text: &str| {
            let raw = flatten(Value::parse(text).unwrap());
            fields(&raw).record_id.map(|t| t.into_owned())
        };
        let ws1 =
            id(r#"{"EventID":4625,"Channel":"Security","Computer":"WS1","EventRecordID":77}"#);
        let ws2 =
            id(r#"{"EventID":4625,"Channel":"Security","Computer":"WS2","EventRecordID":77}"#);
        let sysmon = id(
            r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS1","EventRecordID":77}"#,
        );
        assert_eq!(ws1.as_deref(), Some("WS1/Security/77"));
        assert_ne!(ws1, ws2);
        assert_ne!(ws1, sysmon);
        // The same number on the same host and channel at another time (the log was cleared
        // in between) is another event.
        let earlier = id(
            r#"{"EventID":4625,"Channel":"Security","Computer":"WS1","EventRecordID":77,"TimeCreated":"2024-03-01T10:00:00Z"}"#,
        );
        let later = id(
            r#"{"EventID":4625,"Channel":"Security","Computer":"WS1","EventRecordID":77,"TimeCreated":"2024-03-05T10:00:00Z"}"#,
        );
        assert_eq!(
            earlier.as_deref(),
            Some("WS1/Security/77@2024-03-01T10:00:00Z")
        );
        assert_ne!(earlier, later);
        // A part the record lacks is `-`; a Sentinel row's EventOriginId stays as it is.
        assert_eq!(
            id(r#"{"EventID":4625,"Computer":"WS1","EventRecordID":5}"#).as_deref(),
            Some("WS1/-/5")
        );
        assert_eq!(
            id(r#"{"EventID":4625,"Computer":"WS1","EventOriginId":"0a1b2c3d-0000-4000-8000-000000000001"}"#).as_deref(),
            Some("0a1b2c3d-0000-4000-8000-000000000001")
        );
    }
}
