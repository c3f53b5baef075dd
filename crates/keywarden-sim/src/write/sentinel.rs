//! Microsoft Sentinel `OfficeActivity` rows: the UAL record with Log Analytics' renamed
//! columns (`OfficeId`, `Client_IPAddress`, `Logon_Type` as a name, `OfficeWorkload`,
//! `TimeGenerated`), string-typed numbers and booleans, and the nested members (`Folders`,
//! `OperationProperties`, `AppAccessContext`, `ExtendedProperties`...) as JSON strings — the
//! way the OTRF Golden SAML lab export writes them.

use serde_json::{Value, json};

use super::ual::{DirectoryRecord, MailRecord, logon_type_name};
use crate::tenant::Tenant;
use crate::timefmt;
use keywarden_model::Timestamp;

/// A JSON member written as a string column; `Value::Null` when it cannot be encoded.
fn as_string<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_string(v).map_or(Value::Null, Value::String)
}

/// The `OfficeActivity` row of a `MailItemsAccessed` record.
pub(crate) fn mail_row(tenant: &Tenant, r: &MailRecord<'_>, time: Timestamp) -> Value {
    let generated = timefmt::render(timefmt::log_analytics, time);
    let mut row = json!({
        "TenantId": tenant.id,
        "SourceSystem": "OfficeActivityManager",
        "TimeGenerated": generated,
        "Operation": r.operation,
        "OrganizationId": r.organization_id,
        "RecordType": r.record_type.to_string(),
        "UserType": if r.user_type == 0 { "Regular" } else { "System" },
        "UserKey": r.user_key,
        "OfficeWorkload": r.workload,
        "ResultStatus": r.result_status,
        "OfficeId": r.id,
        "SourceRecordId": r.id,
        "UserId": r.user_id,
        "ClientIP": r.client_ip,
        "Client_IPAddress": r.client_ip_address,
        "ExternalAccess": "False",
        "OriginatingServer": r.originating_server,
        "OrganizationName": r.organization_name,
        "Logon_Type": logon_type_name(r.logon_type),
        "MailboxGuid": r.mailbox_guid,
        "MailboxOwnerUPN": r.mailbox_owner_upn,
        "MailboxOwnerSid": r.mailbox_owner_sid,
        "LogonUserSid": r.logon_user_sid,
        "ClientInfoString": r.client_info_string,
        "Folders": as_string(&r.folders),
        "OperationProperties": as_string(&r.operation_properties),
        "AppId": r.app_id,
        "ClientAppId": r.client_app_id,
        "OperationCount": r.operation_count.to_string(),
        "Start_Time": timefmt::render(timefmt::zulu, time),
        "OfficeTenantId": r.organization_id,
        "Type": "OfficeActivity",
    });
    if let Some(o) = row.as_object_mut() {
        if let Some(ctx) = &r.app_access_context {
            o.insert("AppAccessContext".into(), as_string(ctx));
        }
        if let Some(t) = r.token_tenant_id {
            o.insert("TokenTenantId".into(), Value::String(t.to_string()));
        }
        if let Some(s) = r.session_id {
            o.insert("SessionId".into(), Value::String(s.to_string()));
        }
    }
    row
}

/// The `OfficeActivity` row of an Entra directory operation.
pub(crate) fn directory_row(tenant: &Tenant, r: &DirectoryRecord<'_>, time: Timestamp) -> Value {
    json!({
        "TenantId": tenant.id,
        "SourceSystem": "OfficeActivityManager",
        "TimeGenerated": timefmt::render(timefmt::log_analytics, time),
        "Operation": r.operation,
        "OrganizationId": r.organization_id,
        "RecordType": r.record_type.to_string(),
        "UserType": "Regular",
        "UserKey": r.user_key,
        "OfficeWorkload": r.workload,
        "ResultStatus": r.result_status,
        "OfficeId": r.id,
        "SourceRecordId": r.id,
        "UserId": r.user_id,
        "ClientIP": r.client_ip,
        "OfficeObjectId": r.object_id,
        "AzureActiveDirectory_EventType": r.azure_active_directory_event_type.to_string(),
        "ExtendedProperties": as_string(&r.extended_properties),
        "ModifiedProperties": as_string(&r.modified_properties),
        "Actor": as_string(&r.actor),
        "ActorContextId": r.actor_context_id,
        "TargetContextId": r.target_context_id,
        "Start_Time": timefmt::render(timefmt::zulu, time),
        "OfficeTenantId": r.organization_id,
        "Type": "OfficeActivity",
    })
}
