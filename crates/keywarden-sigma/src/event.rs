//! [`SigmaEvent`]: rsigma's `Event` trait implemented directly on a keywarden event, so rules
//! read the borrowed [`Value`] tree in place instead of a re-materialised `serde_json::Value`.
//!
//! Field lookup: the Sigma name is first renamed through the route's field map (Sentinel
//! columns, Security 4688 names...), then looked up as a flat key (`"actor.id"` as one key
//! wins), then as a dotted path into nested objects. A path that crosses an array follows
//! every element: one hit is returned as is, several as an array (any-element semantics).

use std::borrow::Cow;

use keywarden_model::{Event, Value};
use rsigma_eval::EventValue;

use crate::routing::FieldMap;

/// Deepest nesting walked for keyword search and value conversion.
const MAX_DEPTH: usize = 64;

/// A keywarden event seen through Sigma field names.
#[derive(Debug, Clone, Copy)]
pub struct SigmaEvent<'e, 'a> {
    event: &'e Event<'a>,
    fields: Option<&'e FieldMap>,
    fold_spaces: bool,
}

impl<'e, 'a> SigmaEvent<'e, 'a> {
    pub fn new(event: &'e Event<'a>, fields: Option<&'e FieldMap>) -> SigmaEvent<'e, 'a> {
        SigmaEvent {
            event,
            fields,
            fold_spaces: false,
        }
    }

    /// Also match top-level names with their spaces removed (`ThreatName` finds `Threat Name`).
    pub fn with_folded_spaces(mut self, fold: bool) -> SigmaEvent<'e, 'a> {
        self.fold_spaces = fold;
        self
    }

    /// The wrapped event.
    pub fn event(&self) -> &'e Event<'a> {
        self.event
    }
}

impl rsigma_eval::Event for SigmaEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        let path = self
            .fields
            .and_then(|m| m.get(path))
            .map_or(path, String::as_str);
        let found = lookup(&self.event.raw, path);
        if found.is_some() || !self.fold_spaces {
            return found;
        }
        let obj = self.event.raw.as_object()?;
        obj.iter()
            .find(|(k, _)| space_free_eq(k, path))
            .map(|(_, v)| convert(v, MAX_DEPTH))
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        any_string(&self.event.raw, pred, MAX_DEPTH)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        collect_strings(&self.event.raw, &mut out, MAX_DEPTH);
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        visit_strings(&self.event.raw, visit, MAX_DEPTH);
    }

    fn to_json(&self) -> serde_json::Value {
        self.event.raw.to_json()
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        if self.fold_spaces {
            return None; // names are matched loosely: the index must probe every field
        }
        let o = self.event.raw.as_object()?;
        Some(o.iter().map(|(k, _)| Cow::Borrowed(k)).collect())
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        if self.fold_spaces {
            return false;
        }
        match self.event.raw.as_object() {
            Some(o) => {
                for (k, _) in o.iter() {
                    visit(k);
                }
                true
            }
            None => false,
        }
    }
}

/// `Threat Name` equals `ThreatName`.
fn space_free_eq(key: &str, name: &str) -> bool {
    key.contains(' ') && key.chars().filter(|c| *c != ' ').eq(name.chars())
}

/// Looks up a Sigma field name in a record: flat key first, then a dotted path.
pub fn lookup<'v>(raw: &'v Value<'_>, path: &str) -> Option<EventValue<'v>> {
    let obj = raw.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(convert(v, MAX_DEPTH));
    }
    let (root, rest) = path.split_once('.')?;
    let first = obj.get(root)?;
    let mut hits = Vec::new();
    walk(first, rest, &mut hits, MAX_DEPTH);
    match hits.len() {
        0 => None,
        1 => hits.pop(),
        _ => Some(EventValue::Array(hits)),
    }
}

/// Follows the remaining dotted `path` from `v`, fanning out over arrays.
fn walk<'v>(v: &'v Value<'_>, path: &str, hits: &mut Vec<EventValue<'v>>, depth: usize) {
    if depth == 0 {
        return;
    }
    if let Value::Array(items) = v {
        let (seg, rest) = path.split_once('.').unwrap_or((path, ""));
        if let Ok(i) = seg.parse::<usize>() {
            if let Some(item) = items.get(i) {
                if rest.is_empty() {
                    hits.push(convert(item, depth));
                } else {
                    walk(item, rest, hits, depth - 1);
                }
            }
            return;
        }
        for item in items {
            walk(item, path, hits, depth - 1);
        }
        return;
    }
    let Some(obj) = v.as_object() else {
        return;
    };
    // A nested key may itself contain dots: try the longest remaining name first.
    if let Some(found) = obj.get(path) {
        hits.push(convert(found, depth));
        return;
    }
    let Some((seg, rest)) = path.split_once('.') else {
        return;
    };
    if let Some(next) = obj.get(seg) {
        walk(next, rest, hits, depth - 1);
    }
}

/// Converts a borrowed keywarden value to rsigma's value, borrowing strings.
fn convert<'v>(v: &'v Value<'_>, depth: usize) -> EventValue<'v> {
    match v {
        Value::Null => EventValue::Null,
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Int(i) => EventValue::Int(*i),
        Value::UInt(u) => i64::try_from(*u).map_or(EventValue::Float(*u as f64), EventValue::Int),
        Value::Float(f) => EventValue::Float(*f),
        Value::Str(s) => EventValue::Str(Cow::Borrowed(s.as_ref())),
        Value::Array(_) | Value::Object(_) if depth == 0 => EventValue::Null,
        Value::Array(items) => {
            EventValue::Array(items.iter().map(|i| convert(i, depth - 1)).collect())
        }
        Value::Object(o) => EventValue::Map(
            o.iter()
                .map(|(k, v)| (Cow::Borrowed(k), convert(v, depth - 1)))
                .collect(),
        ),
    }
}

fn any_string(v: &Value<'_>, pred: &dyn Fn(&str) -> bool, depth: usize) -> bool {
    match v {
        Value::Str(s) => pred(s),
        _ if depth == 0 => false,
        Value::Array(items) => items.iter().any(|i| any_string(i, pred, depth - 1)),
        Value::Object(o) => o.iter().any(|(_, v)| any_string(v, pred, depth - 1)),
        _ => false,
    }
}

fn collect_strings<'v>(v: &'v Value<'_>, out: &mut Vec<Cow<'v, str>>, depth: usize) {
    match v {
        Value::Str(s) => out.push(Cow::Borrowed(s.as_ref())),
        _ if depth == 0 => {}
        Value::Array(items) => items
            .iter()
            .for_each(|i| collect_strings(i, out, depth - 1)),
        Value::Object(o) => o
            .iter()
            .for_each(|(_, v)| collect_strings(v, out, depth - 1)),
        _ => {}
    }
}

fn visit_strings(v: &Value<'_>, visit: &mut dyn FnMut(&str), depth: usize) {
    match v {
        Value::Str(s) => visit(s),
        _ if depth == 0 => {}
        Value::Array(items) => items
            .iter()
            .for_each(|i| visit_strings(i, visit, depth - 1)),
        Value::Object(o) => o
            .iter()
            .for_each(|(_, v)| visit_strings(v, visit, depth - 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'v>(raw: &'v Value<'_>, path: &str) -> Option<EventValue<'v>> {
        lookup(raw, path)
    }

    #[test]
    fn flat_keys_win_over_nested_paths() {
        let raw = Value::parse(r#"{"a.b":"flat","a":{"b":"nested"}}"#).expect("json");
        assert_eq!(get(&raw, "a.b"), Some(EventValue::Str("flat".into())));
    }

    #[test]
    fn dotted_paths_fan_out_over_arrays() {
        let raw = Value::parse(
            r#"{"Parameters":[{"Name":"Identity","Value":"x"},{"Name":"Force","Value":"y"}],"n":{"k.dot":1}}"#,
        )
        .expect("json");
        assert_eq!(
            get(&raw, "Parameters.Name"),
            Some(EventValue::Array(vec![
                EventValue::Str("Identity".into()),
                EventValue::Str("Force".into())
            ]))
        );
        assert_eq!(
            get(&raw, "Parameters.1.Value"),
            Some(EventValue::Str("y".into()))
        );
        assert_eq!(get(&raw, "n.k.dot"), Some(EventValue::Int(1)));
        assert_eq!(get(&raw, "Parameters.Missing"), None);
        assert_eq!(get(&raw, "nope.x"), None);
    }

    #[test]
    fn null_is_distinct_from_absent() {
        let raw = Value::parse(r#"{"a":null}"#).expect("json");
        assert_eq!(get(&raw, "a"), Some(EventValue::Null));
        assert_eq!(get(&raw, "b"), None);
    }
}
