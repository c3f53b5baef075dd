//! The app takeover intrusion (`--attack app-takeover`, and `golden-saml`), with its benign
//! confounders.
//!
//! Modelled on the OTRF "Golden SAML AD FS mail access" recording and Microsoft's Solorigate
//! guidance: an administrator's identity (forged with a stolen AD FS signing key in the
//! `golden-saml` variant, which first trusts a new token-signing certificate on the domain)
//! adds a password credential to an application that never read mail, grants it
//! `Mail.ReadWrite`, and the application reads one to three mailboxes through Microsoft Graph
//! minutes later from a rented address.
//!
//! Confounders, benign and not in the truth: a backup connector that reads mailboxes every
//! night and whose credential the same administrator rotates every 21 days; a reporting app
//! consented to `Mail.Read` on the first day that only starts reading two days later.

use keywarden_model::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::activity::{Activity, Actor, AuditChange, AuditKind, MailAccess, MailAccessKind};
use crate::benign::pick_distinct;
use crate::tenant::{self, ClientApp, GRAPH_APP, Tenant};

/// The applications the scenario adds to the tenant.
#[derive(Debug, Clone, Copy)]
pub struct Apps {
    /// The app the attacker takes over (it never read mail before).
    pub victim: usize,
    /// The backup connector (reads nightly; credential rotated on schedule).
    pub rotated: usize,
    /// The reporting app (consented long before it reads).
    pub consented: usize,
}

/// Adds the scenario's three applications to the tenant.
pub fn register_apps(rng: &mut ChaCha8Rng, tenant: &mut Tenant) -> Apps {
    let mut add = |name: &str, agent: &'static str| {
        tenant.clients.push(ClientApp {
            id: tenant::guid(rng),
            name: name.into(),
            resource: GRAPH_APP,
            client_info: "Client=REST;;",
            user_agent: agent,
            syncs: false,
        });
        tenant.clients.len() - 1
    };
    Apps {
        victim: add("Payroll Sync", "PayrollSync/1.4"),
        rotated: add("Backup Connector", "BackupConnector/7.0"),
        consented: add("Weekly Reporter", "WeeklyReporter/2.1"),
    }
}

/// The staged run: the attacker's activities and the benign confounders.
#[derive(Debug, Clone, Default)]
pub struct Staged {
    pub intrusion: Vec<Activity>,
    pub confounders: Vec<Activity>,
}

/// Stages the scenario over `days` days from `start`.
pub fn stage(
    rng: &mut ChaCha8Rng,
    tenant: &Tenant,
    apps: Apps,
    start: Timestamp,
    days: u32,
    golden_saml: bool,
) -> Staged {
    let mut out = Staged::default();
    let users = tenant.users.len();
    if users == 0 || days == 0 {
        return out;
    }
    let admin = rng.random_range(0..users);
    let object = |rng: &mut ChaCha8Rng| tenant::guid(rng);
    let day = |d: u32| start.plus_seconds(i64::from(d) * 86_400);

    // Backup connector: nightly reads of a few mailboxes, credential rotated every 21 days.
    let backed_up = pick_distinct(rng, users, users.min(3));
    let rotated_object = object(rng);
    for d in 0..days {
        for &m in &backed_up {
            let at = day(d).plus_seconds(2 * 3600 + rng.random_range(0..1800));
            out.confounders
                .push(read(rng, tenant, apps.rotated, m, at, "10.20.0.5".into()));
        }
        if d % 21 == 1 {
            out.confounders.push(Activity::Audit(AuditChange {
                id: tenant::guid(rng),
                time: day(d).plus_seconds(10 * 3600),
                kind: AuditKind::CredentialAdded,
                actor: admin,
                target: Some(apps.rotated),
                object_id: rotated_object.clone(),
            }));
        }
    }
    // Weekly reporter: admin consent on day 0, first reads two days later.
    out.confounders.push(Activity::Audit(AuditChange {
        id: tenant::guid(rng),
        time: day(0).plus_seconds(1800),
        kind: AuditKind::AdminConsent,
        actor: admin,
        target: Some(apps.consented),
        object_id: object(rng),
    }));
    if days > 2 {
        for &m in &pick_distinct(rng, users, users.min(2)) {
            let at = day(2).plus_seconds(6 * 3600 + rng.random_range(0..600));
            out.confounders
                .push(read(rng, tenant, apps.consented, m, at, "10.20.0.9".into()));
        }
    }

    // The takeover, late in the period, in the administrator's name.
    let attack_day = (days * 2 / 3).max(days.min(3)).min(days - 1);
    let t0 = day(attack_day).plus_seconds(9 * 3600 + rng.random_range(0..3 * 3600));
    let victim_object = object(rng);
    if golden_saml {
        out.intrusion.push(Activity::Audit(AuditChange {
            id: tenant::guid(rng),
            time: t0.plus_seconds(-2400),
            kind: AuditKind::Federation,
            actor: admin,
            target: None,
            object_id: object(rng),
        }));
    }
    out.intrusion.push(Activity::Audit(AuditChange {
        id: tenant::guid(rng),
        time: t0,
        kind: AuditKind::CredentialAdded,
        actor: admin,
        target: Some(apps.victim),
        object_id: victim_object.clone(),
    }));
    out.intrusion.push(Activity::Audit(AuditChange {
        id: tenant::guid(rng),
        time: t0.plus_seconds(120),
        kind: AuditKind::MailGrant,
        actor: admin,
        target: Some(apps.victim),
        object_id: tenant::guid(rng),
    }));
    let ip = tenant::fresh_attacker_ip(rng);
    let victims = rng.random_range(1..=3usize).min(users);
    let mut at = t0.plus_seconds(300);
    for m in pick_distinct(rng, users, victims) {
        for _ in 0..rng.random_range(1..=3) {
            at = at.plus_seconds(rng.random_range(30..1200));
            out.intrusion
                .push(read(rng, tenant, apps.victim, m, at, ip.clone()));
        }
    }
    out
}

/// A Graph Bind of a few messages of `mailbox` by `client`, delegated as its owner.
fn read(
    rng: &mut ChaCha8Rng,
    tenant: &Tenant,
    client: usize,
    mailbox: usize,
    time: Timestamp,
    ip: String,
) -> Activity {
    let folders = tenant
        .users
        .get(mailbox)
        .map_or(1, |u| u.folders.len().max(1));
    let folder = rng.random_range(0..folders);
    let k = rng.random_range(1..=6);
    let ids: Vec<String> = (0..k).map(|_| tenant::message_id(rng)).collect();
    Activity::Mail(MailAccess {
        id: tenant::guid(rng),
        time,
        actor: Actor::User {
            user: mailbox,
            token: None,
        },
        mailbox,
        logon_type: 0,
        client: Some(client),
        resource: GRAPH_APP,
        client_ip: ip,
        client_info: Some("Client=REST;;"),
        operation_count: k,
        access: MailAccessKind::Bind(vec![(folder, ids)]),
        throttled: false,
    })
}
