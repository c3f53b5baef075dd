//! Alerts: the output contract shared by the built-in detections and Sigma rules.
//!
//! The JSON shape of [`Alert`] is `alerts.jsonl`'s contract (documented in `docs/OUTPUTS.md`):
//! fields are never renamed or removed, only added.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Alert severity. `high` and `critical` mean "an analyst must look now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a severity or a Sigma `level` (`informational` counts as `info`).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "informational" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One alert, as written to `alerts.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub score: f64,
    pub time_first: Option<Timestamp>,
    pub time_last: Option<Timestamp>,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub mailbox: Option<String>,
    pub client_ip: Option<String>,
    pub app_id: Option<String>,
    pub client_app_id: Option<String>,
    pub session_id: Option<String>,
    pub token_id: Option<String>,
    pub incident_id: Option<String>,
    /// ATT&CK technique ids (`T1550.001`).
    pub attack: Vec<String>,
    /// Rule-specific evidence (always a JSON object).
    pub evidence: serde_json::Value,
    /// Every source record id the alert covers (`path:line` where a record has no id).
    pub record_ids: Vec<String>,
}

impl Alert {
    /// A new alert with empty optional fields and an empty evidence object.
    pub fn new(rule_id: impl Into<String>, title: impl Into<String>, severity: Severity) -> Alert {
        Alert {
            id: String::new(),
            rule_id: rule_id.into(),
            title: title.into(),
            severity,
            score: 0.0,
            time_first: None,
            time_last: None,
            tenant: None,
            user: None,
            mailbox: None,
            client_ip: None,
            app_id: None,
            client_app_id: None,
            session_id: None,
            token_id: None,
            incident_id: None,
            attack: Vec::new(),
            evidence: serde_json::Value::Object(Default::default()),
            record_ids: Vec::new(),
        }
    }

    /// The strings of the evidence list `name` (e.g. `token_ids`): empty when absent or not a
    /// list; non-string members are skipped.
    pub fn evidence_strings(&self, name: &str) -> Vec<String> {
        self.evidence
            .get(name)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_strings_reads_string_lists_only() {
        let mut a = Alert::new("r", "t", Severity::Low);
        a.evidence = serde_json::json!({"token_ids": ["a", 1, "b"], "users": "x"});
        assert_eq!(a.evidence_strings("token_ids"), ["a", "b"]);
        assert!(a.evidence_strings("users").is_empty());
        assert!(a.evidence_strings("absent").is_empty());
    }

    #[test]
    fn alert_json_field_order_is_the_contract() {
        let mut a = Alert::new("ioc-ip", "Storm-0558 IP", Severity::High);
        a.id = "A1".into();
        a.record_ids.push("r1".into());
        let json = serde_json::to_string(&a).unwrap();
        insta::assert_snapshot!(json);
    }

    #[test]
    fn severity_parses_sigma_levels() {
        assert_eq!(Severity::parse("informational"), Some(Severity::Info));
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("urgent"), None);
        assert!(Severity::Critical > Severity::High);
    }
}
