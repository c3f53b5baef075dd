//! Reading API answers one record at a time, so memory stays bounded by one record whatever
//! the size of a blob or page: a JSON array (Management API blobs and content lists), a Graph
//! page (`{"value": [...], "@odata.nextLink": ...}`), a Log Analytics result
//! (`{"tables": [{"columns": [...], "rows": [[...]]}], "error": ...}`).

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Calls `each` for every element of a top-level JSON array.
pub fn for_each_in_array<R: Read>(
    reader: R,
    each: &mut dyn FnMut(Value) -> Result<(), String>,
) -> Result<(), String> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    de.deserialize_seq(Elements(each))
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct Elements<'f>(&'f mut dyn FnMut(Value) -> Result<(), String>);

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.0)(v).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// What a Graph page said besides its records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PageLinks {
    pub next_link: Option<String>,
}

/// Calls `each` for every element of `value` in a Graph collection page; returns the
/// `@odata.nextLink`. A page without `value` is an error (it is not a collection page).
pub fn for_each_in_page<R: Read>(
    reader: R,
    each: &mut dyn FnMut(Value) -> Result<(), String>,
) -> Result<PageLinks, String> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    let links = de
        .deserialize_map(Page { each })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(links)
}

struct Page<'f> {
    each: &'f mut dyn FnMut(Value) -> Result<(), String>,
}

impl<'de> Visitor<'de> for Page<'_> {
    type Value = PageLinks;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Graph collection page")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageLinks, A::Error> {
        let mut links = PageLinks::default();
        let mut saw_value = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => {
                    saw_value = true;
                    map.next_value_seed(Elements(self.each))?;
                }
                "@odata.nextLink" => links.next_link = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_value {
            return Err(de::Error::custom("no \"value\" array"));
        }
        Ok(links)
    }
}

/// What a Log Analytics answer said besides its rows.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QueryOutcome {
    pub rows: u64,
    /// `error.code` of a 200 answer (a `PartialError` means the rows are truncated).
    pub error_code: Option<String>,
}

/// Calls `each` with every row of the first table of a Log Analytics answer, as an object
/// keyed by column name. `columns` must come before `rows` (as the service writes them).
pub fn for_each_row<R: Read>(
    reader: R,
    each: &mut dyn FnMut(Value) -> Result<(), String>,
) -> Result<QueryOutcome, String> {
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, reader));
    let out = de
        .deserialize_map(Answer { each })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(out)
}

struct Answer<'f> {
    each: &'f mut dyn FnMut(Value) -> Result<(), String>,
}

impl<'de> Visitor<'de> for Answer<'_> {
    type Value = QueryOutcome;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Log Analytics query answer")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<QueryOutcome, A::Error> {
        let mut out = QueryOutcome::default();
        let mut saw_tables = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tables" => {
                    saw_tables = true;
                    // A repeated `tables` member adds its rows: the callback delivered both.
                    out.rows += map.next_value_seed(Tables { each: self.each })?;
                }
                "error" => {
                    let e: Value = map.next_value()?;
                    out.error_code = Some(
                        e.get("code")
                            .and_then(Value::as_str)
                            .unwrap_or("unknown")
                            .to_owned(),
                    );
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_tables {
            return Err(de::Error::custom("no \"tables\""));
        }
        Ok(out)
    }
}

struct Tables<'f> {
    each: &'f mut dyn FnMut(Value) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for Tables<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Tables<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tables")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        // The first table is the primary result; later ones (statistics) are skipped.
        let rows = seq
            .next_element_seed(Table { each: self.each })?
            .unwrap_or(0);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(rows)
    }
}

struct Table<'f> {
    each: &'f mut dyn FnMut(Value) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for Table<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(serde::Deserialize)]
struct Column {
    name: String,
}

impl<'de> Visitor<'de> for Table<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut columns: Option<Vec<String>> = None;
        let mut rows = 0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "columns" => {
                    let cols: Vec<Column> = map.next_value()?;
                    columns = Some(cols.into_iter().map(|c| c.name).collect());
                }
                "rows" => {
                    let Some(cols) = columns.as_deref() else {
                        return Err(de::Error::custom("rows before columns"));
                    };
                    let each = &mut *self.each;
                    let mut to_object = |v: Value| -> Result<(), String> {
                        let Value::Array(cells) = v else {
                            return Err("a row is not an array".into());
                        };
                        if cells.len() != cols.len() {
                            return Err(format!(
                                "a row has {} cells for {} columns",
                                cells.len(),
                                cols.len()
                            ));
                        }
                        let obj: serde_json::Map<String, Value> =
                            cols.iter().cloned().zip(cells).collect();
                        rows += 1;
                        each(Value::Object(obj))
                    };
                    map.next_value_seed(Elements(&mut to_object))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_all(
        f: impl FnOnce(&mut dyn FnMut(Value) -> Result<(), String>) -> Result<(), String>,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        f(&mut |v| {
            out.push(v);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn arrays_pages_and_tables_stream_their_records() {
        let a = collect_all(|e| for_each_in_array(&br#"[{"Id":"1"},{"Id":"2"}]"#[..], e)).unwrap();
        assert_eq!(a.len(), 2);
        let mut link = None;
        let p = collect_all(|e| {
            link = for_each_in_page(
                &br#"{"@odata.context":"x","value":[{"id":"a"}],"@odata.nextLink":"https://g/next"}"#[..],
                e,
            )?
            .next_link;
            Ok(())
        })
        .unwrap();
        assert_eq!(p, vec![serde_json::json!({"id":"a"})]);
        assert_eq!(link.as_deref(), Some("https://g/next"));
        let mut outcome = QueryOutcome::default();
        let rows = collect_all(|e| {
            outcome = for_each_row(
                &br#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"A","type":"string"},{"name":"B","type":"long"}],"rows":[["x",1],["y",2]]}],"error":{"code":"PartialError"}}"#[..],
                e,
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(rows[1], serde_json::json!({"A":"y","B":2}));
        assert_eq!(outcome.rows, 2);
        assert_eq!(outcome.error_code.as_deref(), Some("PartialError"));
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let mut ignore = |_: Value| Ok(());
        assert!(for_each_in_array(&b"[{\"Id\":1},"[..], &mut ignore).is_err());
        assert!(for_each_in_array(&b"{}"[..], &mut ignore).is_err());
        assert!(for_each_in_page(&b"{\"x\":1}"[..], &mut ignore).is_err());
        assert!(for_each_row(&br#"{"tables":[{"rows":[[1]]}]}"#[..], &mut ignore).is_err());
        assert!(
            for_each_row(
                &br#"{"tables":[{"columns":[{"name":"A"}],"rows":[[1,2]]}]}"#[..],
                &mut ignore
            )
            .is_err()
        );
    }
}
