//! Defender XDR `CloudAppEvents` rows.
//!
//! The UAL record travels in `RawEventData`: a JSON object (advanced hunting API, Sentinel
//! `CloudAppEvents`), a JSON string (CSV downloads), or an object whose nested members
//! PowerShell flattened into `@{Name=MailAccessType; Value=Bind}` text. [`normalise`] decodes
//! `RawEventData` in place into the Management Activity API shape (so detections can use
//! `RawEventData.AppAccessContext.UniqueTokenId`), extracts the UAL fields from it, then fills
//! what it lacks from the row's own columns (`Timestamp`, `ReportId`, `IPAddress`,
//! `ActionType`, `OAuthAppId`, `UserAgent`, `AccountUpn`/`AccountId`).
//!
//! Rows of other Defender tables (`IdentityQueryEvents`, `IdentityDirectoryEvents`...) are not
//! classified here; see [`looks_like_cloud_app_event`].

use keywarden_model::{Event, Fields, Object, Origin, SourceKind, Value, ascii_fold};

use super::common::{event, text};
use super::{embedded, ual};
use crate::format::Format;
use crate::reject::RejectReason;

/// The columns that may hold the UAL record (`rawData` appears in some Kusto exports).
const RAW_COLUMNS: [&str; 2] = ["RawEventData", "rawData"];

pub(crate) fn normalise<'a>(
    mut raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    if let Value::Object(row) = &mut raw {
        decode_raw_columns(row);
    }
    let record = RAW_COLUMNS
        .iter()
        .find_map(|c| raw.get(c).filter(|v| v.as_object().is_some()));
    let mut fields = record.map(ual::fields).unwrap_or_default();
    fill_from_columns(&mut fields, &raw);
    Ok(event(
        SourceKind::UnifiedAuditLog,
        Format::DefenderCloudAppEvents,
        raw,
        origin,
        fields,
    ))
}

/// True for a `CloudAppEvents` row: it has `ActionType` and either a non-null `RawEventData`
/// or the table's activity columns (`ActivityType`, `ActivityObjects`, `Application`).
pub(crate) fn looks_like_cloud_app_event(o: &Object<'_>) -> bool {
    if o.get("ActionType").is_none() {
        return false;
    }
    let has_raw = o.get("RawEventData").is_some_and(|v| !v.is_null());
    let activity = o
        .get("ActivityType")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
        && o.get("ActivityObjects").is_some_and(|v| !v.is_null())
        && o.get("Application").is_some();
    has_raw || activity
}

/// Decodes `RawEventData` held as text, then the nested members inside it.
fn decode_raw_columns(row: &mut Object<'_>) {
    for (key, value) in row.0.iter_mut() {
        if !RAW_COLUMNS.contains(&key.as_ref()) {
            continue;
        }
        if let Value::Str(s) = value
            && let Some(decoded) = embedded::decode_text(s)
        {
            *value = decoded;
        }
        embedded::canonicalise(value);
    }
}

/// Fills fields the UAL record did not give from the CloudAppEvents columns.
fn fill_from_columns<'a>(f: &mut Fields<'a>, row: &Value<'a>) {
    if f.time.is_none() {
        f.time = ual::export_time(row, &["Timestamp", "TimeGenerated"]);
    }
    if f.record_id.is_none() {
        f.record_id = text(row, &["ReportId"]);
    }
    if f.user.is_none() {
        f.user = text(row, &["AccountUpn", "UserId", "AccountId"]).map(ascii_fold);
    }
    if f.client_ip.is_none() {
        f.client_ip = text(row, &["IPAddress"]).map(ual::bare_ip);
    }
    if f.client_app_id.is_none() {
        f.client_app_id = text(row, &["OAuthAppId"]);
    }
    if f.app_id.is_none() {
        f.app_id = text(row, &["AppId"]);
    }
    if f.operation.is_none() {
        f.operation = text(row, &["ActionType"]);
    }
    if f.user_agent.is_none() {
        f.user_agent = text(row, &["UserAgent", "UserAgent_string"]);
    }
    if f.tenant.is_none() {
        f.tenant = text(row, &["TenantId"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "t",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    #[test]
    fn decodes_raw_event_data_string() {
        let json = r#"{"Timestamp":"2024-01-01T00:00:00Z","ActionType":"MailItemsAccessed","ReportId":"rep","IPAddress":"5.6.7.8","RawEventData":"{\"Id\":\"u1\",\"Operation\":\"MailItemsAccessed\",\"UserId\":\"A@B.c\",\"OperationProperties\":[\"@{Value=Bind; Name=MailAccessType}\"],\"AppAccessContext\":\"@{UniqueTokenId=tok; AADSessionId=s}\"}"}"#;
        let ev = normalise(Value::parse(json).expect("test JSON"), origin()).expect("event");
        let f = &ev.fields;
        assert_eq!(f.record_id.as_deref(), Some("u1"));
        assert_eq!(f.user.as_deref(), Some("a@b.c"));
        assert_eq!(f.client_ip.as_deref(), Some("5.6.7.8"));
        assert_eq!(f.mail_access_type.as_deref(), Some("Bind"));
        assert_eq!(f.token_id.as_deref(), Some("tok"));
        assert_eq!(
            ev.get("RawEventData.AppAccessContext.AADSessionId")
                .and_then(Value::as_str),
            Some("s")
        );
    }

    #[test]
    fn falls_back_to_columns_without_raw_event_data() {
        let json = r#"{"Timestamp":"2024-01-01T00:00:00Z","ActionType":"Add delegated permission grant.","ReportId":"rep","UserId":"X@Y.z","RawEventData":null}"#;
        let ev = normalise(Value::parse(json).expect("test JSON"), origin()).expect("event");
        assert_eq!(ev.fields.record_id.as_deref(), Some("rep"));
        assert_eq!(ev.fields.user.as_deref(), Some("x@y.z"));
        assert_eq!(
            ev.fields.operation.as_deref(),
            Some("Add delegated permission grant.")
        );
    }

    #[test]
    fn recognises_cloud_app_event_rows_only() {
        let row = |json: &str| Value::parse_owned(json).expect("test JSON");
        let is = |v: &Value<'_>| v.as_object().is_some_and(looks_like_cloud_app_event);
        assert!(is(&row(r#"{"ActionType":"x","RawEventData":{}}"#)));
        assert!(is(&row(
            r#"{"ActionType":"x","RawEventData":null,"ActivityType":"Basic","ActivityObjects":[],"Application":"Office 365"}"#
        )));
        assert!(!is(&row(
            r#"{"ActionType":"LdapSearch","RawEventData":null,"ActivityType":"","ActivityObjects":null,"Application":""}"#
        )));
    }
}
