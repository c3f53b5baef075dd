//! The staged intrusion (`--attack storm-0558`): mail read with tokens no sign-in ever issued.
//!
//! Modelled on Microsoft's and CISA's 2023 write-ups: tokens forged with a consumer (MSA)
//! signing key, so `TokenTenantId` is the consumer tenant and no `uniqueTokenIdentifier` in the
//! sign-in logs matches; access in the actor's hours (weekdays, 00:00–09:00 UTC) from a
//! published IOC address inside its first/last-seen window or from a fresh rented address;
//! REST access claiming first-party clients (Outlook on the web, Microsoft Office); `Bind` of
//! exact messages, `Sync` of whole folders, Graph message listing, reading a second victim's
//! mailbox with one victim's token, and throttling (`IsThrottled` True), after which nothing
//! more is logged for that mailbox.

use keywarden_model::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::activity::{Activity, Actor, GraphRequest, MailAccess, MailAccessKind, Token};
use crate::benign::pick_distinct;
use crate::tenant::{self, CONSUMER_TENANT, EXCHANGE_APP, GRAPH_APP, Tenant};
use crate::timefmt;

/// The Storm-0558 IOC list, as published (a copy of `shared/intel/storm-0558-iocs.csv`).
pub const IOC_CSV: &str = include_str!("../data/storm-0558-iocs.csv");

/// A published IP indicator with its first/last-seen dates (inclusive, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IocIp {
    pub ip: String,
    pub first: Timestamp,
    /// Midnight of the last-seen day.
    pub last: Timestamp,
}

/// The IP rows of [`IOC_CSV`] (`type,value,role,first_seen,last_seen,source`).
pub fn ioc_ips() -> Vec<IocIp> {
    IOC_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split(',');
            let kind = cols.next()?;
            let ip = cols.next()?;
            let _role = cols.next()?;
            let first = timefmt::parse_date(cols.next()?)?;
            let last = timefmt::parse_date(cols.next()?)?;
            (kind == "ipv4").then(|| IocIp {
                ip: ip.to_string(),
                first,
                last,
            })
        })
        .collect()
}

/// Client indexes in [`tenant::ClientApp::catalogue`] the forged tokens claim.
const OFFICE: usize = 0;
const OWA: usize = 1;
const REST: &str = "Client=REST;Client=RESTSystem;;";

/// Stages the intrusion over days `[first_day, days)` of a period starting at `start`.
/// Every returned activity is the attacker's.
pub fn stage(rng: &mut ChaCha8Rng, tenant: &Tenant, start: Timestamp, days: u32) -> Vec<Activity> {
    let iocs = ioc_ips();
    let first_day = (days * 2 / 3).max(7).min(days.saturating_sub(1));
    let attack_days = actor_days(start, first_day, days);
    let victim_count = rng.random_range(2..=4usize);
    let victims = pick_distinct(rng, tenant.users.len(), victim_count);
    let mut out = Vec::new();
    for (n, &victim) in victims.iter().enumerate() {
        let sessions = rng.random_range(1..=2);
        for _ in 0..sessions {
            let day = attack_days
                .get(rng.random_range(0..attack_days.len().max(1)))
                .copied()
                .unwrap_or(first_day);
            let at = start
                .plus_seconds(i64::from(day) * 86_400)
                .plus_seconds(rng.random_range(0..27_000));
            let mut s = Session::open(rng, tenant, victim, at, &iocs);
            s.read_own_mailbox(&mut out);
            // One victim's token also reads the next victim's mailbox (delegate logon).
            if n == 0
                && let Some(&other) = victims.get(1)
                && s.rng.random_bool(0.5)
            {
                s.read_other_mailbox(other, &mut out);
            }
        }
    }
    throttle_last_reads(rng, &mut out);
    out
}

/// Weekdays in `[first, days)`, or all of them when there is none.
fn actor_days(start: Timestamp, first: u32, days: u32) -> Vec<u32> {
    let all: Vec<u32> = (first..days).collect();
    let weekdays: Vec<u32> = all
        .iter()
        .copied()
        .filter(|d| start.plus_seconds(i64::from(*d) * 86_400).iso_weekday() <= 5)
        .collect();
    if weekdays.is_empty() { all } else { weekdays }
}

/// For some mailboxes (each with probability 0.4) the chronologically last attacker read is
/// throttled: auditing stops for that mailbox, so nothing later is logged for it.
fn throttle_last_reads(rng: &mut ChaCha8Rng, out: &mut [Activity]) {
    let mut mailboxes: Vec<usize> = out
        .iter()
        .filter_map(|a| match a {
            Activity::Mail(m) => Some(m.mailbox),
            _ => None,
        })
        .collect();
    mailboxes.sort_unstable();
    mailboxes.dedup();
    for mailbox in mailboxes {
        if !rng.random_bool(0.4) {
            continue;
        }
        let last = out
            .iter_mut()
            .filter_map(|a| match a {
                Activity::Mail(m) if m.mailbox == mailbox => Some(m),
                _ => None,
            })
            .max_by_key(|m| (m.time, m.id.clone()));
        if let Some(m) = last {
            m.throttled = true;
        }
    }
}

/// One forged token in use: an hour or less of reading.
struct Session<'a> {
    rng: &'a mut ChaCha8Rng,
    tenant: &'a Tenant,
    victim: usize,
    token: Token,
    ip: String,
    client: usize,
    at: Timestamp,
}

impl<'a> Session<'a> {
    fn open(
        rng: &'a mut ChaCha8Rng,
        tenant: &'a Tenant,
        victim: usize,
        at: Timestamp,
        iocs: &[IocIp],
    ) -> Session<'a> {
        let day = at.day_start();
        let live: Vec<&IocIp> = iocs
            .iter()
            .filter(|i| i.first <= day && day <= i.last)
            .collect();
        let ip = if !live.is_empty() && rng.random_bool(0.6) {
            live.get(rng.random_range(0..live.len()))
                .map(|i| i.ip.clone())
                .unwrap_or_else(|| tenant::fresh_attacker_ip(rng))
        } else {
            tenant::fresh_attacker_ip(rng)
        };
        let token = Token {
            id: tenant::token_id(rng),
            issued_at: at.plus_seconds(-rng.random_range(5..600)),
            tenant: CONSUMER_TENANT.to_string(),
            session: tenant::guid(rng),
        };
        let client = if rng.random_bool(0.7) { OWA } else { OFFICE };
        Session {
            rng,
            tenant,
            victim,
            token,
            ip,
            client,
            at,
        }
    }

    fn tick(&mut self) -> Timestamp {
        self.at = self.at.plus_seconds(self.rng.random_range(20..400));
        self.at
    }

    fn read_own_mailbox(&mut self, out: &mut Vec<Activity>) {
        let binds = self.rng.random_range(2..=5);
        for _ in 0..binds {
            let access = MailAccessKind::Bind(self.items(self.victim));
            self.mail(self.victim, 0, EXCHANGE_APP, access, out);
        }
        if self.rng.random_bool(0.5) {
            let n = self.rng.random_range(1..=2);
            let folders = pick_distinct(self.rng, self.folder_count(self.victim), n);
            self.mail(
                self.victim,
                0,
                EXCHANGE_APP,
                MailAccessKind::Sync(folders),
                out,
            );
        }
        if self.rng.random_bool(0.4) {
            self.graph_listing(out);
        }
    }

    fn read_other_mailbox(&mut self, mailbox: usize, out: &mut Vec<Activity>) {
        let access = MailAccessKind::Bind(self.items(mailbox));
        self.mail(mailbox, 2, EXCHANGE_APP, access, out);
    }

    /// `GET /users/{upn}/messages` through Graph, and the Bind it causes.
    fn graph_listing(&mut self, out: &mut Vec<Activity>) {
        let at = self.tick();
        let upn = self
            .tenant
            .users
            .get(self.victim)
            .map(|u| u.upn.as_str())
            .unwrap_or_default();
        out.push(Activity::Graph(GraphRequest {
            id: tenant::guid(self.rng),
            time: at,
            user: self.victim,
            client: OFFICE,
            ip: self.ip.clone(),
            uri: format!("https://graph.microsoft.com/v1.0/users/{upn}/messages?$top=100"),
            status: 200,
            token: self.token.clone(),
            service_principal: None,
        }));
        let access = MailAccessKind::Bind(self.items(self.victim));
        let saved = self.client;
        self.client = OFFICE;
        self.mail(self.victim, 0, GRAPH_APP, access, out);
        self.client = saved;
    }

    fn mail(
        &mut self,
        mailbox: usize,
        logon_type: i64,
        resource: &'static str,
        access: MailAccessKind,
        out: &mut Vec<Activity>,
    ) {
        let time = self.tick();
        let operation_count = match &access {
            MailAccessKind::Bind(items) => items.iter().map(|(_, m)| m.len() as u32).sum(),
            MailAccessKind::Sync(_) => 1,
        };
        out.push(Activity::Mail(MailAccess {
            id: tenant::guid(self.rng),
            time,
            actor: Actor::User {
                user: self.victim,
                token: Some(self.token.clone()),
            },
            mailbox,
            logon_type,
            client: Some(self.client),
            resource,
            client_ip: self.ip.clone(),
            client_info: Some(REST),
            access,
            throttled: false,
            operation_count: operation_count.max(1),
        }));
    }

    fn folder_count(&self, mailbox: usize) -> usize {
        self.tenant
            .users
            .get(mailbox)
            .map(|u| u.folders.len())
            .unwrap_or(0)
    }

    fn items(&mut self, mailbox: usize) -> Vec<(usize, Vec<String>)> {
        let n = self.rng.random_range(1..=2);
        pick_distinct(self.rng, self.folder_count(mailbox), n)
            .into_iter()
            .map(|f| {
                let k = self.rng.random_range(1..=10);
                (f, (0..k).map(|_| tenant::message_id(self.rng)).collect())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn ioc_copy_matches_the_shared_intel_file() {
        let shared = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/intel/storm-0558-iocs.csv"
        );
        if let Ok(text) = std::fs::read_to_string(shared) {
            assert_eq!(
                text, IOC_CSV,
                "data/storm-0558-iocs.csv drifted from {shared}"
            );
        }
        let ips = ioc_ips();
        assert_eq!(ips.len(), 38);
        assert!(ips.iter().all(|i| i.first <= i.last));
    }

    #[test]
    fn every_attacker_read_uses_a_forged_consumer_token_in_actor_hours() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let tenant = Tenant::generate(&mut rng, 12);
        let start = timefmt::parse_date("2023-06-05").unwrap();
        let acts = stage(&mut rng, &tenant, start, 10);
        assert!(acts.len() >= 2);
        for a in &acts {
            assert!(a.time().hour() < 9, "{:?}", a.time());
            assert!(a.time() >= start.plus_seconds(7 * 86_400));
            if let Activity::Mail(m) = a {
                let Actor::User { token: Some(t), .. } = &m.actor else {
                    panic!("attacker read without token");
                };
                assert_eq!(t.tenant, CONSUMER_TENANT);
                assert_eq!(t.id.len(), 22);
            }
        }
    }
}
