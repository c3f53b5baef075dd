//! Entra directory audit records: Log Analytics `AuditLogs` rows (PascalCase, with
//! `InitiatedBy`, `TargetResources` and `AdditionalDetails` exported as JSON strings), Graph
//! `directoryAudits` objects (camelCase, or PascalCase throughout as PowerShell's
//! `Get-MgAuditLogDirectoryAudit` objects serialise them: `InitiatedBy.User.IPAddress`) and the
//! `properties` of `AuditLogs` envelope records.

use keywarden_model::{Event, Fields, Origin, SourceKind, Value, ascii_fold};

use super::common::event;
use super::signin::{Lookup, decode_embedded};
use crate::format::Format;
use crate::reject::RejectReason;

/// Log Analytics `AuditLogs` columns of type `dynamic`, which exports write as JSON text.
pub(crate) const EMBEDDED_COLUMNS: &[&str] = &[
    "InitiatedBy",
    "TargetResources",
    "AdditionalDetails",
    "initiatedBy",
    "targetResources",
    "additionalDetails",
];

/// Normalises one audit record that is not wrapped in an envelope.
pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    let raw = decode_embedded(raw, EMBEDDED_COLUMNS);
    let fields = fields(&Lookup::plain(&raw));
    Ok(event(SourceKind::EntraAudit, format, raw, origin, fields))
}

/// Extracts audit fields from a record (and its envelope, if any).
pub(crate) fn fields<'a>(r: &Lookup<'_, 'a>) -> Fields<'a> {
    Fields {
        time: r.time(
            &["activityDateTime", "ActivityDateTime", "TimeGenerated"],
            &["time"],
        ),
        record_id: r.text(&["id", "Id"], &[]),
        // `TenantId` of a Log Analytics row is the workspace.
        tenant: r.text(&["tenantId", "AADTenantId"], &["tenantId"]),
        user: r
            .text(
                &[
                    "initiatedBy.user.userPrincipalName",
                    "InitiatedBy.user.userPrincipalName",
                    "InitiatedBy.User.UserPrincipalName",
                ],
                &[],
            )
            .map(ascii_fold),
        client_ip: r.text(
            &[
                "initiatedBy.user.ipAddress",
                "InitiatedBy.user.ipAddress",
                "InitiatedBy.User.IPAddress",
            ],
            &["callerIpAddress"],
        ),
        client_app_id: r.text(
            &[
                "initiatedBy.app.appId",
                "InitiatedBy.app.appId",
                "InitiatedBy.App.AppId",
            ],
            &[],
        ),
        operation: r.text(
            &[
                "activityDisplayName",
                "ActivityDisplayName",
                "OperationName",
            ],
            &["operationName"],
        ),
        result: r.text(&["result", "Result"], &["resultSignature"]),
        user_agent: r
            .text(&["UserAgent", "userAgent"], &[])
            .or_else(|| user_agent_detail(r.record)),
        category: r.text(&["category", "Category"], &[]),
        ..Fields::default()
    }
}

/// The `User-Agent` entry of `additionalDetails` (`[{"key": "User-Agent", "value": ...}]`).
fn user_agent_detail<'a>(rec: &Value<'a>) -> Option<keywarden_model::Text<'a>> {
    let details = rec
        .get("additionalDetails")
        .or_else(|| rec.get("AdditionalDetails"))?
        .as_array()?;
    details.iter().find_map(|d| {
        let key = d.get("key").or_else(|| d.get("Key"))?.as_str()?;
        if key.eq_ignore_ascii_case("User-Agent") {
            keywarden_model::non_empty(d.get("value").or_else(|| d.get("Value")))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_directory_audit_object() {
        let text = r#"{"id":"Directory_1","category":"ApplicationManagement",
            "activityDateTime":"2023-07-01T10:00:00Z","activityDisplayName":"Add service principal",
            "result":"success","initiatedBy":{"app":null,"user":{"id":"u","userPrincipalName":"Admin@X.com","ipAddress":"198.51.100.4"}},
            "additionalDetails":[{"key":"User-Agent","value":"curl/8"}]}"#;
        let raw = Value::parse(text).unwrap();
        let ev = normalise(
            Format::EntraAudit,
            raw,
            Origin {
                path: "a",
                line: None,
                offset: 0,
                record_number: None,
            },
        )
        .unwrap();
        let f = &ev.fields;
        assert_eq!(f.user.as_deref(), Some("admin@x.com"));
        assert_eq!(f.client_ip.as_deref(), Some("198.51.100.4"));
        assert_eq!(f.operation.as_deref(), Some("Add service principal"));
        assert_eq!(f.user_agent.as_deref(), Some("curl/8"));
        assert_eq!(f.client_app_id, None);
    }
}
