//! Strict JSON for JOSE: one object, no trailing data, and no member name repeated in *any*
//! object at any depth — where `serde_json::Value` would silently keep the last one, which is how
//! two parsers come to disagree about what a token says.
//!
//! Two entry points: [`parse_object`] builds a full map (key sets, discovery documents,
//! reports), and [`parse_members`] — the hot path — walks the whole text checking duplicates
//! but materialises only the few members the caller asks for.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::reason::{Rejection, evidence};

/// Marker put in serde errors so duplicate members get their own reason code.
const DUP_MARK: &str = "\u{1}duplicate member:";

fn dup<E: de::Error>(k: &str) -> E {
    E::custom(format!("{DUP_MARK}{k}"))
}

/// A member name, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// How many member names of one object are remembered inline (on the stack) before hashing.
const SEEN_INLINE: usize = 24;

/// Remembers the member names of one object: inline and linear for small objects (no heap
/// allocation on the hot path), hashed beyond [`SEEN_INLINE`].
struct Seen<'de> {
    small: [Cow<'de, str>; SEEN_INLINE],
    len: usize,
    big: Option<HashSet<Cow<'de, str>>>,
}

impl Default for Seen<'_> {
    fn default() -> Self {
        Seen {
            small: std::array::from_fn(|_| Cow::Borrowed("")),
            len: 0,
            big: None,
        }
    }
}

impl<'de> Seen<'de> {
    /// Returns false when `k` was already seen.
    fn insert(&mut self, k: Cow<'de, str>) -> bool {
        if let Some(big) = &mut self.big {
            return big.insert(k);
        }
        let used = self.small.get(..self.len).unwrap_or_default();
        if used.iter().any(|u| same(u, &k)) {
            return false;
        }
        match self.small.get_mut(self.len) {
            Some(slot) => {
                *slot = k;
                self.len += 1;
            }
            None => {
                let mut big: HashSet<Cow<'de, str>> =
                    self.small.iter_mut().map(std::mem::take).collect();
                big.insert(k);
                self.big = Some(big);
            }
        }
        true
    }
}

/// String equality without a `memcmp` call: member names are short (`iss`, `aud`, `kid`).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Walks any value, refusing duplicates, building nothing.
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            map.next_value_seed(Check)?;
            if !seen.insert(k.clone()) {
                return Err(dup(&k));
            }
        }
        Ok(())
    }
}

/// Builds a full `Value`, refusing duplicates.
struct Full;

impl<'de> DeserializeSeed<'de> for Full {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(FullVisitor)
    }
}

struct FullVisitor;

impl<'de> Visitor<'de> for FullVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Full)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let v = map.next_value_seed(Full)?;
            if out.contains_key(k.as_ref()) {
                return Err(dup(&k));
            }
            out.insert(k.into_owned(), v);
        }
        Ok(Value::Object(out))
    }
}

/// The requested members of a top-level object.
#[derive(Debug, Clone, Default)]
pub struct Members {
    vals: Vec<(&'static str, Value)>,
}

impl Members {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vals.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
    /// Moves a member's value out (later `get`s of it return `None`).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        let i = self.vals.iter().position(|(k, _)| *k == name)?;
        Some(self.vals.swap_remove(i).1)
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

struct Top {
    wanted: &'static [&'static [&'static str]],
}

impl<'de> Visitor<'de> for Top {
    type Value = Members;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut seen = Seen::default();
        let mut out = Members {
            vals: Vec::with_capacity(self.wanted.iter().map(|w| w.len()).sum()),
        };
        while let Some(k) = map.next_key_seed(KeySeed)? {
            match self.wanted.iter().copied().flatten().find(|w| same(w, &k)) {
                Some(name) => out.vals.push((name, map.next_value_seed(Full)?)),
                None => map.next_value_seed(Check)?,
            }
            if !seen.insert(k.clone()) {
                return Err(dup(&k));
            }
        }
        Ok(out)
    }
}

fn classify(e: &serde_json::Error, part: &'static str) -> Rejection {
    let msg = e.to_string();
    match msg.find(DUP_MARK) {
        Some(i) => {
            let rest = &msg[i + DUP_MARK.len()..];
            let key = rest.split(" at line").next().unwrap_or(rest);
            Rejection::DuplicateKey {
                part,
                key: evidence(key),
            }
        }
        None => Rejection::BadJson {
            part,
            detail: evidence(&msg),
        },
    }
}

/// Parses one JSON object, checking every object in it for duplicate members, and returns the
/// top-level members named in any of the `wanted` lists (fully parsed).
pub fn parse_members(
    bytes: &[u8],
    part: &'static str,
    wanted: &'static [&'static [&'static str]],
) -> Result<Members, Rejection> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let r = de
        .deserialize_map(Top { wanted })
        .and_then(|m| de.end().map(|()| m));
    r.map_err(|e| classify(&e, part))
}

/// Parses `bytes` as one JSON object, refusing duplicate members at any depth.
pub fn parse_object(bytes: &[u8], part: &'static str) -> Result<Map<String, Value>, Rejection> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let r = Full.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match r {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Rejection::BadJson {
            part,
            detail: "not an object".into(),
        }),
        Err(e) => Err(classify(&e, part)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        let e = parse_object(br#"{"a":1,"a":2}"#, "payload").unwrap_err();
        assert_eq!(
            e,
            Rejection::DuplicateKey {
                part: "payload",
                key: "a".into()
            }
        );
        assert_eq!(
            parse_object(br#"{"x":{"b":1,"b":1}}"#, "payload")
                .unwrap_err()
                .code(),
            "duplicate-key"
        );
        assert!(parse_object(br#"{"x":{"b":1},"y":{"b":1}}"#, "payload").is_ok());
        // Escaped and unescaped spellings of one name are the same name.
        assert_eq!(
            parse_object(br#"{"a":1,"\u0061":2}"#, "payload")
                .unwrap_err()
                .code(),
            "duplicate-key"
        );
    }

    #[test]
    fn members_walk_checks_everything_but_keeps_only_what_is_wanted() {
        const W: &[&str] = &["iss", "exp"];
        let m = parse_members(br#"{"iss":"a","x":[{"k":1}],"exp":5}"#, "payload", &[W]).unwrap();
        assert_eq!(m.get("iss"), Some(&Value::from("a")));
        assert!(!m.contains("x"));
        for bad in [
            &br#"{"iss":"a","iss":"b"}"#[..],
            br#"{"x":1,"x":2}"#,
            br#"{"x":[{"k":1,"k":2}]}"#,
            br#"{"iss":{"k":1,"k":2}}"#,
            br#"{"i\u0073s":"a","iss":"b"}"#,
        ] {
            assert_eq!(
                parse_members(bad, "payload", &[W]).unwrap_err().code(),
                "duplicate-key"
            );
        }
        let many: String = (0..100).map(|i| format!("\"k{i}\":0,")).collect();
        assert!(parse_members(format!("{{{many}\"z\":0}}").as_bytes(), "p", &[W]).is_ok());
        assert_eq!(
            parse_members(format!("{{{many}\"k7\":0}}").as_bytes(), "p", &[W])
                .unwrap_err()
                .code(),
            "duplicate-key"
        );
    }

    #[test]
    fn only_objects_and_no_trailing_data() {
        for bad in [&b"[1]"[..], b"{} {}", b"\xff", b"", b"\"s\"", b"{\"a\":}"] {
            assert_eq!(parse_object(bad, "header").unwrap_err().code(), "bad-json");
            assert_eq!(
                parse_members(bad, "header", &[&["a"]]).unwrap_err().code(),
                "bad-json"
            );
        }
    }
}
