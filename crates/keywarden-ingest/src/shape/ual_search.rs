//! `Search-UnifiedAuditLog` result objects saved as JSON: the cmdlet's own columns
//! (`RecordType`, `CreationDate`, `UserIds`, `Operations`, `ResultIndex`, `Identity`...) around
//! the UAL record in `AuditData`, which is an object when the script ran `ConvertFrom-Json` on it
//! first (Microsoft-Extractor-Suite's `Get-UAL -Output JSON`, which also adds
//! `OperationQueried`) or the cmdlet's JSON text otherwise. The same rows saved with
//! `Export-Csv` are the `ual-search-csv` shape.
//!
//! The event's `raw` is the UAL record, normalised like the Management Activity API shape; the
//! outer columns fill the fields the record lacks.

use std::borrow::Cow;

use keywarden_model::{Event, Object, Origin, Value, ascii_fold};

use super::common::{text, time};
use crate::format::Format;
use crate::reject::RejectReason;

/// True for a result object: `AuditData` with the cmdlet's `Operations` and `CreationDate`.
pub(crate) fn looks_like_search_result(o: &Object<'_>) -> bool {
    o.get("AuditData").is_some() && o.get("Operations").is_some() && o.get("CreationDate").is_some()
}

pub(crate) fn normalise<'a>(raw: Value<'a>, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let Value::Object(mut outer) = raw else {
        return Err(RejectReason::NotAnObject {
            found: super::common::json_kind(&raw),
        });
    };
    let audit = outer
        .0
        .iter_mut()
        .find(|(k, _)| k == "AuditData")
        .map(|(_, v)| std::mem::replace(v, Value::Null));
    let record = match audit {
        Some(v @ Value::Object(_)) => v,
        Some(Value::Str(s)) => {
            Value::parse_owned(&s).map_err(|e| match RejectReason::from_json(&e) {
                RejectReason::TooDeep => RejectReason::TooDeep,
                _ => RejectReason::InvalidEmbeddedJson {
                    field: "AuditData".into(),
                    message: e.to_string(),
                },
            })?
        }
        _ => {
            return Err(RejectReason::MissingField(
                "AuditData (an object or JSON text holding the audit record)".into(),
            ));
        }
    };
    let outer = Value::Object(outer);
    let mut ev = super::ual::normalise(Format::UalSearchJson, record, origin)?;
    let f = &mut ev.fields;
    let owned = |t: Cow<'_, str>| Cow::Owned(t.into_owned());
    if f.time.is_none() {
        f.time = time(&outer, &["CreationDate"]);
    }
    if f.record_id.is_none() {
        f.record_id = text(&outer, &["Identity"]).map(owned);
    }
    if f.user.is_none() {
        f.user = text(&outer, &["UserIds"]).map(|u| ascii_fold(owned(u)));
    }
    if f.operation.is_none() {
        f.operation = text(&outer, &["Operations"]).map(owned);
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "ual.json",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    #[test]
    fn audit_data_as_object_or_text() {
        let record = r#"{"CreationTime":"2023-07-01T10:00:00","Id":"u1","Operation":"MailItemsAccessed","RecordType":50,"UserId":"Bob@Contoso.com","AppAccessContext":{"UniqueTokenId":"tok"}}"#;
        for audit in [record.to_string(), serde_json::to_string(record).unwrap()] {
            let text = format!(
                r#"{{"RecordType":"ExchangeItemAggregated","CreationDate":"/Date(1688205600000)/","UserIds":"bob@contoso.com","Operations":"MailItemsAccessed","AuditData":{audit},"ResultIndex":1,"Identity":"u1"}}"#
            );
            let ev = normalise(Value::parse_owned(&text).unwrap(), origin()).unwrap();
            assert_eq!(ev.format, "ual-search-json");
            assert_eq!(ev.fields.token_id.as_deref(), Some("tok"));
            assert_eq!(ev.fields.user.as_deref(), Some("bob@contoso.com"));
            assert_eq!(
                ev.get("Operation").and_then(Value::as_str),
                Some("MailItemsAccessed")
            );
        }
    }

    #[test]
    fn outer_columns_fill_what_the_record_lacks_and_bad_audit_data_is_rejected() {
        let text = r#"{"CreationDate":"7/1/2023 10:00:00 AM","UserIds":"Eve@X.com","Operations":"Send","AuditData":{"Workload":"Exchange"},"Identity":"id9"}"#;
        let ev = normalise(Value::parse_owned(text).unwrap(), origin()).unwrap();
        let f = &ev.fields;
        assert_eq!(
            f.time.map(|t| t.to_string()).as_deref(),
            Some("2023-07-01T10:00:00Z")
        );
        assert_eq!(f.user.as_deref(), Some("eve@x.com"));
        assert_eq!(f.operation.as_deref(), Some("Send"));
        assert_eq!(f.record_id.as_deref(), Some("id9"));
        let bad = r#"{"CreationDate":"x","Operations":"Send","AuditData":"{not json"}"#;
        let err = normalise(Value::parse_owned(bad).unwrap(), origin()).unwrap_err();
        assert_eq!(err.code(), "invalid-embedded-json");
        let none = r#"{"CreationDate":"x","Operations":"Send","AuditData":null}"#;
        let err = normalise(Value::parse_owned(none).unwrap(), origin()).unwrap_err();
        assert_eq!(err.code(), "missing-field");
    }
}
