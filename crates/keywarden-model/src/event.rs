//! The normalised event: the raw record plus the fields every detector needs.

use std::borrow::Cow;

use serde::Serialize;

use crate::time::Timestamp;
use crate::value::Value;

/// A string field that borrows from the record where it can.
pub type Text<'a> = Cow<'a, str>;

/// What kind of log a record comes from, independent of how it was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SourceKind {
    /// Microsoft 365 Unified Audit Log (Exchange, SharePoint, Entra workloads...).
    UnifiedAuditLog,
    /// Entra ID sign-in logs (interactive, non-interactive, service principal, managed identity).
    EntraSignIn,
    /// Entra ID directory audit logs.
    EntraAudit,
    /// Microsoft Graph activity logs.
    GraphActivity,
    /// Azure activity / resource logs other than the above.
    AzureActivity,
    /// HTTP server access logs.
    HttpAccess,
    /// Windows event logs (EVTX, or exported event rows).
    WindowsEvent,
    /// Microsoft Defender for Endpoint advanced-hunting rows (`DeviceEvents`,
    /// `DeviceProcessEvents`, `DeviceNetworkEvents`...).
    DefenderEndpoint,
    /// Microsoft Defender for Identity advanced-hunting rows (`IdentityDirectoryEvents`,
    /// `IdentityQueryEvents`, `IdentityLogonEvents`).
    DefenderIdentity,
    /// Anything else read as JSON.
    Generic,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::UnifiedAuditLog => "unified-audit-log",
            SourceKind::EntraSignIn => "entra-sign-in",
            SourceKind::EntraAudit => "entra-audit",
            SourceKind::GraphActivity => "graph-activity",
            SourceKind::AzureActivity => "azure-activity",
            SourceKind::HttpAccess => "http-access",
            SourceKind::WindowsEvent => "windows-event",
            SourceKind::DefenderEndpoint => "defender-endpoint",
            SourceKind::DefenderIdentity => "defender-identity",
            SourceKind::Generic => "generic",
        }
    }
}

/// Where a record came from, precisely enough for a person to find it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The input path as given (or `-` for stdin), with `!member` for archive members.
    pub path: &'a str,
    /// 1-based line number, for line-oriented inputs.
    pub line: Option<u64>,
    /// Byte offset of the record's start in the (decompressed) input.
    pub offset: u64,
    /// Record number for formats that number records (EVTX).
    pub record_number: Option<u64>,
}

impl Origin<'_> {
    /// `path:line`, `path@offset` or `path#record`: the reference used when a record has no id.
    pub fn reference(&self) -> String {
        if let Some(n) = self.record_number {
            format!("{}#{}", self.path, n)
        } else if let Some(l) = self.line {
            format!("{}:{}", self.path, l)
        } else {
            format!("{}@{}", self.path, self.offset)
        }
    }
}

/// One message-bearing folder of a `MailItemsAccessed` record.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FolderAccess<'a> {
    pub id: Option<Text<'a>>,
    pub path: Option<Text<'a>>,
    /// `InternetMessageId`s of the items touched (Bind); empty for Sync.
    pub message_ids: Vec<Text<'a>>,
}

/// The fields extracted for detectors. Every field is optional: exports differ, and a missing
/// value means *unknown*, never a default.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Fields<'a> {
    pub time: Option<Timestamp>,
    /// UAL `Id`, sign-in `id`, Graph `requestId`/`operationId`, a Windows event's
    /// `Computer/Channel/EventRecordID@TimeCreated`...
    pub record_id: Option<Text<'a>>,
    /// `OrganizationId`, sign-in `tenantId`...
    pub tenant: Option<Text<'a>>,
    /// UPN (or other user id), ASCII-lower-cased.
    pub user: Option<Text<'a>>,
    pub client_ip: Option<Text<'a>>,
    /// The resource application (`AppId`; sign-in `resourceId`).
    pub app_id: Option<Text<'a>>,
    /// The client application (`ClientAppId`; sign-in `appId`; Graph `appId`).
    pub client_app_id: Option<Text<'a>>,
    pub session_id: Option<Text<'a>>,
    pub token_id: Option<Text<'a>>,
    pub token_issued_at: Option<Timestamp>,
    pub token_tenant: Option<Text<'a>>,
    pub mailbox_guid: Option<Text<'a>>,
    /// `MailboxOwnerUPN`, ASCII-lower-cased.
    pub mailbox_owner: Option<Text<'a>>,
    pub operation: Option<Text<'a>>,
    /// `Bind` or `Sync` for `MailItemsAccessed`.
    pub mail_access_type: Option<Text<'a>>,
    pub throttled: Option<bool>,
    pub folders: Vec<FolderAccess<'a>>,
    /// UAL `LogonType` (0 owner, 1 admin, 2 delegate, 4 system...).
    pub logon_type: Option<i64>,
    pub client_info: Option<Text<'a>>,
    pub user_agent: Option<Text<'a>>,
    /// Sign-in result / HTTP status as text (`0`, `success`, `200`...).
    pub result: Option<Text<'a>>,
    /// `OperationCount` of aggregated UAL records (defaults to 1 when absent).
    pub operation_count: Option<i64>,
    /// Key id (`kid`/`x5t`) of the signing key, where a record logs one.
    pub signing_key_id: Option<Text<'a>>,
    /// For sign-ins: the category (`SignInLogs`, `NonInteractiveUserSignInLogs`...).
    pub category: Option<Text<'a>>,
}

/// A normalised event. `raw` is the canonical record (for a Purview CSV row, the parsed
/// `AuditData`; for EVTX, the record as JSON); `fields` are the extracted values.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub source: SourceKind,
    /// The export shape it was read from (a [`crate::Format`] name such as `purview-csv`).
    pub format: &'static str,
    pub origin: Origin<'a>,
    pub raw: Value<'a>,
    pub fields: Fields<'a>,
}

impl<'a> Event<'a> {
    /// Dotted-path lookup into the raw record (`AppAccessContext.UniqueTokenId`).
    pub fn get(&self, path: &str) -> Option<&Value<'a>> {
        self.raw.path(path)
    }

    /// A hash of the whole record as read (its JSON in document order), the same for the same
    /// record in every run: with the shape, the id and the time it tells a copy of a record
    /// from another record that shares its id (keywarden-detect's `RecordCopies`, the Sigma
    /// correlations' repeats). Two copies whose keys come in another order hash differently
    /// (they then count as two records, the safe direction).
    pub fn content_hash(&self) -> u64 {
        struct HashWriter(siphasher::sip::SipHasher13);
        impl std::io::Write for HashWriter {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::hash::Hasher::write(&mut self.0, buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // SipHash-1-3 with zero keys: the values std's `DefaultHasher::new()` gave when `serve`
        // first saved them (its `seen` list), fixed here for good; std does not promise them
        // across releases.
        let mut w = HashWriter(siphasher::sip::SipHasher13::new_with_keys(0, 0));
        // Writing into a hasher cannot fail; a value that would not serialize hashes what it
        // wrote.
        let _ = serde_json::to_writer(&mut w, &self.raw);
        std::hash::Hasher::finish(&w.0)
    }

    /// The record's id if it has one, else its origin reference (`path:line`).
    pub fn record_ref(&self) -> String {
        match &self.fields.record_id {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => self.origin.reference(),
        }
    }
}

/// Lower-cases ASCII without allocating when the text is already lower-case.
pub fn ascii_fold(s: Text<'_>) -> Text<'_> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        s
    }
}

/// A present, non-empty string value, else `None` (exports use `""` for "unknown").
pub fn non_empty<'a>(v: Option<&Value<'a>>) -> Option<Text<'a>> {
    match v {
        Some(Value::Str(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(v @ (Value::Int(_) | Value::UInt(_))) => {
            v.to_text().map(|c| Cow::Owned(c.into_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ref_falls_back_to_origin() {
        let ev = Event {
            source: SourceKind::Generic,
            format: "json-lines",
            origin: Origin {
                path: "a.jsonl",
                line: Some(7),
                offset: 120,
                record_number: None,
            },
            raw: Value::Null,
            fields: Fields::default(),
        };
        assert_eq!(ev.record_ref(), "a.jsonl:7");
    }

    /// `serve` saves content hashes (its Sigma correlations' `seen` list): a toolchain or
    /// dependency upgrade must not change them, or a repeat saved before it counts again.
    #[test]
    fn content_hashes_are_the_same_in_every_build() {
        let hash = |json: &str| {
            let ev = Event {
                source: SourceKind::UnifiedAuditLog,
                format: "ual-json",
                origin: Origin {
                    path: "a.jsonl",
                    line: Some(1),
                    offset: 0,
                    record_number: None,
                },
                raw: Value::parse(json).unwrap_or(Value::Null),
                fields: Fields::default(),
            };
            ev.content_hash()
        };
        // Both values are what `std::hash::DefaultHasher::new()` gave over the same bytes with
        // Rust 1.95, before the hasher was fixed (the ninth session's `seen` lists hold such
        // values); the second record holds a number and escapes, whose written form is hashed.
        assert_eq!(
            hash(r#"{"Id":"a1","CreationTime":"2023-06-14T01:42:36"}"#),
            9_648_365_739_536_414_529
        );
        assert_eq!(
            hash(r#"{"Id":"a1","CreationTime":"2023-06-14T01:42:36","n":1.5,"s":"a\"b\u00e9"}"#),
            3_498_857_763_952_568_380
        );
    }

    #[test]
    fn folding_and_emptiness() {
        assert_eq!(ascii_fold("Bob@Contoso.COM".into()), "bob@contoso.com");
        assert!(matches!(ascii_fold("bob".into()), Cow::Borrowed(_)));
        assert_eq!(non_empty(Some(&Value::Str("  ".into()))), None);
        assert_eq!(non_empty(Some(&Value::Int(4))).as_deref(), Some("4"));
    }
}
