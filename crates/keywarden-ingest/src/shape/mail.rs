//! `MailItemsAccessed` details: the access type and throttling flag from
//! `OperationProperties`, and the folders and message ids from `Folders`.
//!
//! Both members are expected in the Management Activity API shape (after
//! [`super::embedded::canonicalise`]):
//! `OperationProperties: [{"Name":"MailAccessType","Value":"Bind"},{"Name":"IsThrottled","Value":"False"}]`
//! and `Folders: [{"Id":"..","Path":"\\Inbox","FolderItems":[{"InternetMessageId":"<..>"}]}]`.

use keywarden_model::{FolderAccess, Text, Value, non_empty};

/// Most folders and message ids kept per record. A MailItemsAccessed record is bounded by the
/// service (about 1000 items); the cap guards against hostile input, and a record over it is
/// still an event (the extra entries stay in `raw`).
const MAX_FOLDERS: usize = 10_000;
const MAX_MESSAGE_IDS: usize = 100_000;

/// The value of the `Name`d entry of a `[{Name, Value}]` list (names compared ignoring case).
pub(crate) fn name_value<'a>(list: Option<&Value<'a>>, name: &str) -> Option<Text<'a>> {
    list?.as_array()?.iter().find_map(|entry| {
        let o = entry.as_object()?;
        let n = o.get("Name").or_else(|| o.get_ignore_case("name"))?;
        if n.as_str()?.trim().eq_ignore_ascii_case(name) {
            non_empty(o.get("Value").or_else(|| o.get_ignore_case("value")))
        } else {
            None
        }
    })
}

/// `MailAccessType` (`Bind` or `Sync`) from `OperationProperties`, else a top-level member.
pub(crate) fn mail_access_type<'a>(record: &Value<'a>) -> Option<Text<'a>> {
    name_value(record.get("OperationProperties"), "MailAccessType")
        .or_else(|| non_empty(record.get("MailAccessType")))
}

/// `IsThrottled` from `OperationProperties`, else a top-level member.
pub(crate) fn throttled(record: &Value<'_>) -> Option<bool> {
    match name_value(record.get("OperationProperties"), "IsThrottled") {
        Some(t) => Value::Str(t).as_bool(),
        None => record.get("IsThrottled").and_then(Value::as_bool),
    }
}

/// The folders of `Folders` with the `InternetMessageId` of each item.
///
/// PowerShell-flattened records carry `FolderItems=System.Object[]`: the folder is kept, its
/// message ids are lost (empty list).
pub(crate) fn folders<'a>(record: &Value<'a>) -> Vec<FolderAccess<'a>> {
    let Some(list) = record.get("Folders").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut ids = 0usize;
    for folder in list.iter().take(MAX_FOLDERS) {
        let Some(o) = folder.as_object() else {
            continue;
        };
        let mut access = FolderAccess {
            id: non_empty(o.get("Id").or_else(|| o.get("FolderId"))),
            path: non_empty(o.get("Path").or_else(|| o.get("FolderPath"))),
            message_ids: Vec::new(),
        };
        if let Some(items) = o.get("FolderItems").and_then(Value::as_array) {
            for item in items {
                if ids >= MAX_MESSAGE_IDS {
                    break;
                }
                if let Some(id) = non_empty(item.get("InternetMessageId")) {
                    access.message_ids.push(id);
                    ids += 1;
                }
            }
        }
        out.push(access);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Value<'static> {
        Value::parse_owned(json).expect("test JSON")
    }

    #[test]
    fn reads_operation_properties() {
        let r = record(
            r#"{"OperationProperties":[{"Name":"MailAccessType","Value":"Sync"},{"Name":"IsThrottled","Value":"True"}]}"#,
        );
        assert_eq!(mail_access_type(&r).as_deref(), Some("Sync"));
        assert_eq!(throttled(&r), Some(true));
        let none = record(r#"{"OperationProperties":[{"Name":"Other","Value":"x"}, 5, "y"]}"#);
        assert_eq!(mail_access_type(&none), None);
        assert_eq!(throttled(&none), None);
    }

    #[test]
    fn reads_folders_and_message_ids() {
        let r = record(
            r#"{"Folders":[{"Id":"F1","Path":"\\Inbox","FolderItems":[{"InternetMessageId":"<a@b>"},{"InternetMessageId":""},{"Other":1}]},{"Id":"F2","Path":"\\Sent Items","FolderItems":"System.Object[]"},"junk"]}"#,
        );
        let f = folders(&r);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].path.as_deref(), Some("\\Inbox"));
        assert_eq!(f[0].message_ids, vec!["<a@b>"]);
        assert_eq!(f[1].id.as_deref(), Some("F2"));
        assert!(f[1].message_ids.is_empty());
    }
}
