//! Windows event records (EVTX as JSON, SecurityEvent rows).

use keywarden_model::{Event, Fields, Origin, SourceKind, Value};

use super::common::{event, text, time};
use crate::format::Format;
use crate::reject::RejectReason;

pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
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
    Ok(event(SourceKind::WindowsEvent, format, raw, origin, fields))
}

pub(crate) fn looks_like_windows_json(o: &keywarden_model::Object<'_>) -> bool {
    o.get("EventID").is_some() && (o.get("Channel").is_some() || o.get("Computer").is_some())
}
