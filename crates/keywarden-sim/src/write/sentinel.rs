//! Microsoft Sentinel `OfficeActivity` rows: the UAL record with Log Analytics' renamed
//! columns (`OfficeId`, `Client_IPAddress`, `Logon_Type` as a name, `OfficeWorkload`,
//! `TimeGenerated`), string-typed numbers and booleans, and the nested members (`Folders`,
//! `OperationProperties`, `AppAccessContext`, `ExtendedProperties`...) as JSON strings — the
//! way the OTRF Golden SAML lab export writes them.

use keywarden_model::Timestamp;
use serde::Serialize;

use super::ual::{DirectoryRecord, MailRecord, logon_type_name};
use crate::tenant::Tenant;
use crate::timefmt;

/// A JSON member written as a string column.
fn as_string<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The columns every `OfficeActivity` row has.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Common<'a> {
    /// The Log Analytics workspace (the Entra tenant is `OrganizationId`).
    tenant_id: &'a str,
    source_system: &'static str,
    time_generated: String,
    operation: &'a str,
    organization_id: &'a str,
    record_type: String,
    user_type: &'static str,
    user_key: &'a str,
    office_workload: &'static str,
    result_status: &'static str,
    office_id: &'a str,
    source_record_id: &'a str,
    user_id: &'a str,
    #[serde(rename = "ClientIP")]
    client_ip: &'a str,
    #[serde(rename = "Start_Time")]
    start_time: String,
    office_tenant_id: &'a str,
    #[serde(rename = "Type")]
    kind: &'static str,
}

/// A `MailItemsAccessed` row.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MailRow<'a> {
    #[serde(flatten)]
    common: Common<'a>,
    #[serde(rename = "Client_IPAddress")]
    client_ip_address: &'a str,
    external_access: &'static str,
    originating_server: &'a str,
    organization_name: &'a str,
    #[serde(rename = "Logon_Type")]
    logon_type: &'static str,
    mailbox_guid: &'a str,
    #[serde(rename = "MailboxOwnerUPN")]
    mailbox_owner_upn: &'a str,
    mailbox_owner_sid: &'a str,
    logon_user_sid: &'a str,
    client_info_string: &'a str,
    folders: String,
    operation_properties: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_access_context: Option<String>,
    app_id: &'a str,
    client_app_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    operation_count: String,
}

/// An Entra directory operation row.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DirectoryRow<'a> {
    #[serde(flatten)]
    common: Common<'a>,
    office_object_id: &'a str,
    #[serde(rename = "AzureActiveDirectory_EventType")]
    event_type: String,
    extended_properties: String,
    modified_properties: String,
    actor: String,
    actor_context_id: &'a str,
    target_context_id: &'a str,
}

#[allow(clippy::too_many_arguments)]
fn common<'a>(
    tenant: &'a Tenant,
    time: Timestamp,
    operation: &'a str,
    record_type: u32,
    regular: bool,
    user_key: &'a str,
    workload: &'static str,
    result_status: &'static str,
    id: &'a str,
    user_id: &'a str,
    client_ip: &'a str,
) -> Common<'a> {
    Common {
        tenant_id: &tenant.workspace_id,
        source_system: "OfficeActivityManager",
        time_generated: timefmt::render(timefmt::log_analytics, time),
        operation,
        organization_id: &tenant.id,
        record_type: record_type.to_string(),
        user_type: if regular { "Regular" } else { "System" },
        user_key,
        office_workload: workload,
        result_status,
        office_id: id,
        source_record_id: id,
        user_id,
        client_ip,
        start_time: timefmt::render(timefmt::zulu, time),
        office_tenant_id: &tenant.id,
        kind: "OfficeActivity",
    }
}

/// The `OfficeActivity` row of a `MailItemsAccessed` record.
pub(crate) fn mail_row<'a>(
    tenant: &'a Tenant,
    r: &'a MailRecord<'a>,
    time: Timestamp,
) -> MailRow<'a> {
    MailRow {
        common: common(
            tenant,
            time,
            r.operation,
            r.record_type,
            r.user_type == 0,
            r.user_key,
            r.workload,
            r.result_status,
            r.id,
            r.user_id,
            r.client_ip,
        ),
        client_ip_address: r.client_ip_address,
        external_access: "False",
        originating_server: r.originating_server,
        organization_name: r.organization_name,
        logon_type: logon_type_name(r.logon_type),
        mailbox_guid: r.mailbox_guid,
        mailbox_owner_upn: r.mailbox_owner_upn,
        mailbox_owner_sid: r.mailbox_owner_sid,
        logon_user_sid: r.logon_user_sid,
        client_info_string: r.client_info_string,
        folders: as_string(&r.folders),
        operation_properties: as_string(&r.operation_properties),
        app_access_context: r.app_access_context.as_ref().map(as_string),
        app_id: r.app_id,
        client_app_id: r.client_app_id,
        token_tenant_id: r.token_tenant_id,
        session_id: r.session_id,
        operation_count: r.operation_count.to_string(),
    }
}

/// The `OfficeActivity` row of an Entra directory operation.
pub(crate) fn directory_row<'a>(
    tenant: &'a Tenant,
    r: &'a DirectoryRecord<'a>,
    time: Timestamp,
) -> DirectoryRow<'a> {
    DirectoryRow {
        common: common(
            tenant,
            time,
            r.operation,
            r.record_type,
            true,
            &r.user_key,
            r.workload,
            r.result_status,
            r.id,
            r.user_id,
            r.client_ip,
        ),
        office_object_id: r.object_id,
        event_type: r.azure_active_directory_event_type.to_string(),
        extended_properties: as_string(&r.extended_properties),
        modified_properties: as_string(&r.modified_properties),
        actor: as_string(&r.actor),
        actor_context_id: r.actor_context_id,
        target_context_id: r.target_context_id,
    }
}
