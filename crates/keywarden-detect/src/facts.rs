//! [`Facts`]: the few values of an event the detections look at, in one place.
//!
//! Values come from the reader-filled [`Fields`](keywarden_model::Fields) first. When a reader
//! leaves a field empty, a narrow fallback looks up the documented raw key of the shapes that
//! matter here (Management-API UAL, Sentinel `OfficeActivity`, Graph sign-ins, Graph activity),
//! so that a detection never depends on one reader having caught up with a shape.

use std::borrow::Cow;

use keywarden_model::{Event, SourceKind, Timestamp, Value};

use crate::coverage::SignInCategory;

/// `MailItemsAccessed` access kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Bind,
    Sync,
    /// A mail access whose kind is not logged (Graph reads count as message reads).
    Other,
}

/// What kind of record an event is, for the detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sign-in (issues tokens).
    SignIn,
    /// A mailbox read: UAL `MailItemsAccessed` or a Graph mail read.
    MailAccess(Access),
    /// Another UAL or Graph record (may still carry a token).
    Activity,
    /// Anything else (EVTX, HTTP, audit...).
    Other,
}

/// The detection-relevant values of one event.
#[derive(Debug, Clone)]
pub struct Facts<'e> {
    pub role: Role,
    pub source: SourceKind,
    pub time: Option<Timestamp>,
    pub tenant: Option<Cow<'e, str>>,
    /// Acting user, ASCII-lower-cased.
    pub user: Option<Cow<'e, str>>,
    /// Client IP without port or brackets.
    pub ip: Option<Cow<'e, str>>,
    pub app_id: Option<Cow<'e, str>>,
    pub client_app_id: Option<Cow<'e, str>>,
    pub session_id: Option<Cow<'e, str>>,
    pub token_id: Option<Cow<'e, str>>,
    pub token_tenant: Option<Cow<'e, str>>,
    /// Mailbox owner UPN (lower-cased), else mailbox GUID.
    pub mailbox: Option<Cow<'e, str>>,
    pub throttled: bool,
    pub logon_type: Option<i64>,
    pub client_info: Option<Cow<'e, str>>,
    /// `OperationCount` (1 when absent or not positive).
    pub operations: i64,
    pub signing_key: Option<Cow<'e, str>>,
    /// For sign-ins: the category of sign-in log the record belongs to (`None`: a marker
    /// keywarden does not know).
    pub signin_category: Option<SignInCategory>,
    /// The token's `IssuedAtTime` (UAL `AppAccessContext.IssuedAtTime`, Graph `tokenIssuedAt`).
    pub token_issued_at: Option<Timestamp>,
}

static NULL: Value<'static> = Value::Null;

/// `MailItemsAccessed` as logged by Exchange.
pub(crate) const MAIL_ITEMS_ACCESSED: &str = "MailItemsAccessed";
/// The operation the Graph reader gives a `GET` of messages.
pub(crate) const GRAPH_MAIL_READ: &str = "GraphMailRead";

impl<'e> Facts<'e> {
    /// Extracts the facts of one event. Never panics, whatever the record holds.
    pub fn of(ev: &'e Event<'e>) -> Facts<'e> {
        let f = &ev.fields;
        // A reader that extracted the record's identity fields is trusted as a whole; the raw
        // fallback (a linear key scan per lookup) only runs for records no reader understood.
        let trusted = f.operation.is_some()
            || f.user.is_some()
            || f.client_app_id.is_some()
            || f.token_id.is_some();
        let raw: &'e Value<'e> = if trusted { &NULL } else { &ev.raw };
        let ual = ev.source == SourceKind::UnifiedAuditLog;
        let signin = ev.source == SourceKind::EntraSignIn;
        let operation = pick(&f.operation, raw, &["Operation", "ActionType"]);
        let mail = operation
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(MAIL_ITEMS_ACCESSED) || o == GRAPH_MAIL_READ);
        let role = if signin {
            Role::SignIn
        } else if mail {
            let kind = f
                .mail_access_type
                .as_deref()
                .map(Cow::Borrowed)
                .or_else(|| operation_property(raw, "MailAccessType"));
            Role::MailAccess(match kind.as_deref() {
                Some(k) if k.eq_ignore_ascii_case("bind") => Access::Bind,
                Some(k) if k.eq_ignore_ascii_case("sync") => Access::Sync,
                _ => Access::Other,
            })
        } else if ual
            || ev.source == SourceKind::GraphActivity
            // An accepted `keywarden gateway` decision is a use of its token (`uti`).
            || ev.format == keywarden_ingest::Format::GatewayDecision.as_str()
        {
            Role::Activity
        } else {
            Role::Other
        };
        let (app_keys, client_keys): (&[&str], &[&str]) = if ual {
            (&["AppId"], &["ClientAppId"])
        } else if signin {
            (&["resourceId", "ResourceId"], &["appId", "AppId"])
        } else {
            (&["resourceId"], &["AppId", "appId", "ClientAppId"])
        };
        let throttled = f.throttled.unwrap_or_else(|| {
            operation_property(raw, "IsThrottled").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        });
        Facts {
            role,
            source: ev.source,
            time: f.time,
            tenant: pick(&f.tenant, raw, &["OrganizationId", "tenantId", "TenantId"]),
            user: fold(pick(
                &f.user,
                raw,
                &["UserId", "userPrincipalName", "UserPrincipalName"],
            )),
            ip: pick(
                &f.client_ip,
                raw,
                &[
                    "ClientIPAddress",
                    "ClientIP",
                    "Client_IPAddress",
                    "ipAddress",
                    "IPAddress",
                    "IpAddress",
                ],
            )
            .map(strip_port),
            app_id: pick(&f.app_id, raw, app_keys),
            client_app_id: pick(&f.client_app_id, raw, client_keys),
            session_id: pick(
                &f.session_id,
                raw,
                &["SessionId", "AppAccessContext.AADSessionId", "sessionId"],
            ),
            token_id: pick(
                &f.token_id,
                raw,
                &[
                    "AppAccessContext.UniqueTokenId",
                    "uniqueTokenIdentifier",
                    "UniqueTokenIdentifier",
                    "SignInActivityId",
                ],
            ),
            token_tenant: pick(
                &f.token_tenant,
                raw,
                &["TokenTenantId", "AppAccessContext.TokenTenantId"],
            ),
            mailbox: fold(pick(&f.mailbox_owner, raw, &["MailboxOwnerUPN"]))
                .or_else(|| pick(&f.mailbox_guid, raw, &["MailboxGuid"])),
            throttled,
            logon_type: f.logon_type.or_else(|| logon_type(raw)),
            client_info: pick(&f.client_info, raw, &["ClientInfoString"]),
            operations: f
                .operation_count
                .or_else(|| raw.get("OperationCount").and_then(int))
                .filter(|n| *n > 0)
                .unwrap_or(1),
            signing_key: pick(&f.signing_key_id, raw, &["SigningKeyId", "kid", "x5t"]),
            signin_category: if signin {
                SignInCategory::of_record(f.category.as_deref())
            } else {
                None
            },
            token_issued_at: f.token_issued_at,
        }
    }

    /// Whether this is a token-bearing access to a resource (mail or other UAL/Graph activity).
    pub fn is_access(&self) -> bool {
        matches!(self.role, Role::MailAccess(_) | Role::Activity)
    }

    /// The identity doing the access: the user, else the client application.
    pub fn identity(&self) -> Option<&str> {
        self.user.as_deref().or(self.client_app_id.as_deref())
    }
}

/// The folders of a mail access: `(path, message ids)`. Reader fields first, then the raw
/// `Folders` value (an array, or a JSON string holding one, as in Sentinel rows).
pub(crate) fn folders(ev: &Event<'_>) -> Vec<(Option<String>, Vec<String>)> {
    if !ev.fields.folders.is_empty() {
        return ev
            .fields
            .folders
            .iter()
            .map(|f| {
                let ids = f.message_ids.iter().map(|m| m.to_string()).collect();
                (f.path.as_ref().map(|p| p.to_string()), ids)
            })
            .collect();
    }
    let Some(v) = ev.raw.get("Folders") else {
        return Vec::new();
    };
    let parsed;
    let list = match v {
        Value::Str(s) => match Value::parse_owned(s) {
            Ok(p) => {
                parsed = p;
                &parsed
            }
            Err(_) => return Vec::new(),
        },
        other => other,
    };
    list.as_array()
        .unwrap_or(&[])
        .iter()
        .map(|folder| {
            let path = folder
                .get("Path")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let ids = folder
                .get("FolderItems")
                .and_then(Value::as_array)
                .unwrap_or(&[])
                .iter()
                .filter_map(|i| i.get("InternetMessageId").and_then(Value::as_str))
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .collect();
            (path, ids)
        })
        .collect()
}

fn pick<'e>(
    field: &'e Option<Cow<'e, str>>,
    raw: &'e Value<'e>,
    keys: &[&str],
) -> Option<Cow<'e, str>> {
    if let Some(v) = field.as_deref().filter(|v| !v.trim().is_empty()) {
        return Some(Cow::Borrowed(v));
    }
    keys.iter().find_map(|k| match raw.path(k) {
        Some(Value::Str(s)) if !s.trim().is_empty() => Some(Cow::Borrowed(&**s)),
        Some(v @ (Value::Int(_) | Value::UInt(_))) => v.to_text().map(|t| Cow::Owned(t.into())),
        _ => None,
    })
}

fn fold(v: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    v.map(keywarden_model::ascii_fold)
}

fn int(v: &Value<'_>) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `LogonType` as a number; Sentinel's `Logon_Type` names are mapped to their codes.
fn logon_type(raw: &Value<'_>) -> Option<i64> {
    if let Some(n) = raw.get("LogonType").and_then(int) {
        return Some(n);
    }
    match raw.get("Logon_Type").and_then(Value::as_str)? {
        "Owner" => Some(0),
        "Admin" | "Administrator" => Some(1),
        "Delegated" | "Delegate" => Some(2),
        "SystemService" | "System" => Some(4),
        _ => None,
    }
}

/// A named value from `OperationProperties`: an array of `{Name, Value}`, a JSON string of
/// one, or PowerShell's `@{Value=Bind; Name=MailAccessType}` strings.
fn operation_property<'e>(raw: &'e Value<'e>, name: &str) -> Option<Cow<'e, str>> {
    let props = raw.get("OperationProperties")?;
    match props {
        Value::Array(items) => items.iter().find_map(|i| match i {
            Value::Str(s) => powershell_property(s, name).map(|v| Cow::Owned(v.to_owned())),
            other => {
                let n = other.get("Name").and_then(Value::as_str)?;
                if n == name {
                    other
                        .get("Value")
                        .and_then(Value::as_str)
                        .map(Cow::Borrowed)
                } else {
                    None
                }
            }
        }),
        Value::Str(s) => {
            let parsed = Value::parse_owned(s).ok()?;
            parsed.as_array()?.iter().find_map(|i| {
                (i.get("Name").and_then(Value::as_str) == Some(name))
                    .then(|| i.get("Value").and_then(Value::as_str))
                    .flatten()
                    .map(|v| Cow::Owned(v.to_owned()))
            })
        }
        _ => None,
    }
}

fn powershell_property<'s>(s: &'s str, name: &str) -> Option<&'s str> {
    let body = s.trim().strip_prefix("@{")?.strip_suffix('}')?;
    let mut value = None;
    let mut matched = false;
    for part in body.split(';') {
        let (k, v) = part.split_once('=')?;
        match k.trim() {
            "Name" => matched = v.trim() == name,
            "Value" => value = Some(v.trim()),
            _ => {}
        }
    }
    if matched { value } else { None }
}

/// `1.2.3.4:5678` → `1.2.3.4`; `[::1]:443` → `::1`; a bare IPv6 address is kept.
pub(crate) fn strip_port(ip: Cow<'_, str>) -> Cow<'_, str> {
    let t = ip.trim();
    if let Some(rest) = t.strip_prefix('[')
        && let Some((addr, _)) = rest.split_once(']')
    {
        return Cow::Owned(addr.to_owned());
    }
    if t.matches(':').count() == 1
        && let Some((addr, _)) = t.split_once(':')
    {
        return Cow::Owned(addr.to_owned());
    }
    if t.len() == ip.len() {
        ip
    } else {
        Cow::Owned(t.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::{Fields, Origin};

    fn event(raw: Value<'static>, source: SourceKind) -> Event<'static> {
        Event {
            source,
            format: "test",
            origin: Origin {
                path: "t.jsonl",
                line: Some(1),
                offset: 0,
                record_number: None,
            },
            raw,
            fields: Fields::default(),
        }
    }

    #[test]
    fn sentinel_row_falls_back_to_raw_keys() {
        let raw = Value::parse_owned(
            r#"{"Operation":"MailItemsAccessed","OrganizationId":"T","Client_IPAddress":"1.2.3.4:443",
            "UserId":"Bob@X.com","MailboxOwnerUPN":"Bob@X.com","Logon_Type":"Owner",
            "OperationProperties":"[{\"Name\":\"MailAccessType\",\"Value\":\"Bind\"},{\"Name\":\"IsThrottled\",\"Value\":\"True\"}]",
            "Folders":"[{\"Path\":\"\\\\Inbox\",\"FolderItems\":[{\"InternetMessageId\":\"<a@b>\"}]}]",
            "AppId":"00000003-0000-0000-c000-000000000000","ClientAppId":"C"}"#,
        )
        .unwrap();
        let ev = event(raw, SourceKind::UnifiedAuditLog);
        let f = Facts::of(&ev);
        assert_eq!(f.role, Role::MailAccess(Access::Bind));
        assert!(f.throttled);
        assert_eq!(f.ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(f.user.as_deref(), Some("bob@x.com"));
        assert_eq!(f.logon_type, Some(0));
        assert_eq!(f.client_app_id.as_deref(), Some("C"));
        let folders = folders(&ev);
        assert_eq!(folders.len(), 1);
        assert_eq!(folders[0].0.as_deref(), Some("\\Inbox"));
        assert_eq!(folders[0].1, vec!["<a@b>".to_string()]);
    }

    #[test]
    fn powershell_operation_properties() {
        let raw = Value::parse_owned(
            r#"{"Operation":"MailItemsAccessed","OperationProperties":["@{Value=Sync; Name=MailAccessType}","@{Value=False; Name=IsThrottled}"]}"#,
        )
        .unwrap();
        let ev = event(raw, SourceKind::UnifiedAuditLog);
        let f = Facts::of(&ev);
        assert_eq!(f.role, Role::MailAccess(Access::Sync));
        assert!(!f.throttled);
    }

    #[test]
    fn empty_token_ids_are_absent_and_ports_strip() {
        let raw = Value::parse_owned(
            r#"{"Operation":"X","AppAccessContext":{"UniqueTokenId":"  "},"ClientIP":"[2001:db8::1]:80"}"#,
        )
        .unwrap();
        let ev = event(raw, SourceKind::UnifiedAuditLog);
        let f = Facts::of(&ev);
        assert_eq!(f.token_id, None);
        assert_eq!(f.role, Role::Activity);
        assert_eq!(f.ip.as_deref(), Some("2001:db8::1"));
        assert_eq!(strip_port("2001:db8::2".into()), "2001:db8::2");
    }

    #[test]
    fn sign_in_client_is_app_id() {
        let raw = Value::parse_owned(
            r#"{"appId":"client","resourceId":"res","uniqueTokenIdentifier":"tok","userPrincipalName":"A@B"}"#,
        )
        .unwrap();
        let ev = event(raw, SourceKind::EntraSignIn);
        let f = Facts::of(&ev);
        assert_eq!(f.role, Role::SignIn);
        assert_eq!(f.client_app_id.as_deref(), Some("client"));
        assert_eq!(f.app_id.as_deref(), Some("res"));
        assert_eq!(f.token_id.as_deref(), Some("tok"));
    }
}
