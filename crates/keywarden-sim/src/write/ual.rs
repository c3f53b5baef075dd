//! Unified Audit Log records in the Management Activity API shape: what `ual-json` lines hold
//! and what a Purview CSV's `AuditData` column quotes.

use serde::Serialize;

use crate::activity::{Actor, DirectoryOp, MailAccess, MailAccessKind};
use crate::tenant::Tenant;
use crate::timefmt;

/// `MailItemsAccessed` (`RecordType` 50, `ExchangeItemAggregated`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MailRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_access_context: Option<AppAccessContext<'a>>,
    pub creation_time: String,
    pub id: &'a str,
    pub operation: &'static str,
    pub organization_id: &'a str,
    pub record_type: u32,
    pub result_status: &'static str,
    pub user_key: &'a str,
    pub user_type: u32,
    pub version: u32,
    pub workload: &'static str,
    #[serde(rename = "ClientIP")]
    pub client_ip: &'a str,
    pub user_id: &'a str,
    pub app_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub client_app_id: &'a str,
    #[serde(rename = "ClientIPAddress")]
    pub client_ip_address: &'a str,
    pub client_info_string: &'a str,
    pub external_access: bool,
    pub internal_logon_type: i64,
    pub logon_type: i64,
    pub logon_user_sid: &'a str,
    pub mailbox_guid: &'a str,
    pub mailbox_owner_sid: &'a str,
    #[serde(rename = "MailboxOwnerUPN")]
    pub mailbox_owner_upn: &'a str,
    pub operation_properties: [NameValue; 2],
    pub organization_name: &'a str,
    pub originating_server: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_object_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    pub folders: Vec<FolderRecord<'a>>,
    pub operation_count: u32,
}

#[derive(Serialize)]
pub(crate) struct AppAccessContext<'a> {
    #[serde(rename = "AADSessionId")]
    pub aad_session_id: &'a str,
    #[serde(rename = "IssuedAtTime")]
    pub issued_at_time: String,
    #[serde(rename = "UniqueTokenId")]
    pub unique_token_id: &'a str,
}

#[derive(Serialize)]
pub(crate) struct NameValue {
    #[serde(rename = "Name")]
    pub name: &'static str,
    #[serde(rename = "Value")]
    pub value: &'static str,
}

#[derive(Serialize)]
pub(crate) struct FolderRecord<'a> {
    #[serde(rename = "FolderItems", skip_serializing_if = "Option::is_none")]
    pub folder_items: Option<Vec<FolderItem<'a>>>,
    #[serde(rename = "Id")]
    pub id: &'a str,
    #[serde(rename = "Path")]
    pub path: &'a str,
}

#[derive(Serialize)]
pub(crate) struct FolderItem<'a> {
    #[serde(rename = "InternetMessageId")]
    pub internet_message_id: &'a str,
    #[serde(rename = "SizeInBytes")]
    pub size_in_bytes: u32,
}

/// `LogonType` names as Sentinel writes them in `Logon_Type`.
pub(crate) fn logon_type_name(code: i64) -> &'static str {
    match code {
        0 => "Owner",
        1 => "Admin",
        2 => "Delegate",
        4 => "SystemService",
        _ => "BestAccess",
    }
}

const SYSTEM_USER: &str = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";
const SERVER: &str = "PH0PR22MB3046 (15.20.6500.020)\r\n";

/// The UAL record of a `MailItemsAccessed` activity.
pub(crate) fn mail_record<'a>(tenant: &'a Tenant, m: &'a MailAccess) -> MailRecord<'a> {
    let owner = tenant.users.get(m.mailbox);
    let (acting, token) = match &m.actor {
        Actor::User { user, token } => (tenant.users.get(*user), token.as_ref()),
        Actor::System => (None, None),
    };
    let client = m.client.and_then(|c| tenant.clients.get(c));
    let folders = owner
        .map(|o| folder_records(o, &m.access))
        .unwrap_or_default();
    MailRecord {
        app_access_context: token.map(|t| AppAccessContext {
            aad_session_id: &t.session,
            issued_at_time: timefmt::render(timefmt::ual, t.issued_at),
            unique_token_id: &t.id,
        }),
        creation_time: timefmt::render(timefmt::ual, m.time),
        id: &m.id,
        operation: "MailItemsAccessed",
        organization_id: &tenant.id,
        record_type: 50,
        result_status: "Succeeded",
        user_key: acting.map(|u| u.puid.as_str()).unwrap_or("S-1-5-18"),
        user_type: if acting.is_some() { 0 } else { 2 },
        version: 1,
        workload: "Exchange",
        client_ip: &m.client_ip,
        user_id: acting.map(|u| u.upn.as_str()).unwrap_or(SYSTEM_USER),
        app_id: m.resource,
        client_app_id: client.map(|c| c.id.as_str()).unwrap_or(""),
        client_ip_address: &m.client_ip,
        client_info_string: m
            .client_info
            .or(client.map(|c| c.client_info))
            .unwrap_or(""),
        external_access: false,
        internal_logon_type: 0,
        logon_type: m.logon_type,
        logon_user_sid: acting.map(|u| u.sid.as_str()).unwrap_or("S-1-5-18"),
        mailbox_guid: owner.map(|o| o.mailbox_guid.as_str()).unwrap_or(""),
        mailbox_owner_sid: owner.map(|o| o.sid.as_str()).unwrap_or(""),
        mailbox_owner_upn: owner.map(|o| o.upn.as_str()).unwrap_or(""),
        operation_properties: [
            NameValue {
                name: "MailAccessType",
                value: m.access.as_str(),
            },
            NameValue {
                name: "IsThrottled",
                value: if m.throttled { "True" } else { "False" },
            },
        ],
        organization_name: &tenant.org_name,
        originating_server: SERVER,
        session_id: token.map(|t| t.session.as_str()),
        token_object_id: token.and(acting.map(|u| u.object_id.as_str())),
        token_tenant_id: token.map(|t| t.tenant.as_str()),
        token_type: token.map(|_| "V1"),
        folders,
        operation_count: m.operation_count,
    }
}

fn folder_records<'a>(
    owner: &'a crate::tenant::User,
    access: &'a MailAccessKind,
) -> Vec<FolderRecord<'a>> {
    match access {
        MailAccessKind::Bind(items) => items
            .iter()
            .filter_map(|(f, ids)| {
                let folder = owner.folders.get(*f)?;
                Some(FolderRecord {
                    folder_items: Some(
                        ids.iter()
                            .map(|id| FolderItem {
                                internet_message_id: id,
                                size_in_bytes: 2048 + (id.len() as u32 * 97) % 90_000,
                            })
                            .collect(),
                    ),
                    id: &folder.id,
                    path: &folder.path,
                })
            })
            .collect(),
        MailAccessKind::Sync(folders) => folders
            .iter()
            .filter_map(|f| {
                let folder = owner.folders.get(*f)?;
                Some(FolderRecord {
                    folder_items: None,
                    id: &folder.id,
                    path: &folder.path,
                })
            })
            .collect(),
    }
}

/// An Entra directory operation as the UAL logs it (`RecordType` 8).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DirectoryRecord<'a> {
    pub creation_time: String,
    pub id: &'a str,
    pub operation: &'static str,
    pub organization_id: &'a str,
    pub record_type: u32,
    pub result_status: &'static str,
    pub user_key: String,
    pub user_type: u32,
    pub version: u32,
    pub workload: &'static str,
    #[serde(rename = "ClientIP")]
    pub client_ip: &'a str,
    pub object_id: &'a str,
    pub user_id: &'a str,
    pub azure_active_directory_event_type: u32,
    pub extended_properties: Vec<OwnedNameValue>,
    pub modified_properties: Vec<serde_json::Value>,
    pub actor: Vec<IdType<'a>>,
    pub actor_context_id: &'a str,
    pub target: Vec<IdType<'a>>,
    pub target_context_id: &'a str,
}

#[derive(Serialize)]
pub(crate) struct OwnedNameValue {
    #[serde(rename = "Name")]
    pub name: &'static str,
    #[serde(rename = "Value")]
    pub value: String,
}

#[derive(Serialize)]
pub(crate) struct IdType<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    #[serde(rename = "Type")]
    pub kind: u32,
}

pub(crate) fn directory_record<'a>(tenant: &'a Tenant, d: &'a DirectoryOp) -> DirectoryRecord<'a> {
    let actor = tenant.users.get(d.actor);
    let app = tenant.clients.get(d.target);
    let app_id = app.map(|a| a.id.as_str()).unwrap_or("");
    let app_name = app.map(|a| a.name.as_str()).unwrap_or("");
    let upn = actor.map(|u| u.upn.as_str()).unwrap_or("");
    let modified = match d.operation {
        "Consent to application." => vec![
            serde_json::json!({"Name": "ConsentContext.IsAdminConsent", "NewValue": "True", "OldValue": ""}),
            serde_json::json!({"Name": "ConsentAction.Permissions", "NewValue": format!("[] => [[Id: {app_id}, ClientId: {app_id}, ConsentType: AllPrincipals, Scope: Mail.Read User.Read offline_access]]; "), "OldValue": ""}),
        ],
        "Add delegated permission grant." => vec![
            serde_json::json!({"Name": "DelegatedPermissionGrant.Scope", "NewValue": "Mail.Read User.Read offline_access", "OldValue": ""}),
            serde_json::json!({"Name": "DelegatedPermissionGrant.ConsentType", "NewValue": "AllPrincipals", "OldValue": ""}),
        ],
        _ => vec![
            serde_json::json!({"Name": "AccountEnabled", "NewValue": "[\r\n  true\r\n]", "OldValue": "[]"}),
            serde_json::json!({"Name": "DisplayName", "NewValue": format!("[\r\n  \"{app_name}\"\r\n]"), "OldValue": "[]"}),
            serde_json::json!({"Name": "AppPrincipalId", "NewValue": format!("[\r\n  \"{app_id}\"\r\n]"), "OldValue": "[]"}),
        ],
    };
    DirectoryRecord {
        creation_time: timefmt::render(timefmt::ual, d.time),
        id: &d.id,
        operation: d.operation,
        organization_id: &tenant.id,
        record_type: 8,
        result_status: "Success",
        user_key: format!(
            "{}@{}",
            actor.map(|u| u.puid.as_str()).unwrap_or(""),
            tenant.id
        ),
        user_type: 0,
        version: 1,
        workload: "AzureActiveDirectory",
        client_ip: &d.ip,
        object_id: app_id,
        user_id: upn,
        azure_active_directory_event_type: 1,
        extended_properties: vec![
            OwnedNameValue {
                name: "additionalDetails",
                value: format!("{{\"AppId\":\"{app_id}\"}}"),
            },
            OwnedNameValue {
                name: "extendedAuditEventCategory",
                value: "ServicePrincipal".into(),
            },
        ],
        modified_properties: modified,
        actor: vec![IdType { id: upn, kind: 5 }],
        actor_context_id: &tenant.id,
        target: vec![
            IdType {
                id: app_id,
                kind: 2,
            },
            IdType {
                id: app_name,
                kind: 1,
            },
        ],
        target_context_id: &tenant.id,
    }
}
