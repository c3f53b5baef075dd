//! Strong rules: evidence that a token was forged or that a known actor was present.
//!
//! - `token-never-issued`: an access token id that no sign-in in the input issued, judged only
//!   where the tenant's sign-in logs cover the token's first use (with tolerances).
//! - `consumer-tenant-token`, `known-bad-key`, `ioc-ip`: records that carry the evidence
//!   themselves (aggregated per tenant and indicator).

use keywarden_model::{Severity, Timestamp};
use serde_json::{Map, Value as Json, json};

use super::{Candidate, Rule};
use crate::config::Settings;
use crate::intern::NONE;
use crate::keys::{Flag, Key};
use crate::scan::{Scan, Use};

/// A token's sign-in coverage verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The tenant's sign-in logs span the token's possible issuance.
    Covered,
    /// No sign-in logs for the tenant at all.
    NoSignIns,
    /// Sign-in logs exist but do not span the token's first use (or it has no time).
    OutsideLogs,
}

/// Whether sign-in logs could have recorded the issuance of a token first used at `first`.
pub fn coverage(scan: &Scan, s: &Settings, tenant: u32, first: Option<Timestamp>) -> Coverage {
    let t = &s.config.tolerance;
    let spans: Vec<&Use> = [Key::Coverage(tenant), Key::Coverage(NONE)]
        .iter()
        .filter_map(|k| scan.get(k))
        .collect();
    if spans.is_empty() {
        return Coverage::NoSignIns;
    }
    let Some(first) = first else {
        return Coverage::OutsideLogs;
    };
    let before = first.plus_seconds(-(t.max_token_lifetime_minutes + t.clock_skew_minutes) * 60);
    let after = first.plus_seconds((t.ingestion_lag_minutes + t.clock_skew_minutes) * 60);
    let covered = spans.iter().any(|u| match (u.first, u.last) {
        (Some(a), Some(b)) => a <= before && after <= b,
        _ => false,
    });
    if covered {
        Coverage::Covered
    } else {
        Coverage::OutsideLogs
    }
}

/// Tokens used but never issued, each with its coverage.
pub(crate) fn never_issued(scan: &Scan, s: &Settings) -> Vec<(Key, Coverage)> {
    if !s.config.rules.token_never_issued.enabled {
        return Vec::new();
    }
    let mut out: Vec<(Key, Coverage)> = scan
        .uses
        .iter()
        .filter_map(|(k, u)| match *k {
            Key::Token(tenant, token) if !scan.is_issued(token) => {
                Some((*k, coverage(scan, s, tenant, u.first)))
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|a| a.0);
    out
}

/// The time of the earliest strong evidence (ends the look-back baseline).
/// `never` is [`never_issued`] of the same scan (computed once per plan).
pub(crate) fn first_evidence(scan: &Scan, never: &[(Key, Coverage)]) -> Option<Timestamp> {
    let flags = scan
        .uses
        .iter()
        .filter(|(k, _)| matches!(k, Key::Flag(..)))
        .filter_map(|(_, u)| u.first);
    let tokens = never
        .iter()
        .filter(|(_, c)| *c == Coverage::Covered)
        .filter_map(|(k, _)| scan.get(k).and_then(|u| u.first));
    flags.chain(tokens).min()
}

/// Candidates of the strong rules.
pub(crate) fn candidates(scan: &Scan, s: &Settings, never: &[(Key, Coverage)]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for &(key, cov) in never {
        if cov != Coverage::Covered {
            continue;
        }
        let Some(u) = scan.get(&key) else { continue };
        let Key::Token(_, token) = key else { continue };
        let mut ev = Map::new();
        ev.insert("token_id".into(), json!(scan.text(token)));
        ev.insert("sign_in_match".into(), json!("none"));
        ev.insert(
            "sign_in_coverage".into(),
            json!("the tenant's sign-in logs span the token's possible issuance"),
        );
        ev.insert(
            "tolerance_minutes".into(),
            json!({
                "clock_skew": s.config.tolerance.clock_skew_minutes,
                "ingestion_lag": s.config.tolerance.ingestion_lag_minutes,
                "max_token_lifetime": s.config.tolerance.max_token_lifetime_minutes,
            }),
        );
        out.push(candidate(
            Rule::TokenNeverIssued,
            "Access with a token no sign-in issued".into(),
            Severity::High,
            key,
            u,
            ev,
        ));
    }
    let mut flags: Vec<(&Key, &Use)> = scan
        .uses
        .iter()
        .filter(|(k, _)| matches!(k, Key::Flag(..)))
        .collect();
    flags.sort_by_key(|(k, _)| **k);
    for (key, u) in flags {
        let Key::Flag(flag, tenant, value, group) = *key else {
            continue;
        };
        let rule = Rule::of_flag(flag);
        let v = scan.text(value);
        let mut ev = Map::new();
        let title = match flag {
            Flag::ConsumerTenant => {
                ev.insert("token_tenant".into(), json!(v));
                ev.insert("resource_tenant".into(), json!(scan.text(tenant)));
                ev.insert("client_app_id".into(), json!(scan.text(group)));
                ev.insert(
                    "why".into(),
                    json!(s.config.rules.consumer_tenant_token.why(v)),
                );
                "Enterprise resource accessed with a consumer or foreign-tenant token"
            }
            Flag::BadKey => {
                if let Some(k) = s.intel.key(v) {
                    ev.insert("key".into(), json!(k));
                }
                ev.insert("key_id".into(), json!(v));
                "Token signed with a known-bad key"
            }
            Flag::IocIp => {
                let ind = u.first.and_then(|t| {
                    s.intel
                        .ip_at(v, t, s.config.rules.ioc_ip.margin_days)
                        .cloned()
                });
                ev.insert("ip".into(), json!(v));
                if let Some(i) = ind {
                    ev.insert("indicator".into(), json!(i));
                }
                ev.insert(
                    "margin_days".into(),
                    json!(s.config.rules.ioc_ip.margin_days),
                );
                "Activity from a threat-actor IP inside its active window"
            }
        };
        out.push(candidate(rule, title.into(), Severity::High, *key, u, ev));
    }
    out
}

fn candidate(
    rule: Rule,
    title: String,
    severity: Severity,
    key: Key,
    u: &Use,
    evidence: Map<String, Json>,
) -> Candidate {
    Candidate {
        rule,
        title,
        severity,
        score: 0.8,
        keys: vec![key],
        ctx: u.ctx,
        first: u.first,
        last: u.last,
        evidence,
        records: Vec::new(),
        user: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DetectConfig;
    use keywarden_model::{Event, Fields, Origin, SourceKind, Value};

    fn ev(source: SourceKind, time: &str, token: &str, op: Option<&'static str>) -> Event<'static> {
        Event {
            source,
            format: "test",
            origin: Origin {
                path: "t",
                line: Some(1),
                offset: 0,
                record_number: None,
            },
            raw: Value::Null,
            fields: Fields {
                time: Timestamp::parse(time),
                tenant: Some("T".into()),
                token_id: Some(token.to_string().into()),
                operation: op.map(Into::into),
                user: Some("u@x".into()),
                ..Fields::default()
            },
        }
    }

    fn scan(events: &[Event<'static>], s: &Settings) -> Scan {
        let mut scan = Scan::default();
        let mut scratch = Vec::new();
        for e in events {
            scan.add(e, s, &mut scratch);
        }
        scan
    }

    #[test]
    fn coverage_needs_sign_ins_around_first_use() {
        let s = DetectConfig::default().build().unwrap();
        let signins = [
            ev(SourceKind::EntraSignIn, "2023-06-01T00:00:00Z", "a", None),
            ev(SourceKind::EntraSignIn, "2023-06-02T00:00:00Z", "b", None),
        ];
        let sc = scan(&signins, &s);
        let tenant = sc.syms.find("T").unwrap();
        let at = |t: &str| coverage(&sc, &s, tenant, Timestamp::parse(t));
        assert_eq!(at("2023-06-01T12:00:00Z"), Coverage::Covered);
        // Too close to the start: the token may have been issued before the logs begin.
        assert_eq!(at("2023-06-01T01:00:00Z"), Coverage::OutsideLogs);
        // Too close to the end: its sign-in may be stamped after the export ends.
        assert_eq!(at("2023-06-01T23:50:00Z"), Coverage::OutsideLogs);
        assert_eq!(coverage(&sc, &s, tenant, None), Coverage::OutsideLogs);
        let empty = Scan::default();
        assert_eq!(
            coverage(&empty, &s, 0, Timestamp::parse("2023-06-01T12:00:00Z")),
            Coverage::NoSignIns
        );
    }

    #[test]
    fn a_late_stamped_sign_in_still_issues_the_token() {
        let s = DetectConfig::default().build().unwrap();
        let events = [
            ev(SourceKind::EntraSignIn, "2023-06-01T00:00:00Z", "x", None),
            ev(
                SourceKind::UnifiedAuditLog,
                "2023-06-01T12:00:00Z",
                "late",
                Some("MailItemsAccessed"),
            ),
            ev(
                SourceKind::EntraSignIn,
                "2023-06-01T12:04:00Z",
                "late",
                None,
            ),
            ev(
                SourceKind::UnifiedAuditLog,
                "2023-06-01T12:00:00Z",
                "forged",
                Some("MailItemsAccessed"),
            ),
            ev(SourceKind::EntraSignIn, "2023-06-02T00:00:00Z", "y", None),
        ];
        let sc = scan(&events, &s);
        let never: Vec<_> = never_issued(&sc, &s)
            .into_iter()
            .map(|(k, c)| match k {
                Key::Token(_, t) => (sc.text(t).to_string(), c),
                _ => (String::new(), c),
            })
            .collect();
        assert_eq!(never, [("forged".to_string(), Coverage::Covered)]);
        let c = candidates(&sc, &s, &never_issued(&sc, &s));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].rule, Rule::TokenNeverIssued);
        assert_eq!(c[0].severity, Severity::High);
        assert!(first_evidence(&sc, &never_issued(&sc, &s)).is_some());
    }
}
