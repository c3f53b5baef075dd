//! From an ingested [`Event`] to the row the store keeps: the detection facts (through the
//! detection pack's own [`Facts`], so `serve` and `hunt` read records the same way) and the raw
//! record as JSON.

use keywarden_detect::incremental::role_name;
use keywarden_detect::{Access, Facts, Role};
use keywarden_ingest::{Processor, Rejection};
use keywarden_model::Event;
use keywarden_store::{EventRow, RejectionRow};

/// The largest raw rejected record kept in the store (bytes); longer ones are cut.
pub const MAX_REJECTED_RAW: usize = 64 * 1024;

/// The stored form of one event.
pub fn event_row(ev: &Event<'_>) -> EventRow {
    let f = Facts::of(ev);
    let role = role_name(f.role);
    let access = match f.role {
        Role::MailAccess(a) => Some(match a {
            Access::Bind => "Bind",
            Access::Sync => "Sync",
            Access::Other => "Other",
        }),
        _ => None,
    };
    let own = |v: Option<std::borrow::Cow<'_, str>>| v.map(|c| c.into_owned());
    EventRow {
        source_kind: ev.source.as_str().to_string(),
        format: ev.format.to_string(),
        role: role.to_string(),
        record_ref: ev.record_ref(),
        time: f.time.map(|t| t.0),
        tenant: own(f.tenant),
        user: own(f.user),
        client_ip: own(f.ip),
        app_id: own(f.app_id),
        client_app_id: own(f.client_app_id),
        session_id: own(f.session_id),
        token_id: own(f.token_id),
        token_tenant: own(f.token_tenant),
        mailbox: own(f.mailbox),
        operation: ev.fields.operation.as_deref().map(str::to_string),
        mail_access: access.map(str::to_string),
        logon_type: f.logon_type,
        user_agent: ev.fields.user_agent.as_deref().map(str::to_string),
        signing_key_id: own(f.signing_key),
        category: ev.fields.category.as_deref().map(str::to_string),
        token_issued_at: f.token_issued_at.map(|t| t.0),
        raw: raw_json(&ev.raw),
    }
}

/// The raw record as JSON text, written straight from the parsed value (members in document
/// order, duplicates kept as they came). Writing a value with text keys cannot fail; were it
/// to, the record is still stored through the generic conversion.
pub fn raw_json(raw: &keywarden_model::Value<'_>) -> String {
    serde_json::to_string(raw).unwrap_or_else(|_| raw.to_json().to_string())
}

/// The stored form of one rejection (raw bytes capped at [`MAX_REJECTED_RAW`]).
pub fn rejection_row(r: &Rejection) -> RejectionRow {
    RejectionRow {
        path: r.path.clone(),
        line: r.line,
        offset: r.offset,
        record_number: r.record_number,
        code: r.code.to_string(),
        reason: r.reason.clone(),
        raw: r.raw.as_ref().map(|s| cut(s, MAX_REJECTED_RAW).to_string()),
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Collects the rows of every event an ingest run produces.
#[derive(Debug, Default)]
pub struct RowCollector {
    pub rows: Vec<EventRow>,
}

impl Processor for RowCollector {
    fn process(&mut self, event: &Event<'_>) {
        self.rows.push(event_row(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_json_round_trips_the_record() {
        let text = r#"{"Id":"a\"<b>","N":-3,"F":1.5,"B":true,"Z":null,"A":[1,{"k":"v"}],"Big":18446744073709551615}"#;
        let v = keywarden_model::Value::parse(text).unwrap();
        assert_eq!(raw_json(&v), text);
        assert_eq!(raw_json(&v), v.to_json().to_string());
    }

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(cut("", 0), "");
    }
}
