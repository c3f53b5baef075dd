//! Directory changes that hand an attacker an application's mail access, and the AD FS key
//! theft that precedes a Golden SAML forgery, recognised in single records.
//!
//! [`Change::of`] reads Entra audit records (Log Analytics `AuditLogs` rows, Graph
//! `directoryAudits`) and the Defender `CloudAppEvents` rows of the same operations:
//! credentials added to an application or service principal, permissions granted (or
//! requested) that reach mail, admin consent, and domain federation changes (a new
//! token-signing certificate trusted). [`KeyTheft::of`] reads the AD FS key theft signals:
//! the DKM key read over LDAP (Security 4662 on the DKM contact's `thumbnailPhoto`, Defender
//! `LdapSearch` under `CN=ADFS,CN=Microsoft,CN=Program Data`), directory replication requested
//! by a host (Defender for Identity `Directory Services replication`), the AD FS
//! configuration database read for its signing certificate (WID audit 33205 on
//! `ServiceSettings`) and certificate exports (CertificateServicesClient 1007).
//!
//! Both are rare records, kept whole (owned) by the scan: memory grows with directory
//! changes, not with events. Nothing here panics on any input.

use std::collections::BTreeSet;

use keywarden_model::{Event, SourceKind, Timestamp, Value};
use serde::Serialize;

/// What a directory change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A password or certificate credential added to an application or service principal.
    CredentialAdded,
    /// Delegated or application permissions granted (or requested) that reach mail.
    MailPermission,
    /// An administrator consented to an application for the whole tenant.
    AdminConsent,
    /// Domain federation settings changed (a new token-signing certificate trusted).
    FederationChanged,
}

/// One directory change, with the names of the application it touched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub time: Option<Timestamp>,
    /// The record's id (or `path:line`).
    pub record: String,
    /// The input holding it.
    pub input: String,
    pub operation: String,
    /// Who made the change (UPN, lower-cased, else object id / app id).
    pub actor: Option<String>,
    pub tenant: Option<String>,
    /// Ids, app ids and display names of the client application (lower-cased).
    pub app: Vec<String>,
    /// The application's display name as logged.
    pub app_name: Option<String>,
    /// Mail-reaching permissions named by the change.
    pub permissions: Vec<String>,
    /// `granted`, `requested`, `consented`, `added`, `federation`.
    pub how: &'static str,
}

/// Delegated and application permissions that reach mail.
const MAIL_SCOPES: &[&str] = &[
    "mail.read",
    "mail.readbasic",
    "mail.readbasic.all",
    "mail.read.all",
    "mail.readwrite",
    "mail.readwrite.all",
    "mail.read.shared",
    "mail.readwrite.shared",
    "mailboxsettings.readwrite",
    "full_access_as_app",
    "full_access_as_user",
    "ews.accessasuser.all",
    "exchange.manageasapp",
    "imap.accessasuser.all",
    "pop.accessasuser.all",
];

/// Microsoft Graph permission ids of the mail scopes, as an `Update application`
/// `RequiredResourceAccess` names them (`EntitlementId`).
const MAIL_SCOPE_IDS: &[(&str, &str)] = &[
    ("570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Mail.Read"),
    ("024d486e-b451-40bb-833d-3e66d98c5c73", "Mail.ReadWrite"),
    ("a4b8392a-d8d1-4954-a029-8e668a39a170", "Mail.ReadBasic"),
    (
        "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
        "Mail.Read (application)",
    ),
    (
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
        "Mail.ReadWrite (application)",
    ),
    ("693c5e45-0940-467d-9b8a-1022fb9d42ef", "Mail.ReadBasic.All"),
    (
        "9769c687-087d-48ac-9cb3-c37dde652038",
        "EWS.AccessAsUser.All",
    ),
    ("dc890d15-9560-4a4c-9b7f-a736ec74ec40", "full_access_as_app"),
];

/// The DKM container of AD FS in Active Directory.
const DKM_CONTAINER: &str = "cn=adfs,cn=microsoft,cn=program data";
/// `thumbnailPhoto`, the attribute holding the DKM key.
const THUMBNAIL_PHOTO: &str = "8d3bca50-1d7e-11d0-a081-00aa006c33ed";
/// The `contact` class, the DKM key object's.
const CONTACT_CLASS: &str = "5cb41ed0-0e4c-11d0-a286-00aa003049e2";

impl Change {
    /// The directory change a record logs, if any.
    pub fn of(ev: &Event<'_>) -> Option<Change> {
        let op = ev.fields.operation.as_deref()?.trim();
        let audit = ev.source == SourceKind::EntraAudit;
        let cloud_app = ev.format == "defender-cloud-app-events";
        if !audit && !cloud_app {
            return None;
        }
        if let Some(result) = ev.fields.result.as_deref()
            && !(result.eq_ignore_ascii_case("success") || result.eq_ignore_ascii_case("0"))
        {
            return None;
        }
        let lower = op.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        let targets = targets(&ev.raw);
        let props = modified(&targets);
        let (kind, how, app, permissions) = if lower.contains("certificates and secrets")
            || lower == "add service principal credentials"
            || (lower.starts_with("update application")
                && props
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("KeyDescription")))
        {
            (
                ChangeKind::CredentialAdded,
                "added",
                first_target(&targets, &props),
                Vec::new(),
            )
        } else if lower == "add delegated permission grant"
            || lower == "add app role assignment to service principal"
            || lower == "update delegated permission grant"
        {
            let granted = permission_values(&props, ev);
            let mail = mail_scopes(&granted);
            if mail.is_empty() {
                return None;
            }
            (
                ChangeKind::MailPermission,
                "granted",
                grant_client(&targets, &props),
                mail,
            )
        } else if lower == "consent to application" {
            let consent = props
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("ConsentAction.Permissions"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let admin = props.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("ConsentContext.IsAdminConsent")
                    && v.to_ascii_lowercase().contains("true")
            });
            let mail = mail_scopes(&[consent]);
            let kind = if admin {
                ChangeKind::AdminConsent
            } else if !mail.is_empty() {
                ChangeKind::MailPermission
            } else {
                return None;
            };
            (kind, "consented", consent_client(&targets, &props), mail)
        } else if lower.starts_with("update application") {
            let requested: Vec<String> = props
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("RequiredResourceAccess"))
                .flat_map(|(_, v)| {
                    let v = v.to_ascii_lowercase();
                    MAIL_SCOPE_IDS
                        .iter()
                        .filter(move |(id, _)| v.contains(id))
                        .map(|(_, name)| name.to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            let old_new = props
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("RequiredResourceAccess.old"))
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default();
            let added: Vec<String> = requested
                .into_iter()
                .filter(|name| {
                    MAIL_SCOPE_IDS
                        .iter()
                        .find(|(_, n)| n == name)
                        .is_none_or(|(id, _)| !old_new.contains(id))
                })
                .collect();
            if added.is_empty() {
                return None;
            }
            (
                ChangeKind::MailPermission,
                "requested",
                first_target(&targets, &props),
                dedup(added),
            )
        } else if lower.contains("federation settings")
            || lower == "set domain authentication"
            || lower == "set federation settings on domain"
        {
            (
                ChangeKind::FederationChanged,
                "federation",
                first_target(&targets, &props),
                Vec::new(),
            )
        } else {
            return None;
        };
        // The logged display name of the app: a target's, or the grant's client property.
        let app_name = targets
            .iter()
            .filter_map(|t| text(t.get("displayName")))
            .chain(
                props
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("ServicePrincipal.DisplayName"))
                    .map(|(_, v)| v.clone()),
            )
            .find(|d| app.iter().any(|a| a.eq_ignore_ascii_case(d)));
        Some(Change {
            kind,
            time: ev.fields.time,
            record: ev.record_ref(),
            input: ev.origin.path.to_string(),
            operation: op.to_string(),
            actor: actor(ev),
            tenant: ev.fields.tenant.as_deref().map(str::to_string),
            app: dedup(app.into_iter().map(|a| a.to_ascii_lowercase()).collect()),
            app_name,
            permissions,
            how,
        })
    }
}

/// An AD FS key theft signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TheftSignal {
    /// The DKM key (AD FS's configuration encryption key) read over LDAP.
    DkmKeyRead,
    /// Directory replication (DCSync) requested by a host that is not a domain controller.
    ReplicationFromNonDc,
    /// The AD FS configuration database read for its token-signing certificate.
    AdfsConfigRead,
    /// A certificate with its private key exported.
    CertificateExport,
}

/// One key theft record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyTheft {
    pub signal: TheftSignal,
    pub time: Option<Timestamp>,
    pub record: String,
    pub input: String,
    /// The host the signal was logged on or came from.
    pub host: Option<String>,
    pub actor: Option<String>,
    /// For replication: the host asked (a domain controller).
    pub destination: Option<String>,
    pub detail: String,
}

impl KeyTheft {
    /// The key theft signal a record logs, if any.
    pub fn of(ev: &Event<'_>) -> Option<KeyTheft> {
        let raw = &ev.raw;
        let op = ev.fields.operation.as_deref().unwrap_or("");
        let (signal, host, actor, destination, detail) = match ev.source {
            SourceKind::DefenderEndpoint if op == "LdapSearch" => {
                let dn = text(raw.path("AdditionalFields.DistinguishedName"))?;
                if !dn.to_ascii_lowercase().contains(DKM_CONTAINER) {
                    return None;
                }
                (
                    TheftSignal::DkmKeyRead,
                    text(raw.get("DeviceName")),
                    ev.fields.user.as_deref().map(str::to_string),
                    None,
                    format!("LDAP search of {dn}"),
                )
            }
            SourceKind::DefenderIdentity
                if op.eq_ignore_ascii_case("Directory Services replication") =>
            {
                let from = text(raw.path("AdditionalFields.FROM.DEVICE"))
                    .or_else(|| text(raw.get("DeviceName")));
                let to = text(raw.path("AdditionalFields.TO.DEVICE"))
                    .or_else(|| text(raw.get("DestinationDeviceName")));
                (
                    TheftSignal::ReplicationFromNonDc,
                    from,
                    ev.fields.user.as_deref().map(str::to_string),
                    to,
                    "Directory Services replication (DRSUAPI GetNCChanges)".to_string(),
                )
            }
            SourceKind::WindowsEvent => {
                let id = event_id(raw)?;
                match id {
                    4662 => {
                        let props = text(raw.get("Properties"))?.to_ascii_lowercase();
                        let class = text(raw.get("ObjectType"))
                            .map(|c| c.to_ascii_lowercase())
                            .unwrap_or_default();
                        if !(props.contains(THUMBNAIL_PHOTO)
                            && (class.contains(CONTACT_CLASS) || props.contains(CONTACT_CLASS)))
                        {
                            return None;
                        }
                        (
                            TheftSignal::DkmKeyRead,
                            text(raw.get("Computer")),
                            text(raw.get("SubjectUserName"))
                                .or_else(|| text(raw.get("Account")))
                                .map(|a| a.to_ascii_lowercase()),
                            None,
                            "thumbnailPhoto of a contact object read (Security 4662)".to_string(),
                        )
                    }
                    33205 => {
                        let body = text(raw.get("ParameterXml"))
                            .or_else(|| text(raw.get("EventData_string")))
                            .or_else(|| text(raw.get("Data")))?;
                        let lower = body.to_ascii_lowercase();
                        if !(lower.contains("adfsconfiguration")
                            && lower.contains("servicesettings"))
                        {
                            return None;
                        }
                        let who = lower
                            .split("server_principal_name:")
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                            .map(str::to_string);
                        (
                            TheftSignal::AdfsConfigRead,
                            text(raw.get("Computer")),
                            who,
                            None,
                            "AD FS configuration database ServiceSettings read (WID audit 33205)"
                                .to_string(),
                        )
                    }
                    1007 => {
                        let channel = text(raw.get("Channel"))
                            .or_else(|| text(raw.get("EventLog")))
                            .unwrap_or_default();
                        if !channel.contains("CertificateServicesClient") {
                            return None;
                        }
                        (
                            TheftSignal::CertificateExport,
                            text(raw.get("Computer")),
                            text(raw.get("UserName")).map(|a| a.to_ascii_lowercase()),
                            None,
                            "certificate exported (CertificateServicesClient 1007)".to_string(),
                        )
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(KeyTheft {
            signal,
            time: ev.fields.time,
            record: ev.record_ref(),
            input: ev.origin.path.to_string(),
            host: host.map(|h| h.to_ascii_lowercase()),
            actor,
            destination: destination.map(|d| d.to_ascii_lowercase()),
            detail,
        })
    }
}

/// What the scan keeps of directory records: the changes, the key theft signals, and the
/// display names mail-access rows give client apps (Defender `CloudAppEvents` names the app
/// that acted: `AccountDisplayName` when `AccountObjectId` is the `OAuthAppId`).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub changes: Vec<Change>,
    pub thefts: Vec<KeyTheft>,
    /// `(client app id, display name)`, both lower-cased.
    pub app_names: BTreeSet<(String, String)>,
}

impl Directory {
    /// Folds one event in (cheap for the events that are none of the above).
    pub fn observe(&mut self, ev: &Event<'_>, client_app_id: Option<&str>, mail: bool) {
        match ev.source {
            SourceKind::EntraAudit => self.changes.extend(Change::of(ev)),
            SourceKind::UnifiedAuditLog if ev.format == "defender-cloud-app-events" => {
                if mail {
                    self.name_app(ev, client_app_id);
                } else {
                    self.changes.extend(Change::of(ev));
                }
            }
            SourceKind::WindowsEvent
            | SourceKind::DefenderEndpoint
            | SourceKind::DefenderIdentity => self.thefts.extend(KeyTheft::of(ev)),
            _ => {}
        }
    }

    fn name_app(&mut self, ev: &Event<'_>, client_app_id: Option<&str>) {
        let Some(client) = client_app_id else {
            return;
        };
        let acting =
            text(ev.raw.get("AccountObjectId")).is_some_and(|a| a.eq_ignore_ascii_case(client));
        if let (true, Some(name)) = (acting, text(ev.raw.get("AccountDisplayName"))) {
            let pair = (client.to_ascii_lowercase(), name.to_ascii_lowercase());
            if !self.app_names.contains(&pair) {
                self.app_names.insert(pair);
            }
        }
    }

    pub fn merge(&mut self, other: Directory) {
        self.changes.extend(other.changes);
        self.thefts.extend(other.thefts);
        self.app_names.extend(other.app_names);
    }

    /// Sorts by time then record, so that results do not depend on worker order.
    pub fn sort(&mut self) {
        self.changes
            .sort_by(|a, b| (a.time, &a.record, &a.input).cmp(&(b.time, &b.record, &b.input)));
        self.changes
            .dedup_by(|a, b| a.record == b.record && a.input == b.input && a.kind == b.kind);
        self.thefts
            .sort_by(|a, b| (a.time, &a.record, &a.input).cmp(&(b.time, &b.record, &b.input)));
        self.thefts
            .dedup_by(|a, b| a.record == b.record && a.input == b.input && a.signal == b.signal);
    }
}

/// `TargetResources` (or Graph `targetResources`) as a list.
fn targets<'v, 'a>(raw: &'v Value<'a>) -> Vec<&'v Value<'a>> {
    ["TargetResources", "targetResources"]
        .iter()
        .find_map(|k| raw.get(k).and_then(Value::as_array))
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// `(displayName, newValue)` of every modified property of every target, plus
/// `(name + ".old", oldValue)`; JSON-string quoting removed.
fn modified(targets: &[&Value<'_>]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in targets {
        let props = ["modifiedProperties", "ModifiedProperties"]
            .iter()
            .find_map(|k| t.get(k).and_then(Value::as_array));
        for p in props.into_iter().flatten() {
            let Some(name) = text(p.get("displayName")) else {
                continue;
            };
            if let Some(v) = text(p.get("newValue")) {
                out.push((name.clone(), unquote(&v)));
            }
            if let Some(v) = text(p.get("oldValue")) {
                out.push((format!("{name}.old"), unquote(&v)));
            }
        }
    }
    out
}

/// The first target's id and display name, plus an `AppId` property.
fn first_target(targets: &[&Value<'_>], props: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = targets.first().map(|t| ids_of(t)).unwrap_or_default();
    out.extend(
        props
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("AppId") || n.eq_ignore_ascii_case("AppId.new"))
            .map(|(_, v)| v.clone()),
    );
    out.retain(|s| !s.is_empty());
    out
}

/// The client of a permission grant: the `ServicePrincipal.*` properties and the targets
/// after the first (which is the resource, such as Microsoft Graph).
fn grant_client(targets: &[&Value<'_>], props: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = props
        .iter()
        .filter(|(n, _)| {
            [
                "ServicePrincipal.ObjectID",
                "ServicePrincipal.DisplayName",
                "ServicePrincipal.AppId",
            ]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k))
        })
        .map(|(_, v)| v.clone())
        .collect();
    for t in targets.iter().skip(1) {
        out.extend(ids_of(t));
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The client of a consent: the first target and the app ids among its service principal
/// names.
fn consent_client(targets: &[&Value<'_>], props: &[(String, String)]) -> Vec<String> {
    let mut out = first_target(targets, props);
    for (n, v) in props {
        if n.eq_ignore_ascii_case("TargetId.ServicePrincipalNames") {
            out.extend(
                v.split(';')
                    .filter(|s| looks_like_id(s))
                    .map(str::to_string),
            );
        }
    }
    out
}

fn ids_of(t: &Value<'_>) -> Vec<String> {
    ["id", "displayName", "appId"]
        .iter()
        .filter_map(|k| text(t.get(k)))
        .collect()
}

/// The permission text of a grant: its scope / app role properties, or the Defender
/// `Permissions` column.
fn permission_values(props: &[(String, String)], ev: &Event<'_>) -> Vec<String> {
    let mut out: Vec<String> = props
        .iter()
        .filter(|(n, _)| {
            n.eq_ignore_ascii_case("DelegatedPermissionGrant.Scope")
                || n.eq_ignore_ascii_case("AppRole.Value")
        })
        .map(|(_, v)| v.clone())
        .collect();
    out.extend(text(ev.raw.get("Permissions")));
    out
}

/// The mail scopes named in permission texts (`User.Read Mail.ReadWrite`, `Scope: Mail.Read,`).
fn mail_scopes(texts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in texts {
        for word in t.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '"') {
            let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            if MAIL_SCOPES.contains(&w.to_ascii_lowercase().as_str()) {
                out.push(w.to_string());
            }
        }
    }
    dedup(out)
}

fn actor(ev: &Event<'_>) -> Option<String> {
    if let Some(u) = ev.fields.user.as_deref() {
        return Some(u.to_ascii_lowercase());
    }
    [
        "InitiatedBy.user.id",
        "initiatedBy.user.id",
        "InitiatedBy.app.displayName",
        "initiatedBy.app.displayName",
        "AccountObjectId",
    ]
    .iter()
    .find_map(|p| text(ev.raw.path(p)))
    .map(|a| a.to_ascii_lowercase())
}

fn event_id(raw: &Value<'_>) -> Option<i64> {
    match raw.get("EventID")? {
        Value::Str(s) => s.trim().parse().ok(),
        Value::Object(o) => o
            .get("#text")
            .and_then(|t| t.as_i64().or_else(|| t.as_str()?.trim().parse().ok())),
        v => v.as_i64(),
    }
}

fn text(v: Option<&Value<'_>>) -> Option<String> {
    keywarden_model::non_empty(v).map(|t| t.trim().to_string())
}

/// `"\"User.Read\""` → `User.Read`.
fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').to_string()
}

/// A GUID-like id (hex and dashes, 32 hex digits).
pub(crate) fn looks_like_id(s: &str) -> bool {
    let hex = s.bytes().filter(u8::is_ascii_hexdigit).count();
    hex == 32 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(x.to_ascii_lowercase()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::{Fields, Origin};

    fn audit(json: &str, op: &str) -> Event<'static> {
        let raw = Value::parse_owned(json).expect("test json");
        Event {
            source: SourceKind::EntraAudit,
            format: "entra-audit",
            origin: Origin {
                path: "a.json",
                line: Some(1),
                offset: 0,
                record_number: None,
            },
            raw,
            fields: Fields {
                operation: Some(op.to_string().into()),
                user: Some("admin@x.com".into()),
                record_id: Some("r1".into()),
                ..Fields::default()
            },
        }
    }

    #[test]
    fn delegated_grant_of_mail_scope_names_its_client() {
        let ev = audit(
            r#"{"TargetResources":[{"id":"graph-sp","displayName":"Microsoft Graph","modifiedProperties":[{"displayName":"DelegatedPermissionGrant.Scope","oldValue":"\"User.Read\"","newValue":"\"User.Read Mail.ReadWrite\""},{"displayName":"ServicePrincipal.ObjectID","oldValue":null,"newValue":"\"0d2f5969-011b-460d-ac74-3291d227d49f\""}]},{"id":"0d2f5969-011b-460d-ac74-3291d227d49f","displayName":null}]}"#,
            "Add delegated permission grant",
        );
        let c = Change::of(&ev).expect("a change");
        assert_eq!(c.kind, ChangeKind::MailPermission);
        assert_eq!(c.permissions, ["Mail.ReadWrite"]);
        assert_eq!(c.app, ["0d2f5969-011b-460d-ac74-3291d227d49f"]);
        assert_eq!(c.actor.as_deref(), Some("admin@x.com"));
    }

    #[test]
    fn grants_without_mail_scopes_and_failures_are_not_changes() {
        let json = r#"{"TargetResources":[{"id":"g","modifiedProperties":[{"displayName":"DelegatedPermissionGrant.Scope","newValue":"\"User.Read openid\""}]}]}"#;
        assert_eq!(
            Change::of(&audit(json, "Add delegated permission grant")),
            None
        );
        let mut ev = audit(
            r#"{"TargetResources":[{"id":"a","displayName":"App","type":"Application"}]}"#,
            "Update application – Certificates and secrets management ",
        );
        assert!(Change::of(&ev).is_some());
        ev.fields.result = Some("failure".into());
        assert_eq!(Change::of(&ev), None);
    }

    #[test]
    fn admin_consent_and_requested_scopes() {
        let consent = audit(
            r#"{"TargetResources":[{"id":"sp1","displayName":"Reader","modifiedProperties":[{"displayName":"ConsentContext.IsAdminConsent","newValue":"\"True\""},{"displayName":"ConsentAction.Permissions","newValue":"\"[] => [[Id: x, ClientId: y, Scope: Mail.Read User.Read, ]]\""},{"displayName":"TargetId.ServicePrincipalNames","newValue":"\"3f1b2c4d-0000-4000-8000-00000000abcd;https://reader\""}]}]}"#,
            "Consent to application",
        );
        let c = Change::of(&consent).expect("consent");
        assert_eq!(c.kind, ChangeKind::AdminConsent);
        assert_eq!(c.permissions, ["Mail.Read"]);
        assert!(
            c.app
                .contains(&"3f1b2c4d-0000-4000-8000-00000000abcd".to_string())
        );
        assert_eq!(c.app_name.as_deref(), Some("Reader"));
        let requested = audit(
            r#"{"TargetResources":[{"id":"obj","displayName":"SimuLandApp","modifiedProperties":[{"displayName":"RequiredResourceAccess","oldValue":"[{\"EntitlementId\":\"e1fe6dd8-ba31-4d61-89e7-88639da4683d\"}]","newValue":"[{\"EntitlementId\":\"e1fe6dd8-ba31-4d61-89e7-88639da4683d\"},{\"EntitlementId\":\"024d486e-b451-40bb-833d-3e66d98c5c73\"}]"}]}]}"#,
            "Update application",
        );
        let c = Change::of(&requested).expect("requested");
        assert_eq!((c.kind, c.how), (ChangeKind::MailPermission, "requested"));
        assert_eq!(c.permissions, ["Mail.ReadWrite"]);
    }

    #[test]
    fn dkm_read_in_security_4662() {
        let raw = Value::parse_owned(
            r#"{"EventID":4662,"Computer":"DC01","SubjectUserName":"wardog","ObjectType":"%{5cb41ed0-0e4c-11d0-a286-00aa003049e2}","Properties":"%%7684 {8d3bca50-1d7e-11d0-a081-00aa006c33ed}"}"#,
        )
        .expect("json");
        let ev = Event {
            source: SourceKind::WindowsEvent,
            format: "windows-event-json",
            origin: Origin {
                path: "w.json",
                line: Some(3),
                offset: 0,
                record_number: None,
            },
            raw,
            fields: Fields::default(),
        };
        let k = KeyTheft::of(&ev).expect("signal");
        assert_eq!(k.signal, TheftSignal::DkmKeyRead);
        assert_eq!(k.host.as_deref(), Some("dc01"));
        assert_eq!(k.record, "w.json:3");
    }
}
