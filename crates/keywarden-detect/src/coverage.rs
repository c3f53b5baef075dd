//! The sign-in coverage model: what the sign-in evidence covers, per tenant, before any token
//! is judged "never issued".
//!
//! A token no exported sign-in issued is evidence of forgery only where the export would have
//! held its issuing sign-in. That depends on
//! - the **category** of sign-in that issues the token's kind: a user's delegated token comes
//!   from an interactive sign-in or, most often, a non-interactive refresh, so both categories
//!   are needed; an app-only token comes from a service-principal or managed-identity sign-in
//!   (an access record cannot tell these two apart, so both are needed);
//! - **time**: the category's records must span the token's possible issuance, with no gap (a
//!   run of at least `coverage.max_quiet_hours` empty hours, such as a missing day) inside it;
//! - **resource**: an export visibly filtered to some resources says nothing about the others;
//! - **token ids**: a sign-in that logs no token identifier (`uniqueTokenIdentifier`; legacy
//!   exporters drop it) cannot show which token it issued, so it covers nothing: an export
//!   whose sign-ins of a category carry none leaves that category's tokens unjudged
//!   (`signins-without-token-ids`) instead of calling every token never issued;
//! - **user**: an export visibly filtered to some users (a responder's export of the suspected
//!   victims' sign-ins) says nothing about the others. The filter is visible when more than
//!   `coverage.user_filter_absent_percent` per cent of the users who used delegated tokens have
//!   no sign-in at all in the export: a complete export names nearly every one of them, since
//!   each delegated token comes from a sign-in or a refresh. Below that share, a user without
//!   sign-ins is judged (a forger may pick dormant users).
//!
//! Coverage is inferred from the sign-in records' own markers (aggregated per tenant, category
//! and hour by the scan), and may be declared by a collector's manifest (`collect.json`) or by
//! the user (`hunt --signin-coverage`, `[coverage] signin`): a declared complete window of a
//! category establishes it for that window whatever the data shows.
//!
//! [`CoverageModel`] takes aggregates only (hour counts, resources, declarations), so that
//! `hunt` (from its scan) and `serve` (from its live state) judge the same way.

use std::collections::{BTreeMap, BTreeSet};

use keywarden_model::Timestamp;
use serde::Serialize;

/// Seconds in an hour bucket.
const HOUR: i64 = 3600;

/// A category of Entra sign-in records (each is its own log: exports often hold only some).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignInCategory {
    Interactive,
    NonInteractive,
    ServicePrincipal,
    ManagedIdentity,
}

impl SignInCategory {
    pub const ALL: [SignInCategory; 4] = [
        SignInCategory::Interactive,
        SignInCategory::NonInteractive,
        SignInCategory::ServicePrincipal,
        SignInCategory::ManagedIdentity,
    ];

    /// The name used in `summary.json`, `--signin-coverage` and the configuration.
    pub fn name(self) -> &'static str {
        match self {
            SignInCategory::Interactive => "interactive",
            SignInCategory::NonInteractive => "non-interactive",
            SignInCategory::ServicePrincipal => "service-principal",
            SignInCategory::ManagedIdentity => "managed-identity",
        }
    }

    /// A small number for aggregation keys.
    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<SignInCategory> {
        SignInCategory::ALL.get(code as usize).copied()
    }

    /// Reads a category from a record's marker: a Log Analytics table (`SigninLogs`,
    /// `AADNonInteractiveUserSignInLogs`...), a diagnostic / Event Hub `category`
    /// (`SignInLogs`, `NonInteractiveUserSignInLogs`...), a Graph `signInEventTypes` value
    /// (`interactiveUser`, `nonInteractiveUser`, `servicePrincipal`, `managedIdentity`), or a
    /// name of [`SignInCategory::name`]. `None` for anything else.
    pub fn from_marker(marker: &str) -> Option<SignInCategory> {
        let m: String = marker
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let m = m.strip_prefix("aad").unwrap_or(&m);
        Some(match m {
            "signinlogs" | "interactiveuser" | "interactive" | "interactiveusersigninlogs" => {
                SignInCategory::Interactive
            }
            "noninteractiveusersigninlogs" | "noninteractiveuser" | "noninteractive" => {
                SignInCategory::NonInteractive
            }
            "serviceprincipalsigninlogs" | "serviceprincipal" => SignInCategory::ServicePrincipal,
            "managedidentitysigninlogs" | "managedidentity" => SignInCategory::ManagedIdentity,
            _ => return None,
        })
    }

    /// The category of a sign-in record from its extracted category marker. A record with no
    /// marker at all is interactive: every export path that writes none (Graph v1.0
    /// `auditLogs/signIns`, `Get-MgAuditLogSignIn`, the portal's default tab) holds
    /// interactive sign-ins only, as Microsoft documents. An unknown marker is `None`.
    pub fn of_record(marker: Option<&str>) -> Option<SignInCategory> {
        match marker {
            None => Some(SignInCategory::Interactive),
            Some(m) if m.trim().is_empty() => Some(SignInCategory::Interactive),
            Some(m) => SignInCategory::from_marker(m),
        }
    }

    /// The reason a token is unjudged when this category is absent.
    pub fn missing_reason(self) -> Unjudged {
        match self {
            SignInCategory::Interactive => Unjudged::NoInteractiveSignIns,
            SignInCategory::NonInteractive => Unjudged::NoNonInteractiveSignIns,
            SignInCategory::ServicePrincipal => Unjudged::NoServicePrincipalSignIns,
            SignInCategory::ManagedIdentity => Unjudged::NoManagedIdentitySignIns,
        }
    }
}

/// Who a token was issued to, as far as the access record tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// A user's delegated token: interactive sign-in or non-interactive refresh.
    Delegated,
    /// An application's own token (client credentials or managed identity).
    AppOnly,
}

impl TokenKind {
    /// An access record with no user, or whose user is the client application itself, was
    /// made with an app-only token.
    pub fn of(user: Option<&str>, client_app_id: Option<&str>) -> TokenKind {
        match (user, client_app_id) {
            (None, _) => TokenKind::AppOnly,
            (Some(u), Some(c)) if u.eq_ignore_ascii_case(c) => TokenKind::AppOnly,
            _ => TokenKind::Delegated,
        }
    }

    /// The sign-in categories that together record every issuance of such a token.
    pub fn needs(self) -> &'static [SignInCategory] {
        match self {
            TokenKind::Delegated => &[SignInCategory::Interactive, SignInCategory::NonInteractive],
            TokenKind::AppOnly => &[
                SignInCategory::ServicePrincipal,
                SignInCategory::ManagedIdentity,
            ],
        }
    }
}

/// Why a token was not judged (reason codes of `summary.json`'s `unjudged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Unjudged {
    /// No sign-in records for the tenant at all.
    NoSignIns,
    NoInteractiveSignIns,
    NoNonInteractiveSignIns,
    NoServicePrincipalSignIns,
    NoManagedIdentitySignIns,
    /// The token's possible issuance starts before or ends after a needed category's records.
    OutsideSignInSpan,
    /// A needed category has a gap (no records for longer than `max_quiet_hours`) inside the
    /// token's possible issuance.
    TimeGap,
    /// The export is visibly filtered and leaves out the token's resource.
    ResourceFiltered,
    /// The export is visibly filtered to some users and leaves out the token's user.
    UserFiltered,
    /// The token's records carry no time.
    NoTime,
    /// A needed category's sign-ins log no token identifiers: they cannot show what they
    /// issued.
    SignInsWithoutTokenIds,
}

impl Unjudged {
    pub fn code(self) -> &'static str {
        match self {
            Unjudged::NoSignIns => "no-signins",
            Unjudged::NoInteractiveSignIns => "no-interactive-signins",
            Unjudged::NoNonInteractiveSignIns => "no-noninteractive-signins",
            Unjudged::NoServicePrincipalSignIns => "no-serviceprincipal-signins",
            Unjudged::NoManagedIdentitySignIns => "no-managedidentity-signins",
            Unjudged::OutsideSignInSpan => "outside-signin-span",
            Unjudged::TimeGap => "time-gap",
            Unjudged::ResourceFiltered => "resource-filtered",
            Unjudged::UserFiltered => "user-filtered",
            Unjudged::NoTime => "no-time",
            Unjudged::SignInsWithoutTokenIds => "signins-without-token-ids",
        }
    }

    /// What to export (or declare) next so that such tokens can be judged.
    pub fn hint(self) -> &'static str {
        match self {
            Unjudged::NoSignIns => "export the tenant's Entra sign-in logs",
            Unjudged::NoInteractiveSignIns => {
                "export interactive sign-ins (SigninLogs / signInEventTypes interactiveUser)"
            }
            Unjudged::NoNonInteractiveSignIns => {
                "export non-interactive sign-ins (AADNonInteractiveUserSignInLogs, or Graph beta \
                 with signInEventTypes nonInteractiveUser)"
            }
            Unjudged::NoServicePrincipalSignIns => {
                "export service-principal sign-ins (AADServicePrincipalSignInLogs)"
            }
            Unjudged::NoManagedIdentitySignIns => {
                "export managed-identity sign-ins (AADManagedIdentitySignInLogs)"
            }
            Unjudged::OutsideSignInSpan => {
                "export sign-ins starting at least one token lifetime (28 h) before the audit log"
            }
            Unjudged::TimeGap => {
                "re-export the sign-ins of the gap days, or declare them complete \
                 (--signin-coverage)"
            }
            Unjudged::ResourceFiltered => "export sign-ins for every resource, not one",
            Unjudged::UserFiltered => {
                "export sign-ins for every user, not only the suspected ones (or declare them \
                 complete: --signin-coverage)"
            }
            Unjudged::NoTime => "these records carry no time",
            Unjudged::SignInsWithoutTokenIds => {
                "export sign-ins with their uniqueTokenIdentifier (Graph, the diagnostic \
                 settings' tables, Sentinel), not with a tool that drops it"
            }
        }
    }
}

/// A declared complete window of one sign-in category (from `collect.json`, the configuration
/// or `--signin-coverage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declared {
    /// `None`: every tenant.
    pub tenant: Option<String>,
    pub category: SignInCategory,
    /// `None`: from the start of the input.
    pub start: Option<Timestamp>,
    /// `None`: to the end of the input (exclusive).
    pub end: Option<Timestamp>,
    /// Where the declaration came from (`collect.json` path, `--signin-coverage`, `config`).
    pub source: String,
}

/// What the model found for one category of one tenant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CategoryCoverage {
    pub records: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Hours with records.
    pub hours: u64,
    /// Runs of at least `max_quiet_hours` empty hours inside the span: `[start, end)`.
    pub gaps: Vec<Gap>,
    #[serde(skip)]
    active: BTreeSet<i64>,
}

/// A run of hours with no record of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What the model found for one tenant.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct TenantCoverage {
    pub categories: BTreeMap<SignInCategory, CategoryCoverage>,
    /// Sign-in records per resource id.
    pub resources: BTreeMap<String, u64>,
    /// Sign-ins per category that log no token identifier (they cover nothing).
    pub without_token_id: BTreeMap<SignInCategory, u64>,
}

/// The sign-in coverage of an input, per tenant.
#[derive(Debug, Clone, Default)]
pub struct CoverageModel {
    /// Tenant → coverage; the empty tenant holds sign-ins that name none (they count for every
    /// tenant).
    tenants: BTreeMap<String, TenantCoverage>,
    declared: Vec<Declared>,
    max_quiet_hours: i64,
    /// Span of the whole input (declarations without bounds reach to it).
    span: Option<(Timestamp, Timestamp)>,
    /// Users (UPNs and object ids, ASCII lower-cased) named by any sign-in.
    signin_users: BTreeSet<String>,
    /// Users (as access records name them, lower-cased) of delegated tokens.
    token_users: BTreeSet<String>,
    /// The share (per cent) of token users without sign-ins above which the export is taken as
    /// filtered by user.
    user_filter_absent_percent: i64,
    /// Set by [`CoverageModel::finish`].
    users: UserCoverage,
    /// Declarations refused by the driver, with why.
    refused: Vec<String>,
}

/// What the sign-ins say about users: `summary.json`'s `coverage.users`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UserCoverage {
    /// Distinct user names (UPNs and object ids) in the sign-ins.
    pub signin_user_names: u64,
    /// Distinct user names of delegated tokens in the access records.
    pub token_users: u64,
    /// Of which no sign-in names.
    pub token_users_without_sign_ins: u64,
    /// Whether the export is taken as filtered by user (their tokens are then unjudged).
    pub filtered: bool,
    pub absent_percent_threshold: i64,
}

/// Inputs of a judgement: one token.
#[derive(Debug, Clone, Copy)]
pub struct TokenWindow<'a> {
    pub tenant: &'a str,
    pub kind: TokenKind,
    /// The user the access record names (`None`: none).
    pub user: Option<&'a str>,
    /// The resource the token was used on (`None`: unknown).
    pub resource: Option<&'a str>,
    /// Earliest and latest possible issuance.
    pub issued: (Timestamp, Timestamp),
}

impl CoverageModel {
    /// The default user filter threshold (`coverage.user_filter_absent_percent`).
    pub const USER_FILTER_ABSENT_PERCENT: i64 = 34;

    pub fn new(max_quiet_hours: i64) -> CoverageModel {
        CoverageModel {
            max_quiet_hours: max_quiet_hours.max(1),
            user_filter_absent_percent: Self::USER_FILTER_ABSENT_PERCENT,
            ..CoverageModel::default()
        }
    }

    /// The model the configuration asks for (`[coverage]`).
    pub fn from_config(c: &crate::config::CoverageConfig) -> CoverageModel {
        let mut m = CoverageModel::new(c.max_quiet_hours);
        m.user_filter_absent_percent = c.user_filter_absent_percent.clamp(0, 100);
        m
    }

    /// Notes a user a sign-in names (its UPN and its object id are both worth adding).
    pub fn add_signin_user(&mut self, user: &str) {
        let u = user.trim().to_ascii_lowercase();
        if !u.is_empty() {
            self.signin_users.insert(u);
        }
    }

    /// Notes the user of a delegated token's access record.
    pub fn add_token_user(&mut self, user: &str) {
        let u = user.trim().to_ascii_lowercase();
        if !u.is_empty() {
            self.token_users.insert(u);
        }
    }

    /// Adds `records` sign-ins of `category` for `tenant` (`""`: none named) in the hour
    /// starting at `hour * 3600` seconds, the earliest and latest at `first`/`last`.
    pub fn add_hour(
        &mut self,
        tenant: &str,
        category: SignInCategory,
        hour: i64,
        records: u64,
        first: Option<Timestamp>,
        last: Option<Timestamp>,
    ) {
        let c = self
            .tenants
            .entry(tenant.to_string())
            .or_default()
            .categories
            .entry(category)
            .or_default();
        c.records += records;
        c.active.insert(hour);
        let hour_start = Timestamp::from_unix_seconds(hour.saturating_mul(HOUR));
        let first = first.unwrap_or(hour_start);
        let last = last.unwrap_or(hour_start);
        c.first = Some(c.first.map_or(first, |f| f.min(first)));
        c.last = Some(c.last.map_or(last, |l| l.max(last)));
    }

    /// Adds `records` sign-ins of `category` that log no token identifier: they cover no
    /// issuance, and a category that has only such sign-ins is reported as such.
    pub fn add_without_token_id(&mut self, tenant: &str, category: SignInCategory, records: u64) {
        *self
            .tenants
            .entry(tenant.to_string())
            .or_default()
            .without_token_id
            .entry(category)
            .or_default() += records;
    }

    /// Adds `records` sign-ins for `resource`.
    pub fn add_resource(&mut self, tenant: &str, resource: &str, records: u64) {
        *self
            .tenants
            .entry(tenant.to_string())
            .or_default()
            .resources
            .entry(resource.to_string())
            .or_default() += records;
    }

    pub fn declare(&mut self, d: Declared) {
        self.declared.push(d);
    }

    /// Records a declaration the driver refused (reported, never applied).
    pub fn refuse(&mut self, why: String) {
        self.refused.push(why);
    }

    /// Moves the input's span (declarations without bounds reach to it) without recomputing
    /// anything else: for a driver that reuses a finished model while only the span grew.
    pub fn set_input_span(&mut self, input_span: Option<(Timestamp, Timestamp)>) {
        self.span = input_span;
    }

    /// Records the input's span and computes the gaps. Call once, after every `add_*`.
    pub fn finish(&mut self, input_span: Option<(Timestamp, Timestamp)>) {
        self.span = input_span;
        let absent = self
            .token_users
            .iter()
            .filter(|u| !self.signin_users.contains(*u))
            .count() as u64;
        let users = self.token_users.len() as u64;
        self.users = UserCoverage {
            signin_user_names: self.signin_users.len() as u64,
            token_users: users,
            token_users_without_sign_ins: absent,
            // Only where sign-ins name users at all: no sign-ins is its own reason.
            filtered: !self.signin_users.is_empty()
                && absent.saturating_mul(100)
                    > users.saturating_mul(self.user_filter_absent_percent.max(0) as u64),
            absent_percent_threshold: self.user_filter_absent_percent,
        };
        let quiet = self.max_quiet_hours;
        for t in self.tenants.values_mut() {
            for c in t.categories.values_mut() {
                c.hours = c.active.len() as u64;
                c.gaps = c
                    .active
                    .iter()
                    .zip(c.active.iter().skip(1))
                    .filter(|(a, b)| **b - **a > quiet)
                    .map(|(a, b)| Gap {
                        start: Timestamp::from_unix_seconds((a + 1).saturating_mul(HOUR)),
                        end: Timestamp::from_unix_seconds(b.saturating_mul(HOUR)),
                    })
                    .collect();
            }
        }
    }

    /// Whether the sign-in evidence covers a token's issuance: `Ok` (judge it), or why not.
    pub fn judge(&self, w: &TokenWindow<'_>) -> Result<(), Unjudged> {
        let own = self.tenants.get(w.tenant);
        let any = self.tenants.get("");
        let declared_all = w
            .kind
            .needs()
            .iter()
            .all(|c| self.declared_covers(w.tenant, *c, w.issued));
        if !declared_all && own.is_none() && any.is_none() {
            return Err(Unjudged::NoSignIns);
        }
        for &cat in w.kind.needs() {
            if self.declared_covers(w.tenant, cat, w.issued) {
                continue;
            }
            let found: Vec<&CategoryCoverage> = [own, any]
                .into_iter()
                .flatten()
                .filter_map(|t| t.categories.get(&cat))
                .collect();
            if found.is_empty() {
                let tokenless = [own, any]
                    .into_iter()
                    .flatten()
                    .any(|t| t.without_token_id.contains_key(&cat));
                return Err(if tokenless {
                    Unjudged::SignInsWithoutTokenIds
                } else {
                    cat.missing_reason()
                });
            }
            // Either the tenant's own records or the unnamed ones must cover the window.
            let mut why = Unjudged::OutsideSignInSpan;
            let ok = found.iter().any(|c| match c.covers(w.issued) {
                Ok(()) => true,
                Err(e) => {
                    if e == Unjudged::TimeGap {
                        why = e;
                    }
                    false
                }
            });
            if !ok {
                return Err(why);
            }
        }
        if !declared_all && !self.resource_covered(w.tenant, w.resource) {
            return Err(Unjudged::ResourceFiltered);
        }
        if !declared_all
            && self.users.filtered
            && w.kind == TokenKind::Delegated
            && let Some(u) = w.user
            && !self.signin_users.contains(&u.trim().to_ascii_lowercase())
        {
            return Err(Unjudged::UserFiltered);
        }
        Ok(())
    }

    /// Whether a declared complete window of `cat` holds `[a, b]`.
    fn declared_covers(
        &self,
        tenant: &str,
        cat: SignInCategory,
        (a, b): (Timestamp, Timestamp),
    ) -> bool {
        self.declared.iter().any(|d| {
            d.category == cat
                && d.tenant
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(tenant))
                && d.start.or(self.span.map(|s| s.0)).is_some_and(|s| s <= a)
                && d.end
                    .or(self.span.map(|s| s.1.plus_seconds(1)))
                    .is_some_and(|e| b < e)
        })
    }

    /// An export is visibly filtered when all of the tenant's sign-ins name one resource: then
    /// only a token for that very resource is judged. Sign-ins for several resources are taken
    /// as unfiltered (a resource's absence among them is not evidence of a filter).
    fn resource_covered(&self, tenant: &str, resource: Option<&str>) -> bool {
        let names: BTreeSet<String> = [self.tenants.get(tenant), self.tenants.get("")]
            .iter()
            .flatten()
            .flat_map(|t| t.resources.keys())
            .map(|k| k.to_ascii_lowercase())
            .collect();
        if names.len() != 1 {
            return true;
        }
        resource.is_some_and(|r| names.contains(&r.to_ascii_lowercase()))
    }

    /// What was found, for `summary.json`.
    pub fn summary(&self) -> CoverageSummary {
        let tenants = self
            .tenants
            .iter()
            .map(|(t, c)| {
                let mut resources: Vec<(&String, &u64)> = c.resources.iter().collect();
                resources.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                let missing: Vec<SignInCategory> = SignInCategory::ALL
                    .into_iter()
                    .filter(|k| !c.categories.contains_key(k))
                    .collect();
                TenantSummary {
                    tenant: t.clone(),
                    categories: c.categories.clone(),
                    missing_categories: missing,
                    signins_without_token_id: c.without_token_id.clone(),
                    resources: resources.len(),
                    top_resources: resources
                        .iter()
                        .take(10)
                        .map(|(r, n)| ResourceCount {
                            resource: (*r).clone(),
                            records: **n,
                        })
                        .collect(),
                }
            })
            .collect();
        CoverageSummary {
            tenants,
            users: self.users,
            declared: self.declared.clone(),
            declarations_refused: self.refused.clone(),
            max_quiet_hours: self.max_quiet_hours,
            traced_to_sign_in: 0,
            judged_never_issued: 0,
            unjudged: BTreeMap::new(),
        }
    }
}

impl CategoryCoverage {
    fn covers(&self, (a, b): (Timestamp, Timestamp)) -> Result<(), Unjudged> {
        match (self.first, self.last) {
            (Some(f), Some(l)) if f <= a && b <= l => {}
            _ => return Err(Unjudged::OutsideSignInSpan),
        }
        if self.gaps.iter().any(|g| g.start <= b && a < g.end) {
            return Err(Unjudged::TimeGap);
        }
        Ok(())
    }
}

/// `summary.json`'s `coverage`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CoverageSummary {
    pub tenants: Vec<TenantSummary>,
    pub users: UserCoverage,
    pub declared: Vec<Declared>,
    /// Declarations refused, with why (a collector manifest's stream whose files are not
    /// among the inputs).
    pub declarations_refused: Vec<String>,
    pub max_quiet_hours: i64,
    /// Distinct tokens whose issuing sign-in is in the input.
    pub traced_to_sign_in: u64,
    /// Tokens judged: no sign-in issued them though coverage is established.
    pub judged_never_issued: u64,
    /// Reason code → counts (filled by the rules).
    pub unjudged: BTreeMap<&'static str, UnjudgedCount>,
}

/// One tenant in [`CoverageSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct TenantSummary {
    /// `""` for sign-ins that name no tenant.
    pub tenant: String,
    pub categories: BTreeMap<SignInCategory, CategoryCoverage>,
    pub missing_categories: Vec<SignInCategory>,
    /// Sign-ins per category that log no token identifier (absent when none): they cover
    /// nothing.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub signins_without_token_id: BTreeMap<SignInCategory, u64>,
    /// Distinct resources signed in to.
    pub resources: usize,
    pub top_resources: Vec<ResourceCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceCount {
    pub resource: String,
    pub records: u64,
}

/// Unjudged tokens and their records for one reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnjudgedCount {
    pub tokens: u64,
    pub records: u64,
    pub hint: &'static str,
}

impl CoverageSummary {
    /// Counts one unjudged token with its records.
    pub fn count(&mut self, why: Unjudged, records: u64) {
        let c = self.unjudged.entry(why.code()).or_insert(UnjudgedCount {
            hint: why.hint(),
            ..UnjudgedCount::default()
        });
        c.tokens += 1;
        c.records += records;
    }

    /// Total unjudged tokens.
    pub fn unjudged_tokens(&self) -> u64 {
        self.unjudged.values().map(|c| c.tokens).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn hour_of(s: &str) -> i64 {
        t(s).unix_seconds().div_euclid(HOUR)
    }

    /// Every hour of `days` days from 2023-06-01, for the listed categories.
    fn model(cats: &[SignInCategory], skip_day: Option<i64>) -> CoverageModel {
        let mut m = CoverageModel::new(24);
        let h0 = hour_of("2023-06-01T00:00:00Z");
        for h in h0..h0 + 24 * 6 {
            if skip_day == Some((h - h0) / 24) {
                continue;
            }
            for c in cats {
                let at = Timestamp::from_unix_seconds(h * HOUR + 60);
                m.add_hour("T", *c, h, 2, Some(at), Some(at));
            }
        }
        m.add_resource("T", "exchange", 10);
        m.add_resource("T", "graph", 10);
        m.finish(Some((t("2023-06-01T00:00:00Z"), t("2023-06-07T00:00:00Z"))));
        m
    }

    fn window(kind: TokenKind, a: &str, b: &str) -> TokenWindow<'static> {
        TokenWindow {
            tenant: "T",
            kind,
            user: None,
            resource: Some("exchange"),
            issued: (t(a), t(b)),
        }
    }

    #[test]
    fn markers_of_every_shape() {
        use SignInCategory::*;
        for (m, c) in [
            ("SigninLogs", Interactive),
            ("SignInLogs", Interactive),
            ("AADNonInteractiveUserSignInLogs", NonInteractive),
            ("NonInteractiveUserSignInLogs", NonInteractive),
            ("nonInteractiveUser", NonInteractive),
            ("ServicePrincipalSignInLogs", ServicePrincipal),
            ("AADServicePrincipalSignInLogs", ServicePrincipal),
            ("servicePrincipal", ServicePrincipal),
            ("AADManagedIdentitySignInLogs", ManagedIdentity),
            ("managedIdentity", ManagedIdentity),
            ("interactiveUser", Interactive),
            ("non-interactive", NonInteractive),
        ] {
            assert_eq!(SignInCategory::from_marker(m), Some(c), "{m}");
        }
        assert_eq!(SignInCategory::of_record(None), Some(Interactive));
        assert_eq!(SignInCategory::of_record(Some("AuditLogs")), None);
    }

    #[test]
    fn interactive_only_leaves_delegated_tokens_unjudged() {
        let m = model(&[SignInCategory::Interactive], None);
        let w = window(
            TokenKind::Delegated,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        assert_eq!(m.judge(&w), Err(Unjudged::NoNonInteractiveSignIns));
        let all = model(
            &[SignInCategory::Interactive, SignInCategory::NonInteractive],
            None,
        );
        assert_eq!(all.judge(&w), Ok(()));
        let app = window(
            TokenKind::AppOnly,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        assert_eq!(all.judge(&app), Err(Unjudged::NoServicePrincipalSignIns));
    }

    /// A model covering both user categories whose sign-ins name `signed_in`, with delegated
    /// tokens of `token_users`.
    fn users_model(signed_in: &[&str], token_users: &[&str]) -> CoverageModel {
        let both = [SignInCategory::Interactive, SignInCategory::NonInteractive];
        let mut m = model(&both, None);
        for u in signed_in {
            m.add_signin_user(u);
        }
        for u in token_users {
            m.add_token_user(u);
        }
        m.finish(Some((t("2023-06-01T00:00:00Z"), t("2023-06-07T00:00:00Z"))));
        m
    }

    #[test]
    fn an_export_filtered_to_some_users_leaves_the_others_unjudged() {
        let users = ["a@x", "b@x", "c@x", "d@x", "e@x", "f@x"];
        // Sign-ins of two suspected victims only (each sign-in names a UPN and an object id):
        // 4 of 6 absent.
        let m = users_model(&["a@x", "oid-a", "b@x", "oid-b"], &users);
        assert!(m.summary().users.filtered);
        assert_eq!(m.summary().users.token_users_without_sign_ins, 4);
        let mut w = window(
            TokenKind::Delegated,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        w.user = Some("C@X");
        assert_eq!(m.judge(&w), Err(Unjudged::UserFiltered));
        // A victim the export does hold is judged, named by UPN or by object id.
        w.user = Some("A@x");
        assert_eq!(m.judge(&w), Ok(()));
        w.user = Some("OID-B");
        assert_eq!(m.judge(&w), Ok(()));
        // App-only tokens are not the user filter's business.
        w.user = None;
        w.kind = TokenKind::AppOnly;
        assert_eq!(m.judge(&w), Err(Unjudged::NoServicePrincipalSignIns));
    }

    #[test]
    fn a_few_users_without_sign_ins_are_still_judged() {
        // One dormant user of six (17 %, under the 34 % threshold): a forger's pick, judged.
        let m = users_model(
            &["a@x", "b@x", "c@x", "d@x", "e@x"],
            &["a@x", "b@x", "c@x", "d@x", "e@x", "dormant@x"],
        );
        assert!(!m.summary().users.filtered);
        let mut w = window(
            TokenKind::Delegated,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        w.user = Some("dormant@x");
        assert_eq!(m.judge(&w), Ok(()));
        // Declared complete coverage overrides an apparent filter.
        let mut d = users_model(&["a@x"], &["a@x", "b@x", "c@x"]);
        for category in [SignInCategory::Interactive, SignInCategory::NonInteractive] {
            d.declare(Declared {
                tenant: None,
                category,
                start: None,
                end: None,
                source: "test".into(),
            });
        }
        w.user = Some("b@x");
        assert_eq!(d.judge(&w), Ok(()));
    }

    #[test]
    fn a_missing_day_is_a_gap_and_the_span_bounds_judgement() {
        let both = [SignInCategory::Interactive, SignInCategory::NonInteractive];
        let m = model(&both, Some(2));
        let inside = window(
            TokenKind::Delegated,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        assert_eq!(m.judge(&inside), Err(Unjudged::TimeGap));
        let after = window(
            TokenKind::Delegated,
            "2023-06-04T10:00:00Z",
            "2023-06-04T10:40:00Z",
        );
        assert_eq!(m.judge(&after), Ok(()));
        let early = window(
            TokenKind::Delegated,
            "2023-05-31T20:00:00Z",
            "2023-06-01T02:00:00Z",
        );
        assert_eq!(m.judge(&early), Err(Unjudged::OutsideSignInSpan));
    }

    #[test]
    fn filtered_resources_and_declarations() {
        let both = [SignInCategory::Interactive, SignInCategory::NonInteractive];
        let mut m = model(&both, Some(2));
        let mut w = window(
            TokenKind::Delegated,
            "2023-06-03T10:00:00Z",
            "2023-06-03T10:40:00Z",
        );
        w.resource = Some("sharepoint");
        assert_eq!(m.judge(&w), Err(Unjudged::TimeGap));
        for category in both {
            m.declare(Declared {
                tenant: None,
                category,
                start: None,
                end: None,
                source: "test".into(),
            });
        }
        // Declared complete: the quiet day was quiet, and every resource is in.
        assert_eq!(m.judge(&w), Ok(()));
        let s = m.summary();
        assert_eq!(s.tenants.len(), 1);
        assert_eq!(
            s.tenants[0].categories[&SignInCategory::Interactive]
                .gaps
                .len(),
            1
        );
        // Sign-ins for several resources are not a filter; for one resource they are.
        let m2 = model(&both, None);
        assert_eq!(m2.judge(&w), Ok(()));
        let mut one = CoverageModel::new(24);
        let h = hour_of("2023-06-03T00:00:00Z");
        for hh in h - 48..h + 48 {
            for c in both {
                one.add_hour("T", c, hh, 1, None, None);
            }
        }
        one.add_resource("T", "graph", 96);
        one.finish(None);
        assert_eq!(one.judge(&w), Err(Unjudged::ResourceFiltered));
        w.resource = Some("GRAPH");
        assert_eq!(one.judge(&w), Ok(()));
    }

    #[test]
    fn token_kinds() {
        assert_eq!(TokenKind::of(None, Some("app")), TokenKind::AppOnly);
        assert_eq!(TokenKind::of(Some("APP"), Some("app")), TokenKind::AppOnly);
        assert_eq!(
            TokenKind::of(Some("bob@x"), Some("app")),
            TokenKind::Delegated
        );
    }
}
