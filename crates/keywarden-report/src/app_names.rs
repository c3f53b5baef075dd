//! Names beside app ids: every place a report shows an application id (`AppId`, `ClientAppId`)
//! shows the Microsoft first-party app's display name with it, so an analyst reads
//! "Microsoft Office (d3590ed6-…)" instead of a bare GUID.
//!
//! The names come from a shipped table ([`app_names_table`](crate::app_names_table): public
//! lists of Microsoft applications, sources in its header). A name is a label, never evidence:
//! a forged token can claim any app id, so detections never read this table.

use std::borrow::Cow;

use crate::app_names_table::MICROSOFT_APPS;

/// The display name of a Microsoft first-party application, by app id (any case).
pub fn microsoft_app_name(id: &str) -> Option<&'static str> {
    let id = id.trim();
    let key: Cow<'_, str> = if id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    };
    MICROSOFT_APPS
        .binary_search_by(|(k, _)| (*k).cmp(&key))
        .ok()
        .and_then(|i| MICROSOFT_APPS.get(i))
        .map(|(_, name)| *name)
}

/// An app id as people read it: `Name (id)` for a known Microsoft app, else the id itself.
/// The result still holds log text: escape it for its destination.
pub fn app_label(id: &str) -> Cow<'_, str> {
    match microsoft_app_name(id) {
        Some(name) => Cow::Owned(format!("{name} ({id})")),
        None => Cow::Borrowed(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_lower_case_and_unique() {
        for pair in MICROSOFT_APPS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} then {:?}", pair[0], pair[1]);
        }
        assert!(
            MICROSOFT_APPS
                .iter()
                .all(|(k, v)| *k == k.to_ascii_lowercase() && !v.is_empty())
        );
    }

    #[test]
    fn names_the_mail_clients_and_resources_of_this_attack_class() {
        for (id, name) in [
            ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
            ("9199BF20-A13F-4107-85DC-02114787EF48", "One Outlook Web"),
            ("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"),
            (
                "00000002-0000-0ff1-ce00-000000000000",
                "Office 365 Exchange Online",
            ),
            ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
        ] {
            assert_eq!(microsoft_app_name(id), Some(name), "{id}");
        }
        assert_eq!(
            app_label("1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
            "Microsoft Teams (1fec8e78-bce4-4aaf-ab1b-5451cc387264)"
        );
        assert_eq!(app_label("not-an-app"), "not-an-app");
    }
}
