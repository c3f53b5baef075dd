//! Export shapes by name: what `--format` accepts and what `summary.json` reports.

use std::fmt;
use std::str::FromStr;

/// One export shape of one kind of log. The name (`as_str`) is a contract: it appears in
/// `summary.json` and is accepted by `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// Unified Audit Log records as the Management Activity API returns them (also the
    /// `AuditData` of every other UAL export): a JSON array or JSON lines.
    UalJson,
    /// `Search-UnifiedAuditLog | Export-Csv` (`RecordType,CreationDate,UserIds,Operations,AuditData,...`).
    UalSearchCsv,
    /// `Search-UnifiedAuditLog` result objects saved as JSON (`AuditData` an object or text),
    /// as Microsoft-Extractor-Suite's `Get-UAL -Output JSON` writes them.
    UalSearchJson,
    /// Purview audit search export, current 8-column layout.
    PurviewCsv,
    /// Purview / Security & Compliance export, older 4-column layout
    /// (`CreationDate,UserIds,Operations,AuditData`).
    PurviewCsvLegacy,
    /// Microsoft Sentinel `OfficeActivity` rows.
    SentinelOfficeActivity,
    /// Defender XDR `CloudAppEvents` rows (`RawEventData` holds the UAL record).
    DefenderCloudAppEvents,
    /// Defender for Endpoint `DeviceEvents` rows (`LdapSearch`, `AntivirusDetection`...).
    DefenderDeviceEvents,
    /// Defender for Endpoint `DeviceProcessEvents` rows (`ProcessCreated`).
    DefenderDeviceProcessEvents,
    /// Defender for Endpoint `DeviceNetworkEvents` rows (`ConnectionSuccess`...).
    DefenderDeviceNetworkEvents,
    /// Defender for Endpoint `DeviceFileEvents` rows (`FileCreated`...).
    DefenderDeviceFileEvents,
    /// Defender for Endpoint `DeviceRegistryEvents` rows (`RegistryValueSet`...).
    DefenderDeviceRegistryEvents,
    /// Defender for Endpoint `DeviceLogonEvents` rows (`LogonSuccess`...).
    DefenderDeviceLogonEvents,
    /// Defender for Endpoint `DeviceImageLoadEvents` rows (`ImageLoaded`).
    DefenderDeviceImageLoadEvents,
    /// Defender for Identity `IdentityDirectoryEvents` rows (`Directory Services replication`...).
    DefenderIdentityDirectoryEvents,
    /// Defender for Identity `IdentityQueryEvents` rows (`LDAP query`, `DNS query`...).
    DefenderIdentityQueryEvents,
    /// Defender for Identity `IdentityLogonEvents` rows (`LogonSuccess`, `LogonFailed`).
    DefenderIdentityLogonEvents,
    /// Graph `auditLogs/signIns` objects (`{"value": [...]}` pages or bare arrays).
    SignInGraph,
    /// Log Analytics `SigninLogs`, `AADNonInteractiveUserSignInLogs`,
    /// `AADServicePrincipalSignInLogs`, `AADManagedIdentitySignInLogs` rows.
    SignInLogAnalytics,
    /// Azure diagnostic-settings / Event Hub envelope records (`category` + `properties`).
    AzureDiagnostic,
    /// Log Analytics `MicrosoftGraphActivityLogs` rows.
    GraphActivity,
    /// Entra directory audit rows (Log Analytics `AuditLogs` or Graph `directoryAudits`).
    EntraAudit,
    /// nginx/Apache combined (or common) access log lines.
    HttpCombined,
    /// HTTP access logs as JSON lines.
    HttpJson,
    /// Windows EVTX files.
    Evtx,
    /// Windows events exported as JSON rows (Sentinel `SecurityEvent`, `WindowsEvent`, Winlogbeat).
    WindowsEventJson,
    /// `keywarden gateway` decision logs (JSON lines).
    GatewayDecision,
    /// Any other JSON record.
    Json,
}

impl Format {
    pub const ALL: [Format; 28] = [
        Format::UalJson,
        Format::UalSearchCsv,
        Format::UalSearchJson,
        Format::PurviewCsv,
        Format::PurviewCsvLegacy,
        Format::SentinelOfficeActivity,
        Format::DefenderCloudAppEvents,
        Format::DefenderDeviceEvents,
        Format::DefenderDeviceProcessEvents,
        Format::DefenderDeviceNetworkEvents,
        Format::DefenderDeviceFileEvents,
        Format::DefenderDeviceRegistryEvents,
        Format::DefenderDeviceLogonEvents,
        Format::DefenderDeviceImageLoadEvents,
        Format::DefenderIdentityDirectoryEvents,
        Format::DefenderIdentityQueryEvents,
        Format::DefenderIdentityLogonEvents,
        Format::SignInGraph,
        Format::SignInLogAnalytics,
        Format::AzureDiagnostic,
        Format::GraphActivity,
        Format::EntraAudit,
        Format::HttpCombined,
        Format::HttpJson,
        Format::Evtx,
        Format::WindowsEventJson,
        Format::GatewayDecision,
        Format::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::UalJson => "ual-json",
            Format::UalSearchCsv => "ual-search-csv",
            Format::UalSearchJson => "ual-search-json",
            Format::PurviewCsv => "purview-csv",
            Format::PurviewCsvLegacy => "purview-csv-legacy",
            Format::SentinelOfficeActivity => "sentinel-office-activity",
            Format::DefenderCloudAppEvents => "defender-cloud-app-events",
            Format::DefenderDeviceEvents => "defender-device-events",
            Format::DefenderDeviceProcessEvents => "defender-device-process-events",
            Format::DefenderDeviceNetworkEvents => "defender-device-network-events",
            Format::DefenderDeviceFileEvents => "defender-device-file-events",
            Format::DefenderDeviceRegistryEvents => "defender-device-registry-events",
            Format::DefenderDeviceLogonEvents => "defender-device-logon-events",
            Format::DefenderDeviceImageLoadEvents => "defender-device-image-load-events",
            Format::DefenderIdentityDirectoryEvents => "defender-identity-directory-events",
            Format::DefenderIdentityQueryEvents => "defender-identity-query-events",
            Format::DefenderIdentityLogonEvents => "defender-identity-logon-events",
            Format::SignInGraph => "signin-graph",
            Format::SignInLogAnalytics => "signin-log-analytics",
            Format::AzureDiagnostic => "azure-diagnostic",
            Format::GraphActivity => "graph-activity",
            Format::EntraAudit => "entra-audit",
            Format::HttpCombined => "http-combined",
            Format::HttpJson => "http-json",
            Format::Evtx => "evtx",
            Format::WindowsEventJson => "windows-event-json",
            Format::GatewayDecision => "keywarden-gateway",
            Format::Json => "json",
        }
    }

    /// Shapes whose container is CSV.
    pub fn is_csv(self) -> bool {
        matches!(
            self,
            Format::UalSearchCsv | Format::PurviewCsv | Format::PurviewCsvLegacy
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--format` got a name that is not a [`Format`].
#[derive(Debug, thiserror::Error)]
#[error("unknown format {given:?}; known formats: {known}")]
pub struct UnknownFormat {
    pub given: String,
    pub known: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat {
                given: s.to_string(),
                known: Format::ALL.map(Format::as_str).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert!("purview".parse::<Format>().is_err());
    }
}
