//! Microsoft 365 Defender advanced-hunting rows other than `CloudAppEvents`: the Defender for
//! Endpoint `Device*` tables and the Defender for Identity `Identity*` tables, exported one
//! table at a time or as a `union` of several (JSON lines, a JSON array, or CSV).
//!
//! A union gives every row every column of every table (empty where a table has none), and
//! Kusto renames a column whose type differs between tables (`ReportId_long`,
//! `ReportId_string`, `AdditionalFields_dynamic`...). So a row is recognised as its table from
//! its *non-empty* columns and its `ActionType` ([`table`]); a `Type`, `$table` or `TableName`
//! column naming the table wins when present. [`normalise`] gives renamed columns back their
//! table's name, decodes `AdditionalFields` held as JSON text, and extracts the fields.

use keywarden_model::{Event, Fields, Object, Origin, SourceKind, Text, Value, ascii_fold};

use super::common::{event, text};
use super::{defender, embedded, ual};
use crate::format::Format;
use crate::reject::RejectReason;

/// Columns that name the table a row came from (Sentinel `Type`, Kusto `union withsource`).
const TABLE_COLUMNS: [&str; 3] = ["Type", "$table", "TableName"];

/// Suffixes Kusto appends to a union's columns whose types differ between tables.
const TYPE_SUFFIXES: [&str; 8] = [
    "_string",
    "_long",
    "_dynamic",
    "_int",
    "_real",
    "_bool",
    "_datetime",
    "_guid",
];

/// Columns holding `dynamic` values that exports write as JSON text.
const DYNAMIC_COLUMNS: [&str; 2] = ["AdditionalFields", "ActivityObjects"];

/// The Defender table a row belongs to, if it is an advanced-hunting row at all.
pub(crate) fn table(o: &Object<'_>) -> Option<Format> {
    if let Some(named) = TABLE_COLUMNS
        .iter()
        .find_map(|c| o.get(c).and_then(Value::as_str))
        .and_then(by_name)
    {
        return Some(named);
    }
    if defender::looks_like_cloud_app_event(o) {
        return Some(Format::DefenderCloudAppEvents);
    }
    let action = filled(o, "ActionType")?;
    if o.get("Timestamp").is_none() && o.get("TimeGenerated").is_none() {
        return None;
    }
    let device = filled(o, "DeviceId").is_some()
        || (filled(o, "DeviceName").is_some()
            && o.iter().any(|(k, v)| {
                k.starts_with("InitiatingProcess") && !v.is_null() && v.as_str() != Some("")
            }));
    let identity_app = filled(o, "Application").is_some();
    if device && !identity_app {
        return Some(device_table(action));
    }
    if ["QueryType", "QueryTarget", "Query"]
        .iter()
        .any(|c| filled(o, c).is_some())
    {
        return Some(Format::DefenderIdentityQueryEvents);
    }
    if identity_app {
        let logon = action.starts_with("Logon")
            && (filled(o, "LogonType").is_some() || o.get("FailureReason").is_some());
        return Some(if logon {
            Format::DefenderIdentityLogonEvents
        } else {
            Format::DefenderIdentityDirectoryEvents
        });
    }
    device.then(|| device_table(action))
}

/// The table named by a `Type`/`$table` column.
fn by_name(name: &str) -> Option<Format> {
    Some(match name {
        "CloudAppEvents" => Format::DefenderCloudAppEvents,
        "DeviceEvents" => Format::DefenderDeviceEvents,
        "DeviceProcessEvents" => Format::DefenderDeviceProcessEvents,
        "DeviceNetworkEvents" => Format::DefenderDeviceNetworkEvents,
        "DeviceFileEvents" => Format::DefenderDeviceFileEvents,
        "DeviceRegistryEvents" => Format::DefenderDeviceRegistryEvents,
        "DeviceLogonEvents" => Format::DefenderDeviceLogonEvents,
        "DeviceImageLoadEvents" => Format::DefenderDeviceImageLoadEvents,
        "IdentityDirectoryEvents" => Format::DefenderIdentityDirectoryEvents,
        "IdentityQueryEvents" => Format::DefenderIdentityQueryEvents,
        "IdentityLogonEvents" => Format::DefenderIdentityLogonEvents,
        _ => return None,
    })
}

/// The `Device*` table of an endpoint row, from its `ActionType` (each table documents its
/// own; anything else is a `DeviceEvents` row).
fn device_table(action: &str) -> Format {
    match action {
        "ProcessCreated" => Format::DefenderDeviceProcessEvents,
        "ConnectionSuccess"
        | "ConnectionFailed"
        | "ConnectionAttempt"
        | "ConnectionRequest"
        | "ConnectionFound"
        | "ConnectionAcknowledged"
        | "InboundConnectionAccepted"
        | "ListeningConnectionCreated"
        | "NetworkSignatureInspected"
        | "SslConnectionInspected"
        | "HttpConnectionInspected"
        | "DnsConnectionInspected"
        | "IcmpConnectionInspected"
        | "SshConnectionInspected" => Format::DefenderDeviceNetworkEvents,
        "FileCreated" | "FileModified" | "FileDeleted" | "FileRenamed" => {
            Format::DefenderDeviceFileEvents
        }
        "RegistryKeyCreated"
        | "RegistryKeyDeleted"
        | "RegistryKeyRenamed"
        | "RegistryValueSet"
        | "RegistryValueDeleted" => Format::DefenderDeviceRegistryEvents,
        "LogonSuccess" | "LogonFailed" | "LogonAttempted" => Format::DefenderDeviceLogonEvents,
        "ImageLoaded" => Format::DefenderDeviceImageLoadEvents,
        _ => Format::DefenderDeviceEvents,
    }
}

/// A column's text when it is present and not empty.
fn filled<'o>(o: &'o Object<'_>, column: &str) -> Option<&'o str> {
    o.get(column)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Normalises one row of table `format` (a `Device*` or `Identity*` table).
pub(crate) fn normalise<'a>(
    format: Format,
    mut raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    if let Value::Object(row) = &mut raw {
        restore_union_columns(row);
        for (key, value) in row.0.iter_mut() {
            if DYNAMIC_COLUMNS.contains(&key.as_ref()) {
                embedded::canonicalise_member(value);
            }
        }
    }
    let identity = matches!(
        format,
        Format::DefenderIdentityDirectoryEvents
            | Format::DefenderIdentityQueryEvents
            | Format::DefenderIdentityLogonEvents
    );
    let fields = Fields {
        time: ual::export_time(&raw, &["Timestamp", "TimeGenerated"]),
        record_id: record_id(&raw, identity),
        tenant: text(&raw, &["TenantId"]),
        user: text(
            &raw,
            &[
                "AccountUpn",
                "InitiatingProcessAccountUpn",
                "TargetAccountUpn",
            ],
        )
        .map(ascii_fold),
        client_ip: text(&raw, &["IPAddress", "RemoteIP", "LocalIP"]).map(ual::bare_ip),
        operation: text(&raw, &["ActionType"]),
        ..Fields::default()
    };
    let source = if identity {
        SourceKind::DefenderIdentity
    } else {
        SourceKind::DefenderEndpoint
    };
    Ok(event(source, format, raw, origin, fields))
}

/// The row's id. Defender for Identity `ReportId`s are unique; an endpoint `ReportId` is
/// only unique per device, so it is qualified with the device.
fn record_id<'a>(raw: &Value<'a>, identity: bool) -> Option<Text<'a>> {
    let report = text(raw, &["ReportId"])?;
    if identity {
        return Some(report);
    }
    match text(raw, &["DeviceId", "DeviceName"]) {
        Some(device) if !device.chars().all(|c| c == '0' || c == '-') => {
            Some(Text::Owned(format!("{device}:{report}")))
        }
        _ => match text(raw, &["DeviceName"]) {
            Some(name) => Some(Text::Owned(format!("{name}:{report}"))),
            None => Some(report),
        },
    }
}

/// Gives a union's type-suffixed columns (`ReportId_long`) their table's name back when the
/// row has no filled column of that name (the suffixed column holding this row's value).
fn restore_union_columns(row: &mut Object<'_>) {
    let mut restored: Vec<(String, usize)> = Vec::new();
    for (i, (key, value)) in row.0.iter().enumerate() {
        if value.is_null() || value.as_str().is_some_and(|s| s.is_empty()) {
            continue;
        }
        let Some(base) = TYPE_SUFFIXES
            .iter()
            .find_map(|s| key.strip_suffix(s))
            .filter(|b| !b.is_empty())
        else {
            continue;
        };
        let base_filled = row
            .get(base)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        if !base_filled && !restored.iter().any(|(b, _)| b == base) {
            restored.push((base.to_string(), i));
        }
    }
    for (base, i) in restored {
        let Some(value) = row.0.get(i).map(|(_, v)| v.clone()) else {
            continue;
        };
        match row.0.iter_mut().find(|(k, _)| k.as_ref() == base) {
            Some(slot) => slot.1 = value,
            None => row.insert(base, value),
        }
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

    fn table_of(json: &str) -> Option<Format> {
        let v = Value::parse_owned(json).expect("test JSON");
        v.as_object().and_then(table)
    }

    #[test]
    fn recognises_tables_in_a_union() {
        // A union row: every column present, only its table's filled.
        let ldap = r#"{"Timestamp":"2021-08-02T13:11:39Z","DeviceId":"0","DeviceName":"adfs01","ActionType":"LdapSearch","Application":"","InitiatingProcessFileName":"powershell.exe","ActivityType":"","ActivityObjects":null,"RawEventData":null,"QueryType":""}"#;
        assert_eq!(table_of(ldap), Some(Format::DefenderDeviceEvents));
        let repl = r#"{"Timestamp":"2021-08-02T13:13:02Z","DeviceId":"","DeviceName":"adfs01","ActionType":"Directory Services replication","Application":"Active Directory","Protocol":"Drsr","InitiatingProcessFileName":"","RawEventData":null}"#;
        assert_eq!(
            table_of(repl),
            Some(Format::DefenderIdentityDirectoryEvents)
        );
        let proc_ = r#"{"Timestamp":"2024-01-01T00:00:00Z","DeviceId":"abc","ActionType":"ProcessCreated"}"#;
        assert_eq!(table_of(proc_), Some(Format::DefenderDeviceProcessEvents));
        let query = r#"{"Timestamp":"2024-01-01T00:00:00Z","ActionType":"LDAP query","Application":"Active Directory","QueryType":"AllGroups"}"#;
        assert_eq!(table_of(query), Some(Format::DefenderIdentityQueryEvents));
        let logon = r#"{"Timestamp":"2024-01-01T00:00:00Z","ActionType":"LogonFailed","Application":"Active Directory","LogonType":"Resource access","FailureReason":"WrongPassword"}"#;
        assert_eq!(table_of(logon), Some(Format::DefenderIdentityLogonEvents));
        let named = r#"{"Type":"DeviceRegistryEvents","ActionType":"x"}"#;
        assert_eq!(table_of(named), Some(Format::DefenderDeviceRegistryEvents));
        // No ActionType, or no time: not an advanced-hunting row.
        assert_eq!(table_of(r#"{"Timestamp":"x","DeviceId":"a"}"#), None);
        assert_eq!(table_of(r#"{"ActionType":"x","DeviceId":"a"}"#), None);
    }

    #[test]
    fn restores_union_columns_and_decodes_additional_fields() {
        let json = r#"{"Timestamp":"2021-08-02T13:11:39.7724491Z","DeviceId":"00000000-0000-0000-0000-000000000000","DeviceName":"adfs01.simulandlabs.com","ActionType":"LdapSearch","ReportId_long":113597,"ReportId_string":"","AdditionalFields_string":"{\"DistinguishedName\":\"CN=ADFS,CN=Microsoft,CN=Program Data,DC=x\"}","AdditionalFields_dynamic":null,"InitiatingProcessAccountUpn":"Wardog@X.com","AccountUpn":""}"#;
        let raw = Value::parse(json).expect("test JSON");
        let ev = normalise(Format::DefenderDeviceEvents, raw, origin()).expect("event");
        assert_eq!(ev.source, SourceKind::DefenderEndpoint);
        assert_eq!(
            ev.fields.record_id.as_deref(),
            Some("adfs01.simulandlabs.com:113597")
        );
        assert_eq!(ev.fields.user.as_deref(), Some("wardog@x.com"));
        assert_eq!(ev.fields.operation.as_deref(), Some("LdapSearch"));
        assert_eq!(
            ev.get("AdditionalFields.DistinguishedName")
                .and_then(Value::as_str),
            Some("CN=ADFS,CN=Microsoft,CN=Program Data,DC=x")
        );
        assert!(ev.fields.time.is_some());
    }

    #[test]
    fn identity_rows_keep_their_report_id() {
        let json = r#"{"Timestamp":"2021-08-02T13:13:02.057Z","ActionType":"Directory Services replication","Application":"Active Directory","ReportId":"3ab9_1","AccountUpn":"pgustavo@x.com","IPAddress":"192.168.2.5","AdditionalFields":{"FROM.DEVICE":"ADFS01"}}"#;
        let raw = Value::parse(json).expect("test JSON");
        let ev = normalise(Format::DefenderIdentityDirectoryEvents, raw, origin()).expect("ev");
        assert_eq!(ev.source, SourceKind::DefenderIdentity);
        assert_eq!(ev.fields.record_id.as_deref(), Some("3ab9_1"));
        assert_eq!(ev.fields.client_ip.as_deref(), Some("192.168.2.5"));
    }
}
