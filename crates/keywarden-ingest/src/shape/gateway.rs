//! `keywarden gateway` decision logs (`docs/GATEWAY.md`): one JSON object per decision.
//!
//! Fields: `uti` is the token id, `appid` the client app, `aud` (its first value) the resource
//! app, `upn` (else `oid`, else `sub`) the user, `tid` the tenant and the token's tenant,
//! `client` the IP, `kid` the signing key, `decision` the result. Only an accepted decision
//! carries its `uti` as `token_id`: it is a use of that token (what `token-never-issued` joins
//! to the sign-ins); a refused one keeps the claimed `uti` in the raw record only, because the
//! gateway already stopped that token.

use keywarden_model::{Event, Fields, Object, Origin, SourceKind, Value, ascii_fold};

use super::common::event;
use super::signin::Lookup;
use crate::format::Format;
use crate::reject::RejectReason;

/// The `operation` of a decision record.
pub(crate) const GATEWAY_DECISION: &str = "GatewayDecision";

/// A decision line has these members (the gateway always writes them).
pub(crate) fn looks_like_decision(o: &Object<'_>) -> bool {
    o.get("decision").is_some()
        && o.get("reason").is_some()
        && o.get("latency_us").is_some()
        && o.get("client").is_some()
}

pub(crate) fn normalise<'a>(raw: Value<'a>, origin: Origin<'a>) -> Result<Event<'a>, RejectReason> {
    let r = Lookup::plain(&raw);
    let time = r.time(&["time"], &[]);
    if time.is_none() {
        return Err(RejectReason::MissingField("time".into()));
    }
    let allowed = r
        .text(&["decision"], &[])
        .is_some_and(|d| d.eq_ignore_ascii_case("allow"));
    let aud = match raw.get("aud") {
        Some(Value::Array(a)) => a
            .first()
            .and_then(|v| v.as_str())
            .map(|s| s.to_owned().into()),
        _ => r.text(&["aud"], &[]),
    };
    let tid = r.text(&["tid"], &[]);
    let fields = Fields {
        time,
        tenant: tid.clone(),
        token_tenant: tid,
        user: r.text(&["upn", "oid", "sub"], &[]).map(ascii_fold),
        client_ip: r.text(&["client"], &[]),
        app_id: aud,
        client_app_id: r.text(&["appid"], &[]),
        token_id: if allowed { r.text(&["uti"], &[]) } else { None },
        signing_key_id: r.text(&["kid"], &[]),
        operation: Some(GATEWAY_DECISION.into()),
        result: r.text(&["decision"], &[]),
        category: r.text(&["reason"], &[]),
        ..Fields::default()
    };
    Ok(event(
        SourceKind::HttpAccess,
        Format::GatewayDecision,
        raw,
        origin,
        fields,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            path: "decisions.jsonl",
            line: Some(1),
            offset: 0,
            record_number: None,
        }
    }

    const ALLOW: &str = r#"{"time":"2027-01-15T08:00:00Z","mode":"http","client":"198.51.100.23","method":"GET","host":"mail.contoso.example","path":"/owa/","kid":"ec1","alg":"ES256","iss":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0","tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","aud":["api://webmail"],"sub":"s","oid":"o","upn":"Alice@Contoso.com","appid":"app-1","uti":"uti-1","decision":"allow","status":200,"reason":"ok","latency_us":61}"#;

    #[test]
    fn an_accepted_decision_is_a_token_use() {
        let raw = Value::parse(ALLOW).unwrap();
        assert_eq!(super::super::classify(&raw), Format::GatewayDecision);
        let ev = normalise(raw, origin()).unwrap();
        let f = &ev.fields;
        assert_eq!(f.token_id.as_deref(), Some("uti-1"));
        assert_eq!(f.user.as_deref(), Some("alice@contoso.com"));
        assert_eq!(f.client_app_id.as_deref(), Some("app-1"));
        assert_eq!(f.app_id.as_deref(), Some("api://webmail"));
        assert_eq!(f.client_ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(
            f.tenant.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert_eq!(f.signing_key_id.as_deref(), Some("ec1"));
        assert_eq!(ev.format, "keywarden-gateway");
    }

    #[test]
    fn a_refused_decision_is_not_a_token_use_and_a_timeless_one_is_rejected() {
        let deny = ALLOW.replace("\"allow\"", "\"deny\"");
        let ev = normalise(Value::parse(&deny).unwrap(), origin()).unwrap();
        assert_eq!(ev.fields.token_id, None);
        assert_eq!(ev.fields.result.as_deref(), Some("deny"));
        let timeless = ALLOW.replace("\"time\":\"2027-01-15T08:00:00Z\",", "");
        assert!(normalise(Value::parse(&timeless).unwrap(), origin()).is_err());
    }
}
