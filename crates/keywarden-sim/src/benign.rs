//! The tenant's ordinary life, one day at a time.
//!
//! Each user works in their local hours: a few tokens a day (interactive sign-in first, then
//! silent refreshes), each used for some `MailItemsAccessed` records (Bind with message ids,
//! Sync of whole folders for desktop Outlook, aggregated `OperationCount`s); Exchange's own
//! background reads (`LogonType` 4, no token); sign-in records stamped a little after the
//! token's first use; trips away from home (new IPs); assistants reading their manager's
//! mailbox as delegates; and, after the baseline week, a legitimate new app introduced by an
//! admin's consent and then used by some users through Graph.

use keywarden_model::Timestamp;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::activity::{
    Activity, Actor, DirectoryOp, GraphRequest, MailAccess, MailAccessKind, SignIn, Token,
};
use crate::tenant::{self, EXCHANGE_APP, GRAPH_APP, Tenant};

/// Largest lag of a sign-in record's `createdDateTime` behind the token's issue (seconds);
/// the token's first use can come before the sign-in record by up to this much.
pub const MAX_SIGNIN_LAG_SECONDS: i64 = 180;

const TRIPS: [(&str, &str); 3] = [("Lisbon", "PT"), ("Toronto", "CA"), ("Dubai", "AE")];

/// State that spans days: trips, who adopted the new app, when it arrived.
#[derive(Debug, Clone)]
pub struct BenignWorld {
    trips: Vec<Option<Trip>>,
    adopters: Vec<bool>,
    /// For assistants: whose mailbox they also read (delegate access, `LogonType` 2).
    delegate_of: Vec<Option<usize>>,
    /// Day index on which the new app is consented to.
    pub app_day: u32,
}

#[derive(Debug, Clone)]
struct Trip {
    ip: String,
    place: (&'static str, &'static str),
    days_left: u32,
}

/// Where a user is today.
struct Place {
    ip: String,
    city: &'static str,
    country: &'static str,
}

impl BenignWorld {
    pub fn new(rng: &mut ChaCha8Rng, tenant: &Tenant, days: u32) -> BenignWorld {
        let adopters = (0..tenant.users.len())
            .map(|i| i != 0 && rng.random_bool(0.3))
            .collect();
        let n = tenant.users.len();
        let delegate_of = (0..n)
            .map(|i| {
                let boss = rng.random_range(0..n);
                (i != 0 && boss != i && rng.random_bool(0.1)).then_some(boss)
            })
            .collect();
        BenignWorld {
            trips: vec![None; tenant.users.len()],
            adopters,
            delegate_of,
            // After the baseline week, so that the new app is new to every baseline.
            app_day: (days / 2).max(7).min(days.saturating_sub(1)),
        }
    }

    /// Appends day `day`'s benign activity (starting at `midnight`) to `out`.
    pub fn day(
        &mut self,
        rng: &mut ChaCha8Rng,
        tenant: &Tenant,
        day: u32,
        midnight: Timestamp,
        out: &mut Vec<Activity>,
    ) {
        let weekday = midnight.iso_weekday() <= 5;
        if day == self.app_day {
            consent(rng, tenant, midnight, out);
        }
        for u in 0..tenant.users.len() {
            let place = self.place(rng, tenant, u, weekday);
            let tokens = if weekday {
                rng.random_range(2..=4)
            } else {
                u32::from(rng.random_bool(0.3))
            };
            let mut day_gen = UserDay {
                rng: &mut *rng,
                tenant,
                user: u,
                midnight,
                place: &place,
                session: String::new(),
                seen_clients: Vec::new(),
                boss: self.delegate_of.get(u).copied().flatten(),
            };
            day_gen.session = tenant::guid(day_gen.rng);
            for _ in 0..tokens {
                let client = tenant.users[u]
                    .clients
                    .choose(day_gen.rng)
                    .copied()
                    .unwrap_or(1);
                day_gen.token(client, out);
            }
            if day >= self.app_day && self.adopters.get(u).copied().unwrap_or(false) && weekday {
                day_gen.token(tenant.new_app, out);
            }
            if day_gen.rng.random_bool(0.5) {
                day_gen.background(out);
            }
        }
    }

    fn place(&mut self, rng: &mut ChaCha8Rng, tenant: &Tenant, u: usize, weekday: bool) -> Place {
        let user = &tenant.users[u];
        let Some(slot) = self.trips.get_mut(u) else {
            return Place {
                ip: user.home_ip.clone(),
                city: user.city,
                country: user.country,
            };
        };
        if slot.is_none() && weekday && rng.random_bool(0.03) {
            *slot = Some(Trip {
                ip: tenant::travel_ip(rng),
                place: *TRIPS.choose(rng).unwrap_or(&TRIPS[0]),
                days_left: rng.random_range(2..=4),
            });
        }
        match slot {
            Some(trip) => {
                let place = Place {
                    ip: trip.ip.clone(),
                    city: trip.place.0,
                    country: trip.place.1,
                };
                trip.days_left = trip.days_left.saturating_sub(1);
                if trip.days_left == 0 {
                    *slot = None;
                }
                place
            }
            None => Place {
                ip: user.home_ip.clone(),
                city: user.city,
                country: user.country,
            },
        }
    }
}

/// The admin (user 0) registers and consents to the new app at 10:00 their time.
fn consent(rng: &mut ChaCha8Rng, tenant: &Tenant, midnight: Timestamp, out: &mut Vec<Activity>) {
    let Some(admin) = tenant.users.first() else {
        return;
    };
    let at = local(midnight, admin.utc_offset, 10 * 3600);
    for (i, operation) in [
        "Add service principal.",
        "Add delegated permission grant.",
        "Consent to application.",
    ]
    .into_iter()
    .enumerate()
    {
        out.push(Activity::Directory(DirectoryOp {
            id: tenant::guid(rng),
            time: at.plus_seconds(i as i64 * 2),
            operation,
            actor: 0,
            ip: admin.home_ip.clone(),
            target: tenant.new_app,
        }));
    }
}

/// A moment of a user's working day: `seconds` after local midnight, as UTC.
fn local(midnight: Timestamp, utc_offset: i64, seconds: i64) -> Timestamp {
    midnight.plus_seconds(seconds - utc_offset * 3600)
}

/// One user's day being generated.
struct UserDay<'a> {
    rng: &'a mut ChaCha8Rng,
    tenant: &'a Tenant,
    user: usize,
    midnight: Timestamp,
    place: &'a Place,
    session: String,
    seen_clients: Vec<usize>,
    /// Whose mailbox this user also reads as a delegate.
    boss: Option<usize>,
}

impl UserDay<'_> {
    /// One token: its sign-in and what it was used for.
    fn token(&mut self, client: usize, out: &mut Vec<Activity>) {
        let Some(app) = self.tenant.clients.get(client) else {
            return;
        };
        let user = &self.tenant.users[self.user];
        let issued = local(
            self.midnight,
            user.utc_offset,
            self.rng.random_range(8 * 3600..18 * 3600),
        );
        let token = Token {
            id: tenant::token_id(self.rng),
            issued_at: issued,
            tenant: self.tenant.id.clone(),
            session: self.session.clone(),
        };
        let interactive = !self.seen_clients.contains(&client);
        self.seen_clients.push(client);
        out.push(Activity::SignIn(SignIn {
            id: tenant::guid(self.rng),
            time: issued.plus_seconds(self.rng.random_range(0..=MAX_SIGNIN_LAG_SECONDS)),
            user: self.user,
            client,
            resource: app.resource,
            ip: self.place.ip.clone(),
            city: self.place.city,
            country: self.place.country,
            interactive,
            token: token.clone(),
            correlation_id: tenant::guid(self.rng),
            service_principal: None,
        }));
        let uses = self.rng.random_range(1..=3);
        for n in 0..uses {
            // The first use comes right after issue, often before the sign-in is stamped.
            let at = issued.plus_seconds(if n == 0 {
                self.rng.random_range(1..=30)
            } else {
                self.rng.random_range(60..3000)
            });
            if app.resource == GRAPH_APP {
                self.graph_use(client, &token, at, out);
            } else {
                self.exchange_use(client, app.syncs, &token, at, out);
            }
        }
    }

    fn exchange_use(
        &mut self,
        client: usize,
        syncs: bool,
        token: &Token,
        at: Timestamp,
        out: &mut Vec<Activity>,
    ) {
        let sync = syncs && self.rng.random_bool(0.4);
        let access = if sync {
            MailAccessKind::Sync(self.folders(1..=3))
        } else {
            MailAccessKind::Bind(self.bind_items())
        };
        // Desktop Outlook over MAPI often logs an empty token id: unknown, not forged.
        let token = if syncs && self.rng.random_bool(0.3) {
            Token {
                id: String::new(),
                ..token.clone()
            }
        } else {
            token.clone()
        };
        let throttled = sync && self.rng.random_bool(0.01);
        self.push_mail(
            client,
            EXCHANGE_APP,
            Some(token.clone()),
            at,
            access,
            throttled,
            out,
        );
        if let Some(boss) = self.boss
            && self.rng.random_bool(0.3)
        {
            self.delegate_read(client, boss, token, at.plus_seconds(20), out);
        }
    }

    /// An assistant reads their manager's mailbox with their own token (`LogonType` 2).
    fn delegate_read(
        &mut self,
        client: usize,
        boss: usize,
        token: Token,
        at: Timestamp,
        out: &mut Vec<Activity>,
    ) {
        let access = MailAccessKind::Bind(self.bind_items());
        let operation_count = match &access {
            MailAccessKind::Bind(items) => items.iter().map(|(_, m)| m.len() as u32).sum(),
            MailAccessKind::Sync(_) => 1,
        };
        out.push(Activity::Mail(MailAccess {
            id: tenant::guid(self.rng),
            time: at,
            actor: Actor::User {
                user: self.user,
                token: Some(token),
            },
            mailbox: boss,
            logon_type: 2,
            client: Some(client),
            resource: EXCHANGE_APP,
            client_ip: self.place.ip.clone(),
            client_info: None,
            access,
            throttled: false,
            operation_count: operation_count.max(1),
        }));
    }

    fn graph_use(&mut self, client: usize, token: &Token, at: Timestamp, out: &mut Vec<Activity>) {
        let reads_mail = client == self.tenant.new_app;
        let uri = if reads_mail {
            "https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages?$top=25"
        } else {
            ["https://graph.microsoft.com/v1.0/me/chats?$top=50", "https://graph.microsoft.com/beta/me/presence", "https://graph.microsoft.com/v1.0/me/calendarView?startDateTime=2023-06-01T00:00:00Z&endDateTime=2023-06-30T00:00:00Z"]
                .choose(self.rng)
                .copied()
                .unwrap_or("https://graph.microsoft.com/v1.0/me")
        };
        out.push(Activity::Graph(GraphRequest {
            id: tenant::guid(self.rng),
            time: at,
            user: self.user,
            client,
            ip: self.place.ip.clone(),
            uri: uri.into(),
            status: 200,
            token: token.clone(),
            service_principal: None,
        }));
        if reads_mail {
            let access = MailAccessKind::Bind(self.bind_items());
            let later = at.plus_seconds(self.rng.random_range(1..=5));
            self.push_mail(
                client,
                GRAPH_APP,
                Some(token.clone()),
                later,
                access,
                false,
                out,
            );
        }
    }

    /// Exchange's own reads: no user token at all.
    fn background(&mut self, out: &mut Vec<Activity>) {
        let at = self.midnight.plus_seconds(self.rng.random_range(0..86_400));
        let access = MailAccessKind::Sync(self.folders(1..=2));
        out.push(Activity::Mail(MailAccess {
            id: tenant::guid(self.rng),
            time: at,
            actor: Actor::System,
            mailbox: self.user,
            logon_type: 4,
            client: None,
            resource: EXCHANGE_APP,
            client_ip: String::new(),
            client_info: Some("Client=Microsoft.Exchange.ServiceHost"),
            access,
            throttled: false,
            operation_count: 1,
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn push_mail(
        &mut self,
        client: usize,
        resource: &'static str,
        token: Option<Token>,
        at: Timestamp,
        access: MailAccessKind,
        throttled: bool,
        out: &mut Vec<Activity>,
    ) {
        let operation_count = match &access {
            MailAccessKind::Bind(items) => items.iter().map(|(_, m)| m.len() as u32).sum(),
            MailAccessKind::Sync(_) => 1,
        };
        out.push(Activity::Mail(MailAccess {
            id: tenant::guid(self.rng),
            time: at,
            actor: Actor::User {
                user: self.user,
                token,
            },
            mailbox: self.user,
            logon_type: 0,
            client: Some(client),
            resource,
            client_ip: self.place.ip.clone(),
            client_info: None,
            access,
            throttled,
            operation_count: operation_count.max(1),
        }));
    }

    fn folders(&mut self, count: std::ops::RangeInclusive<usize>) -> Vec<usize> {
        let n = self.rng.random_range(count);
        pick_distinct(self.rng, self.tenant.users[self.user].folders.len(), n)
    }

    fn bind_items(&mut self) -> Vec<(usize, Vec<String>)> {
        self.folders(1..=2)
            .into_iter()
            .map(|f| {
                let n = self.rng.random_range(1..=6);
                (f, (0..n).map(|_| tenant::message_id(self.rng)).collect())
            })
            .collect()
    }
}

/// `n` distinct indexes (folders, users) out of `len`, in ascending order.
pub fn pick_distinct(rng: &mut ChaCha8Rng, len: usize, n: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    let mut chosen = Vec::with_capacity(n);
    for _ in 0..n.min(len) {
        let i = rng.random_range(0..all.len());
        chosen.push(all.swap_remove(i));
    }
    chosen.sort_unstable();
    chosen
}
