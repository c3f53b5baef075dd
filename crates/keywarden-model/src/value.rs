//! A JSON value that borrows from its input where it can.
//!
//! `serde_json::Value` allocates a `String` for every key and every string and a `BTreeMap` for
//! every object. Most log records are read once, inspected for a few fields and dropped, so
//! [`Value`] keeps strings as `Cow<'a, str>` (borrowed unless the JSON text contained escapes)
//! and objects as a vector of pairs in document order (typical audit objects have a handful of
//! keys, where a linear scan beats hashing).
//!
//! Parsing uses a byte-level parser (`value_parse`) that accepts exactly what `serde_json`
//! accepts and builds the same value; `serde_json`'s deserializer ([`Value::parse_reference`])
//! stays the reference: any text the fast parser declines is re-parsed by it, so its recursion
//! limit (128 levels), its strictness (no trailing commas, no comments, valid UTF-8, valid
//! escapes, paired surrogates) and its error messages, lines and columns apply unchanged.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A parsed JSON value; strings and keys borrow from the source text where possible.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
}

/// A JSON object: key/value pairs in document order. Duplicate keys are kept; lookups return
/// the first occurrence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

/// Why a text could not be parsed as JSON.
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON at line {line} column {column}: {message}")]
#[non_exhaustive]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> Self {
        let full = e.to_string();
        // serde_json appends " at line L column C"; keep only the message part.
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_string(),
            None => full,
        };
        JsonError {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}

impl<'a> Value<'a> {
    /// Parses one complete JSON text (surrounding whitespace allowed, nothing else).
    pub fn parse(text: &'a str) -> Result<Value<'a>, JsonError> {
        match crate::value_parse::parse(text) {
            Some(v) => Ok(v),
            None => Value::parse_reference(text),
        }
    }

    /// [`Value::parse`] through `serde_json`'s deserializer: the reference the fast parser is
    /// tested against, and the path that produces every [`JsonError`].
    pub fn parse_reference(text: &'a str) -> Result<Value<'a>, JsonError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Value::deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }

    /// Parses JSON held in an owned or short-lived string into a value that owns its strings.
    pub fn parse_owned(text: &str) -> Result<Value<'static>, JsonError> {
        Value::parse(text).map(Value::into_owned)
    }

    /// Converts every borrowed string into an owned one.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::UInt(u) => Value::UInt(u),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(o.into_owned()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a JSON string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is a JSON object.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// An integer value; strings holding a decimal integer count too (exports disagree on
    /// whether `RecordType` is `50` or `"50"`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::UInt(u) => i64::try_from(*u).ok(),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean; the strings `true`/`false` (any case) count too.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// A scalar rendered as text: strings as they are, numbers and booleans in decimal.
    pub fn to_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::UInt(u) => Some(Cow::Owned(u.to_string())),
            Value::Float(f) => Some(Cow::Owned(f.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// Member `key` of an object (exact, case-sensitive), or `None`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// Dotted-path lookup: `AppAccessContext.UniqueTokenId`, `Folders.0.Path`. A segment that
    /// is a number indexes an array. If the whole path (dots included) is itself a key of the
    /// current object, that key wins, so flattened names such as `properties.appId` also work.
    pub fn path(&self, path: &str) -> Option<&Value<'a>> {
        if let Some(o) = self.as_object()
            && let Some(v) = o.get(path)
        {
            return Some(v);
        }
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let next = match self {
            Value::Object(o) => o.get(head)?,
            Value::Array(a) => a.get(head.parse::<usize>().ok()?)?,
            _ => return None,
        };
        match rest {
            Some(r) => next.path(r),
            None => Some(next),
        }
    }

    /// Calls `visit` on every string anywhere in the value (not keys).
    pub fn visit_strings(&self, visit: &mut dyn FnMut(&str)) {
        match self {
            Value::Str(s) => visit(s),
            Value::Array(a) => a.iter().for_each(|v| v.visit_strings(visit)),
            Value::Object(o) => o.0.iter().for_each(|(_, v)| v.visit_strings(visit)),
            _ => {}
        }
    }

    /// Converts to a `serde_json::Value` (allocates; for output, not for hot paths).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::UInt(u) => serde_json::Value::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(o) => serde_json::Value::Object(
                o.0.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'a> Object<'a> {
    /// First member named exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// First member whose name equals `key` ignoring ASCII case.
    pub fn get_ignore_case(&self, key: &str) -> Option<&Value<'a>> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        self.0.push((key.into(), value));
    }

    pub fn into_owned(self) -> Object<'static> {
        Object(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        )
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(v),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(k) = map.next_key::<Key<'de>>()? {
            let v = map.next_value()?;
            out.push((k.0, v));
        }
        Ok(Value::Object(Object(out)))
    }
}

/// An object key that borrows when the text has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => o.serialize(s),
        }
    }
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_unescaped_strings_and_keys() {
        let text = r#"{"Operation":"MailItemsAccessed","Path":"\\Inbox"}"#;
        let v = Value::parse(text).unwrap();
        let o = v.as_object().unwrap();
        assert!(matches!(o.0[0].0, Cow::Borrowed(_)));
        assert!(matches!(
            o.get("Operation"),
            Some(Value::Str(Cow::Borrowed(_)))
        ));
        assert!(matches!(o.get("Path"), Some(Value::Str(Cow::Owned(_)))));
        assert_eq!(v.get("Path").and_then(Value::as_str), Some("\\Inbox"));
    }

    #[test]
    fn dotted_path_reaches_nested_objects_and_arrays() {
        let v = Value::parse(
            r#"{"AppAccessContext":{"UniqueTokenId":"abc"},"Folders":[{"Path":"\\Inbox"}],"a.b":1}"#,
        )
        .unwrap();
        assert_eq!(
            v.path("AppAccessContext.UniqueTokenId")
                .and_then(Value::as_str),
            Some("abc")
        );
        assert_eq!(
            v.path("Folders.0.Path").and_then(Value::as_str),
            Some("\\Inbox")
        );
        assert_eq!(v.path("a.b").and_then(Value::as_i64), Some(1));
        assert!(v.path("Folders.9.Path").is_none());
        assert!(v.path("AppAccessContext.Missing").is_none());
    }

    #[test]
    fn rejects_trailing_garbage_and_deep_nesting() {
        assert!(Value::parse(r#"{"a":1} x"#).is_err());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = Value::parse(&deep).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
    }

    #[test]
    fn numbers_keep_their_kind() {
        let v = Value::parse(r#"[1,-2,18446744073709551615,1.5]"#).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a[0], Value::Int(1));
        assert_eq!(a[1], Value::Int(-2));
        assert_eq!(a[2], Value::UInt(u64::MAX));
        assert_eq!(a[3], Value::Float(1.5));
    }

    #[test]
    fn serializes_back_to_equivalent_json() {
        let text = r#"{"a":[1,"x\"y",null,true],"b":{"c":2.5}}"#;
        let v = Value::parse(text).unwrap();
        let back = serde_json::to_string(&v).unwrap();
        assert_eq!(back, text);
        assert_eq!(
            v.to_json(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }
}
