//! An app-only mail daemon: the service-principal side of a tenant's benign life.
//!
//! A line-of-business service ("Contoso Journal Exporter") signs in with client credentials
//! every night (a service-principal sign-in, `ServicePrincipalSignInLogs` /
//! `signInEventTypes: servicePrincipal`) and reads a few mailboxes through Microsoft Graph with
//! the app-only token it got (`MicrosoftGraphActivityLogs` rows with no user and the app's
//! service principal). Its tokens are judged only where the export holds service-principal
//! (and managed-identity) sign-ins: `--gap no-service-principal`, which adds the daemon, leaves
//! its sign-ins out, and the truth lists its records as unjudgeable.
//!
//! The daemon draws from its own random stream, so the rest of the tenant's life is the same
//! with or without it.

use keywarden_model::Timestamp;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::activity::{Activity, GraphRequest, SignIn, Token};
use crate::benign::pick_distinct;
use crate::tenant::{self, ClientApp, GRAPH_APP, Tenant};

/// The daemon's application and what it reads.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// Index into `Tenant::clients`.
    pub client: usize,
    /// Its service principal's object id.
    pub service_principal: String,
    /// Mailboxes (user indexes) it exports every night.
    pub mailboxes: Vec<usize>,
    /// The datacentre address it runs from.
    pub ip: String,
}

/// Adds the daemon's application to the tenant.
pub fn register(rng: &mut ChaCha8Rng, tenant: &mut Tenant) -> Daemon {
    tenant.clients.push(ClientApp {
        id: tenant::guid(rng),
        name: "Contoso Journal Exporter".into(),
        resource: GRAPH_APP,
        client_info: "Client=REST;;",
        user_agent: "JournalExporter/5.1",
        syncs: false,
    });
    let users = tenant.users.len();
    Daemon {
        client: tenant.clients.len() - 1,
        service_principal: tenant::guid(rng),
        mailboxes: pick_distinct(rng, users, users.min(3)),
        ip: "10.30.0.7".into(),
    }
}

impl Daemon {
    /// One night: a client-credentials sign-in around 01:00 UTC, then one Graph read of each
    /// mailboxes' messages with its token.
    pub fn night(
        &self,
        rng: &mut ChaCha8Rng,
        tenant: &Tenant,
        midnight: Timestamp,
        out: &mut Vec<Activity>,
    ) {
        let issued = midnight.plus_seconds(3600 + rng.random_range(0..900));
        let token = Token {
            id: tenant::token_id(rng),
            issued_at: issued,
            tenant: tenant.id.clone(),
            session: String::new(),
        };
        out.push(Activity::SignIn(SignIn {
            id: tenant::guid(rng),
            time: issued.plus_seconds(rng.random_range(0..=20)),
            user: 0,
            client: self.client,
            resource: GRAPH_APP,
            ip: self.ip.clone(),
            city: "Amsterdam",
            country: "NL",
            interactive: false,
            token: token.clone(),
            correlation_id: tenant::guid(rng),
            service_principal: Some(self.service_principal.clone()),
        }));
        let mut at = issued;
        for &m in &self.mailboxes {
            let Some(user) = tenant.users.get(m) else {
                continue;
            };
            at = at.plus_seconds(rng.random_range(5..120));
            out.push(Activity::Graph(GraphRequest {
                id: tenant::guid(rng),
                time: at,
                user: m,
                client: self.client,
                ip: self.ip.clone(),
                uri: format!(
                    "https://graph.microsoft.com/v1.0/users/{}/messages?$top=50",
                    user.object_id
                ),
                status: 200,
                token: token.clone(),
                service_principal: Some(self.service_principal.clone()),
            }));
        }
    }
}
