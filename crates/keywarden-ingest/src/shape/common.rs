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
    paths.iter().find_map(|p| {
        raw.path(p)
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
    })
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
