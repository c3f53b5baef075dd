//! Microsoft Graph activity log records: Log Analytics `MicrosoftGraphActivityLogs` rows
//! (PascalCase) and the `properties` of diagnostic-settings envelope records (camelCase).
//!
//! Besides the usual fields, a request that touches a mailbox (`/users/{id|upn}/messages...`,
//! `/users/{x}/mailFolders...`, `/me/messages...`) names its `mailbox_owner`, and a `GET` of one
//! gets the operation [`GRAPH_MAIL_READ`], so that mailbox detections cover Graph as well as
//! `MailItemsAccessed`.

use std::borrow::Cow;

use keywarden_model::{Event, Fields, Origin, SourceKind, Value, ascii_fold};

use super::common::event;
use super::signin::Lookup;
use crate::format::Format;
use crate::reject::RejectReason;

/// The `operation` of a Graph `GET` of messages or mail folders of a mailbox.
pub(crate) const GRAPH_MAIL_READ: &str = "GraphMailRead";

/// Normalises one Graph activity record that is not wrapped in an envelope.
pub(crate) fn normalise<'a>(
    format: Format,
    raw: Value<'a>,
    origin: Origin<'a>,
) -> Result<Event<'a>, RejectReason> {
    let fields = fields(&Lookup::plain(&raw));
    Ok(event(
        SourceKind::GraphActivity,
        format,
        raw,
        origin,
        fields,
    ))
}

/// Extracts Graph activity fields from a record (and its envelope, if any).
pub(crate) fn fields<'a>(r: &Lookup<'_, 'a>) -> Fields<'a> {
    let user = r.text(&["userId", "UserId"], &[]).map(ascii_fold);
    let method = r.text(&["requestMethod", "RequestMethod"], &[]);
    let uri = r.text(&["requestUri", "RequestUri"], &[]);
    let owner = uri
        .as_deref()
        .and_then(mailbox_of_request)
        .and_then(|owner| match owner {
            MailboxRef::Me => user.clone(),
            MailboxRef::User(u) => Some(ascii_fold(Cow::Owned(u))),
        });
    let operation = match (&owner, &method) {
        (Some(_), Some(m)) if m.eq_ignore_ascii_case("GET") => Some(Cow::Borrowed(GRAPH_MAIL_READ)),
        _ => method,
    };
    Fields {
        time: r.time(&["timeGenerated", "TimeGenerated"], &["time"]),
        record_id: r.text(&["requestId", "RequestId"], &["correlationId"]),
        // Log Analytics `TenantId` is the workspace; `AadTenantId` is the Entra tenant.
        tenant: r.text(&["tenantId", "AadTenantId", "AADTenantId"], &["tenantId"]),
        user,
        client_ip: r.text(
            &["ipAddress", "IPAddress", "IpAddress"],
            &["callerIpAddress"],
        ),
        client_app_id: r.text(&["appId", "AppId"], &[]),
        session_id: r.text(&["sessionId", "SessionId"], &[]),
        token_id: r.text(&["signInActivityId", "SignInActivityId"], &[]),
        token_issued_at: r.time(&["tokenIssuedAt", "TokenIssuedAt"], &[]),
        mailbox_owner: owner,
        operation,
        result: r.text(
            &["responseStatusCode", "ResponseStatusCode"],
            &["resultSignature"],
        ),
        user_agent: r.text(&["userAgent", "UserAgent"], &[]),
        category: r.text(&["Type"], &["category"]),
        ..Fields::default()
    }
}

/// Whose mailbox a Graph request URI reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MailboxRef {
    /// `/me/...`: the caller's own mailbox.
    Me,
    /// `/users/{id or upn}/...`, percent-decoded.
    User(String),
}

/// The mailbox a request touches when its path is `[/version]/users/{x}/(messages|mailFolders)`
/// or `[/version]/me/(messages|mailFolders)` (segment names in any case; `users('x')` too).
pub(crate) fn mailbox_of_request(uri: &str) -> Option<MailboxRef> {
    let path = strip_origin(uri);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut segs = path.split('/').filter(|s| !s.is_empty()).peekable();
    if segs
        .peek()
        .is_some_and(|s| s.eq_ignore_ascii_case("v1.0") || s.eq_ignore_ascii_case("beta"))
    {
        segs.next();
    }
    let first = segs.next()?;
    let (who, next) = if first.eq_ignore_ascii_case("me") {
        (MailboxRef::Me, segs.next()?)
    } else if first.eq_ignore_ascii_case("users") {
        let id = percent_decode(segs.next()?);
        (MailboxRef::User(id), segs.next()?)
    } else if let Some(inner) = strip_prefix_ignore_case(first, "users(") {
        // `users('bob@contoso.com')`
        let id = inner.trim_end_matches(')').trim_matches(['\'', '"']);
        (MailboxRef::User(percent_decode(id)), segs.next()?)
    } else {
        return None;
    };
    if let MailboxRef::User(id) = &who
        && id.trim().is_empty()
    {
        return None;
    }
    let mail = ["messages", "mailFolders"]
        .iter()
        .any(|m| next.eq_ignore_ascii_case(m) || starts_with_ignore_case(next, &format!("{m}(")));
    mail.then_some(who)
}

/// The path part of an absolute URI (`https://graph.microsoft.com/v1.0/...` → `/v1.0/...`).
fn strip_origin(uri: &str) -> &str {
    match uri.find("://") {
        Some(i) => {
            let rest = uri.get(i + 3..).unwrap_or("");
            rest.find('/').and_then(|j| rest.get(j..)).unwrap_or("")
        }
        None => uri,
    }
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    starts_with_ignore_case(s, prefix).then(|| s.get(prefix.len()..).unwrap_or(""))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.as_bytes()
            .iter()
            .zip(prefix.as_bytes())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Decodes `%XX` escapes (invalid escapes and non-UTF-8 results are kept as written).
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b.get(i),
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(&c), _, _) => {
                out.push(c);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_model::Text;

    fn owned(s: &str) -> Text<'static> {
        Cow::Owned(s.to_string())
    }

    #[test]
    fn mailbox_reads_are_recognised() {
        let user = |s: &str| Some(MailboxRef::User(s.to_string()));
        let m = mailbox_of_request;
        assert_eq!(
            m("https://graph.microsoft.com/v1.0/users/Bob%40contoso.com/messages?$top=10"),
            user("Bob@contoso.com")
        );
        assert_eq!(
            m("https://graph.microsoft.com/beta/users/7c1e/mailFolders/inbox/messages"),
            user("7c1e")
        );
        assert_eq!(m("/v1.0/me/messages/AAMk="), Some(MailboxRef::Me));
        assert_eq!(m("/v1.0/users('a@b.c')/Messages"), user("a@b.c"));
        assert_eq!(
            m("https://graph.microsoft.com/v1.0/me/photos/96x96/$value"),
            None
        );
        assert_eq!(m("https://graph.microsoft.com/v1.0/users/x"), None);
        assert_eq!(m("https://graph.microsoft.com/v1.0/users//messages"), None);
        assert_eq!(m("https://graph.microsoft.com"), None);
        assert_eq!(m(""), None);
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("%ff%fe"), "%ff%fe");
    }

    #[test]
    fn me_resolves_to_the_caller_and_get_becomes_a_mail_read() {
        let text = r#"{"Type":"MicrosoftGraphActivityLogs","TenantId":"ws","AadTenantId":"t",
            "TimeGenerated":"2024-03-07T10:35:31Z","RequestId":"r1","UserId":"B37EC517",
            "RequestMethod":"GET","RequestUri":"https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages",
            "ResponseStatusCode":200,"SignInActivityId":"uti","TokenIssuedAt":"2024-03-07T10:30:30Z"}"#;
        let raw = Value::parse(text).unwrap();
        let f = fields(&Lookup::plain(&raw));
        assert_eq!(f.mailbox_owner, Some(owned("b37ec517")));
        assert_eq!(f.operation.as_deref(), Some(GRAPH_MAIL_READ));
        assert_eq!(f.tenant.as_deref(), Some("t"));
        assert_eq!(f.result.as_deref(), Some("200"));
        assert_eq!(f.token_id.as_deref(), Some("uti"));
        assert!(f.token_issued_at.is_some());
    }

    #[test]
    fn a_post_to_messages_keeps_its_method() {
        let text =
            r#"{"requestMethod":"POST","requestUri":"/v1.0/users/x@y/messages","userId":"u"}"#;
        let raw = Value::parse(text).unwrap();
        let f = fields(&Lookup::plain(&raw));
        assert_eq!(f.operation.as_deref(), Some("POST"));
        assert_eq!(f.mailbox_owner.as_deref(), Some("x@y"));
    }
}
