//! Entra directory audit records as Graph `directoryAudits` objects (one per line).

use serde_json::{Value, json};

use crate::activity::{AuditChange, AuditKind};
use crate::tenant::Tenant;
use crate::timefmt;

/// The Graph `directoryAudits` object of one change.
pub(crate) fn record(tenant: &Tenant, a: &AuditChange) -> Value {
    let actor = tenant.users.get(a.actor);
    let app = a.target.and_then(|t| tenant.clients.get(t));
    let app_name = app.map(|c| c.name.as_str()).unwrap_or_default();
    let app_id = app.map(|c| c.id.as_str()).unwrap_or_default();
    let (activity, category, targets) = match a.kind {
        AuditKind::CredentialAdded => (
            "Update application – Certificates and secrets management ",
            "ApplicationManagement",
            json!([{
                "id": a.object_id, "displayName": app_name, "type": "Application",
                "modifiedProperties": [
                    {"displayName": "KeyDescription", "oldValue": "[]",
                     "newValue": format!("[\"[KeyIdentifier={},KeyType=Password,KeyUsage=Verify,DisplayName=key]\"]", a.id)},
                    {"displayName": "AppId", "oldValue": null, "newValue": format!("\"{app_id}\"")}
                ]
            }]),
        ),
        AuditKind::MailGrant => (
            "Add delegated permission grant",
            "ApplicationManagement",
            json!([
                {"id": "7d1d5f8a-0000-4000-8000-00000000000f", "displayName": "Microsoft Graph",
                 "type": "ServicePrincipal",
                 "modifiedProperties": [
                    {"displayName": "DelegatedPermissionGrant.Scope", "oldValue": "\"User.Read\"",
                     "newValue": "\"User.Read Mail.ReadWrite\""},
                    {"displayName": "ServicePrincipal.ObjectID", "oldValue": null,
                     "newValue": format!("\"{}\"", a.object_id)}
                 ]},
                {"id": a.object_id, "displayName": null, "type": "ServicePrincipal",
                 "modifiedProperties": []}
            ]),
        ),
        AuditKind::AdminConsent => (
            "Consent to application",
            "ApplicationManagement",
            json!([{
                "id": a.object_id, "displayName": app_name, "type": "ServicePrincipal",
                "modifiedProperties": [
                    {"displayName": "ConsentContext.IsAdminConsent", "oldValue": null, "newValue": "\"True\""},
                    {"displayName": "ConsentAction.Permissions", "oldValue": null,
                     "newValue": "\"[] => [[Scope: Mail.Read User.Read, ]]\""},
                    {"displayName": "TargetId.ServicePrincipalNames", "oldValue": null,
                     "newValue": format!("\"{app_id}\"")}
                ]
            }]),
        ),
        AuditKind::Federation => (
            "Set federation settings on domain",
            "DirectoryManagement",
            json!([{
                "id": a.object_id, "displayName": tenant.domain, "type": "Domain",
                "modifiedProperties": [
                    {"displayName": "SigningCertificate", "oldValue": null, "newValue": "\"MIIC...\""}
                ]
            }]),
        ),
    };
    json!({
        "id": a.id,
        "category": category,
        "correlationId": a.id,
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": timefmt::render(timefmt::zulu, a.time),
        "loggedByService": "Core Directory",
        "operationType": "Update",
        "initiatedBy": {
            "app": null,
            "user": {
                "id": actor.map(|u| u.object_id.as_str()),
                "userPrincipalName": actor.map(|u| u.upn.as_str()),
                "ipAddress": actor.map(|u| u.home_ip.as_str()),
            }
        },
        "targetResources": targets,
        "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1"}],
        "tenantId": tenant.id,
    })
}
