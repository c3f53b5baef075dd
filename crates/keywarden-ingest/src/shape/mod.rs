//! Record shapes: recognising which export a JSON record comes from ([`classify`]) and
//! extracting keywarden's [`Fields`](keywarden_model::Fields) from it ([`normalise`]).
//!
//! Containers (JSON lines, arrays, Graph pages, Event Hub envelopes, CSV, EVTX) are handled in
//! `crate::container`; by the time a record reaches this module it is one JSON object.

pub(crate) mod common;
pub(crate) mod defender;
pub(crate) mod defender_tables;
pub(crate) mod diagnostic;
pub(crate) mod embedded;
pub(crate) mod entra_audit;
pub(crate) mod gateway;
pub(crate) mod generic;
pub(crate) mod graph;
pub(crate) mod http;
pub(crate) mod mail;
pub mod notes;
pub(crate) mod powershell;
pub(crate) mod sentinel;
pub(crate) mod signin;
pub(crate) mod ual;
pub(crate) mod ual_search;
pub(crate) mod windows;

use keywarden_model::{Event, Origin, Value};

use crate::format::Format;
use crate::reject::RejectReason;

/// Decides the shape of one JSON record from its keys. Cheap: a few key probes.
pub fn classify(raw: &Value<'_>) -> Format {
    let Some(o) = raw.as_object() else {
        return Format::Json;
    };
    if let Some(t) = o.get("Type").and_then(Value::as_str) {
        match t {
            "OfficeActivity" => return Format::SentinelOfficeActivity,
            "SigninLogs"
            | "AADNonInteractiveUserSignInLogs"
            | "AADServicePrincipalSignInLogs"
            | "AADManagedIdentitySignInLogs" => return Format::SignInLogAnalytics,
            "MicrosoftGraphActivityLogs" => return Format::GraphActivity,
            "AuditLogs" => return Format::EntraAudit,
            "CloudAppEvents" => return Format::DefenderCloudAppEvents,
            "SecurityEvent" | "WindowsEvent" | "Event" => return Format::WindowsEventJson,
            _ => {}
        }
    }
    // Azure resource-log schema; `properties` of any kind (a damaged one is rejected there).
    if o.get("category").is_some_and(|c| c.as_str().is_some()) && o.get("properties").is_some() {
        return Format::AzureDiagnostic;
    }
    if let Some(table) = defender_tables::table(o) {
        return table;
    }
    if o.get("OfficeWorkload").is_some() && o.get("TimeGenerated").is_some() {
        return Format::SentinelOfficeActivity;
    }
    if o.get("CreationTime").is_some()
        && o.get("Operation").is_some()
        && o.get("RecordType").is_some()
    {
        return Format::UalJson;
    }
    if ual_search::looks_like_search_result(o) {
        return Format::UalSearchJson;
    }
    if o.get("createdDateTime").is_some()
        && (o.get("uniqueTokenIdentifier").is_some()
            || (o.get("userPrincipalName").is_some() && o.get("appId").is_some()))
    {
        return Format::SignInGraph;
    }
    if o.get("TimeGenerated").is_some()
        && o.get("ResultType").is_some()
        && (o.get("UserPrincipalName").is_some() || o.get("ServicePrincipalId").is_some())
    {
        return Format::SignInLogAnalytics;
    }
    if signin::looks_like_powershell_sign_in(o) {
        return Format::SignInGraph;
    }
    if o.get("RequestUri").is_some() && o.get("SignInActivityId").is_some() {
        return Format::GraphActivity;
    }
    if (o.get("activityDateTime").is_some() && o.get("activityDisplayName").is_some())
        || (o.get("ActivityDateTime").is_some() && o.get("ActivityDisplayName").is_some())
        || (o.get("OperationName").is_some()
            && o.get("InitiatedBy").is_some()
            && o.get("TargetResources").is_some())
    {
        return Format::EntraAudit;
    }
    if gateway::looks_like_decision(o) {
        return Format::GatewayDecision;
    }
    if http::looks_like_http_json(o) {
        return Format::HttpJson;
    }
    if windows::looks_like_windows_json(o) {
        return Format::WindowsEventJson;
    }
    Format::Json
}

/// Turns one JSON record of shape `format` into an event.
///
/// A record that is valid JSON but lacks what its shape requires is rejected, never guessed at;
/// a record that is merely sparse becomes an event with `None` fields.
pub fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    if raw.as_object().is_none() {
        return Err(RejectReason::NotAnObject {
            found: common::json_kind(&raw),
        });
    }
    match format {
        Format::UalJson | Format::UalSearchCsv | Format::PurviewCsv | Format::PurviewCsvLegacy => {
            ual::normalise(format, raw, origin)
        }
        Format::UalSearchJson => ual_search::normalise(raw, origin),
        Format::SentinelOfficeActivity => sentinel::normalise(raw, origin),
        Format::DefenderCloudAppEvents => defender::normalise(raw, origin),
        Format::DefenderDeviceEvents
        | Format::DefenderDeviceProcessEvents
        | Format::DefenderDeviceNetworkEvents
        | Format::DefenderDeviceFileEvents
        | Format::DefenderDeviceRegistryEvents
        | Format::DefenderDeviceLogonEvents
        | Format::DefenderDeviceImageLoadEvents
        | Format::DefenderIdentityDirectoryEvents
        | Format::DefenderIdentityQueryEvents
        | Format::DefenderIdentityLogonEvents => defender_tables::normalise(format, raw, origin),
        Format::SignInGraph | Format::SignInLogAnalytics => signin::normalise(format, raw, origin),
        Format::AzureDiagnostic => diagnostic::normalise(raw, origin),
        Format::GraphActivity => graph::normalise(format, raw, origin),
        Format::EntraAudit => entra_audit::normalise(format, raw, origin),
        Format::HttpJson | Format::HttpCombined => http::normalise(format, raw, origin),
        Format::WindowsEventJson | Format::Evtx => windows::normalise(format, raw, origin),
        Format::GatewayDecision => gateway::normalise(raw, origin),
        Format::Json => Ok(generic::normalise(raw, origin)),
    }
}

/// Classifies, then normalises.
pub fn classify_and_normalise<'a>(
    forced: Option<Format>,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    let format = forced.unwrap_or_else(|| classify(&raw));
    normalise(format, raw, origin)
}
