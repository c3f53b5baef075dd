//! HTTP access log records: text lines (already keyed by the Sigma webserver taxonomy by
//! `container::http_text`) and JSON lines (nginx `log_format ... escape=json` style with
//! `remote_addr`, `request`, `status`, `http_user_agent`, `time_local`/`time_iso8601`, or
//! ECS-like `source.ip`, `http.request.method`, `url.original`, `user_agent.original`).
//!
//! JSON records get the taxonomy keys added (when absent) from their own names, so that Sigma
//! webserver rules and [`Fields`] read one vocabulary whatever the export; the original keys stay.

use std::borrow::Cow;

use keywarden_model::{Event, Fields, Object, Origin, SourceKind, Value, ascii_fold};

use super::common::{event, text, time};
use crate::container::http_text::{insert_request, parse_clf_date};
use crate::format::Format;
use crate::reject::RejectReason;

/// Taxonomy key ← the names JSON access logs use for it (dotted paths reach nested ECS
/// objects), first present wins.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "c-ip",
        &[
            "remote_addr",
            "source.ip",
            "client.ip",
            "client.address",
            "clientip",
            "client_ip",
        ],
    ),
    ("cs-username", &["remote_user", "user.name", "url.username"]),
    (
        "cs-method",
        &["request_method", "http.request.method", "method"],
    ),
    ("cs-uri", &["request_uri", "url.original"]),
    ("cs-uri-stem", &["url.path", "uri"]),
    ("cs-uri-query", &["args", "query_string", "url.query"]),
    ("cs-version", &["server_protocol", "http.version"]),
    (
        "sc-status",
        &["status", "http.response.status_code", "status_code"],
    ),
    (
        "sc-bytes",
        &[
            "body_bytes_sent",
            "bytes_sent",
            "http.response.body.bytes",
            "http.response.bytes",
        ],
    ),
    (
        "cs-referer",
        &[
            "http_referer",
            "http.request.referrer",
            "referrer",
            "referer",
        ],
    ),
    (
        "cs-user-agent",
        &[
            "http_user_agent",
            "user_agent.original",
            "user_agent",
            "agent",
        ],
    ),
    (
        "cs-host",
        &["host", "http_host", "server_name", "url.domain"],
    ),
    ("date", &["time_local"]),
];

/// Normalises one access-log record (JSON, or a parsed text line).
pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    // Text lines are keyed by the taxonomy already; JSON records get its keys added.
    let raw = if format == Format::HttpCombined {
        raw
    } else {
        add_taxonomy_keys(raw)
    };
    let fields = Fields {
        time: text(&raw, &["date"])
            .and_then(|d| parse_clf_date(&d))
            .or_else(|| time(&raw, &["time_iso8601", "@timestamp", "timestamp", "time"])),
        record_id: text(&raw, &["request_id", "http.request.id", "id"]),
        user: text(&raw, &["cs-username"]).map(ascii_fold),
        client_ip: text(&raw, &["c-ip"]),
        operation: text(&raw, &["cs-method"]),
        result: text(&raw, &["sc-status"]),
        user_agent: text(&raw, &["cs-user-agent"]),
        ..Fields::default()
    };
    Ok(event(SourceKind::HttpAccess, format, raw, origin, fields))
}

/// Adds each missing taxonomy key from its first present alias; a JSON `request` line fills
/// `cs-method`, `cs-uri`... when they are still missing.
fn add_taxonomy_keys(raw: Value<'_>) -> Value<'_> {
    let Value::Object(mut o) = raw else {
        return raw;
    };
    let mut added = Object::default();
    {
        let view = Value::Object(std::mem::take(&mut o));
        for (key, aliases) in ALIASES {
            if view.get(key).is_some() {
                continue;
            }
            if let Some(v) = aliases
                .iter()
                .find_map(|a| view.path(a).filter(|v| is_value(v)))
            {
                added.insert(*key, v.clone());
            }
        }
        if view.get("cs-method").is_none()
            && added.get("cs-method").is_none()
            && let Some(Value::Str(req)) = view.get("request")
        {
            let mut parts = Object::default();
            insert_request(&mut parts, req.clone());
            for (k, v) in parts.0 {
                if k != "request" && view.get(&k).is_none() && added.get(&k).is_none() {
                    added.0.push((k, v));
                }
            }
        }
        if let Value::Object(back) = view {
            o = back;
        }
    }
    if added.get("cs-uri").is_none()
        && o.get("cs-uri").is_none()
        && let Some(Value::Str(stem)) = added.get("cs-uri-stem").or_else(|| o.get("cs-uri-stem"))
    {
        let query = added
            .get("cs-uri-query")
            .or_else(|| o.get("cs-uri-query"))
            .and_then(Value::as_str)
            .filter(|q| !q.is_empty());
        let uri = match query {
            Some(q) => Cow::Owned(format!("{stem}?{q}")),
            None => stem.clone(),
        };
        added.insert("cs-uri", Value::Str(uri));
    }
    o.0.extend(added.0);
    Value::Object(o)
}

/// A scalar that says something (`-` and `""` are how access logs write "nothing").
fn is_value(v: &Value<'_>) -> bool {
    match v {
        Value::Str(s) => !s.trim().is_empty() && s != "-",
        Value::Null | Value::Array(_) | Value::Object(_) => false,
        _ => true,
    }
}

/// True for a JSON record that is an access-log entry (nginx or ECS-like names).
pub(crate) fn looks_like_http_json(o: &Object<'_>) -> bool {
    let has = |path: &str| match path.split_once('.') {
        None => o.get(path).is_some(),
        Some((head, rest)) => {
            o.get(path).is_some() || o.get(head).is_some_and(|v| v.path(rest).is_some())
        }
    };
    let nginx = has("remote_addr") && (has("status") || has("request"));
    let ecs = (has("http.request.method") || has("url.original"))
        && (has("source.ip") || has("client.ip") || has("http.response.status_code"));
    let taxonomy = has("c-ip") && (has("cs-method") || has("sc-status"));
    nginx || ecs || taxonomy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "h.jsonl",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    #[test]
    fn nginx_json_gets_taxonomy_keys() {
        let text = r#"{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"192.0.2.7",
            "remote_user":"-","request":"POST /owa/auth.owa?x=1 HTTP/1.1","status":"302",
            "body_bytes_sent":"0","http_referer":"","http_user_agent":"curl/8.1"}"#;
        let raw = Value::parse(text).unwrap();
        assert!(looks_like_http_json(raw.as_object().unwrap()));
        let ev = normalise(Format::HttpJson, raw, origin()).unwrap();
        assert_eq!(ev.get("cs-method").and_then(Value::as_str), Some("POST"));
        assert_eq!(
            ev.get("cs-uri-stem").and_then(Value::as_str),
            Some("/owa/auth.owa")
        );
        assert_eq!(ev.get("cs-uri-query").and_then(Value::as_str), Some("x=1"));
        let f = &ev.fields;
        assert_eq!(f.client_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(f.result.as_deref(), Some("302"));
        assert_eq!(f.operation.as_deref(), Some("POST"));
        assert_eq!(f.user_agent.as_deref(), Some("curl/8.1"));
        assert_eq!(f.time.unwrap().to_string(), "2000-10-10T20:55:36Z");
    }

    #[test]
    fn ecs_json_gets_taxonomy_keys() {
        let text = r#"{"@timestamp":"2024-01-02T03:04:05Z","source":{"ip":"2001:db8::1"},
            "http":{"request":{"method":"GET"},"response":{"status_code":200}},
            "url":{"path":"/api","query":"a=b"},"user_agent":{"original":"UA"}}"#;
        let raw = Value::parse(text).unwrap();
        assert!(looks_like_http_json(raw.as_object().unwrap()));
        let ev = normalise(Format::HttpJson, raw, origin()).unwrap();
        assert_eq!(ev.get("cs-uri").and_then(Value::as_str), Some("/api?a=b"));
        assert_eq!(ev.fields.result.as_deref(), Some("200"));
        assert_eq!(ev.fields.user_agent.as_deref(), Some("UA"));
        assert_eq!(ev.fields.client_ip.as_deref(), Some("2001:db8::1"));
    }
}
