//! Fuzzes `keywarden collect`'s streaming readers of API answers (`stream_json.rs`): a JSON
//! array (Management API blobs and content lists), a Graph page (`value` + `@odata.nextLink`)
//! and a Log Analytics answer (`tables` / `columns` / `rows`, `error`), on arbitrary bytes.
//! Never a panic; and each reader agrees with serde_json reading the whole document: an array
//! serde_json parses is streamed element for element, and one the streamer accepts parses;
//! a page yields its `value` elements in order; a Log Analytics answer yields as many rows as
//! it counts, each an object with one member per column.
#![no_main]

use keywarden_collect::stream_json::{for_each_in_array, for_each_in_page, for_each_row};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // Arrays: differential against serde_json's whole-document parse.
    let mut streamed = Vec::new();
    let got = for_each_in_array(data, &mut |v| {
        streamed.push(v);
        Ok(())
    });
    match serde_json::from_slice::<Vec<Value>>(data) {
        Ok(whole) => {
            assert!(got.is_ok(), "serde_json parses it, the streamer said {got:?}");
            assert_eq!(streamed, whole);
        }
        Err(_) => assert!(got.is_err(), "the streamer accepted what serde_json refuses"),
    }

    // Graph pages: the elements come out in order; a page with one `value` member agrees
    // with the parsed document.
    let mut records = Vec::new();
    if let Ok(links) = for_each_in_page(data, &mut |v| {
        records.push(v);
        Ok(())
    }) && let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(data)
        && let Some(Value::Array(value)) = doc.get("value")
        && !data.contains(&b'\\')
        && count_key(data, b"\"value\"") == 1
    {
        assert_eq!(&records, value);
        if count_key(data, b"\"@odata.nextLink\"") == 1 {
            assert_eq!(
                links.next_link.as_deref(),
                doc.get("@odata.nextLink").and_then(Value::as_str)
            );
        }
    }

    // Log Analytics answers: every row counted is delivered, as an object.
    let mut rows = 0u64;
    if let Ok(outcome) = for_each_row(data, &mut |v| {
        assert!(v.is_object());
        rows += 1;
        Ok(())
    }) {
        assert_eq!(outcome.rows, rows);
    }

    // A callback that refuses stops the reader with an error, never a panic.
    let _ = for_each_in_array(data, &mut |_| Err("refused".into()));
    let _ = for_each_in_page(data, &mut |_| Err("refused".into()));
    let _ = for_each_row(data, &mut |_| Err("refused".into()));
});

/// Occurrences of `needle` in `data`. A key that repeats (or is spelled with escapes) makes the
/// whole-document parse keep only its last value, so pages are compared only when the key is
/// written once and nothing is escaped.
fn count_key(data: &[u8], needle: &[u8]) -> usize {
    data.windows(needle.len()).filter(|w| *w == needle).count()
}
