//! What happened, independent of how it is exported: the simulator's record model.
//!
//! Generators ([`crate::benign`], [`crate::attack`]) produce [`Activity`] values; writers
//! ([`crate::write`]) render each one in the shape chosen for its day. Every activity carries
//! the id its exported record will have (UAL `Id`, sign-in `id`, Graph `requestId`), which is
//! what `truth.json` and `alerts.jsonl` name.

use keywarden_model::Timestamp;

/// The token a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// `uti`: `AppAccessContext.UniqueTokenId`, sign-in `uniqueTokenIdentifier`, Graph
    /// `SignInActivityId`. Empty for clients that log none.
    pub id: String,
    pub issued_at: Timestamp,
    /// `TokenTenantId`: the tenant that issued the token.
    pub tenant: String,
    /// `AADSessionId` / sign-in `sessionId`.
    pub session: String,
}

/// Bind (exact items) or Sync (whole folders) in a `MailItemsAccessed` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailAccessKind {
    /// `(folder index, InternetMessageIds)` per folder touched.
    Bind(Vec<(usize, Vec<String>)>),
    /// Folder indexes synchronised.
    Sync(Vec<usize>),
}

impl MailAccessKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            MailAccessKind::Bind(_) => "Bind",
            MailAccessKind::Sync(_) => "Sync",
        }
    }
}

/// Who or what acted on a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user (index into `Tenant::users`) presenting a token (or none, for clients that log
    /// an empty token id).
    User { user: usize, token: Option<Token> },
    /// Exchange itself (`LogonType` 4, no token at all).
    System,
}

/// One `MailItemsAccessed` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAccess {
    pub id: String,
    pub time: Timestamp,
    pub actor: Actor,
    /// Index of the mailbox owner.
    pub mailbox: usize,
    /// 0 owner, 2 delegate, 4 system service.
    pub logon_type: i64,
    /// Index into `Tenant::clients`; `None` for system records.
    pub client: Option<usize>,
    /// Overrides the client's resource (`AppId`) when set.
    pub resource: &'static str,
    pub client_ip: String,
    /// Overrides the client's `ClientInfoString` when set.
    pub client_info: Option<&'static str>,
    pub access: MailAccessKind,
    pub throttled: bool,
    /// `OperationCount` of the aggregated record.
    pub operation_count: u32,
}

/// One Entra sign-in (interactive or not) that issued a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub id: String,
    /// `createdDateTime`: may be a little after the token's first use (logging lag).
    pub time: Timestamp,
    pub user: usize,
    pub client: usize,
    pub resource: &'static str,
    pub ip: String,
    pub city: &'static str,
    pub country: &'static str,
    pub interactive: bool,
    pub token: Token,
    pub correlation_id: String,
    /// An application's client-credentials sign-in: its service principal's object id (no
    /// user then; `user` is meaningless).
    pub service_principal: Option<String>,
}

/// One Microsoft Graph request (Log Analytics `MicrosoftGraphActivityLogs` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRequest {
    pub id: String,
    pub time: Timestamp,
    pub user: usize,
    pub client: usize,
    pub ip: String,
    pub uri: String,
    pub status: u16,
    pub token: Token,
    /// An app-only request: the caller's service principal (no user then; `user` is the
    /// mailbox the request names, if any).
    pub service_principal: Option<String>,
}

/// An Entra directory operation logged to the UAL (`RecordType` 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryOp {
    pub id: String,
    pub time: Timestamp,
    /// `Add service principal.`, `Consent to application.`...
    pub operation: &'static str,
    pub actor: usize,
    pub ip: String,
    /// Index into `Tenant::clients` of the application concerned.
    pub target: usize,
}

/// What an Entra directory audit record (`directoryAudits`) says was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// `Update application – Certificates and secrets management`.
    CredentialAdded,
    /// `Add delegated permission grant` of `Mail.ReadWrite`.
    MailGrant,
    /// `Consent to application` by an administrator, with `Mail.Read`.
    AdminConsent,
    /// `Set federation settings on domain` (a new token-signing certificate trusted).
    Federation,
}

/// One Entra directory audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChange {
    pub id: String,
    pub time: Timestamp,
    pub kind: AuditKind,
    /// The user who made the change.
    pub actor: usize,
    /// Index into `Tenant::clients` of the application concerned (none for federation).
    pub target: Option<usize>,
    /// The application object's id (differs from its app id, as in Entra).
    pub object_id: String,
}

/// One simulated record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Mail(MailAccess),
    SignIn(SignIn),
    Graph(GraphRequest),
    Directory(DirectoryOp),
    Audit(AuditChange),
}

impl Activity {
    pub fn time(&self) -> Timestamp {
        match self {
            Activity::Mail(a) => a.time,
            Activity::SignIn(a) => a.time,
            Activity::Graph(a) => a.time,
            Activity::Directory(a) => a.time,
            Activity::Audit(a) => a.time,
        }
    }

    /// The id the exported record carries.
    pub fn id(&self) -> &str {
        match self {
            Activity::Mail(a) => &a.id,
            Activity::SignIn(a) => &a.id,
            Activity::Graph(a) => &a.id,
            Activity::Directory(a) => &a.id,
            Activity::Audit(a) => &a.id,
        }
    }
}
