//! Sentinel OfficeActivity rows.

use keywarden_model::{Event, Fields, Origin, SourceKind, Value};

use super::common::{event, text, time};
use crate::format::Format;
use crate::reject::RejectReason;

pub(crate) fn normalise<'a>(raw: Value<'a>, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let fields = Fields {
        time: time(
            &raw,
            &[
                "TimeGenerated",
                "CreationTime",
                "createdDateTime",
                "time",
                "Timestamp",
            ],
        ),
        record_id: text(&raw, &["Id", "id"]),
        ..Fields::default()
    };
    Ok(event(
        SourceKind::UnifiedAuditLog,
        Format::SentinelOfficeActivity,
        raw,
        origin,
        fields,
    ))
}
