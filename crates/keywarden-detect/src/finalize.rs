//! From candidates and their gathered records to [`Alert`]s: ids, severity and score (weak
//! signals raise a lead's score, never alone make an alert), token tracing, evidence.

use std::collections::BTreeMap;

use keywarden_model::{Alert, Severity};
use serde_json::{Value as Json, json};

use crate::collect::{Gather, Gathered};
use crate::config::Settings;
use crate::coverage::{CoverageSummary, Unjudged};
use crate::intern::stable_hash;
use crate::keys::Key;
use crate::rules::{Candidate, Plan};
use crate::scan::Scan;

/// Lists in evidence are capped at this many values (the count is always given).
const EVIDENCE_LIST_CAP: usize = 100;

/// The built-in detections' results.
#[derive(Debug, Clone, Default)]
pub struct Detections {
    /// Sorted by (first time, rule id, id).
    pub alerts: Vec<Alert>,
    /// The sign-in coverage found and the tokens left unjudged (`summary.json`'s `coverage`).
    pub coverage: CoverageSummary,
    /// Later copies of records the alerts cover, not counted again
    /// (`summary.json`'s `repeated_records`).
    pub repeated_records: u64,
}

/// Builds the alerts. `gathered.candidates` is indexed like `plan.candidates`.
pub(crate) fn finalize(plan: &Plan, gathered: Gathered, s: &Settings) -> Detections {
    let mut out = Detections {
        coverage: plan.coverage.clone(),
        repeated_records: gathered.repeated_records,
        ..Detections::default()
    };
    for (c, g) in plan.candidates.iter().zip(gathered.candidates) {
        out.alerts.push(alert(c, g, plan, s));
    }
    sort_alerts(&mut out.alerts);
    out
}

/// The contract order of `alerts.jsonl`.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts
        .sort_by(|a, b| (a.time_first, &a.rule_id, &a.id).cmp(&(b.time_first, &b.rule_id, &b.id)));
}

fn alert(c: &Candidate, g: Gather, plan: &Plan, s: &Settings) -> Alert {
    let scan = &plan.scan;
    let w = &s.config.weak_signals;
    let mut a = Alert::new(c.rule.id(), c.title.clone(), c.severity);
    // Keys in text order: symbol numbers (and so the candidate's key order) depend on which
    // worker interned a value first, the text does not.
    let mut keys: Vec<Vec<String>> = c.keys.iter().map(|k| key_text(scan, k)).collect();
    keys.sort();
    let mut id_parts = vec![c.rule.id().to_string()];
    for k in keys {
        id_parts.extend(k);
    }
    let refs: Vec<&str> = id_parts.iter().map(String::as_str).collect();
    a.id = format!("kw-{:016x}", stable_hash(&refs));
    a.time_first = c.first;
    a.time_last = c.last;
    let ctx = &c.ctx;
    a.tenant = scan.syms.owned(ctx.tenant);
    a.user = scan.syms.owned(ctx.user).or_else(|| c.user.clone());
    a.mailbox = if g.mailboxes.len() == 1 {
        g.mailboxes.iter().next().cloned()
    } else {
        scan.syms.owned(ctx.mailbox)
    };
    a.client_ip = scan.syms.owned(ctx.ip);
    a.app_id = scan.syms.owned(ctx.app);
    a.client_app_id = scan.syms.owned(ctx.client);
    a.session_id = scan.syms.owned(ctx.session);
    a.token_id = scan.syms.owned(ctx.token);
    a.attack = c.rule.attack().iter().map(|t| t.to_string()).collect();

    let records = g.records.max(1);
    let weak = [
        (
            "rest_client_info",
            g.rest * 2 >= records && g.rest > 0,
            g.rest,
        ),
        (
            "off_hours_weekday",
            g.off_hours * 2 >= records && g.off_hours > 0,
            g.off_hours,
        ),
        ("new_ip_for_user", g.new_ip > 0, g.new_ip),
    ];
    let present = weak.iter().filter(|(_, on, _)| *on).count();
    a.score = round2((c.score + w.weight * present as f64).min(1.0));
    a.severity = c.severity;
    if !c.rule.is_strong() && a.severity == Severity::Low && a.score >= w.medium_score {
        a.severity = Severity::Medium;
    }
    let mut ev = c.evidence.clone();
    ev.insert("records".into(), json!(g.records));
    if g.repeated > 0 {
        ev.insert("repeated_records".into(), json!(g.repeated));
    }
    ev.insert(
        "weak_signals".into(),
        Json::Object(
            weak.iter()
                .map(|(n, on, count)| (n.to_string(), json!({"present": on, "records": count})))
                .collect(),
        ),
    );
    if !c.rule.is_strong() || matches!(c.rule, crate::rules::Rule::IocIp) {
        ev.insert("tokens".into(), token_trace(&g, plan, ctx.tenant));
    }
    for (name, set) in [
        ("token_ids", &g.tokens),
        ("session_ids", &g.sessions),
        ("client_ips", &g.ips),
        ("users", &g.users),
    ] {
        if !set.is_empty() {
            ev.insert(
                name.into(),
                json!(set.iter().take(EVIDENCE_LIST_CAP).collect::<Vec<_>>()),
            );
        }
    }
    if !g.mailboxes.is_empty() {
        ev.insert(
            "mailboxes".into(),
            json!(
                g.mailboxes
                    .iter()
                    .take(EVIDENCE_LIST_CAP)
                    .collect::<Vec<_>>()
            ),
        );
    }
    a.evidence = Json::Object(ev);
    a.record_ids = g.record_ids;
    if !c.records.is_empty() {
        a.record_ids.extend(c.records.iter().cloned());
        a.record_ids.sort();
        a.record_ids.dedup();
    }
    a
}

/// Whether the tokens an alert covers trace to sign-ins.
fn token_trace(g: &Gather, plan: &Plan, tenant: u32) -> Json {
    let scan = &plan.scan;
    let (mut traced, mut never, mut unjudged) = (0u64, 0u64, 0u64);
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    for t in &g.tokens {
        let sym = scan.syms.find(t);
        if sym.is_some_and(|t| scan.is_issued(t)) {
            traced += 1;
            continue;
        }
        let verdict = sym.and_then(|t| plan.verdicts.get(&Key::Token(tenant, t)));
        match verdict {
            Some(Ok(())) => never += 1,
            Some(Err(why)) => {
                unjudged += 1;
                *reasons.entry(why.code()).or_default() += 1;
            }
            None => {
                unjudged += 1;
                *reasons.entry("not-judged").or_default() += 1;
            }
        }
    }
    let check = if g.tokens.is_empty() {
        "no token ids logged: unknown, not forged".to_string()
    } else if reasons.contains_key(Unjudged::NoSignIns.code()) {
        "not run for some tokens: no sign-in logs cover this tenant (coverage missing)".to_string()
    } else if reasons.contains_key(Unjudged::SignInsWithoutTokenIds.code()) {
        "not run for some tokens: the sign-ins log no token ids".to_string()
    } else {
        "run".to_string()
    };
    json!({
        "traced_to_sign_in": traced,
        "never_issued": never,
        "unjudged_no_coverage": unjudged,
        "unjudged_reasons": reasons,
        "check": check,
    })
}

/// Two decimals, so that scores print the same everywhere.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A key as text parts, for stable ids.
fn key_text(scan: &Scan, k: &Key) -> Vec<String> {
    let t = |s: u32| scan.text(s).to_string();
    match *k {
        Key::SignIn(a) => vec!["signin".into(), t(a)],
        Key::SignInHour(a, c, h) => vec!["signin-hour".into(), t(a), c.to_string(), h.to_string()],
        Key::SignInResource(a, b) => vec!["signin-resource".into(), t(a), t(b)],
        Key::SignInSession(a, b, c, d) => vec!["signin-session".into(), t(a), t(b), t(c), t(d)],
        Key::Token(a, b) => vec!["token".into(), t(a), t(b)],
        Key::Pair(a, b, c) => vec!["pair".into(), t(a), t(b), t(c)],
        Key::MailboxPair(a, b, c, d) => vec!["mailbox-pair".into(), t(a), t(b), t(c), t(d)],
        Key::UserApp(a, b) => vec!["user-app".into(), t(a), t(b)],
        Key::AppDay(a, b, d) => vec!["app-day".into(), t(a), t(b), d.to_string()],
        Key::Reader(a, b) => vec!["reader".into(), t(a), t(b)],
        Key::UserIp(a, b) => vec!["user-ip".into(), t(a), t(b)],
        Key::Flag(f, a, b, c) => vec![format!("{f:?}"), t(a), t(b), t(c)],
        Key::ClaimToken(a, b, c, d) => vec!["claim-token".into(), t(a), t(b), t(c), t(d)],
    }
}
