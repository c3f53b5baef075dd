//! Identity resolution: one name per person and per application, learnt from the sign-in logs.
//!
//! The same person appears as a UPN in the audit log (`UserId`, `MailboxOwnerUPN`), as a user
//! object id in Graph activity (`UserId`, `/users/{id}/messages`, `/me` reads) and in any
//! case. Every sign-in shape logs both (`userPrincipalName` and `userId`, at the top level or
//! under `properties`), so a [`Directory`] fed with the sign-ins maps object ids to UPNs,
//! case-insensitively; [`Directory::resolve`] gives the one name incidents, exposure and
//! reports show, while alerts keep the raw values in their evidence.
//!
//! Sign-ins also name the applications they issue tokens to (`appId` → `appDisplayName`,
//! `resourceId` → `resourceDisplayName`): the tenant's own names for its apps, shown beside
//! app ids ([`Directory::app_name`]). Memory grows with distinct users and apps, not records:
//! a sign-in whose user and apps are already known costs three map look-ups.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use keywarden_model::{Event, SourceKind, Value, ascii_fold};

/// Who is who and what each app is called, as the sign-in logs say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    /// User object id (lower-cased) → UPN (lower-cased).
    upn_of: BTreeMap<String, String>,
    /// App id (lower-cased) → display name.
    app_names: BTreeMap<String, String>,
    /// Every user name (UPN or object id, lower-cased) a sign-in names, even alone: what the
    /// coverage model's user filter compares token users with.
    signed_in: BTreeSet<String>,
}

/// The raw keys of each value in the sign-in shapes (Graph, Log Analytics, Event Hub /
/// diagnostic settings under `properties`, PowerShell exports).
const UPN_KEYS: &[&str] = &[
    "userPrincipalName",
    "UserPrincipalName",
    "properties.userPrincipalName",
];
const OID_KEYS: &[&str] = &["userId", "UserId", "properties.userId"];
const APP_KEYS: &[&str] = &["appId", "AppId", "properties.appId"];
const APP_NAME_KEYS: &[&str] = &[
    "appDisplayName",
    "AppDisplayName",
    "properties.appDisplayName",
];
const RESOURCE_KEYS: &[&str] = &["resourceId", "ResourceIdentity", "properties.resourceId"];
const RESOURCE_NAME_KEYS: &[&str] = &[
    "resourceDisplayName",
    "ResourceDisplayName",
    "properties.resourceDisplayName",
];

/// The most display-name characters kept (names are shown, not parsed).
const MAX_NAME_CHARS: usize = 120;

/// The user names a sign-in record gives (its UPN and its user object id, ASCII-lower-cased),
/// in any sign-in shape: what `hunt`'s [`Directory`] and `serve`'s live state both note for
/// the coverage model's user filter.
pub(crate) fn sign_in_user_names(raw: &Value<'_>) -> [Option<String>; 2] {
    [UPN_KEYS, OID_KEYS].map(|keys| {
        text(raw, keys)
            .map(|t| ascii_fold(Cow::Borrowed(t.trim())).into_owned())
            .filter(|t| !t.is_empty())
    })
}

impl Directory {
    /// Learns from one event: only sign-ins are read.
    pub fn observe(&mut self, ev: &Event<'_>) {
        if ev.source == SourceKind::EntraSignIn {
            self.observe_sign_in(&ev.raw);
        }
    }

    /// Learns from the raw record of a sign-in (any sign-in shape).
    pub fn observe_sign_in(&mut self, raw: &Value<'_>) {
        if let (Some(oid), Some(upn)) = (text(raw, OID_KEYS), text(raw, UPN_KEYS)) {
            self.add_user(oid, upn);
        }
        for name in sign_in_user_names(raw).into_iter().flatten() {
            if !self.signed_in.contains(&name) {
                self.signed_in.insert(name);
            }
        }
        for (ids, names) in [
            (APP_KEYS, APP_NAME_KEYS),
            (RESOURCE_KEYS, RESOURCE_NAME_KEYS),
        ] {
            if let (Some(id), Some(name)) = (text(raw, ids), text(raw, names)) {
                self.add_app(id, name);
            }
        }
    }

    /// Records that the user object id `oid` signs in as `upn`. When sign-ins disagree (a
    /// renamed user), the text-smallest UPN is kept, so that the result does not depend on
    /// the order records are read in.
    pub fn add_user(&mut self, oid: &str, upn: &str) {
        let oid = ascii_fold(Cow::Borrowed(oid.trim()));
        let upn = ascii_fold(Cow::Borrowed(upn.trim()));
        // Only a UPN names a person better than an object id does.
        if oid.is_empty() || !upn.contains('@') || oid == upn {
            return;
        }
        keep_smallest(&mut self.upn_of, &oid, &upn);
    }

    /// Records an application's display name (the text-smallest when sign-ins disagree).
    pub fn add_app(&mut self, id: &str, name: &str) {
        let id = ascii_fold(Cow::Borrowed(id.trim()));
        let name = name.trim();
        let name = match name.char_indices().nth(MAX_NAME_CHARS) {
            Some((end, _)) => &name[..end],
            None => name,
        };
        if id.is_empty() || name.is_empty() {
            return;
        }
        keep_smallest(&mut self.app_names, &id, name);
    }

    /// Merges another worker's directory.
    pub fn merge(&mut self, other: Directory) {
        for (k, v) in other.upn_of {
            keep_smallest(&mut self.upn_of, &k, &v);
        }
        for (k, v) in other.app_names {
            keep_smallest(&mut self.app_names, &k, &v);
        }
        self.signed_in.extend(other.signed_in);
    }

    /// Every user name (UPN or object id, lower-cased) some sign-in names.
    pub fn signed_in_names(&self) -> impl Iterator<Item = &str> {
        self.signed_in.iter().map(String::as_str)
    }

    /// The one name of a user or mailbox: the UPN for a known object id, else the value
    /// itself, ASCII-lower-cased.
    pub fn resolve<'a>(&'a self, id: &'a str) -> Cow<'a, str> {
        let folded = ascii_fold(Cow::Borrowed(id.trim()));
        match self.upn_of.get(&*folded) {
            Some(upn) => Cow::Borrowed(upn.as_str()),
            None => folded,
        }
    }

    /// The UPN of a user object id, when the sign-ins named it.
    pub fn upn_of(&self, oid: &str) -> Option<&str> {
        self.upn_of
            .get(&*ascii_fold(Cow::Borrowed(oid.trim())))
            .map(String::as_str)
    }

    /// The display name sign-ins give an app id.
    pub fn app_name(&self, id: &str) -> Option<&str> {
        self.app_names
            .get(&*ascii_fold(Cow::Borrowed(id.trim())))
            .map(String::as_str)
    }

    /// Every app id with its display name, sorted by id.
    pub fn app_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.app_names.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of (users mapped, apps named).
    pub fn counts(&self) -> (usize, usize) {
        (self.upn_of.len(), self.app_names.len())
    }
}

/// Inserts `key → value` unless a smaller value is there; allocates only on a change.
fn keep_smallest(map: &mut BTreeMap<String, String>, key: &str, value: &str) {
    match map.get_mut(key) {
        Some(mine) if mine.as_str() <= value => {}
        Some(mine) => *mine = value.to_owned(),
        None => {
            map.insert(key.to_owned(), value.to_owned());
        }
    }
}

/// The first non-blank string among `keys`.
fn text<'v>(raw: &'v Value<'v>, keys: &[&str]) -> Option<&'v str> {
    keys.iter().find_map(|k| {
        raw.path(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::{Fields, Origin};

    fn signin(json: &str) -> Event<'static> {
        Event {
            source: SourceKind::EntraSignIn,
            format: "test",
            origin: Origin {
                path: "s.json",
                line: Some(1),
                offset: 0,
                record_number: None,
            },
            raw: Value::parse_owned(json).unwrap(),
            fields: Fields::default(),
        }
    }

    #[test]
    fn object_ids_resolve_to_upns_whatever_the_case() {
        let mut d = Directory::default();
        d.observe(&signin(
            r#"{"userPrincipalName":"Nestor.Patel3@Contoso.com","userId":"BC45751B-9127-4B06-B565-FE3AAE964F14",
            "appId":"27922004-5251-4030-b22d-91ecd9a37ea4","appDisplayName":"Outlook Mobile",
            "resourceId":"00000002-0000-0ff1-ce00-000000000000","resourceDisplayName":"Office 365 Exchange Online"}"#,
        ));
        assert_eq!(
            d.resolve("bc45751b-9127-4b06-b565-fe3aae964f14"),
            "nestor.patel3@contoso.com"
        );
        assert_eq!(d.resolve("Other@X.com"), "other@x.com");
        assert_eq!(
            d.app_name("27922004-5251-4030-B22D-91ECD9A37EA4"),
            Some("Outlook Mobile")
        );
        assert_eq!(
            d.app_name("00000002-0000-0ff1-ce00-000000000000"),
            Some("Office 365 Exchange Online")
        );
        assert_eq!(d.counts(), (1, 2));
    }

    #[test]
    fn diagnostic_settings_shape_is_read_under_properties() {
        let mut d = Directory::default();
        d.observe(&signin(
            r#"{"category":"SignInLogs","properties":{"userPrincipalName":"a@x.com","userId":"oid-1","appId":"app","appDisplayName":"App"}}"#,
        ));
        assert_eq!(d.upn_of("OID-1"), Some("a@x.com"));
        assert_eq!(d.app_name("app"), Some("App"));
    }

    #[test]
    fn non_sign_ins_and_non_upns_teach_nothing() {
        let mut d = Directory::default();
        let mut ev = signin(r#"{"userPrincipalName":"a@x.com","userId":"oid"}"#);
        ev.source = SourceKind::GraphActivity;
        d.observe(&ev);
        d.observe(&signin(r#"{"userPrincipalName":"oid-2","userId":"oid-2"}"#));
        d.observe(&signin(r#"{"userPrincipalName":"svc","userId":"oid-3"}"#));
        assert_eq!(d.counts(), (0, 0));
    }

    #[test]
    fn merge_is_order_independent() {
        let mut a = Directory::default();
        a.add_user("o", "z@x");
        a.add_app("p", "Zed");
        let mut b = Directory::default();
        b.add_user("o", "a@x");
        b.add_app("p", "Ay");
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        assert_eq!(ab.resolve("o"), "a@x");
    }
}
