//! The strong rules on one record (`ioc-ip`, `known-bad-key`, `consumer-tenant-token`, and the
//! pending side of `token-never-issued`) and the judgement of pending tokens once the sign-in
//! logs cover their possible issuance (see the module story of [`super`]).

use std::collections::BTreeMap;

use keywarden_detect::Rule;
use keywarden_model::{Alert, Severity, Timestamp};
use keywarden_store::EventRow;
use serde_json::json;

use super::{LiveDetector, NO_TENANT, Pending, Span, alert_id, attack, fill, links, non_empty};

impl LiveDetector {
    pub(super) fn fold(
        &mut self,
        row: &EventRow,
        now: Timestamp,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let cfg = &self.settings.config;
        let tenant = row.tenant.as_deref().unwrap_or(NO_TENANT).to_string();
        let time = row.time;
        if row.role == "sign-in" {
            if let Some(t) = time {
                let stream = format!(
                    "{}/{}",
                    row.format,
                    row.category.as_deref().unwrap_or_default()
                );
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
                let e = self.state.issued.entry(tok.clone()).or_insert(at);
                *e = (*e).max(at);
                // A late sign-in clears a pending token: the lag tolerance at work.
                self.state.pending.remove(tok);
            }
        }
        let margin = cfg.rules.ioc_ip.margin_days;
        let ioc = match (row.client_ip.as_deref(), time) {
            (Some(ip), Some(t)) if cfg.rules.ioc_ip.enabled => self
                .settings
                .intel
                .ip_at(ip, Timestamp(t), margin)
                .map(|ind| {
                    (
                        ip,
                        json!({ "ip": ip, "indicator": ind, "margin_days": margin }),
                    )
                }),
            _ => None,
        };
        if let Some((ip, ev)) = ioc {
            self.raise(
                Rule::IocIp,
                "Activity from a threat-actor IP inside its active window",
                &[&tenant, ip],
                row,
                ev,
                changed,
            );
        }
        let bad_key = match row.signing_key_id.as_deref() {
            Some(k) if self.settings.config.rules.known_bad_key.enabled => self
                .settings
                .intel
                .key(k)
                .map(|ind| (k, json!({ "key": ind, "key_id": k }))),
            _ => None,
        };
        if let Some((k, ev)) = bad_key {
            self.raise(
                Rule::KnownBadKey,
                "Token signed with a known-bad key",
                &[&tenant, k],
                row,
                ev,
                changed,
            );
        }
        let access = row.role == "mail-access" || row.role == "activity";
        if !access {
            return;
        }
        let cfg = &self.settings.config;
        if let Some(tt) = row.token_tenant.as_deref()
            && cfg
                .rules
                .consumer_tenant_token
                .flags(tt, row.tenant.as_deref())
        {
            let why = cfg.rules.consumer_tenant_token.why(tt);
            let client = row.client_app_id.clone().unwrap_or_default();
            let ev = json!({
                "token_tenant": tt,
                "resource_tenant": tenant,
                "client_app_id": client,
                "why": why,
            });
            self.raise(
                Rule::ConsumerTenantToken,
                "Enterprise resource accessed with a consumer or foreign-tenant token",
                &[&tenant, tt, &client],
                row,
                ev,
                changed,
            );
        }
        let rule = &self.settings.config.rules.token_never_issued;
        let system = rule.exempts_logon_type(row.logon_type);
        let exempt = rule.exempts_client(row.client_app_id.as_deref());
        if !rule.enabled || system || exempt {
            return;
        }
        let Some(tok) = row.token_id.as_deref() else {
            return;
        };
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
                user: row.user.clone(),
                ip: row.client_ip.clone(),
                app_id: row.app_id.clone(),
                client_app_id: row.client_app_id.clone(),
                session_id: row.session_id.clone(),
                mailbox: row.mailbox.clone(),
                records: Vec::new(),
                links: serde_json::Value::Null,
            });
        p.first = p.first.min(t);
        p.last = p.last.max(t);
        if p.records.len() < limit {
            p.records.push(row.record_ref.clone());
        }
        links::add_row(&mut p.links, row);
    }

    /// Judges pending tokens whose possible issuance the sign-in logs now cover.
    pub(super) fn judge_pending(&mut self, now: Timestamp, changed: &mut BTreeMap<String, ()>) {
        let tol = &self.settings.config.tolerance;
        let before = (tol.max_token_lifetime_minutes + tol.clock_skew_minutes) * 60_000_000;
        let after = (tol.ingestion_lag_minutes + tol.clock_skew_minutes) * 60_000_000;
        let ttl = self.limits.pending_ttl_seconds.saturating_mul(1_000_000);
        let idle = self.limits.stream_idle_seconds.saturating_mul(1_000_000);
        let mut forged = Vec::new();
        let mut expired = Vec::new();
        for (tok, p) in &self.state.pending {
            // Covered: some stream reaches back before the token's possible issuance, and every
            // stream still delivering has reached past its lag tolerance (a sign-in of a slower
            // stream may still issue it).
            let spans: Vec<&Span> = [
                self.state.coverage.get(&p.tenant),
                self.state.coverage.get(NO_TENANT),
            ]
            .into_iter()
            .flatten()
            .flat_map(|m| m.values())
            .collect();
            let start = p.first.saturating_sub(before);
            let end = p.first.saturating_add(after);
            let covered = spans.iter().any(|s| s.first <= start)
                && spans.iter().any(|s| s.last >= end)
                && spans
                    .iter()
                    .filter(|s| now.0.saturating_sub(s.seen) <= idle)
                    .all(|s| s.last >= end);
            if covered {
                forged.push(tok.clone());
            } else if now.0.saturating_sub(p.since) > ttl {
                expired.push(tok.clone());
            }
        }
        for tok in expired {
            self.state.pending.remove(&tok);
            self.state.expired_pending += 1;
        }
        forged.sort();
        for tok in forged {
            let Some(p) = self.state.pending.remove(&tok) else {
                continue;
            };
            let mut a = Alert::new(
                Rule::TokenNeverIssued.id(),
                "Access with a token no sign-in issued",
                Severity::High,
            );
            a.id = alert_id(Rule::TokenNeverIssued, &[&p.tenant, &tok]);
            a.score = 0.8;
            a.attack = attack(Rule::TokenNeverIssued);
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
            a.evidence = json!({
                "token_id": tok,
                "sign_in_match": "none",
                "sign_in_coverage": "the tenant's sign-in logs span the token's possible issuance",
                "tolerance_minutes": {
                    "clock_skew": tol.clock_skew_minutes,
                    "ingestion_lag": tol.ingestion_lag_minutes,
                    "max_token_lifetime": tol.max_token_lifetime_minutes,
                },
                "judged": "live",
            });
            links::carry(&p.links, &mut a.evidence);
            changed.insert(a.id.clone(), ());
            self.state.alerts.insert(a.id.clone(), a);
        }
    }

    /// Raises the alert for (rule, key) or extends it with this record.
    fn raise(
        &mut self,
        rule: Rule,
        title: &str,
        key: &[&str],
        row: &EventRow,
        evidence: serde_json::Value,
        changed: &mut BTreeMap<String, ()>,
    ) {
        let id = alert_id(rule, key);
        if !self.state.alerts.contains_key(&id) {
            let mut a = Alert::new(rule.id(), title, Severity::High);
            a.id = id.clone();
            a.score = 0.8;
            a.attack = attack(rule);
            fill(&mut a, row);
            a.evidence = evidence;
            self.state.alerts.insert(id.clone(), a);
        }
        self.extend(&id, row, changed);
    }
}
