//! Export gaps (`simulate --gap`): the sign-in exports responders really hold, which leave out
//! part of what happened.
//!
//! A gap removes sign-in records from what is written (never from what happened), so that the
//! benign tokens those sign-ins issued still appear in the audit log with no issuing sign-in:
//! exactly what tempted the old coverage check into false "token never issued" alerts. The
//! truth lists the benign records whose token's sign-in a gap withheld
//! (`unjudgeable_record_ids`): a correct hunt leaves them unjudged, never high.
//!
//! - `interactive-only`: only interactive sign-ins (Graph v1.0, `Get-MgAuditLogSignIn`, the
//!   portal's default tab).
//! - `missing-day`: no sign-ins at all on day 3 (0-based 2) of the period.
//! - `one-resource`: sign-ins filtered to the Microsoft Graph resource only.
//! - `mid-session`: the export (audit log and sign-ins) starts at 12:00 UTC on the second day;
//!   tokens issued before it stay in use under Continuous Access Evaluation (one more use 20 h
//!   after issue), so their first exported use has no exported sign-in.
//! - `replayed-token`: the attacker's tokens carry an `IssuedAtTime` three days before their
//!   use (a token replayed long after it was minted).
//! - `no-service-principal`: the tenant also runs an app-only mail daemon ([`crate::daemon`]),
//!   and the export leaves its service-principal sign-ins out (an export of the user sign-in
//!   logs only).
//! - `user-filtered`: sign-ins exported only for the users the intrusion touched (a
//!   responder's export of the suspected victims' sign-ins); everyone else's are left out.
//! - `no-token-ids`: every sign-in is written without its `uniqueTokenIdentifier` (exporters
//!   built on the legacy AzureAD module's sign-in objects, which lack it): nothing shows which
//!   token a sign-in issued.

use std::fmt;
use std::str::FromStr;

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::activity::{Activity, Actor};
use crate::config::SimError;
use crate::tenant::GRAPH_APP;

/// One export gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExportGap {
    InteractiveOnly,
    MissingDay,
    OneResource,
    MidSession,
    ReplayedToken,
    UserFiltered,
    NoServicePrincipal,
    NoTokenIds,
}

impl ExportGap {
    pub const ALL: [ExportGap; 8] = [
        ExportGap::InteractiveOnly,
        ExportGap::MissingDay,
        ExportGap::OneResource,
        ExportGap::MidSession,
        ExportGap::ReplayedToken,
        ExportGap::UserFiltered,
        ExportGap::NoServicePrincipal,
        ExportGap::NoTokenIds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportGap::InteractiveOnly => "interactive-only",
            ExportGap::MissingDay => "missing-day",
            ExportGap::OneResource => "one-resource",
            ExportGap::MidSession => "mid-session",
            ExportGap::ReplayedToken => "replayed-token",
            ExportGap::UserFiltered => "user-filtered",
            ExportGap::NoServicePrincipal => "no-service-principal",
            ExportGap::NoTokenIds => "no-token-ids",
        }
    }
}

impl fmt::Display for ExportGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportGap {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExportGap::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| SimError::UnknownGap { given: s.into() })
    }
}

/// The day (0-based) whose sign-ins `missing-day` drops.
pub const MISSING_DAY: u32 = 2;
/// Seconds after the period's start at which `mid-session`'s sign-in export begins.
pub const MID_SESSION_CUT_SECONDS: i64 = 36 * 3600;
/// How long after issue `mid-session`'s CAE tokens are used once more.
pub const CAE_USE_SECONDS: i64 = 20 * 3600;
/// How long before their use `replayed-token`'s attacker tokens were issued.
pub const REPLAY_AGE_SECONDS: i64 = 3 * 86_400;

/// The export gaps of a run, applied to the whole period's activities.
#[derive(Debug, Clone)]
pub struct Gaps<'g> {
    pub gaps: &'g [ExportGap],
    pub start: Timestamp,
    /// The users whose sign-ins `user-filtered` keeps (sorted): those the intrusion touched.
    pub kept_users: Vec<usize>,
}

impl Gaps<'_> {
    /// Whether the run has gap `g`.
    pub fn has(&self, g: ExportGap) -> bool {
        self.gaps.contains(&g)
    }

    /// Ages the attacker's tokens (`replayed-token`).
    pub fn age_attack(&self, intrusion: &mut [Activity]) {
        if !self.has(ExportGap::ReplayedToken) {
            return;
        }
        for a in intrusion {
            let token = match a {
                Activity::Mail(m) => match &mut m.actor {
                    Actor::User { token: Some(t), .. } => t,
                    _ => continue,
                },
                Activity::Graph(g) => &mut g.token,
                _ => continue,
            };
            token.issued_at = a_time_minus(token.issued_at);
        }
    }

    /// CAE re-uses (`mid-session`): each benign token issued in the 20 h before the cut whose
    /// first use falls before it is used once more, 20 h after issue (after the cut). The
    /// copy's id is the original's with `-cae`.
    pub fn cae_uses(&self, acts: &[Activity]) -> Vec<Activity> {
        if !self.has(ExportGap::MidSession) {
            return Vec::new();
        }
        let cut = self.cut();
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for a in acts {
            let Activity::Mail(m) = a else { continue };
            let Actor::User { token: Some(t), .. } = &m.actor else {
                continue;
            };
            if t.id.is_empty()
                || t.issued_at >= cut
                || t.issued_at < cut.plus_seconds(-CAE_USE_SECONDS)
                || m.time >= cut
                || seen.contains(&t.id.as_str())
            {
                continue;
            }
            seen.push(&t.id);
            let mut copy = m.clone();
            copy.id = format!("{}-cae", m.id);
            copy.time = t.issued_at.plus_seconds(CAE_USE_SECONDS);
            copy.throttled = false;
            out.push(Activity::Mail(copy));
        }
        out
    }

    fn cut(&self) -> Timestamp {
        self.start.plus_seconds(MID_SESSION_CUT_SECONDS)
    }

    /// Writes the sign-ins of `acts` without their token identifier (`no-token-ids`) and
    /// appends the identifiers so withheld to `withheld`.
    pub fn strip_token_ids(&self, acts: &mut [Activity], withheld: &mut Vec<String>) {
        if !self.has(ExportGap::NoTokenIds) {
            return;
        }
        for a in acts {
            if let Activity::SignIn(s) = a
                && !s.token.id.is_empty()
            {
                withheld.push(std::mem::take(&mut s.token.id));
            }
        }
    }

    /// Whether a record is left out of the export.
    pub fn withholds(&self, a: &Activity) -> bool {
        if self.has(ExportGap::MidSession) && a.time() < self.cut() {
            return true;
        }
        let Activity::SignIn(s) = a else {
            return false;
        };
        let day = (s.time.0 - self.start.0).div_euclid(86_400 * 1_000_000);
        let app_only = s.service_principal.is_some();
        (self.has(ExportGap::InteractiveOnly) && !s.interactive)
            || (self.has(ExportGap::MissingDay) && day == i64::from(MISSING_DAY))
            || (self.has(ExportGap::OneResource) && s.resource != GRAPH_APP)
            || (self.has(ExportGap::UserFiltered)
                && !app_only
                && self.kept_users.binary_search(&s.user).is_err())
            || (self.has(ExportGap::NoServicePrincipal) && app_only)
    }

    /// The users an intrusion touched (token holders, mailboxes read, Graph callers), sorted:
    /// whose sign-ins a responder's `user-filtered` export holds.
    pub fn touched_users(intrusion: &[Activity]) -> Vec<usize> {
        let mut users: Vec<usize> = intrusion
            .iter()
            .flat_map(|a| match a {
                Activity::Mail(m) => {
                    let actor = match m.actor {
                        Actor::User { user, .. } => Some(user),
                        Actor::System => None,
                    };
                    [Some(m.mailbox), actor]
                }
                Activity::Graph(g) if g.service_principal.is_none() => [Some(g.user), None],
                Activity::SignIn(s) if s.service_principal.is_some() => [None, None],
                Activity::SignIn(s) => [Some(s.user), None],
                _ => [None, None],
            })
            .flatten()
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }
}

fn a_time_minus(t: Timestamp) -> Timestamp {
    t.plus_seconds(-REPLAY_AGE_SECONDS)
}

/// The benign records (of `acts`, all written) using a token whose sign-in was withheld.
pub fn unjudgeable(acts: &[Activity], withheld_tokens: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = acts
        .iter()
        .filter_map(|a| {
            let token = match a {
                Activity::Mail(m) => match &m.actor {
                    Actor::User { token: Some(t), .. } => t,
                    _ => return None,
                },
                Activity::Graph(g) => &g.token,
                _ => return None,
            };
            (!token.id.is_empty() && withheld_tokens.binary_search(&token.id).is_ok())
                .then(|| a.id().to_string())
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for g in ExportGap::ALL {
            assert_eq!(g.as_str().parse::<ExportGap>().unwrap(), g);
        }
        assert!("all-of-it".parse::<ExportGap>().is_err());
    }
}
