//! Microsoft Graph activity as Log Analytics `MicrosoftGraphActivityLogs` rows.

use serde::Serialize;

use crate::activity::GraphRequest;
use crate::tenant::Tenant;
use crate::timefmt;

/// One `MicrosoftGraphActivityLogs` row (Log Analytics column names).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GraphRow<'a> {
    /// The Log Analytics workspace.
    tenant_id: &'a str,
    /// The Entra tenant.
    aad_tenant_id: &'a str,
    time_generated: String,
    location: &'static str,
    request_id: &'a str,
    operation_id: &'a str,
    client_request_id: &'a str,
    api_version: &'static str,
    request_method: &'static str,
    response_status_code: u16,
    duration_ms: u32,
    response_size_bytes: u32,
    sign_in_activity_id: &'a str,
    #[serde(rename = "IPAddress")]
    ip_address: &'a str,
    session_id: &'a str,
    identity_provider: String,
    user_agent: Option<&'a str>,
    request_uri: &'a str,
    roles: &'static str,
    token_issued_at: String,
    app_id: Option<&'a str>,
    user_id: Option<&'a str>,
    service_principal_id: &'a str,
    scopes: &'static str,
    wids: &'static str,
    client_auth_method: u32,
    source_system: &'static str,
    #[serde(rename = "Type")]
    kind: &'static str,
}

/// The `MicrosoftGraphActivityLogs` row of a request.
pub(crate) fn row<'a>(tenant: &'a Tenant, g: &'a GraphRequest) -> GraphRow<'a> {
    let app = tenant.clients.get(g.client);
    GraphRow {
        tenant_id: &tenant.workspace_id,
        aad_tenant_id: &tenant.id,
        time_generated: timefmt::render(timefmt::log_analytics, g.time),
        location: "West Europe",
        request_id: &g.id,
        operation_id: &g.id,
        client_request_id: &g.token.session,
        api_version: if g.uri.contains("/beta/") {
            "beta"
        } else {
            "v1.0"
        },
        request_method: "GET",
        response_status_code: g.status,
        duration_ms: 180 + (g.id.len() as u32 * 13) % 400,
        response_size_bytes: 4096 + (g.uri.len() as u32 * 31) % 60_000,
        sign_in_activity_id: &g.token.id,
        ip_address: &g.ip,
        session_id: &g.token.session,
        identity_provider: format!("https://sts.windows.net/{}/", g.token.tenant),
        user_agent: app.map(|a| a.user_agent),
        request_uri: &g.uri,
        roles: if g.service_principal.is_some() {
            "Mail.Read"
        } else {
            ""
        },
        token_issued_at: timefmt::render(timefmt::log_analytics, g.token.issued_at),
        app_id: app.map(|a| a.id.as_str()),
        user_id: match g.service_principal {
            Some(_) => None,
            None => tenant.users.get(g.user).map(|u| u.object_id.as_str()),
        },
        service_principal_id: g.service_principal.as_deref().unwrap_or(""),
        scopes: if g.service_principal.is_some() {
            ""
        } else {
            "Mail.Read User.Read Calendars.Read Chat.Read offline_access"
        },
        wids: if g.service_principal.is_some() {
            ""
        } else {
            "b79fbf4d-3ef9-4689-8143-76b194e85509"
        },
        client_auth_method: 0,
        source_system: "Azure",
        kind: "MicrosoftGraphActivityLogs",
    }
}
