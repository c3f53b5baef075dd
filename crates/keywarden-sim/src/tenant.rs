//! The simulated organisation: its tenant id and domain, its users (mailboxes, folders, home
//! addresses, time zones, the first-party clients they use), the client applications they know,
//! and the random identifiers every record needs.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

/// The Microsoft consumer (MSA) tenant: tokens issued there have no business reading an
/// enterprise mailbox.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Office 365 Exchange Online (resource `AppId`).
pub const EXCHANGE_APP: &str = "00000002-0000-0ff1-ce00-000000000000";
/// Microsoft Graph (resource `AppId`).
pub const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";

/// A client application (`ClientAppId`) and how its mail access looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientApp {
    pub id: String,
    pub name: String,
    /// The resource it reads mail through (Exchange or Graph).
    pub resource: &'static str,
    /// `ClientInfoString` of its `MailItemsAccessed` records.
    pub client_info: &'static str,
    pub user_agent: &'static str,
    /// Desktop clients synchronise folders (`Sync`); others bind items.
    pub syncs: bool,
}

impl ClientApp {
    fn first_party(
        id: &str,
        name: &str,
        resource: &'static str,
        client_info: &'static str,
        user_agent: &'static str,
        syncs: bool,
    ) -> ClientApp {
        ClientApp {
            id: id.into(),
            name: name.into(),
            resource,
            client_info,
            user_agent,
            syncs,
        }
    }

    /// The Microsoft first-party mail clients benign users run (all on Elastic's list of
    /// first-party client app ids).
    pub fn catalogue() -> Vec<ClientApp> {
        vec![
            ClientApp::first_party(
                "d3590ed6-52b3-4102-aeff-aad2292ab01c",
                "Microsoft Office",
                EXCHANGE_APP,
                "Client=MSExchangeRPC",
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.16529; Pro)",
                true,
            ),
            ClientApp::first_party(
                "9199bf20-a13f-4107-85dc-02114787ef48",
                "One Outlook Web",
                EXCHANGE_APP,
                "Client=OWA;Action=ViaProxy",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 Edg/114.0.1823.43",
                false,
            ),
            ClientApp::first_party(
                "27922004-5251-4030-b22d-91ecd9a37ea4",
                "Outlook Mobile",
                EXCHANGE_APP,
                "Client=OutlookService;Outlook-iOS/2.0;",
                "Outlook-iOS/2.0",
                false,
            ),
            ClientApp::first_party(
                "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
                "Microsoft Teams",
                GRAPH_APP,
                "Client=REST;Client=RESTSystem;;",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.6.00.12455 Chrome/91.0.4472.164 Electron/13.6.6 Safari/537.36",
                false,
            ),
        ]
    }
}

/// A mail folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The store id Exchange logs (`LgAAAAA...`).
    pub id: String,
    /// `\Inbox`, `\Sent Items`...
    pub path: String,
}

/// One user with a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Lower-case UPN.
    pub upn: String,
    pub display_name: String,
    pub object_id: String,
    pub sid: String,
    /// `UserKey` / PUID: 16 upper-case hex digits.
    pub puid: String,
    pub mailbox_guid: String,
    pub home_ip: String,
    pub city: &'static str,
    pub country: &'static str,
    /// Hours to add to UTC for local time.
    pub utc_offset: i64,
    /// Indexes into [`Tenant::clients`].
    pub clients: Vec<usize>,
    pub folders: Vec<Folder>,
}

/// The simulated organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    /// The Log Analytics workspace the Sentinel / Graph activity rows come from (their
    /// `TenantId` column; the Entra tenant is `OrganizationId` / `AadTenantId`).
    pub workspace_id: String,
    /// `contoso-1234.onmicrosoft.com`.
    pub org_name: String,
    pub domain: String,
    pub users: Vec<User>,
    /// First-party clients, then (last) the new line-of-business app.
    pub clients: Vec<ClientApp>,
    /// Index of the legitimate new app in `clients`.
    pub new_app: usize,
}

const GIVEN: [&str; 24] = [
    "adele", "alex", "bianca", "carlos", "diego", "emma", "fatima", "grace", "hiro", "isabel",
    "jonas", "kenji", "lena", "megan", "nestor", "olga", "pradeep", "quinn", "raj", "sofia",
    "tomas", "uma", "wei", "yara",
];
const FAMILY: [&str; 20] = [
    "vance", "wilber", "garcia", "nguyen", "okafor", "schmidt", "tanaka", "rossi", "kowalski",
    "haddad", "larsen", "moreau", "silva", "ivanova", "patel", "oconnor", "mensah", "kim",
    "dubois", "novak",
];
/// (city, country, UTC offset): where people work, covering the whole UTC day.
const PLACES: [(&str, &str, i64); 7] = [
    ("Seattle", "US", -7),
    ("New York", "US", -4),
    ("London", "GB", 1),
    ("Berlin", "DE", 2),
    ("Singapore", "SG", 8),
    ("Tokyo", "JP", 9),
    ("Sydney", "AU", 10),
];
const FOLDERS: [&str; 8] = [
    "\\Inbox",
    "\\Sent Items",
    "\\Drafts",
    "\\Archive",
    "\\Deleted Items",
    "\\Inbox\\Projects",
    "\\Inbox\\Finance",
    "\\Calendar",
];

impl Tenant {
    /// A tenant of `users` users, entirely determined by `rng`'s state.
    pub fn generate(rng: &mut ChaCha8Rng, users: u32) -> Tenant {
        let id = guid(rng);
        let stem = format!("contoso-{:04}", rng.random_range(0..10_000u32));
        let domain = format!("{stem}.com");
        let org_name = format!("{stem}.onmicrosoft.com");
        let mut clients = ClientApp::catalogue();
        let first_party = clients.len();
        clients.push(ClientApp {
            id: guid(rng),
            name: "Contoso Mail Archiver".into(),
            resource: GRAPH_APP,
            client_info: "Client=REST;Client=RESTSystem;;",
            user_agent: "ContosoArchiver/3.2 (+https://archiver.contoso.example)",
            syncs: false,
        });
        let users = (0..users)
            .map(|n| User::generate(rng, n, &domain, first_party))
            .collect();
        let workspace_id = guid(rng);
        Tenant {
            id,
            workspace_id,
            org_name,
            domain,
            users,
            clients,
            new_app: first_party,
        }
    }
}

impl User {
    fn generate(rng: &mut ChaCha8Rng, n: u32, domain: &str, first_party: usize) -> User {
        let given = GIVEN.choose(rng).copied().unwrap_or("alex");
        let family = FAMILY.choose(rng).copied().unwrap_or("kim");
        let upn = format!("{given}.{family}{n}@{domain}");
        let display_name = format!("{} {}", capitalise(given), capitalise(family));
        let &(city, country, utc_offset) = PLACES.choose(rng).unwrap_or(&PLACES[2]);
        // Everyone reads mail on the web; most also run desktop Outlook, many the phone app,
        // some Teams.
        let mut clients = vec![1];
        if rng.random_bool(0.8) {
            clients.push(0);
        }
        if rng.random_bool(0.6) {
            clients.push(2);
        }
        if rng.random_bool(0.4) && first_party > 3 {
            clients.push(3);
        }
        let folders = FOLDERS
            .iter()
            .map(|p| Folder {
                id: folder_id(rng),
                path: (*p).to_string(),
            })
            .collect();
        User {
            upn,
            display_name,
            object_id: guid(rng),
            sid: format!(
                "S-1-5-21-{}-{}-{}-{}",
                rng.random_range(1_000_000_000u64..4_000_000_000),
                rng.random_range(1_000_000_000u64..4_000_000_000),
                rng.random_range(1_000_000_000u64..4_000_000_000),
                rng.random_range(1000u32..99_999)
            ),
            puid: format!("{:016X}", rng.random::<u64>() & 0x0003_FFFF_FFFF_FFFF),
            mailbox_guid: guid(rng),
            home_ip: home_ip(n),
            city,
            country,
            utc_offset,
            clients,
            folders,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A user's usual address: IPv4 documentation ranges for the first 500 users, then IPv6
/// documentation space, so no simulated address is anyone's real address.
pub fn home_ip(n: u32) -> String {
    if n < 250 {
        format!("198.51.100.{}", n + 1)
    } else if n < 500 {
        format!("203.0.113.{}", n - 249)
    } else {
        format!("2001:db8:{:x}:{:x}::1", n >> 16, n & 0xffff)
    }
}

/// An address away from home (hotel, airport): `192.0.2.1..=127`.
pub fn travel_ip(rng: &mut ChaCha8Rng) -> String {
    format!("192.0.2.{}", rng.random_range(1..128u32))
}

/// An address the attacker rents fresh (in no IOC list): `192.0.2.128..=254`.
pub fn fresh_attacker_ip(rng: &mut ChaCha8Rng) -> String {
    format!("192.0.2.{}", rng.random_range(128..255u32))
}

/// A random GUID, lower-case, 8-4-4-4-12.
pub fn guid(rng: &mut ChaCha8Rng) -> String {
    let v: u128 = rng.random();
    // Version 4, RFC 4122 variant.
    let v = (v & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A token's unique identifier (`uti` claim; `UniqueTokenId`, `uniqueTokenIdentifier`,
/// `SignInActivityId`): 16 random bytes, base64url without padding (22 characters).
pub fn token_id(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    base64url(&bytes)
}

/// An Exchange store id of the kind `Folders[].Id` and `FolderItems[].Id` carry.
pub fn folder_id(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 30] = rng.random();
    let mut s = String::from("LgAAAAA");
    s.push_str(&base64url(&bytes).replace(['-', '_'], "A"));
    s
}

/// An `InternetMessageId` as Exchange Online writes them.
pub fn message_id(rng: &mut ChaCha8Rng) -> String {
    let a: u128 = rng.random();
    let server: u32 = rng.random_range(1000..10_000);
    format!(
        "<{:032X}@PH{server}MB{:04}.namprd{:02}.prod.outlook.com>",
        a,
        rng.random_range(0..10_000u32),
        rng.random_range(1..23u32)
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn identifiers_have_their_real_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g = guid(&mut rng);
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
        assert_eq!(&g[14..15], "4", "{g}");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_eq!(token_id(&mut rng).len(), 22);
        assert_eq!(base64url(b"\xff\xff\xff\x00"), "____AA");
        let m = message_id(&mut rng);
        assert!(
            m.starts_with('<') && m.ends_with(".prod.outlook.com>"),
            "{m}"
        );
    }

    #[test]
    fn tenants_are_deterministic_and_distinct() {
        let a = Tenant::generate(&mut ChaCha8Rng::seed_from_u64(1), 30);
        let b = Tenant::generate(&mut ChaCha8Rng::seed_from_u64(1), 30);
        assert_eq!(a, b);
        let mut upns: Vec<_> = a.users.iter().map(|u| &u.upn).collect();
        upns.sort();
        upns.dedup();
        assert_eq!(upns.len(), 30);
        assert_eq!(a.clients[a.new_app].name, "Contoso Mail Archiver");
        assert_eq!(home_ip(600), "2001:db8:0:258::1");
    }
}
