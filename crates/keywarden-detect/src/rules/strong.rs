//! Strong rules: evidence that a token was forged or that a known actor was present.
//!
//! - `token-never-issued`: an access token id that no sign-in in the input issued, judged only
//!   where the [`crate::coverage`] model establishes coverage for the token's kind, time and
//!   resource; a session link (same session, IP and client app as an interactive sign-in)
//!   lowers it to medium.
//! - `token-beyond-lifetime`: a token used longer after its `IssuedAtTime` than any token lives.
//! - `consumer-tenant-token`, `known-bad-key`, `ioc-ip`: records that carry the evidence
//!   themselves (aggregated per tenant and indicator); a consumer-tenant alert also links the
//!   other records of its tokens ([`Key::ClaimToken`]).

use keywarden_model::Timestamp;
use rustc_hash::FxHashMap;

use super::finding::Finding;
use super::{Candidate, Rule};
use crate::config::Settings;
use crate::coverage::{
    CoverageModel, CoverageSummary, SignInCategory, TokenKind, TokenWindow, Unjudged,
};
use crate::intern::{NONE, Sym};
use crate::keys::{Flag, Key, WITHOUT_TOKEN_ID};
use crate::scan::{Scan, Use};

/// A token's judgement: `Ok` when the sign-in evidence covers its issuance.
pub(crate) type Verdict = Result<(), Unjudged>;

/// The coverage model of a scan: its sign-in aggregates plus the declared coverage.
pub(crate) fn coverage_model(scan: &Scan, s: &Settings) -> CoverageModel {
    let mut m = CoverageModel::from_config(&s.config.coverage);
    for name in scan.identities.signed_in_names() {
        m.add_signin_user(name);
    }
    let mut keys: Vec<(&Key, &Use)> = scan
        .uses
        .iter()
        .filter(|(k, _)| matches!(k, Key::SignInHour(..) | Key::SignInResource(..)))
        .collect();
    keys.sort_by_key(|(k, _)| **k);
    for (k, u) in keys {
        match *k {
            Key::SignInHour(t, c, h) => {
                let tokenless = c & WITHOUT_TOKEN_ID != 0;
                match SignInCategory::from_code(c & !WITHOUT_TOKEN_ID) {
                    Some(cat) if tokenless => m.add_without_token_id(scan.text(t), cat, u.count),
                    Some(cat) => m.add_hour(scan.text(t), cat, h, u.count, u.first, u.last),
                    None => {}
                }
            }
            Key::SignInResource(t, r) => m.add_resource(scan.text(t), scan.text(r), u.count),
            _ => {}
        }
    }
    // The users of delegated tokens, for the user filter.
    for (k, u) in &scan.uses {
        if let Key::Token(..) = k
            && u.ctx.user != NONE
        {
            let client = (u.ctx.client != NONE).then(|| scan.text(u.ctx.client));
            let user = scan.text(u.ctx.user);
            if TokenKind::of(Some(user), client) == TokenKind::Delegated {
                m.add_token_user(user);
            }
        }
    }
    for d in &s.declared {
        m.declare(d.clone());
    }
    for why in &s.declarations_refused {
        m.refuse(why.clone());
    }
    m.finish(scan.first.zip(scan.last));
    m
}

/// When the token of `u` may have been issued, and from what (`IssuedAtTime` or `first use`):
/// see [`issuance_window_at`].
pub(crate) fn issuance_window(
    u: &Use,
    s: &Settings,
) -> Option<(Timestamp, Timestamp, &'static str)> {
    Some(issuance_window_at(
        u.first?,
        u.issued.map(|(iat, _)| iat),
        s,
    ))
}

/// When a token first used at `first` may have been issued: from its earliest `IssuedAtTime`
/// (`iat`) when that is consistent with its first use (not after it, not longer than a token
/// lives before it), else from its first use back one token lifetime. Tolerances widen both
/// ends. `hunt` and `serve` both bound issuance with it.
pub(crate) fn issuance_window_at(
    first: Timestamp,
    iat: Option<Timestamp>,
    s: &Settings,
) -> (Timestamp, Timestamp, &'static str) {
    let t = &s.config.tolerance;
    let skew = t.clock_skew_minutes * 60;
    let lag = t.ingestion_lag_minutes * 60;
    let life = t.max_token_lifetime_minutes * 60;
    if let Some(iat) = iat
        && iat >= first.plus_seconds(-(life + skew))
        && iat <= first.plus_seconds(skew)
    {
        return (
            iat.plus_seconds(-skew),
            iat.plus_seconds(lag + skew),
            "IssuedAtTime",
        );
    }
    (
        first.plus_seconds(-(life + skew)),
        first.plus_seconds(lag + skew),
        "first use",
    )
}

/// Judges one token key against the model.
pub(crate) fn judge(
    scan: &Scan,
    s: &Settings,
    model: &CoverageModel,
    key: &Key,
    u: &Use,
) -> Verdict {
    let Key::Token(tenant, _) = *key else {
        return Err(Unjudged::NoTime);
    };
    let Some((a, b, _)) = issuance_window(u, s) else {
        return Err(Unjudged::NoTime);
    };
    let text = |x| (x != NONE).then(|| scan.text(x));
    let w = TokenWindow {
        tenant: scan.text(tenant),
        kind: TokenKind::of(text(u.ctx.user), text(u.ctx.client)),
        user: text(u.ctx.user),
        resource: text(u.ctx.app),
        issued: (a, b),
    };
    model.judge(&w)
}

/// Tokens used but never issued, each with its verdict, and the coverage summary with the
/// unjudged counts.
pub(crate) fn never_issued(
    scan: &Scan,
    s: &Settings,
    model: &CoverageModel,
) -> (Vec<(Key, Verdict)>, CoverageSummary) {
    let mut summary = model.summary();
    if !s.config.rules.token_never_issued.enabled {
        return (Vec::new(), summary);
    }
    let mut out: Vec<(Key, Verdict)> = scan
        .uses
        .iter()
        .filter_map(|(k, u)| match *k {
            Key::Token(_, token) if !scan.is_issued(token) => {
                Some((*k, judge(scan, s, model, k, u)))
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|a| a.0);
    for (k, v) in &out {
        let records = scan.get(k).map_or(0, |u| u.count);
        match v {
            Ok(()) => summary.judged_never_issued += 1,
            Err(why) => summary.count(*why, records),
        }
    }
    summary.traced_to_sign_in = scan
        .uses
        .keys()
        .filter(|k| matches!(k, Key::Token(_, t) if scan.is_issued(*t)))
        .count() as u64;
    (out, summary)
}

/// The verdicts of [`never_issued`] by key.
pub(crate) fn verdicts(never: &[(Key, Verdict)]) -> FxHashMap<Key, Verdict> {
    never.iter().copied().collect()
}

/// Tokens used longer after their `IssuedAtTime` than any token lives.
pub(crate) fn beyond_lifetime(scan: &Scan, s: &Settings) -> Vec<Key> {
    if !s.config.rules.token_beyond_lifetime.enabled {
        return Vec::new();
    }
    let t = &s.config.tolerance;
    let limit = (t.max_token_lifetime_minutes + t.clock_skew_minutes) * 60;
    let mut out: Vec<Key> = scan
        .uses
        .iter()
        .filter_map(|(k, u)| match (*k, u.issued, u.last) {
            (Key::Token(..), Some((iat, _)), Some(last)) if last > iat.plus_seconds(limit) => {
                Some(*k)
            }
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// The time of the earliest strong evidence (ends the look-back baseline).
/// `never` is [`never_issued`] of the same scan (computed once per plan).
pub(crate) fn first_evidence(
    scan: &Scan,
    never: &[(Key, Verdict)],
    beyond: &[Key],
) -> Option<Timestamp> {
    let flags = scan
        .uses
        .iter()
        .filter(|(k, _)| matches!(k, Key::Flag(..)))
        .filter_map(|(_, u)| u.first);
    let tokens = never
        .iter()
        .filter(|(_, c)| c.is_ok())
        .map(|(k, _)| k)
        .chain(beyond)
        .filter_map(|k| scan.get(k).and_then(|u| u.first));
    flags.chain(tokens).min()
}

/// Candidates of the strong rules.
pub(crate) fn candidates(
    scan: &Scan,
    s: &Settings,
    never: &[(Key, Verdict)],
    beyond: &[Key],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for &(key, verdict) in never {
        if verdict.is_err() {
            continue;
        }
        let Some(u) = scan.get(&key) else { continue };
        let Key::Token(tenant, token) = key else {
            continue;
        };
        let text = |x| (x != NONE).then(|| scan.text(x));
        // A session link weighs, never exempts: a forger writes the session claim, but not the
        // victim's IP and client app as the interactive sign-in of that session logged them.
        let linked = u.ctx.session != NONE
            && scan
                .get(&Key::SignInSession(
                    tenant,
                    u.ctx.session,
                    u.ctx.ip,
                    u.ctx.client,
                ))
                .is_some();
        let finding = Finding::NeverIssued {
            token: scan.text(token),
            kind: TokenKind::of(text(u.ctx.user), text(u.ctx.client)),
            window: issuance_window(u, s),
            session_linked: linked,
        };
        out.push(Candidate::of_key(&finding, s, None, key, u));
    }
    for &key in beyond {
        let Some(u) = scan.get(&key) else { continue };
        let (Key::Token(_, token), Some((iat, _)), Some(last)) = (key, u.issued, u.last) else {
            continue;
        };
        let finding = Finding::BeyondLifetime {
            token: scan.text(token),
            issued_at: iat,
            last_use: last,
            sign_in_found: scan.is_issued(token),
        };
        out.push(Candidate::of_key(&finding, s, None, key, u));
    }
    let mut flags: Vec<(&Key, &Use)> = scan
        .uses
        .iter()
        .filter(|(k, _)| matches!(k, Key::Flag(..)))
        .collect();
    flags.sort_by_key(|(k, _)| **k);
    let claimed = claim_tokens(scan);
    for (key, u) in flags {
        let Key::Flag(flag, tenant, value, group) = *key else {
            continue;
        };
        let v = scan.text(value);
        let finding = match flag {
            Flag::ConsumerTenant => Finding::ConsumerTenant {
                token_tenant: v,
                resource_tenant: scan.text(tenant),
                client: scan.text(group),
            },
            Flag::BadKey => Finding::BadKey { key_id: v },
            Flag::IocIp => Finding::IocIp { ip: v, at: u.first },
        };
        debug_assert_eq!(finding.rule(), Rule::of_flag(flag));
        let mut c = Candidate::of_key(&finding, s, None, *key, u);
        if flag == Flag::ConsumerTenant {
            let tokens = claimed
                .get(&(tenant, value, group))
                .map_or(&[][..], Vec::as_slice);
            link_tokens(&mut c, scan, tenant, tokens);
        }
        out.push(c);
    }
    out
}

/// The tokens of each `consumer-tenant-token` key (tenant, token tenant, client), from the
/// [`Key::ClaimToken`] keys of the scan.
fn claim_tokens(scan: &Scan) -> FxHashMap<(Sym, Sym, Sym), Vec<Sym>> {
    let mut out: FxHashMap<(Sym, Sym, Sym), Vec<Sym>> = FxHashMap::default();
    for k in scan.uses.keys() {
        if let Key::ClaimToken(tenant, tt, client, token) = *k {
            out.entry((tenant, tt, client)).or_default().push(token);
        }
    }
    out
}

/// Links the other records of `tokens` in `tenant` to a candidate (its `linked` keys) and
/// widens its time span to theirs. A token's own claims (its tenant) are what the finding
/// judges, so every record of the token belongs to it, also those that do not carry the
/// claim: without them the attacker's Graph activity fell out of the alert.
fn link_tokens(c: &mut Candidate, scan: &Scan, tenant: Sym, tokens: &[Sym]) {
    for &t in tokens {
        let k = Key::Token(tenant, t);
        let Some(u) = scan.get(&k) else { continue };
        c.linked.push(k);
        for t in [u.first, u.last].into_iter().flatten() {
            c.first = Some(c.first.map_or(t, |f| f.min(t)));
            c.last = Some(c.last.map_or(t, |l| l.max(t)));
        }
    }
    c.linked.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DetectConfig;
    use keywarden_model::{Event, Fields, Origin, Severity, SourceKind, Value};
    use serde_json::json;

    const MAIL: Option<&str> = Some("MailItemsAccessed");

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
                client_app_id: Some("client".into()),
                client_ip: Some("192.0.2.1".into()),
                session_id: Some("sess".into()),
                ..Fields::default()
            },
        }
    }

    fn signin(time: &str, token: &str, category: &'static str) -> Event<'static> {
        let mut e = ev(SourceKind::EntraSignIn, time, token, None);
        e.fields.category = Some(category.into());
        e
    }

    fn scan(events: &[Event<'static>], s: &Settings) -> Scan {
        let mut scan = Scan::default();
        let mut scratch = Vec::new();
        for e in events {
            scan.add(e, s, &mut scratch);
        }
        scan
    }

    /// Interactive and non-interactive sign-ins every midnight of 2023-06-01..=03.
    fn both_categories() -> Vec<Event<'static>> {
        let mut v = Vec::new();
        for (i, day) in ["2023-06-01", "2023-06-02", "2023-06-03"]
            .iter()
            .enumerate()
        {
            let at: &'static str = Box::leak(format!("{day}T00:00:00Z").into_boxed_str());
            let a: &'static str = Box::leak(format!("i{i}").into_boxed_str());
            let b: &'static str = Box::leak(format!("n{i}").into_boxed_str());
            v.push(signin(at, a, "SigninLogs"));
            v.push(signin(at, b, "AADNonInteractiveUserSignInLogs"));
        }
        v
    }

    fn verdicts_of(sc: &Scan, s: &Settings) -> Vec<(String, Verdict)> {
        let model = coverage_model(sc, s);
        never_issued(sc, s, &model)
            .0
            .into_iter()
            .map(|(k, c)| match k {
                Key::Token(_, t) => (sc.text(t).to_string(), c),
                _ => (String::new(), c),
            })
            .collect()
    }

    #[test]
    fn coverage_needs_both_user_categories_around_issuance() {
        let s = DetectConfig::default().build().unwrap();
        let mut events = both_categories();
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "mid",
            MAIL,
        ));
        // Within a token lifetime (28 h) of the start, with no IssuedAtTime: unjudged.
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-01T06:00:00Z",
            "early",
            MAIL,
        ));
        // The same, but its IssuedAtTime puts issuance inside the sign-ins' span.
        let mut iat = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-01T06:00:00Z",
            "dated",
            MAIL,
        );
        iat.fields.token_issued_at = Timestamp::parse("2023-06-01T05:50:00Z");
        events.push(iat);
        // Too close to the end: its sign-in may be stamped after the export ends.
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T23:50:00Z",
            "late",
            MAIL,
        ));
        let sc = scan(&events, &s);
        let v: std::collections::BTreeMap<String, Verdict> =
            verdicts_of(&sc, &s).into_iter().collect();
        let want: std::collections::BTreeMap<String, Verdict> = [
            ("mid", Ok(())),
            ("early", Err(Unjudged::OutsideSignInSpan)),
            ("dated", Ok(())),
            ("late", Err(Unjudged::OutsideSignInSpan)),
        ]
        .into_iter()
        .map(|(t, c)| (t.to_string(), c))
        .collect();
        assert_eq!(v, want);
    }

    #[test]
    fn interactive_only_sign_ins_judge_no_user_token() {
        let s = DetectConfig::default().build().unwrap();
        let mut events: Vec<_> = both_categories()
            .into_iter()
            .filter(|e| e.fields.category.as_deref() == Some("SigninLogs"))
            .collect();
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "refresh",
            MAIL,
        ));
        let sc = scan(&events, &s);
        assert_eq!(
            verdicts_of(&sc, &s),
            [(
                "refresh".to_string(),
                Err(Unjudged::NoNonInteractiveSignIns)
            )]
        );
        let model = coverage_model(&sc, &s);
        let (never, summary) = never_issued(&sc, &s, &model);
        assert!(candidates(&sc, &s, &never, &[]).is_empty());
        assert_eq!(summary.unjudged["no-noninteractive-signins"].tokens, 1);
        // An app-only token (no user) needs service-principal sign-ins.
        let mut app = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "daemon",
            MAIL,
        );
        app.fields.user = None;
        let mut events = both_categories();
        events.push(app);
        let sc = scan(&events, &s);
        assert_eq!(
            verdicts_of(&sc, &s),
            [(
                "daemon".to_string(),
                Err(Unjudged::NoServicePrincipalSignIns)
            )]
        );
    }

    #[test]
    fn a_late_stamped_sign_in_still_issues_the_token() {
        let s = DetectConfig::default().build().unwrap();
        let mut events = both_categories();
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "late",
            MAIL,
        ));
        events.push(signin("2023-06-02T12:04:00Z", "late", "SigninLogs"));
        let mut forged = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "forged",
            MAIL,
        );
        forged.fields.client_ip = Some("203.0.113.66".into());
        events.push(forged);
        let sc = scan(&events, &s);
        assert_eq!(verdicts_of(&sc, &s), [("forged".to_string(), Ok(()))]);
        let model = coverage_model(&sc, &s);
        let (never, _) = never_issued(&sc, &s, &model);
        let c = candidates(&sc, &s, &never, &[]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].rule, Rule::TokenNeverIssued);
        assert_eq!(c[0].severity, Severity::High);
        assert!(first_evidence(&sc, &never, &[]).is_some());
    }

    #[test]
    fn a_session_link_with_the_same_ip_and_app_weighs_down_to_medium() {
        let s = DetectConfig::default().build().unwrap();
        let mut events = both_categories();
        // Same session, IP and client app as the interactive sign-ins: medium.
        events.push(ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "linked",
            MAIL,
        ));
        let sc = scan(&events, &s);
        let model = coverage_model(&sc, &s);
        let (never, _) = never_issued(&sc, &s, &model);
        let c = candidates(&sc, &s, &never, &[]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].severity, Severity::Medium);
        assert!(c[0].evidence.contains_key("session_link"));
    }

    #[test]
    fn a_consumer_tokens_records_without_the_claim_join_its_alert() {
        let s = DetectConfig::default().build().unwrap();
        let mut events = both_categories();
        let mut claim = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "msa",
            MAIL,
        );
        claim.fields.token_tenant = Some(crate::config::CONSUMER_TENANT.into());
        events.push(claim);
        // The same token in a Graph activity record, earlier, without the token's tenant.
        let graph = ev(
            SourceKind::GraphActivity,
            "2023-06-02T11:00:00Z",
            "msa",
            None,
        );
        events.push(graph);
        // Another token of the same client: not linked.
        events.push(ev(
            SourceKind::GraphActivity,
            "2023-06-02T10:00:00Z",
            "other",
            None,
        ));
        let sc = scan(&events, &s);
        let c = candidates(&sc, &s, &[], &[]);
        let consumer: Vec<&Candidate> = c
            .iter()
            .filter(|c| c.rule == Rule::ConsumerTenantToken)
            .collect();
        assert_eq!(consumer.len(), 1);
        let linked: Vec<String> = consumer[0]
            .linked
            .iter()
            .map(|k| match *k {
                Key::Token(_, t) => sc.text(t).to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(linked, ["msa"]);
        assert_eq!(consumer[0].first, Timestamp::parse("2023-06-02T11:00:00Z"));
        assert_eq!(consumer[0].last, Timestamp::parse("2023-06-02T12:00:00Z"));
    }

    #[test]
    fn a_token_used_days_after_its_issued_at_time() {
        let s = DetectConfig::default().build().unwrap();
        let mut events = both_categories();
        let mut replay = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "old",
            MAIL,
        );
        replay.fields.token_issued_at = Timestamp::parse("2023-05-29T08:00:00Z");
        events.push(replay);
        // A CAE token used 20 h after issue is normal.
        let mut cae = ev(
            SourceKind::UnifiedAuditLog,
            "2023-06-02T12:00:00Z",
            "x",
            MAIL,
        );
        cae.fields.token_issued_at = Timestamp::parse("2023-06-01T16:00:00Z");
        events.push(cae);
        events.push(signin("2023-06-01T16:00:00Z", "x", "SigninLogs"));
        let sc = scan(&events, &s);
        let beyond = beyond_lifetime(&sc, &s);
        assert_eq!(beyond.len(), 1);
        let c = candidates(&sc, &s, &[], &beyond);
        assert_eq!(c[0].rule, Rule::TokenBeyondLifetime);
        assert_eq!(c[0].severity, Severity::High);
        assert_eq!(c[0].evidence["hours_after_issue"], json!(100));
        // Its IssuedAtTime is inconsistent with a real token: the window falls back to the
        // first use, which the sign-ins cover.
        let v = verdicts_of(&sc, &s);
        assert_eq!(v, [("old".to_string(), Ok(()))]);
    }
}
