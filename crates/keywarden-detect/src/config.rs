//! The detection configuration: a TOML file whose every key has a documented default.
//!
//! [`DetectConfig`] is what the file says (missing keys take their defaults, unknown keys are
//! errors); [`DetectConfig::build`] checks it, loads the IOC files it names and returns the
//! runtime [`Settings`]. [`DEFAULT_CONFIG`] is the commented default file that
//! `keywarden config show` prints; a test keeps it equal to [`DetectConfig::default`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::coverage::Declared;
use crate::coverage_declared::parse_spec;
use crate::error::ConfigError;
use crate::intel::Intel;

/// The Microsoft consumer (MSA) tenant.
pub(crate) const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The default configuration file, with its documentation.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub baseline: BaselineConfig,
    pub tolerance: ToleranceConfig,
    pub allow: AllowConfig,
    pub intel: IntelConfig,
    pub rules: RulesConfig,
    pub weak_signals: WeakSignalConfig,
    pub coverage: CoverageConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// Look-back baseline inside the input: its first N days (ending earlier at the first
    /// strong evidence).
    pub days: i64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig { days: 7 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToleranceConfig {
    /// Clocks of different services may disagree by this much.
    pub clock_skew_minutes: i64,
    /// A sign-in may be stamped (or delivered) this long after the token's first use.
    pub ingestion_lag_minutes: i64,
    /// A token may have been issued this long before its first use, and is never used longer
    /// than this after its `IssuedAtTime` (Continuous Access Evaluation tokens live up to 28 h).
    pub max_token_lifetime_minutes: i64,
}

impl Default for ToleranceConfig {
    fn default() -> Self {
        ToleranceConfig {
            clock_skew_minutes: 5,
            ingestion_lag_minutes: 30,
            max_token_lifetime_minutes: 28 * 60,
        }
    }
}

/// Sign-in coverage: what the exports are declared to hold, and how gaps are recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoverageConfig {
    /// Declared complete sign-in categories, as `--signin-coverage` SPECs (`all`,
    /// `interactive,non-interactive`, `all@START/END`...). Empty: inferred from the data.
    pub signin: Vec<String>,
    /// A category with no record in at least this many whole hours (inside its span) has a gap:
    /// tokens whose issuance may fall in it are unjudged.
    pub max_quiet_hours: i64,
    /// When more than this share (per cent) of the users of delegated tokens have no sign-in
    /// at all in the export, it is taken as filtered by user, and their tokens are unjudged.
    pub user_filter_absent_percent: i64,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            signin: Vec::new(),
            max_quiet_hours: 24,
            user_filter_absent_percent: crate::coverage::CoverageModel::USER_FILTER_ABSENT_PERCENT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AllowConfig {
    /// Client app ids never reported by the lead rules (strong evidence still alerts).
    pub client_apps: Vec<String>,
    /// Users (UPNs) never reported by the lead rules.
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Use the shipped Storm-0558 IOC list.
    pub shipped_iocs: bool,
    /// More IOC files: CSV (`type,value,role,first_seen,last_seen,source`) or STIX 2.1 JSON.
    pub ioc_files: Vec<PathBuf>,
    /// More known-bad signing key ids (`kid`/`x5t`/thumbprint).
    pub bad_keys: Vec<String>,
    /// More first-party client app ids excluded from `first-seen-client-app`.
    pub first_party_client_apps: Vec<String>,
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            shipped_iocs: true,
            ioc_files: Vec::new(),
            bad_keys: Vec::new(),
            first_party_client_apps: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    pub token_never_issued: TokenNeverIssuedConfig,
    pub token_beyond_lifetime: Toggle,
    pub unexpected_mailbox_app: UnexpectedMailboxAppConfig,
    pub first_seen_client_app: FirstSeenClientAppConfig,
    pub consumer_tenant_token: ConsumerTenantConfig,
    pub known_bad_key: Toggle,
    pub ioc_ip: IocIpConfig,
    pub mailbox_volume_anomaly: VolumeConfig,
    pub cross_mailbox_access: CrossMailboxConfig,
    pub app_takeover: AppTakeoverConfig,
    pub adfs_key_theft: AdfsKeyTheftConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppTakeoverConfig {
    pub enabled: bool,
    /// A credential, mail permission or consent change followed within this many hours by the
    /// same app reading a mailbox it had not read before is one `high` alert.
    pub window_hours: i64,
    /// A credential added by the same actor to the same app at least this many days after
    /// the actor's previous one is a routine rotation: never `high`.
    pub routine_min_gap_days: i64,
}

impl Default for AppTakeoverConfig {
    fn default() -> Self {
        AppTakeoverConfig {
            enabled: true,
            window_hours: 24,
            routine_min_gap_days: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdfsKeyTheftConfig {
    pub enabled: bool,
    /// Domain controllers (host names, short or FQDN) allowed to request directory
    /// replication; hosts that receive replication requests in the input count as well.
    pub domain_controllers: Vec<String>,
}

impl Default for AdfsKeyTheftConfig {
    fn default() -> Self {
        AdfsKeyTheftConfig {
            enabled: true,
            domain_controllers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle { enabled: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenNeverIssuedConfig {
    pub enabled: bool,
    /// UAL `LogonType`s of background/system access, which has no sign-in.
    pub exempt_logon_types: Vec<i64>,
    /// Client apps documented to act without a sign-in record.
    pub exempt_client_apps: Vec<String>,
}

impl TokenNeverIssuedConfig {
    /// Background/system access (an exempt `LogonType`), which has no sign-in.
    pub fn exempts_logon_type(&self, logon_type: Option<i64>) -> bool {
        logon_type.is_some_and(|l| self.exempt_logon_types.contains(&l))
    }

    /// A client app documented to act without a sign-in record.
    pub fn exempts_client(&self, client_app_id: Option<&str>) -> bool {
        client_app_id.is_some_and(|c| {
            self.exempt_client_apps
                .iter()
                .any(|e| e.eq_ignore_ascii_case(c))
        })
    }
}

impl Default for TokenNeverIssuedConfig {
    fn default() -> Self {
        TokenNeverIssuedConfig {
            enabled: true,
            exempt_logon_types: vec![4],
            exempt_client_apps: vec!["00000002-0000-0ff1-ce00-000000000000".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnexpectedMailboxAppConfig {
    pub enabled: bool,
    /// Also report a known pair reaching a mailbox it never reached (non-first-party apps).
    pub per_mailbox: bool,
}

impl Default for UnexpectedMailboxAppConfig {
    fn default() -> Self {
        UnexpectedMailboxAppConfig {
            enabled: true,
            per_mailbox: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstSeenClientAppConfig {
    pub enabled: bool,
    /// A client app is "first seen" for a user when unused by them this many days before.
    pub lookback_days: i64,
    /// When at least this many users first use the same client app in the judged period (a
    /// tenant adopting an app), one tenant-level lead covers them all instead of one lead per
    /// user; 0 never rolls up.
    pub rollup_min_users: usize,
}

impl Default for FirstSeenClientAppConfig {
    fn default() -> Self {
        FirstSeenClientAppConfig {
            enabled: true,
            lookback_days: 14,
            rollup_min_users: 25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerTenantConfig {
    pub enabled: bool,
    /// Tenants whose tokens must never reach an enterprise resource.
    pub consumer_tenants: Vec<String>,
}

impl Default for ConsumerTenantConfig {
    fn default() -> Self {
        ConsumerTenantConfig {
            enabled: true,
            consumer_tenants: vec![CONSUMER_TENANT.into()],
        }
    }
}

impl ConsumerTenantConfig {
    /// Whether `token_tenant` is a listed consumer tenant.
    pub fn is_consumer(&self, token_tenant: &str) -> bool {
        self.consumer_tenants
            .iter()
            .any(|c| c.eq_ignore_ascii_case(token_tenant))
    }

    /// Whether a token from `token_tenant` used on a resource of `resource_tenant` earns the
    /// rule: it is enabled, and the token tenant is a consumer tenant or another organisation.
    pub fn flags(&self, token_tenant: &str, resource_tenant: Option<&str>) -> bool {
        self.enabled
            && (self.is_consumer(token_tenant)
                || resource_tenant.is_some_and(|t| !t.eq_ignore_ascii_case(token_tenant)))
    }

    /// The evidence's `why` for a flagged token tenant.
    pub fn why(&self, token_tenant: &str) -> &'static str {
        if self.is_consumer(token_tenant) {
            "token issued by the Microsoft consumer (MSA) tenant used on an enterprise resource"
        } else {
            "token issued by another tenant than the resource's organisation"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IocIpConfig {
    pub enabled: bool,
    /// Days added before each IP's first-seen and after its last-seen date.
    pub margin_days: i64,
}

impl Default for IocIpConfig {
    fn default() -> Self {
        IocIpConfig {
            enabled: true,
            margin_days: 14,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeConfig {
    pub enabled: bool,
    /// A day's `OperationCount` must exceed the baseline daily mean times this factor...
    pub factor: f64,
    /// ...and this absolute floor.
    pub min_operations: i64,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        VolumeConfig {
            enabled: true,
            factor: 10.0,
            min_operations: 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossMailboxConfig {
    pub enabled: bool,
    /// One identity newly reading at least this many mailboxes it does not own.
    pub min_mailboxes: usize,
}

impl Default for CrossMailboxConfig {
    fn default() -> Self {
        CrossMailboxConfig {
            enabled: true,
            min_mailboxes: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeakSignalConfig {
    /// `ClientInfoString` values typical of scripted REST access.
    pub rest_client_info: Vec<String>,
    /// Off-hours window (UTC hours, start inclusive, end exclusive), Monday to Friday.
    pub off_hours_start: u32,
    pub off_hours_end: u32,
    /// Score added per weak signal present; a lead reaching `medium_score` becomes `medium`.
    pub weight: f64,
    pub medium_score: f64,
}

impl Default for WeakSignalConfig {
    fn default() -> Self {
        WeakSignalConfig {
            rest_client_info: vec!["Client=REST;Client=RESTSystem;;".into()],
            off_hours_start: 0,
            off_hours_end: 9,
            weight: 0.1,
            medium_score: 0.5,
        }
    }
}

/// The runtime settings: the checked configuration plus loaded intelligence.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: DetectConfig,
    pub intel: Intel,
    /// Declared sign-in coverage: `[coverage] signin`, plus what a driver adds (collector
    /// manifests, `--signin-coverage`).
    pub declared: Vec<Declared>,
    /// Declarations a driver refused, each with why (a manifest stream whose files are not
    /// among the inputs): reported in the coverage summary, never applied.
    pub declarations_refused: Vec<String>,
}

impl DetectConfig {
    /// Reads a TOML file (missing keys take defaults).
    pub fn from_file(path: &Path) -> Result<DetectConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = DetectConfig::from_toml(&text).map_err(|reason| ConfigError::Parse {
            path: path.to_path_buf(),
            reason,
        })?;
        // IOC files are relative to the configuration file.
        let dir = path.parent().unwrap_or(Path::new(""));
        for f in &mut cfg.intel.ioc_files {
            if f.is_relative() {
                *f = dir.join(&*f);
            }
        }
        Ok(cfg)
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<DetectConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// Checks values and loads intelligence.
    pub fn build(&self) -> Result<Settings, ConfigError> {
        let t = &self.tolerance;
        for (key, v) in [
            ("baseline.days", self.baseline.days),
            ("tolerance.clock_skew_minutes", t.clock_skew_minutes),
            ("tolerance.ingestion_lag_minutes", t.ingestion_lag_minutes),
            (
                "tolerance.max_token_lifetime_minutes",
                t.max_token_lifetime_minutes,
            ),
            (
                "rules.first_seen_client_app.lookback_days",
                self.rules.first_seen_client_app.lookback_days,
            ),
            ("rules.ioc_ip.margin_days", self.rules.ioc_ip.margin_days),
            ("coverage.max_quiet_hours", self.coverage.max_quiet_hours),
            (
                "rules.mailbox_volume_anomaly.min_operations",
                self.rules.mailbox_volume_anomaly.min_operations,
            ),
        ] {
            if !(0..=36_500 * 24 * 60).contains(&v) {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    reason: "must be between 0 and 100 years",
                });
            }
        }
        let p = self.coverage.user_filter_absent_percent;
        if !(0..=100).contains(&p) {
            return Err(ConfigError::Invalid {
                key: "coverage.user_filter_absent_percent",
                value: p.to_string(),
                reason: "must be a percentage between 0 and 100",
            });
        }
        let f = self.rules.mailbox_volume_anomaly.factor;
        if !(f.is_finite() && f >= 1.0) {
            return Err(ConfigError::Invalid {
                key: "rules.mailbox_volume_anomaly.factor",
                value: f.to_string(),
                reason: "must be a number >= 1",
            });
        }
        let w = &self.weak_signals;
        if w.off_hours_start > 24 || w.off_hours_end > 24 {
            return Err(ConfigError::Invalid {
                key: "weak_signals.off_hours_end",
                value: w.off_hours_end.to_string(),
                reason: "hours are 0..=24",
            });
        }
        let mut intel = if self.intel.shipped_iocs {
            Intel::shipped()
        } else {
            let mut i = Intel::default();
            i.add_first_party(crate::intel::SHIPPED_FIRST_PARTY);
            i
        };
        for path in &self.intel.ioc_files {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::IocRead {
                path: path.clone(),
                source,
            })?;
            let name = path.display().to_string();
            if text.trim_start().starts_with(['{', '[']) {
                intel.add_stix(&name, &text)?;
            } else {
                intel.add_csv(&name, &text)?;
            }
        }
        for key in &self.intel.bad_keys {
            intel.add_key(crate::intel::KeyIndicator {
                value: key.clone(),
                kind: "user-listed".into(),
                source: "configuration".into(),
            });
        }
        intel.add_first_party(&self.intel.first_party_client_apps.join("\n"));
        let mut declared = Vec::new();
        for spec in &self.coverage.signin {
            declared.extend(parse_spec(spec, "config [coverage] signin")?);
        }
        Ok(Settings {
            config: self.clone(),
            intel,
            declared,
            declarations_refused: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_default_file_is_the_default() {
        let parsed = DetectConfig::from_toml(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, DetectConfig::default());
        assert_eq!(
            DetectConfig::from_toml("").unwrap(),
            DetectConfig::default()
        );
    }

    #[test]
    fn rendered_config_round_trips() {
        let cfg = DetectConfig::default();
        assert_eq!(DetectConfig::from_toml(&cfg.to_toml()).unwrap(), cfg);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(DetectConfig::from_toml("[baseline]\ndayz = 3\n").is_err());
        let mut cfg = DetectConfig::default();
        cfg.rules.mailbox_volume_anomaly.factor = f64::NAN;
        assert!(matches!(cfg.build(), Err(ConfigError::Invalid { .. })));
        cfg = DetectConfig::default();
        cfg.baseline.days = -1;
        let err = cfg.build().unwrap_err().to_string();
        assert!(err.contains("baseline.days"), "{err}");
    }

    #[test]
    fn ioc_files_load_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.csv"), "type,value\nipv4,10.0.0.1\n").unwrap();
        std::fs::write(
            dir.path().join("kw.toml"),
            "[intel]\nioc_files = [\"mine.csv\"]\nbad_keys = [\"MyKid\"]\n",
        )
        .unwrap();
        let s = DetectConfig::from_file(&dir.path().join("kw.toml"))
            .unwrap()
            .build()
            .unwrap();
        assert!(s.intel.ip_listed("10.0.0.1"));
        assert!(s.intel.key("mykid").is_some());
        let missing = DetectConfig::from_file(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }
}
