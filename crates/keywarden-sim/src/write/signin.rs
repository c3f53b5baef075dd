//! Entra sign-ins: the Graph `signIn` object (what a `auditLogs/signIns` page's `value` holds
//! and what a diagnostic-settings record's `properties` hold) and the diagnostic-settings
//! envelope around it, shaped like Elastic's `azure.signinlogs` fixture.

use serde::Serialize;

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
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInObject<'a> {
    id: &'a str,
    created_date_time: String,
    user_display_name: Option<&'a str>,
    user_principal_name: Option<&'a str>,
    user_id: Option<&'a str>,
    app_id: Option<&'a str>,
    app_display_name: Option<&'a str>,
    ip_address: &'a str,
    client_app_used: &'static str,
    correlation_id: &'a str,
    conditional_access_status: &'static str,
    is_interactive: bool,
    sign_in_event_types: [&'static str; 1],
    authentication_requirement: &'static str,
    token_issuer_type: &'static str,
    token_issuer_name: &'static str,
    incoming_token_type: &'static str,
    risk_detail: &'static str,
    risk_level_aggregated: &'static str,
    risk_level_during_sign_in: &'static str,
    risk_state: &'static str,
    resource_display_name: &'static str,
    resource_id: &'a str,
    resource_tenant_id: &'a str,
    home_tenant_id: &'a str,
    /// Left out when empty (`no-token-ids`: exporters that drop it).
    #[serde(skip_serializing_if = "str::is_empty")]
    unique_token_identifier: &'a str,
    session_id: &'a str,
    user_agent: Option<&'a str>,
    user_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_principal_name: Option<&'a str>,
    status: Status,
    device_detail: DeviceDetail,
    location: Location<'a>,
    applied_conditional_access_policies: [(); 0],
    authentication_processing_details: [KeyValue; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    error_code: u32,
    failure_reason: &'static str,
    additional_details: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceDetail {
    device_id: &'static str,
    display_name: &'static str,
    operating_system: &'static str,
    browser: &'static str,
    is_compliant: bool,
    is_managed: bool,
    trust_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    city: &'a str,
    state: &'static str,
    country_or_region: &'a str,
    geo_coordinates: Empty,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct KeyValue {
    key: &'static str,
    value: &'static str,
}

pub(crate) fn object<'a>(tenant: &'a Tenant, s: &'a SignIn) -> SignInObject<'a> {
    let sp = s.service_principal.as_deref();
    let user = tenant.users.get(s.user).filter(|_| sp.is_none());
    let app = tenant.clients.get(s.client);
    let i = s.interactive;
    SignInObject {
        id: &s.id,
        created_date_time: timefmt::render(timefmt::zulu, s.time),
        user_display_name: user.map(|u| u.display_name.as_str()),
        user_principal_name: user.map(|u| u.upn.as_str()),
        user_id: user.map(|u| u.object_id.as_str()),
        app_id: app.map(|a| a.id.as_str()),
        app_display_name: app.map(|a| a.name.as_str()),
        ip_address: &s.ip,
        client_app_used: if i {
            "Browser"
        } else {
            "Mobile Apps and Desktop clients"
        },
        correlation_id: &s.correlation_id,
        conditional_access_status: "success",
        is_interactive: i,
        sign_in_event_types: [match (sp, i) {
            (Some(_), _) => "servicePrincipal",
            (None, true) => "interactiveUser",
            (None, false) => "nonInteractiveUser",
        }],
        authentication_requirement: if i {
            "multiFactorAuthentication"
        } else {
            "singleFactorAuthentication"
        },
        token_issuer_type: "AzureAD",
        token_issuer_name: "",
        incoming_token_type: if i { "none" } else { "primaryRefreshToken" },
        risk_detail: "none",
        risk_level_aggregated: "none",
        risk_level_during_sign_in: "none",
        risk_state: "none",
        resource_display_name: resource_name(s.resource),
        resource_id: s.resource,
        resource_tenant_id: &tenant.id,
        home_tenant_id: &s.token.tenant,
        unique_token_identifier: &s.token.id,
        session_id: &s.token.session,
        user_agent: app.map(|a| a.user_agent),
        user_type: if sp.is_some() { "" } else { "Member" },
        service_principal_id: sp,
        service_principal_name: sp.and(app.map(|a| a.name.as_str())),
        status: Status {
            error_code: 0,
            failure_reason: "Other.",
            additional_details: if i {
                "MFA completed in Azure AD"
            } else {
                "MFA requirement satisfied by claim in the token"
            },
        },
        device_detail: DeviceDetail {
            device_id: "",
            display_name: "",
            operating_system: "Windows 10",
            browser: "Edge 114.0.1823",
            is_compliant: false,
            is_managed: false,
            trust_type: "",
        },
        location: Location {
            city: s.city,
            state: "",
            country_or_region: s.country,
            geo_coordinates: Empty {},
        },
        applied_conditional_access_policies: [],
        authentication_processing_details: [KeyValue {
            key: "Is CAE Token",
            value: "False",
        }],
    }
}

/// The diagnostic-settings record (`category`, `properties`) of a sign-in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiagnosticRecord<'a> {
    time: String,
    resource_id: String,
    operation_name: &'static str,
    operation_version: &'static str,
    category: &'static str,
    tenant_id: &'a str,
    result_type: &'static str,
    result_signature: &'static str,
    duration_ms: u32,
    caller_ip_address: &'a str,
    correlation_id: &'a str,
    identity: Option<&'a str>,
    #[serde(rename = "Level")]
    level: u32,
    location: &'a str,
    properties: SignInObject<'a>,
}

pub(crate) fn diagnostic<'a>(tenant: &'a Tenant, s: &'a SignIn) -> DiagnosticRecord<'a> {
    DiagnosticRecord {
        time: timefmt::render(timefmt::log_analytics, s.time),
        resource_id: format!("/tenants/{}/providers/Microsoft.aadiam", tenant.id),
        operation_name: "Sign-in activity",
        operation_version: "1.0",
        category: category(s),
        tenant_id: &tenant.id,
        result_type: "0",
        result_signature: "None",
        duration_ms: 0,
        caller_ip_address: &s.ip,
        correlation_id: &s.correlation_id,
        identity: match &s.service_principal {
            Some(_) => tenant.clients.get(s.client).map(|a| a.name.as_str()),
            None => tenant.users.get(s.user).map(|u| u.display_name.as_str()),
        },
        level: 4,
        location: s.country,
        properties: object(tenant, s),
    }
}

/// `SignInLogs`, `NonInteractiveUserSignInLogs` or `ServicePrincipalSignInLogs`.
pub(crate) fn category(s: &SignIn) -> &'static str {
    if s.service_principal.is_some() {
        "ServicePrincipalSignInLogs"
    } else if s.interactive {
        "SignInLogs"
    } else {
        "NonInteractiveUserSignInLogs"
    }
}
