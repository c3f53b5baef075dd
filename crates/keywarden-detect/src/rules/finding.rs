//! What each rule reports, defined once for both drivers (the batch run of `hunt`, and the
//! incremental run of `serve`'s live detector): a [`Finding`] gives its rule, title, severity,
//! base score and evidence. The rule's stable id and ATT&CK techniques are [`Rule::id`] and
//! [`Rule::attack`]. The predicates both drivers apply (allow-lists, the volume limit, first use
//! within the look-back) are functions here too, so a threshold is checked one way.
//!
//! The evidence of the app-takeover chain and of `adfs-key-theft` is built from the directory
//! records only the batch driver keeps ([`super::takeover`], [`super::adfs`]); their findings
//! here give title, severity and score, and their evidence starts empty.

use keywarden_model::{Severity, Timestamp, time::MICROS_PER_DAY};
use serde_json::{Map, Value as Json, json};

use super::{BaselineNote, Rule};
use crate::config::{AllowConfig, Settings, VolumeConfig};
use crate::coverage::TokenKind;
use crate::directory::{ChangeKind, TheftSignal};

/// The issuance window of a token and what bounded it (`IssuedAtTime` or `first use`).
pub(crate) type IssuanceWindow = (Timestamp, Timestamp, &'static str);

/// One finding of a rule, with the values its title and evidence name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub(crate) enum Finding<'a> {
    /// `token-never-issued`: no sign-in issued `token`, and the sign-in logs cover its
    /// issuance. `session_linked`: an interactive sign-in of the token's session came from the
    /// same IP and client app (medium instead of high).
    NeverIssued {
        token: &'a str,
        kind: TokenKind,
        window: Option<IssuanceWindow>,
        session_linked: bool,
    },
    /// `token-beyond-lifetime`: used at `last_use`, longer after `issued_at` than any token lives.
    BeyondLifetime {
        token: &'a str,
        issued_at: Timestamp,
        last_use: Timestamp,
        sign_in_found: bool,
    },
    /// `consumer-tenant-token`.
    ConsumerTenant {
        token_tenant: &'a str,
        resource_tenant: &'a str,
        client: &'a str,
    },
    /// `known-bad-key`.
    BadKey { key_id: &'a str },
    /// `ioc-ip`, its indicator looked up at `at` (the first use).
    IocIp { ip: &'a str, at: Option<Timestamp> },
    /// `unexpected-mailbox-app`, tenant scope.
    NewPair { app: &'a str, client: &'a str },
    /// `unexpected-mailbox-app`, mailbox scope.
    NewMailboxPair {
        app: &'a str,
        client: &'a str,
        mailbox: &'a str,
    },
    /// `first-seen-client-app` by one user, or rolled up for `Some(users)` adopting users.
    FirstSeen {
        client: &'a str,
        rollup: Option<usize>,
    },
    /// `mailbox-volume-anomaly`: `operations` on day `day` (days since the epoch) against a
    /// baseline daily `mean`.
    Volume {
        client: &'a str,
        day: i64,
        operations: i64,
        mean: f64,
    },
    /// `cross-mailbox-access`.
    CrossMailbox {
        identity: &'a str,
        mailboxes: Vec<&'a str>,
    },
    /// `app-takeover`: the app (as displayed) changed, then read mail.
    AppTakeover { app: &'a str },
    /// The takeover chain's leads (`app-credential-added`, `app-mail-permission`,
    /// `app-admin-consent`, `federation-changed`) on one change; a routine credential rotation
    /// is low.
    AppChange { kind: ChangeKind, routine: bool },
    /// `adfs-key-theft`, one signal.
    AdfsKeyTheft { signal: TheftSignal },
}

/// The title of a live `token-never-issued` alert withdrawn because its sign-in arrived late.
pub(crate) const WITHDRAWN_TITLE: &str =
    "Access with a token no sign-in issued (withdrawn: its sign-in arrived late)";

/// The evidence note of a session link (see [`Finding::NeverIssued`]).
pub(crate) const SESSION_LINK_NOTE: &str = "an interactive sign-in of the token's session came from the same IP and client app: likely a refresh whose sign-in record is missing";

impl Finding<'_> {
    pub(crate) fn rule(&self) -> Rule {
        match self {
            Finding::NeverIssued { .. } => Rule::TokenNeverIssued,
            Finding::BeyondLifetime { .. } => Rule::TokenBeyondLifetime,
            Finding::ConsumerTenant { .. } => Rule::ConsumerTenantToken,
            Finding::BadKey { .. } => Rule::KnownBadKey,
            Finding::IocIp { .. } => Rule::IocIp,
            Finding::NewPair { .. } | Finding::NewMailboxPair { .. } => Rule::UnexpectedMailboxApp,
            Finding::FirstSeen { .. } => Rule::FirstSeenClientApp,
            Finding::Volume { .. } => Rule::MailboxVolumeAnomaly,
            Finding::CrossMailbox { .. } => Rule::CrossMailboxAccess,
            Finding::AppTakeover { .. } => Rule::AppTakeover,
            Finding::AppChange { kind, .. } => match kind {
                ChangeKind::CredentialAdded => Rule::AppCredentialAdded,
                ChangeKind::MailPermission => Rule::AppMailPermission,
                ChangeKind::AdminConsent => Rule::AppAdminConsent,
                ChangeKind::FederationChanged => Rule::FederationChanged,
            },
            Finding::AdfsKeyTheft { .. } => Rule::AdfsKeyTheft,
        }
    }

    pub(crate) fn title(&self) -> String {
        let t = match self {
            Finding::NeverIssued { .. } => "Access with a token no sign-in issued",
            Finding::BeyondLifetime { .. } => {
                "Token used beyond any real lifetime after its IssuedAtTime"
            }
            Finding::ConsumerTenant { .. } => {
                "Enterprise resource accessed with a consumer or foreign-tenant token"
            }
            Finding::BadKey { .. } => "Token signed with a known-bad key",
            Finding::IocIp { .. } => "Activity from a threat-actor IP inside its active window",
            Finding::NewPair { .. } => "Mailbox read by an app pair never seen in this tenant",
            Finding::NewMailboxPair { .. } => {
                "Mailbox read by an app pair never seen on this mailbox"
            }
            Finding::FirstSeen {
                rollup: Some(users),
                ..
            } => return format!("First use of a client app by {users} users"),
            Finding::FirstSeen { rollup: None, .. } => "First use of a client app by this user",
            Finding::Volume { .. } => {
                "Daily mailbox operations of a client app far above its baseline"
            }
            Finding::CrossMailbox { mailboxes, .. } => {
                return format!(
                    "One identity newly reading {} mailboxes it does not own",
                    mailboxes.len()
                );
            }
            Finding::AppTakeover { app } => {
                return format!("App takeover: {app} changed, then read mail");
            }
            Finding::AppChange { kind, .. } => match kind {
                ChangeKind::CredentialAdded => "Credential added to an application",
                ChangeKind::MailPermission => "Mail permissions granted to an application",
                ChangeKind::AdminConsent => "Admin consent to an application",
                ChangeKind::FederationChanged => "Domain federation settings changed",
            },
            Finding::AdfsKeyTheft { signal } => match signal {
                TheftSignal::DkmKeyRead => "AD FS DKM key read over LDAP",
                TheftSignal::ReplicationFromNonDc => {
                    "Directory replication requested by a host that is not a domain controller"
                }
                TheftSignal::AdfsConfigRead => {
                    "AD FS configuration database read for its signing certificate"
                }
                TheftSignal::CertificateExport => "Certificate exported with its private key",
            },
        };
        t.to_string()
    }

    /// The severity policy: strong rules are `high` (a session-linked never-issued token
    /// `medium`); leads `low`, except `cross-mailbox-access`, the takeover chain's permission,
    /// consent and federation changes (`low` when routine) and `adfs-key-theft`, `medium`.
    /// Weak signals may raise a lead's severity later (the batch driver's finalize).
    pub(crate) fn severity(&self) -> Severity {
        match self {
            Finding::NeverIssued {
                session_linked: true,
                ..
            } => Severity::Medium,
            Finding::AppChange { routine: true, .. } => Severity::Low,
            Finding::AppChange {
                kind: ChangeKind::CredentialAdded,
                ..
            } => Severity::Low,
            Finding::CrossMailbox { .. }
            | Finding::AppChange { .. }
            | Finding::AdfsKeyTheft { .. } => Severity::Medium,
            _ if self.rule().is_strong() => Severity::High,
            _ => Severity::Low,
        }
    }

    /// The score before weak signals.
    pub(crate) fn score(&self) -> f64 {
        match self {
            Finding::AppTakeover { .. } => 0.9,
            _ if self.rule().is_strong() => 0.8,
            _ => match self.severity() {
                Severity::Low => 0.3,
                _ => 0.5,
            },
        }
    }

    /// The finding's evidence: leads start with the baseline they were judged against.
    pub(crate) fn evidence(
        &self,
        s: &Settings,
        baseline: Option<&BaselineNote>,
    ) -> Map<String, Json> {
        let mut ev = Map::new();
        if let Some(note) = baseline {
            ev.insert(
                "baseline".into(),
                json!({"source": note.source, "end": note.end, "reason": note.reason}),
            );
        }
        let r = &s.config.rules;
        let tol = &s.config.tolerance;
        let tolerance = || {
            json!({
                "clock_skew": tol.clock_skew_minutes,
                "ingestion_lag": tol.ingestion_lag_minutes,
                "max_token_lifetime": tol.max_token_lifetime_minutes,
            })
        };
        match self {
            Finding::NeverIssued {
                token,
                kind,
                window,
                session_linked,
            } => {
                ev.insert("token_id".into(), json!(token));
                ev.insert("sign_in_match".into(), json!("none"));
                ev.insert(
                    "sign_in_coverage".into(),
                    json!(format!(
                        "the tenant's {} sign-ins cover the token's possible issuance with no gap",
                        kind.needs()
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )),
                );
                ev.insert("token_kind".into(), json!(kind));
                if let Some((a, b, from)) = window {
                    ev.insert(
                        "issuance_window".into(),
                        json!({"start": a, "end": b, "from": from}),
                    );
                }
                ev.insert("tolerance_minutes".into(), tolerance());
                if *session_linked {
                    ev.insert("session_link".into(), json!(SESSION_LINK_NOTE));
                }
            }
            Finding::BeyondLifetime {
                token,
                issued_at,
                last_use,
                sign_in_found,
            } => {
                ev.insert("token_id".into(), json!(token));
                ev.insert("issued_at".into(), json!(issued_at));
                ev.insert("last_use".into(), json!(last_use));
                ev.insert(
                    "hours_after_issue".into(),
                    json!((last_use.0 - issued_at.0) / 3_600_000_000),
                );
                ev.insert(
                    "sign_in_match".into(),
                    json!(if *sign_in_found { "found" } else { "none" }),
                );
                ev.insert(
                    "why".into(),
                    json!("no access token lives longer than the configured maximum lifetime (CAE: 28 h) after its IssuedAtTime: the token was forged or replayed"),
                );
                ev.insert("tolerance_minutes".into(), tolerance());
            }
            Finding::ConsumerTenant {
                token_tenant,
                resource_tenant,
                client,
            } => {
                ev.insert("token_tenant".into(), json!(token_tenant));
                ev.insert("resource_tenant".into(), json!(resource_tenant));
                ev.insert("client_app_id".into(), json!(client));
                ev.insert(
                    "why".into(),
                    json!(r.consumer_tenant_token.why(token_tenant)),
                );
            }
            Finding::BadKey { key_id } => {
                if let Some(k) = s.intel.key(key_id) {
                    ev.insert("key".into(), json!(k));
                }
                ev.insert("key_id".into(), json!(key_id));
            }
            Finding::IocIp { ip, at } => {
                let margin = r.ioc_ip.margin_days;
                ev.insert("ip".into(), json!(ip));
                if let Some(i) = at.and_then(|t| s.intel.ip_at(ip, t, margin)) {
                    ev.insert("indicator".into(), json!(i));
                }
                ev.insert("margin_days".into(), json!(margin));
            }
            Finding::NewPair { app, client } => {
                ev.insert("app_id".into(), json!(app));
                ev.insert("client_app_id".into(), json!(client));
                ev.insert("scope".into(), json!("tenant"));
                ev.insert("first_party".into(), json!(s.intel.is_first_party(client)));
            }
            Finding::NewMailboxPair {
                app,
                client,
                mailbox,
            } => {
                ev.insert("app_id".into(), json!(app));
                ev.insert("client_app_id".into(), json!(client));
                ev.insert("scope".into(), json!("mailbox"));
                ev.insert("mailbox".into(), json!(mailbox));
            }
            Finding::FirstSeen { client, rollup } => {
                ev.insert("client_app_id".into(), json!(client));
                ev.insert(
                    "lookback_days".into(),
                    json!(r.first_seen_client_app.lookback_days),
                );
                if let Some(users) = rollup {
                    ev.insert("scope".into(), json!("tenant"));
                    ev.insert("adopting_users".into(), json!(users));
                }
            }
            Finding::Volume {
                client,
                day,
                operations,
                mean,
            } => {
                ev.insert("client_app_id".into(), json!(client));
                ev.insert("day".into(), json!(day_start(*day)));
                ev.insert("operations".into(), json!(operations));
                ev.insert("baseline_daily_mean".into(), json!(mean));
                ev.insert("factor".into(), json!(r.mailbox_volume_anomaly.factor));
            }
            Finding::CrossMailbox {
                identity,
                mailboxes,
            } => {
                ev.insert("identity".into(), json!(identity));
                ev.insert("mailboxes_not_owned".into(), json!(mailboxes));
            }
            Finding::AppTakeover { .. }
            | Finding::AppChange { .. }
            | Finding::AdfsKeyTheft { .. } => {}
        }
        ev
    }
}

/// The start of day `day` (days since the epoch).
pub(crate) fn day_start(day: i64) -> Timestamp {
    Timestamp(day.saturating_mul(MICROS_PER_DAY))
}

impl AllowConfig {
    /// Whether the lead rules stay silent about this client app or user (`[allow]`).
    pub fn allows(&self, client_app_id: &str, user: &str) -> bool {
        self.client_apps
            .iter()
            .any(|c| c.eq_ignore_ascii_case(client_app_id))
            || self.users.iter().any(|x| x.eq_ignore_ascii_case(user))
    }
}

impl VolumeConfig {
    /// The operations a day must exceed to be anomalous against a baseline daily `mean`.
    pub fn limit(&self, mean: f64) -> f64 {
        (mean * self.factor).max(self.min_operations as f64)
    }
}

/// Whether a (user, client app) use at `at` is a first use given the user's last use of the
/// client before it (`last`, from a baseline): never used, or not within `lookback_days`.
pub(crate) fn is_first_use(
    last: Option<Timestamp>,
    at: Option<Timestamp>,
    lookback_days: i64,
) -> bool {
    match (last, at) {
        (Some(last), Some(at)) => {
            at.0.saturating_sub(last.0) > lookback_days.saturating_mul(MICROS_PER_DAY)
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_finding_whose_severity_follows_the_contract() {
        let findings = [
            Finding::NeverIssued {
                token: "t",
                kind: TokenKind::Delegated,
                window: None,
                session_linked: false,
            },
            Finding::BeyondLifetime {
                token: "t",
                issued_at: Timestamp(0),
                last_use: Timestamp(1),
                sign_in_found: false,
            },
            Finding::ConsumerTenant {
                token_tenant: "a",
                resource_tenant: "b",
                client: "c",
            },
            Finding::BadKey { key_id: "k" },
            Finding::IocIp { ip: "x", at: None },
            Finding::NewPair {
                app: "a",
                client: "c",
            },
            Finding::FirstSeen {
                client: "c",
                rollup: None,
            },
            Finding::Volume {
                client: "c",
                day: 1,
                operations: 2,
                mean: 1.0,
            },
            Finding::CrossMailbox {
                identity: "i",
                mailboxes: vec!["m"],
            },
            Finding::AppTakeover { app: "a" },
            Finding::AppChange {
                kind: ChangeKind::CredentialAdded,
                routine: false,
            },
            Finding::AppChange {
                kind: ChangeKind::MailPermission,
                routine: false,
            },
            Finding::AppChange {
                kind: ChangeKind::AdminConsent,
                routine: false,
            },
            Finding::AppChange {
                kind: ChangeKind::FederationChanged,
                routine: false,
            },
            Finding::AdfsKeyTheft {
                signal: TheftSignal::DkmKeyRead,
            },
        ];
        let mut rules: Vec<Rule> = findings.iter().map(Finding::rule).collect();
        rules.sort();
        rules.dedup();
        assert_eq!(rules.len(), Rule::ALL.len(), "one finding per rule");
        for f in &findings {
            let high = f.severity() == Severity::High;
            assert_eq!(high, f.rule().is_strong(), "{:?}", f.rule());
            assert!(!f.title().is_empty());
        }
        let linked = Finding::NeverIssued {
            token: "t",
            kind: TokenKind::Delegated,
            window: None,
            session_linked: true,
        };
        assert_eq!(linked.severity(), Severity::Medium);
        let routine = Finding::AppChange {
            kind: ChangeKind::MailPermission,
            routine: true,
        };
        assert_eq!(routine.severity(), Severity::Low);
        assert_eq!(routine.score(), 0.3);
    }

    #[test]
    fn first_use_respects_the_lookback() {
        let day = MICROS_PER_DAY;
        assert!(is_first_use(None, Some(Timestamp(0)), 30));
        assert!(!is_first_use(Some(Timestamp(0)), Some(Timestamp(day)), 30));
        assert!(is_first_use(
            Some(Timestamp(0)),
            Some(Timestamp(31 * day)),
            30
        ));
        assert!(!is_first_use(Some(Timestamp(0)), None, 30));
    }
}
