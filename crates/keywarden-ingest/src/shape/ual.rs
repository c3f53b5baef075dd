//! Unified Audit Log records: the Management Activity API shape, which is also the `AuditData`
//! of every CSV export, the `RawEventData` of Defender `CloudAppEvents` and (with renamed
//! columns) a Sentinel `OfficeActivity` row.
//!
//! [`fields`] is the one place that knows which UAL member feeds which [`Fields`] entry; the
//! Sentinel, Defender and CSV readers call it and then fill the gaps from their own columns.
//! See `docs/INGEST-UAL.md` for the member-by-member table.

use std::borrow::Cow;
use std::net::IpAddr;

use keywarden_model::{
    Event, Fields, Origin, SourceKind, Text, Timestamp, Value, ascii_fold, non_empty,
};

use super::common::{event, text, time};
use super::{embedded, mail};
use crate::format::Format;
use crate::reject::RejectReason;

/// A Management Activity API record (or the `AuditData` of a CSV row) as an event.
pub(crate) fn normalise<'a>(
    format: Format,
    mut raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    embedded::canonicalise(&mut raw);
    let fields = fields(&raw);
    Ok(event(
        SourceKind::UnifiedAuditLog,
        format,
        raw,
        origin,
        fields,
    ))
}

/// Extracts every field a UAL record can carry. `record` should already be canonicalised
/// ([`embedded::canonicalise`]).
pub(crate) fn fields<'a>(record: &Value<'a>) -> Fields<'a> {
    let context = record.get("AppAccessContext");
    let in_context = |key: &str| context.and_then(|c| non_empty(c.get(key)));
    Fields {
        time: export_time(record, &["CreationTime", "TimeGenerated", "Timestamp"]),
        record_id: text(record, &["Id"]),
        tenant: text(record, &["OrganizationId"]),
        user: text(record, &["UserId"]).map(ascii_fold),
        client_ip: text(
            record,
            &[
                "ClientIP",
                "ClientIPAddress",
                "ActorIpAddress",
                "Client_IPAddress",
                "ClientIp",
            ],
        )
        .or_else(|| in_context("ClientIP"))
        .map(bare_ip),
        app_id: text(record, &["AppId"]),
        client_app_id: text(record, &["ClientAppId"])
            .or_else(|| in_context("ClientAppId"))
            .or_else(|| text(record, &["ApplicationId"])),
        session_id: text(record, &["SessionId"])
            .or_else(|| in_context("AADSessionId"))
            .or_else(|| mail::name_value(record.get("DeviceProperties"), "SessionId")),
        token_id: in_context("UniqueTokenId"),
        token_issued_at: context
            .and_then(|c| time(c, &["IssuedAtTime"]))
            .or_else(|| time(record, &["TokenIssuedAtTime"])),
        token_tenant: text(record, &["TokenTenantId"]).or_else(|| in_context("TokenTenantId")),
        mailbox_guid: text(record, &["MailboxGuid"]),
        mailbox_owner: text(record, &["MailboxOwnerUPN"]).map(ascii_fold),
        operation: text(record, &["Operation"]),
        mail_access_type: mail::mail_access_type(record),
        throttled: mail::throttled(record),
        folders: mail::folders(record),
        logon_type: logon_type(record.get("LogonType").or_else(|| record.get("Logon_Type"))),
        client_info: text(record, &["ClientInfoString"]),
        user_agent: mail::name_value(record.get("ExtendedProperties"), "UserAgent")
            .or_else(|| text(record, &["UserAgent"])),
        result: text(record, &["ResultStatus"]),
        operation_count: record.get("OperationCount").and_then(Value::as_i64),
        signing_key_id: None,
        category: None,
    }
}

/// The first timestamp among `paths`. Besides what [`Timestamp::parse`] reads, accepts the
/// form Log Analytics and Defender write into CSV downloads: `7/11/2023, 8:15:42.123 AM`.
pub(crate) fn export_time(record: &Value<'_>, paths: &[&str]) -> Option<Timestamp> {
    paths.iter().find_map(|p| {
        let s = record.path(p)?.as_str()?;
        Timestamp::parse(s).or_else(|| loose_locale_time(s))
    })
}

/// `M/D/YYYY, h:mm:ss.fff AM` → the timestamp (fraction kept to the microsecond).
fn loose_locale_time(s: &str) -> Option<Timestamp> {
    if !s.contains('/') {
        return None;
    }
    let cleaned = s.replacen(',', "", 1);
    let Some(dot) = cleaned.find('.') else {
        return Timestamp::parse(&cleaned);
    };
    let head = cleaned.get(..dot)?;
    let rest = cleaned.get(dot + 1..)?;
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut micros = 0i64;
    let mut scale = 100_000i64;
    for c in rest.bytes().take(n.min(6)) {
        micros += i64::from(c - b'0') * scale;
        scale /= 10;
    }
    let t = Timestamp::parse(&format!("{head}{}", rest.get(n..)?))?;
    Some(Timestamp(t.0 + micros))
}

/// `LogonType` as a number; Sentinel's `Logon_Type` may carry the enum name instead.
///
/// Names follow the Management Activity API `LogonType` enum: Owner 0, Admin 1, Delegate(d) 2,
/// Transport 3, SystemService 4, BestAccess 5, DelegatedAdmin 6.
pub(crate) fn logon_type(v: Option<&Value<'_>>) -> Option<i64> {
    let v = v?;
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let name = v.as_str()?.trim();
    const NAMES: [(&str, i64); 8] = [
        ("Owner", 0),
        ("Admin", 1),
        ("Delegate", 2),
        ("Delegated", 2),
        ("Transport", 3),
        ("SystemService", 4),
        ("BestAccess", 5),
        ("DelegatedAdmin", 6),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, code)| *code)
}

/// The bare address of `1.2.3.4:5678`, `[2001:db8::1]:443`, `::ffff:1.2.3.4` (as `1.2.3.4`)
/// or a plain address. Text that is not an address is kept as it is (trimmed).
pub(crate) fn bare_ip(ip: Text<'_>) -> Text<'_> {
    let lead = ip.len() - ip.trim_start().len();
    let t = ip.trim();
    let (s, e) = address_span(t).unwrap_or((0, t.len()));
    let (begin, end) = (lead + s, lead + e);
    let part = ip.get(begin..end).unwrap_or(t);
    if let Ok(IpAddr::V6(v6)) = part.parse::<IpAddr>()
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return Cow::Owned(v4.to_string());
    }
    if begin == 0 && end == ip.len() {
        return ip;
    }
    match ip {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(begin..end).unwrap_or(b)),
        Cow::Owned(o) => Cow::Owned(o.get(begin..end).unwrap_or(&o).to_string()),
    }
}

/// Where the address is inside `t` (start, end), when `t` wraps one.
fn address_span(t: &str) -> Option<(usize, usize)> {
    if t.parse::<IpAddr>().is_ok() {
        return Some((0, t.len()));
    }
    // `[v6]` or `[v6]:port`
    if let Some(rest) = t.strip_prefix('[') {
        let close = rest.find(']')?;
        let inner = rest.get(..close)?;
        let after = rest.get(close + 1..)?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return (inner.parse::<IpAddr>().is_ok() && port_ok).then_some((1, 1 + close));
    }
    // `v4:port`
    let (host, port) = t.rsplit_once(':')?;
    let v4 = host.parse::<std::net::Ipv4Addr>().is_ok();
    (v4 && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some((0, host.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports_brackets_and_mapping() {
        let cases = [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5678", "1.2.3.4"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("[::ffff:10.0.0.1]:80", "10.0.0.1"),
            (" 1.2.3.4 ", "1.2.3.4"),
            ("not an ip", "not an ip"),
            ("1.2.3.4:", "1.2.3.4:"),
            ("[::1]:x", "[::1]:x"),
        ];
        for (input, want) in cases {
            assert_eq!(bare_ip(Cow::Borrowed(input)), want, "{input}");
            assert_eq!(bare_ip(Cow::Owned(input.to_string())), want, "{input}");
        }
        assert!(matches!(
            bare_ip(Cow::Borrowed("1.2.3.4:80")),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn reads_log_analytics_csv_times() {
        let r = Value::parse_owned(
            r#"{"a":"7/11/2023, 8:15:42.125 PM","b":"2023-07-11T20:15:42.125Z","c":"7/11/2023 8:15:42 PM","d":"1/2/3, x.5"}"#,
        )
        .expect("test JSON");
        let want = Timestamp::parse("2023-07-11T20:15:42.125Z");
        assert!(want.is_some());
        assert_eq!(export_time(&r, &["a"]), want);
        assert_eq!(export_time(&r, &["b"]), want);
        assert_eq!(
            export_time(&r, &["c"]),
            Timestamp::parse("2023-07-11T20:15:42Z")
        );
        assert_eq!(export_time(&r, &["d"]), None);
    }

    #[test]
    fn maps_logon_type_names() {
        let v = |s: &str| Value::Str(Cow::Owned(s.to_string()));
        assert_eq!(logon_type(Some(&Value::Int(2))), Some(2));
        assert_eq!(logon_type(Some(&v("4"))), Some(4));
        assert_eq!(logon_type(Some(&v("Owner"))), Some(0));
        assert_eq!(logon_type(Some(&v("delegate"))), Some(2));
        assert_eq!(logon_type(Some(&v("SystemService"))), Some(4));
        assert_eq!(logon_type(Some(&v("Nobody"))), None);
        assert_eq!(logon_type(None), None);
    }

    #[test]
    fn extracts_a_management_api_record() {
        let json = r#"{"CreationTime":"2023-07-11T08:15:00","Id":"r1","Operation":"MailItemsAccessed","OrganizationId":"t1","RecordType":50,"UserId":"Bob@Contoso.COM","ClientIPAddress":"[2001:db8::5]:4433","AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"c1","MailboxGuid":"m1","MailboxOwnerUPN":"Alice@Contoso.com","LogonType":1,"OperationCount":3,"AppAccessContext":{"AADSessionId":"s1","IssuedAtTime":"2023-07-11T08:00:00","UniqueTokenId":"","TokenTenantId":"t9"},"OperationProperties":[{"Name":"MailAccessType","Value":"Bind"},{"Name":"IsThrottled","Value":"False"}],"Folders":[{"Id":"F","Path":"\\Inbox","FolderItems":[{"InternetMessageId":"<m@x>"}]}]}"#;
        let raw = Value::parse(json).expect("test JSON");
        let f = fields(&raw);
        assert_eq!(f.user.as_deref(), Some("bob@contoso.com"));
        assert_eq!(f.mailbox_owner.as_deref(), Some("alice@contoso.com"));
        assert_eq!(f.client_ip.as_deref(), Some("2001:db8::5"));
        assert_eq!(f.session_id.as_deref(), Some("s1"));
        assert_eq!(f.token_id, None, "empty UniqueTokenId means unknown");
        assert_eq!(f.token_tenant.as_deref(), Some("t9"));
        assert!(f.token_issued_at.is_some());
        assert_eq!(f.mail_access_type.as_deref(), Some("Bind"));
        assert_eq!(f.throttled, Some(false));
        assert_eq!(f.logon_type, Some(1));
        assert_eq!(f.operation_count, Some(3));
        assert_eq!(f.folders.len(), 1);
    }
}
