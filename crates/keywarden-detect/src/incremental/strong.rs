//! The strong rules on one record (`ioc-ip`, `known-bad-key`, `consumer-tenant-token`, and the
//! pending side of `token-never-issued`) and the judgement of pending tokens once the sign-in
//! logs cover their possible issuance (see the module story of [`super`]).

use std::collections::BTreeMap;

use super::record::Record;
use crate::rules::finding::{Finding, SESSION_LINK_NOTE, WITHDRAWN_TITLE};
use crate::rules::strong::issuance_window_at;
use crate::{Rule, TokenKind, TokenWindow};
use keywarden_model::{Alert, Severity, Timestamp};
use serde_json::json;

use super::signins::session_key;
use super::{
    Engine, NO_TENANT, Pending, Revision, RevisionAction, Span, TRUNCATED_AT, alert_id, attack,
    claim_key, fill, links, non_empty,
};

/// How many stream idle times a token ready to be judged may wait for sign-ins of its
/// possible issuance that keep arriving (bounded by the pending TTL).
const LATE_WAIT_IDLE_TIMES: i64 = 4;

impl Engine {
    pub(super) fn fold(
        &mut self,
        row: &Record<'_>,
        obs: &super::record::Observed,
        now: Timestamp,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let settings = self.settings.clone();
        let cfg = &settings.config;
        let tenant = row.tenant.unwrap_or(NO_TENANT).to_string();
        let time = row.time;
        if let Some(t) = time {
            self.state.signins.note_time(t);
        }
        if row.role == "sign-in" {
            self.state
                .signins
                .add_users(&obs.sign_in_users, time.unwrap_or(now.0));
            if let Some(session) = self.state.signins.add(row, now.0) {
                self.session_signed_in(&session, row, changed);
            }
            if let Some(t) = time {
                let stream = format!("{}/{}", row.format, row.category.unwrap_or_default());
                let c = self
                    .state
                    .coverage
                    .entry(tenant.clone())
                    .or_default()
                    .entry(stream)
                    .or_insert(Span {
                        first: t,
                        last: t,
                        seen: now.0,
                    });
                c.first = c.first.min(t);
                c.last = c.last.max(t);
                c.seen = now.0;
            }
            if let Some(tok) = &row.token_id {
                let at = time.unwrap_or(now.0);
                let e = self.state.issued.entry(tok.to_string()).or_insert(at);
                *e = (*e).max(at);
                // A late sign-in clears a pending token: the lag tolerance at work.
                self.state.pending.remove(*tok);
                self.token_issued(&tenant, tok, row, changed);
            }
        }
        let margin = cfg.rules.ioc_ip.margin_days;
        if let (Some(ip), Some(t)) = (row.client_ip, time)
            && cfg.rules.ioc_ip.enabled
            && self
                .settings
                .intel
                .ip_at(ip, Timestamp(t), margin)
                .is_some()
        {
            let finding = Finding::IocIp {
                ip,
                at: Some(Timestamp(t)),
            };
            self.raise(&finding, &[&tenant, ip], row, changed);
        }
        if let Some(k) = row.signing_key_id
            && self.settings.config.rules.known_bad_key.enabled
            && self.settings.intel.key(k).is_some()
        {
            self.raise(&Finding::BadKey { key_id: k }, &[&tenant, k], row, changed);
        }
        let access = row.role == "mail-access" || row.role == "activity";
        if !access {
            return;
        }
        let cfg = &self.settings.config;
        let mut claimed = None;
        if let Some(tt) = row.token_tenant
            && cfg.rules.consumer_tenant_token.flags(tt, row.tenant)
        {
            let client = row.client_app_id.unwrap_or_default();
            let finding = Finding::ConsumerTenant {
                token_tenant: tt,
                resource_tenant: &tenant,
                client,
            };
            let id = self.raise(&finding, &[&tenant, tt, client], row, changed);
            if let Some(tok) = row.token_id {
                self.claim(&tenant, tok, &id, time.unwrap_or(now.0), changed);
            }
            claimed = Some(id);
        }
        let rule = &self.settings.config.rules.token_never_issued;
        let system = rule.exempts_logon_type(row.logon_type);
        let exempt = rule.exempts_client(row.client_app_id);
        if !rule.enabled || system || exempt {
            return;
        }
        let Some(tok) = row.token_id else {
            return;
        };
        // The token's claims raised `consumer-tenant-token`: its other records join that alert
        // (`hunt` links the same records: the token's key, under the same conditions).
        if !self.state.claim_alerts.is_empty()
            && let Some(c) = self.state.claim_alerts.get_mut(&claim_key(&tenant, tok))
        {
            c.last = c.last.max(time.unwrap_or(now.0));
            for id in c.alerts.clone() {
                if claimed.as_ref() != Some(&id) {
                    self.extend(&id, row, changed);
                }
            }
        }
        if let Some(u) = row.user
            && TokenKind::of(Some(u), row.client_app_id) == TokenKind::Delegated
        {
            self.state.signins.add_token_user(u, time.unwrap_or(now.0));
        }
        if self.state.issued.contains_key(tok) {
            return;
        }
        let id = alert_id(Rule::TokenNeverIssued, &[&tenant, tok]);
        if self.state.alerts.contains_key(&id) {
            // Already judged forged: this record extends the alert.
            self.extend(&id, row, changed);
            return;
        }
        let t = time.unwrap_or(now.0);
        let limit = self.limits.max_records_per_alert;
        let p = self
            .state
            .pending
            .entry(tok.to_string())
            .or_insert_with(|| Pending {
                tenant: tenant.clone(),
                first: t,
                last: t,
                since: now.0,
                user: row.user.map(str::to_string),
                ip: row.client_ip.map(str::to_string),
                app_id: row.app_id.map(str::to_string),
                client_app_id: row.client_app_id.map(str::to_string),
                session_id: row.session_id.map(str::to_string),
                mailbox: row.mailbox.map(str::to_string),
                records: Vec::new(),
                links: serde_json::Value::Null,
                issued_at: None,
                why: None,
                ready_since: None,
            });
        // An earlier use or `IssuedAtTime` moves its possible issuance: its wait starts over.
        let issued_at = row
            .token_issued_at
            .map(|iat| p.issued_at.map_or(iat, |x| x.min(iat)));
        if t < p.first || (issued_at.is_some() && issued_at != p.issued_at) {
            p.ready_since = None;
        }
        p.first = p.first.min(t);
        p.last = p.last.max(t);
        if issued_at.is_some() {
            p.issued_at = issued_at;
        }
        // A record sent again in a later batch is listed once.
        if p.records.len() < limit && !p.records.iter().any(|r| r == row.record_ref) {
            p.records.push(row.record_ref.to_string());
        }
        links::add_row(&mut p.links, row);
    }

    /// Judges pending tokens with `hunt`'s coverage model over the sign-ins seen so far, once
    /// every sign-in stream still delivering has reached past the token's possible issuance
    /// (a sign-in of a slower stream may still issue it) and no sign-in of that period has
    /// arrived for a stream idle time (one in a file read out of order may).
    pub(super) fn judge_pending(&mut self, now: Timestamp, changed: &mut BTreeMap<String, ()>) {
        if self.state.pending.is_empty() {
            return;
        }
        let settings = self.settings.clone();
        self.state.signins.model(&settings);
        let state = &mut self.state;
        let Some(model) = state.signins.cached_model() else {
            return;
        };
        let ttl = self.limits.pending_ttl_seconds.saturating_mul(1_000_000);
        let idle = self.limits.stream_idle_seconds.saturating_mul(1_000_000);
        let late_wait = idle.saturating_mul(LATE_WAIT_IDLE_TIMES).min(ttl);
        let quiet = settings
            .config
            .coverage
            .max_quiet_hours
            .saturating_mul(3_600_000_000);
        let mut forged = Vec::new();
        let mut expired = Vec::new();
        for (tok, p) in state.pending.iter_mut() {
            let (start, end, from) =
                issuance_window_at(Timestamp(p.first), p.issued_at.map(Timestamp), &settings);
            let w = TokenWindow {
                tenant: &p.tenant,
                kind: TokenKind::of(p.user.as_deref(), p.client_app_id.as_deref()),
                user: p.user.as_deref(),
                resource: p.app_id.as_deref(),
                issued: (start, end),
            };
            let verdict = model.judge(&w);
            let streams_past = [state.coverage.get(&p.tenant), state.coverage.get(NO_TENANT)]
                .into_iter()
                .flatten()
                .flat_map(|m| m.values())
                .filter(|s| now.0.saturating_sub(s.seen) <= idle)
                .all(|s| s.last >= end.0);
            match verdict {
                Ok(()) if streams_past => {
                    // Sign-ins of its possible issuance, or of the hours before it that the
                    // coverage judgement leans on, arrived within the idle time: more may
                    // follow (a file of that period read after a later one), among them the
                    // issuing one. The wait is bounded: sign-ins sent again and again (a
                    // collector re-listing pages, a hostile client) do not hold a verdict back
                    // for longer than `late_wait`; a sign-in arriving after it still withdraws.
                    let ready = *p.ready_since.get_or_insert(now.0);
                    let last =
                        state
                            .signins
                            .last_arrival(&p.tenant, start.0.saturating_sub(quiet), end.0);
                    let settled = last.is_none_or(|a| now.0.saturating_sub(a) > idle);
                    if settled || now.0.saturating_sub(ready) > late_wait {
                        forged.push((tok.clone(), (start, end, from)));
                    } else {
                        p.why = Some("waiting-for-late-signins".into());
                    }
                }
                // Not judgeable now: a later wait starts over (a stream fell behind again).
                Ok(()) => {
                    p.ready_since = None;
                    p.why = Some("waiting-for-signin-streams".into());
                }
                Err(why) => {
                    p.ready_since = None;
                    p.why = Some(why.code().into());
                }
            }
            if now.0.saturating_sub(p.since) > ttl && !(verdict.is_ok() && streams_past) {
                expired.push(tok.clone());
            }
        }
        for tok in expired {
            if let Some(p) = self.state.pending.remove(&tok) {
                self.state.expired_pending += 1;
                *self
                    .state
                    .expired_unjudged
                    .entry(p.why.unwrap_or_else(|| "unknown".into()))
                    .or_default() += 1;
            }
        }
        forged.sort_by(|a, b| a.0.cmp(&b.0));
        for (tok, window) in forged {
            let Some(p) = self.state.pending.remove(&tok) else {
                continue;
            };
            let kind = TokenKind::of(p.user.as_deref(), p.client_app_id.as_deref());
            let session = match (&p.session_id, &p.ip, &p.client_app_id) {
                (Some(se), Some(ip), Some(c)) => Some(session_key(&p.tenant, se, ip, c)),
                _ => None,
            };
            let linked = session
                .as_deref()
                .is_some_and(|k| self.state.signins.session_linked(k));
            let finding = Finding::NeverIssued {
                token: &tok,
                kind,
                window: Some(window),
                session_linked: linked,
            };
            let mut ev = finding.evidence(&settings, None);
            ev.insert("judged".into(), json!("live"));
            let rule = finding.rule();
            let mut a = Alert::new(rule.id(), finding.title(), finding.severity());
            a.id = alert_id(rule, &[&p.tenant, &tok]);
            a.score = finding.score();
            a.attack = attack(rule);
            a.time_first = Some(Timestamp(p.first));
            a.time_last = Some(Timestamp(p.last));
            a.tenant = non_empty(&p.tenant);
            a.user = p.user;
            a.mailbox = p.mailbox;
            a.client_ip = p.ip;
            a.app_id = p.app_id;
            a.client_app_id = p.client_app_id;
            a.session_id = p.session_id;
            a.token_id = Some(tok.clone());
            a.record_ids = p.records;
            a.evidence = serde_json::Value::Object(ev);
            links::carry(&p.links, &mut a.evidence);
            if let Some(k) = session.filter(|_| !linked) {
                self.state
                    .session_alerts
                    .entry(k)
                    .or_default()
                    .push(a.id.clone());
            }
            self.state.token_alerts.insert(tok.clone(), a.id.clone());
            changed.insert(a.id.clone(), ());
            self.state.alerts.insert(a.id.clone(), a);
        }
    }

    /// A sign-in issued `tok`: a live `token-never-issued` alert on it is withdrawn (found by
    /// token, whatever tenant form the sign-in names).
    fn token_issued(
        &mut self,
        tenant: &str,
        tok: &str,
        row: &Record<'_>,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let id = self
            .state
            .token_alerts
            .get(tok)
            .cloned()
            .unwrap_or_else(|| alert_id(Rule::TokenNeverIssued, &[tenant, tok]));
        let Some(a) = self.state.alerts.get_mut(&id) else {
            return;
        };
        if a.rule_id != Rule::TokenNeverIssued.id() || a.evidence.get("withdrawn").is_some() {
            return;
        }
        let note = format!(
            "withdrawn: sign-in {} issued token {tok}; it arrived after the verdict",
            row.record_ref
        );
        let from = a.severity;
        a.severity = Severity::Info;
        a.title = WITHDRAWN_TITLE.to_string();
        if let Some(obj) = a.evidence.as_object_mut() {
            obj.insert(
                "withdrawn".into(),
                json!({ "sign_in": row.record_ref, "reason": "a sign-in issuing the token arrived after the verdict" }),
            );
            obj.insert(
                "revision".into(),
                json!({ "action": "withdrawn", "from": from.as_str() }),
            );
        }
        changed.insert(id.clone(), ());
        self.state.revisions.push(Revision {
            alert_id: id,
            action: RevisionAction::Withdrawn,
            note,
        });
    }

    /// An interactive sign-in of `session` (tenant, session, IP, client app) arrived: live
    /// `token-never-issued` alerts of that session are downgraded to medium, as `hunt` weighs
    /// a session link.
    fn session_signed_in(
        &mut self,
        session: &str,
        row: &Record<'_>,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let Some(ids) = self.state.session_alerts.remove(session) else {
            return;
        };
        for id in ids {
            let Some(a) = self.state.alerts.get_mut(&id) else {
                continue;
            };
            if a.severity != Severity::High || a.evidence.get("withdrawn").is_some() {
                continue;
            }
            a.severity = Severity::Medium;
            if let Some(obj) = a.evidence.as_object_mut() {
                obj.insert("session_link".into(), json!(SESSION_LINK_NOTE));
                obj.insert(
                    "revision".into(),
                    json!({ "action": "downgraded", "from": Severity::High.as_str() }),
                );
            }
            changed.insert(id.clone(), ());
            self.state.revisions.push(Revision {
                alert_id: id,
                action: RevisionAction::Downgraded,
                note: format!(
                    "downgraded to medium: interactive sign-in {} of the token's session, IP and client app arrived after the verdict",
                    row.record_ref
                ),
            });
        }
    }

    /// Remembers that the claims of token `tok` in `tenant` raised the alert `id`, and adds
    /// the token's records that came before (pending, or in its `token-never-issued` alert):
    /// batches arrive in any order, and `hunt` holds them all in the alert.
    fn claim(
        &mut self,
        tenant: &str,
        tok: &str,
        id: &str,
        at: i64,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let c = self
            .state
            .claim_alerts
            .entry(claim_key(tenant, tok))
            .or_default();
        c.last = c.last.max(at);
        if c.alerts.iter().any(|x| x == id) {
            return;
        }
        c.alerts.push(id.to_string());
        let pending = self
            .state
            .pending
            .get(tok)
            .filter(|p| p.tenant == tenant)
            .map(|p| (p.records.clone(), Some((p.first, p.last)), p.links.clone()));
        let judged = self
            .state
            .token_alerts
            .get(tok)
            .and_then(|a| self.state.alerts.get(a))
            .filter(|a| a.tenant.as_deref().unwrap_or(NO_TENANT) == tenant)
            .map(|a| {
                let span = a.time_first.zip(a.time_last).map(|(f, l)| (f.0, l.0));
                (a.record_ids.clone(), span, a.evidence.clone())
            });
        let limit = self.limits.max_records_per_alert;
        let Some(a) = self.state.alerts.get_mut(id) else {
            return;
        };
        for (records, span, links) in pending.into_iter().chain(judged) {
            for r in records {
                if a.record_ids.contains(&r) {
                    continue;
                }
                if a.record_ids.len() < limit {
                    a.record_ids.push(r);
                } else if let Some(obj) = a.evidence.as_object_mut() {
                    obj.insert(TRUNCATED_AT.into(), json!(limit));
                }
            }
            if let Some((first, last)) = span {
                a.time_first = Some(
                    a.time_first
                        .map_or(Timestamp(first), |f| f.min(Timestamp(first))),
                );
                a.time_last = Some(
                    a.time_last
                        .map_or(Timestamp(last), |l| l.max(Timestamp(last))),
                );
            }
            links::carry(&links, &mut a.evidence);
            changed.insert(id.to_string(), ());
        }
    }

    /// Raises the alert of a finding on one record, keyed by `key`, or extends it with this
    /// record; returns its id.
    fn raise(
        &mut self,
        finding: &Finding<'_>,
        key: &[&str],
        row: &Record<'_>,
        changed: &mut BTreeMap<String, ()>,
    ) -> String {
        let rule = finding.rule();
        let id = alert_id(rule, key);
        if !self.state.alerts.contains_key(&id) {
            let mut a = Alert::new(rule.id(), finding.title(), finding.severity());
            a.id = id.clone();
            a.score = finding.score();
            a.attack = attack(rule);
            fill(&mut a, row);
            a.evidence = serde_json::Value::Object(finding.evidence(&self.settings, None));
            self.state.alerts.insert(id.clone(), a);
        }
        self.extend(&id, row, changed);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::super::{LiveLimits, LiveState};
    use super::*;
    use crate::DetectConfig;
    use std::sync::Arc;

    const CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    #[test]
    fn claimed_tokens_are_bounded_by_the_alert_cap_and_counted() {
        let settings = Arc::new(DetectConfig::default().build().unwrap());
        let limits = LiveLimits {
            max_alerts: 3,
            ..LiveLimits::default()
        };
        let mut e = Engine::new(settings, limits, LiveState::default());
        let tokens: Vec<String> = (0..10).map(|i| format!("tok-{i}")).collect();
        let refs: Vec<String> = (0..10).map(|i| format!("rec-{i}")).collect();
        let rows: Vec<(i64, Record<'_>)> = (0..10)
            .map(|i| {
                let r = Record {
                    role: "mail-access",
                    record_ref: &refs[i],
                    tenant: Some("t1"),
                    token_id: Some(&tokens[i]),
                    token_tenant: Some(CONSUMER),
                    client_app_id: Some("c1"),
                    time: Some(1_700_000_000_000_000 + i as i64 * 60_000_000),
                    ..Record::default()
                };
                (i as i64 + 1, r)
            })
            .collect();
        let alerts = e.process(&rows, Vec::new(), Timestamp(1_700_000_000_000_000));
        assert_eq!(
            alerts.len(),
            1,
            "one alert per tenant, token tenant and client"
        );
        assert_eq!(alerts[0].record_ids.len(), 10);
        assert!(
            e.state.claim_alerts.len() <= 3,
            "{}",
            e.state.claim_alerts.len()
        );
        assert_eq!(e.state.evicted_claims, 7);
        // The most recently used tokens are kept: a later record of one still joins.
        let late = Record {
            role: "activity",
            record_ref: "graph-9",
            tenant: Some("t1"),
            token_id: Some("tok-9"),
            time: Some(1_700_000_000_000_000 + 20 * 60_000_000),
            ..Record::default()
        };
        let a = e.process(&[(11, late)], Vec::new(), Timestamp(1_700_000_000_000_000));
        assert_eq!(a.len(), 1);
        assert!(a[0].record_ids.iter().any(|r| r == "graph-9"));
    }
}
