//! Microsoft Graph activity log records.

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
    Ok(event(
        SourceKind::GraphActivity,
        format,
        raw,
        origin,
        fields,
    ))
}
