//! Decoding the nested members that exports flatten into text.
//!
//! The Management Activity API returns `AppAccessContext`, `Folders`, `OperationProperties`...
//! as JSON objects and arrays. Sentinel `OfficeActivity` stores the same members as JSON
//! *strings*; Defender rows that went through PowerShell carry them as `@{Name=..; Value=..}`
//! text. [`canonicalise`] rewrites those members in place into the Management API shape, so
//! that field extraction, built-in detections and Sigma rules see one shape
//! (`AppAccessContext.UniqueTokenId` works on every export).
//!
//! A member that cannot be decoded is left exactly as it was: decoding is an improvement of
//! the record, never a reason to reject it.

use keywarden_model::Value;

use super::powershell;

/// Members whose value may arrive as embedded JSON or PowerShell text.
pub(crate) const NESTED_MEMBERS: &[&str] = &[
    "AppAccessContext",
    "Folders",
    "OperationProperties",
    "ExtendedProperties",
    "ModifiedProperties",
    "Parameters",
    "Item",
    "AffectedItems",
    "Actor",
    "Target",
    "DeviceProperties",
];

/// Rewrites the [`NESTED_MEMBERS`] of `record` (an object) into JSON structure where they
/// are embedded JSON text or PowerShell text.
pub(crate) fn canonicalise(record: &mut Value<'_>) {
    let Value::Object(o) = record else {
        return;
    };
    for (key, value) in o.0.iter_mut() {
        if NESTED_MEMBERS.contains(&key.as_ref()) {
            canonicalise_member(value);
        }
    }
}

/// Decodes one member value in place (see the module documentation).
pub(crate) fn canonicalise_member(value: &mut Value<'_>) {
    match value {
        Value::Str(s) => {
            if let Some(decoded) = decode_text(s) {
                *value = decoded;
            }
        }
        // `["@{Value=Bind; Name=MailAccessType}", ...]`: one PowerShell object per element.
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Str(s) = item
                    && powershell::looks_like(s)
                    && let Some(decoded) = powershell::parse(s)
                {
                    *item = decoded;
                }
            }
        }
        _ => {}
    }
}

/// Decodes a JSON object or array held in a string, or PowerShell object text.
pub(crate) fn decode_text(s: &str) -> Option<Value<'static>> {
    let t = s.trim_start();
    if powershell::looks_like(t) {
        return powershell::parse(t);
    }
    if t.starts_with('{') || t.starts_with('[') {
        return Value::parse_owned(t).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(json: &str) -> String {
        let mut v = Value::parse_owned(json).expect("test JSON");
        canonicalise(&mut v);
        v.to_json().to_string()
    }

    #[test]
    fn decodes_sentinel_json_strings() {
        let out = canonical(
            r#"{"OperationProperties":"[{\"Name\":\"MailAccessType\",\"Value\":\"Bind\"}]","AppAccessContext":"{\"UniqueTokenId\":\"t1\"}","UserId":"[not decoded]"}"#,
        );
        assert_eq!(
            out,
            r#"{"OperationProperties":[{"Name":"MailAccessType","Value":"Bind"}],"AppAccessContext":{"UniqueTokenId":"t1"},"UserId":"[not decoded]"}"#
        );
    }

    #[test]
    fn decodes_powershell_elements_and_text() {
        let out = canonical(
            r#"{"OperationProperties":["@{Value=Bind; Name=MailAccessType}"],"Folders":"{@{Id=F1; Path=\\Inbox}}"}"#,
        );
        assert_eq!(
            out,
            r#"{"OperationProperties":[{"Value":"Bind","Name":"MailAccessType"}],"Folders":[{"Id":"F1","Path":"\\Inbox"}]}"#
        );
    }

    #[test]
    fn leaves_undecodable_members_alone() {
        let json = r#"{"Folders":"[{broken","Item":"System.Object[]","Actor":7}"#;
        assert_eq!(canonical(json), json);
    }
}
