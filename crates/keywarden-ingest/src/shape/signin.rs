//! Entra sign-in records: Graph `auditLogs/signIns` objects (camelCase, or PascalCase as
//! PowerShell's Graph SDK and AzureAD module objects serialise them), Log Analytics rows
//! (`SigninLogs`, `AADNonInteractiveUserSignInLogs`, `AADServicePrincipalSignInLogs`,
//! `AADManagedIdentitySignInLogs`; PascalCase, with `Status`, `LocationDetails`, `DeviceDetail`...
//! often exported as JSON strings) and the `properties` of diagnostic-settings envelopes.
//!
//! Also home of the helpers the identity shapes share: looking a value up in a record and then in
//! its envelope ([`Lookup`]), and decoding Log Analytics columns that hold JSON as text
//! ([`decode_embedded`]).

use keywarden_model::{Event, Fields, Origin, SourceKind, Text, Value, ascii_fold};

use super::common::{event, text, time};
use crate::format::Format;
use crate::reject::RejectReason;

/// Log Analytics sign-in columns of type `dynamic`, which exports write as JSON text.
const EMBEDDED_COLUMNS: &[&str] = &[
    "Status",
    "LocationDetails",
    "DeviceDetail",
    "ConditionalAccessPolicies",
    "AuthenticationDetails",
    "AuthenticationProcessingDetails",
    "AuthenticationRequirementPolicies",
    "MfaDetail",
    "NetworkLocationDetails",
    "RiskEventTypes",
    "RiskEventTypes_V2",
    "SessionLifetimePolicies",
    "TokenProtectionStatusDetails",
];

/// Normalises one sign-in record that is not wrapped in an envelope.
pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    let raw = decode_embedded(raw, EMBEDDED_COLUMNS);
    let mut fields = fields(&Lookup::plain(&raw));
    // A Graph object's `ResourceId` (PascalCase from the PowerShell SDK) is the resource app
    // id; a Log Analytics row's is an Azure resource path, so only Graph objects read it.
    if format == Format::SignInGraph && fields.app_id.is_none() {
        fields.app_id = text(&raw, &["ResourceId"]);
    }
    Ok(event(SourceKind::EntraSignIn, format, raw, origin, fields))
}

/// A Graph sign-in as PowerShell objects serialise it (`Get-MgBetaAuditLogSignIn`,
/// `Get-AzureADAuditSignInLogs`, Extractor-Suite's `Select-Object` of them): PascalCase
/// `CreatedDateTime` with `UniqueTokenIdentifier`, or with `UserPrincipalName` and `AppId`, and
/// no Log Analytics `TimeGenerated`.
pub(crate) fn looks_like_powershell_sign_in(o: &keywarden_model::Object<'_>) -> bool {
    o.get("CreatedDateTime").is_some()
        && o.get("TimeGenerated").is_none()
        && (o.get("UniqueTokenIdentifier").is_some()
            || (o.get("UserPrincipalName").is_some() && o.get("AppId").is_some()))
}

/// Extracts sign-in fields from a record (and, for envelope records, the envelope).
pub(crate) fn fields<'a>(r: &Lookup<'_, 'a>) -> Fields<'a> {
    let category = r
        .text(&["Type"], &["category"])
        .or_else(|| text(r.record, &["signInEventTypes.0", "SignInEventTypes.0"]))
        .or_else(|| is_interactive(r.record));
    Fields {
        time: r.time(
            &["createdDateTime", "CreatedDateTime", "TimeGenerated"],
            &["time"],
        ),
        record_id: r.text(&["id", "Id"], &[]),
        // `resourceTenantId` is the tenant whose resource was signed in to; `TenantId` of a Log
        // Analytics row is the workspace, so it is never read.
        tenant: r.text(
            &[
                "resourceTenantId",
                "ResourceTenantId",
                "tenantId",
                "AADTenantId",
                "AadTenantId",
            ],
            &["tenantId"],
        ),
        user: r
            .text(&["userPrincipalName", "UserPrincipalName"], &[])
            .map(ascii_fold),
        // `IpAddress`: the AzureAD module's spelling.
        client_ip: r.text(
            &["ipAddress", "IPAddress", "IpAddress"],
            &["callerIpAddress"],
        ),
        app_id: r.text(&["resourceId", "resourceAppId", "ResourceIdentity"], &[]),
        client_app_id: r.text(&["appId", "AppId"], &[]),
        session_id: r.text(&["sessionId", "SessionId"], &[]),
        token_id: r.text(&["uniqueTokenIdentifier", "UniqueTokenIdentifier"], &[]),
        token_issued_at: r.time(&["tokenIssuedAt", "TokenIssuedAt"], &[]),
        result: r.text(
            &[
                "status.errorCode",
                "Status.errorCode",
                "Status.ErrorCode",
                "ResultType",
            ],
            &["resultType"],
        ),
        user_agent: r.text(&["userAgent", "UserAgent"], &[]),
        category,
        ..Fields::default()
    }
}

/// Graph beta / PowerShell `isInteractive` (`IsInteractive`), a boolean or its text, as the
/// `signInEventTypes` marker it stands for.
fn is_interactive<'a>(record: &Value<'a>) -> Option<Text<'a>> {
    let v = record
        .get("isInteractive")
        .or_else(|| record.get("IsInteractive"))?;
    let b = match v {
        Value::Bool(b) => *b,
        Value::Str(s) if s.trim().eq_ignore_ascii_case("true") => true,
        Value::Str(s) if s.trim().eq_ignore_ascii_case("false") => false,
        _ => return None,
    };
    Some(Text::Borrowed(if b {
        "interactiveUser"
    } else {
        "nonInteractiveUser"
    }))
}

/// A record and, when it came in a diagnostic-settings envelope, the envelope around it: values
/// are looked up in the record first and in the envelope as a fallback.
pub(crate) struct Lookup<'r, 'a> {
    pub record: &'r Value<'a>,
    pub envelope: Option<&'r Value<'a>>,
}

impl<'r, 'a> Lookup<'r, 'a> {
    /// A record with no envelope.
    pub(crate) fn plain(record: &'r Value<'a>) -> Self {
        Lookup {
            record,
            envelope: None,
        }
    }

    /// First non-empty text among `paths` of the record, else among `envelope_paths` of the
    /// envelope.
    pub(crate) fn text(&self, paths: &[&str], envelope_paths: &[&str]) -> Option<Text<'a>> {
        text(self.record, paths).or_else(|| self.envelope.and_then(|e| text(e, envelope_paths)))
    }

    /// First parseable timestamp, record first, then envelope.
    pub(crate) fn time(
        &self,
        paths: &[&str],
        envelope_paths: &[&str],
    ) -> Option<keywarden_model::Timestamp> {
        time(self.record, paths).or_else(|| self.envelope.and_then(|e| time(e, envelope_paths)))
    }
}

/// Replaces each top-level member named in `keys` whose value is a string holding a JSON object
/// or array with the parsed value, so that `Status.errorCode` or `InitiatedBy.user.ipAddress`
/// reach into it. A string that does not parse is left as it is: the record stays evidence.
pub(crate) fn decode_embedded<'a>(mut raw: Value<'a>, keys: &[&str]) -> Value<'a> {
    if let Value::Object(o) = &mut raw {
        for (k, v) in o.0.iter_mut() {
            if !keys.contains(&k.as_ref()) {
                continue;
            }
            let Value::Str(s) = &*v else { continue };
            let t = s.trim_start();
            if !(t.starts_with('{') || t.starts_with('[')) {
                continue;
            }
            if let Ok(parsed) = Value::parse_owned(t) {
                *v = parsed;
            }
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "t.json",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    #[test]
    fn log_analytics_row_with_embedded_status() {
        let text = r#"{"Type":"SigninLogs","TenantId":"workspace","AADTenantId":"t1",
            "TimeGenerated":"2023-07-01T10:00:00Z","Id":"s1","UserPrincipalName":"Bob@Contoso.com",
            "IPAddress":"203.0.113.9","AppId":"app","ResourceIdentity":"res","ResourceId":"/tenants/x",
            "Status":"{\"errorCode\":50126,\"failureReason\":\"bad\"}","ResultType":"50126",
            "UniqueTokenIdentifier":"tok","SessionId":"sess","CorrelationId":"corr"}"#;
        let raw = Value::parse(text).unwrap();
        let ev = normalise(Format::SignInLogAnalytics, raw, origin()).unwrap();
        let f = &ev.fields;
        assert_eq!(f.tenant.as_deref(), Some("t1"));
        assert_eq!(f.user.as_deref(), Some("bob@contoso.com"));
        assert_eq!(f.app_id.as_deref(), Some("res"));
        assert_eq!(f.client_app_id.as_deref(), Some("app"));
        assert_eq!(f.result.as_deref(), Some("50126"));
        assert_eq!(f.session_id.as_deref(), Some("sess"));
        assert_eq!(f.token_id.as_deref(), Some("tok"));
        assert_eq!(f.category.as_deref(), Some("SigninLogs"));
        assert_eq!(
            ev.get("Status.failureReason").and_then(Value::as_str),
            Some("bad")
        );
    }

    #[test]
    fn correlation_id_is_not_a_session_and_bad_embedded_json_stays_text() {
        let text = r#"{"createdDateTime":"2023-07-01T10:00:00Z","id":"s2","appId":"a",
            "userPrincipalName":"x@y","correlationId":"c","status":"{broken"}"#;
        let raw = Value::parse(text).unwrap();
        let raw = decode_embedded(raw, &["status"]);
        assert_eq!(raw.get("status").and_then(Value::as_str), Some("{broken"));
        let f = fields(&Lookup::plain(&raw));
        assert_eq!(f.session_id, None);
        assert_eq!(f.result, None);
    }

    #[test]
    fn is_interactive_stands_for_the_event_type() {
        for (text, want) in [
            (
                r#"{"isInteractive":false,"appId":"a"}"#,
                Some("nonInteractiveUser"),
            ),
            (
                r#"{"IsInteractive":"True","AppId":"a"}"#,
                Some("interactiveUser"),
            ),
            (
                r#"{"isInteractive":true,"signInEventTypes":["servicePrincipal"]}"#,
                Some("servicePrincipal"),
            ),
            (r#"{"appId":"a"}"#, None),
        ] {
            let raw = Value::parse(text).unwrap();
            assert_eq!(
                fields(&Lookup::plain(&raw)).category.as_deref(),
                want,
                "{text}"
            );
        }
    }
}
