//! Threat intelligence: IOC IPs with their first/last-seen windows, known-bad signing keys,
//! and Microsoft first-party client app ids.
//!
//! Shipped data (embedded at build time from `data/`): Microsoft's Storm-0558 IOCs (8 token
//! web-panel and 30 SoftEther proxy IPs with dates, the acquired MSA key as `kid` and as
//! certificate thumbprint) and the 146 first-party client app ids of Elastic's rule. Users add
//! their own lists: CSV with the same columns (`type,value,role,first_seen,last_seen,source`)
//! or STIX 2.1 bundles of `indicator` objects with `[ipv4-addr:value = '...']` patterns.

use std::collections::{BTreeMap, BTreeSet};

use keywarden_model::{Timestamp, time::MICROS_PER_DAY};
use serde::Serialize;

use crate::error::IntelError;

/// Microsoft's Storm-0558 indicators (shipped).
pub(crate) const SHIPPED_IOCS: &str = include_str!("../data/storm-0558-iocs.csv");
/// Microsoft first-party client app ids (shipped).
pub(crate) const SHIPPED_FIRST_PARTY: &str =
    include_str!("../data/microsoft-first-party-client-app-ids.txt");

/// One IP indicator: matched only between `first` and `last` (widened by the margin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpIndicator {
    pub ip: String,
    pub role: String,
    /// Start of the first-seen day (`None`: valid since forever).
    pub first: Option<Timestamp>,
    /// End of the last-seen day (`None`: still valid).
    pub last: Option<Timestamp>,
    pub source: String,
}

/// A known-bad signing key (`kid`, `x5t` or certificate thumbprint).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyIndicator {
    pub value: String,
    pub kind: String,
    pub source: String,
}

/// All loaded intelligence.
#[derive(Debug, Clone, Default)]
pub struct Intel {
    ips: BTreeMap<String, Vec<IpIndicator>>,
    keys: BTreeMap<String, KeyIndicator>,
    first_party: BTreeSet<String>,
}

impl Intel {
    /// Shipped data only.
    pub fn shipped() -> Intel {
        let mut intel = Intel::default();
        // The shipped files are tested to parse; a failure here would be a build defect.
        let _ = intel.add_csv("shipped:storm-0558-iocs.csv", SHIPPED_IOCS);
        intel.add_first_party(SHIPPED_FIRST_PARTY);
        intel
    }

    /// Adds a CSV IOC list (`type,value,role,first_seen,last_seen,source`). Returns how many
    /// indicators it added.
    pub fn add_csv(&mut self, name: &str, text: &str) -> Result<usize, IntelError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let headers = rdr.headers().map_err(|e| IntelError::Csv {
            file: name.into(),
            line: 1,
            reason: e.to_string(),
        })?;
        let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
        let (Some(ty), Some(val)) = (col("type"), col("value")) else {
            return Err(IntelError::Csv {
                file: name.into(),
                line: 1,
                reason: "header must name the columns `type` and `value`".into(),
            });
        };
        let (role, first, last, source) = (
            col("role"),
            col("first_seen"),
            col("last_seen"),
            col("source"),
        );
        let mut added = 0;
        for (n, row) in rdr.records().enumerate() {
            let line = n as u64 + 2;
            let row = row.map_err(|e| IntelError::Csv {
                file: name.into(),
                line,
                reason: e.to_string(),
            })?;
            let get = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or("").to_string();
            let value = get(Some(val));
            if value.is_empty() {
                continue;
            }
            let day = |i: Option<usize>, end: bool| -> Result<Option<Timestamp>, IntelError> {
                let text = get(i);
                if text.is_empty() {
                    return Ok(None);
                }
                let t = Timestamp::parse(&text).ok_or_else(|| IntelError::Csv {
                    file: name.into(),
                    line,
                    reason: format!("`{text}` is not a date"),
                })?;
                Ok(Some(if end && text.len() <= 10 {
                    Timestamp(t.day_start().0 + MICROS_PER_DAY - 1)
                } else {
                    t
                }))
            };
            let src = match get(source) {
                s if s.is_empty() => name.to_string(),
                s => s,
            };
            match get(Some(ty)).to_ascii_lowercase().as_str() {
                "ipv4" | "ipv6" | "ip" => {
                    self.add_ip(IpIndicator {
                        ip: value,
                        role: get(role),
                        first: day(first, false)?,
                        last: day(last, true)?,
                        source: src,
                    });
                }
                kind @ ("jwk-kid" | "kid" | "x5t" | "x509-sha1-thumbprint" | "thumbprint") => {
                    self.add_key(KeyIndicator {
                        value,
                        kind: kind.to_string(),
                        source: src,
                    });
                }
                other => {
                    return Err(IntelError::Csv {
                        file: name.into(),
                        line,
                        reason: format!("unknown indicator type `{other}`"),
                    });
                }
            }
            added += 1;
        }
        Ok(added)
    }

    /// Adds the IPv4/IPv6 indicators of a STIX 2.1 bundle. Returns how many it added.
    pub fn add_stix(&mut self, name: &str, text: &str) -> Result<usize, IntelError> {
        let bundle: serde_json::Value =
            serde_json::from_str(text).map_err(|e| IntelError::Stix {
                file: name.into(),
                reason: e.to_string(),
            })?;
        let objects = match &bundle {
            serde_json::Value::Object(o)
                if o.get("type").and_then(|t| t.as_str()) == Some("bundle") =>
            {
                o.get("objects")
                    .and_then(|x| x.as_array())
                    .cloned()
                    .unwrap_or_default()
            }
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Object(_) => vec![bundle.clone()],
            _ => {
                return Err(IntelError::Stix {
                    file: name.into(),
                    reason: "not a STIX bundle or indicator".into(),
                });
            }
        };
        let mut added = 0;
        for obj in &objects {
            if obj.get("type").and_then(|t| t.as_str()) != Some("indicator") {
                continue;
            }
            let Some(pattern) = obj.get("pattern").and_then(|p| p.as_str()) else {
                continue;
            };
            let time = |k: &str| {
                obj.get(k)
                    .and_then(|v| v.as_str())
                    .and_then(Timestamp::parse)
            };
            let label = obj
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("stix-indicator")
                .to_string();
            for ip in stix_ips(pattern) {
                self.add_ip(IpIndicator {
                    ip,
                    role: label.clone(),
                    first: time("valid_from"),
                    last: time("valid_until"),
                    source: name.to_string(),
                });
                added += 1;
            }
        }
        Ok(added)
    }

    /// Adds first-party client app ids, one per line (`#` comments).
    pub fn add_first_party(&mut self, text: &str) {
        for line in text.lines() {
            let id = line.split('#').next().unwrap_or("").trim();
            if !id.is_empty() {
                self.first_party.insert(id.to_ascii_lowercase());
            }
        }
    }

    pub fn add_ip(&mut self, ind: IpIndicator) {
        self.ips.entry(ind.ip.clone()).or_default().push(ind);
    }

    pub fn add_key(&mut self, ind: KeyIndicator) {
        self.keys.insert(ind.value.to_ascii_lowercase(), ind);
    }

    /// The indicator matching `ip` at `time`, with `margin_days` on both sides of its window.
    pub fn ip_at(&self, ip: &str, time: Timestamp, margin_days: i64) -> Option<&IpIndicator> {
        let margin = margin_days.saturating_mul(MICROS_PER_DAY);
        self.ips.get(ip)?.iter().find(|i| {
            i.first.is_none_or(|f| time.0 >= f.0.saturating_sub(margin))
                && i.last.is_none_or(|l| time.0 <= l.0.saturating_add(margin))
        })
    }

    /// Whether `ip` is listed at all (whatever the time).
    pub fn ip_listed(&self, ip: &str) -> bool {
        self.ips.contains_key(ip)
    }

    pub fn key(&self, key_id: &str) -> Option<&KeyIndicator> {
        if key_id.bytes().any(|b| b.is_ascii_uppercase()) {
            self.keys.get(&key_id.to_ascii_lowercase())
        } else {
            self.keys.get(key_id)
        }
    }

    pub fn is_first_party(&self, client_app_id: &str) -> bool {
        if client_app_id.bytes().any(|b| b.is_ascii_uppercase()) {
            self.first_party
                .contains(&client_app_id.to_ascii_lowercase())
        } else {
            self.first_party.contains(client_app_id)
        }
    }

    /// Counts of loaded indicators: (IPs, keys, first-party ids).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.ips.values().map(Vec::len).sum(),
            self.keys.len(),
            self.first_party.len(),
        )
    }
}

/// Every `ipv4-addr:value = '...'` / `ipv6-addr:value = '...'` comparison in a STIX pattern.
fn stix_ips(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find("-addr:value") {
        let before = &rest[..i];
        let after = &rest[i + "-addr:value".len()..];
        let is_ip = before.ends_with("ipv4") || before.ends_with("ipv6");
        let tail = after.trim_start();
        rest = after;
        if !is_ip {
            continue;
        }
        let Some(tail) = tail.strip_prefix('=') else {
            continue;
        };
        let tail = tail.trim_start();
        let Some(tail) = tail.strip_prefix('\'') else {
            continue;
        };
        if let Some(end) = tail.find('\'') {
            let value = tail[..end].trim();
            // CIDR /32 and /128 name one address; wider ranges are not matched exactly.
            let value = value
                .strip_suffix("/32")
                .or_else(|| value.strip_suffix("/128"))
                .unwrap_or(value);
            if !value.is_empty() && !value.contains('/') {
                out.push(value.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_lists_load_completely() {
        let intel = Intel::shipped();
        let (ips, keys, fp) = intel.counts();
        assert_eq!(ips, 38);
        assert_eq!(keys, 2);
        assert_eq!(fp, 146);
        assert!(intel.key("1LTMzakihiRla_8z2BEJVXeWMqo").is_some());
        assert!(
            intel
                .key("D4B4CCCDA9228624656BFF33D8110955779632AA")
                .is_some()
        );
    }

    #[test]
    fn ip_matches_only_inside_window_plus_margin() {
        let intel = Intel::shipped();
        let t = |s| Timestamp::parse(s).unwrap();
        // 195.26.87.219: 2023-05-15 .. 2023-06-25
        assert!(
            intel
                .ip_at("195.26.87.219", t("2023-06-25T23:00:00Z"), 0)
                .is_some()
        );
        assert!(
            intel
                .ip_at("195.26.87.219", t("2023-06-26T01:00:00Z"), 0)
                .is_none()
        );
        assert!(
            intel
                .ip_at("195.26.87.219", t("2023-06-30T01:00:00Z"), 7)
                .is_some()
        );
        assert!(
            intel
                .ip_at("195.26.87.219", t("2025-01-01T00:00:00Z"), 7)
                .is_none()
        );
        assert!(intel.ip_listed("195.26.87.219"));
    }

    #[test]
    fn stix_bundle_indicators() {
        let mut intel = Intel::default();
        let n = intel
            .add_stix(
                "b.json",
                r#"{"type":"bundle","objects":[
                {"type":"indicator","pattern":"[ipv4-addr:value = '10.1.2.3'] OR [ipv4-addr:value = '10.9.9.9/32']",
                 "valid_from":"2024-01-01T00:00:00Z","valid_until":"2024-02-01T00:00:00Z","name":"proxy"},
                {"type":"indicator","pattern":"[domain-name:value = 'x.example']"},
                {"type":"malware","name":"m"}]}"#,
            )
            .unwrap();
        assert_eq!(n, 2);
        let t = Timestamp::parse("2024-01-15T00:00:00Z").unwrap();
        assert_eq!(
            intel.ip_at("10.9.9.9", t, 0).map(|i| i.role.as_str()),
            Some("proxy")
        );
        assert!(intel.add_stix("bad.json", "[1,").is_err());
    }

    #[test]
    fn csv_errors_carry_file_and_line() {
        let mut intel = Intel::default();
        let err = intel
            .add_csv("mine.csv", "type,value,first_seen\nipv4,1.1.1.1,notadate\n")
            .unwrap_err();
        assert!(err.to_string().contains("mine.csv:2"), "{err}");
        assert!(intel.add_csv("h.csv", "a,b\n").is_err());
        assert!(intel.add_csv("u.csv", "type,value\nfoo,1\n").is_err());
        assert_eq!(
            intel.add_csv("ok.csv", "type,value\nipv4,1.1.1.1\n").ok(),
            Some(1)
        );
    }
}
