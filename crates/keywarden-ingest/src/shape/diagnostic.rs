//! Azure diagnostic-settings / Event Hub envelope records: `{"time", "category", "tenantId",
//! "callerIpAddress", "correlationId", "properties": {...}}`, the elements of a `records` array.
//!
//! The record is dispatched on its `category`: sign-in categories are read as sign-ins,
//! `MicrosoftGraphActivityLogs` as Graph activity and `AuditLogs` as Entra audit, each from
//! `properties` with the envelope's `time`, `callerIpAddress`, `tenantId` and `correlationId`
//! as fallbacks; every other category is Azure activity. The event keeps the whole envelope
//! record as `raw` and the format `azure-diagnostic`; its source kind says what it is.

use keywarden_model::{Event, Fields, Origin, SourceKind, Value};

use super::common::{event, json_kind, text, time};
use super::signin::{Lookup, decode_embedded};
use super::{entra_audit, graph, signin};
use crate::format::Format;
use crate::reject::RejectReason;

/// What an envelope's `category` says its `properties` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    SignIn,
    GraphActivity,
    Audit,
    Other,
}

impl Category {
    fn of(name: &str) -> Category {
        const SIGN_IN: &[&str] = &[
            "SignInLogs",
            "NonInteractiveUserSignInLogs",
            "ServicePrincipalSignInLogs",
            "ManagedIdentitySignInLogs",
        ];
        if SIGN_IN.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            Category::SignIn
        } else if name.eq_ignore_ascii_case("MicrosoftGraphActivityLogs") {
            Category::GraphActivity
        } else if name.eq_ignore_ascii_case("AuditLogs") {
            Category::Audit
        } else {
            Category::Other
        }
    }
}

/// Normalises one envelope record.
///
/// A record of a sign-in, Graph or audit category whose `properties` is not an object (nor a
/// JSON string holding one) is rejected: its fields cannot be read and guessing would mislead.
pub(crate) fn normalise<'a>(raw: Value<'a>, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let raw = decode_embedded(raw, &["properties"]);
    let name = raw.get("category").and_then(Value::as_str).unwrap_or("");
    let category = Category::of(name);
    if category == Category::Other {
        let fields = activity_fields(&raw);
        return Ok(event(
            SourceKind::AzureActivity,
            Format::AzureDiagnostic,
            raw,
            origin,
            fields,
        ));
    }
    let props = match raw.get("properties") {
        Some(p @ Value::Object(_)) => p,
        other => {
            let found = other.map_or("nothing", json_kind);
            return Err(RejectReason::MissingField(format!(
                "properties of a {name} envelope record must be an object, found {found}"
            )));
        }
    };
    let lookup = Lookup {
        record: props,
        envelope: Some(&raw),
    };
    let (source, fields) = match category {
        Category::SignIn => (SourceKind::EntraSignIn, signin::fields(&lookup)),
        Category::GraphActivity => (SourceKind::GraphActivity, graph::fields(&lookup)),
        Category::Audit | Category::Other => (SourceKind::EntraAudit, entra_audit::fields(&lookup)),
    };
    Ok(event(source, Format::AzureDiagnostic, raw, origin, fields))
}

/// Fields of an Azure activity / resource log record of any other category.
fn activity_fields<'a>(raw: &Value<'a>) -> Fields<'a> {
    Fields {
        time: time(raw, &["time", "properties.eventTimestamp"]),
        record_id: text(raw, &["properties.eventDataId", "id"]),
        tenant: text(raw, &["tenantId", "properties.tenantId"]),
        client_ip: text(raw, &["callerIpAddress"]),
        operation: text(raw, &["operationName"]),
        result: text(raw, &["resultType", "resultSignature"]),
        category: text(raw, &["category"]),
        ..Fields::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "e.json",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    #[test]
    fn sign_in_envelope_falls_back_to_the_envelope() {
        let text = r#"{"time":"2022-03-17T09:44:46Z","category":"SignInLogs","tenantId":"t",
            "callerIpAddress":"192.0.2.1","correlationId":"c",
            "properties":{"id":"s","userPrincipalName":"A@B.C","appId":"app"}}"#;
        let ev = normalise(Value::parse(text).unwrap(), origin()).unwrap();
        assert_eq!(ev.source, SourceKind::EntraSignIn);
        assert_eq!(ev.format, "azure-diagnostic");
        let f = &ev.fields;
        assert_eq!(f.client_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(f.tenant.as_deref(), Some("t"));
        assert_eq!(f.user.as_deref(), Some("a@b.c"));
        assert_eq!(f.category.as_deref(), Some("SignInLogs"));
        assert_eq!(
            f.time.map(|t| t.to_string()).as_deref(),
            Some("2022-03-17T09:44:46Z")
        );
    }

    #[test]
    fn properties_as_json_text_are_decoded() {
        let text =
            r#"{"category":"AuditLogs","properties":"{\"activityDisplayName\":\"Add member\"}"}"#;
        let ev = normalise(Value::parse(text).unwrap(), origin()).unwrap();
        assert_eq!(ev.source, SourceKind::EntraAudit);
        assert_eq!(ev.fields.operation.as_deref(), Some("Add member"));
    }

    #[test]
    fn non_object_properties_of_a_known_category_are_rejected() {
        for props in ["42", "\"text\"", "[1]", "null"] {
            let text = format!(r#"{{"category":"SignInLogs","properties":{props}}}"#);
            let err = normalise(Value::parse(&text).unwrap(), origin()).unwrap_err();
            assert_eq!(err.code(), "missing-field", "{props}");
        }
        let other = r#"{"category":"Administrative","properties":42,"operationName":"X"}"#;
        let ev = normalise(Value::parse(other).unwrap(), origin()).unwrap();
        assert_eq!(ev.source, SourceKind::AzureActivity);
        assert_eq!(ev.fields.operation.as_deref(), Some("X"));
    }
}
