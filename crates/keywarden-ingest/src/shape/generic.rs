//! Any JSON record: time and id from the usual names, everything else by dotted path.

use keywarden_model::{Event, Fields, Origin, SourceKind, Value};

use super::common::{event, text, time};
use crate::format::Format;

pub(crate) fn normalise<'a>(raw: Value<'a>, origin: Origin<'a>) -> Event<'a> {
    let fields = Fields {
        time: time(
            &raw,
            &[
                "@timestamp",
                "timestamp",
                "TimeGenerated",
                "time",
                "Timestamp",
                "CreationTime",
            ],
        ),
        record_id: text(&raw, &["id", "Id", "ID"]),
        ..Fields::default()
    };
    event(SourceKind::Generic, Format::Json, raw, origin, fields)
}
