//! Small helpers shared by the shape modules.

use keywarden_model::{Event, Fields, Origin, SourceKind, Text, Timestamp, Value, non_empty};

use crate::format::Format;

/// The JSON kind of a value, for messages.
pub(crate) fn json_kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => "number",
        Value::Str(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// First non-empty text among `paths` (dotted paths allowed).
pub(crate) fn text<'a>(raw: &Value<'a>, paths: &[&str]) -> Option<Text<'a>> {
    paths.iter().find_map(|p| non_empty(raw.path(p)))
}

/// First parseable timestamp among `paths`.
pub(crate) fn time(raw: &Value<'_>, paths: &[&str]) -> Option<Timestamp> {
    paths
        .iter()
        .find_map(|p| raw.path(p).and_then(timestamp_of))
}

/// A timestamp as exports write it: any text [`Timestamp::parse`] reads; a .NET JSON date
/// `/Date(1688205600000)/` (Windows PowerShell 5's `ConvertTo-Json` of a `DateTime`); or the
/// object PowerShell 5 writes for a date that carries a display hint
/// (`{"value": "/Date(...)/", "DisplayHint": 2, "DateTime": "Saturday, July 1, 2023 ..."}`).
pub(crate) fn timestamp_of(v: &Value<'_>) -> Option<Timestamp> {
    match v {
        Value::Str(s) => Timestamp::parse(s).or_else(|| dotnet_json_date(s)),
        Value::Object(_) => v
            .get("value")
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse(s).or_else(|| dotnet_json_date(s))),
        _ => None,
    }
}

/// `/Date(ms)/` or `/Date(ms+hhmm)/`: milliseconds since the Unix epoch (UTC; the offset only
/// says how the writer's clock was set).
fn dotnet_json_date(s: &str) -> Option<Timestamp> {
    let inner = s.trim().strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(inner.len(), |(i, _)| i);
    let (ms, offset) = inner.split_at(digits_end);
    let offset_ok = offset.is_empty()
        || (offset.len() == 5
            && offset.starts_with(['+', '-'])
            && offset[1..].bytes().all(|b| b.is_ascii_digit()));
    if !offset_ok {
        return None;
    }
    let ms: i64 = ms.parse().ok()?;
    Some(Timestamp(ms.checked_mul(1000)?))
}

/// An event with the given fields.
pub(crate) fn event<'a>(
    source: SourceKind,
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
    fields: Fields<'a>,
) -> Event<'a> {
    Event {
        source,
        format: format.as_str(),
        origin,
        raw,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotnet_json_dates() {
        let t = |s: &str| timestamp_of(&Value::Str(s.to_string().into())).map(|t| t.to_string());
        assert_eq!(
            t("/Date(1688205600000)/").as_deref(),
            Some("2023-07-01T10:00:00Z")
        );
        assert_eq!(
            t("/Date(1688205600123+0200)/").as_deref(),
            Some("2023-07-01T10:00:00.123000Z")
        );
        assert_eq!(t("/Date(-1000)/").as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(t("/Date(abc)/"), None);
        assert_eq!(t("/Date(1+02)/"), None);
        assert_eq!(t("/Date(99999999999999999999)/"), None);
        let wrapped = Value::parse(
            r#"{"value":"/Date(1688205600000)/","DisplayHint":2,"DateTime":"Saturday, July 1, 2023 10:00:00 AM"}"#,
        )
        .unwrap();
        assert_eq!(
            timestamp_of(&wrapped).map(|t| t.to_string()).as_deref(),
            Some("2023-07-01T10:00:00Z")
        );
        assert_eq!(
            t("7/1/2023 10:00:00 AM").as_deref(),
            Some("2023-07-01T10:00:00Z")
        );
    }
}
