//! Microsoft Graph activity as Log Analytics `MicrosoftGraphActivityLogs` rows.

use serde_json::{Value, json};

use crate::activity::GraphRequest;
use crate::tenant::Tenant;
use crate::timefmt;

/// The `MicrosoftGraphActivityLogs` row of a request.
pub(crate) fn row(tenant: &Tenant, g: &GraphRequest) -> Value {
    let user = tenant.users.get(g.user);
    let app = tenant.clients.get(g.client);
    let api = if g.uri.contains("/beta/") {
        "beta"
    } else {
        "v1.0"
    };
    json!({
        "TenantId": tenant.id,
        "TimeGenerated": timefmt::render(timefmt::log_analytics, g.time),
        "Location": "West Europe",
        "RequestId": g.id,
        "OperationId": g.id,
        "ClientRequestId": g.token.session,
        "ApiVersion": api,
        "RequestMethod": "GET",
        "ResponseStatusCode": g.status,
        "DurationMs": 180 + (g.id.len() as u32 * 13) % 400,
        "ResponseSizeBytes": 4096 + (g.uri.len() as u32 * 31) % 60_000,
        "SignInActivityId": g.token.id,
        "IPAddress": g.ip,
        "UserAgent": app.map(|a| a.user_agent),
        "RequestUri": g.uri,
        "Roles": "",
        "TokenIssuedAt": timefmt::render(timefmt::log_analytics, g.token.issued_at),
        "AppId": app.map(|a| a.id.as_str()),
        "UserId": user.map(|u| u.object_id.as_str()),
        "ServicePrincipalId": "",
        "Scopes": "Mail.Read User.Read Calendars.Read Chat.Read offline_access",
        "Wids": "b79fbf4d-3ef9-4689-8143-76b194e85509",
        "ClientAuthMethod": 0,
        "SourceSystem": "Azure",
        "Type": "MicrosoftGraphActivityLogs",
    })
}
