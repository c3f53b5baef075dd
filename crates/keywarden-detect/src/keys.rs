//! Aggregation keys: which compact per-key aggregates an event contributes to.
//!
//! The same function ([`keys_of`]) runs in both passes: the scan pass aggregates per key; the
//! collection pass looks the keys up among those the rules chose, so that an alert covers
//! exactly the records of its keys.

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::config::Settings;
use crate::facts::{Facts, Role};
use crate::intern::{CachedInterner, Interner, NONE, Sym};

/// Per-record evidence kinds (strong rules that judge a record on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Flag {
    ConsumerTenant,
    BadKey,
    IocIp,
}

/// One aggregation key. Symbols are [`NONE`] where a value is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A sign-in issued this token id.
    SignIn(Sym),
    /// Sign-ins of a category in an hour: (tenant, category code, hours since the epoch); the
    /// code has [`WITHOUT_TOKEN_ID`] set for sign-ins that log no token identifier.
    SignInHour(Sym, u32, i64),
    /// Sign-ins for a resource: (tenant, resource id).
    SignInResource(Sym, Sym),
    /// A sign-in's session, as its IP and client app saw it: (tenant, session, ip, client).
    SignInSession(Sym, Sym, Sym, Sym),
    /// Token-bearing access: (tenant, token id).
    Token(Sym, Sym),
    /// Mail access by a pair: (tenant, AppId, ClientAppId).
    Pair(Sym, Sym, Sym),
    /// Mail access by a pair to one mailbox: (tenant, mailbox, AppId, ClientAppId).
    MailboxPair(Sym, Sym, Sym, Sym),
    /// Mail access by a user through a client app: (user, ClientAppId).
    UserApp(Sym, Sym),
    /// Daily mail operations of a client app: (tenant, ClientAppId, day number).
    AppDay(Sym, Sym, i64),
    /// An identity reading a mailbox it does not own: (identity, mailbox).
    Reader(Sym, Sym),
    /// A user seen from an IP: (user, ip).
    UserIp(Sym, Sym),
    /// Per-record evidence: (kind, tenant, indicator, group).
    Flag(Flag, Sym, Sym, Sym),
    /// A token whose own claims earned `consumer-tenant-token`: (tenant, token tenant,
    /// ClientAppId, token id), the flag's key and the token. The token's other records in the
    /// tenant (its [`Key::Token`]) join that alert, also those that do not name the token's
    /// tenant (a Graph activity record names it only as its identity provider).
    ClaimToken(Sym, Sym, Sym, Sym),
}

/// Set in a [`Key::SignInHour`] category code for sign-ins that log no token identifier: they
/// cannot show which token they issued, so they cover no issuance (`crate::coverage`).
pub(crate) const WITHOUT_TOKEN_ID: u32 = 1 << 16;

/// How a pass turns text into symbols.
pub(crate) trait Symbols {
    /// `Some(NONE)` for absent text; `None` when the text can match nothing.
    fn sym(&mut self, s: Option<&str>) -> Option<Sym>;
}

impl Symbols for Interner {
    fn sym(&mut self, s: Option<&str>) -> Option<Sym> {
        Some(self.opt(s))
    }
}

impl Symbols for CachedInterner<'_> {
    fn sym(&mut self, s: Option<&str>) -> Option<Sym> {
        Some(self.opt(s))
    }
}

/// Read-only symbols for the collection pass: unknown text matches no key.
pub(crate) struct Lookup<'i>(pub &'i Interner);

impl Symbols for Lookup<'_> {
    fn sym(&mut self, s: Option<&str>) -> Option<Sym> {
        match s {
            None => Some(NONE),
            Some(s) => self.0.find(s),
        }
    }
}

/// Appends the keys of one event to `out`.
pub(crate) fn keys_of(f: &Facts<'_>, s: &Settings, syms: &mut impl Symbols, out: &mut Vec<Key>) {
    let cfg = &s.config;
    let Some(tenant) = syms.sym(f.tenant.as_deref()) else {
        return;
    };
    let token = f.token_id.as_deref();
    if f.role == Role::SignIn {
        if let Some(t) = token.and_then(|t| syms.sym(Some(t))) {
            out.push(Key::SignIn(t));
        }
        if let (Some(c), Some(t)) = (f.signin_category, f.time) {
            let flag = if token.is_some_and(|t| !t.trim().is_empty()) {
                0
            } else {
                WITHOUT_TOKEN_ID
            };
            out.push(Key::SignInHour(
                tenant,
                c.code() | flag,
                t.unix_seconds().div_euclid(3600),
            ));
        }
        if let Some(r) = f.app_id.as_deref().and_then(|r| syms.sym(Some(r))) {
            out.push(Key::SignInResource(tenant, r));
        }
        if f.signin_category == Some(crate::coverage::SignInCategory::Interactive)
            && let (Some(se), Some(ip), Some(c)) = (
                f.session_id.as_deref(),
                f.ip.as_deref(),
                f.client_app_id.as_deref(),
            )
            && let (Some(se), Some(ip), Some(c)) =
                (syms.sym(Some(se)), syms.sym(Some(ip)), syms.sym(Some(c)))
        {
            out.push(Key::SignInSession(tenant, se, ip, c));
        }
    }
    let user = f.user.as_deref();
    let ip = f.ip.as_deref();
    if let (Some(u), Some(i)) = (user, ip)
        && let (Some(u), Some(i)) = (syms.sym(Some(u)), syms.sym(Some(i)))
    {
        out.push(Key::UserIp(u, i));
    }
    if cfg.rules.ioc_ip.enabled
        && let (Some(ip), Some(time)) = (ip, f.time)
        && s.intel
            .ip_at(ip, time, cfg.rules.ioc_ip.margin_days)
            .is_some()
        && let Some(i) = syms.sym(Some(ip))
    {
        out.push(Key::Flag(Flag::IocIp, tenant, i, NONE));
    }
    if cfg.rules.known_bad_key.enabled
        && let Some(k) = f
            .signing_key
            .as_deref()
            .filter(|k| s.intel.key(k).is_some())
        && let Some(k) = syms.sym(Some(k))
    {
        out.push(Key::Flag(Flag::BadKey, tenant, k, NONE));
    }
    if !f.is_access() {
        return;
    }
    let client = f.client_app_id.as_deref();
    let system = cfg
        .rules
        .token_never_issued
        .exempts_logon_type(f.logon_type);
    let Some(client_sym) = syms.sym(client) else {
        return;
    };
    if cfg.rules.token_never_issued.enabled && !system {
        let exempt = cfg.rules.token_never_issued.exempts_client(client);
        if let (false, Some(t)) = (exempt, token.and_then(|t| syms.sym(Some(t)))) {
            out.push(Key::Token(tenant, t));
        }
    }
    if let Some(tt) = f.token_tenant.as_deref()
        && cfg
            .rules
            .consumer_tenant_token
            .flags(tt, f.tenant.as_deref())
        && let Some(tt) = syms.sym(Some(tt))
    {
        out.push(Key::Flag(Flag::ConsumerTenant, tenant, tt, client_sym));
        if let Some(t) = token.and_then(|t| syms.sym(Some(t)))
            && t != NONE
        {
            out.push(Key::ClaimToken(tenant, tt, client_sym, t));
        }
    }
    if system || !matches!(f.role, Role::MailAccess(_)) {
        return;
    }
    let Some(app) = syms.sym(f.app_id.as_deref()) else {
        return;
    };
    if app != NONE || client_sym != NONE {
        out.push(Key::Pair(tenant, app, client_sym));
    }
    let mailbox = f.mailbox.as_deref();
    if let Some(mb) = mailbox.and_then(|m| syms.sym(Some(m))) {
        out.push(Key::MailboxPair(tenant, mb, app, client_sym));
    }
    if client_sym != NONE {
        if let Some(u) = user.and_then(|u| syms.sym(Some(u))) {
            out.push(Key::UserApp(u, client_sym));
        }
        if let Some(t) = f.time {
            out.push(Key::AppDay(tenant, client_sym, t.day_number()));
        }
    }
    // Only a UPN mailbox can be compared with the reader's identity.
    if let (Some(id), Some(mb)) = (f.identity(), mailbox.filter(|m| m.contains('@')))
        && id != mb
        && let (Some(id), Some(mb)) = (syms.sym(Some(id)), syms.sym(Some(mb)))
    {
        out.push(Key::Reader(id, mb));
    }
}

/// Whether `t` falls in the configured off-hours window (weekdays only).
pub(crate) fn off_hours(t: Timestamp, s: &Settings) -> bool {
    let w = &s.config.weak_signals;
    let h = t.hour();
    t.iso_weekday() <= 5 && h >= w.off_hours_start && h < w.off_hours_end
}
