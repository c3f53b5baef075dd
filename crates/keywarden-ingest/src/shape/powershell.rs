//! PowerShell's text rendering of objects, as it leaks into exports.
//!
//! When a script flattens an audit record without `ConvertTo-Json -Depth`, nested objects turn
//! into `@{Name=MailAccessType; Value=Bind}` and arrays of them into
//! `{@{Name=...; Value=...}, @{...}}`. Defender `CloudAppEvents.RawEventData` rows exported
//! this way carry `OperationProperties` and `Folders` in that syntax. [`parse`] turns such text
//! back into a JSON [`Value`] (an object, or an array of objects); every value stays a string,
//! exactly as PowerShell printed it.
//!
//! The syntax is ambiguous (values are not quoted), so the parser is conservative: a member
//! separator is a `;` followed by optional spaces and then `Key=` where `Key` is an identifier;
//! anything it cannot read returns `None` and the caller keeps the original text.

use std::borrow::Cow;

use keywarden_model::{Object, Value};

/// Deepest `@{...}` nesting read; deeper text is kept as a string.
const MAX_DEPTH: usize = 16;

/// Parses `@{K=V; ...}` into an object or `{@{...}, @{...}}` into an array of objects.
/// `None` when `text` is not in PowerShell's object syntax.
pub(crate) fn parse(text: &str) -> Option<Value<'static>> {
    parse_at(text.trim(), 0)
}

/// True when `text` starts like PowerShell object syntax (cheap pre-check).
pub(crate) fn looks_like(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("@{") || t.starts_with("{@{")
}

fn parse_at(t: &str, depth: usize) -> Option<Value<'static>> {
    if depth > MAX_DEPTH {
        return None;
    }
    if let Some(inner) = t.strip_prefix("@{").and_then(|r| r.strip_suffix('}')) {
        return hashtable(inner, depth).map(Value::Object);
    }
    if let Some(inner) = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        let items = split_top_level(inner, |rest| {
            // Array items are separated by `,` (Format-List) or whitespace before `@{`.
            rest.starts_with(',') || rest.starts_with(" @{")
        });
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let item = item.trim().trim_start_matches(',').trim();
            if item.is_empty() {
                continue;
            }
            out.push(parse_at(item, depth + 1)?);
        }
        return Some(Value::Array(out));
    }
    None
}

/// `K=V; K2=V2` (the text between `@{` and `}`).
fn hashtable(inner: &str, depth: usize) -> Option<Object<'static>> {
    let mut obj = Object::default();
    if inner.trim().is_empty() {
        return Some(obj);
    }
    for member in split_top_level(inner, starts_member_separator) {
        let member = member.trim().trim_start_matches(';').trim();
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        let key = key.trim();
        if !is_identifier(key) {
            return None;
        }
        let value = value.trim();
        let v = if looks_like(value) {
            parse_at(value, depth + 1).unwrap_or_else(|| string(value))
        } else {
            string(value)
        };
        obj.insert(Cow::Owned(key.to_string()), v);
    }
    Some(obj)
}

/// True at `; Key=` (the separator between hashtable members).
fn starts_member_separator(rest: &str) -> bool {
    let Some(after) = rest.strip_prefix(';') else {
        return false;
    };
    let after = after.trim_start();
    // Keys are short: look for the `=` in a small window only, so that a long value full of
    // semicolons costs linear time.
    let window = after.get(..after.len().min(130)).unwrap_or(after);
    match window.find('=') {
        Some(eq) => after.get(..eq).is_some_and(is_identifier),
        None => false,
    }
}

/// Splits `s` at positions (outside `{...}`) where `is_separator(rest)` holds; each piece
/// after the first starts with its separator.
fn split_top_level(s: &str, is_separator: impl Fn(&str) -> bool) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0
            && i > start
            && let Some(rest) = s.get(i..)
            && is_separator(rest)
        {
            if let Some(piece) = s.get(start..i) {
                pieces.push(piece);
            }
            start = i;
        }
    }
    if let Some(piece) = s.get(start..) {
        pieces.push(piece);
    }
    pieces
}

fn is_identifier(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 128
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn string(s: &str) -> Value<'static> {
    Value::Str(Cow::Owned(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        parse(text)
            .map(|v| v.to_json().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn reads_a_hashtable() {
        assert_eq!(
            json("@{Value=Bind; Name=MailAccessType}"),
            r#"{"Value":"Bind","Name":"MailAccessType"}"#
        );
        assert_eq!(
            json(r"@{Id=LgAAAA/7aAQ; Path=\Inbox; FolderItems=System.Object[]}"),
            r#"{"Id":"LgAAAA/7aAQ","Path":"\\Inbox","FolderItems":"System.Object[]"}"#
        );
        assert_eq!(json("@{}"), "{}");
    }

    #[test]
    fn reads_an_array_of_hashtables() {
        assert_eq!(
            json("{@{Name=MailAccessType; Value=Bind}, @{Name=IsThrottled; Value=False}}"),
            r#"[{"Name":"MailAccessType","Value":"Bind"},{"Name":"IsThrottled","Value":"False"}]"#
        );
        assert_eq!(
            json("{@{Name=A; Value=1} @{Name=B; Value=2}}"),
            r#"[{"Name":"A","Value":"1"},{"Name":"B","Value":"2"}]"#
        );
    }

    #[test]
    fn keeps_semicolons_inside_values() {
        assert_eq!(
            json("@{ClientInfoString=Client=REST;;; ClientIP=1.2.3.4}"),
            r#"{"ClientInfoString":"Client=REST;;","ClientIP":"1.2.3.4"}"#
        );
    }

    #[test]
    fn reads_nested_hashtables() {
        assert_eq!(
            json("@{A=@{B=1; C=2}; D=x}"),
            r#"{"A":{"B":"1","C":"2"},"D":"x"}"#
        );
    }

    #[test]
    fn refuses_what_is_not_powershell() {
        assert!(parse("hello").is_none());
        assert!(parse("@{not a member}").is_none());
        assert!(parse("{\"json\": 1}").is_none());
        assert!(parse("@{A=1").is_none());
        let deep = format!("{}{}", "@{A=".repeat(100), "}".repeat(100));
        // Too deep to read as objects: the innermost levels stay text, nothing panics.
        assert!(parse(&deep).is_some());
    }
}
