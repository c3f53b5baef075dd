//! The shared attack fixture: a Microsoft-style templated enterprise issuer ("contoso"), a
//! consumer issuer and an HMAC application, each with its own generated keys.
#![allow(dead_code)]

use super::*;
use keywarden_token::{Rejection, TrustPolicy, Validator};

pub struct Fx {
    pub rsa: TestKey,
    pub ec: TestKey,
    pub ed: TestKey,
    pub bound: TestKey,
    pub msa: TestKey,
    pub hs: TestKey,
    pub v: Validator,
    _dir: tempfile::TempDir,
}

pub const ISS: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";

pub fn fixture_with(extra_policy: &str) -> Fx {
    let rsa = TestKey::rsa("rsa1");
    let ec = TestKey::p256("ec1");
    let ed = TestKey::ed("ed1");
    let bound = TestKey::p256("bound1")
        .with_extra(r#""issuer":"https://login.microsoftonline.com/{tenantid}/v2.0""#);
    let msa = TestKey::rsa("msa1");
    let hs = TestKey::hmac("hs1", &[0x42; 32]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("contoso.json"),
        jwks(&[&rsa, &ec, &ed, &bound]),
    )
    .unwrap();
    std::fs::write(dir.path().join("msa.json"), jwks(&[&msa])).unwrap();
    std::fs::write(dir.path().join("hs.json"), jwks(&[&hs])).unwrap();
    let policy = format!(
        r#"
leeway_seconds = 60
{extra_policy}
[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{{tenantid}}/v2.0"
tenants = ["{TENANT}"]
audiences = ["api://webmail"]
algorithms = ["RS256", "PS256", "ES256", "EdDSA"]
jwks_file = "contoso.json"

[[issuer.key]]
kid = "ec1"
not_before = "2026-01-01T00:00:00Z"
not_after = {not_after}

[[issuer]]
id = "consumer"
issuer = "https://login.live.com"
audiences = ["api://webmail"]
algorithms = ["RS256"]
jwks_file = "msa.json"

[[issuer]]
id = "app"
issuer = "https://hmac.example"
audiences = ["app"]
algorithms = ["HS256"]
jwks_file = "hs.json"
"#,
        not_after = NOW + 86_400
    );
    let path = dir.path().join("trust.toml");
    std::fs::write(&path, policy).unwrap();
    let p = TrustPolicy::from_file(&path).unwrap();
    let v = Validator::from_policy(&p, NOW).unwrap();
    Fx {
        rsa,
        ec,
        ed,
        bound,
        msa,
        hs,
        v,
        _dir: dir,
    }
}

pub fn fx() -> Fx {
    fixture_with("")
}

pub fn code(r: Result<keywarden_token::VerifiedToken, Rejection>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

impl Fx {
    pub fn check(&self, token: &str) -> String {
        code(self.v.validate_at(token, NOW))
    }
}

pub fn with_claims(edit: &[(&str, &str)]) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&claims()).unwrap();
    for (k, val) in edit {
        if *val == "DELETE" {
            v.as_object_mut().unwrap().remove(*k);
        } else {
            v[*k] = serde_json::from_str(val).unwrap();
        }
    }
    v.to_string()
}

/// Replaces the signature part.
pub fn resign(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(sig))
}
