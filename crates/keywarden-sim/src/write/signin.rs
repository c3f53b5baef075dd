//! Entra sign-ins: the Graph `signIn` object (what a `auditLogs/signIns` page's `value` holds
//! and what a diagnostic-settings record's `properties` hold) and the diagnostic-settings
//! envelope around it, shaped like Elastic's `azure.signinlogs` fixture.

use serde_json::{Value, json};

use crate::activity::SignIn;
use crate::tenant::{EXCHANGE_APP, Tenant};
use crate::timefmt;

fn resource_name(id: &str) -> &'static str {
    if id == EXCHANGE_APP {
        "Office 365 Exchange Online"
    } else {
        "Microsoft Graph"
    }
}

/// The Graph `signIn` object.
pub(crate) fn object(tenant: &Tenant, s: &SignIn) -> Value {
    let user = tenant.users.get(s.user);
    let app = tenant.clients.get(s.client);
    let created = timefmt::render(timefmt::zulu, s.time);
    json!({
        "id": s.id,
        "createdDateTime": created,
        "userDisplayName": user.map(|u| u.display_name.as_str()),
        "userPrincipalName": user.map(|u| u.upn.as_str()),
        "userId": user.map(|u| u.object_id.as_str()),
        "appId": app.map(|a| a.id.as_str()),
        "appDisplayName": app.map(|a| a.name.as_str()),
        "ipAddress": s.ip,
        "clientAppUsed": if s.interactive { "Browser" } else { "Mobile Apps and Desktop clients" },
        "correlationId": s.correlation_id,
        "conditionalAccessStatus": "success",
        "isInteractive": s.interactive,
        "signInEventTypes": [if s.interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "authenticationRequirement": if s.interactive { "multiFactorAuthentication" } else { "singleFactorAuthentication" },
        "tokenIssuerType": "AzureAD",
        "tokenIssuerName": "",
        "incomingTokenType": if s.interactive { "none" } else { "primaryRefreshToken" },
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "resourceDisplayName": resource_name(s.resource),
        "resourceId": s.resource,
        "resourceTenantId": tenant.id,
        "homeTenantId": s.token.tenant,
        "uniqueTokenIdentifier": s.token.id,
        "sessionId": s.token.session,
        "userAgent": app.map(|a| a.user_agent),
        "userType": "Member",
        "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": if s.interactive { "MFA completed in Azure AD" } else { "MFA requirement satisfied by claim in the token" }},
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows 10", "browser": "Edge 114.0.1823", "isCompliant": false, "isManaged": false, "trustType": ""},
        "location": {"city": s.city, "state": "", "countryOrRegion": s.country, "geoCoordinates": {}},
        "appliedConditionalAccessPolicies": [],
        "authenticationProcessingDetails": [{"key": "Is CAE Token", "value": "False"}],
    })
}

/// The diagnostic-settings record (`category`, `properties`) of a sign-in.
pub(crate) fn diagnostic(tenant: &Tenant, s: &SignIn) -> Value {
    let user = tenant.users.get(s.user);
    json!({
        "time": timefmt::render(timefmt::log_analytics, s.time),
        "resourceId": format!("/tenants/{}/providers/Microsoft.aadiam", tenant.id),
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": category(s),
        "tenantId": tenant.id,
        "resultType": "0",
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": s.ip,
        "correlationId": s.correlation_id,
        "identity": user.map(|u| u.display_name.as_str()),
        "Level": 4,
        "location": s.country,
        "properties": object(tenant, s),
    })
}

/// `SignInLogs` or `NonInteractiveUserSignInLogs`.
pub(crate) fn category(s: &SignIn) -> &'static str {
    if s.interactive {
        "SignInLogs"
    } else {
        "NonInteractiveUserSignInLogs"
    }
}
