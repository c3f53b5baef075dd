//! What the incremental rules read of one event: a [`Record`] (the fields `serve` stores for
//! it, borrowed from the caller's row) and an [`Observed`] (what is taken while the event is in
//! hand: the lead-rule keys through the pack's own [`keys_of`], so both drivers key records
//! identically, its `OperationCount`, and a sign-in's user names).

use std::sync::Arc;

use keywarden_model::{Event, SourceKind};

use crate::config::Settings;
use crate::facts::{Facts, Role};
use crate::intern::{Interner, NONE, Sym};
use crate::keys::{Key, keys_of};

/// One event as the incremental rules read it (`serve` builds it from its stored row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record<'a> {
    /// Shape name (`ual-json`, `signin-graph`...).
    pub format: &'a str,
    /// Detection role: `sign-in`, `mail-access`, `activity` or `other`.
    pub role: &'a str,
    /// Record id, or `path:line` where a record has none.
    pub record_ref: &'a str,
    /// Event time, UTC microseconds.
    pub time: Option<i64>,
    pub tenant: Option<&'a str>,
    pub user: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    pub app_id: Option<&'a str>,
    pub client_app_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub token_id: Option<&'a str>,
    pub token_tenant: Option<&'a str>,
    /// Mailbox owner (lower-cased), else mailbox GUID.
    pub mailbox: Option<&'a str>,
    pub logon_type: Option<i64>,
    pub signing_key_id: Option<&'a str>,
    /// Log category (`SignInLogs`, `NonInteractiveUserSignInLogs`...).
    pub category: Option<&'a str>,
    /// The token's `IssuedAtTime` (microseconds since the epoch).
    pub token_issued_at: Option<i64>,
}

/// The name of a detection role in a [`Record`] (`sign-in`, `mail-access`, `activity`,
/// `other`; `serve` stores it with the event).
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::SignIn => "sign-in",
        Role::MailAccess(_) => "mail-access",
        Role::Activity => "activity",
        Role::Other => "other",
    }
}

/// One lead-rule aggregation key of an event, in text (`""` where a value is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadKey {
    /// Mail access by (tenant, AppId, ClientAppId).
    Pair(String, String, String),
    /// Mail access to one mailbox: (tenant, mailbox, AppId, ClientAppId).
    MailboxPair(String, String, String, String),
    /// (user, ClientAppId).
    UserApp(String, String),
    /// Daily operations of (tenant, ClientAppId) on a day number.
    AppDay(String, String, i64),
    /// (identity, mailbox it does not own).
    Reader(String, String),
}

/// What the incremental rules take from one event besides its [`Record`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Observed {
    pub leads: Vec<LeadKey>,
    /// `OperationCount` (1 when absent).
    pub ops: i64,
    /// A sign-in's user names (UPN, object id), for the coverage model's user filter.
    pub sign_in_users: [Option<String>; 2],
}

/// Turns events into [`Observed`]s (one interner, reused across events).
#[derive(Debug)]
pub struct RuleObserver {
    settings: Arc<Settings>,
    leads: bool,
    syms: Interner,
    keys: Vec<Key>,
}

impl RuleObserver {
    pub fn new(settings: Arc<Settings>) -> RuleObserver {
        let r = &settings.config.rules;
        let leads = r.unexpected_mailbox_app.enabled
            || r.first_seen_client_app.enabled
            || r.mailbox_volume_anomaly.enabled
            || r.cross_mailbox_access.enabled;
        RuleObserver {
            settings,
            leads,
            syms: Interner::default(),
            keys: Vec::new(),
        }
    }

    /// Observes one event.
    pub fn observe(&mut self, ev: &Event<'_>) -> Observed {
        let mut out = Observed {
            ops: 1,
            ..Observed::default()
        };
        if ev.source == SourceKind::EntraSignIn {
            out.sign_in_users = crate::identity::sign_in_user_names(&ev.raw);
        }
        let f = self.leads.then(|| Facts::of(ev));
        // Only mail reads carry lead keys (`keys_of` gives other records none of them).
        if let Some(f) = f.filter(|f| matches!(f.role, Role::MailAccess(_))) {
            out.ops = f.operations;
            self.keys.clear();
            keys_of(&f, &self.settings, &mut self.syms, &mut self.keys);
            let t = |s: Sym| self.syms.text(s).to_string();
            for k in &self.keys {
                let lead = match *k {
                    Key::Pair(a, b, c) => LeadKey::Pair(t(a), t(b), t(c)),
                    Key::MailboxPair(a, b, c, d) => LeadKey::MailboxPair(t(a), t(b), t(c), t(d)),
                    Key::UserApp(a, b) => LeadKey::UserApp(t(a), t(b)),
                    Key::AppDay(a, b, d) => LeadKey::AppDay(t(a), t(b), d),
                    Key::Reader(a, b) if a != NONE && b != NONE => LeadKey::Reader(t(a), t(b)),
                    _ => continue,
                };
                out.leads.push(lead);
            }
        }
        out
    }
}
