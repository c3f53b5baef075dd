//! Microsoft Sentinel `OfficeActivity` rows: the UAL record with Log Analytics column names.
//!
//! Differences from the Management Activity API shape, handled here: the time is
//! `TimeGenerated`, the UAL record id is `OfficeId` (also `SourceRecordId`), the client address
//! may be `Client_IPAddress`, `Logon_Type` may hold the enum *name* (`Owner`), the workspace
//! tenant is `TenantId`, and `Folders`, `OperationProperties`, `AppAccessContext` (and the other
//! nested members) are JSON *strings*, decoded in place by [`embedded::canonicalise`] so that
//! `raw` has the Management API shape.

use keywarden_model::{Event, Origin, SourceKind, Value};

use super::common::{event, text};
use super::{embedded, ual};
use crate::format::Format;
use crate::reject::RejectReason;

pub(crate) fn normalise<'a>(
    mut raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    embedded::canonicalise(&mut raw);
    let mut fields = ual::fields(&raw);
    fields.time = ual::export_time(&raw, &["TimeGenerated", "CreationTime", "Start_Time"]);
    fields.record_id = text(&raw, &["OfficeId", "SourceRecordId", "Id"]);
    if fields.tenant.is_none() {
        fields.tenant = text(&raw, &["TenantId"]);
    }
    Ok(event(
        SourceKind::UnifiedAuditLog,
        Format::SentinelOfficeActivity,
        raw,
        origin,
        fields,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_renamed_columns_and_json_strings() {
        let json = r#"{"Type":"OfficeActivity","TimeGenerated":"2021-08-02T13:32:07Z","OfficeId":"o1","TenantId":"w1","UserId":"Pat@X.com","Client_IPAddress":"1.2.3.4:1000","Logon_Type":"Delegate","Operation":"MailItemsAccessed","AppAccessContext":"{\"UniqueTokenId\":\"tok\",\"AADSessionId\":\"s\"}","OperationProperties":"[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]"}"#;
        let raw = Value::parse(json).expect("test JSON");
        let origin = Origin {
            path: "t",
            line: Some(1),
            offset: 0,
            record_number: None,
        };
        let ev = normalise(raw, origin).expect("event");
        let f = &ev.fields;
        assert_eq!(f.record_id.as_deref(), Some("o1"));
        assert_eq!(f.tenant.as_deref(), Some("w1"));
        assert_eq!(f.user.as_deref(), Some("pat@x.com"));
        assert_eq!(f.client_ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(f.logon_type, Some(2));
        assert_eq!(f.token_id.as_deref(), Some("tok"));
        assert_eq!(f.session_id.as_deref(), Some("s"));
        assert_eq!(f.mail_access_type.as_deref(), Some("Sync"));
        assert_eq!(
            ev.get("AppAccessContext.UniqueTokenId")
                .and_then(Value::as_str),
            Some("tok")
        );
    }
}
